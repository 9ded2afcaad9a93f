// planDeploy / planDestroy: what gets created, with which flags and which least-privilege roles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  envVarsFlag,
  functionEnvironment,
  type GcloudStep,
  intervalToCron,
  type Plan,
  planDeploy,
  planDestroy,
  ref,
  settingText,
} from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';
import { loadConfig, SETTINGS } from '../../../shared/config.ts';
import { SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

const gcloudSteps = (plan: Plan): GcloudStep[] =>
  plan.steps.filter((s): s is GcloudStep => s.kind === 'gcloud');
const step = (plan: Plan, id: string): GcloudStep => {
  const s = gcloudSteps(plan).find((x) => x.id === id);
  assert.ok(s, `expected a step ${id}; have ${plan.steps.map((x) => x.id).join(', ')}`);
  return s;
};
const flags = (argv: readonly string[]): Set<string> => new Set(argv.filter((a) => a.startsWith('--')));

test('settingText writes each value in a form that parses back to it', () => {
  const cases = [
    { name: 'minutes', setting: SETTINGS.orderTimeoutMs, value: 900_000, expected: '15m' },
    { name: 'days', setting: SETTINGS.tombstoneRetentionMs, value: 7 * 86_400_000, expected: '7d' },
    { name: 'odd ms', setting: SETTINGS.orderTimeoutMs, value: 1500, expected: '1500ms' },
    { name: 'MiB', setting: SETTINGS.targetFileSize, value: 128 * 1024 ** 2, expected: '128MiB' },
    { name: 'plain bytes', setting: SETTINGS.targetFileSize, value: 1_000_000, expected: '1000000' },
    { name: 'integer stays an integer', setting: SETTINGS.evictBatchSize, value: 60_000, expected: '60000' },
    { name: 'string', setting: SETTINGS.warehouse, value: 'gs://wh-bucket/', expected: 'gs://wh-bucket/' },
  ];
  for (const c of cases) {
    assert.equal(settingText(c.setting, c.value), c.expected, c.name);
    assert.equal(c.setting.parse(c.expected), c.value, `${c.name} round trip`);
  }
});

test('envVarsFlag switches the delimiter when a value holds a comma', () => {
  const cases = [
    { name: 'plain', input: { A: '1', B: 'x/y' }, expected: '--set-env-vars=A=1,B=x/y' },
    { name: 'comma', input: { A: 'a,b', B: '2' }, expected: '--set-env-vars=^|^A=a,b|B=2' },
    { name: 'comma and pipe', input: { A: 'a,b|c' }, expected: '--set-env-vars=^@^A=a,b|c' },
  ];
  for (const c of cases) assert.equal(envVarsFlag(c.input), c.expected, c.name);
});

test('intervalToCron', () => {
  const ok = [
    { ms: 60_000, expected: '* * * * *' },
    { ms: 5 * 60_000, expected: '*/5 * * * *' },
    { ms: 30 * 60_000, expected: '*/30 * * * *' },
    { ms: 3_600_000, expected: '0 * * * *' },
    { ms: 6 * 3_600_000, expected: '0 */6 * * *' },
    { ms: 86_400_000, expected: '0 0 * * *' },
  ];
  for (const c of ok) assert.equal(intervalToCron(c.ms, 'X'), c.expected, String(c.ms));
  for (const ms of [10_000, 7 * 60_000, 90 * 60_000, 5 * 3_600_000]) {
    assert.throws(
      () => intervalToCron(ms, 'STREAMJOIN_TICK_INTERVAL'),
      /STREAMJOIN_TICK_INTERVAL must be whole minutes/,
    );
  }
});

test('functions get every deploy setting, the project from --project, and no local-only setting', () => {
  const env = functionEnvironment(
    loadConfig({ ...SAMPLE_ENV, FIRESTORE_EMULATOR_HOST: '127.0.0.1:8681' }),
    'other-project',
  );
  assert.equal(env['GOOGLE_CLOUD_PROJECT'], 'other-project');
  assert.equal(env['STREAMJOIN_INPUT_BUCKET'], 'sample-project-input');
  assert.equal(env['FIRESTORE_EMULATOR_HOST'], undefined);
  assert.equal(env['STORAGE_EMULATOR_HOST'], undefined);
  const deployed = Object.values(SETTINGS)
    .filter((s) => s.deploy)
    .map((s) => s.env);
  assert.deepEqual(Object.keys(env).sort(), deployed.sort());
});

test('the deploy plan: function flags', async () => {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  const ingest = step(plan, 'function:ingest').argv;
  const cases = [
    {
      fn: 'ingest',
      has: [
        '--gen2',
        '--runtime=nodejs24',
        '--source=.',
        '--entry-point=ingest',
        '--trigger-bucket=sample-project-input',
        '--retry',
        '--timeout=540s',
        '--service-account=streamjoin-ingest@sample-project.iam.gserviceaccount.com',
        '--trigger-service-account=streamjoin-trigger@sample-project.iam.gserviceaccount.com',
        '--quiet',
      ],
      hasNot: ['--trigger-http', '--allow-unauthenticated'],
    },
    {
      fn: 'tick',
      has: [
        '--gen2',
        '--entry-point=tick',
        '--trigger-http',
        '--no-allow-unauthenticated',
        '--max-instances=1',
        '--concurrency=1',
        '--service-account=streamjoin-tick@sample-project.iam.gserviceaccount.com',
      ],
      hasNot: ['--retry', '--allow-unauthenticated'],
    },
    {
      fn: 'compact',
      has: [
        '--trigger-http',
        '--no-allow-unauthenticated',
        '--entry-point=compact',
        '--service-account=streamjoin-compact@sample-project.iam.gserviceaccount.com',
      ],
      hasNot: ['--retry'],
    },
  ];
  for (const c of cases) {
    const f = flags(step(plan, `function:${c.fn}`).argv);
    for (const h of c.has) assert.ok(f.has(h), `${c.fn} must have ${h}`);
    for (const h of c.hasNot) assert.ok(!f.has(h), `${c.fn} must not have ${h}`);
  }
  assert.ok(
    ingest.some(
      (a) =>
        a.startsWith('--set-env-vars=') && a.includes('STREAMJOIN_WAREHOUSE=gs://sample-project-warehouse/'),
    ),
  );
  // compact's V8 flags (settings.ts FUNCTION_DEFAULTS, what the compaction bench measures) go to compact
  // alone, with its 512 MiB; the other functions keep Node's own heap sizing.
  const envOf = (fn: string) =>
    step(plan, `function:${fn}`).argv.find((a) => a.startsWith('--set-env-vars='))!;
  assert.match(envOf('compact'), /NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=1(,|$)/);
  assert.ok(flags(step(plan, 'function:compact').argv).has('--memory=512Mi'));
  for (const fn of ['ingest', 'tick', 'reconcile']) assert.doesNotMatch(envOf(fn), /NODE_OPTIONS/);
});

test('NODE_OPTIONS of a function: flags only, `none` for none', () => {
  const cases: { value: string; expected: string | RegExp }[] = [
    { value: '--max-old-space-size=256', expected: '--max-old-space-size=256' },
    { value: 'none', expected: '' },
    {
      value: '--require=./evil.js; rm -rf /',
      expected: /STREAMJOIN_COMPACT_NODE_OPTIONS must be Node flags/,
    },
    { value: 'max-old-space-size=1', expected: /STREAMJOIN_COMPACT_NODE_OPTIONS must be Node flags/ },
  ];
  for (const c of cases) {
    const env = { STREAMJOIN_COMPACT_NODE_OPTIONS: c.value };
    if (typeof c.expected === 'string')
      assert.equal(loadDeploySettings(env).functions.compact.nodeOptions, c.expected);
    else assert.throws(() => loadDeploySettings(env), c.expected);
  }
});

const grantsOf = (plan: Plan, action: 'ensure' | 'remove') =>
  gcloudSteps(plan)
    .filter((s) => s.id.startsWith('iam:') && s.action === action)
    .map((s) => {
      const on = s.id.startsWith('iam:project:') ? 'project' : s.argv[4]!;
      const role = s.argv.find((a) => a.startsWith('--role='))!.slice(7);
      const member = s.argv
        .find((a) => a.startsWith('--member='))!
        .slice(9)
        .replace('@sample-project.iam.gserviceaccount.com', '');
      const condition = s.argv.find((a) => a.startsWith('--condition='))!.slice(12);
      return `${on} ${role} ${member}${condition === 'None' ? '' : ` [${condition}]`}`;
    })
    .sort();

test('the deploy plan grants exactly the least-privilege roles, and revokes the broader ones of older deploys', async () => {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  const db =
    'expression=resource.name=="projects/sample-project/databases/(default)",title=streamjoin database (default)';
  assert.deepEqual(grantsOf(plan, 'ensure'), [
    'compact roles/run.invoker serviceAccount:streamjoin-scheduler',
    'gs://sample-project-input roles/storage.objectViewer serviceAccount:streamjoin-ingest',
    'gs://sample-project-input roles/storage.objectViewer serviceAccount:streamjoin-reconcile',
    'gs://sample-project-warehouse roles/storage.objectCreator serviceAccount:streamjoin-tick',
    'gs://sample-project-warehouse roles/storage.objectUser serviceAccount:streamjoin-compact',
    'gs://sample-project-warehouse roles/storage.objectViewer serviceAccount:streamjoin-tick',
    'ingest roles/run.invoker serviceAccount:streamjoin-trigger',
    `project roles/datastore.user serviceAccount:streamjoin-compact [${db}]`,
    `project roles/datastore.user serviceAccount:streamjoin-ingest [${db}]`,
    `project roles/datastore.user serviceAccount:streamjoin-reconcile [${db}]`,
    `project roles/datastore.user serviceAccount:streamjoin-tick [${db}]`,
    'project roles/eventarc.eventReceiver serviceAccount:streamjoin-trigger',
    'project roles/logging.logWriter serviceAccount:streamjoin-build',
    `project roles/pubsub.publisher serviceAccount:${ref('GCS_SERVICE_AGENT')}`,
    `project roles/storage.objectViewer serviceAccount:streamjoin-build [expression=resource.name.startsWith("projects/_/buckets/gcf-v2-sources-${ref('PROJECT_NUMBER')}-") || resource.name.startsWith("projects/_/buckets/gcf-v2-uploads-${ref('PROJECT_NUMBER')}-"),title=function sources only]`,
    'reconcile roles/run.invoker serviceAccount:streamjoin-scheduler',
    'streamjoin-functions roles/artifactregistry.writer serviceAccount:streamjoin-build',
    'tick roles/run.invoker serviceAccount:streamjoin-scheduler',
  ]);
  assert.deepEqual(grantsOf(plan, 'remove'), [
    'gs://sample-project-warehouse roles/storage.objectAdmin serviceAccount:streamjoin-compact',
    'project roles/cloudbuild.builds.builder serviceAccount:streamjoin-build',
    'project roles/datastore.user serviceAccount:streamjoin-compact',
    'project roles/datastore.user serviceAccount:streamjoin-ingest',
    'project roles/datastore.user serviceAccount:streamjoin-reconcile',
    'project roles/datastore.user serviceAccount:streamjoin-tick',
  ]);
  // A named database conditions the grant on that database.
  const named = planDeploy(
    loadConfig({ ...SAMPLE_ENV, STREAMJOIN_FIRESTORE_DATABASE: 'lake-state' }),
    await sampleDeployOptions(),
  );
  assert.ok(
    grantsOf(named, 'ensure').includes(
      'project roles/datastore.user serviceAccount:streamjoin-ingest [expression=resource.name=="projects/sample-project/databases/lake-state",title=streamjoin database lake-state]',
    ),
  );
});

test('every function: internal ingress, its own account, the build account and the image repository; ingest triggered where its bucket is', async () => {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  for (const fn of ['ingest', 'tick', 'compact', 'reconcile']) {
    const f = flags(step(plan, `function:${fn}`).argv);
    for (const h of [
      '--ingress-settings=internal-only',
      `--service-account=streamjoin-${fn}@sample-project.iam.gserviceaccount.com`,
      '--build-service-account=projects/sample-project/serviceAccounts/streamjoin-build@sample-project.iam.gserviceaccount.com',
      '--docker-repository=projects/sample-project/locations/europe-west1/repositories/streamjoin-functions',
    ]) {
      assert.ok(f.has(h), `${fn} must have ${h}`);
    }
  }
  assert.ok(
    flags(step(plan, 'function:ingest').argv).has(`--trigger-location=${ref('INPUT_BUCKET_LOCATION')}`),
  );
  const lookup = plan.steps.find((s) => s.kind === 'lookup' && s.variable === 'INPUT_BUCKET_LOCATION');
  assert.deepEqual(lookup?.kind === 'lookup' ? lookup.argv : undefined, [
    'gcloud',
    'storage',
    'buckets',
    'describe',
    'gs://sample-project-input',
    '--project=sample-project',
    '--format=value(location.lower())',
  ]);
  // The location is read after the bucket step (which may create the bucket in the region).
  const ids = plan.steps.map((s) => s.id);
  assert.ok(ids.indexOf('bucket:sample-project-input') < ids.indexOf('lookup:input-location'));
});

test('every IAM grant and revocation names its condition: --condition=None when it has none', async () => {
  const config = loadConfig(SAMPLE_ENV);
  const plans = [
    planDeploy(config, await sampleDeployOptions()),
    planDestroy(config, {
      project: 'sample-project',
      region: 'europe-west1',
      deleteData: true,
      settings: loadDeploySettings({}),
    }),
  ];
  const bindings = plans
    .flatMap((p) => gcloudSteps(p))
    .filter((s) =>
      /-iam-policy-binding$/.test(s.argv[s.argv.findIndex((a) => a.endsWith('-iam-policy-binding'))] ?? ''),
    );
  assert.ok(bindings.length >= 30, String(bindings.length));
  for (const b of bindings) {
    assert.equal(b.argv.filter((a) => a.startsWith('--condition=')).length, 1, b.id);
  }
});

test('contradicting settings stop the plan with both names and the rule', async () => {
  const cases = [
    {
      name: 'time budget past the ingest timeout',
      env: { STREAMJOIN_INGEST_FUNCTION_TIMEOUT: '120s' },
      expected:
        /STREAMJOIN_INGEST_TIME_BUDGET \(480 s\) must end at least 30 s before STREAMJOIN_INGEST_FUNCTION_TIMEOUT \(120 s\)[\s\S]*at most 90s/,
    },
    {
      name: 'memory budget larger than the instance',
      env: { STREAMJOIN_INGEST_MEMORY: '512Mi' },
      expected:
        /STREAMJOIN_INGEST_MEMORY_BUDGET \(512 MiB\) plus the measured base of an ingest instance \(256 MiB\) must fit STREAMJOIN_INGEST_MEMORY \(512Mi\)[\s\S]*at most 256 MiB/,
    },
  ];
  const o = await sampleDeployOptions();
  for (const c of cases) {
    // The deploy-only half comes from the deploy settings; the CLI also reads it into the config.
    const settings = loadDeploySettings({ ...SAMPLE_ENV, ...c.env });
    assert.throws(() => planDeploy(loadConfig(SAMPLE_ENV), { ...o, settings }), c.expected, c.name);
  }
  // The same pair fails at start-up once deploy handed the timeout to the functions.
  assert.throws(
    () => loadConfig({ ...SAMPLE_ENV, STREAMJOIN_INGEST_FUNCTION_TIMEOUT: '120s' }),
    /STREAMJOIN_INGEST_TIME_BUDGET \(480 s\) must end at least 30 s before STREAMJOIN_INGEST_FUNCTION_TIMEOUT/,
  );
  const env = functionEnvironment(loadConfig(SAMPLE_ENV), 'p', o.settings);
  assert.equal(env['STREAMJOIN_INGEST_FUNCTION_TIMEOUT'], '540s');
});

test('the deploy plan: every command names the project and never prompts', async () => {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions());
  for (const s of gcloudSteps(plan)) {
    assert.ok(s.argv.includes('--quiet'), `${s.id} must pass --quiet`);
    assert.ok(
      s.argv.includes('sample-project') || s.argv.includes('--project=sample-project'),
      `${s.id} must name the project`,
    );
    assert.ok(
      s.check === undefined || s.check.argv.some((a) => a.includes('sample-project')),
      `${s.id} check must name the project`,
    );
  }
});

test('the deploy plan: scheduler jobs with OIDC tokens for the invoker account', async () => {
  const plan = planDeploy(
    loadConfig({ ...SAMPLE_ENV, STREAMJOIN_COMPACT_INTERVAL: '10m' }),
    await sampleDeployOptions(),
  );
  const jobs = plan.steps.filter((s) => s.kind === 'scheduler-job');
  assert.deepEqual(
    jobs.map((j) => [
      j.job?.schedule,
      j.job?.httpTarget.uri,
      j.job?.httpTarget.oidcToken.serviceAccountEmail,
      j.job?.httpTarget.oidcToken.audience,
    ]),
    [
      [
        '* * * * *',
        ref('TICK_URL'),
        'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
        ref('TICK_URL'),
      ],
      [
        '*/10 * * * *',
        ref('COMPACT_URL'),
        'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
        ref('COMPACT_URL'),
      ],
      [
        '0 * * * *',
        ref('RECONCILE_URL'),
        'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
        ref('RECONCILE_URL'),
      ],
    ],
  );
  const lookups = plan.steps.filter((s) => s.kind === 'lookup').map((s) => s.variable);
  assert.deepEqual(lookups, [
    'PROJECT_NUMBER',
    'INPUT_BUCKET_LOCATION',
    'GCS_SERVICE_AGENT',
    'TICK_URL',
    'COMPACT_URL',
    'RECONCILE_URL',
  ]);
  // The scheduler jobs come after the wait for READY indexes.
  const ids = plan.steps.map((s) => s.id);
  assert.ok(ids.indexOf('firestore:indexes-ready') < ids.indexOf('scheduler:tick'));
  // Each variable is set by a step before the first step that uses it.
  for (const v of lookups) {
    const set = plan.steps.findIndex((s) => s.kind === 'lookup' && s.variable === v);
    const used = plan.steps.findIndex((s) => s.kind !== 'lookup' && JSON.stringify(s).includes(ref(v)));
    assert.ok(set < used, `${v} set at ${set}, used at ${used}`);
  }
});

test('the deploy plan: indexes, TTL and rules follow the collection prefix', async () => {
  const env = { ...SAMPLE_ENV, STREAMJOIN_COLLECTION_PREFIX: 'acme' };
  const plan = planDeploy(loadConfig(env), await sampleDeployOptions(env));
  const ids = plan.steps.map((s) => s.id).filter((id) => id.startsWith('firestore:'));
  assert.deepEqual(ids, [
    'firestore:database',
    'firestore:database-ready',
    'firestore:delete-protection',
    'firestore:index:acme_states:deadlineShard,deadline',
    'firestore:index:acme_outbox:table,shard,createdAt,rowId',
    'firestore:index:acme_batches:status,createdAt',
    'firestore:index:acme_files:outcome,landedAt',
    'firestore:exempt:acme_states.expireAt',
    'firestore:ttl:acme_states.expireAt',
    'firestore:exempt:acme_states.s',
    'firestore:exempt:acme_states.orderId',
    'firestore:exempt:acme_states.updatedAt',
    'firestore:exempt:acme_outbox.row',
    'firestore:exempt:acme_outbox.orderId',
    'firestore:exempt:acme_batches.files',
    'firestore:exempt:acme_batches.expireAt',
    'firestore:ttl:acme_batches.expireAt',
    'firestore:exempt:acme_files.expireAt',
    'firestore:ttl:acme_files.expireAt',
    'firestore:exempt:acme_rejects.expireAt',
    'firestore:ttl:acme_rejects.expireAt',
    'firestore:exempt:acme_files.file',
    'firestore:exempt:acme_files.object',
    'firestore:rules',
    'firestore:indexes-ready',
  ]);
  const ttl = step(plan, 'firestore:ttl:acme_states.expireAt');
  assert.ok(ttl.argv.includes('--enable-ttl') && ttl.argv.includes('--collection-group=acme_states'));
});

test('the deploy plan: a different source or setting changes the spec label; the same input gives the same plan', async () => {
  const config = loadConfig(SAMPLE_ENV);
  const o = await sampleDeployOptions();
  const a = planDeploy(config, o);
  assert.deepEqual(planDeploy(config, o), a);
  const label = (p: Plan, fn: string) =>
    step(p, `function:${fn}`).argv.find((x) => x.startsWith('--update-labels='));
  const b = planDeploy(config, { ...o, sourceHash: '0'.repeat(64) });
  assert.notEqual(label(a, 'tick'), label(b, 'tick'));
  const c = planDeploy(loadConfig({ ...SAMPLE_ENV, STREAMJOIN_TICK_FUNCTION_TIMEOUT: '120s' }), {
    ...o,
    settings: loadDeploySettings({ STREAMJOIN_TICK_FUNCTION_TIMEOUT: '120s' }),
  });
  assert.notEqual(label(a, 'tick'), label(c, 'tick'));
  assert.equal(label(a, 'ingest'), label(c, 'ingest'));
});

test('the deploy plan refuses a local warehouse', async () => {
  const o = await sampleDeployOptions();
  assert.throws(
    () => planDeploy(loadConfig({ ...SAMPLE_ENV, STREAMJOIN_WAREHOUSE: 'file:///tmp/wh/' }), o),
    /STREAMJOIN_WAREHOUSE must be a gs:\/\/ URI/,
  );
});

test('the destroy plan deletes buckets and Firestore data only with deleteData', () => {
  const config = loadConfig(SAMPLE_ENV);
  const settings = loadDeploySettings({});
  const keep = planDestroy(config, {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: false,
    settings,
  });
  const wipe = planDestroy(config, {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: true,
    settings,
  });
  const destructive = (p: Plan) =>
    p.steps.map((s) => s.id).filter((id) => id.startsWith('bucket:') || id === 'firestore:data');
  assert.deepEqual(destructive(keep), []);
  assert.deepEqual(destructive(wipe), [
    'firestore:data',
    'bucket:sample-project-input',
    'bucket:sample-project-warehouse',
  ]);
  assert.ok(keep.steps.every((s) => s.kind !== 'gcloud' || s.action === 'remove'));
});

test('deploy settings are validated, every problem at once', () => {
  assert.equal(loadDeploySettings({}).functions.ingest.timeoutSeconds, 540);
  assert.throws(
    () =>
      loadDeploySettings({
        STREAMJOIN_INGEST_FUNCTION_TIMEOUT: '10m',
        STREAMJOIN_TICK_MEMORY: '1GB',
        STREAMJOIN_COMPACT_CPU: '0.5',
        STREAMJOIN_COMPACT_CONCURRENCY: '4',
      }),
    (err: Error) => {
      assert.match(
        err.message,
        /STREAMJOIN_INGEST_FUNCTION_TIMEOUT must be a whole number of seconds in \[1s, 540s\], but was: "10m"/,
      );
      assert.match(err.message, /STREAMJOIN_TICK_MEMORY must be a memory size/);
      assert.match(
        err.message,
        /STREAMJOIN_COMPACT_CONCURRENCY above 1 needs STREAMJOIN_COMPACT_CPU of at least 1/,
      );
      return true;
    },
  );
});
