// Stale committers against expiry, on both real adapters (file:// and gs:// through the local GCS server):
// a committer whose base is far behind, or that pauses at any step while others commit and expiry deletes
// old metadata files, never makes its commit the table's current version unless it is the successor of
// the head (guard iceberg.fork-protection); version-hint.text never moves back (iceberg.hint-monotonic).
// Every table is checked with the reference readers (pyiceberg and Java Iceberg, ../shared/readers).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGcsServer } from '../../infra/local/gcs-server/index.ts';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import {
  appendFiles,
  commitWithRetry,
  createTable,
  expireSnapshots,
  loadOrCreateTable,
  loadTable,
  metadataUriFor,
  readRows,
  type Table,
  tableLocation,
  versionHintUri,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createStorageClient, GcsObjectStore, type ObjectStore } from '../../shared/storage/index.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import { GatedStore } from '../support/gated-store.ts';
import { relocateGcsTable } from '../support/relocate-table.ts';
import { collect, joinedRows, writeDataFileOf } from '../unit/iceberg/support.ts';

/** One real adapter: where tables go, and how to hand one to the reference readers. */
interface Adapter {
  readonly name: string;
  readonly store: ObjectStore;
  location(table: string): string;
  /** A local directory the reference readers can open for the table at `location`. */
  localDir(location: string): Promise<string>;
  close(): Promise<void>;
}

async function fileAdapter(): Promise<Adapter> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iceberg-fork-'));
  return {
    name: 'file://',
    store: new FileObjectStore(),
    location: (t) => tableLocation(`file://${dir}`, 'default', t),
    localDir: async (loc) => loc.slice('file://'.length),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

async function gcsAdapter(): Promise<Adapter> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'iceberg-fork-gcs-'));
  const server = await startGcsServer({ dataDir, port: 0, logLevel: 'silent' });
  const storage = createStorageClient({ projectId: 'iceberg-fork', emulatorHost: server.url });
  const bucket = 'iceberg-fork';
  await storage.createBucket(bucket);
  const copies = await mkdtemp(path.join(tmpdir(), 'iceberg-fork-copy-'));
  let n = 0;
  return {
    name: 'gs://',
    store: new GcsObjectStore(storage),
    location: (t) => tableLocation(`gs://${bucket}/wh`, 'default', t),
    localDir: async (loc) => relocateGcsTable(dataDir, loc, path.join(copies, String(n++))),
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(copies, { recursive: true, force: true });
    },
  };
}

const orderIds = (rows: readonly Row[]) => rows.map((r) => String(r['order_id'])).sort();

/** `n` commits by other writers (a property each), as fast as commits go. */
async function othersCommit(table: Table, n: number): Promise<Table> {
  let t = table;
  for (let i = 0; i < n; i++) {
    const r = await commitWithRetry(
      t,
      async () => ({
        kind: 'commit',
        updates: [{ action: 'set-properties', updates: { 'test.other-writer': String(i) } }],
        requirements: [],
        attemptFiles: [],
      }),
      () => false,
    );
    t = r.table;
  }
  return t;
}

for (const make of [fileAdapter, gcsAdapter]) {
  describe(`stale committers and expiry (${make.name.replace('Adapter', '')})`, () => {
    let ad: Adapter;
    let store: ObjectStore;
    before(async () => {
      ad = await make();
      store = ad.store;
    });
    after(async () => {
      await ad.close();
    });

    /** v1 create, v2 `seed` append: the view a stale committer holds. */
    async function seeded(name: string): Promise<{ loc: string; v2: Table; seed: Row[] }> {
      const loc = ad.location(name);
      const t = await loadOrCreateTable(store, loc, JOINED_TABLE);
      const seed = joinedRows(0, 4);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, seed);
      const v2 = (await appendFiles(t, [f], { batchIds: ['seed'] })).table;
      assert.equal(v2.version, 2);
      return { loc, v2, seed };
    }

    /**
     * Others move the table on, append `more`, and expire, which deletes the metadata files below the
     * head's metadata-log, v3 among them: 150 versions with Java's default log of 100 (v1..v53 go), or
     * 8 after the first of them shortened the log to 3 (write.metadata.previous-versions-max).
     */
    async function othersRunAhead(
      loc: string,
      span: 'long' | 'short' = 'long',
    ): Promise<{ head: Table; more: Row[] }> {
      let t = await loadTable(store, loc);
      if (span === 'short') {
        t = (
          await commitWithRetry(
            t,
            async () => ({
              kind: 'commit',
              updates: [
                { action: 'set-properties', updates: { 'write.metadata.previous-versions-max': '3' } },
              ],
              requirements: [],
              attemptFiles: [],
            }),
            () => false,
          )
        ).table;
      }
      t = await othersCommit(t, span === 'long' ? 150 : 7);
      const more = joinedRows(100, 4, 1);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, more);
      t = (await appendFiles(t, [f], { batchIds: ['more'] })).table;
      const ex = await expireSnapshots(t, { olderThanMs: Date.now() + 60_000, retainLast: 1 });
      assert.equal(ex.expiredSnapshotIds.length, 1);
      assert.ok(ex.deletedFiles.includes(metadataUriFor(loc, 3)), 'expiry deleted the old metadata files');
      assert.equal(await store.stat(metadataUriFor(loc, 3)), undefined);
      return { head: ex.table, more };
    }

    async function hint(loc: string): Promise<number> {
      return Number((await store.read(versionHintUri(loc))).toString('utf8'));
    }

    /** What readers see (hint, then forward, as Java's HadoopTableOperations), checked by both reference readers. */
    async function assertReaders(loc: string, expected: readonly Row[]): Promise<Table> {
      const t = await loadTable(store, loc);
      assert.deepEqual(orderIds(await collect(readRows(t))), orderIds(expected));
      const c = await checkIceberg(await ad.localDir(loc), { expectRows: expected.length, key: 'order_id' });
      assert.ok(c.ok, formatIcebergCheck(c));
      return t;
    }

    it('a committer 150 versions stale after expiry deleted old metadata commits on the head, not on a re-created v3', async () => {
      const { loc, v2, seed } = await seeded('stale-150');
      const { head, more } = await othersRunAhead(loc);
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);

      const r = await appendFiles(v2, [f], { batchIds: ['late'] });
      assert.equal(r.table.version, head.version + 1);
      assert.equal(await store.stat(metadataUriFor(loc, 3)), undefined, 'no fork at v3');
      assert.equal(await hint(loc), head.version + 1);
      const t = await assertReaders(loc, [...seed, ...more, ...late]);
      assert.equal(t.version, head.version + 1);
    });

    it('paused between planning and its metadata write while others commit and expiry deletes its base: its re-created version is removed and the outcome is unknown, never a success', async () => {
      const { loc, v2, seed } = await seeded('paused-before-write');
      const gated = new GatedStore(store);
      const gate = gated.gate('write', /\/v3\.metadata\.json$/);
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);
      const stale = appendFiles({ ...v2, store: gated }, [f], { batchIds: ['late'] });
      const settled = stale.then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      await gate.reached;
      const { head, more } = await othersRunAhead(loc, 'short');
      gate.release();
      const outcome = await settled;
      assert.ok(
        !outcome.ok,
        `expected the stale commit to fail, but it reported success at v${outcome.ok ? outcome.r.table.version : ''}`,
      );
      assert.ok(
        outcome.e instanceof StreamjoinError && outcome.e.kind === 'state-unknown',
        `expected state-unknown, got ${String(outcome.e)}`,
      );
      assert.equal(await store.stat(metadataUriFor(loc, 3)), undefined, 'the re-created v3 was removed');
      assert.equal(await hint(loc), head.version, 'the hint did not move back');
      await assertReaders(loc, [...seed, ...more]);

      // Checked and retried from the head: committed exactly once.
      const retry = await appendFiles(await loadOrCreateTable(store, loc, JOINED_TABLE), [f], {
        batchIds: ['late'],
      });
      assert.equal(retry.table.version, head.version + 1);
      await assertReaders(loc, [...seed, ...more, ...late]);
    });

    it('paused after its metadata write while others commit on top: a committed ancestor, and the hint never moves back', async () => {
      const { loc, v2, seed } = await seeded('paused-after-write');
      const gated = new GatedStore(store);
      const gate = gated.gate('write', /\/v3\.metadata\.json$/, 'after');
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);
      const slow = appendFiles({ ...v2, store: gated }, [f], { batchIds: ['late'] });
      await gate.reached;
      const head = await othersCommit(await loadTable(store, loc), 5);
      assert.equal(head.version, 8);
      gate.release();
      const r = await slow;
      assert.equal(await hint(loc), 8, 'the hint did not move back to v3');
      assert.ok(r.snapshotId !== undefined);
      assert.equal(r.table.version, 8, 'the outcome carries the head, which descends from v3');
      await assertReaders(loc, [...seed, ...late]);
    });

    it('paused before its metadata write while others commit: loses the race and re-plans on the head', async () => {
      const { loc, v2, seed } = await seeded('paused-lost-race');
      const gated = new GatedStore(store);
      const gate = gated.gate('write', /\/v3\.metadata\.json$/);
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);
      const slow = appendFiles({ ...v2, store: gated }, [f], { batchIds: ['late'] });
      await gate.reached;
      const other = joinedRows(300, 2, 3);
      const g = await writeDataFileOf(store, loc, JOINED_TABLE, other);
      const o = await appendFiles(await loadTable(store, loc), [g], { batchIds: ['other'] });
      await othersCommit(o.table, 2);
      gate.release();
      const r = await slow;
      assert.equal(r.table.version, 6);
      assert.ok(r.attempts >= 2);
      assert.equal(await hint(loc), 6);
      await assertReaders(loc, [...seed, ...other, ...late]);
    });

    it('a slow hint write after a newer commit does not move version-hint.text back', async () => {
      const { loc, v2, seed } = await seeded('slow-hint');
      const gated = new GatedStore(store);
      const gate = gated.gate('write', /\/version-hint\.text$/);
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);
      const slow = appendFiles({ ...v2, store: gated }, [f], { batchIds: ['late'] });
      await gate.reached; // v3 is committed, its hint write is on its way
      const other = joinedRows(300, 2, 3);
      const g = await writeDataFileOf(store, loc, JOINED_TABLE, other);
      const o = await appendFiles(await loadTable(store, loc), [g], { batchIds: ['other'] });
      assert.equal(o.table.version, 4);
      assert.equal(await hint(loc), 4);
      gate.release();
      const r = await slow;
      assert.equal(r.table.version, 3);
      assert.equal(await hint(loc), 4, 'the slow committer left the hint at the newer version');
      await assertReaders(loc, [...seed, ...late, ...other]);
    });

    it('write.metadata.delete-after-commit.enabled with a 3-entry log: old metadata goes with each commit, and a committer paused across it cannot fork the table', async () => {
      const { loc, v2, seed } = await seeded('delete-after-commit');
      const props = await commitWithRetry(
        v2,
        async () => ({
          kind: 'commit',
          updates: [
            {
              action: 'set-properties',
              updates: {
                'write.metadata.previous-versions-max': '3',
                'write.metadata.delete-after-commit.enabled': 'true',
              },
            },
          ],
          requirements: [],
          attemptFiles: [],
        }),
        () => false,
      );
      assert.equal(props.table.version, 3);
      const gated = new GatedStore(store);
      const gate = gated.gate('write', /\/v4\.metadata\.json$/);
      const late = joinedRows(200, 3, 2);
      const f = await writeDataFileOf(store, loc, JOINED_TABLE, late);
      const stale = appendFiles({ ...props.table, store: gated }, [f], { batchIds: ['late'] }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      await gate.reached;
      const head = await othersCommit(await loadTable(store, loc), 5);
      assert.equal(head.version, 8);
      const versions: number[] = [];
      for (let v = 1; v <= 8; v++)
        if ((await store.stat(metadataUriFor(loc, v))) !== undefined) versions.push(v);
      assert.deepEqual(versions, [5, 6, 7, 8], 'the head and the three files its log lists');
      gate.release();
      const outcome = await stale;
      assert.ok(!outcome.ok && outcome.e instanceof StreamjoinError && outcome.e.kind === 'state-unknown');
      assert.equal(await store.stat(metadataUriFor(loc, 4)), undefined, 'the re-created v4 was removed');
      assert.equal(await hint(loc), 8);
      await assertReaders(loc, seed);
      const retry = await appendFiles(await loadOrCreateTable(store, loc, JOINED_TABLE), [f], {
        batchIds: ['late'],
      });
      assert.equal(retry.table.version, 9);
      assert.equal(await store.stat(metadataUriFor(loc, 5)), undefined);
      await assertReaders(loc, [...seed, ...late]);
    });

    it('a creator that saw no table does not re-create v1 under a table whose v1 expiry deleted', async () => {
      const { loc, seed } = await seeded('recreate-v1');
      const { head, more } = await othersRunAhead(loc, 'short');
      assert.equal(await store.stat(metadataUriFor(loc, 1)), undefined);
      const t = await createTable(store, loc, JOINED_TABLE);
      assert.equal(t.version, head.version);
      assert.equal(t.metadata.tableUuid, head.metadata.tableUuid);
      assert.equal(await store.stat(metadataUriFor(loc, 1)), undefined, 'no fork at v1');
      assert.equal(await hint(loc), head.version);
      await assertReaders(loc, [...seed, ...more]);
    });
  });
}
