// The same Iceberg table operations on gs:// through the real @google-cloud/storage client and the local
// JSON-API server: create-only commits race correctly (ifGenerationMatch=0), rows read back by range
// reads, expiry and orphan cleanup list and delete through the API.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGcsServer } from '../../infra/local/gcs-server/index.ts';
import {
  appendBatches,
  deleteOrphanFiles,
  expireSnapshots,
  loadOrCreateTable,
  loadTable,
  readRows,
  tableLocation,
  versionHintUri,
} from '../../shared/iceberg/index.ts';
import { createStorageClient, GcsObjectStore, type ObjectStore } from '../../shared/storage/index.ts';
import { JOINED_TABLE } from '../../shared/tables.ts';
import {
  assertLinearHistory,
  batchIdCounts,
  collect,
  joinedRows,
  missingReachableFiles,
  writeDataFileOf,
} from '../unit/iceberg/support.ts';

let store: ObjectStore;
let close: () => Promise<void>;
before(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'iceberg-gcs-'));
  const server = await startGcsServer({ dataDir: dir, port: 0 });
  const storage = createStorageClient({ projectId: 'iceberg-gcs', emulatorHost: server.url });
  await storage.createBucket('iceberg-warehouse');
  store = new GcsObjectStore(storage);
  close = async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  };
});
after(async () => {
  await close();
});

describe('iceberg on gs://', () => {
  it('concurrent appends, reads, expiry and orphan cleanup', async () => {
    const loc = tableLocation('gs://iceberg-warehouse/warehouse', 'default', 'orders_payments');
    const tables = await Promise.all(
      Array.from({ length: 3 }, () => loadOrCreateTable(store, loc, JOINED_TABLE)),
    );
    assert.equal(new Set(tables.map((t) => t.metadata.tableUuid)).size, 1);
    const table = tables[0]!;
    const batches = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => ({
        batchId: `g${i}`,
        files: [await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 100, 6, i % 2))],
      })),
    );
    // Four runs on the same batches and four on one batch each, all at once.
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => appendBatches(table, batches, { baseDelayMs: 5, maxAttempts: 30 })),
      ...batches.map((b) => appendBatches(table, [b], { baseDelayMs: 5, maxAttempts: 30 })),
    ]);
    assert.deepEqual(results.flatMap((r) => r.committedBatchIds).sort(), ['g0', 'g1', 'g2', 'g3']);
    let final = await loadTable(store, loc);
    assertLinearHistory(final);
    assert.deepEqual([...batchIdCounts(final).values()], [1, 1, 1, 1]);
    assert.equal((await collect(readRows(final))).length, 24);
    assert.equal((await store.read(versionHintUri(loc))).toString(), String(final.version));
    assert.deepEqual(await missingReachableFiles(final), []);

    final = (await expireSnapshots(final, { olderThanMs: Date.now() + 1000, retainLast: 1 })).table;
    assert.equal(final.metadata.snapshots.length, 1);
    await store.write(`${loc}/data/stray.parquet`, 'junk');
    const orphans = await deleteOrphanFiles(final, { olderThanMs: Date.now() + 60_000 });
    assert.ok(orphans.deletedFiles.includes(`${loc}/data/stray.parquet`));
    assert.deepEqual(await missingReachableFiles(orphans.table), []);
    assert.equal((await collect(readRows(orphans.table))).length, 24);
  });
});
