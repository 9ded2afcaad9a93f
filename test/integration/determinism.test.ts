// Determinism on the real local stack: the tables are a function of the input objects and their landing
// times. A generated workload (every fault kind) is uploaded once and processed normally; its tables are
// kept. Then the join state (Firestore) and the tables are reset and the SAME objects — same generations,
// so the same landing times — are delivered again by the local GCS server, with 30 % duplicate delivery,
// random delivery delays and an ingest outage, each shorter than the allowed lateness. The second tables
// must equal the first, every column of every row compared.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { resetFirestoreEmulator } from '../../infra/local/firestore-emulator.ts';
import { freeLocalPorts } from '../../infra/local/ports.ts';
import { isAlive, waitUntil } from '../../infra/local/processes.ts';
import { readStack, restartFunction, stackDown, stackUp } from '../../infra/local/stack.ts';
import { drain } from '../../infra/ops/drain.ts';
import { DEMO_FAULTS, planWorkload, uploadFiles } from '../../infra/ops/produce.ts';
import { readAllColumns } from '../../infra/ops/verify.ts';
import { loadConfig } from '../../shared/config.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import { gcsAdmin } from '../support/gcs-admin.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) {
    await stackDown(d);
    await rm(d, { recursive: true, force: true });
  }
});

const LATENESS_MS = 20_000;

describe('determinism: the tables depend only on the objects and their landing times', () => {
  it('processing the same objects again under duplicates, delays and an outage gives the same tables, every column', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sj-determinism-'));
    dirs.push(dataDir);
    const rec = await stackUp({
      dataDir,
      fresh: true,
      ports: await freeLocalPorts(),
      env: {
        STREAMJOIN_ORDER_TIMEOUT: '5s',
        STREAMJOIN_PAYMENT_TIMEOUT: '5s',
        STREAMJOIN_ALLOWED_LATENESS: `${LATENESS_MS / 1000}s`,
      },
    });
    const config = loadConfig(rec.env);
    const db = createFirestore(config);
    const cols = collections(db, config.collectionPrefix);
    const admin = gcsAdmin(rec.urls.storage);
    const drainOpts = { timeoutMs: 180_000, gcsAdminUrl: rec.urls.storage, pollMs: 500 };
    const store = new FileObjectStore();
    const locations = {
      joined: tableLocationOf(config, 'joined'),
      unmatched: tableLocationOf(config, 'unmatched'),
    };
    try {
      // 1. Upload once and run normally.
      const plan = planWorkload({
        count: 120,
        seed: 1414,
        eventsPerFile: 1,
        format: 'object',
        gzip: false,
        faults: DEMO_FAULTS,
        ordersPrefix: config.ordersPrefix,
        paymentsPrefix: config.paymentsPrefix,
        startMs: Date.now(),
        // Two objects with the same records that land moments apart are the one case where ingest order
        // decides which landing time counts (README, Time, limits): their copies land later here.
        duplicatesLate: true,
      });
      const storage = createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage });
      const bucket = storage.bucket(config.inputBucket);
      const save = (name: string, body: Buffer) => bucket.file(name).save(body, { resumable: false });
      await uploadFiles(
        save,
        plan.files.filter((f) => f.phase === 'main'),
        { concurrency: 16 },
      );
      await drain(cols, drainOpts);
      await uploadFiles(
        save,
        plan.files.filter((f) => f.phase === 'late'),
        { concurrency: 16 },
      );
      await drain(cols, drainOpts);
      const first = await readAllColumns(store, locations);
      const reasons = new Set(
        first.unmatched.map(
          (r) => (JSON.parse(r) as Array<[string, unknown]>).find(([k]) => k === 'reason')?.[1],
        ),
      );
      assert.ok(first.joined.length > 50, `joined rows: ${first.joined.length}`);
      for (const r of ['order_timeout', 'payment_orphan', 'payment_late', 'payment_extra'])
        assert.ok(reasons.has(r), `the workload exercised ${r}`);

      // 2. Reset the join state, the ledger and the tables; deliver the same objects again.
      // Tick and compact are down while the state and the tables go (a compaction that is still
      // rewriting small files would write into the removed table); they come back for the second run.
      const pids = (readStack(dataDir)?.services ?? [])
        .filter((s) => s.name === 'tick' || s.name === 'compact')
        .map((s) => s.pid);
      assert.equal(pids.length, 2, 'tick and compact run');
      const paused = ['tick', 'compact'].map((n) => restartFunction(dataDir, n, { downMs: 5000 }));
      await waitUntil('tick and compact to stop', async () => pids.every((p) => !isAlive(p)), {
        timeoutMs: 10_000,
      });
      await resetFirestoreEmulator(rec.env['FIRESTORE_EMULATOR_HOST']!, config.projectId);
      await rm(path.join(dataDir, 'warehouse'), { recursive: true, force: true });
      await Promise.all(paused);
      await admin('options', 'PATCH', { duplicateProbability: 0.3, shuffleDelayMs: 3000, retryMaxMs: 1000 });
      // Paced: each object's event as long after the first as it landed after the first, so every delay
      // is what the delivery modes add (≤ 3 s shuffle, the 5 s outage, 1 s retries), all shorter than the
      // allowed lateness. Everything at once would delay the early objects by the whole first run —
      // e.g. a duplicate file that landed 30 s after its original could be ingested first and decide
      // the pair with its own landing time (README, Time, limits): no longer a delay shorter than the
      // allowed lateness.
      const outage = restartFunction(dataDir, 'ingest', { downMs: 5000 });
      const { events } = await admin('redeliver', 'POST', { bucket: config.inputBucket, paced: true });
      assert.equal(events, plan.files.length);
      await outage;
      await drain(cols, drainOpts);
      const stats = (await (await fetch(`${rec.urls.storage}/_admin/stats`)).json()) as Record<
        string,
        number
      >;
      assert.ok(stats['duplicatesSent']! > 0, 'events were delivered twice');
      assert.ok(stats['failedAttempts']! > 0, 'the outage failed deliveries, which were retried');
      const second = await readAllColumns(store, locations);
      assert.deepEqual(second.joined, first.joined);
      assert.deepEqual(second.unmatched, first.unmatched);
    } finally {
      await db.terminate();
      await stackDown(dataDir);
    }
  });
});
