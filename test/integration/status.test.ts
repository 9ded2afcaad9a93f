// `streamjoin status` against the real local stack (Firestore emulator, GCS server delivering events,
// Functions Framework processes, scheduler loop), in the three conditions an operator must tell apart:
//   healthy — pairs uploaded and drained: nothing waits, the tables hold the rows, the logs count them;
//   behind  — the scheduler paused (SIGSTOP), more pairs uploaded: outbox rows wait longer than two
//             ticks allow, with no failure;
//   stuck   — tick restarted with the fault point flush.after-claim failing every pass and the
//             scheduler resumed: the rows still wait and tick fails on each run.
// Then tick is restarted without the fault and the verdict returns to healthy. Each verdict is read
// in-process while waiting for it, then once through the CLI (its exit code and first line).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Firestore } from '@google-cloud/firestore';
import { collectStatus } from '../../cli/status.ts';
import { judge, type StatusLevel, type StatusSnapshot, type Verdict } from '../../cli/status-model.ts';
import { freeLocalPorts, REPO_ROOT } from '../../infra/local/ports.ts';
import { readStack, restartFunction, type StackRecord, stackDown, stackUp } from '../../infra/local/stack.ts';
import { drain } from '../../infra/ops/drain.ts';
import { type Config, loadConfig } from '../../shared/config.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import { order, payment } from '../support/harness.ts';

let dataDir = '';
let rec: StackRecord;
let config: Config;
let db: Firestore;

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'sj-status-'));
  rec = await stackUp({
    dataDir,
    ports: await freeLocalPorts(),
    // Orders wait 15 min (the default): no state times out during the test; only the outbox ages.
    // Status counts rows and errors from the function logs: info lines are needed (npm test runs with
    // LOG_LEVEL=silent, which the stack would otherwise adopt).
    // A short flush lease: the batch a killed tick held is taken over soon after the fault is gone.
    env: {
      STREAMJOIN_TICK_INTERVAL: '1s',
      STREAMJOIN_COMPACT_INTERVAL: '2s',
      STREAMJOIN_FLUSH_LEASE: '10s',
      LOG_LEVEL: 'info',
    },
  });
  config = loadConfig(rec.env);
  db = createFirestore(config);
});
after(async () => {
  await db?.terminate();
  if (dataDir !== '') {
    // A scheduler left stopped by a failed assertion must be able to die.
    const sched = readStack(dataDir)?.services.find((s) => s.name === 'scheduler');
    if (sched !== undefined) {
      try {
        process.kill(-sched.pid, 'SIGCONT');
      } catch {}
    }
    await stackDown(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

const target = () => {
  const r = readStack(dataDir)!;
  return { kind: 'local' as const, config, dataDir, record: r, gcsAdminUrl: r.urls.storage };
};
const OPTIONS = { windowMs: 3_600_000, maxObjects: 10_000 };

/** Polls the status until its verdict is `level` (or fails with the last one seen). */
async function waitForVerdict(
  level: StatusLevel,
  timeoutMs: number,
): Promise<{ snap: StatusSnapshot; verdict: Verdict }> {
  const deadline = Date.now() + timeoutMs;
  let last: { snap: StatusSnapshot; verdict: Verdict } | undefined;
  while (Date.now() < deadline) {
    const snap = await collectStatus(target(), db, OPTIONS);
    last = { snap, verdict: judge(snap) };
    if (last.verdict.level === level) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.fail(`expected the verdict ${level} within ${timeoutMs} ms, last: ${last?.verdict.summary}`);
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'cli/main.ts'), ...args],
      { cwd: REPO_ROOT, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

let uploaded = 0;
/** Uploads `n` order/payment pairs into today's date folders (the producer's layout). */
async function uploadPairs(n: number): Promise<void> {
  const storage = createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage });
  const bucket = storage.bucket(config.inputBucket);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '_');
  const files: [string, unknown][] = [];
  for (let i = 0; i < n; i++) {
    const id = `status-${++uploaded}`;
    files.push([`${config.ordersPrefix}${day}/order_${uploaded}_${Date.now()}.json`, order(id)]);
    files.push([
      `${config.paymentsPrefix}${day}/payment_${uploaded}_${Date.now()}.json`,
      payment(`p-${id}`, id),
    ]);
  }
  await Promise.all(
    files.map(([name, body]) => bucket.file(name).save(JSON.stringify(body), { resumable: false })),
  );
}

const scheduler = () => readStack(dataDir)!.services.find((s) => s.name === 'scheduler')!;

describe('streamjoin status on the local stack', () => {
  it('idle and healthy: work drained, nothing waits; the tables and logs show what passed', async () => {
    await uploadPairs(3);
    // An object outside the order/payment prefixes: ignored with a warning, counted by status.
    await createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage })
      .bucket(config.inputBucket)
      .file('notes/readme.txt')
      .save('not an event', { resumable: false });
    await drain(collections(db, config.collectionPrefix), {
      timeoutMs: 180_000,
      gcsAdminUrl: rec.urls.storage,
    });
    const { snap, verdict } = await waitForVerdict('healthy', 30_000);
    assert.equal(verdict.summary.startsWith('HEALTHY: nothing waiting'), true, verdict.summary);
    assert.equal(snap.ingest.landed, 6);
    assert.equal(snap.ingest.ingested, 6);
    assert.equal(snap.ingest.notIngested, 0);
    assert.equal(snap.ingest.ignored, 1);
    assert.equal(snap.outbox.rows, 0);
    assert.equal(snap.activity.rowsByReason?.['joined'], 3);
    const joined = snap.tables.find((t) => t.kind === 'joined')!;
    assert.equal(joined.records, 3);
    assert.ok(joined.snapshots >= 1 && joined.lastCommitAtMs !== null, JSON.stringify(joined));

    const r = await cli(['status', '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout.split('\n')[0]!, /^HEALTHY: nothing waiting/);
    assert.match(r.stdout, /^default\.orders_payments +\S.* ago +\d+ +\d+ +3 +3$/m);
  });

  it('behind: the scheduler paused, outbox rows wait longer than two ticks, nothing fails', async () => {
    process.kill(-scheduler().pid, 'SIGSTOP');
    await uploadPairs(4);
    const { snap, verdict } = await waitForVerdict('behind', 120_000);
    assert.ok(
      verdict.findings.some((f) => f.stage === 'flush' && /outbox rows? not flushed/.test(f.reason)),
      verdict.summary,
    );
    assert.match(verdict.summary, /^BEHIND: .*flush behind: \d+ outbox rows? not flushed, the oldest for /);
    assert.equal(snap.activity.errors?.['tick']?.count, 0);

    const r = await cli(['status', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const json = JSON.parse(r.stdout) as { verdict: string; outbox: { rows: number } };
    assert.equal(json.verdict, 'behind');
    assert.ok(json.outbox.rows > 0);
  });

  it('stuck: tick restarted with flush.after-claim failing, the scheduler resumed: the rows still wait', async () => {
    await restartFunction(dataDir, 'tick', { env: { STREAMJOIN_FAULTS: 'flush.after-claim=p:1' } });
    process.kill(-scheduler().pid, 'SIGCONT');
    const { snap, verdict } = await waitForVerdict('stuck', 120_000);
    assert.match(
      verdict.summary,
      /^STUCK: flush failing: \d+ outbox rows? not flushed, the oldest for .*, and tick logged \d+ errors since; last: .*injected failure at flush\.after-claim/,
    );
    assert.ok((snap.activity.errors?.['tick']?.count ?? 0) >= 3);
    assert.ok(snap.outbox.rows > 0);

    const r = await cli(['status', '--data-dir', dataDir]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout.split('\n')[0]!, /^STUCK: flush failing: /);
  });

  it('recovers: tick restarted without the fault, the backlog drains and the verdict is healthy again', async () => {
    await restartFunction(dataDir, 'tick', { env: {} });
    await drain(collections(db, config.collectionPrefix), {
      timeoutMs: 180_000,
      gcsAdminUrl: rec.urls.storage,
    });
    const { snap } = await waitForVerdict('healthy', 30_000);
    assert.equal(snap.tables.find((t) => t.kind === 'joined')!.records, 7);
  });

  it('--watch --json prints one verdict per interval and stops cleanly on Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'cli/main.ts'),
        'status',
        '--data-dir',
        dataDir,
        '--watch',
        '--json',
        '--interval',
        '1s',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (out.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    const refreshes = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { verdict: string; takenAtMs: number });
    assert.ok(refreshes.length >= 2, out);
    assert.ok(refreshes.every((r) => r.verdict === 'healthy'));
    assert.ok(refreshes[1]!.takenAtMs - refreshes[0]!.takenAtMs >= 1000);
  });
});
