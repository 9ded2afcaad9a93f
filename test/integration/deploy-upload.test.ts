// What a deploy really uploads, and whether it builds and runs: the plan's `gcloud functions deploy`
// lines run through the INSTALLED gcloud against a loopback stand-in of the Cloud Functions API
// (test/support/google-apis.ts), so the source ZIP is the one gcloud's own code builds from
// infra/gcp/deploy.gcloudignore and uploads. The test then does what Cloud Build's Node.js buildpack
// does with it (npm ci with dev dependencies, npm run gcp-build, prune dev dependencies) and starts
// each function from the pruned result with the Functions Framework, with the environment the deploy
// sent, as Cloud Run would: each answers a real request. The create requests gcloud sent are checked
// too (trigger location, ingress, accounts, image repository).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/names.ts';
import { resolveDeployConfig } from '../../infra/gcp/deploy.ts';
import { substitute } from '../../infra/gcp/execute.ts';
import { type GcloudStep, planDeploy } from '../../infra/gcp/plan.ts';
import { listSourceFiles } from '../../infra/gcp/source.ts';
import { startGcsServer } from '../../infra/local/gcs-server/index.ts';
import { freePort, portInUse } from '../../infra/local/processes.ts';
import { dayFolderOf } from '../../shared/pipeline/reconcile.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import {
  type GoogleApis,
  runCommand,
  STANDIN_PROJECT_NUMBER,
  startGoogleApis,
} from '../support/google-apis.ts';
import { order } from '../support/harness.ts';
import { ROOT, SAMPLE_ENV, sampleDeployOptions } from '../unit/deploy/sample.ts';

const NAMES = Object.values(FUNCTION_NAMES) as FunctionName[];
const SPEC = 'specs/orders-payments.json';
const VARIABLES = {
  INPUT_BUCKET_LOCATION: 'eu',
  PROJECT_NUMBER: STANDIN_PROJECT_NUMBER,
  GCS_SERVICE_AGENT: `service-${STANDIN_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com`,
};

let apis: GoogleApis;
let dir: string;
/** Per function: the files in its uploaded ZIP and the create request gcloud sent. */
const deployed = new Map<FunctionName, { zip: string; files: string[]; request: Record<string, unknown> }>();

/** Extracts a ZIP with Python's zipfile (the interop tests need python3 already); its file names, sorted. */
function unzip(zip: string, into: string): string[] {
  const script =
    'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nz.extractall(sys.argv[2])\nprint("\\n".join(z.namelist()))';
  const r = spawnSync('python3', ['-c', script, zip, into], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `unzipping ${zip} failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '' && !l.endsWith('/'))
    .sort();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamjoin-upload-'));
  apis = await startGoogleApis();
  const env = apis.gcloudEnv(join(dir, 'gcloud-home'));
  // Deployed with a join spec named explicitly: the functions read it from their upload.
  const config = resolveDeployConfig({ ...SAMPLE_ENV, STREAMJOIN_SPEC: join(ROOT, SPEC) }, ROOT);
  const plan = planDeploy(config, await sampleDeployOptions());
  for (const name of NAMES) {
    const step = plan.steps.find((s): s is GcloudStep => s.id === `function:${name}`);
    assert.ok(step, `the plan deploys ${name}`);
    const argv = substitute(step.argv, VARIABLES);
    const uploadsBefore = apis.uploads.length;
    const r = await runCommand(argv, { cwd: ROOT, env, timeoutMs: 300_000 });
    assert.equal(r.code, 0, `gcloud functions deploy ${name} against the stand-in failed:\n${r.stderr}`);
    assert.equal(apis.uploads.length, uploadsBefore + 1, `gcloud uploaded one source archive for ${name}`);
    const create = apis.requests.findLast(
      (q) => q.method === 'POST' && q.path.endsWith('/functions') && q.query.get('functionId') === name,
    );
    assert.ok(create, `gcloud created ${name}`);
    const zip = join(dir, `${name}.zip`);
    writeFileSync(zip, apis.uploads.at(-1)!);
    const files = unzip(zip, join(dir, `list-${name}`));
    deployed.set(name, { zip, files, request: create.json() });
  }
});

after(async () => {
  await apis?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('the upload gcloud builds holds package.json, the lock file, both tsconfigs and every entry point, and nothing else', async () => {
  const expected = await listSourceFiles(ROOT);
  for (const name of NAMES) {
    const { files } = deployed.get(name)!;
    for (const f of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'functions/index.ts',
      'functions/names.ts',
      SPEC,
      'specs/shipments-deliveries.yaml',
      ...NAMES.map((n) => `functions/${n}.ts`),
    ]) {
      assert.ok(files.includes(f), `${name}'s upload lacks ${f} (it holds ${files.length} files)`);
    }
    assert.deepEqual(
      files.filter((f) => /^(test|docs|bench|node_modules|dist|\.git|\.streamjoin|\.ci)\/|^README/.test(f)),
      [],
      'tests, docs, build output and local state stay behind',
    );
    // What the deploy hashes into the spec label is exactly what gcloud uploads.
    assert.deepEqual(files, expected, `${name}: the ZIP and infra/gcp/source.ts listSourceFiles differ`);
  }
});

test('the create requests gcloud sent: trigger where the bucket is, internal ingress, own accounts, own image repository', () => {
  const ingest = deployed.get('ingest')!.request as {
    eventTrigger: Record<string, unknown>;
  };
  assert.equal(ingest.eventTrigger['triggerRegion'], 'eu');
  assert.equal(ingest.eventTrigger['eventType'], 'google.cloud.storage.object.v1.finalized');
  assert.deepEqual(ingest.eventTrigger['eventFilters'], [
    { attribute: 'bucket', value: 'sample-project-input' },
  ]);
  assert.equal(ingest.eventTrigger['retryPolicy'], 'RETRY_POLICY_RETRY');
  assert.equal(
    ingest.eventTrigger['serviceAccountEmail'],
    'streamjoin-trigger@sample-project.iam.gserviceaccount.com',
  );
  for (const name of NAMES) {
    const r = deployed.get(name)!.request as {
      buildConfig: Record<string, unknown>;
      serviceConfig: Record<string, unknown>;
    };
    assert.equal(r.serviceConfig['ingressSettings'], 'ALLOW_INTERNAL_ONLY', name);
    assert.equal(
      r.serviceConfig['serviceAccountEmail'],
      `streamjoin-${name}@sample-project.iam.gserviceaccount.com`,
    );
    assert.equal(
      r.buildConfig['serviceAccount'],
      'projects/sample-project/serviceAccounts/streamjoin-build@sample-project.iam.gserviceaccount.com',
    );
    assert.equal(
      r.buildConfig['dockerRepository'],
      'projects/sample-project/locations/europe-west1/repositories/streamjoin-functions',
    );
    assert.equal(r.buildConfig['entryPoint'], name);
    assert.equal(r.buildConfig['runtime'], 'nodejs24');
    const env = r.serviceConfig['environmentVariables'] as Record<string, string>;
    assert.equal(env['STREAMJOIN_INGEST_FUNCTION_TIMEOUT'], '540s');
    assert.equal(env['STREAMJOIN_WAREHOUSE'], 'gs://sample-project-warehouse/');
    assert.equal(env['STREAMJOIN_SPEC'], SPEC, 'the spec by its path in the upload');
  }
});

/** Starts one function from the built upload the way the Node.js runtime does; resolves with its URL. */
async function serve(
  app: string,
  name: FunctionName,
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<string> {
  const port = await freePort();
  const main = join(app, 'node_modules/@google-cloud/functions-framework/build/src/main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      `--target=${name}`,
      `--signature-type=${name === 'ingest' ? 'cloudevent' : 'http'}`,
      `--port=${port}`,
    ],
    { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let log = '';
  child.stdout!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  // The Functions Framework logs nothing on start with NODE_ENV=production: wait for the port.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log}`);
    if (await portInUse(port)) return `http://127.0.0.1:${port}/`;
    if (Date.now() > deadline) throw new Error(`${name} did not listen within 120 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('npm ci + npm run gcp-build on the unpacked upload succeed, and its main serves every function (as Cloud Build and Cloud Run would)', async () => {
  const host = process.env['FIRESTORE_EMULATOR_HOST'];
  assert.ok(host, 'FIRESTORE_EMULATOR_HOST must be set (run through npm test)');
  const app = join(dir, 'app');
  mkdirSync(app);
  unzip(deployed.get('ingest')!.zip, app);
  // The buildpack: dependencies with dev ones (a gcp-build script needs them), the build, then
  // `npm prune --production` (NODE_ENV=production at run time). npm's cache from the repository's own
  // `npm ci` serves the same lock file.
  const npmEnv = {
    ...process.env,
    NODE_ENV: 'development',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  for (const argv of [
    ['npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund'],
    ['npm', 'run', 'gcp-build'],
    ['npm', 'prune', '--omit=dev', '--no-audit', '--no-fund'],
  ]) {
    const r = await runCommand(argv, { cwd: app, env: npmEnv as Record<string, string>, timeoutMs: 600_000 });
    assert.equal(
      r.code,
      0,
      `${argv.join(' ')} in the unpacked upload failed:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`,
    );
  }
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { main: string };
  assert.ok(existsSync(join(app, pkg.main)), `package.json main (${pkg.main}) was built`);
  assert.ok(!existsSync(join(app, 'node_modules/typescript')), 'dev dependencies are pruned');

  // Each function with the environment the deploy sent, pointed at the local emulator. Reconcile also
  // gets the project's local GCS server, holding one order object whose event never came.
  const children: ChildProcess[] = [];
  const gcs = await startGcsServer({
    dataDir: join(dir, 'gcs'),
    buckets: ['sample-project-input'],
    logLevel: 'silent',
  });
  try {
    await createStorageClient({ projectId: 'upload-reconcile', emulatorHost: gcs.url })
      .bucket('sample-project-input')
      .file(`stream/orders/${dayFolderOf('YYYY_MM_DD', Date.now())}/order_U1_1764072000000.json`)
      .save(JSON.stringify(order('U1')), { resumable: false });
    for (const name of NAMES) {
      const sent = (
        deployed.get(name)!.request as { serviceConfig: { environmentVariables: Record<string, string> } }
      ).serviceConfig.environmentVariables;
      const env: Record<string, string> = {
        ...sent,
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        NODE_ENV: 'production',
        FUNCTION_TARGET: name,
        GOOGLE_CLOUD_PROJECT: `upload-${name}`,
        FIRESTORE_EMULATOR_HOST: host,
        METADATA_SERVER_DETECTION: 'none',
        STREAMJOIN_WAREHOUSE: `file://${join(dir, 'warehouse')}/`,
        LOG_LEVEL: 'warn',
        ...(name === 'reconcile' ? { STORAGE_EMULATOR_HOST: gcs.url, STREAMJOIN_RECONCILE_GRACE: '0s' } : {}),
      };
      const url = await serve(app, name, env, children);
      if (name === 'ingest') {
        // An object outside the order and payment prefixes: the handler runs and acknowledges it.
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'ce-id': 'upload-test-1',
            'ce-specversion': '1.0',
            'ce-type': 'google.cloud.storage.object.v1.finalized',
            'ce-source': '//storage.googleapis.com/projects/_/buckets/sample-project-input',
            'ce-subject': 'objects/README.txt',
            'ce-time': new Date().toISOString(),
          },
          body: JSON.stringify({
            bucket: 'sample-project-input',
            name: 'README.txt',
            generation: '1',
            size: '10',
            timeCreated: new Date().toISOString(),
          }),
        });
        assert.equal(res.status, 204, `ingest answered ${res.status}: ${await res.text()}`);
      } else {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        const text = await res.text();
        assert.equal(res.status, 200, `${name} answered ${res.status}: ${text}`);
        assert.match(
          text,
          name === 'tick'
            ? /"flushedRows":0/
            : name === 'reconcile'
              ? /"missing":1,"ingested":1,"failed":0/
              : /"tables":/,
          `${name}'s summary`,
        );
      }
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
    );
    await gcs.close();
  }
});
