// The Firestore rules step through the Firebase Rules REST adapter against a local node:http server:
// a first run creates a ruleset and the release, a re-run with the same file only reads, a changed file
// makes a new ruleset and moves the release to it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createTokenAuth } from '../../infra/gcp/auth.ts';
import { executePlan } from '../../infra/gcp/execute.ts';
import type { Plan, RulesStep } from '../../infra/gcp/plan.ts';
import { createRulesApi } from '../../infra/gcp/rules.ts';

const rulesets = new Map<string, unknown>();
const releases = new Map<string, { name: string; rulesetName: string }>();
let requests: {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
  auth: string | undefined;
}[] = [];
let server: Server;
let endpoint: string;

before(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v1\//, '');
      const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
      requests.push({ method: req.method ?? '', path, body, auth: req.headers['authorization'] });
      const send = (status: number, b: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(b));
      };
      const missing = () =>
        send(404, { error: { code: 404, status: 'NOT_FOUND', message: `${path} not found` } });
      if (req.method === 'GET' && path.includes('/releases/'))
        return releases.has(path) ? send(200, releases.get(path)) : missing();
      if (req.method === 'GET' && path.includes('/rulesets/'))
        return rulesets.has(path) ? send(200, rulesets.get(path)) : missing();
      if (req.method === 'POST' && path.endsWith('/rulesets')) {
        const name = `${path}/rs-${rulesets.size + 1}`;
        rulesets.set(name, { name, ...body });
        return send(200, { name, ...body });
      }
      if (req.method === 'POST' && path.endsWith('/releases')) {
        releases.set(body!['name'] as string, body as { name: string; rulesetName: string });
        return send(200, body);
      }
      if (req.method === 'PATCH' && releases.has(path)) {
        releases.set(path, (body as { release: { name: string; rulesetName: string } }).release);
        return send(200, releases.get(path));
      }
      send(400, { error: { code: 400, message: `unexpected ${req.method} ${path}` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const step = (content: string): Plan => {
  const s: RulesStep = {
    kind: 'firestore-rules',
    id: 'firestore:rules',
    title: 'rules',
    project: 'sample-project',
    release: 'projects/sample-project/releases/cloud.firestore',
    files: [{ name: 'firestore.rules', content }],
  };
  return { kind: 'deploy', project: 'sample-project', region: 'europe-west1', steps: [s], summary: [] };
};

async function run(content: string) {
  requests = [];
  const rules = createRulesApi({ auth: createTokenAuth(async () => 'tok', 'sample-project'), endpoint });
  const report = await executePlan(step(content), async () => ({ exitCode: 99, stdout: '', stderr: '' }), {
    rules,
  });
  return report.steps[0]!.outcome;
}

const DENY =
  "rules_version = '2';\nservice cloud.firestore { match /{d=**} { allow read, write: if false; } }\n";

test('first run: ruleset, then the release', async () => {
  assert.equal(await run(DENY), 'created');
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.path}`),
    [
      'GET projects/sample-project/releases/cloud.firestore',
      'POST projects/sample-project/rulesets',
      'POST projects/sample-project/releases',
    ],
  );
  assert.deepEqual(requests[1]!.body, { source: { files: [{ name: 'firestore.rules', content: DENY }] } });
  assert.deepEqual(requests[2]!.body, {
    name: 'projects/sample-project/releases/cloud.firestore',
    rulesetName: 'projects/sample-project/rulesets/rs-1',
  });
  assert.ok(requests.every((r) => r.auth === 'Bearer tok'));
});

test('same file: only reads', async () => {
  assert.equal(await run(DENY), 'unchanged');
  assert.deepEqual(
    requests.map((r) => r.method),
    ['GET', 'GET'],
  );
});

test('changed file: a new ruleset and the release moved to it', async () => {
  assert.equal(await run(`${DENY}// changed\n`), 'updated');
  assert.deepEqual(
    requests.map((r) => r.method),
    ['GET', 'GET', 'POST', 'PATCH'],
  );
  assert.deepEqual(requests[3]!.body, {
    release: {
      name: 'projects/sample-project/releases/cloud.firestore',
      rulesetName: 'projects/sample-project/rulesets/rs-2',
    },
    updateMask: 'rulesetName',
  });
});
