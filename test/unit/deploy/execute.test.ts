// executePlan against a model of the cloud: a first deploy creates everything, a second changes
// nothing, drift is repaired with the update command, destroy removes what deploy made; the waits,
// retries and pre-flight checks a fresh project needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executePlan, isRetryableFailure, runPreflight } from '../../../infra/gcp/execute.ts';
import { planDeploy, planDestroy } from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';
import { loadConfig } from '../../../shared/config.ts';
import { FakeCloud } from './fake-cloud.ts';
import { SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

const noSleep = async () => {};

async function deploy(cloud: FakeCloud, env = SAMPLE_ENV, sleep: (ms: number) => Promise<void> = noSleep) {
  const plan = planDeploy(loadConfig(env), await sampleDeployOptions(env));
  const calls: string[] = [];
  const report = await executePlan(
    plan,
    async (argv) => {
      calls.push(argv.join(' '));
      return cloud.run(argv);
    },
    { scheduler: cloud.scheduler, rules: cloud.rules, sleep },
  );
  return { plan, report, calls };
}

test('a first deploy creates every resource; a second run changes nothing', async () => {
  const cloud = new FakeCloud();
  const first = await deploy(cloud);
  // APIs, IAM bindings, indexes, field settings and the repository's cleanup policy belong to objects
  // that exist already: "updated". Grants of older deploys are not there: "absent". The database was
  // created with delete protection: "unchanged".
  const outcomes = new Set(first.report.steps.map((s) => s.outcome));
  assert.deepEqual([...outcomes].sort(), ['absent', 'created', 'ready', 'resolved', 'unchanged', 'updated']);
  assert.deepEqual(
    first.report.steps
      .filter((s) => s.outcome === 'updated' && !/^(apis$|iam:|firestore:(ttl|exempt|index):)/.test(s.id))
      .map((s) => s.id),
    ['repository:streamjoin-functions:cleanup'],
  );
  assert.deepEqual(
    first.report.steps.filter((s) => s.outcome === 'unchanged').map((s) => s.id),
    ['firestore:delete-protection'],
  );
  assert.ok(first.report.steps.filter((s) => s.outcome === 'absent').every((s) => s.id.startsWith('iam:')));
  assert.equal(cloud.buckets.size, 2);
  assert.equal(cloud.database?.deleteProtectionState, 'DELETE_PROTECTION_ENABLED');
  assert.deepEqual(cloud.buckets.get('sample-project-input')!.labels, { 'streamjoin-created-by': 'deploy' });
  assert.equal(cloud.buckets.get('sample-project-warehouse')!.softDeleteSeconds, 0);
  assert.equal(
    cloud.buckets.get('sample-project-input')!.softDeleteSeconds,
    604_800,
    'input keeps GCS default',
  );
  assert.equal(cloud.accounts.size, 7);
  assert.equal(cloud.functions.get('ingest')!.triggerRegion, 'europe-west1');
  assert.ok([...cloud.functions.values()].every((f) => f.ingress === 'ALLOW_INTERNAL_ONLY'));
  assert.deepEqual([...cloud.functions.keys()].sort(), ['compact', 'ingest', 'reconcile', 'tick']);
  assert.equal(cloud.jobs.size, 3);
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
  assert.deepEqual([...new Set(second.report.steps.map((s) => s.outcome))].sort(), [
    'absent',
    'ready',
    'resolved',
    'unchanged',
  ]);
  // Checks shared by several steps (the project policy, the index list) run once per deploy; the
  // wait for READY indexes reads the list afresh.
  assert.equal(second.calls.filter((c) => c.startsWith('gcloud projects get-iam-policy')).length, 1);
  assert.equal(second.calls.filter((c) => c.startsWith('gcloud firestore indexes composite list')).length, 2);
});

test('a fresh project: the deploy waits for the database, retries contention with backoff, and creates the scheduler jobs only once every index is READY', async () => {
  const cloud = new FakeCloud();
  cloud.databaseDelay = 2; // the create returned, the database answers two describes later
  cloud.indexBuildLists = 4; // each index turns READY on its 5th listing
  cloud.failNext = {
    match: /firestore indexes composite create/,
    stderr:
      'ERROR: (gcloud.firestore.indexes.composite.create) ABORTED: Too much contention on these datastore entities. Please try again.',
    times: 2,
  };
  const waits: number[] = [];
  const states: string[][] = [];
  const scheduler = {
    ...cloud.scheduler,
    createJob: async (parent: string, job: Parameters<typeof cloud.scheduler.createJob>[1]) => {
      states.push(cloud.indexes.map((ix) => ix.state));
      await cloud.scheduler.createJob(parent, job);
    },
  };
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  const report = await executePlan(plan, cloud.run, {
    scheduler,
    rules: cloud.rules,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  const outcome = (id: string) => report.steps.find((s) => s.id === id)?.outcome;
  assert.equal(outcome('firestore:database-ready'), 'ready');
  assert.equal(outcome('firestore:indexes-ready'), 'ready');
  // 5 s twice for the database, 2 s then 5 s for the contended index, 15 s polls for the indexes.
  assert.deepEqual(waits.slice(0, 4), [5000, 5000, 2000, 5000]);
  assert.ok(waits.slice(4).length > 0 && waits.slice(4).every((w) => w === 15_000), String(waits));
  assert.equal(states.length, 3, 'every scheduler job created');
  assert.ok(
    states.every((s) => s.length > 0 && s.every((x) => x === 'READY')),
    JSON.stringify(states),
  );
});

test('a wait that never ends stops the deploy with what it waited for and what to do', async () => {
  const cloud = new FakeCloud();
  cloud.indexBuildLists = 1_000_000;
  let t = 0;
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  await assert.rejects(
    executePlan(plan, cloud.run, {
      scheduler: cloud.scheduler,
      rules: cloud.rules,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    }),
    /still waiting after 1200 s for index on streamjoin_states \(deadlineShard ASCENDING, deadline ASCENDING\) is READY[\s\S]*run the deploy again later/,
  );
  assert.equal(cloud.jobs.size, 0, 'no scheduler job before the indexes are READY');
});

test('a function build that fails on the code is not retried; a new account not yet visible is', async () => {
  const cases = [
    {
      name: 'build failure (its log mentions "not found" and "permission")',
      stderr:
        'ERROR: (gcloud.functions.deploy) OperationError: code=3, message=Build failed with status: FAILURE and message: npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope - not found; permission denied. For more details see the logs.',
      attempts: 1,
    },
    {
      name: 'runtime service account not yet visible',
      stderr:
        "ERROR: (gcloud.functions.deploy) PERMISSION_DENIED: Permission 'iam.serviceaccounts.actAs' denied on service account streamjoin-ingest@sample-project.iam.gserviceaccount.com (or it may not exist).",
      attempts: 2,
    },
  ];
  for (const c of cases) {
    const cloud = new FakeCloud();
    cloud.failNext = { match: /functions deploy ingest/, stderr: c.stderr, times: 1 };
    const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
    const run = executePlan(plan, cloud.run, {
      scheduler: cloud.scheduler,
      rules: cloud.rules,
      sleep: noSleep,
    });
    if (c.attempts === 1) await assert.rejects(run, /Build failed/, c.name);
    else await run;
    const deploys = cloud.mutations.filter((m) => m.startsWith('gcloud functions deploy ingest')).length;
    assert.equal(deploys, c.attempts, c.name);
  }
});

test('pre-flight: a bucket name another project owns (403) stops the deploy before any change, with the fix', async () => {
  const cloud = new FakeCloud();
  cloud.takenBuckets.add('sample-project-input');
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  const findings = await runPreflight(plan, cloud.run);
  assert.deepEqual(
    findings.map((f) => [f.id, f.level]),
    [
      ['bucket:sample-project-input', 'error'],
      ['bucket:sample-project-warehouse', 'ok'],
    ],
  );
  assert.match(
    findings[0]!.message,
    /taken: Cloud Storage answered 403[\s\S]*set STREAMJOIN_INPUT_BUCKET to a name of your own/,
  );
  assert.match(findings[1]!.message, /is free: the deploy creates it/);
  assert.deepEqual(cloud.mutations, [], 'pre-flight only reads');

  // A bucket of this project is adopted; one of another project is refused.
  const mine = new FakeCloud();
  await mine.run(['gcloud', 'storage', 'buckets', 'create', 'gs://sample-project-input', '--location=eu']);
  mine.buckets.set('sample-project-warehouse', {
    ...mine.buckets.get('sample-project-input')!,
    projectNumber: '7',
  });
  const again = await runPreflight(plan, mine.run);
  assert.match(again[0]!.message, /exists in sample-project: kept and adopted/);
  assert.equal(again[1]!.level, 'error');
  assert.match(again[1]!.message, /belongs to project number 7[\s\S]*STREAMJOIN_WAREHOUSE/);
});

test('an adopted input bucket in another location: the trigger goes where the bucket is, and destroy --delete-data keeps the bucket', async () => {
  const cloud = new FakeCloud();
  await cloud.run(['gcloud', 'storage', 'buckets', 'create', 'gs://sample-project-input', '--location=EU']);
  cloud.mutations = [];
  await deploy(cloud);
  assert.equal(cloud.functions.get('ingest')!.triggerRegion, 'eu');
  assert.deepEqual(cloud.buckets.get('sample-project-input')!.labels, {}, 'an adopted bucket is not marked');
  const wipe = planDestroy(loadConfig(SAMPLE_ENV), {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: true,
    settings: loadDeploySettings({}),
  });
  const report = await executePlan(wipe, cloud.run, { scheduler: cloud.scheduler, rules: cloud.rules });
  const input = report.steps.find((s) => s.id === 'bucket:sample-project-input')!;
  assert.equal(input.outcome, 'kept');
  assert.match(input.detail ?? '', /adopted/);
  assert.deepEqual(
    [...cloud.buckets.keys()],
    ['sample-project-input'],
    'the bucket the deploy created is gone',
  );
});

test('grants of older deploys that were broader are revoked; the narrow ones are made', async () => {
  const cloud = new FakeCloud();
  const sa = (n: string) => `serviceAccount:streamjoin-${n}@sample-project.iam.gserviceaccount.com`;
  cloud.projectPolicy.bindings.push(
    { role: 'roles/datastore.user', members: [sa('ingest'), sa('tick'), sa('compact')] },
    { role: 'roles/cloudbuild.builds.builder', members: [sa('build')] },
  );
  await deploy(cloud);
  const roles = (member: string) =>
    cloud.projectPolicy.bindings
      .filter((b) => b.members.includes(member))
      .map((b) => `${b.role}${b.condition === undefined ? '' : ` if ${b.condition.expression}`}`)
      .sort();
  assert.deepEqual(roles(sa('ingest')), [
    'roles/datastore.user if resource.name=="projects/sample-project/databases/(default)"',
  ]);
  assert.deepEqual(roles(sa('build')), [
    'roles/logging.logWriter',
    'roles/storage.objectViewer if resource.name.startsWith("projects/_/buckets/gcf-v2-sources-42-") || resource.name.startsWith("projects/_/buckets/gcf-v2-uploads-42-")',
  ]);
  assert.deepEqual(cloud.repository?.policy.bindings, [
    { role: 'roles/artifactregistry.writer', members: [sa('build')] },
  ]);
});

test('drift is repaired with the step update command, and only the drifted steps run', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud);
  cloud.buckets.get('sample-project-input')!.pap = 'inherited';
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

test('a changed setting redeploys the functions and updates the scheduler job and the alert on its interval, nothing else', async () => {
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
      'gcloud functions deploy reconcile',
      'scheduler update projects/sample-project/locations/europe-west1/jobs/streamjoin-compact',
      // "no commit for 3 compact intervals": its window follows the interval, updated in place.
      'gcloud alpha monitoring policies',
    ],
  );
  assert.match(
    cloud.mutations.at(-1)!,
    /^gcloud alpha monitoring policies update projects\/sample-project\/alertPolicies\/\d+ /,
  );
  const noCommit = [...cloud.alertPolicies.values()].find(
    (p) => (p['userLabels'] as Record<string, string>)['streamjoin-alert'] === 'no-commit',
  )!;
  assert.match(JSON.stringify(noCommit), /\[1800s\]/);
  assert.equal(cloud.alertPolicies.size, 7, 'updated in place, not created again');
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
  assert.equal(isRetryableFailure('propagation', 'ERROR: PERMISSION_DENIED: Permission denied on x'), true);

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

  assert.equal(cloud.repository, undefined, 'the image repository goes');
  for (const [name, b] of cloud.buckets) {
    assert.deepEqual(b.policy.bindings, [], `no grant left on gs://${name} (not even for a deleted account)`);
  }

  cloud.mutations = [];
  const again = await executePlan(keep, cloud.run, { scheduler: cloud.scheduler, rules: cloud.rules });
  assert.equal(cloud.mutations.join('\n'), '', 'a second destroy finds nothing to do');
  assert.ok(again.steps.every((s) => s.outcome === 'absent' || s.id.startsWith('lookup:')));

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
