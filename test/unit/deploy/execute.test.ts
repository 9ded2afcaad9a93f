// executePlan against a model of the cloud: a first deploy creates everything, a second changes
// nothing, drift is repaired with the update command, destroy removes what deploy made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executePlan } from '../../../infra/gcp/execute.ts';
import { planDeploy, planDestroy } from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';
import { loadConfig } from '../../../shared/config.ts';
import { FakeCloud } from './fake-cloud.ts';
import { SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

const noSleep = async () => {};

async function deploy(cloud: FakeCloud, env = SAMPLE_ENV) {
  const plan = planDeploy(loadConfig(env), await sampleDeployOptions(env));
  const calls: string[] = [];
  const report = await executePlan(
    plan,
    async (argv) => {
      calls.push(argv.join(' '));
      return cloud.run(argv);
    },
    { scheduler: cloud.scheduler, rules: cloud.rules, sleep: noSleep },
  );
  return { plan, report, calls };
}

test('a first deploy creates every resource; a second run changes nothing', async () => {
  const cloud = new FakeCloud();
  const first = await deploy(cloud);
  // APIs, IAM bindings, indexes and field settings belong to objects that exist already: "updated".
  const outcomes = new Set(first.report.steps.map((s) => s.outcome));
  assert.deepEqual([...outcomes].sort(), ['created', 'resolved', 'updated']);
  assert.ok(
    first.report.steps
      .filter((s) => s.outcome === 'updated')
      .every((s) => /^(apis$|iam:|firestore:(ttl|exempt|index):)/.test(s.id)),
  );
  assert.equal(cloud.buckets.size, 2);
  assert.equal(cloud.accounts.size, 6);
  assert.deepEqual([...cloud.functions.keys()].sort(), ['compact', 'ingest', 'tick']);
  assert.equal(cloud.jobs.size, 2);
  const tickJob = cloud.jobs.get('projects/sample-project/locations/europe-west1/jobs/streamjoin-tick')!;
  assert.equal((tickJob['httpTarget'] as { uri: string }).uri, 'https://tick-42.europe-west1.run.app');
  assert.ok(
    cloud.projectPolicy.bindings.some(
      (b) =>
        b.role === 'roles/pubsub.publisher' &&
        b.members.includes('serviceAccount:service-42@gs-project-accounts.iam.gserviceaccount.com'),
    ),
    'the GCS service agent found by the lookup gets pubsub.publisher',
  );

  cloud.mutations = [];
  const second = await deploy(cloud);
  assert.equal(cloud.mutations.join('\n'), '', 'the second run must not change anything');
  assert.deepEqual([...new Set(second.report.steps.map((s) => s.outcome))].sort(), ['resolved', 'unchanged']);
  // Checks shared by several steps (the project policy, the index list) run once per deploy.
  assert.equal(second.calls.filter((c) => c.startsWith('gcloud projects get-iam-policy')).length, 1);
  assert.equal(second.calls.filter((c) => c.startsWith('gcloud firestore indexes composite list')).length, 1);
});

test('drift is repaired with the step update command, and only the drifted steps run', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud);
  cloud.buckets.get('sample-project-input')!.public_access_prevention = 'inherited';
  cloud.functions.get('tick')!.env['STREAMJOIN_ORDER_TIMEOUT'] = '1m';
  cloud.jobs.get('projects/sample-project/locations/europe-west1/jobs/streamjoin-compact')!['schedule'] =
    '0 * * * *';
  cloud.mutations = [];
  const { report } = await deploy(cloud);
  const changed = report.steps.filter((s) => s.outcome === 'updated').map((s) => s.id);
  assert.deepEqual(changed, ['bucket:sample-project-input', 'function:tick', 'scheduler:compact']);
  assert.match(cloud.mutations[0]!, /^gcloud storage buckets update gs:\/\/sample-project-input /);
  assert.match(cloud.mutations[1]!, /^gcloud functions deploy tick /);
  assert.equal(
    cloud.mutations[2],
    'scheduler update projects/sample-project/locations/europe-west1/jobs/streamjoin-compact',
  );
  assert.equal(cloud.mutations.length, 3);
});

test('a changed setting redeploys the functions and updates the scheduler job, nothing else', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud);
  cloud.mutations = [];
  await deploy(cloud, { ...SAMPLE_ENV, STREAMJOIN_ORDER_TIMEOUT: '30m', STREAMJOIN_COMPACT_INTERVAL: '10m' });
  assert.deepEqual(
    cloud.mutations.map((m) => m.split(' ').slice(0, 4).join(' ')),
    [
      'gcloud functions deploy ingest',
      'gcloud functions deploy tick',
      'gcloud functions deploy compact',
      'scheduler update projects/sample-project/locations/europe-west1/jobs/streamjoin-compact',
    ],
  );
  assert.equal(cloud.functions.get('ingest')!.env['STREAMJOIN_ORDER_TIMEOUT'], '30m');
});

test('a Firestore database in Datastore mode stops the deploy with the reason', async () => {
  const cloud = new FakeCloud();
  cloud.database = { type: 'DATASTORE_MODE' };
  await assert.rejects(deploy(cloud), (err: Error) => {
    assert.match(err.message, /not in Native mode/);
    assert.match(err.message, /type = "FIRESTORE_NATIVE"/);
    return true;
  });
});

test('IAM steps are retried while a new service account propagates; other failures are not', async () => {
  const cloud = new FakeCloud();
  cloud.failNext = {
    match: /add-iam-policy-binding/,
    stderr: 'ERROR: INVALID_ARGUMENT: Service account x does not exist.',
    times: 2,
  };
  const waits: number[] = [];
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  await executePlan(plan, cloud.run, {
    scheduler: cloud.scheduler,
    rules: cloud.rules,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  assert.deepEqual(waits, [5000, 15000]);

  const other = new FakeCloud();
  other.failNext = {
    match: /buckets create/,
    stderr: 'ERROR: 409 The requested bucket name is not available.',
    times: 1,
  };
  const plan2 = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  await assert.rejects(
    executePlan(plan2, other.run, { scheduler: other.scheduler, rules: other.rules, sleep: noSleep }),
    (err: Error) => {
      assert.match(err.message, /bucket name is not available/);
      assert.match(err.message, /gcloud storage buckets create gs:\/\/sample-project-input/);
      return true;
    },
  );
});

test('a check that fails for another reason than "not found" stops the deploy', async () => {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  await assert.rejects(
    executePlan(plan, async () => ({
      exitCode: 1,
      stdout: '',
      stderr: 'ERROR: (gcloud.services.list) PERMISSION_DENIED: caller lacks serviceusage.services.list',
    })),
    /expected exit code 0 from\n {2}gcloud services list[\s\S]*PERMISSION_DENIED/,
  );
});

test('destroy removes what deploy made and keeps the data unless asked', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud);
  const config = loadConfig(SAMPLE_ENV);
  const settings = loadDeploySettings(SAMPLE_ENV);
  const keep = planDestroy(config, {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: false,
    settings,
  });
  await executePlan(keep, cloud.run, { scheduler: cloud.scheduler, rules: cloud.rules });
  assert.equal(cloud.functions.size, 0);
  assert.equal(cloud.jobs.size, 0);
  assert.equal(cloud.accounts.size, 0);
  assert.equal(cloud.buckets.size, 2, 'buckets stay without --delete-data');
  assert.ok(!cloud.projectPolicy.bindings.some((b) => b.members.some((m) => m.includes('streamjoin-'))));

  cloud.mutations = [];
  const again = await executePlan(keep, cloud.run, { scheduler: cloud.scheduler, rules: cloud.rules });
  assert.equal(cloud.mutations.join('\n'), '', 'a second destroy finds nothing to do');
  assert.ok(again.steps.every((s) => s.outcome === 'absent'));

  const wipe = planDestroy(config, {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: true,
    settings,
  });
  await executePlan(wipe, cloud.run, { scheduler: cloud.scheduler, rules: cloud.rules });
  assert.equal(cloud.buckets.size, 0);
  assert.ok(
    cloud.mutations.some((m) =>
      m.startsWith('gcloud firestore bulk-delete --collection-ids=streamjoin_states,'),
    ),
  );
});
