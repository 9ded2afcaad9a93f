// Every CLI command, run as a new user would with the local stack down and no Google credentials
// (HOME, CLOUDSDK_CONFIG and GOOGLE_APPLICATION_CREDENTIALS at empty places, no metadata server):
// the exit code says it failed where it should, there is one clear message naming the fix, never a
// stack trace, and nothing is sent anywhere — every proxy variable points at a local recorder that
// counts connection attempts (a control run with credentials shows the recorder does see them).
// Every command listed by `--help` must have a case here and an example in its own --help.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../infra/local/ports.ts';

let root = '';
let connections = 0;
let recorder: Server;
let proxyUrl = '';

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sj-cli-offline-'));
  for (const d of ['home', 'gcloud', 'cwd', 'empty-dir', 'creds']) await mkdir(path.join(root, d));
  await writeFile(
    path.join(root, 'cwd', 'truth.json'),
    '{"rows":[],"rejects":{},"events":0,"duplicates":0}\n',
  );
  recorder = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  const addr = recorder.address();
  proxyUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
});
after(async () => {
  await new Promise<void>((resolve) => recorder.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

/** A new user's environment: no credentials anywhere, every proxy variable at the recorder. */
function offlineEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: path.join(root, 'home'),
    CLOUDSDK_CONFIG: path.join(root, 'gcloud'),
    GOOGLE_APPLICATION_CREDENTIALS: path.join(root, 'empty-dir', 'credentials.json'),
    METADATA_SERVER_DETECTION: 'none',
    HTTPS_PROXY: proxyUrl,
    HTTP_PROXY: proxyUrl,
    https_proxy: proxyUrl,
    http_proxy: proxyUrl,
    grpc_proxy: proxyUrl,
    NODE_USE_ENV_PROXY: '1',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

function cli(
  args: string[],
  env: Record<string, string> = offlineEnv(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'cli/main.ts'), ...args],
      { cwd: path.join(root, 'cwd'), env, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const NO_STACK = /no local stack runs from .*, and no Google Cloud project was named/;
const NO_CREDENTIALS = /in Google Cloud project my-proj-123 needs credentials, and none were found/;
const BAD_FLAG = (flag: string, value: string) =>
  new RegExp(`option '${flag} <[^>]+>' argument '${value}' is invalid\\. expected .*but was: "${value}"`);

interface Case {
  readonly args: string[];
  readonly code: number;
  /** The one message line (stderr, or stdout for a successful command). */
  readonly message: RegExp;
  readonly fix?: RegExp;
  readonly env?: Record<string, string>;
}

const project = ['--project', 'my-proj-123'];
const CASES: Record<string, Case[]> = {
  'local up': [
    { args: ['--order-timeout', 'abc'], code: 1, message: BAD_FLAG('--order-timeout', 'abc') },
    {
      args: ['--data-dir', 'up-bad-env'],
      env: { STREAMJOIN_ORDER_TIMEOUT: 'abc' },
      code: 1,
      message: /invalid configuration/,
    },
    {
      args: ['--data-dir', 'up-bad-log'],
      env: { LOG_LEVEL: 'verbose' },
      code: 1,
      message: /invalid configuration/,
    },
  ],
  'local down': [{ args: [], code: 0, message: /^no local stack was running from / }],
  'local status': [{ args: [], code: 3, message: /^no local stack recorded in / }],
  produce: [
    { args: ['--count', '3'], code: 1, message: NO_STACK, fix: /streamjoin local up/ },
    { args: [...project], code: 1, message: NO_CREDENTIALS, fix: /gcloud auth application-default login/ },
    { args: ['--count', 'abc'], code: 1, message: BAD_FLAG('--count', 'abc') },
    { args: ['--rate', 'fast'], code: 1, message: BAD_FLAG('--rate', 'fast') },
    {
      args: ['--spec', 'no-such-spec.yaml'],
      code: 1,
      message: /expected a readable join spec file at "no-such-spec\.yaml", but there is no such file/,
    },
  ],
  upload: [
    { args: ['../empty-dir'], code: 1, message: NO_STACK, fix: /--project P/ },
    { args: ['../empty-dir', ...project], code: 1, message: NO_CREDENTIALS },
    {
      args: ['../no-such-dir'],
      code: 1,
      message: /expected a folder to upload, but "..\/no-such-dir" is not one/,
    },
  ],
  drain: [
    { args: [], code: 1, message: NO_STACK },
    { args: [...project], code: 1, message: NO_CREDENTIALS },
    { args: ['--timeout', 'forever'], code: 1, message: BAD_FLAG('--timeout', 'forever') },
  ],
  verify: [
    { args: ['--truth', 'truth.json'], code: 1, message: NO_STACK },
    { args: ['--truth', 'missing.json'], code: 1, message: /no ground truth file at missing\.json/ },
    {
      args: ['--truth', 'truth.json', '--spec', 'no-such-spec.json'],
      code: 1,
      message: /expected a readable join spec file at "no-such-spec\.json", but there is no such file/,
    },
  ],
  rejects: [
    { args: [], code: 1, message: NO_STACK, fix: /streamjoin local up/ },
    { args: [...project], code: 1, message: NO_CREDENTIALS },
    { args: ['--limit', '-5'], code: 1, message: BAD_FLAG('--limit', '-5') },
    { args: ['--since', 'yesterday'], code: 1, message: BAD_FLAG('--since', 'yesterday') },
    {
      args: [...project],
      env: { GOOGLE_APPLICATION_CREDENTIALS: '' },
      code: 1,
      message: NO_CREDENTIALS,
      fix: /gcloud auth application-default login/,
    },
  ],
  status: [
    { args: [], code: 1, message: NO_STACK, fix: /streamjoin local up/ },
    { args: ['--watch', '--json'], code: 1, message: NO_STACK },
    { args: [...project], code: 1, message: NO_CREDENTIALS, fix: /gcloud auth application-default login/ },
    { args: ['--interval', 'often'], code: 1, message: BAD_FLAG('--interval', 'often') },
    { args: ['--window', '-1h'], code: 1, message: BAD_FLAG('--window', '-1h') },
  ],
  reconcile: [
    { args: [], code: 1, message: NO_STACK, fix: /streamjoin local up/ },
    { args: ['--grace', '0s', '--dry-run', ...project], code: 1, message: NO_CREDENTIALS },
    { args: ['--grace', 'soon'], code: 1, message: BAD_FLAG('--grace', 'soon') },
    { args: ['--days', '0'], code: 1, message: BAD_FLAG('--days', '0') },
  ],
  replay: [
    { args: ['--since', '2h'], code: 1, message: NO_STACK, fix: /--project P/ },
    { args: ['--since', '2h', '--dry-run', ...project], code: 1, message: NO_CREDENTIALS },
    { args: ['--since', 'yesterday'], code: 1, message: BAD_FLAG('--since', 'yesterday') },
    { args: ['--since', '2h', '--concurrency', '0'], code: 1, message: BAD_FLAG('--concurrency', '0') },
    {
      args: ['--since', '1h', '--until', '2h'],
      code: 1,
      message: /--since must be before --until, but was .* ≥ /,
    },
    { args: [], code: 1, message: /required option '--since <time>' not specified/ },
  ],
  'table show': [
    { args: [], code: 1, message: NO_STACK },
    { args: [...project, '--json'], code: 1, message: NO_CREDENTIALS },
    {
      args: ['--table', 'both'],
      code: 1,
      message: /argument 'both' is invalid\. Allowed choices are joined, unmatched/,
    },
  ],
  'table snapshots': [{ args: [], code: 1, message: NO_STACK }],
  'table files': [
    { args: [], code: 1, message: NO_STACK },
    { args: ['--snapshot', 'latest'], code: 1, message: BAD_FLAG('--snapshot', 'latest') },
  ],
  'table rows': [
    { args: [], code: 1, message: NO_STACK },
    {
      args: ['--spec', 'no-such-spec.json'],
      code: 1,
      message: /expected a readable join spec file at "no-such-spec\.json", but there is no such file/,
    },
    { args: ['--limit', '0'], code: 1, message: BAD_FLAG('--limit', '0') },
  ],
  demo: [
    { args: ['--count', 'abc'], code: 1, message: BAD_FLAG('--count', 'abc') },
    { args: ['--timeout', 'forever'], code: 1, message: BAD_FLAG('--timeout', 'forever') },
    { args: ['--duplicate-delivery', '2'], code: 1, message: BAD_FLAG('--duplicate-delivery', '2') },
  ],
  deploy: [
    {
      args: [...project, '--region', 'europe-west1'],
      code: 1,
      message: /deploy to project my-proj-123 runs gcloud, and the Google Cloud CLI has no active account/,
      fix: /gcloud auth login/,
    },
    {
      args: ['--region', 'europe-west1'],
      code: 1,
      message: /required option '--project <id>' not specified/,
    },
  ],
  destroy: [
    {
      args: [...project, '--region', 'europe-west1'],
      code: 1,
      message: /destroy in project my-proj-123 runs gcloud, and the Google Cloud CLI has no active account/,
      fix: /gcloud auth login/,
    },
  ],
};

/** Leaf commands as `--help` lists them (recursively), e.g. 'local up', 'table show', 'drain'. */
async function listCommands(prefix: string[] = []): Promise<{ leaves: string[]; parents: string[] }> {
  const help = await cli([...prefix, '--help']);
  assert.equal(help.code, 0, help.stderr);
  const section = help.stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  if (names.length === 0) return { leaves: [prefix.join(' ')], parents: [] };
  const out = { leaves: [] as string[], parents: prefix.length === 0 ? [] : [prefix.join(' ')] };
  for (const [, sub] of await pool(names, (n) => listCommands([...prefix, n]))) {
    out.leaves.push(...sub.leaves);
    out.parents.push(...sub.parents);
  }
  return out;
}

/** Runs `fn` over the items, 4 at a time (each is a CLI process). */
async function pool<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<Array<[T, R]>> {
  const out: Array<[T, R]> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        out.push([item, await fn(item)]);
      }
    }),
  );
  return out;
}

const TRACE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

describe('the CLI with the stack down and no Google credentials', () => {
  it('every command has a case here and --help with an example', async () => {
    const { leaves, parents } = await listCommands();
    assert.ok(leaves.length >= 14, `found the commands: ${leaves.join(', ')}`);
    for (const c of leaves) assert.ok(CASES[c] !== undefined, `a case for \`streamjoin ${c}\` in this test`);
    const helps = await pool([...leaves, ...parents, ''], (c) =>
      cli([...c.split(' ').filter(Boolean), '--help']),
    );
    for (const [c, h] of helps) {
      assert.match(
        h.stdout,
        /^Examples:\n {2}\$ (streamjoin|npm) /m,
        `\`streamjoin ${c} --help\` has an example`,
      );
    }
  });

  describe('each command', { concurrency: 4 }, () => {
    for (const [command, cases] of Object.entries(CASES)) {
      for (const c of cases) {
        const line = `streamjoin ${command} ${c.args.join(' ')}${
          c.env === undefined
            ? ''
            : ` (${Object.entries(c.env)
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')})`
        }`;
        it(`${line} → exit ${c.code}, one clear message, no stack trace`, async () => {
          const r = await cli([...command.split(' '), ...c.args], offlineEnv(c.env));
          const all = `${r.stdout}\n${r.stderr}`;
          assert.equal(r.code, c.code, `exit code of ${line}:\n${all}`);
          assert.doesNotMatch(all, TRACE, `no stack trace:\n${all}`);
          assert.doesNotMatch(all, /^(\w*Error|Uncaught|node:internal)/m, `no raw error:\n${all}`);
          const text = c.code === 0 || command === 'local status' ? r.stdout : r.stderr;
          const messages = text
            .split('\n')
            .filter((l) => /^(streamjoin|error):/.test(l) || c.message.test(l));
          assert.equal(messages.length, 1, `one message line, got:\n${text}`);
          assert.match(messages[0]!, c.message);
          if (c.fix !== undefined) assert.match(r.stderr, new RegExp(`^ {2}fix: .*${c.fix.source}`, 'm'));
          const dir = c.args[c.args.indexOf('--data-dir') + 1];
          if (c.args.includes('--data-dir') && dir !== undefined)
            assert.equal(existsSync(path.join(root, 'cwd', dir, 'stack.json')), false, 'nothing was started');
        });
      }
    }
  });

  it('--debug adds the stack trace', async () => {
    const r = await cli(['--debug', 'rejects']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, NO_STACK);
    assert.match(r.stderr, TRACE);
  });

  it('nothing was sent anywhere: the recorder saw no connection', () => {
    assert.equal(connections, 0);
  });

  it('control: with credentials, a command that acts on a project does reach the recorder', async () => {
    // A syntactically valid service-account key (never valid at Google): the client must fetch a token.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = path.join(root, 'creds', 'key.json');
    await writeFile(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        project_id: 'my-proj-123',
        private_key_id: 'test',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: 'test@my-proj-123.iam.gserviceaccount.com',
        client_id: '1',
        token_uri: 'https://oauth2.googleapis.com/token',
      }),
    );
    const before = connections;
    const r = await cli(
      ['table', 'show', ...project],
      offlineEnv({
        GOOGLE_APPLICATION_CREDENTIALS: keyFile,
        STREAMJOIN_WAREHOUSE: 'gs://no-such-warehouse-x/',
      }),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /reading the tables in Google Cloud project my-proj-123 \(named by --project\)/);
    assert.ok(connections > before, `the recorder saw the attempt (${connections - before} connections)`);
    assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, TRACE);
  });
});
