// The Cloud Scheduler steps through the real @google-cloud/scheduler client (REST transport) against a
// local node:http server standing in for cloudscheduler.googleapis.com: the request bodies, and a
// re-run that reads instead of creating, or updates (PATCH) instead of creating when the plan changed.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createTokenAuth } from '../../infra/gcp/auth.ts';
import { executePlan } from '../../infra/gcp/execute.ts';
import { type Plan, planDeploy, planDestroy } from '../../infra/gcp/plan.ts';
import { createSchedulerApi, createSchedulerClient } from '../../infra/gcp/scheduler.ts';
import { loadDeploySettings } from '../../infra/gcp/settings.ts';
import { loadConfig } from '../../shared/config.ts';
import { SAMPLE_ENV, sampleDeployOptions } from '../unit/deploy/sample.ts';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
}

const jobs = new Map<string, Record<string, unknown>>();
let requests: Recorded[] = [];
let server: Server;
let endpoint: string;

const TICK_URL = 'https://tick-123.europe-west1.run.app';
const COMPACT_URL = 'https://compact-123.europe-west1.run.app';
const RECONCILE_URL = 'https://reconcile-123.europe-west1.run.app';

function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = Buffer.concat(chunks).toString();
      const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
      });
      const name = url.pathname.replace(/^\/v1\//, '');
      const notFound = { error: { code: 404, message: `Job not found: ${name}`, status: 'NOT_FOUND' } };
      if (req.method === 'GET') {
        const job = jobs.get(name);
        if (job === undefined) send(res, 404, notFound);
        else
          send(res, 200, {
            ...job,
            state: 1,
            userUpdateTime: '2026-01-01T00:00:00Z',
            scheduleTime: '2026-01-01T00:01:00Z',
          });
      } else if (req.method === 'POST' && /^projects\/[^/]+\/locations\/[^/]+\/jobs$/.test(name)) {
        const job = body!;
        if (jobs.has(job['name'] as string))
          send(res, 409, { error: { code: 409, status: 'ALREADY_EXISTS', message: 'exists' } });
        else {
          jobs.set(job['name'] as string, job);
          send(res, 200, { ...job, state: 1 });
        }
      } else if (req.method === 'PATCH') {
        const old = jobs.get(name);
        if (old === undefined) send(res, 404, notFound);
        else {
          // Field paths arrive as proto names (time_zone); the JSON body uses camelCase (timeZone).
          const mask = (url.searchParams.get('updateMask') ?? '')
            .split(',')
            .map((f) => f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
          const next = { ...old };
          for (const f of mask) if (body![f] !== undefined) next[f] = body![f];
          jobs.set(name, next);
          send(res, 200, { ...next, state: 1 });
        }
      } else if (req.method === 'DELETE') {
        if (jobs.delete(name)) send(res, 200, {});
        else send(res, 404, notFound);
      } else {
        send(res, 400, {
          error: {
            code: 400,
            status: 'INVALID_ARGUMENT',
            message: `unexpected ${req.method} ${url.pathname}`,
          },
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function schedulerOnly(plan: Plan): Plan {
  return { ...plan, steps: plan.steps.filter((s) => s.kind === 'scheduler-job') };
}

async function runScheduler(plan: Plan) {
  const client = createSchedulerClient({
    apiEndpoint: endpoint,
    authClient: createTokenAuth(async () => 'test-token', 'sample-project'),
  });
  try {
    requests = [];
    return await executePlan(
      schedulerOnly(plan),
      async () => ({ exitCode: 99, stdout: '', stderr: 'no gcloud here' }),
      {
        scheduler: createSchedulerApi(client),
        variables: { TICK_URL, COMPACT_URL, RECONCILE_URL },
      },
    );
  } finally {
    await client.close();
  }
}

const parent = '/v1/projects/sample-project/locations/europe-west1/jobs';

test('first run creates every job with the planned bodies', async () => {
  const report = await runScheduler(planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions()));
  assert.deepEqual(
    report.steps.map((s) => s.outcome),
    ['created', 'created', 'created'],
  );
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.path}`),
    [
      `GET ${parent}/streamjoin-tick`,
      `POST ${parent}`,
      `GET ${parent}/streamjoin-compact`,
      `POST ${parent}`,
      `GET ${parent}/streamjoin-reconcile`,
      `POST ${parent}`,
    ],
  );
  const tick = requests[1]!;
  assert.equal(tick.headers['authorization'], 'Bearer test-token');
  assert.equal(tick.headers['x-goog-user-project'], 'sample-project');
  assert.deepEqual(tick.body, {
    name: 'projects/sample-project/locations/europe-west1/jobs/streamjoin-tick',
    description: 'streamjoin: calls the tick function (evict timeouts, flush micro-batches)',
    schedule: '* * * * *',
    timeZone: 'Etc/UTC',
    httpTarget: {
      uri: TICK_URL,
      httpMethod: 1, // POST (the REST transport asks for numeric enums)
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}').toString('base64'),
      oidcToken: {
        serviceAccountEmail: 'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
        audience: TICK_URL,
      },
    },
    retryConfig: {
      retryCount: 3,
      maxRetryDuration: '50s',
      minBackoffDuration: '5s',
      maxBackoffDuration: '16s',
      maxDoublings: 3,
    },
    attemptDeadline: '300s',
  });
  const compact = requests[3]!.body!;
  assert.equal(compact['schedule'], '*/5 * * * *');
  assert.deepEqual((compact['httpTarget'] as Record<string, unknown>)['oidcToken'], {
    serviceAccountEmail: 'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
    audience: COMPACT_URL,
  });
  assert.equal(compact['attemptDeadline'], '540s');
  const reconcile = requests[5]!.body!;
  assert.equal(reconcile['schedule'], '0 * * * *');
  assert.equal(
    reconcile['description'],
    'streamjoin: calls the reconcile function (ingest input objects whose finalize event never came)',
  );
  assert.deepEqual((reconcile['httpTarget'] as Record<string, unknown>)['oidcToken'], {
    serviceAccountEmail: 'streamjoin-scheduler@sample-project.iam.gserviceaccount.com',
    audience: RECONCILE_URL,
  });
});

test('a second run with the same plan only reads', async () => {
  const report = await runScheduler(planDeploy(loadConfig(SAMPLE_ENV), await sampleDeployOptions()));
  assert.deepEqual(
    report.steps.map((s) => s.outcome),
    ['unchanged', 'unchanged', 'unchanged'],
  );
  assert.deepEqual(
    requests.map((r) => r.method),
    ['GET', 'GET', 'GET'],
  );
});

test('a run with a changed interval updates the job in place (PATCH, not POST)', async () => {
  const env = { ...SAMPLE_ENV, STREAMJOIN_COMPACT_INTERVAL: '10m' };
  const report = await runScheduler(planDeploy(loadConfig(env), await sampleDeployOptions(env)));
  assert.deepEqual(
    report.steps.map((s) => s.outcome),
    ['unchanged', 'updated', 'unchanged'],
  );
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.path}`),
    [
      `GET ${parent}/streamjoin-tick`,
      `GET ${parent}/streamjoin-compact`,
      `PATCH ${parent}/streamjoin-compact`,
      `GET ${parent}/streamjoin-reconcile`,
    ],
  );
  const patch = requests[2]!;
  assert.equal(
    patch.query.get('updateMask'),
    'description,schedule,time_zone,http_target,retry_config,attempt_deadline',
  );
  assert.equal(patch.body!['schedule'], '*/10 * * * *');
  assert.equal((patch.body!['retryConfig'] as Record<string, unknown>)['maxRetryDuration'], '590s');
  assert.equal(
    jobs.get('projects/sample-project/locations/europe-west1/jobs/streamjoin-compact')!['schedule'],
    '*/10 * * * *',
  );
});

test('destroy deletes the jobs, and a second destroy finds none', async () => {
  const plan = planDestroy(loadConfig(SAMPLE_ENV), {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: false,
    settings: loadDeploySettings({}),
  });
  const first = await runScheduler(plan);
  assert.deepEqual(
    first.steps.map((s) => s.outcome),
    ['deleted', 'deleted', 'deleted'],
  );
  assert.deepEqual(
    requests.map((r) => r.method),
    ['GET', 'DELETE', 'GET', 'DELETE', 'GET', 'DELETE'],
  );
  assert.equal(jobs.size, 0);
  const second = await runScheduler(plan);
  assert.deepEqual(
    second.steps.map((s) => s.outcome),
    ['absent', 'absent', 'absent'],
  );
});
