// runDeploy / runDestroy: --dry-run prints the plan and calls nothing; a real run prints progress and
// the URLs, buckets and table locations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDeploy, runDestroy } from '../../../infra/gcp/deploy.ts';
import { FakeCloud } from './fake-cloud.ts';
import { ROOT, SAMPLE_ENV } from './sample.ts';

const refuse = async (): Promise<never> => {
  throw new Error('a dry run must not run anything');
};

test('deploy --dry-run prints the complete plan and touches nothing', async () => {
  let text = '';
  const { plan, report } = await runDeploy({
    project: 'sample-project',
    region: 'europe-west1',
    dryRun: true,
    env: SAMPLE_ENV,
    root: ROOT,
    out: (t) => {
      text += t;
    },
    runner: refuse,
  });
  assert.equal(report, undefined);
  assert.match(text, /^# streamjoin deploy plan: project sample-project, region europe-west1/);
  for (const s of plan.steps) assert.ok(text.includes(s.title), `the dry run shows step ${s.id}`);
});

test('destroy --dry-run prints the plan and touches nothing', async () => {
  let text = '';
  await runDestroy({
    project: 'sample-project',
    region: 'europe-west1',
    dryRun: true,
    deleteData: true,
    env: SAMPLE_ENV,
    out: (t) => {
      text += t;
    },
    runner: refuse,
  });
  assert.match(text, /gcloud storage rm --recursive --all-versions gs:\/\/sample-project-input/);
});

test('deploy prints what it did and where things are', async () => {
  const cloud = new FakeCloud();
  let text = '';
  await runDeploy({
    project: 'sample-project',
    region: 'europe-west1',
    env: SAMPLE_ENV,
    root: ROOT,
    out: (t) => {
      text += t;
    },
    runner: cloud.run,
    scheduler: cloud.scheduler,
    rules: cloud.rules,
  });
  assert.match(text, /^created +Deploy the ingest function/m);
  assert.match(text, /tick: +https:\/\/tick-42\.europe-west1\.run\.app \(\* \* \* \* \*/);
  assert.match(
    text,
    /joined table: +default\.orders_payments at gs:\/\/sample-project-warehouse\/default\/orders_payments\//,
  );
  assert.match(text, /input bucket: +gs:\/\/sample-project-input\//);
});

test('bad --project or --region is refused before anything runs', async () => {
  await assert.rejects(
    runDeploy({ project: 'Bad_Project', region: 'europe', env: SAMPLE_ENV, runner: refuse }),
    /--project must be a Google Cloud project id[\s\S]*--region must be a Cloud Run region/,
  );
});
