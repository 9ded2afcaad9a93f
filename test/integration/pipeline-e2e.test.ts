// End to end on the real local stack (Firestore emulator, GCS server with Eventarc-like delivery,
// Functions Framework processes, scheduler loop): produce → drain → verify, with every fault kind and
// duplicate event delivery; and the plumbing on its own: a handler failure (500) is retried by the
// GCS server until it succeeds.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { extractedValue, METRICS, selectorMatches } from '../../infra/gcp/monitoring.ts';
import { freeLocalPorts } from '../../infra/local/ports.ts';
import { readStack, stackDown, stackUp } from '../../infra/local/stack.ts';
import { formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { runDemo } from '../../infra/ops/demo.ts';
import { loadConfig } from '../../shared/config.ts';
import { collections, createFirestore, docIdFor } from '../../shared/firestore/client.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import { order } from '../support/harness.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) {
    await stackDown(d);
    await rm(d, { recursive: true, force: true });
  }
});

describe('the whole pipeline on the local stack', () => {
  it('produce → drain → verify passes with every fault kind and 30% duplicate delivery', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sj-e2e-'));
    dirs.push(dataDir);
    const r = await runDemo({
      dataDir,
      ports: await freeLocalPorts(),
      count: 150,
      seed: 4242,
      // Landing time: the timeouts need not absorb processing delays; allowed lateness covers a loaded machine.
      timeout: '5s',
      lateness: '15s',
      duplicateDelivery: 0.3,
      format: 'jsonl',
      eventsPerFile: 7,
      gzip: true,
      drainTimeoutMs: 120_000,
      // The functions' info lines are what the log-based metrics read (npm test silences logs).
      env: { LOG_LEVEL: 'info' },
      log: () => {},
    });
    assert.equal(
      r.verify.pass,
      true,
      JSON.stringify({ ...r.verify, byReason: undefined }, null, 1).slice(0, 2000),
    );
    assert.equal(r.verify.actualRows, r.truth.rows.length);
    // Both tables through the reference readers (pyiceberg 0.9.1, Java Iceberg core).
    assert.equal(r.iceberg.length, 2);
    for (const c of r.iceberg) assert.ok(c.ok, formatIcebergCheck(c));
    assert.equal(r.pass, true);
    for (const reason of ['joined', 'order_timeout', 'payment_orphan', 'payment_late', 'payment_extra']) {
      assert.ok((r.verify.byReason[reason] ?? 0) > 0, `the workload exercised ${reason}`);
    }
    assert.ok(r.rejects > 0, 'malformed records were quarantined');
    assert.ok(r.duplicatesSent > 0, 'events were delivered twice');
    assert.equal(readStack(dataDir), undefined, 'the stack was stopped');

    // The log-based metrics the deploy creates (infra/gcp/monitoring.ts) read the lines this run's
    // functions printed: each selects lines, and a distribution finds its value as a number.
    const lines: Record<string, unknown>[] = [];
    for (const f of await readdir(path.join(dataDir, 'logs'))) {
      for (const l of (await readFile(path.join(dataDir, 'logs', f), 'utf8')).split('\n')) {
        if (!l.startsWith('{')) continue;
        try {
          lines.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    }
    const expected = [
      'streamjoin_records_ingested',
      'streamjoin_records_rejected',
      'streamjoin_ingest_lag',
      'streamjoin_ingest_duration',
      'streamjoin_rows_joined',
      'streamjoin_rows_order_timeout',
      'streamjoin_rows_payment_orphan',
      'streamjoin_rows_flushed',
      'streamjoin_flush_duration',
      'streamjoin_commits',
      'streamjoin_commit_duration',
      'streamjoin_commit_lag',
      'streamjoin_eviction_lag',
      'streamjoin_tick_duration',
      'streamjoin_compact_duration',
    ];
    for (const m of METRICS) {
      const hits = lines.filter((l) => selectorMatches(m.select, l));
      if (expected.includes(m.name)) assert.ok(hits.length > 0, `${m.name}: no line of the run matches it`);
      for (const l of hits) {
        if (m.value !== undefined) {
          const v = extractedValue(m, l);
          assert.ok(
            typeof v === 'number' && v >= 0,
            `${m.name}: ${m.value.field} of ${JSON.stringify(l).slice(0, 300)}`,
          );
        }
        for (const label of m.labels ?? []) {
          if (!label.from.startsWith('jsonPayload.')) continue;
          assert.notEqual(l[label.from.slice(12)], undefined, `${m.name}: label ${label.key} missing`);
        }
      }
    }
    const ingested = lines
      .filter((l) =>
        selectorMatches(METRICS.find((m) => m.name === 'streamjoin_records_ingested')!.select, l),
      )
      .reduce((n, l) => n + (l['records'] as number), 0);
    assert.ok(ingested >= r.truth.rows.length, `events ingested per the metric: ${ingested}`);
  });

  it('a failing handler (500) is retried by the GCS server until the event is ingested', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sj-plumb-'));
    dirs.push(dataDir);
    const rec = await stackUp({
      dataDir,
      ports: await freeLocalPorts(),
      env: {
        STREAMJOIN_FAULTS: 'ingest.before-commit=fail:2',
        STREAMJOIN_TICK_INTERVAL: '1h',
        STREAMJOIN_COMPACT_INTERVAL: '1h',
      },
    });
    const config = loadConfig(rec.env);
    const db = createFirestore(config);
    try {
      const storage = createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage });
      await storage
        .bucket(config.inputBucket)
        .file('stream/orders/2026_11_25/order_1_1764072000000.json')
        .save(JSON.stringify(order('plumb-1')), { resumable: false });
      const ref = collections(db, config.collectionPrefix).states.doc(docIdFor('plumb-1'));
      const deadline = Date.now() + 30_000;
      while (!(await ref.get()).exists && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.equal((await ref.get()).get('status'), 'WAITING_PAYMENT');
      // The state is committed a moment before the server has the function's 204: wait for the delivery.
      type Stats = { failedAttempts: number; delivered: number; pending: number };
      const readStats = async () =>
        (await fetch(`${rec.urls.storage}/_admin/stats`).then((r) => r.json())) as Stats;
      let stats = await readStats();
      while (stats.pending > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        stats = await readStats();
      }
      assert.ok(stats.failedAttempts >= 2, `two failed attempts before success, got ${stats.failedAttempts}`);
      assert.equal(stats.delivered, 1);
      assert.equal(stats.pending, 0);
    } finally {
      await db.terminate();
      await stackDown(dataDir);
    }
  });
});
