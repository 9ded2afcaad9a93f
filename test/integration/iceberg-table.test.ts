// Iceberg tables on a file:// warehouse: creation on first use (racing creators), appends with batch
// idempotency, time travel to every snapshot, the version hint, rewrites (replace snapshots).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StreamjoinError } from '../../shared/errors.ts';
import {
  appendBatches,
  appendFiles,
  createTable,
  listDataFiles,
  listSnapshots,
  loadOrCreateTable,
  loadTable,
  readDataFileRows,
  readRows,
  rewriteFiles,
  type SnapshotId,
  type Table,
  tableLocation,
  versionHintUri,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row, UNMATCHED_TABLE } from '../../shared/tables.ts';
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

const ids = (rows: readonly Row[]) => rows.map((r) => String(r['order_id'])).sort();

describe('table creation', () => {
  it('creates on first use; racing creators all end up with the one table v1 holds', async () => {
    const loc = tableLocation(wh.uri, 'default', 'race');
    const tables = await Promise.all(
      Array.from({ length: 6 }, () => loadOrCreateTable(store, loc, JOINED_TABLE)),
    );
    const uuids = new Set(tables.map((t) => t.metadata.tableUuid));
    assert.equal(uuids.size, 1);
    const loaded = await loadTable(store, loc);
    assert.equal(loaded.version, 1);
    assert.equal(loaded.metadata.tableUuid, [...uuids][0]);
    assert.equal((await store.read(versionHintUri(loc))).toString(), '1');
  });

  it('createTable on an existing table loads it instead', async () => {
    const loc = tableLocation(wh.uri, 'default', 'twice');
    const a = await createTable(store, loc, UNMATCHED_TABLE);
    const b = await createTable(store, loc, UNMATCHED_TABLE);
    assert.equal(b.metadata.tableUuid, a.metadata.tableUuid);
    assert.equal(b.metadata.schemas[0]?.fields.at(-1)?.name, 'emitted_at');
  });

  it('loadTable of a missing table is not-found', async () => {
    await assert.rejects(loadTable(store, tableLocation(wh.uri, 'default', 'nope')), (e: unknown) => {
      return e instanceof StreamjoinError && e.kind === 'not-found';
    });
  });
});

describe('appends and time travel', () => {
  let table: Table;
  const expected: { snapshotId: SnapshotId; orderIds: string[] }[] = [];

  it('commits five appends, one snapshot each, with the batch ids in the summary', async () => {
    const loc = tableLocation(wh.uri, 'default', 'appends');
    table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    let all: Row[] = [];
    for (let i = 0; i < 5; i++) {
      const rowsA = joinedRows(i * 100, 10 + i, i % 2);
      const rowsB = joinedRows(i * 100 + 50, 3, 2);
      const files = [
        await writeDataFileOf(store, loc, JOINED_TABLE, rowsA),
        await writeDataFileOf(store, loc, JOINED_TABLE, rowsB),
      ];
      const r = await appendFiles(table, files, { batchIds: [`batch-${i}a`, `batch-${i}b`] });
      assert.ok(r.snapshotId !== undefined);
      assert.deepEqual(r.committedBatchIds, [`batch-${i}a`, `batch-${i}b`]);
      table = r.table;
      all = [...all, ...rowsA, ...rowsB];
      expected.push({ snapshotId: r.snapshotId, orderIds: ids(all) });
      const s = table.metadata.snapshots.find((x) => x.snapshotId === r.snapshotId)!;
      assert.equal(s.summary['added-data-files'], '2');
      assert.equal(s.summary['added-records'], String(rowsA.length + rowsB.length));
      assert.equal(s.summary['total-records'], String(all.length));
      assert.equal(s.summary['total-data-files'], String(2 * (i + 1)));
      assert.equal(s.summary['streamjoin.batch-ids'], `batch-${i}a,batch-${i}b`);
    }
    assert.equal(listSnapshots(table).length, 5);
    assertLinearHistory(table);
    assert.equal(table.version, 6);
    assert.equal((await store.read(versionHintUri(table.location))).toString(), '6');
  });

  it('reads every snapshot as it was (time travel)', async () => {
    for (const e of expected) {
      const rows = await collect(readRows(table, { snapshotId: e.snapshotId }));
      assert.deepEqual(ids(rows), e.orderIds);
    }
    const latest = await collect(readRows(table));
    assert.equal(latest.length, expected.at(-1)!.orderIds.length);
    const limited = await collect(readRows(table, { limit: 4 }));
    assert.equal(limited.length, 4);
    assert.equal(typeof limited[0]?.['joined_at'], 'bigint');
    assert.equal(typeof limited[0]?.['order_amount'], 'number');
  });

  it('an unknown snapshot id is not-found', async () => {
    await assert.rejects(collect(readRows(table, { snapshotId: 12345n })), /expected snapshot 12345/);
  });

  it('a retried append of committed batches is recognised and skipped', async () => {
    const f = await writeDataFileOf(store, table.location, JOINED_TABLE, joinedRows(9000, 2));
    const r = await appendFiles(table, [f], { batchIds: ['batch-2a', 'batch-2b'] });
    assert.equal(r.snapshotId, undefined);
    assert.deepEqual(r.skippedBatchIds, ['batch-2a', 'batch-2b']);
    assert.equal(r.table.version, table.version);
    // A stale table view (from before the commits) is refreshed by the create-only write and skips too.
    const stale = await loadTable(store, table.location);
    const r2 = await appendBatches(stale, [{ batchId: 'batch-0a', files: [f] }]);
    assert.equal(r2.snapshotId, undefined);
  });

  it('appendBatches commits only the batches not yet committed', async () => {
    const f1 = await writeDataFileOf(store, table.location, JOINED_TABLE, joinedRows(7000, 4));
    const f2 = await writeDataFileOf(store, table.location, JOINED_TABLE, joinedRows(7100, 5));
    const r = await appendBatches(table, [
      { batchId: 'batch-1a', files: [f1] },
      { batchId: 'new-batch', files: [f2] },
    ]);
    assert.deepEqual(r.committedBatchIds, ['new-batch']);
    assert.deepEqual(r.skippedBatchIds, ['batch-1a']);
    assert.equal(r.addedFiles, 1);
    table = r.table;
    const counts = batchIdCounts(table);
    for (const n of counts.values()) assert.equal(n, 1);
  });

  it('appendFiles refuses a partly committed set of batch ids', async () => {
    const f = await writeDataFileOf(store, table.location, JOINED_TABLE, joinedRows(8000, 1));
    await assert.rejects(
      appendFiles(table, [f], { batchIds: ['batch-3a', 'other'] }),
      (e: unknown) =>
        e instanceof StreamjoinError && e.kind === 'conflict' && /all committed or none/.test(e.message),
    );
  });

  it('loading probes past a stale version hint, and lists when the hint is gone', async () => {
    await store.write(versionHintUri(table.location), '2');
    assert.equal((await loadTable(store, table.location)).version, table.version);
    await store.delete(versionHintUri(table.location));
    assert.equal((await loadTable(store, table.location)).version, table.version);
  });
});

describe('rewrites (replace snapshots)', () => {
  it('compacts a partition without changing rows; older snapshots stay readable', async () => {
    const loc = tableLocation(wh.uri, 'default', 'rewrite');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    for (let i = 0; i < 4; i++) {
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 5, 0));
      table = (await appendFiles(table, [f], { batchIds: [`b${i}`] })).table;
    }
    const other = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(500, 3, 1));
    table = (await appendFiles(table, [other], { batchIds: ['other-day'] })).table;
    const before = ids(await collect(readRows(table)));
    const beforeSnapshot = table.metadata.currentSnapshotId!;

    const day0 = (await listDataFiles(table)).filter((e) => e.dataFile.filePath !== other.uri);
    assert.equal(day0.length, 4);
    const rows: Row[] = [];
    for (const e of day0) {
      rows.push(
        ...(await collect(
          readDataFileRows(
            store,
            e.dataFile.filePath,
            e.dataFile.fileSizeInBytes,
            table.metadata.schemas[0]!,
          ),
        )),
      );
    }
    const merged = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
    // A concurrent append lands between planning and committing the rewrite: the rewrite is planned on
    // the newer version (the late append is its parent), not on the one it was handed.
    const stale = table;
    const late = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(900, 2, 0));
    table = (await appendFiles(table, [late], { batchIds: ['late'] })).table;
    const lateSnapshot = table.metadata.currentSnapshotId;
    const rw = await rewriteFiles(stale, { remove: day0.map((e) => e.dataFile), add: [merged] });
    table = rw.table;

    const s = table.metadata.snapshots.find((x) => x.snapshotId === rw.snapshotId)!;
    assert.equal(s.parentSnapshotId, lateSnapshot, 'the rewrite was re-planned on the late append');
    assert.equal(s.summary.operation, 'replace');
    assert.equal(s.summary['deleted-data-files'], '4');
    assert.equal(s.summary['added-data-files'], '1');
    const live = await listDataFiles(table);
    assert.deepEqual(live.map((e) => e.dataFile.filePath).sort(), [merged.uri, other.uri, late.uri].sort());
    const mergedEntry = live.find((e) => e.dataFile.filePath === merged.uri)!;
    assert.equal(mergedEntry.sequenceNumber, s.sequenceNumber);
    const lateEntry = live.find((e) => e.dataFile.filePath === late.uri)!;
    assert.ok(
      lateEntry.sequenceNumber < s.sequenceNumber,
      'an EXISTING entry keeps its original sequence number',
    );
    assert.deepEqual(ids(await collect(readRows(table))), [...before, ...ids(joinedRows(900, 2, 0))].sort());
    assert.deepEqual(ids(await collect(readRows(table, { snapshotId: beforeSnapshot }))), before);
    assert.equal(s.summary['total-records'], String(before.length + 2));
    assertLinearHistory(table);
    assert.deepEqual(await missingReachableFiles(table), []);

    // The same inputs again: no longer live, so a conflict the caller must re-plan.
    const again = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
    await assert.rejects(
      rewriteFiles(table, { remove: day0.map((e) => e.dataFile), add: [again] }),
      (e: unknown) =>
        e instanceof StreamjoinError &&
        e.kind === 'conflict' &&
        /expected every file to replace to be live/.test(e.message),
    );
  });

  it('rejects a rewrite that would change the row count', async () => {
    const loc = tableLocation(wh.uri, 'default', 'rewrite-bad');
    const table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(0, 5));
    const t2 = (await appendFiles(table, [f], { batchIds: ['x'] })).table;
    const [entry] = await listDataFiles(t2);
    const smaller = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(0, 4));
    await assert.rejects(
      rewriteFiles(t2, { remove: [entry!.dataFile], add: [smaller] }),
      /expected a rewrite to keep the row count, but it removes 5 rows and adds 4/,
    );
  });
});
