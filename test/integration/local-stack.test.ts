// `streamjoin local up | status | down`: the stack starts every part, status shows each with its
// address, and down stops exactly what up started — no process left behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { freeLocalPorts, REPO_ROOT } from '../../infra/local/ports.ts';
import { isAlive } from '../../infra/local/processes.ts';
import { localEnv, readStack, stackDown, stackUp } from '../../infra/local/stack.ts';
import { loadConfig } from '../../shared/config.ts';
import { createStorageClient } from '../../shared/storage/index.ts';

let dataDir = '';
after(async () => {
  if (dataDir !== '') {
    await stackDown(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Runs the CLI asynchronously (a blocked event loop could not reap the stack's exited children). */
function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'cli/main.ts'), ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ status: code, stdout, stderr });
      },
    );
  });
}

it('up starts every part, status shows them, down stops them all', async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'sj-stack-'));
  const rec = await stackUp({
    dataDir,
    ports: await freeLocalPorts(),
    env: { STREAMJOIN_ORDER_TIMEOUT: '20s' },
  });
  assert.deepEqual(
    rec.services.map((s) => s.name),
    ['firestore', 'ingest', 'tick', 'compact', 'reconcile', 'gcs', 'scheduler'],
  );
  assert.equal(rec.env['STREAMJOIN_ORDER_TIMEOUT'], '20s');
  assert.match(rec.env['STREAMJOIN_WAREHOUSE']!, /^file:\/\/.*\/warehouse\/$/);

  const status = await cli('local', 'status', '--data-dir', dataDir, '--json');
  assert.equal(status.status, 0, status.stderr);
  const parsed = JSON.parse(status.stdout) as {
    running: boolean;
    services: Array<{ name: string; running: boolean; answering: boolean; url: string }>;
  };
  assert.equal(parsed.running, true);
  for (const s of parsed.services)
    assert.ok(s.running && s.answering, `${s.name} is up and answering at ${s.url}`);

  const second = await stackUp({ dataDir, ports: await freeLocalPorts() }).then(
    () => 'started',
    (err: Error) => err.message,
  );
  assert.match(second, /already running/);

  const down = await cli('local', 'down', '--data-dir', dataDir);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stdout, /stopped 7 services/);
  for (const s of rec.services) assert.equal(isAlive(s.pid), false, `${s.name} (pid ${s.pid}) stopped`);
  assert.equal(readStack(dataDir), undefined);

  const after = await cli('local', 'status', '--data-dir', dataDir);
  assert.equal(after.status, 3);
  assert.match(after.stdout, /no local stack/);
});

it('a bad setting stops up before anything starts, naming the variable', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sj-stack-bad-'));
  try {
    await assert.rejects(
      stackUp({ dataDir: dir, ports: await freeLocalPorts(), env: { STREAMJOIN_ORDER_TIMEOUT: 'soon' } }),
      /STREAMJOIN_ORDER_TIMEOUT must be a duration .* but was: "soon"/,
    );
    assert.equal(readStack(dir), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('through the CLI: the stop hint names --data-dir and works as printed; status adds no stack trace to the logs; the rejects outlive the stack', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sj-stack-cli-'));
  try {
    const up = await cli('local', 'up', '--data-dir', dir, '--free-ports');
    assert.equal(up.status, 0, up.stderr);
    const hint = /^stop it with: npx streamjoin (local down --data-dir .+)$/m.exec(up.stdout);
    assert.ok(hint !== null, `a stop hint in:\n${up.stdout}`);
    assert.equal(hint[1], `local down --data-dir ${dir}`);

    const status = await cli('local', 'status', '--data-dir', dir);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    for (const name of ['ingest', 'tick', 'compact']) {
      const log = await readFile(path.join(dir, 'logs', `${name}.log`), 'utf8');
      assert.doesNotMatch(log, /TypeError|^\s+at /m, `${name}.log stays free of stack traces`);
    }

    // A malformed file is quarantined while the stack runs…
    const config = loadConfig(readStack(dir)!.env);
    const storage = createStorageClient({
      projectId: config.projectId,
      emulatorHost: config.storageEmulatorHost,
    });
    await storage
      .bucket(config.inputBucket)
      .file(`${config.ordersPrefix}2026_01_01/order_1_1.json`)
      .save('{"order_id": "A", "amount": ', { resumable: false });
    const drained = await cli('drain', '--data-dir', dir, '--timeout', '60s');
    assert.equal(drained.status, 0, drained.stderr);
    const live = await cli('rejects', '--data-dir', dir, '--json');
    assert.equal(live.status, 0, live.stderr);
    assert.equal(live.stdout.trim().split('\n').length, 1);

    // …and stays listable after `down`, run exactly as printed.
    const down = await cli(...hint[1].split(' '));
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stdout, /saved 1 quarantined records to .*rejects\.jsonl/);
    assert.match(down.stdout, /stopped 7 services/);
    assert.equal(readStack(dir), undefined);
    const saved = await cli('rejects', '--data-dir', dir, '--json');
    assert.equal(saved.status, 0, saved.stderr);
    assert.match(
      saved.stderr,
      /the local stack is stopped: quarantined records it saved in .*rejects\.jsonl/,
    );
    assert.deepEqual(saved.stdout, live.stdout);
    const again = await cli('local', 'down', '--data-dir', dir);
    assert.match(again.stdout, /no local stack was running/);
  } finally {
    await stackDown(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

it('settings in the environment are validated and recorded with the stack (every process sees the same)', () => {
  const ports = { host: '127.0.0.1', firestore: 1, storage: 2, functions: 3 };
  assert.throws(
    () => localEnv('/tmp/x', ports, {}, { STREAMJOIN_ORDER_TIMEOUT: 'abc' }),
    /STREAMJOIN_ORDER_TIMEOUT must be a duration .* but was: "abc"/,
  );
  assert.throws(
    () => localEnv('/tmp/x', ports, {}, { LOG_LEVEL: 'verbose' }),
    /LOG_LEVEL must be .* but was: "verbose"/,
  );
  assert.throws(
    () => localEnv('/tmp/x', ports, {}, { STREAMJOIN_FAULTS: 'tick=boom' }),
    /STREAMJOIN_FAULTS entries/,
  );
  const env = localEnv(
    '/tmp/x',
    ports,
    { STREAMJOIN_ORDER_TIMEOUT: '20s' },
    {
      STREAMJOIN_ORDER_TIMEOUT: '1m',
      STREAMJOIN_PAYMENT_TIMEOUT: '2m',
      GOOGLE_CLOUD_PROJECT: 'my-real-project',
      FIRESTORE_EMULATOR_HOST: '10.0.0.1:8080',
    },
  );
  assert.equal(env['STREAMJOIN_ORDER_TIMEOUT'], '20s', 'a flag wins over the environment');
  assert.equal(env['STREAMJOIN_PAYMENT_TIMEOUT'], '2m', 'the environment is recorded');
  assert.equal(env['GOOGLE_CLOUD_PROJECT'], 'streamjoin-local', 'never a real project');
  assert.equal(env['FIRESTORE_EMULATOR_HOST'], '127.0.0.1:1');
});
