// Crash injection between the steps of a commit (after manifests, after the manifest list, after the
// metadata file but before the version hint) and unknown write outcomes: a retry finishes the work with
// no lost or duplicated row or file and no reference to a missing file; orphans are cleaned up.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { StreamjoinError } from '../../shared/errors.ts';
import { setFaults } from '../../shared/faults.ts';
import {
  appendFiles,
  COMMIT_FAULT_POINTS,
  deleteOrphanFiles,
  listDataFiles,
  loadOrCreateTable,
  readDataFileRows,
  readRows,
  rewriteFiles,
  type Table,
  tableLocation,
  versionHintUri,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import {
  assertLinearHistory,
  batchIdCounts,
  collect,
  FaultyStore,
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
afterEach(() => setFaults(''));

const isCrash = (e: unknown) => e instanceof StreamjoinError && e.kind === 'injected-crash';
const orderIds = (rows: readonly Row[]) => rows.map((r) => String(r['order_id'])).sort();

async function seeded(name: string): Promise<{ table: Table; rows: Row[] }> {
  const loc = tableLocation(wh.uri, 'default', name);
  let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
  const rows = joinedRows(0, 6);
  const f = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
  table = (await appendFiles(table, [f], { batchIds: ['seed'] })).table;
  return { table, rows };
}

const POINTS = [
  { point: COMMIT_FAULT_POINTS.afterManifests, landed: false, minOrphans: 1 },
  { point: COMMIT_FAULT_POINTS.afterManifestList, landed: false, minOrphans: 2 },
  { point: COMMIT_FAULT_POINTS.afterMetadata, landed: true, minOrphans: 0 },
];

describe('crash during an append, then the retry', () => {
  for (const c of POINTS) {
    it(`crash at ${c.point}: the batch ends up committed exactly once`, async () => {
      const { table, rows } = await seeded(`append-${c.point}`);
      const newRows = joinedRows(100, 4, 1);
      const f = await writeDataFileOf(store, table.location, JOINED_TABLE, newRows);
      setFaults(`${c.point}=fail:1`);
      await assert.rejects(appendFiles(table, [f], { batchIds: ['b1'] }), isCrash);
      setFaults('');

      // The function is retried from scratch: load the table and commit the same staged batch again.
      const reloaded = await loadOrCreateTable(store, table.location, JOINED_TABLE);
      assert.equal(reloaded.version, c.landed ? 3 : 2);
      assert.equal((await store.read(versionHintUri(table.location))).toString(), String(reloaded.version));
      const r = await appendFiles(reloaded, [f], { batchIds: ['b1'] });
      assert.equal(r.snapshotId === undefined, c.landed, 'a landed commit is recognised by its batch id');
      const final = r.table;

      assert.equal(batchIdCounts(final).get('b1'), 1);
      assertLinearHistory(final);
      assert.deepEqual(orderIds(await collect(readRows(final))), orderIds([...rows, ...newRows]));
      assert.deepEqual(await missingReachableFiles(final), []);

      // Whatever the crashed attempt left behind is unreachable; orphan cleanup removes it, nothing else.
      const { deletedFiles } = await deleteOrphanFiles(final, { olderThanMs: Date.now() + 60_000 });
      assert.ok(deletedFiles.length >= c.minOrphans, `orphans: ${deletedFiles.join(', ')}`);
      assert.ok(deletedFiles.every((u) => u.includes('/metadata/') && !u.endsWith('.metadata.json')));
      assert.deepEqual(await missingReachableFiles(final), []);
      assert.equal((await collect(readRows(final))).length, rows.length + newRows.length);
    });
  }
});

describe('crash during a rewrite, then the retry', () => {
  for (const c of POINTS) {
    it(`crash at ${c.point}: rows unchanged, replace committed at most once`, async () => {
      const loc = tableLocation(wh.uri, 'default', `rewrite-${c.point}`);
      let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
      const all: Row[] = [];
      for (let i = 0; i < 3; i++) {
        const rows = joinedRows(i * 10, 4);
        all.push(...rows);
        table = (
          await appendFiles(table, [await writeDataFileOf(store, loc, JOINED_TABLE, rows)], {
            batchIds: [`b${i}`],
          })
        ).table;
      }
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
      const merged = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
      setFaults(`${c.point}=fail:1`);
      await assert.rejects(
        rewriteFiles(table, { remove: inputs.map((e) => e.dataFile), add: [merged] }),
        isCrash,
      );
      setFaults('');

      const reloaded = await loadOrCreateTable(store, loc, JOINED_TABLE);
      if (c.landed) {
        await assert.rejects(
          rewriteFiles(reloaded, { remove: inputs.map((e) => e.dataFile), add: [merged] }),
          (e: unknown) => e instanceof StreamjoinError && e.kind === 'conflict',
        );
        table = reloaded;
      } else {
        table = (await rewriteFiles(reloaded, { remove: inputs.map((e) => e.dataFile), add: [merged] }))
          .table;
      }
      const replaces = table.metadata.snapshots.filter((s) => s.summary.operation === 'replace');
      assert.equal(replaces.length, 1);
      assert.deepEqual(
        (await listDataFiles(table)).map((e) => e.dataFile.filePath),
        [merged.uri],
      );
      assert.deepEqual(orderIds(await collect(readRows(table))), orderIds(all));
      assert.deepEqual(await missingReachableFiles(table), []);
      assertLinearHistory(table);
    });
  }
});

describe('unknown outcome of the metadata write', () => {
  it('written but reported as failed: resolved by re-reading, one snapshot', async () => {
    const faulty = new FaultyStore(store);
    const loc = tableLocation(wh.uri, 'default', 'unknown-landed');
    let table = await loadOrCreateTable(faulty, loc, JOINED_TABLE);
    const f = await writeDataFileOf(faulty, loc, JOINED_TABLE, joinedRows(0, 3));
    faulty.failWrites(/\/v2\.metadata\.json$/, 'fail-after');
    const r = await appendFiles(table, [f], { batchIds: ['u1'] });
    assert.ok(r.snapshotId !== undefined);
    assert.equal(r.attempts, 1);
    table = r.table;
    assert.equal(table.version, 2);
    assert.equal(table.metadata.snapshots.length, 1);
    assert.equal(table.metadata.currentSnapshotId, r.snapshotId);
    assert.equal((await collect(readRows(table))).length, 3);
  });

  it('not written and reported as failed: retried on the re-read base, one snapshot', async () => {
    const faulty = new FaultyStore(store);
    const loc = tableLocation(wh.uri, 'default', 'unknown-lost');
    const table = await loadOrCreateTable(faulty, loc, JOINED_TABLE);
    const f = await writeDataFileOf(faulty, loc, JOINED_TABLE, joinedRows(0, 3));
    faulty.failWrites(/\/v2\.metadata\.json$/, 'fail-before', 2);
    const r = await appendFiles(table, [f], { batchIds: ['u2'], baseDelayMs: 1 });
    assert.equal(r.attempts, 3);
    assert.equal(r.table.metadata.snapshots.length, 1);
    assert.equal(batchIdCounts(r.table).get('u2'), 1);
    assert.deepEqual(await missingReachableFiles(r.table), []);
  });

  it('a permanent error is not retried', async () => {
    const faulty = new FaultyStore(store);
    const loc = tableLocation(wh.uri, 'default', 'permanent');
    const table = await loadOrCreateTable(faulty, loc, JOINED_TABLE);
    const f = await writeDataFileOf(faulty, loc, JOINED_TABLE, joinedRows(0, 3));
    const denied = new StreamjoinError('config', 'permission denied', { retryable: false });
    let metadataWrites = 0;
    const write = faulty.write.bind(faulty);
    faulty.write = async (uri, data, options) => {
      if (!uri.endsWith('.metadata.json')) return write(uri, data, options);
      metadataWrites++;
      throw denied;
    };
    await assert.rejects(appendFiles(table, [f], { batchIds: ['p'] }), (e: unknown) => e === denied);
    assert.equal(metadataWrites, 1);
  });
});
