// Compaction over a (shortened) day of appends, as the deployed pipeline runs it: micro-batch files
// appended to one day partition, runCompact after each append, against the real Firestore emulator and
// the local GCS server (gs://). Every snapshot written on the way — appends and rewrites — reads back with
// exactly the rows appended until then through pyiceberg 0.9.1 (time travel by snapshot id, each row's key
// compared) and plans the same number of rows in Java Iceberg core (check-iceberg's per-snapshot scan
// planning against the summaries); bytes rewritten stay within 3× the bytes appended and the partition
// keeps at most 8 small files. `npm run bench -- --only compaction` runs the full 288-append day.
//
// Then the table properties maintenance follows (write.target-file-size-bytes, history.expire.*,
// write.metadata.*), set by another engine, over the environment settings.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { checkIceberg, formatIcebergCheck, snapshotKeyDigests } from '../../infra/ops/check-iceberg.ts';
import {
  appendFiles,
  listDataFiles,
  loadOrCreateTable,
  loadTable,
  readRows,
} from '../../shared/iceberg/index.ts';
import { createLogger } from '../../shared/log.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { isSmallFile } from '../../shared/pipeline/compaction-policy.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { GcsObjectStore } from '../../shared/storage/index.ts';
import { JOINED_TABLE } from '../../shared/tables.ts';
import { foreign } from '../support/foreign.ts';
import { createHarness, type Harness } from '../support/harness.ts';
import { relocateGcsTable } from '../support/relocate-table.ts';
import { joinedRows, writeDataFileOf } from '../unit/iceberg/support.ts';

let h: Harness;
before(async () => {
  h = await createHarness('compaction-day', {
    STREAMJOIN_MIN_FILES_TO_COMPACT: '9',
    // A day of about six targets: rewrites roll into several outputs, and files near the target stay.
    STREAMJOIN_TARGET_FILE_SIZE: '16KiB',
    STREAMJOIN_ROW_GROUP_ROWS: '100',
  });
});
after(() => h.close());

const keysDigest = (keys: readonly string[]) =>
  createHash('sha256')
    .update([...keys].sort().join('\n'))
    .digest('hex');

describe('compaction over a day of appends (local GCS, Firestore emulator)', () => {
  it('every snapshot reads back with the rows appended so far (pyiceberg, Java); write amplification ≤ 3; at most 8 small files, 4 once quiet', async () => {
    const bucket = 'compaction-day';
    await h.storage.createBucket(bucket);
    const store = new GcsObjectStore(h.storage);
    // The day's partition goes quiet after it: merged down to 4 small files (the hot bound is 8 here).
    const config = { ...h.config, warehouse: `gs://${bucket}/wh/`, quietMaxSmallFiles: 4 };
    const deps: CompactDeps = h.tickDeps(store, config);
    const loc = tableLocationOf(config, 'joined');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    // snapshot id → the keys a reader must find in it
    const expected = new Map<string, string[]>();
    const keys: string[] = [];
    let appended = 0;
    let rewritten = 0;
    let replaces = 0;
    let maxSmall = 0;
    let next = 0;
    const APPENDS = 20;
    for (let a = 0; a < APPENDS; a++) {
      // A micro-batch: 2-3 files (one per tick) of 60-140 rows, all in one day partition.
      const files = [];
      for (let f = 0; f < 2 + (a % 2); f++) {
        const count = 60 + ((a * 37 + f * 53) % 81);
        const rows = joinedRows(next, count, 0);
        next += count;
        keys.push(...rows.map((r) => String(r['order_id'])));
        const file = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
        appended += file.fileSizeInBytes;
        files.push(file);
      }
      table = (await appendFiles(table, files, { batchIds: [`day-${a}`] })).table;
      expected.set(String(table.metadata.currentSnapshotId), [...keys]);
      const before = new Map((await listDataFiles(table)).map((e) => [e.dataFile.filePath, e.dataFile]));
      const [r] = await runCompact(deps, { tables: ['joined'] });
      table = await loadTable(store, loc);
      const liveAfter = await listDataFiles(table);
      const after = new Set(liveAfter.map((e) => e.dataFile.filePath));
      for (const [p, d] of before) if (!after.has(p)) rewritten += d.fileSizeInBytes;
      for (const s of table.metadata.snapshots) {
        if (!expected.has(String(s.snapshotId))) {
          assert.equal(s.summary['operation'], 'replace', 'compaction adds only replace snapshots');
          expected.set(String(s.snapshotId), [...keys]);
          replaces++;
        }
      }
      assert.equal(r!.rewritesUnknown, 0);
      const small = liveAfter.filter((e) =>
        isSmallFile(e.dataFile.fileSizeInBytes, {
          targetFileSize: config.targetFileSize,
          minFilesToCompact: 9,
        }),
      ).length;
      maxSmall = Math.max(maxSmall, small);
    }
    // The first run once the partition has been quiet for STREAMJOIN_COMPACT_QUIET_AFTER (the day is over).
    {
      const before = new Map((await listDataFiles(table)).map((e) => [e.dataFile.filePath, e.dataFile]));
      const later = Date.now() + config.compactQuietAfterMs + 60_000;
      await runCompact({ ...deps, now: () => later }, { tables: ['joined'] });
      table = await loadTable(store, loc);
      const after = new Set((await listDataFiles(table)).map((e) => e.dataFile.filePath));
      for (const [p, d] of before) if (!after.has(p)) rewritten += d.fileSizeInBytes;
      for (const s of table.metadata.snapshots) {
        if (!expected.has(String(s.snapshotId))) {
          assert.equal(s.summary['operation'], 'replace', 'the quiet run adds only replace snapshots');
          expected.set(String(s.snapshotId), [...keys]);
          replaces++;
        }
      }
    }
    const live = await listDataFiles(table);
    const total = live.reduce((n, e) => n + e.dataFile.fileSizeInBytes, 0);
    const smallAtEnd = live.filter((e) =>
      isSmallFile(e.dataFile.fileSizeInBytes, {
        targetFileSize: config.targetFileSize,
        minFilesToCompact: 9,
      }),
    ).length;
    assert.ok(smallAtEnd <= 4, `at most 4 small files once quiet, saw ${smallAtEnd}`);
    assert.ok(replaces >= 3, `compaction ran ${replaces} times`);
    assert.ok(
      live.some(
        (e) =>
          !isSmallFile(e.dataFile.fileSizeInBytes, {
            targetFileSize: config.targetFileSize,
            minFilesToCompact: 9,
          }),
      ),
      'some rewrites reached the target (rolling outputs, files then left alone)',
    );
    assert.ok(rewritten / appended <= 3, `bytes rewritten ÷ appended = ${(rewritten / appended).toFixed(2)}`);
    assert.ok(maxSmall <= 8, `at most 8 small files after each compaction, saw ${maxSmall}`);
    assert.ok(
      live.length <= 1 + total / config.targetFileSize + 8,
      `${live.length} files for ${total} bytes (target ${config.targetFileSize})`,
    );
    // Our own reader agrees before the reference readers look.
    const ours: string[] = [];
    for await (const row of readRows(table)) ours.push(String(row['order_id']));
    assert.equal(keysDigest(ours), keysDigest(keys));

    const copy = path.join(h.dir, 'day-copy');
    try {
      const dir = relocateGcsTable(path.join(h.dir, 'gcs'), loc, copy);
      // Both readers, every check (each snapshot scanned by pyiceberg, planned by Java against its summary).
      const c = await checkIceberg(dir, { expectRows: keys.length, key: 'order_id' });
      assert.ok(c.ok, formatIcebergCheck(c));
      // Java planned each snapshot's summary total-records; those are the rows appended until then.
      for (const s of table.metadata.snapshots) {
        assert.equal(Number(s.summary['total-records']), expected.get(String(s.snapshotId))!.length);
      }
      // pyiceberg read each snapshot: exactly the rows appended until then, each once.
      const read = await snapshotKeyDigests(dir, 'order_id');
      assert.equal(read.size, table.metadata.snapshots.length);
      for (const [id, want] of expected) {
        const got = read.get(id);
        assert.ok(got !== undefined, `pyiceberg lists snapshot ${id}`);
        assert.equal(got.rows, want.length, `snapshot ${id}: rows`);
        assert.equal(got.distinct, want.length, `snapshot ${id}: each row once`);
        assert.equal(got.keys_sha256, keysDigest(want), `snapshot ${id}: the same rows`);
      }
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('maintenance follows the table`s properties, the environment settings by default', () => {
  const store = new FileObjectStore();
  let run = 0;

  /** A file:// joined table with `appends` appends of 3 files of `rowsPerFile` rows; its deps with config overrides. */
  async function tableWith(
    appends: number,
    overrides: Partial<CompactDeps['config']> = {},
    rowsPerFile = 80,
  ) {
    run++;
    const config = {
      ...h.config,
      warehouse: `file://${h.dir}/props-${run}/`,
      ...overrides,
    };
    const warnings: string[] = [];
    // Warnings logged by maintenance (a table property it cannot use).
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        const line = JSON.parse(chunk.toString()) as {
          severity?: string;
          ignored?: string[];
          message?: string;
        };
        if (line.severity === 'WARNING') warnings.push(line.ignored?.join('; ') ?? line.message ?? '');
        done();
      },
    });
    const deps: CompactDeps = {
      db: h.fs.db,
      collections: h.collections,
      counter: h.counter,
      store,
      config,
      log: createLogger({ level: 'warn', destination: sink }),
    };
    const loc = tableLocationOf(config, 'joined');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    let n = 0;
    for (let a = 0; a < appends; a++) {
      const files = [];
      for (let f = 0; f < 3; f++) {
        files.push(await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(n, rowsPerFile, 0)));
        n += rowsPerFile;
      }
      table = (await appendFiles(table, files, { batchIds: [`p${a}`] })).table;
    }
    return { deps, loc, rows: n, warnings };
  }

  /** The table's live data files: path → size. */
  const liveFiles = async (loc: string) =>
    new Map(
      (await listDataFiles(await loadTable(store, loc))).map((e) => [
        e.dataFile.filePath,
        e.dataFile.fileSizeInBytes,
      ]),
    );

  it('write.target-file-size-bytes: outputs roll at the table`s size, not the setting`s; without it, at the setting`s', async () => {
    for (const c of [
      { name: 'property 32 KiB over setting 1 GiB', property: '32768', setting: 1 << 30, target: 32768 },
      { name: 'setting 32 KiB, no property', property: undefined, setting: 32768, target: 32768 },
      {
        name: 'property 1 GiB over setting 32 KiB',
        property: String(1 << 30),
        setting: 32768,
        target: 1 << 30,
      },
    ]) {
      // 12 files of 800 rows (about 8 KiB each): more than 2 × 32 KiB in all.
      const t = await tableWith(
        4,
        { targetFileSize: c.setting, rowGroupRows: 100, minFilesToCompact: 9 },
        800,
      );
      if (c.property !== undefined)
        await foreign('set-property', t.loc, [`write.target-file-size-bytes=${c.property}`]);
      const before = await liveFiles(t.loc);
      const [r] = await runCompact(t.deps, { tables: ['joined'] });
      const outputs = [...(await liveFiles(t.loc))]
        .filter(([p]) => !before.has(p))
        .map(([, size]) => size)
        .sort((a, b) => a - b);
      if (c.target === 32768) {
        // A run takes at most 2 × target bytes of input: some of the 12 files, rolled into ≥ 2 outputs,
        // each but the smallest closed once it reached the target.
        assert.ok(r!.rewrittenFiles >= 2 && r!.rewrittenFiles < 12, `${c.name}: ${r!.rewrittenFiles}`);
        assert.ok(outputs.length >= 2, `${c.name}: ${outputs.length} outputs`);
        assert.ok(
          outputs.slice(1).every((s) => s >= 32768),
          `${c.name}: ${outputs.join(', ')}`,
        );
      } else {
        assert.equal(r!.rewrittenFiles, 12, c.name);
        assert.equal(outputs.length, 1, `${c.name}: ${outputs.join(', ')}`);
      }
      let rows = 0;
      for await (const _ of readRows(await loadTable(store, t.loc))) rows++;
      assert.equal(rows, t.rows);
    }
  });

  it('history.expire.*: the table`s age and minimum win over the settings; a bad value is ignored with a warning', async () => {
    const day = 86_400_000;
    for (const c of [
      {
        name: 'no properties: 7-day setting keeps all',
        properties: [],
        expectedSnapshots: 4,
      },
      {
        name: 'max-snapshot-age-ms=1000, min-snapshots-to-keep=2: two kept',
        properties: ['history.expire.max-snapshot-age-ms=1000', 'history.expire.min-snapshots-to-keep=2'],
        expectedSnapshots: 2,
      },
      {
        name: 'max-snapshot-age-ms=1000 alone: the setting`s minimum (3)',
        properties: ['history.expire.max-snapshot-age-ms=1000'],
        expectedSnapshots: 3,
      },
      {
        name: 'max-snapshot-age-ms=soon (not a number): ignored, the 7-day setting keeps all',
        properties: ['history.expire.max-snapshot-age-ms=soon'],
        expectedSnapshots: 4,
        warning: /history\.expire\.max-snapshot-age-ms="soon"/,
      },
    ]) {
      const t = await tableWith(4, {
        snapshotRetentionMs: 7 * day,
        minSnapshotsToKeep: 3,
        minFilesToCompact: 100,
      });
      if (c.properties.length > 0) await foreign('set-property', t.loc, c.properties);
      // One minute later (the snapshots are older than 1 s, far younger than 7 days).
      const [r] = await runCompact({ ...t.deps, now: () => Date.now() + 60_000 }, { tables: ['joined'] });
      const table = await loadTable(store, t.loc);
      assert.equal(table.metadata.snapshots.length, c.expectedSnapshots, c.name);
      assert.equal(r!.expiredSnapshots, 4 - c.expectedSnapshots, c.name);
      if (c.warning !== undefined)
        assert.ok(
          t.warnings.some((w) => c.warning.test(w)),
          t.warnings.join('\n'),
        );
      else assert.deepEqual(t.warnings, []);
      let rows = 0;
      for await (const _ of readRows(table)) rows++;
      assert.equal(rows, t.rows);
      if (c.expectedSnapshots === 2) {
        const check = await checkIceberg(t.loc, { expectRows: t.rows, key: 'order_id' });
        assert.ok(check.ok, formatIcebergCheck(check));
      }
    }
  });

  it('write.metadata.previous-versions-max and delete-after-commit.enabled: compaction`s commits keep the log short and delete what falls off', async () => {
    const t = await tableWith(6, { minFilesToCompact: 9, targetFileSize: 64 * 1024, rowGroupRows: 100 });
    await foreign('set-property', t.loc, [
      'write.metadata.previous-versions-max=2',
      'write.metadata.delete-after-commit.enabled=true',
    ]);
    const [r] = await runCompact(t.deps, { tables: ['joined'] });
    assert.ok(r!.rewrittenFiles >= 9);
    const table = await loadTable(store, t.loc);
    assert.ok(table.metadata.metadataLog.length <= 2, `metadata-log of ${table.metadata.metadataLog.length}`);
    const files = readdirSync(path.join(t.loc.slice('file://'.length), 'metadata')).filter((f) =>
      f.endsWith('.metadata.json'),
    );
    assert.ok(files.length <= 3, `metadata files left: ${files.join(', ')}`);
    const check = await checkIceberg(t.loc, { expectRows: t.rows, key: 'order_id' });
    assert.ok(check.ok, formatIcebergCheck(check));
  });
});
