// Table maintenance on a file:// table: manifest merging keeps the manifest count bounded, snapshot
// expiry deletes exactly the files only expired snapshots reached, orphan cleanup respects its window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  appendFiles,
  deleteOrphanFiles,
  expireSnapshots,
  listDataFiles,
  listSnapshots,
  loadOrCreateTable,
  loadTable,
  ManifestCache,
  readDataFileRows,
  readManifestList,
  readRows,
  rewriteFiles,
  type SnapshotId,
  type Table,
  tableLocation,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import {
  assertLinearHistory,
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

async function listAll(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.uri);
  return out.sort();
}

describe('manifest merging', () => {
  it('a snapshot never references more than minCountToMerge + 1 manifests; every snapshot stays readable', async () => {
    const loc = tableLocation(wh.uri, 'default', 'merge');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const merge = { minCountToMerge: 4, targetSizeBytes: 8 * 1024 * 1024 };
    const history: { id: SnapshotId; rows: number }[] = [];
    let total = 0;
    for (let i = 0; i < 14; i++) {
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 3, i % 4));
      table = (await appendFiles(table, [f], { batchIds: [`m${i}`], merge })).table;
      total += 3;
      history.push({ id: table.metadata.currentSnapshotId!, rows: total });
      const manifests = await readManifestList(store, table.metadata.snapshots.at(-1)!.manifestList);
      assert.ok(
        manifests.length <= merge.minCountToMerge + 1,
        `snapshot ${i} has ${manifests.length} manifests`,
      );
      assert.equal(
        manifests.reduce((n, m) => n + m.addedRowsCount + m.existingRowsCount, 0),
        total,
      );
    }
    const merged = table.metadata.snapshots.filter((s) => Number(s.summary['manifests-created']) > 1);
    assert.ok(merged.length >= 2, 'expected some commits to merge manifests');
    for (const h of history)
      assert.equal((await collect(readRows(table, { snapshotId: h.id }))).length, h.rows);
    // Merged entries keep their original data sequence numbers.
    const seqs = (await listDataFiles(table)).map((e) => e.sequenceNumber).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
  });
});

describe('snapshot expiry', () => {
  it('expires old snapshots and deletes the data, manifests and metadata only they reached', async () => {
    const loc = tableLocation(wh.uri, 'default', 'expire');
    let table: Table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const merge = { minCountToMerge: 3, targetSizeBytes: 8 * 1024 * 1024 };
    for (let i = 0; i < 6; i++) {
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 4));
      table = (await appendFiles(table, [f], { batchIds: [`e${i}`], merge })).table;
    }
    // Compact everything into one file, then append once more.
    const inputs = await listDataFiles(table);
    const rows: Row[] = [];
    for (const e of inputs) {
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
    const compacted = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
    table = (
      await rewriteFiles(table, { remove: inputs.map((e) => e.dataFile), add: [compacted] }, { merge })
    ).table;
    const last = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(900, 2));
    table = (await appendFiles(table, [last], { batchIds: ['e-last'], merge })).table;
    const allRows = await collect(readRows(table));
    assert.equal(allRows.length, 26);
    const dataBefore = await listAll(`${loc}/data/`);
    assert.equal(dataBefore.length, 8);

    // Nothing is old enough yet.
    const none = await expireSnapshots(table, { olderThanMs: 0, retainLast: 1 });
    assert.deepEqual(none.expiredSnapshotIds, []);

    const r = await expireSnapshots(table, { olderThanMs: Date.now() + 1000, retainLast: 2 });
    table = r.table;
    assert.equal(r.expiredSnapshotIds.length, 6);
    assert.equal(listSnapshots(table).length, 2);
    assert.equal(table.metadata.snapshots[0]?.summary.operation, 'replace');
    // The six pre-compaction data files are gone; the compacted and the last file stay.
    assert.deepEqual(await listAll(`${loc}/data/`), [compacted.uri, last.uri].sort());
    for (const s of r.expiredSnapshotIds)
      assert.ok(!table.metadata.snapshots.some((x) => x.snapshotId === s));
    assert.deepEqual(await missingReachableFiles(table), []);
    assert.equal((await collect(readRows(table))).length, 26);
    assert.equal(
      (await collect(readRows(table, { snapshotId: table.metadata.snapshots[0]!.snapshotId }))).length,
      24,
    );
    // No file left that nothing reaches (expiry cleaned up after itself).
    const leftovers = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, dryRun: true });
    assert.deepEqual(leftovers.deletedFiles, []);
    assertLinearHistory(table);
    const reloaded = await loadTable(store, loc);
    assert.equal(reloaded.version, table.version);
  });
});

describe('orphan files', () => {
  it('deletes unreachable objects older than the window, nothing else', async () => {
    const loc = tableLocation(wh.uri, 'default', 'orphans');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(0, 5));
    table = (await appendFiles(table, [f], { batchIds: ['o1'] })).table;
    const stray = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(50, 5));
    await store.write(`${loc}/metadata/leftover-m0.avro`, 'junk');

    const young = await deleteOrphanFiles(table, { olderThanMs: Date.now() - 3_600_000 });
    assert.deepEqual(young.deletedFiles, []);
    assert.ok((await store.stat(stray.uri)) !== undefined);

    const dry = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, dryRun: true });
    assert.deepEqual(dry.deletedFiles.sort(), [`${loc}/metadata/leftover-m0.avro`, stray.uri].sort());
    assert.ok((await store.stat(stray.uri)) !== undefined);

    const r = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000 });
    assert.deepEqual(r.deletedFiles.sort(), dry.deletedFiles.sort());
    assert.equal(await store.stat(stray.uri), undefined);
    assert.deepEqual(await missingReachableFiles(r.table), []);
    assert.equal((await collect(readRows(r.table))).length, 5);
  });
});

describe('orphan cleanup with a manifest cache', () => {
  it('a warm cache reads only what the new snapshots added; a cold one reads every manifest list and manifest', async () => {
    const loc = tableLocation(wh.uri, 'default', 'orphan-cache');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    for (let i = 0; i < 5; i++) {
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 10, 3));
      table = (await appendFiles(table, [f], { batchIds: [`c${i}`] })).table;
    }
    const cache = new ManifestCache();
    const cold = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, cache });
    assert.deepEqual(cold.deletedFiles, []);
    const manifests = new Set<string>();
    for (const s of table.metadata.snapshots)
      for (const m of await readManifestList(store, s.manifestList)) manifests.add(m.manifestPath);
    assert.deepEqual(cold.read, { manifestLists: 5, manifests: manifests.size });

    const again = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, cache });
    assert.deepEqual(again.read, { manifestLists: 0, manifests: 0 });

    const f = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(100, 3));
    table = (await appendFiles(table, [f], { batchIds: ['c5'] })).table;
    const newest = await readManifestList(store, table.metadata.snapshots.at(-1)!.manifestList);
    const unseen = newest.filter((m) => !manifests.has(m.manifestPath)).length;
    const warm = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, cache });
    assert.deepEqual(warm.deletedFiles, []);
    assert.deepEqual(warm.read, { manifestLists: 1, manifests: unseen });
    // A stray file still goes (found with the cache, confirmed by a fresh read).
    const stray = await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(200, 3));
    const r = await deleteOrphanFiles(table, { olderThanMs: Date.now() + 1000, cache });
    assert.deepEqual(r.deletedFiles, [stray.uri]);
    assert.deepEqual(await missingReachableFiles(r.table), []);
  });

  it('a manifest rewritten in place after the cache read it: the file it now references is kept', async () => {
    // Iceberg writers never reuse a manifest name, but the cache must not be the only judge: a restored
    // backup or a non-conforming writer could change a path's content. Table A's only manifest is
    // replaced by one listing A's file and a second file of A (written by table B's append, whose data
    // file paths point into A's data folder).
    const locA = tableLocation(wh.uri, 'default', 'orphan-cache-a');
    const locB = tableLocation(wh.uri, 'default', 'orphan-cache-b');
    let a = await loadOrCreateTable(store, locA, JOINED_TABLE);
    const first = await writeDataFileOf(store, locA, JOINED_TABLE, joinedRows(0, 4));
    a = (await appendFiles(a, [first], { batchIds: ['a1'] })).table;
    const second = await writeDataFileOf(store, locA, JOINED_TABLE, joinedRows(10, 4));
    let b = await loadOrCreateTable(store, locB, JOINED_TABLE);
    b = (await appendFiles(b, [first, second], { batchIds: ['b1'] })).table;

    const cache = new ManifestCache();
    // The cache learns A's manifest (the dry run reports `second` as an orphan: so far it is one).
    const before = await deleteOrphanFiles(a, { olderThanMs: Date.now() + 1000, cache, dryRun: true });
    assert.deepEqual(before.deletedFiles, [second.uri]);
    const [manifestA] = await readManifestList(store, a.metadata.snapshots[0]!.manifestList);
    const [manifestB] = await readManifestList(store, b.metadata.snapshots[0]!.manifestList);
    await store.write(manifestA!.manifestPath, await store.read(manifestB!.manifestPath));
    assert.equal((await collect(readRows(a))).length, 8, 'table A now has both files live');

    const r = await deleteOrphanFiles(a, { olderThanMs: Date.now() + 1000, cache });
    assert.deepEqual(r.deletedFiles, []);
    assert.ok((await store.stat(second.uri)) !== undefined, 'the file a live snapshot references is kept');
    assert.equal((await collect(readRows(r.table))).length, 8);
  });
});
