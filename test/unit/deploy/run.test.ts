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

test('deploy --dry-run prints the complete plan and touches nothing (no gcloud: the pre-flight says it did not run)', async () => {
  let text = '';
  const { plan, report, preflight } = await runDeploy({
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
  assert.deepEqual(preflight, []);
  assert.match(text, /^# streamjoin deploy plan: project sample-project, region europe-west1/);
  for (const s of plan.steps) assert.ok(text.includes(s.title), `the dry run shows step ${s.id}`);
  assert.match(text, /# pre-flight not run \(a dry run must not run anything\); the deploy runs it first/);
});

test('deploy --dry-run says a bucket name is taken (403) and how to fix it; the deploy refuses before any change', async () => {
  const cloud = new FakeCloud();
  cloud.takenBuckets.add('sample-project-warehouse');
  let text = '';
  const reads = async (argv: readonly string[]) => {
    assert.match(
      argv.join(' '),
      /^gcloud (projects describe|storage buckets describe)/,
      'a dry run only reads',
    );
    return cloud.run(argv);
  };
  const dry = await runDeploy({
    project: 'sample-project',
    region: 'europe-west1',
    dryRun: true,
    env: SAMPLE_ENV,
    root: ROOT,
    out: (t) => {
      text += t;
    },
    runner: reads,
  });
  assert.deepEqual(
    dry.preflight.map((f) => f.level),
    ['ok', 'error'],
  );
  assert.match(
    text,
    /# {3}ERROR gs:\/\/sample-project-warehouse \(warehouse bucket\) is taken: Cloud Storage answered 403[^\n]*set STREAMJOIN_WAREHOUSE to a name of your own/,
  );
  await assert.rejects(
    runDeploy({
      project: 'sample-project',
      region: 'europe-west1',
      env: SAMPLE_ENV,
      root: ROOT,
      out: () => {},
      runner: cloud.run,
      scheduler: cloud.scheduler,
      rules: cloud.rules,
    }),
    /pre-flight found 1 problem\(s\); nothing was changed/,
  );
  assert.deepEqual(cloud.mutations, []);
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
