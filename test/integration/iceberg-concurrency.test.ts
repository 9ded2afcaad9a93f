// Eight committers at once on one file:// table: the same staged batches are committed exactly once in
// a single linear history; distinct batches all land, none lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  appendBatches,
  listDataFiles,
  loadOrCreateTable,
  loadTable,
  readRows,
  type StagedBatch,
  tableLocation,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE } from '../../shared/tables.ts';
import {
  assertLinearHistory,
  batchIdCounts,
  collect,
  joinedRows,
  missingReachableFiles,
  type TempWarehouse,
  tempWarehouse,
  writeDataFileOf,
} from '../unit/iceberg/support.ts';

const store = new FileObjectStore();
let wh: TempWarehouse;
before(async () => {
  wh = await tempWarehouse();
});
after(async () => {
  await wh.cleanup();
});

const COMMITTERS = 8;

describe('concurrent commits', () => {
  it('8 runs committing the same staged batches: each batch exactly once, one linear history', async () => {
    const loc = tableLocation(wh.uri, 'default', 'same-batches');
    const table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    // Six staged batches; each run sees a different subset first (as overlapping compact runs would).
    const batches: StagedBatch[] = [];
    for (let b = 0; b < 6; b++) {
      batches.push({
        batchId: `batch-${b}`,
        files: [await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(b * 100, 5 + b, b % 3))],
      });
    }
    const runs = Array.from({ length: COMMITTERS }, (_, i) => {
      const mine = i % 2 === 0 ? batches : [...batches.slice(i % 6), ...batches.slice(0, i % 6)].slice(0, 4);
      return appendBatches(table, mine, { baseDelayMs: 5, maxAttempts: 30 });
    });
    const results = await Promise.all(runs);

    const final = await loadTable(store, loc);
    assertLinearHistory(final);
    const counts = batchIdCounts(final);
    assert.deepEqual(
      [...counts.entries()].sort(),
      batches.map((b) => [b.batchId, 1]),
    );
    const committedByRuns = results.flatMap((r) => r.committedBatchIds).sort();
    assert.deepEqual(
      committedByRuns,
      batches.map((b) => b.batchId),
    );
    for (const r of results) {
      if (r.snapshotId !== undefined)
        assert.ok(final.metadata.snapshots.some((s) => s.snapshotId === r.snapshotId));
    }
    const rows = await collect(readRows(final));
    const expectedRows = batches.reduce((n, b) => n + b.files.reduce((m, f) => m + f.recordCount, 0), 0);
    assert.equal(rows.length, expectedRows);
    assert.equal(new Set(rows.map((r) => r['order_id'])).size, expectedRows);
    const live = await listDataFiles(final);
    assert.equal(live.length, batches.length);
    assert.equal(final.metadata.snapshots.at(-1)?.summary['total-records'], String(expectedRows));
    assert.deepEqual(await missingReachableFiles(final), []);
    assert.equal(final.metadata.lastSequenceNumber, final.metadata.snapshots.length);
  });

  it('8 runs committing different batches: all land, none lost, sequence numbers 1..8', async () => {
    const loc = tableLocation(wh.uri, 'default', 'different-batches');
    const table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const files = await Promise.all(
      Array.from({ length: COMMITTERS }, (_, i) =>
        writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 3)),
      ),
    );
    const results = await Promise.all(
      files.map((f, i) =>
        appendBatches(table, [{ batchId: `run-${i}`, files: [f] }], { baseDelayMs: 5, maxAttempts: 30 }),
      ),
    );
    assert.ok(results.every((r) => r.snapshotId !== undefined));
    assert.ok(
      results.some((r) => r.attempts > 1),
      'expected at least one run to lose a race and retry',
    );
    const final = await loadTable(store, loc);
    assertLinearHistory(final);
    assert.deepEqual(
      final.metadata.snapshots.map((s) => s.sequenceNumber),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal((await collect(readRows(final))).length, COMMITTERS * 3);
    // Only the winning attempts' manifest lists remain: losers cleaned up after themselves.
    const lists: string[] = [];
    for await (const o of store.list(`${loc}/metadata/snap-`)) lists.push(o.uri);
    assert.deepEqual(lists.sort(), final.metadata.snapshots.map((s) => s.manifestList).sort());
  });
});
