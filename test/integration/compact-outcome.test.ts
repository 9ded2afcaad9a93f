// Compaction whose rewrite commit ends with an unknown outcome (the last attempt's metadata write timed
// out, and lands later): the rewrite reports 'state-unknown', not 'conflict', and keeps the compacted
// file (guard compact.keep-file-on-unknown-outcome), so when the write lands the table's rows are all
// there exactly once. On both real adapters, against the real Firestore emulator; every table is checked
// with the reference readers.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import {
  appendFiles,
  listDataFiles,
  loadOrCreateTable,
  loadTable,
  metadataUriFor,
  readRows,
} from '../../shared/iceberg/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { GcsObjectStore, type ObjectStore } from '../../shared/storage/index.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import { GatedStore } from '../support/gated-store.ts';
import { createHarness, type Harness } from '../support/harness.ts';
import { relocateGcsTable } from '../support/relocate-table.ts';
import { collect, joinedRows, writeDataFileOf } from '../unit/iceberg/support.ts';

let h: Harness;
before(async () => {
  h = await createHarness('compact-outcome', { STREAMJOIN_MIN_FILES_TO_COMPACT: '3' });
});
after(() => h.close());

const orderIds = (rows: readonly Row[]) => rows.map((r) => String(r['order_id'])).sort();

interface Adapter {
  readonly store: ObjectStore;
  readonly warehouse: string;
  localDir(location: string): Promise<string>;
  cleanup(): Promise<void>;
}

const adapters: Record<string, () => Promise<Adapter>> = {
  'file://': async () => ({
    store: new FileObjectStore(),
    warehouse: `file://${h.dir}/warehouse-outcome/`,
    localDir: async (loc) => loc.slice('file://'.length),
    cleanup: async () => {},
  }),
  'gs://': async () => {
    const bucket = 'compact-outcome';
    await h.storage.createBucket(bucket);
    const copy = path.join(h.dir, 'readers-copy');
    return {
      store: new GcsObjectStore(h.storage),
      warehouse: `gs://${bucket}/wh/`,
      localDir: async (loc) => relocateGcsTable(path.join(h.dir, 'gcs'), loc, copy),
      cleanup: () => rm(copy, { recursive: true, force: true }),
    };
  },
};

for (const [name, make] of Object.entries(adapters)) {
  describe(`compaction with an unknown commit outcome (${name})`, () => {
    it('the last rewrite attempt times out and lands later: the compacted file survives, every row exactly once', async () => {
      const ad = await make();
      try {
        const config = { ...h.config, warehouse: ad.warehouse };
        const loc = tableLocationOf(config, 'joined');
        let table = await loadOrCreateTable(ad.store, loc, JOINED_TABLE);
        const rows: Row[] = [];
        for (let i = 0; i < 4; i++) {
          const r = joinedRows(i * 10, 5);
          rows.push(...r);
          const f = await writeDataFileOf(ad.store, loc, JOINED_TABLE, r);
          table = (await appendFiles(table, [f], { batchIds: [`b${i}`] })).table;
        }
        const base = table.version;

        // Every write of the rewrite's metadata file times out for the caller and lands only later.
        const gated = new GatedStore(ad.store);
        const deferred = gated.deferWrites(new RegExp(`/v${base + 1}\\.metadata\\.json$`), 12);
        const deps: CompactDeps = {
          ...h.tickDeps(gated, config),
          commitOptions: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
        };
        const [result] = await runCompact(deps, { tables: ['joined'] });
        const compacted: string[] = [];
        for await (const o of ad.store.list(`${loc}/data/`)) {
          if (path.basename(o.uri).startsWith('compacted-')) compacted.push(o.uri);
        }
        assert.equal(compacted.length, 1, 'the compacted file was kept');
        assert.equal(await ad.store.stat(metadataUriFor(loc, base + 1)), undefined);
        assert.equal(result!.rewrittenFiles, 0);
        assert.equal(result!.rewritesUnknown, 1, 'reported as unknown, not as a lost race');
        assert.equal(deferred.count(), 3, 'each attempt wrote the metadata file once');

        // The timed-out writes land now: the first one is the table's next version.
        assert.deepEqual(await deferred.land(), ['ok', 'already-exists', 'already-exists']);
        const after = await loadTable(ad.store, loc);
        assert.equal(after.version, base + 1);
        assert.equal(after.metadata.snapshots.at(-1)!.summary['operation'], 'replace');
        assert.deepEqual(
          (await listDataFiles(after)).map((e) => e.dataFile.filePath),
          compacted,
          'the landed rewrite references the kept file',
        );
        assert.deepEqual(orderIds(await collect(readRows(after))), orderIds(rows));
        const c = await checkIceberg(await ad.localDir(loc), { expectRows: rows.length, key: 'order_id' });
        assert.ok(c.ok, formatIcebergCheck(c));

        // A later compaction finds nothing to undo.
        const [again] = await runCompact({ ...deps, store: ad.store }, { tables: ['joined'] });
        assert.equal(again!.rewritesUnknown, 0);
        assert.deepEqual(orderIds(await collect(readRows(await loadTable(ad.store, loc)))), orderIds(rows));
      } finally {
        await ad.cleanup();
      }
    });
  });
}
