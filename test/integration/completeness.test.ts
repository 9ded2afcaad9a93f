// Completeness on the real local stack: the local GCS server drops a share of the finalize events (as
// Eventarc does after its retry window), and reconciliation (`streamjoin reconcile`, by hand) ingests every
// object whose event never came.
// - Run right away (--grace 0s), the tables equal those of a run without drops (the ground truth).
// - Recovered after the windows closed (later than the allowed lateness), every valid event still ends in
//   exactly one row; the events that landed in a closed window are the late rows, counted as ingested late.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { freeLocalPorts, REPO_ROOT } from '../../infra/local/ports.ts';
import { type StackRecord, stackDown, stackUp } from '../../infra/local/stack.ts';
import { drain } from '../../infra/ops/drain.ts';
import {
  DEMO_FAULTS,
  type GroundTruth,
  planWorkload,
  uploadFiles,
  type WorkloadFile,
} from '../../infra/ops/produce.ts';
import { compareWithTruth, eachEventOnce, readTableRows, rowKey } from '../../infra/ops/verify.ts';
import { type Config, loadConfig } from '../../shared/config.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { listRejects } from '../../shared/firestore/rejects.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import type { ReconcileReport } from '../../shared/pipeline/reconcile.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) {
    await stackDown(d);
    await rm(d, { recursive: true, force: true });
  }
});

/** `streamjoin reconcile --grace 0s --json` against the stack in dataDir (the CLI, as an operator runs it). */
function reconcileByHand(dataDir: string): Promise<{ report: ReconcileReport; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'cli/main.ts'), 'reconcile', '--grace', '0s', '--json', '--data-dir', dataDir],
      { timeout: 120_000, env: { ...process.env, LOG_LEVEL: 'warn' }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`reconcile failed: ${err.message}\n${stderr}`));
        else resolve({ report: JSON.parse(stdout) as ReconcileReport, stderr });
      },
    );
  });
}

interface Run {
  readonly rec: StackRecord;
  readonly config: Config;
  readonly truth: GroundTruth;
  readonly files: WorkloadFile[];
  readonly dataDir: string;
  readonly upload: (phase: 'main' | 'late') => Promise<void>;
  readonly drain: () => Promise<void>;
  readonly rows: () => ReturnType<typeof readTableRows>;
  readonly dropped: () => Promise<number>;
  readonly close: () => Promise<void>;
}

/**
 * `latenessS`: the allowed lateness of the stack. Run "right away", reconcile must ingest a dropped object
 * within the lateness after its partner was ingested: the upload of a phase, the CLI's start and the run
 * itself all count, so that run gets a margin a loaded machine (2 cores, other work) still keeps.
 */
async function start(label: string, seed: number, latenessS: number): Promise<Run> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `sj-${label}-`));
  dirs.push(dataDir);
  const rec = await stackUp({
    dataDir,
    fresh: true,
    ports: await freeLocalPorts(),
    env: {
      STREAMJOIN_ORDER_TIMEOUT: '5s',
      STREAMJOIN_PAYMENT_TIMEOUT: '5s',
      STREAMJOIN_ALLOWED_LATENESS: `${latenessS}s`,
      STREAMJOIN_DROP_DELIVERY: '0.3',
    },
  });
  const config = loadConfig(rec.env);
  const db = createFirestore(config);
  const cols = collections(db, config.collectionPrefix);
  const plan = planWorkload({
    count: 80,
    seed,
    eventsPerFile: 1,
    format: 'object',
    gzip: false,
    faults: DEMO_FAULTS,
    ordersPrefix: config.ordersPrefix,
    paymentsPrefix: config.paymentsPrefix,
    startMs: Date.now(),
  });
  const bucket = createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage }).bucket(
    config.inputBucket,
  );
  const store = new FileObjectStore();
  return {
    rec,
    config,
    truth: plan.truth,
    files: plan.files,
    dataDir,
    upload: async (phase) => {
      await uploadFiles(
        (name, body) => bucket.file(name).save(body, { resumable: false }),
        plan.files.filter((f) => f.phase === phase),
        { concurrency: 16 },
      );
    },
    drain: async () => {
      await drain(cols, { timeoutMs: 180_000, gcsAdminUrl: rec.urls.storage, pollMs: 500 });
    },
    rows: () =>
      readTableRows(store, {
        joined: tableLocationOf(config, 'joined'),
        unmatched: tableLocationOf(config, 'unmatched'),
      }),
    dropped: async () =>
      ((await (await fetch(`${rec.urls.storage}/_admin/stats`)).json()) as { dropped: number }).dropped,
    close: async () => {
      try {
        // The quarantine must be complete too: every malformed record of a dropped file was found.
        const rejects = await listRejects(cols, { limit: 100_000 });
        const verdict = compareWithTruth(
          plan.truth,
          await readTableRows(store, {
            joined: tableLocationOf(config, 'joined'),
            unmatched: tableLocationOf(config, 'unmatched'),
          }),
          rejects,
        );
        assert.deepEqual(verdict.rejectProblems, [], 'every bad record quarantined');
      } finally {
        await db.terminate();
        await stackDown(dataDir);
      }
    },
  };
}

describe('completeness: events that never came are found by reconciliation', () => {
  it('reconcile --grace 0s right after each upload: the tables equal a run without drops', async () => {
    const run = await start('complete-now', 707, 60);
    try {
      let missing = 0;
      for (const phase of ['main', 'late'] as const) {
        await run.upload(phase);
        const { report } = await reconcileByHand(run.dataDir);
        assert.deepEqual(report.failed, []);
        missing += report.missing.length;
        await run.drain();
      }
      const dropped = await run.dropped();
      assert.ok(dropped > 0, 'the server dropped events');
      // Each dropped object had no ledger entry when reconcile ran (others may have been in flight).
      assert.ok(
        missing >= dropped,
        `reconcile found ${missing} objects without an entry, ${dropped} were dropped`,
      );
      const verdict = compareWithTruth(run.truth, await run.rows(), []);
      assert.deepEqual(
        { missing: verdict.missing, unexpected: verdict.unexpected, duplicated: verdict.duplicated },
        {
          missing: [],
          unexpected: [],
          duplicated: [],
        },
      );
    } finally {
      await run.close();
    }
  });

  it('recovered after the windows closed: every valid event in exactly one row, the late ones counted as ingested late', async () => {
    const run = await start('complete-late', 808, 20);
    try {
      await run.upload('main');
      await run.drain();
      await run.upload('late');
      await run.drain(); // every window is closed: the dropped events are now later than the allowed lateness
      const before = compareWithTruth(run.truth, await run.rows(), []);
      assert.ok(before.missing.length > 0, 'the drops cost rows before reconciliation');
      const { report, stderr } = await reconcileByHand(run.dataDir);
      assert.deepEqual(report.failed, []);
      assert.equal(report.missing.length, await run.dropped(), 'exactly the dropped objects had no entry');
      await run.drain();
      const rows = await run.rows();
      assert.deepEqual(eachEventOnce(run.truth, rows), []);
      // Rows that differ from the no-drop truth are the events that landed in a window closed before they
      // came: each such late row is one event counted as ingested late (and logged so).
      const truthKeys = new Set(run.truth.rows.map(rowKey));
      const lateRows = rows.filter(
        (r) => (r.reason === 'payment_late' || r.reason === 'order_late') && !truthKeys.has(rowKey(r)),
      );
      assert.ok(lateRows.length > 0, 'some recovered events came after their window closed');
      assert.equal(report.counters.ingestedLate, lateRows.length);
      assert.match(stderr, /ingested late by \d+ s/);
    } finally {
      await run.close();
    }
  });
});
