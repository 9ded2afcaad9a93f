// `streamjoin local up | status | down`: the stack starts every part, status shows each with its
// address, and down stops exactly what up started — no process left behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { freeLocalPorts, REPO_ROOT } from '../../infra/local/ports.ts';
import { isAlive } from '../../infra/local/processes.ts';
import { readStack, stackDown, stackUp } from '../../infra/local/stack.ts';

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
    ['firestore', 'ingest', 'tick', 'compact', 'gcs', 'scheduler'],
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
  assert.match(down.stdout, /stopped 6 services/);
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
