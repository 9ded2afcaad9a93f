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
import { refreshTable } from '../../shared/iceberg/table.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import { foreign, jsonl } from '../support/foreign.ts';
import {
  collect,
  joinedRows,
  type TempWarehouse,
  tempWarehouse,
  writeDataFileOf,
} from '../unit/iceberg/support.ts';

/** A joined row as another engine appends it (JSON for foreign-writer). */
function foreignJoinedRow(id: string) {
  return {
    order_id: id,
    order_date: '2024-05-01',
    created_at: '2024-05-01T10:00:00',
    customer_id: 'c-f',
    order_amount: 1,
    payment_id: `p-${id}`,
    payment_date: '2024-05-01',
    payment_amount: 2,
    joined_at: '2024-05-01T11:00:00Z',
  };
}

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

  it('a 200-snapshot history with another engine`s changes mixed in: every AS OF <commit time> is right', async () => {
    const loc = tableLocation(wh.uri, 'default', 'long-history');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const now = driftingClock(3);
    let rows = 0;
    const appended: string[] = [];
    const foreignOps = [
      async (i: number) => {
        await foreign('append', loc, ['--rows', '-'], jsonl([{ ...foreignJoinedRow(`F${i}`) }]));
        rows++;
      },
      async (i: number) => void (await foreign('set-property', loc, [`step=${i}`])),
      async (i: number) => void (await foreign('tag', loc, [`t${i}`])),
      async () => {
        const victim = appended.shift()!;
        await foreign('delete-where', loc, [`order_id = '${victim}'`]);
        rows--;
      },
    ];
    // Step i: another engine's change every 20th step (a property or a tag adds a metadata version but
    // no snapshot), our compaction every 10th, our append otherwise; until 200 snapshots.
    for (let i = 0; table.metadata.snapshots.length < 200; i++) {
      if (i % 20 === 4) {
        // Another engine: one of its changes every 20 commits (its own clock, its own process).
        await foreignOps[((i / 20) % foreignOps.length) | 0]!(i);
        table = await refreshTable(table);
      } else if (i % 10 === 9) {
        // Our compaction: every live file into one (keeps each snapshot's scan small for the readers).
        const live = await listDataFiles(table);
        const all: Row[] = [];
        for (const e of live) {
          all.push(
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
        const byDay = new Map<bigint, Row[]>();
        for (const r of all) {
          const day = (r['joined_at'] as bigint) / 86_400_000_000n;
          byDay.set(day, [...(byDay.get(day) ?? []), r]);
        }
        const merged = [];
        for (const part of byDay.values()) merged.push(await writeDataFileOf(store, loc, JOINED_TABLE, part));
        table = (await rewriteFiles(table, { remove: live.map((e) => e.dataFile), add: merged }, { now }))
          .table;
      } else {
        const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 2, 2, i % 3));
        appended.push(`o-${i * 2}`);
        table = (await appendBatches(table, [{ batchId: `h${i}`, files: [f] }], { now })).table;
        rows += 2;
      }
    }
    assert.ok(table.metadata.snapshots.some((s) => s.summary['engine-name'] === 'pyiceberg'));
    assert.ok(table.metadata.snapshots.length >= 200);
    const c = await checkIceberg(loc, { expectRows: rows, key: 'order_id' });
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
