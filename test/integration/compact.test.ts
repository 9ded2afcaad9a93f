// Compact against the real Firestore emulator and a file:// warehouse: staged batches become one
// append snapshot, exactly once under overlapping runs and crashes; small files are rewritten; every
// snapshot stays readable (time travel).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setFaults } from '../../shared/faults.ts';
import { listDataFiles, listSnapshots, loadTable, readRows } from '../../shared/iceberg/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('compact', {
    STREAMJOIN_FLUSH_MAX_ROWS: '40',
    STREAMJOIN_INDEX_SHARDS: '2',
    STREAMJOIN_MIN_FILES_TO_COMPACT: '3',
  });
});
after(() => h.close());
let run = 0;
afterEach(async () => {
  setFaults('');
  await h.fs.reset();
});

function deps(overrides: Partial<CompactDeps['config']> = {}): CompactDeps {
  run++;
  return h.tickDeps(store, { ...h.config, warehouse: `file://${h.dir}/warehouse-${run}/`, ...overrides });
}

/** Ingests n joined pairs and flushes them into staged batches (40 rows per batch). */
async function stage(n: number, prefix: string, config: CompactDeps['config']) {
  await h.ingest(
    await h.upload(
      `stream/orders/${prefix}/o.jsonl`,
      Array.from({ length: n }, (_, i) => JSON.stringify(order(`${prefix}${i}`))).join('\n'),
    ),
  );
  await h.ingest(
    await h.upload(
      `stream/payments/${prefix}/p.jsonl`,
      Array.from({ length: n }, (_, i) => JSON.stringify(payment(`p${i}`, `${prefix}${i}`))).join('\n'),
    ),
  );
  const flusher = createFlusher(h.tickDeps(store, config));
  for (let i = 0; i < 50; i++) {
    const r = await flusher.flushAll();
    if (r.rows === 0 && (await h.collections.outbox.count().get()).data().count === 0) break;
  }
}

async function tableRows(d: CompactDeps, snapshotId?: bigint) {
  const table = await loadTable(store, tableLocationOf(d.config, 'joined'));
  const rows: Array<Record<string, unknown>> = [];
  for await (const r of readRows(table, snapshotId === undefined ? {} : { snapshotId })) rows.push(r);
  return { table, rows };
}

describe('compact: staged batches → Iceberg', () => {
  it('commits all staged batches as one append snapshot, marks them committed, then has nothing to do', async () => {
    const d = deps();
    await stage(200, 'A', d.config);
    const staged = (await h.collections.batches.where('status', '==', 'staged').get()).size;
    assert.ok(staged >= 5, `expected several batches, got ${staged}`);
    const [joined] = await runCompact(d, { maintenance: false });
    assert.equal(joined!.committedBatches, staged);
    const { table, rows } = await tableRows(d);
    assert.equal(listSnapshots(table).length, 1);
    assert.equal(rows.length, 200);
    assert.equal(new Set(rows.map((r) => r['order_id'])).size, 200);
    const summary = table.metadata.snapshots[0]!.summary;
    assert.equal(summary['operation'], 'append');
    assert.equal(summary['added-records'], '200');
    assert.equal((await h.collections.batches.where('status', '==', 'staged').get()).size, 0);
    const [again] = await runCompact(d, { maintenance: false });
    assert.equal(again!.committedBatches, 0);
    assert.equal(listSnapshots((await tableRows(d)).table).length, 1);
  });

  it('8 compact runs at once: every batch committed exactly once, one linear history', async () => {
    const d = deps();
    await stage(240, 'B', d.config);
    const results = await Promise.all(Array.from({ length: 8 }, () => runCompact(d, { maintenance: false })));
    const committed = results.reduce((n, r) => n + r[0]!.committedBatches, 0);
    const staged = (await h.collections.batches.where('table', '==', 'joined').get()).size;
    assert.equal(committed, staged, 'each batch committed by exactly one run');
    const { table, rows } = await tableRows(d);
    assert.equal(rows.length, 240);
    assert.equal(new Set(rows.map((r) => r['order_id'])).size, 240);
    const snaps = listSnapshots(table);
    for (let i = 1; i < snaps.length; i++) {
      assert.equal(snaps[i]!.parentSnapshotId, snaps[i - 1]!.snapshotId, 'parent chain');
      assert.ok(snaps[i]!.sequenceNumber > snaps[i - 1]!.sequenceNumber, 'sequence numbers increase');
    }
  });

  it('a crash after the Iceberg commit but before marking the batches: the retry skips them (no duplicate rows)', async () => {
    const d = deps();
    await stage(120, 'C', d.config);
    setFaults('compact.after-commit=fail:1');
    await assert.rejects(runCompact(d, { maintenance: false }), /injected failure/);
    const [r] = await runCompact(d, { maintenance: false });
    assert.equal(r!.committedBatches, 0);
    assert.ok(r!.skippedBatches > 0);
    const { table, rows } = await tableRows(d);
    assert.equal(rows.length, 120);
    assert.equal(listSnapshots(table).length, 1);
    assert.equal((await h.collections.batches.where('status', '==', 'staged').get()).size, 0);
  });
});

describe('compact: maintenance', () => {
  it('rewrites small files of a partition into one, keeps every row, and old snapshots stay readable', async () => {
    const d = deps();
    await stage(200, 'D', d.config);
    await runCompact(d, { maintenance: false });
    const before = await tableRows(d);
    const filesBefore = await listDataFiles(before.table);
    assert.ok(filesBefore.length >= 3);
    const [r] = await runCompact(d, { maintenance: true });
    assert.equal(r!.rewrittenFiles, filesBefore.length);
    const afterRw = await tableRows(d);
    assert.equal((await listDataFiles(afterRw.table)).length, 1);
    assert.deepEqual(
      afterRw.rows.map((x) => x['order_id']).sort(),
      before.rows.map((x) => x['order_id']).sort(),
    );
    assert.equal(afterRw.table.metadata.snapshots.at(-1)!.summary['operation'], 'replace');
    // Time travel to the append snapshot still reads every row.
    const old = await tableRows(d, before.table.metadata.currentSnapshotId!);
    assert.equal(old.rows.length, 200);
  });

  it('a crash after writing the rewritten file and before its commit loses nothing', async () => {
    const d = deps();
    await stage(160, 'E', d.config);
    await runCompact(d, { maintenance: false });
    setFaults('compact.rewrite-after-write=fail:1');
    await assert.rejects(runCompact(d, { maintenance: true }), /injected failure/);
    assert.equal((await tableRows(d)).rows.length, 160);
    await runCompact(d, { maintenance: true });
    const { rows, table } = await tableRows(d);
    assert.equal(rows.length, 160);
    assert.equal((await listDataFiles(table)).length, 1);
  });

  it('expires snapshots past retention, keeping the minimum, and deletes what only they referenced', async () => {
    const d = deps({ snapshotRetentionMs: 1000, minSnapshotsToKeep: 1, orphanSafetyMs: 1000 });
    await stage(120, 'F', d.config);
    await runCompact(d, { maintenance: false });
    // The replace snapshot; on a loaded machine this run's own maintenance may already find the append
    // snapshot past its 1 s retention, so both runs' expiries count.
    const [first] = await runCompact(d, { maintenance: true });
    await new Promise((r) => setTimeout(r, 1100));
    const [r] = await runCompact(d, { maintenance: true });
    assert.ok(first!.expiredSnapshots + r!.expiredSnapshots >= 1);
    assert.ok(first!.deletedFiles + r!.deletedFiles >= 1);
    const { table, rows } = await tableRows(d);
    assert.equal(listSnapshots(table).length, 1);
    assert.equal(rows.length, 120);
  });
});

describe('compact: orphan cleanup and staged batches', () => {
  it('never deletes the files of a staged batch still waiting to be committed, however old they are', async () => {
    const d = deps({ orphanSafetyMs: 1000 });
    await stage(200, 'G', d.config);
    const staged = await h.collections.batches.where('status', '==', 'staged').get();
    assert.ok(staged.size >= 3);
    const files = staged.docs.flatMap((b) => (b.get('files') as Array<{ uri: string }>).map((f) => f.uri));
    await new Promise((r) => setTimeout(r, 1100)); // every file is now older than the safety window
    // One batch per commit: the others stay staged, unreferenced by the table, during maintenance.
    const [r] = await runCompact(d, { maintenance: true, tables: ['joined'], maxBatchesPerCommit: 1 });
    assert.equal(r!.committedBatches, 1);
    for (const f of files) assert.ok(await store.stat(f), `${f} still exists`);
    for (let i = 0; i < 20; i++) {
      const [x] = await runCompact(d, { maintenance: false, tables: ['joined'] });
      if (x!.committedBatches === 0) break;
    }
    assert.equal((await tableRows(d)).rows.length, 200);
  });
});
