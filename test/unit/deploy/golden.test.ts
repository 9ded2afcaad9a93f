// The --dry-run output of the sample configuration against test/golden/deploy-dry-run.txt (and the
// destroy plan against destroy-dry-run.txt). After an intended change, regenerate with
// UPDATE_GOLDEN=1 npx node --test test/unit/deploy/golden.test.ts and review the diff.
// The functions' environment (and the spec label hashed from it) follows shared/config.ts SETTINGS,
// which other work extends: the golden masks those values; plan.test.ts checks them against SETTINGS.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatPlan } from '../../../infra/gcp/format.ts';
import { planDeploy, planDestroy } from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';
import { loadConfig } from '../../../shared/config.ts';
import { ROOT, SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

/** Masks what derives from the list of settings, so a new setting does not change the golden file. */
export function maskSettings(text: string): string {
  return text
    .replace(
      /'--set-env-vars=[^']*'|--set-env-vars=\S+/g,
      '--set-env-vars=<every deploy setting of shared/config.ts>',
    )
    .replace(
      /includes the planned values of [^\n]*/g,
      'includes the planned values of <every deploy setting>',
    )
    .replace(
      /streamjoin-spec( = "|=)[0-9a-f]{20}"?/g,
      (_, sep: string) => `streamjoin-spec${sep === '=' ? '=' : ' = '}<hash>`,
    );
}

function compare(file: string, actual: string): void {
  const path = `${ROOT}test/golden/${file}`;
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, actual);
  const expected = readFileSync(path, 'utf8');
  assert.equal(
    actual,
    expected,
    `${file} differs; if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff`,
  );
}

test('deploy --dry-run prints the golden plan', async () => {
  const text = formatPlan(planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions()));
  compare('deploy-dry-run.txt', maskSettings(text));
  assert.match(text, /--set-env-vars=[^ ]*STREAMJOIN_WAREHOUSE=gs:\/\/sample-project-warehouse\//);
  // The golden file is the complete plan: every gcloud command and both Scheduler request bodies.
  assert.match(text, /gcloud functions deploy ingest --gen2/);
  assert.match(text, /"schedule": "\* \* \* \* \*"/);
  assert.match(text, /"schedule": "\*\/5 \* \* \* \*"/);
});

test('destroy --delete-data --dry-run prints the golden plan', () => {
  const plan = planDestroy(loadConfig(SAMPLE_ENV), {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: true,
    settings: loadDeploySettings({}),
  });
  compare('destroy-dry-run.txt', formatPlan(plan));
});
