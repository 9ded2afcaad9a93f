// A bad join spec is refused at start-up, with one clear message, by every real start-up path: the
// deployed functions' entry point (served by the Functions Framework as Cloud Run does), `streamjoin
// local up --spec`, `streamjoin demo --spec` and `streamjoin deploy --dry-run --spec`. Each case breaks
// one thing; the same paths with the shipped spec start (the functions listen, the dry run prints the
// spec's path in the functions' environment). Nothing is left running.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FUNCTION_NAMES } from '../../functions/names.ts';
import { freePort } from '../../infra/local/processes.ts';
import { runCommand } from '../support/google-apis.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'cli/main.ts');
const FF_MAIN = join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON here
type Json = any;
const DEFAULT: Json = JSON.parse(readFileSync(join(ROOT, 'specs/orders-payments.json'), 'utf8'));
const edit = (f: (s: Json) => void): string => {
  const s = structuredClone(DEFAULT);
  f(s);
  return JSON.stringify(s, null, 2);
};
const YAML_EXAMPLE = readFileSync(join(ROOT, 'specs/shipments-deliveries.yaml'), 'utf8');

/** One kind of bad spec: the file's name and text (undefined: no such file), and its one message. */
interface BadSpec {
  readonly name: string;
  readonly file: string;
  readonly text: string | undefined;
  readonly message: RegExp;
}

const CASES: readonly BadSpec[] = [
  {
    name: 'no such file',
    file: 'missing.json',
    text: undefined,
    message: /expected a readable join spec file at ".*missing\.json", but there is no such file/,
  },
  {
    name: 'JSON that does not parse',
    file: 'broken.json',
    text: '{"version": 1,}',
    message: /broken\.json: expected JSON, but it does not parse: /,
  },
  {
    name: 'YAML that does not parse',
    file: 'broken.yaml',
    text: 'version: 1\nname: [unclosed\n',
    message: /broken\.yaml:\d+:\d+: expected YAML, but it does not parse: /,
  },
  {
    name: 'a future version of the format',
    file: 'v2.json',
    text: edit((s) => {
      s.version = 2;
    }),
    message: /v2\.json:\d+:\d+: version: expected 1 \(the only version of the spec format\), but was 2/,
  },
  {
    name: 'a misspelt key',
    file: 'typo.json',
    text: edit((s) => {
      s.streams.left.timout = s.streams.left.timeout;
    }),
    message: /typo\.json:\d+:\d+: streams\.left\.timout: unknown key \(expected one of: .*timeout/,
  },
  {
    name: 'an unknown field type',
    file: 'type.yaml',
    text: YAML_EXAMPLE.replace('{ name: weight_kg, type: double }', '{ name: weight_kg, type: real }'),
    message:
      /type\.yaml:\d+:\d+: streams\.left\.fields\[2\]\.type: expected one of string, .*, but was "real"/,
  },
  {
    name: 'a key that is not a field of its stream',
    file: 'key.json',
    text: edit((s) => {
      s.streams.left.key = 'orderId';
    }),
    message:
      /key\.json:\d+:\d+: streams\.left\.key: expected one of the stream's fields .*, but was "orderId"/,
  },
  {
    name: 'keys of different types',
    file: 'key-types.json',
    text: edit((s) => {
      s.streams.right.fields[1].type = 'long';
    }),
    message:
      /streams\.right\.fields\[1\]\.type: expected the key field "order_id" to have the left key's type string, but was long/,
  },
  {
    name: 'a column from a field the stream does not have',
    file: 'source.json',
    text: edit((s) => {
      s.output.joined.columns[4].from = 'order.amont';
    }),
    message: /source\.json:\d+:\d+: output\.joined\.columns\[4\]\.from: expected .*, but was "order\.amont"/,
  },
  {
    name: 'a timeout that is not a duration',
    file: 'timeout.json',
    text: edit((s) => {
      s.streams.left.timeout = 'soon';
    }),
    message: /streams\.left\.timeout: expected a duration such as "15m", "10s", "1h30m", but was "soon"/,
  },
  {
    name: 'an unknown partition transform',
    file: 'transform.json',
    text: edit((s) => {
      s.output.unmatched.partition[0].transform = 'weekly';
    }),
    message:
      /output\.unmatched\.partition\[0\]\.transform: expected identity, year, month, day, hour, bucket\[N\] or truncate\[W\], but was "weekly"/,
  },
  {
    name: 'an unmatched table without the reason',
    file: 'reason.json',
    text: edit((s) => {
      s.output.unmatched.columns.splice(8, 1);
    }),
    message: /output\.unmatched\.columns: expected a column from "pipeline\.reason" .*, but there is none/,
  },
  {
    name: 'one name for both tables',
    file: 'tables.json',
    text: edit((s) => {
      s.output.unmatched.table = 'orders_payments';
    }),
    message:
      /output\.unmatched\.table: expected a table name other than the joined table's, but was "orders_payments" too/,
  },
];

let dir: string;
const running: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'streamjoin-spec-startup-'));
  for (const c of CASES) if (c.text !== undefined) writeFileSync(join(dir, c.file), c.text);
});

after(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const ENV: Record<string, string> = {
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  HOME: process.env['HOME'] ?? '/tmp',
  METADATA_SERVER_DETECTION: 'none',
  LOG_LEVEL: 'silent',
  // gcloud, should a dry run get as far as its pre-flight: no account, no prompts
  CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
  // the demo looks for the readers kit first: where the caller has it
  ...(process.env['STREAMJOIN_READERS_KIT'] === undefined
    ? {}
    : { STREAMJOIN_READERS_KIT: process.env['STREAMJOIN_READERS_KIT'] }),
};

/** The spec problems in an answer: lines that name a spec file position (`file:line:col: …`). */
function problemLines(text: string): string[] {
  return text.split('\n').filter((l) => /\.(json|ya?ml)(:\d+:\d+)?: /.test(l));
}

/** One clear message: the expected one, and no other spec problem beside it. */
function assertRefused(c: BadSpec, what: string, r: { code: number | null; stdout: string; stderr: string }) {
  const out = `${r.stderr}\n${r.stdout}`;
  assert.notEqual(r.code, 0, `${what} must refuse ${c.name}, but exited 0:\n${out}`);
  assert.match(out, c.message, `${what} with ${c.name}:\n${out}`);
  assert.ok(problemLines(out).length <= 1, `${what} with ${c.name}: one message, but:\n${out}`);
}

/** Cases at a time (the machine has two cores). */
async function eachCase(cases: readonly BadSpec[], f: (c: BadSpec) => Promise<void>): Promise<void> {
  const queue = [...cases];
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) await f(c);
    }),
  );
}

describe('the functions refuse to start with a bad spec (Functions Framework, as Cloud Run starts them)', () => {
  /** Serves `tick` from functions/index.ts; resolves when it exits, or 'listening' once its port answers. */
  async function serveTick(spec: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        FF_MAIN,
        '--target=tick',
        '--signature-type=http',
        `--port=${port}`,
        `--source=${join(ROOT, 'functions/index.ts')}`,
      ],
      {
        cwd: ROOT,
        env: { ...ENV, STREAMJOIN_SPEC: spec, HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 250))]);
      if (code !== 'wait') return { code, stdout, stderr };
      const listening = await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
      if (listening) {
        child.kill('SIGTERM');
        await exited;
        return { code: 0, stdout: `listening\n${stdout}`, stderr };
      }
      if (Date.now() > deadline) throw new Error(`tick neither exited nor listened within 120 s:\n${stderr}`);
    }
  }

  test('every kind of bad spec: the process exits with its one message', async () => {
    await eachCase(CASES, async (c) => {
      const r = await serveTick(join(dir, c.file));
      assertRefused(c, 'the tick function', r);
      assert.match(r.stderr, /streamjoin: refusing to start: invalid configuration:/);
    });
  });

  test('the shipped spec, named explicitly: it starts and listens', async () => {
    const r = await serveTick('specs/orders-payments.json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^listening/);
  });
});

describe('the CLI refuses a bad spec before it starts anything', () => {
  test('local up --spec: refused, no stack recorded', async () => {
    await eachCase(CASES, async (c) => {
      const data = join(dir, `up-${c.file}`);
      mkdirSync(data);
      const r = await runCommand(
        [process.execPath, CLI, 'local', 'up', '--spec', join(dir, c.file), '--data-dir', data],
        { cwd: ROOT, env: ENV, timeoutMs: 120_000 },
      );
      assertRefused(c, 'local up', r);
      assert.equal(existsSync(join(data, 'stack.json')), false, `local up with ${c.name} started nothing`);
    });
  });

  test('local up reads STREAMJOIN_SPEC from its environment too', async () => {
    const c = CASES.find((x) => x.file === 'key.json')!;
    const data = join(dir, 'up-env');
    mkdirSync(data);
    const r = await runCommand([process.execPath, CLI, 'local', 'up', '--data-dir', data], {
      cwd: ROOT,
      env: { ...ENV, STREAMJOIN_SPEC: join(dir, c.file) },
      timeoutMs: 120_000,
    });
    assertRefused(c, 'local up (STREAMJOIN_SPEC)', r);
  });

  test('demo --spec: refused before the stack starts', async () => {
    await eachCase(
      CASES.filter((c) => ['missing.json', 'type.yaml', 'transform.json'].includes(c.file)),
      async (c) => {
        const data = join(dir, `demo-${c.file}`);
        mkdirSync(data);
        const r = await runCommand(
          [process.execPath, CLI, 'demo', '--spec', join(dir, c.file), '--data-dir', data, '--count', '5'],
          { cwd: ROOT, env: ENV, timeoutMs: 120_000 },
        );
        assertRefused(c, 'demo', r);
        assert.equal(existsSync(join(data, 'stack.json')), false, `demo with ${c.name} started nothing`);
      },
    );
  });

  test('deploy --dry-run --spec: refused, no plan printed', async () => {
    await eachCase(CASES, async (c) => {
      const r = await runCommand(
        [
          process.execPath,
          CLI,
          'deploy',
          '--project',
          'sample-project',
          '--region',
          'europe-west1',
          '--dry-run',
          '--spec',
          join(dir, c.file),
        ],
        { cwd: ROOT, env: { ...ENV, CLOUDSDK_CONFIG: join(dir, 'gcloud') }, timeoutMs: 120_000 },
      );
      assertRefused(c, 'deploy --dry-run', r);
      assert.doesNotMatch(r.stdout, /gcloud functions deploy/, `no plan for ${c.name}`);
    });
  });

  test('deploy --dry-run: a valid spec outside the upload is refused with where to put it', async () => {
    const outside = join(dir, 'copy.json');
    writeFileSync(outside, JSON.stringify(DEFAULT));
    const r = await runCommand(
      [
        process.execPath,
        CLI,
        'deploy',
        '--project',
        'sample-project',
        '--region',
        'europe-west1',
        '--dry-run',
        '--spec',
        outside,
      ],
      { cwd: ROOT, env: { ...ENV, CLOUDSDK_CONFIG: join(dir, 'gcloud') }, timeoutMs: 120_000 },
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /STREAMJOIN_SPEC \(--spec\) must name a file the deploy uploads, under .*specs\/ .*is outside the repository: copy it into specs\//,
    );
  });

  test('deploy --dry-run --spec specs/orders-payments.json: the functions get the spec by its path in the upload', async () => {
    const r = await runCommand(
      [
        process.execPath,
        CLI,
        'deploy',
        '--project',
        'sample-project',
        '--region',
        'europe-west1',
        '--dry-run',
        '--spec',
        'specs/orders-payments.json',
      ],
      { cwd: ROOT, env: { ...ENV, CLOUDSDK_CONFIG: join(dir, 'gcloud') }, timeoutMs: 120_000 },
    );
    const names = Object.values(FUNCTION_NAMES);
    const deploys = r.stdout.match(/^\s*gcloud functions deploy ([a-z-]+) /gm) ?? [];
    assert.equal(deploys.length, names.length, `every function in the plan:\n${r.stdout}\n${r.stderr}`);
    assert.equal(
      r.stdout.match(/STREAMJOIN_SPEC=specs\/orders-payments\.json[,|@;~#'\s]/g)?.length,
      names.length,
      `each function's --set-env-vars holds the spec's path in the upload:\n${r.stdout}`,
    );
  });
});
