// Row-level deletes by another engine (merge-on-read, committed by test/interop/commit_deletes.py as
// Spark would): our reader applies position and equality deletes; compaction leaves data files that
// have deletes alone; and a rewrite planned before such a delete landed is refused at commit
// (guard compact.rewrite-delete-validation) — otherwise its copies would bring the deleted rows back.
// Row sets are checked with pyiceberg 0.9.1 (position deletes applied) and Java Iceberg core.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { positionDeleteTargets } from '../../shared/iceberg/deletes-io.ts';
import {
  appendBatches,
  listDataFiles,
  loadOrCreateTable,
  loadTable,
  readDataFileRows,
  readRows,
  rewriteFiles,
  type Table,
  tableLocation,
} from '../../shared/iceberg/index.ts';
import { listLiveFiles } from '../../shared/iceberg/reader.ts';
import { currentSchema } from '../../shared/iceberg/snapshot-producer.ts';
import { planRewrite, rewriteCandidates } from '../../shared/pipeline/compact.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import { commitDeletes } from '../support/foreign.ts';
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

/** A table with `files` data files of 10 rows each (o-0 … o-<10*files-1>), all on one day. */
async function tableWith(name: string, files: number): Promise<Table> {
  const loc = tableLocation(wh.uri, 'default', name);
  let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
  for (let i = 0; i < files; i++) {
    const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 10));
    table = (await appendBatches(table, [{ batchId: `${name}-${i}`, files: [f] }])).table;
  }
  return table;
}

/** order_id of every current row as pyiceberg 0.9.1 reads it (deletes applied), sorted. */
async function pyicebergOrderIds(table: Table): Promise<string[]> {
  const csv = path.join(await mkdtemp(path.join(tmpdir(), 'rows-')), 'rows.csv');
  const c = await checkIceberg(table.location, { only: 'pyiceberg', rowsCsv: csv, key: 'order_id' });
  assert.ok(c.ok, formatIcebergCheck(c));
  return readFileSync(csv, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => JSON.parse(line.split(',')[0]!) as string)
    .sort();
}

async function ourOrderIds(table: Table): Promise<string[]> {
  return (await collect(readRows(table))).map((r) => String(r['order_id'])).sort();
}

const ids = (from: number, to: number, except: readonly string[] = []) =>
  Array.from({ length: to - from }, (_, i) => `o-${from + i}`)
    .filter((id) => !except.includes(id))
    .sort();

describe('row-level deletes by another engine', () => {
  it('our reader applies position deletes, as pyiceberg does', async () => {
    let table = await tableWith('pos', 2);
    const [first] = await listDataFiles(table);
    commitDeletes(table.location, {
      mode: 'position',
      rows: [
        { file_path: first!.dataFile.filePath, pos: 2 },
        { file_path: first!.dataFile.filePath, pos: 7 },
      ],
    });
    table = await loadTable(store, table.location);
    const firstIds = (
      await collect(
        readDataFileRows(
          store,
          first!.dataFile.filePath,
          first!.dataFile.fileSizeInBytes,
          currentSchema(table.metadata),
        ),
      )
    ).map((r) => String(r['order_id']));
    const gone = [firstIds[2]!, firstIds[7]!];
    assert.deepEqual(await ourOrderIds(table), ids(0, 20, gone));
    assert.deepEqual(await pyicebergOrderIds(table), ids(0, 20, gone));
    const java = await checkIceberg(table.location, { only: 'java' });
    assert.ok(java.ok, formatIcebergCheck(java));
  });

  it('our reader applies equality deletes (Java plans them; pyiceberg 0.9.1 cannot read them)', async () => {
    let table = await tableWith('eq', 2);
    commitDeletes(table.location, { mode: 'equality', column: 'order_id', values: ['o-3', 'o-14', 'o-99'] });
    table = await loadTable(store, table.location);
    assert.deepEqual(await ourOrderIds(table), ids(0, 20, ['o-3', 'o-14']));
    const java = await checkIceberg(table.location, { only: 'java' });
    assert.ok(java.ok, formatIcebergCheck(java));
    // Rows appended after the delete are not affected by it (its sequence number is lower).
    const f = await writeDataFileOf(store, table.location, JOINED_TABLE, [joinedRows(3, 1)[0]!]);
    table = (await appendBatches(table, [{ batchId: 'eq-after', files: [f] }])).table;
    assert.deepEqual(await ourOrderIds(table), [...ids(0, 20, ['o-3', 'o-14']), 'o-3'].sort());
  });

  it('compaction leaves data files that have deletes alone', async () => {
    let table = await tableWith('skip', 4);
    const files = await listDataFiles(table);
    commitDeletes(table.location, {
      mode: 'position',
      rows: [{ file_path: files[1]!.dataFile.filePath, pos: 0 }],
    });
    table = await loadTable(store, table.location);
    const live = await listLiveFiles(table);
    const candidates = rewriteCandidates(
      table.metadata,
      live,
      await positionDeleteTargets(store, live.deletes),
    );
    assert.deepEqual(
      candidates.map((c) => c.dataFile.filePath).sort(),
      files
        .filter((_, i) => i !== 1)
        .map((f) => f.dataFile.filePath)
        .sort(),
    );
    const groups = planRewrite(candidates, { targetFileSize: 1 << 30, minFilesToCompact: 2 });
    assert.ok(groups.flat().every((g) => g.dataFile.filePath !== files[1]!.dataFile.filePath));
  });

  it('a rewrite planned before another engine deleted rows of its inputs is refused; the rows stay deleted', async () => {
    let table = await tableWith('race', 3);
    // Compaction plans on this snapshot: reads the three files and writes their rows into one.
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
    const merged = await writeDataFileOf(store, table.location, JOINED_TABLE, rows);
    // Meanwhile another engine deletes two rows of the second file (merge-on-read).
    const victim = live[1]!.dataFile.filePath;
    const victimIds = (
      await collect(
        readDataFileRows(store, victim, live[1]!.dataFile.fileSizeInBytes, currentSchema(table.metadata)),
      )
    ).map((r) => String(r['order_id']));
    commitDeletes(table.location, {
      mode: 'position',
      rows: [
        { file_path: victim, pos: 1 },
        { file_path: victim, pos: 4 },
      ],
    });
    const deleted = [victimIds[1]!, victimIds[4]!];
    // The rewrite commits on the refreshed table: it must see the deletes and refuse.
    await assert.rejects(rewriteFiles(table, { remove: live.map((e) => e.dataFile), add: [merged] }), {
      name: 'StreamjoinError',
      kind: 'conflict',
      message: /expected no row-level deletes on the files to replace, but 1 have some/,
    });
    table = await loadTable(store, table.location);
    assert.equal(table.metadata.snapshots.at(-1)?.summary.operation, 'delete');
    assert.deepEqual(await pyicebergOrderIds(table), ids(0, 30, deleted));
    assert.deepEqual(await ourOrderIds(table), ids(0, 30, deleted));
  });
});
