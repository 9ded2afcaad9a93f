// The sample configuration of the deploy tests and the golden dry run: fixed names, the repository's
// own firestore.indexes.json and firestore.rules, and a fixed source hash (the real one changes with
// every commit).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseFirestoreIndexes } from '../../../infra/gcp/indexes.ts';
import type { PlanDeployOptions } from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SAMPLE_ENV: Readonly<Record<string, string>> = {
  GOOGLE_CLOUD_PROJECT: 'sample-project',
  STREAMJOIN_INPUT_BUCKET: 'sample-project-input',
  STREAMJOIN_WAREHOUSE: 'gs://sample-project-warehouse/',
};

export const SAMPLE_SOURCE_HASH = 'f'.repeat(64);

export async function sampleDeployOptions(
  env: Readonly<Record<string, string>> = SAMPLE_ENV,
): Promise<PlanDeployOptions> {
  const [indexes, rules] = await Promise.all([
    readFile(`${ROOT}firestore.indexes.json`, 'utf8'),
    readFile(`${ROOT}firestore.rules`, 'utf8'),
  ]);
  return {
    project: 'sample-project',
    region: 'europe-west1',
    indexes: parseFirestoreIndexes(indexes),
    rules: { name: 'firestore.rules', content: rules },
    sourceHash: SAMPLE_SOURCE_HASH,
    settings: loadDeploySettings(env),
  };
}
