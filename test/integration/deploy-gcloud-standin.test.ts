// The deploy's decisions against what the INSTALLED gcloud really sends and answers, through a loopback
// stand-in of the Google APIs (test/support/google-apis.ts): the pre-flight tells a taken bucket name
// (gcloud's 403 message) from a free one and from one of this project; the trigger location is the
// bucket's, as gcloud prints it; IAM grants carry exactly the planned condition (and `--condition=None`
// is what lets a grant through on a bucket whose policy has a conditional binding); a failed build is
// told from a permission that has not propagated yet by gcloud's own error text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isRetryableFailure, runPreflight, substitute } from '../../infra/gcp/execute.ts';
import { type GcloudStep, type LookupStep, planDeploy } from '../../infra/gcp/plan.ts';
import { createProcessRunner } from '../../infra/gcp/runner.ts';
import { loadConfig } from '../../shared/config.ts';
import {
  type GoogleApis,
  runCommand,
  STANDIN_PROJECT_NUMBER,
  startGoogleApis,
} from '../support/google-apis.ts';
import { ROOT, SAMPLE_ENV, sampleDeployOptions } from '../unit/deploy/sample.ts';

let apis: GoogleApis;
let dir: string;
let env: Record<string, string>;

const bucket = (name: string, projectNumber: string, location = 'EU') => ({
  kind: 'storage#bucket',
  id: name,
  name,
  projectNumber,
  location,
  locationType: 'multi-region',
  metageneration: '1',
  storageClass: 'STANDARD',
  timeCreated: '2026-01-01T00:00:00Z',
  updated: '2026-01-01T00:00:00Z',
});
/** gcloud's requests to the JSON API for gs://NAME (with or without the /storage/v1 prefix). */
const bucketPath = (name: string, rest = '') => new RegExp(`^(/storage/v1)?/b/${name}${rest}$`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamjoin-standin-'));
  apis = await startGoogleApis();
  env = apis.gcloudEnv(join(dir, 'home'));
});
after(async () => {
  await apis?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const plan = async (extra: Record<string, string> = {}) =>
  planDeploy(loadConfig({ ...SAMPLE_ENV, ...extra }), await sampleDeployOptions({ ...SAMPLE_ENV, ...extra }));

test('pre-flight through gcloud: a taken name (403), a free one (404), one of this project, one of another project', async () => {
  apis.use((r) => {
    if (bucketPath('taken-input').test(r.path)) {
      return {
        status: 403,
        body: {
          error: {
            code: 403,
            message:
              "someone@example.com does not have storage.buckets.get access to the Google Cloud Storage bucket. Permission 'storage.buckets.get' denied on resource (or it may not exist).",
            errors: [{ reason: 'forbidden', message: 'denied' }],
          },
        },
      };
    }
    if (bucketPath('own-lake').test(r.path))
      return { status: 200, body: bucket('own-lake', STANDIN_PROJECT_NUMBER) };
    if (bucketPath('their-lake').test(r.path)) return { status: 200, body: bucket('their-lake', '999') };
    return undefined;
  });
  const run = createProcessRunner({ cwd: ROOT, env, timeoutMs: 180_000 });
  const cases = [
    {
      name: 'taken input, free warehouse',
      env: { STREAMJOIN_INPUT_BUCKET: 'taken-input', STREAMJOIN_WAREHOUSE: 'gs://free-lake/' },
      expected: [
        [
          'error',
          /gs:\/\/taken-input \(input bucket\) is taken: Cloud Storage answered 403[\s\S]*set STREAMJOIN_INPUT_BUCKET/,
        ],
        ['ok', /gs:\/\/free-lake \(warehouse bucket\) is free: the deploy creates it/],
      ],
    },
    {
      name: "this project's warehouse, another project's",
      env: { STREAMJOIN_INPUT_BUCKET: 'their-lake', STREAMJOIN_WAREHOUSE: 'gs://own-lake/' },
      expected: [
        ['error', /gs:\/\/their-lake \(input bucket\) belongs to project number 999/],
        ['ok', /gs:\/\/own-lake \(warehouse bucket\) exists in sample-project: kept and adopted/],
      ],
    },
  ] as const;
  for (const c of cases) {
    const findings = await runPreflight(await plan(c.env), run);
    assert.equal(findings.length, 2, `${c.name}: ${JSON.stringify(findings)}`);
    c.expected.forEach(([level, message], i) => {
      assert.equal(findings[i]!.level, level, `${c.name}: ${findings[i]!.message}`);
      assert.match(findings[i]!.message, message, c.name);
    });
  }
});

test('the trigger location is the input bucket location as gcloud prints it (EU → eu)', async () => {
  apis.use((r) =>
    bucketPath('eu-input').test(r.path)
      ? { status: 200, body: bucket('eu-input', STANDIN_PROJECT_NUMBER) }
      : undefined,
  );
  const p = await plan({ STREAMJOIN_INPUT_BUCKET: 'eu-input' });
  const lookup = p.steps.find(
    (s): s is LookupStep => s.kind === 'lookup' && s.variable === 'INPUT_BUCKET_LOCATION',
  )!;
  const r = await runCommand(lookup.argv, { cwd: ROOT, env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'eu');
});

test('IAM grants as gcloud sends them: the planned condition, and --condition=None on a policy with conditional bindings', async () => {
  const conditional = {
    version: 3,
    etag: 'CAE=',
    bindings: [
      {
        role: 'roles/storage.objectViewer',
        members: ['user:auditor@example.com'],
        condition: { title: 'until 2030', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' },
      },
    ],
  };
  apis.use((r) => {
    if (bucketPath('sample-project-input', '/iam').test(r.path)) {
      return r.method === 'GET' ? { status: 200, body: conditional } : { status: 200, body: r.json() };
    }
    if (r.path === '/v1/projects/sample-project:getIamPolicy')
      return { status: 200, body: { version: 1, etag: 'BwX=', bindings: [] } };
    if (r.path === '/v1/projects/sample-project:setIamPolicy')
      return { status: 200, body: (r.json() as { policy: unknown }).policy };
    return undefined;
  });
  const p = await plan();
  const step = (id: string) => p.steps.find((s): s is GcloudStep => s.kind === 'gcloud' && s.id === id)!;
  const vars = { PROJECT_NUMBER: STANDIN_PROJECT_NUMBER };

  const datastore = step(
    'iam:project:roles/datastore.user:serviceAccount:streamjoin-ingest@sample-project.iam.gserviceaccount.com:conditional',
  );
  let r = await runCommand(substitute(datastore.argv, vars), { cwd: ROOT, env });
  assert.equal(r.code, 0, r.stderr);
  const set = apis.requests.findLast((q) => q.path.endsWith(':setIamPolicy'))!.json() as {
    policy: { bindings: { role: string; members: string[]; condition?: unknown }[] };
  };
  assert.deepEqual(set.policy.bindings, [
    {
      condition: {
        expression: 'resource.name=="projects/sample-project/databases/(default)"',
        title: 'streamjoin database (default)',
      },
      members: ['serviceAccount:streamjoin-ingest@sample-project.iam.gserviceaccount.com'],
      role: 'roles/datastore.user',
    },
  ]);

  const build = step(
    'iam:project:roles/storage.objectViewer:serviceAccount:streamjoin-build@sample-project.iam.gserviceaccount.com:conditional',
  );
  r = await runCommand(substitute(build.argv, vars), { cwd: ROOT, env });
  assert.equal(r.code, 0, r.stderr);
  const sent = (
    apis.requests.findLast((q) => q.path.endsWith(':setIamPolicy'))!.json() as {
      policy: { bindings: { condition?: { expression: string } }[] };
    }
  ).policy.bindings[0]!.condition!.expression;
  assert.equal(
    sent,
    `resource.name.startsWith("projects/_/buckets/gcf-v2-sources-${STANDIN_PROJECT_NUMBER}-") || resource.name.startsWith("projects/_/buckets/gcf-v2-uploads-${STANDIN_PROJECT_NUMBER}-")`,
  );

  const viewer = step(
    'iam:bucket:sample-project-input:roles/storage.objectViewer:serviceAccount:streamjoin-ingest@sample-project.iam.gserviceaccount.com',
  );
  r = await runCommand(viewer.argv, { cwd: ROOT, env });
  assert.equal(r.code, 0, r.stderr);
  const put = apis.requests
    .findLast((q) => q.method === 'PUT' && /\/iam$/.test(q.path))!
    .json() as typeof conditional;
  assert.deepEqual(put.bindings.at(-1), {
    members: ['serviceAccount:streamjoin-ingest@sample-project.iam.gserviceaccount.com'],
    role: 'roles/storage.objectViewer',
  });
  assert.deepEqual(put.bindings[0], conditional.bindings[0], 'the conditional binding is kept as it was');

  // Without --condition=None the same grant stops there (gcloud would have to ask).
  const without = viewer.argv.filter((a) => !a.startsWith('--condition='));
  r = await runCommand(without, { cwd: ROOT, env });
  assert.notEqual(r.code, 0, 'gcloud refused the grant without --condition');
  assert.match(r.stderr, /condition/i);
});

test("a failed build is not retried, a permission not yet propagated is: judged on gcloud's own error text", async () => {
  let mode: 'build-fails' | 'actas-denied' = 'build-fails';
  const failedBuild = {
    name: 'projects/sample-project/locations/europe-west1/operations/failed-build',
    done: true,
    metadata: {
      '@type': 'type.googleapis.com/google.cloud.functions.v2.OperationMetadata',
      target: 'projects/sample-project/locations/europe-west1/functions/tick',
      stages: [{ name: 'BUILD', state: 'COMPLETE' }],
    },
    error: {
      code: 3,
      message:
        "Build failed with status: FAILURE and message: npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/no-such-package - Not found\nnpm error 404  'no-such-package@*' is not in this registry.. For more details see the logs.",
    },
  };
  apis.use((r) => {
    if (r.path.endsWith('/operations/failed-build')) return { status: 200, body: failedBuild };
    if (!(r.method === 'POST' && /\/functions$/.test(r.path) && r.query.get('functionId') === 'tick'))
      return undefined;
    if (mode === 'build-fails') return { status: 200, body: failedBuild };
    return {
      status: 403,
      body: {
        error: {
          code: 403,
          status: 'PERMISSION_DENIED',
          message:
            "Caller is missing permission 'iam.serviceaccounts.actAs' on service account projects/-/serviceAccounts/streamjoin-tick@sample-project.iam.gserviceaccount.com.",
        },
      },
    };
  });
  const p = await plan();
  const tick = p.steps.find((s): s is GcloudStep => s.kind === 'gcloud' && s.id === 'function:tick')!;
  const r1 = await runCommand(tick.argv, { cwd: ROOT, env, timeoutMs: 300_000 });
  assert.notEqual(r1.code, 0);
  assert.match(r1.stderr, /Build failed/);
  assert.equal(isRetryableFailure(tick.retry, r1.stderr), false, `retried a failed build:\n${r1.stderr}`);
  mode = 'actas-denied';
  const r2 = await runCommand(tick.argv, { cwd: ROOT, env, timeoutMs: 300_000 });
  assert.notEqual(r2.code, 0);
  assert.equal(
    isRetryableFailure(tick.retry, r2.stderr),
    true,
    `did not retry a propagation error:\n${r2.stderr}`,
  );
});
