// Our tables through the reference readers (../shared/readers: pyiceberg 0.9.1 and Java Iceberg core):
// time travel by timestamp finds each snapshot at its own commit time even when the committing clock
// has moved on between stamping the snapshot and writing the metadata (issue 13, fix 1); the empty
// table's v1.metadata.json opens (fix 2); appends, a compaction and an expiry pass every check.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import {
  appendBatches,
  expireSnapshots,
  listDataFiles,
  loadOrCreateTable,
  readDataFileRows,
  rewriteFiles,
  tableLocation,
} from '../../shared/iceberg/index.ts';
import { currentSchema } from '../../shared/iceberg/snapshot-producer.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import {
  collect,
  joinedRows,
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

/** A clock that moves on by `step` ms every time it is read (a slow commit, a busy machine). */
function driftingClock(step: number): () => number {
  let t = Date.now();
  return () => {
    t += step;
    return t;
  };
}

describe('the reference readers on our tables', () => {
  it('an empty table: v1.metadata.json has current-snapshot-id -1 and both readers open it', async () => {
    const loc = tableLocation(wh.uri, 'default', 'empty');
    const table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const raw = JSON.parse(readFileSync(fileURLToPath(table.metadataUri), 'utf8')) as Record<string, unknown>;
    assert.equal(raw['current-snapshot-id'], -1);
    const c = await checkIceberg(loc, { expectRows: 0 });
    assert.ok(c.ok, formatIcebergCheck(c));
  });

  it('AS OF each snapshot`s own commit time finds that snapshot, with a clock that moves on mid-commit', async () => {
    const loc = tableLocation(wh.uri, 'default', 'drift');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const now = driftingClock(7);
    for (let i = 0; i < 6; i++) {
      const file = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 10, i % 2));
      table = (await appendBatches(table, [{ batchId: `b${i}`, files: [file] }], { now })).table;
    }
    assert.equal(table.metadata.snapshots.length, 6);
    for (const s of table.metadata.snapshots) {
      const logged = table.metadata.snapshotLog.find((e) => e.snapshotId === s.snapshotId);
      assert.equal(logged?.timestampMs, s.timestampMs, 'snapshot-log carries the snapshot`s own timestamp');
    }
    const c = await checkIceberg(loc, { expectRows: 60, key: 'order_id' });
    assert.ok(c.ok, formatIcebergCheck(c));
  });

  it('appends, a compaction (replace) and an expiry pass every check of both readers', async () => {
    const loc = tableLocation(wh.uri, 'default', 'maintained');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    for (let i = 0; i < 5; i++) {
      const file = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 10));
      table = (await appendBatches(table, [{ batchId: `m${i}`, files: [file] }])).table;
    }
    const live = await listDataFiles(table);
    const rows: Row[] = [];
    for (const e of live) {
      rows.push(
        ...(await collect(
          readDataFileRows(
            store,
            e.dataFile.filePath,
            e.dataFile.fileSizeInBytes,
            currentSchema(table.metadata),
          ),
        )),
      );
    }
    const merged = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
    table = (await rewriteFiles(table, { remove: live.map((e) => e.dataFile), add: [merged] })).table;
    const replace = table.metadata.snapshots.at(-1)!;
    assert.equal(replace.summary.operation, 'replace');
    assert.equal(replace.summary['manifests-replaced'], '5');
    table = (await expireSnapshots(table, { olderThanMs: Date.now() + 1000, retainLast: 3 })).table;
    const c = await checkIceberg(loc, { expectRows: 50, key: 'order_id' });
    assert.ok(c.ok, formatIcebergCheck(c));
  });
});
