// Benchmark of table maintenance (issue 15), against the Firestore emulator and a file:// warehouse:
//  - a simulated day at production cadence: 288 appends (one per 5-minute compact run) of a micro-batch
//    of 30,000 joined rows into one day partition, split into 5 files as deployed (a tick every minute
//    between two compact runs, one file per tick and flush shard; --files-per-append 1,5 runs both
//    shapes), runCompact after each append, then the first run after the day (the partition has been
//    quiet for STREAMJOIN_COMPACT_QUIET_AFTER): bytes rewritten ÷ bytes appended, files in the partition
//    at the end, total compaction seconds, and the manifests orphan cleanup read;
//  - reader cost after that day: a full scan of the partition (seconds, data files opened);
//  - with --check-readers, every snapshot the day wrote (appends and rewrites) read back through the
//    reference readers (../shared/readers): check-iceberg (pyiceberg 0.9.1 scans each snapshot, Java
//    Iceberg core plans each against its summary, whose total-records must be the rows appended until
//    then) and pyiceberg's keys of each snapshot (infra/ops/snapshot_rows.py) against the keys appended
//    until then. Takes much longer than the day itself (hundreds of snapshots of up to 8.6M rows);
//  - compaction peak RSS (getrusage maxrss of a child process doing only runCompact) for 1,000,000 and
//    10,000,000 rows in files of 50,000 rows, in the compact function's deployed configuration (memory
//    and NODE_OPTIONS from infra/gcp/settings.ts): flat with size when the rewrite streams.
//
//   npx node bench/compaction.ts [--quick] [--no-day] [--files-per-append 5|1,5] [--rss-10m] [--check-readers]
//   (or npm run bench -- --only compaction)
import { createHash, type Hash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { checkIceberg, formatIcebergCheck, snapshotKeyDigests } from '../infra/ops/check-iceberg.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import {
  appendFiles,
  listDataFiles,
  loadOrCreateTable,
  loadTable,
  reachableFiles,
  readRows,
} from '../shared/iceberg/index.ts';
import { createLogger } from '../shared/log.ts';
import { encodeDataFile } from '../shared/parquet/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../shared/pipeline/compact.ts';
import { isSmallFile } from '../shared/pipeline/compaction-policy.ts';
import { FileObjectStore } from '../shared/storage/file-store.ts';
import { joinUri } from '../shared/storage/port.ts';
import { type DataFileStats, JOINED_TABLE, type Row } from '../shared/tables.ts';
import { buildTable } from './memory.ts';
import { generateJoinedRows } from './parquet.ts';
import { type BenchFigure, deployedCompactInstance, round, runCompactChild } from './support.ts';

const HERE = fileURLToPath(import.meta.url);
const silent = createLogger({ level: 'silent' });
const MiB = 2 ** 20;
/** The goal of issue 15 for compaction's peak RSS, whatever the size of what it rewrites. */
const RSS_GOAL_MIB = 256;
/** The deployed shape: files per append (a tick every minute between two 5-minute compact runs). */
export const DEPLOYED_FILES_PER_APPEND = 5;

/** `--files-per-append 1,5` → [1, 5]; throws on anything but positive integers. */
export function parseFilesPerAppend(raw: string): number[] {
  const out = raw.split(',').map((x) => Number(x.trim()));
  if (raw.trim() === '' || out.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) {
    throw new Error(
      `--files-per-append expects positive integers separated by commas, such as 5 or 1,5, but got: ${JSON.stringify(raw)}`,
    );
  }
  return out;
}

export interface CompactionBenchOptions {
  readonly emulatorHost?: string;
  readonly quick?: boolean;
  /** The simulated day and the reader after it (default true). */
  readonly day?: boolean;
  /** Files per append of each simulated day to run (default [5], the deployed shape). */
  readonly filesPerAppend?: readonly number[];
  /** Peak RSS cases, in rows (multiples of 50,000). Default [1,000,000]; 10,000,000 takes minutes. */
  readonly rssRows?: readonly number[];
  /** Read every snapshot of each simulated day back through the reference readers (default false: slow). */
  readonly checkReaders?: boolean;
  readonly log?: (line: string) => void;
}

/** Hours the reference readers may take over one simulated day's table. */
const READERS_TIMEOUT_MS = 4 * 3600_000;

function benchConfig(warehouse: string, host: string) {
  return loadConfig({
    GOOGLE_CLOUD_PROJECT: 'bench-compaction',
    FIRESTORE_EMULATOR_HOST: host,
    STREAMJOIN_WAREHOUSE: warehouse,
    METADATA_SERVER_DETECTION: 'none',
  });
}

interface DayReport {
  appends: number;
  filesPerAppend: number;
  rowsPerFile: number;
  rows: number;
  appendedBytes: number;
  rewrittenBytes: number;
  rewrites: number;
  compactSeconds: number;
  slowestCompactSeconds: number;
  maxSmallFiles: number;
  maxFiles: number;
  /** Before the quiet run: what the day's own runs rewrote, and the files they left. */
  dayRewrittenBytes: number;
  dayFiles: number;
  quietRewrittenBytes: number;
  quietSeconds: number;
  /** Manifest lists + manifests orphan cleanup read in the day's last run, and what an uncached run reads. */
  orphanReadsLastRun: number;
  orphanReadsUncached: number;
  files: number;
  partitionBytes: number;
  targetFileSize: number;
  scanSeconds: number;
  scanRows: number;
  scanFiles: number;
  /** With checkReaders: what the reference readers found. */
  readers?: ReadersReport;
}

interface ReadersReport {
  /** Snapshots in the table's metadata at the end (all the day wrote, unless expiry removed some). */
  snapshots: number;
  /** Snapshots the day wrote (appends and rewrites). */
  written: number;
  /** Snapshots that read back with exactly the rows appended until they were written, in both readers. */
  same: number;
  checkIcebergOk: boolean;
  problems: string[];
  checkSeconds: number;
  keysSeconds: number;
}

/** Snapshot id → the rows appended until it was written and the SHA-256 of their keys (sorted, joined by
 *  newlines: the digest infra/ops/snapshot_rows.py computes). The bench's keys (ORD + 9 digits) are
 *  generated in sorted order, so the digest of every prefix comes from one running hash. */
class ExpectedSnapshots {
  readonly bySnapshot = new Map<string, { rows: number; keysSha256: string }>();
  private readonly hash: Hash = createHash('sha256');
  private rows = 0;
  private last = '';

  addKey(key: string): void {
    if (key <= this.last && this.rows > 0)
      throw new Error(`expected keys in sorted order, but ${key} came after ${this.last}`);
    this.hash.update(this.rows === 0 ? key : `\n${key}`);
    this.last = key;
    this.rows++;
  }

  /** Every snapshot of `snapshotIds` not seen before holds the rows added so far. */
  record(snapshotIds: Iterable<bigint | number | string>): void {
    const keysSha256 = this.hash.copy().digest('hex');
    for (const id of snapshotIds) {
      if (!this.bySnapshot.has(String(id))) this.bySnapshot.set(String(id), { rows: this.rows, keysSha256 });
    }
  }
}

/** The simulated day, in this process (timings of runCompact only; writing the appends is not timed). */
async function simulateDay(
  warehouse: string,
  host: string,
  shape: { appends: number; filesPerAppend: number; rowsPerFile: number },
  log: (line: string) => void,
  checkReaders = false,
): Promise<DayReport> {
  const config = benchConfig(warehouse, host);
  const db = createFirestore(config);
  const store = new FileObjectStore();
  const deps: CompactDeps = {
    db,
    collections: collections(db, config.collectionPrefix),
    counter: new OpCounter(),
    store,
    config,
    log: silent,
  };
  try {
    const loc = tableLocationOf(config, 'joined');
    let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
    const total = shape.appends * shape.filesPerAppend * shape.rowsPerFile;
    const rows = generateJoinedRows(total); // all on one day: one partition
    const policy = { targetFileSize: config.targetFileSize, minFilesToCompact: config.minFilesToCompact };
    const expected = new ExpectedSnapshots();
    const snapshotIds = () => table.metadata.snapshots.map((s) => s.snapshotId);
    const r: DayReport = {
      ...shape,
      rows: total,
      appendedBytes: 0,
      rewrittenBytes: 0,
      rewrites: 0,
      compactSeconds: 0,
      slowestCompactSeconds: 0,
      maxSmallFiles: 0,
      maxFiles: 0,
      dayRewrittenBytes: 0,
      dayFiles: 0,
      quietRewrittenBytes: 0,
      quietSeconds: 0,
      orphanReadsLastRun: 0,
      orphanReadsUncached: 0,
      files: 0,
      partitionBytes: 0,
      targetFileSize: config.targetFileSize,
      scanSeconds: 0,
      scanRows: 0,
      scanFiles: 0,
    };
    for (let a = 0; a < shape.appends; a++) {
      const stats: DataFileStats[] = [];
      for (let f = 0; f < shape.filesPerAppend; f++) {
        async function* part(): AsyncGenerator<Row> {
          for (let i = 0; i < shape.rowsPerFile; i++) {
            const next = rows.next();
            if (next.done === true) return;
            if (checkReaders) expected.addKey(String(next.value['order_id']));
            yield next.value;
          }
        }
        const uri = joinUri(loc, 'data', `day-${a}-${f}.parquet`);
        const file = encodeDataFile(part(), JOINED_TABLE);
        await store.writeStream(uri, file, { ifAbsent: true });
        const { rowGroupCount: _, ...s } = await file.stats;
        stats.push({ uri, ...s });
        r.appendedBytes += s.fileSizeInBytes;
      }
      table = (await appendFiles(table, stats, { batchIds: [`day-${a}`] })).table;
      expected.record(snapshotIds());
      const before = new Map((await listDataFiles(table)).map((e) => [e.dataFile.filePath, e.dataFile]));
      const t0 = performance.now();
      const [res] = await runCompact(deps, { tables: ['joined'] });
      const seconds = (performance.now() - t0) / 1000;
      r.compactSeconds += seconds;
      r.slowestCompactSeconds = Math.max(r.slowestCompactSeconds, seconds);
      if ((res?.rewrittenFiles ?? 0) > 0) r.rewrites++;
      r.orphanReadsLastRun = res?.orphanManifestReads ?? 0;
      table = await loadTable(store, loc);
      expected.record(snapshotIds());
      const live = await listDataFiles(table);
      const after = new Set(live.map((e) => e.dataFile.filePath));
      for (const [p, d] of before) if (!after.has(p)) r.rewrittenBytes += d.fileSizeInBytes;
      const small = live.filter((e) => isSmallFile(e.dataFile.fileSizeInBytes, policy)).length;
      r.maxSmallFiles = Math.max(r.maxSmallFiles, small);
      r.maxFiles = Math.max(r.maxFiles, live.length);
      if ((a + 1) % 48 === 0) {
        log(
          `  day: ${a + 1}/${shape.appends} appends, ${live.length} files, rewritten ÷ appended ${round(r.rewrittenBytes / r.appendedBytes, 2)}, compaction ${round(r.compactSeconds, 1)} s`,
        );
      }
    }
    {
      const read = { manifestLists: 0, manifests: 0 };
      await reachableFiles(table, undefined, read);
      r.orphanReadsUncached = read.manifestLists + read.manifests;
    }
    r.dayRewrittenBytes = r.rewrittenBytes;
    r.dayFiles = (await listDataFiles(table)).length;
    // The day is over: the first compact run once the partition has been quiet for
    // STREAMJOIN_COMPACT_QUIET_AFTER (its clock moved past that; everything else as deployed).
    {
      const before = new Map((await listDataFiles(table)).map((e) => [e.dataFile.filePath, e.dataFile]));
      const later = Date.now() + config.compactQuietAfterMs + 60_000;
      const t0 = performance.now();
      await runCompact({ ...deps, now: () => later }, { tables: ['joined'] });
      r.quietSeconds = (performance.now() - t0) / 1000;
      r.compactSeconds += r.quietSeconds;
      table = await loadTable(store, loc);
      expected.record(snapshotIds());
      const after = new Set((await listDataFiles(table)).map((e) => e.dataFile.filePath));
      for (const [p, d] of before) if (!after.has(p)) r.quietRewrittenBytes += d.fileSizeInBytes;
      r.rewrittenBytes += r.quietRewrittenBytes;
    }
    const live = await listDataFiles(table);
    r.files = live.length;
    r.partitionBytes = live.reduce((n, e) => n + e.dataFile.fileSizeInBytes, 0);
    // Reader cost: a full scan of the partition as it is at the end of the day.
    const t0 = performance.now();
    for await (const _ of readRows(table)) r.scanRows++;
    r.scanSeconds = (performance.now() - t0) / 1000;
    r.scanFiles = live.length;
    if (r.scanRows !== total) {
      throw new Error(
        `expected ${total} rows in the table after the day, but a full scan read ${r.scanRows}`,
      );
    }
    if (checkReaders) r.readers = await readBackEverySnapshot(loc, table.metadata, expected, total, log);
    return r;
  } finally {
    await db.terminate();
  }
}

/** Every snapshot of the day's table through the reference readers: check-iceberg (both readers, every
 *  check, the current snapshot's rows and unique keys), each snapshot's summary total-records (what Java
 *  planned it against) and pyiceberg's keys of each snapshot against the rows appended until then. */
async function readBackEverySnapshot(
  loc: string,
  metadata: Awaited<ReturnType<typeof loadTable>>['metadata'],
  expected: ExpectedSnapshots,
  total: number,
  log: (line: string) => void,
): Promise<ReadersReport> {
  const problems: string[] = [];
  const snapshots = metadata.snapshots;
  log(
    `  readers: ${snapshots.length} snapshots (${expected.bySnapshot.size} written by the day) through check-iceberg…`,
  );
  const t0 = performance.now();
  const check = await checkIceberg(loc, {
    expectRows: total,
    key: 'order_id',
    timeoutMs: READERS_TIMEOUT_MS,
  });
  const checkSeconds = (performance.now() - t0) / 1000;
  if (!check.ok) problems.push(formatIcebergCheck(check));
  log(
    `  readers: check-iceberg ${check.ok ? 'PASS' : 'FAIL'} in ${round(checkSeconds, 0)} s; pyiceberg reads every snapshot's keys…`,
  );
  const t1 = performance.now();
  let read = new Map<string, { rows: number; keys_sha256: string; distinct: number }>();
  try {
    read = await snapshotKeyDigests(loc, 'order_id', { timeoutMs: READERS_TIMEOUT_MS });
  } catch (e) {
    problems.push(`pyiceberg snapshot reads: ${(e as Error).message}`);
  }
  const keysSeconds = (performance.now() - t1) / 1000;
  let same = 0;
  for (const s of snapshots) {
    const id = String(s.snapshotId);
    const want = expected.bySnapshot.get(id);
    const got = read.get(id);
    const summaryRows = Number(s.summary['total-records']);
    const wrong: string[] = [];
    if (want === undefined) wrong.push('not written by the day');
    else {
      if (summaryRows !== want.rows)
        wrong.push(`summary total-records ${summaryRows} (Java plans against it), expected ${want.rows}`);
      if (got === undefined) wrong.push('pyiceberg did not read it');
      else {
        if (got.rows !== want.rows) wrong.push(`pyiceberg read ${got.rows} rows, expected ${want.rows}`);
        if (got.distinct !== got.rows) wrong.push(`pyiceberg read ${got.rows - got.distinct} duplicate keys`);
        if (got.keys_sha256 !== want.keysSha256)
          wrong.push('pyiceberg read other keys than the ones appended until then');
      }
    }
    if (wrong.length === 0 && check.ok) same++;
    else if (wrong.length > 0 && problems.length < 20) problems.push(`snapshot ${id}: ${wrong.join('; ')}`);
  }
  log(
    `  readers: ${same}/${snapshots.length} snapshots read back with the rows appended until then (check-iceberg ${round(checkSeconds, 0)} s, pyiceberg keys ${round(keysSeconds, 0)} s)${problems.length > 0 ? `\n    ${problems.join('\n    ')}` : ''}`,
  );
  return {
    snapshots: snapshots.length,
    written: expected.bySnapshot.size,
    same,
    checkIcebergOk: check.ok,
    problems,
    checkSeconds,
    keysSeconds,
  };
}

export async function runCompactionBench(
  options: CompactionBenchOptions = {},
): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const quick = options.quick === true;
  const dir = await mkdtemp(path.join(tmpdir(), 'streamjoin-bench-compaction-'));
  let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
  try {
    let host = options.emulatorHost;
    if (host === undefined) {
      emulator = await startFirestoreEmulator({
        port: await freePort(),
        logFile: path.join(dir, 'firestore.log'),
      });
      host = emulator.host;
    }
    const figures: BenchFigure[] = [];

    if (options.day !== false) {
      for (const n of options.filesPerAppend ?? [DEPLOYED_FILES_PER_APPEND])
        figures.push(...(await dayFigures(dir, host, quick, n, log, options.checkReaders === true)));
    }
    for (const rows of options.rssRows ?? [1_000_000])
      figures.push(...(await rssFigures(dir, host, rows, log)));
    return { figures };
  } finally {
    await emulator?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function dayFigures(
  dir: string,
  host: string,
  quick: boolean,
  filesPerAppend: number,
  log: (line: string) => void,
  checkReaders: boolean,
): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  // 1. The day. Each append one micro-batch file of 30,000 joined rows (100 joined rows/s over 5 minutes;
  // --quick: 5,000), or `filesPerAppend` files sharing those rows (one per tick and shard).
  const shape = {
    appends: quick ? 96 : 288, // --quick: the first 8 hours
    filesPerAppend,
    rowsPerFile: Math.round((quick ? 5000 : 30_000) / filesPerAppend),
  };
  const t0 = performance.now();
  const warehouse = `${dir}/day-${filesPerAppend}`;
  const day = await simulateDay(`file://${warehouse}/`, host, shape, log, checkReaders);
  await rm(warehouse, { recursive: true, force: true });
  const daySeconds = (performance.now() - t0) / 1000;
  const wa = day.rewrittenBytes / day.appendedBytes;
  const filesGoal = Math.floor(1 + day.partitionBytes / day.targetFileSize + 8);
  const config = benchConfig('file:///unused/', host);
  const shapeName = `${shape.filesPerAppend} file${shape.filesPerAppend === 1 ? '' : 's'} per append`;
  const cond = `${shape.appends} appends (one per 5-minute compact run) of ${shape.filesPerAppend} files × ${shape.rowsPerFile.toLocaleString('en')} joined rows into one day partition, runCompact after each, then the first run once the partition was quiet (default settings: target ${round(day.targetFileSize / MiB, 0)} MiB, STREAMJOIN_MIN_FILES_TO_COMPACT ${config.minFilesToCompact}, STREAMJOIN_QUIET_MAX_SMALL_FILES ${config.quietMaxSmallFiles}, STREAMJOIN_COMPACT_QUIET_AFTER ${config.compactQuietAfterMs / 60_000} min), file:// warehouse, Firestore emulator: ${day.rows.toLocaleString('en')} rows, ${round(day.appendedBytes / MiB, 1)} MiB appended, ${day.rewrites} rewrites during the day (rewritten ÷ appended ${round(day.dayRewrittenBytes / day.appendedBytes, 2)}, at most ${day.maxSmallFiles} small files and ${day.maxFiles} files after any run, ${day.dayFiles} at the end of the day), the quiet run rewrote ${round(day.quietRewrittenBytes / MiB, 1)} MiB in ${round(day.quietSeconds, 1)} s; the day took ${round(daySeconds, 0)} s in all (bench/compaction.ts)`;
  log(
    `  day (${shapeName}): rewritten ÷ appended ${round(wa, 2)} (${round(day.dayRewrittenBytes / day.appendedBytes, 2)} during the day); ${day.files} files (${round(day.partitionBytes / MiB, 1)} MiB) at the end (${day.dayFiles} before the quiet run, at most ${day.maxFiles} during the day); compaction ${round(day.compactSeconds, 1)} s in all (slowest run ${round(day.slowestCompactSeconds, 2)} s); full scan ${round(day.scanSeconds, 2)} s over ${day.scanFiles} files`,
  );
  figures.push(
    {
      name: `simulated day (${shapeName}): bytes rewritten ÷ bytes appended`,
      value: round(wa, 2),
      unit: '×',
      goal: '≤ 3',
      meets: wa <= 3,
      conditions: cond,
    },
    {
      name: `simulated day (${shapeName}): files in the partition at the end`,
      value: day.files,
      unit: 'files',
      goal: `≤ ${filesGoal} (1 + size ÷ target + 8)`,
      meets: day.files <= filesGoal,
      conditions: cond,
    },
    {
      name: `simulated day (${shapeName}): total compaction time`,
      value: round(day.compactSeconds, 1),
      unit: 's',
      conditions: `${cond}; slowest single run ${round(day.slowestCompactSeconds, 2)} s`,
    },
    {
      name: `orphan cleanup (${shapeName}): manifest lists + manifests read in the day's last run`,
      value: day.orphanReadsLastRun,
      unit: 'files',
      conditions: `${cond}; the instance's manifest cache warm (a compact instance between runs): an uncached run reads all ${day.orphanReadsUncached} of the retained snapshots' manifest lists and manifests`,
    },
    {
      name: `reader after the day (${shapeName}): full scan of the partition`,
      value: round(day.scanSeconds, 2),
      unit: 's',
      conditions: `${cond}; the pipeline's reader (readRows) over all ${day.scanRows.toLocaleString('en')} rows, ${day.scanFiles} data files opened`,
    },
    {
      name: `reader after the day (${shapeName}): data files opened by a full scan`,
      value: day.scanFiles,
      unit: 'files',
      conditions: cond,
    },
  );
  if (day.readers !== undefined) {
    const rd = day.readers;
    figures.push({
      name: `simulated day (${shapeName}): snapshots that read back with the rows appended until then (pyiceberg and Java Iceberg core)`,
      value: rd.same,
      unit: 'snapshots',
      goal: `all ${rd.snapshots}`,
      meets: rd.same === rd.snapshots && rd.snapshots === rd.written,
      conditions: `${cond}; ${rd.snapshots} snapshots in the table after the day (${rd.written} written by it: appends and rewrites); check-iceberg --expect-rows ${day.rows} --key order_id ${rd.checkIcebergOk ? 'PASS' : 'FAIL'} in ${round(rd.checkSeconds, 0)} s (pyiceberg 0.9.1 scans every snapshot; Java plans every snapshot against its summary, whose total-records were compared with the rows appended until then), pyiceberg's keys of every snapshot (time travel by id) compared with the keys appended until then in ${round(rd.keysSeconds, 0)} s${rd.problems.length > 0 ? `; problems: ${rd.problems.join(' | ')}` : ''}`,
    });
  }

  return figures;
}

/** Peak RSS of one compaction run over `rows` rows in files of 50,000 rows (one partition), in the compact
 *  function's deployed configuration (infra/gcp/settings.ts: memory, NODE_OPTIONS). */
async function rssFigures(
  dir: string,
  host: string,
  rows: number,
  log: (line: string) => void,
): Promise<BenchFigure[]> {
  const nFiles = Math.ceil(rows / 50_000);
  const instance = deployedCompactInstance();
  const goal = Math.min(RSS_GOAL_MIB, instance.memoryMiB);
  const warehouse = `file://${dir}/rss-${nFiles}/`;
  const tb = performance.now();
  await buildTable(warehouse, nFiles, 50_000);
  const buildSeconds = (performance.now() - tb) / 1000;
  const rep = await runCompactChild(warehouse, host, instance.nodeOptions);
  await rm(new URL(warehouse), { recursive: true, force: true });
  const heap = `the deployed compact instance: ${instance.memory}, NODE_OPTIONS=${instance.nodeOptions || '(none)'}`;
  log(
    `  compaction ${rows.toLocaleString('en')} rows (${heap}): ${rep.rewrittenFiles} files → ${rep.rewrittenInto} in ${round(rep.seconds, 1)} s (built in ${round(buildSeconds, 1)} s); peak RSS ${round(rep.maxRssMiB, 0)} MiB`,
  );
  if (rep.rewrittenFiles !== nFiles) {
    throw new Error(
      `expected compaction to rewrite all ${nFiles} files, but it rewrote ${rep.rewrittenFiles}`,
    );
  }
  return [
    {
      name: `compaction peak RSS, ${rows.toLocaleString('en')} rows`,
      value: round(rep.maxRssMiB, 0),
      unit: 'MiB',
      goal: `≤ ${goal}`,
      meets: rep.maxRssMiB <= goal,
      conditions: `runCompact in a child process (${heap}) on a file:// joined table of ${nFiles} Parquet files × 50,000 rows (one partition day, ${round(rep.seconds, 1)} s, ${round(rows / rep.seconds, 0)} rows/s): ${rep.rewrittenFiles} files streamed row group by row group into ${rep.rewrittenInto}`,
    },
  ];
}

if (process.argv[1] === HERE) {
  const args = process.argv.slice(2);
  {
    const { figures } = await runCompactionBench({
      quick: args.includes('--quick'),
      day: !args.includes('--no-day'),
      filesPerAppend: args.includes('--files-per-append')
        ? parseFilesPerAppend(args[args.indexOf('--files-per-append') + 1] ?? '')
        : [DEPLOYED_FILES_PER_APPEND],
      rssRows: args.includes('--rss-10m') ? [1_000_000, 10_000_000] : [1_000_000],
      checkReaders: args.includes('--check-readers'),
    });
    for (const f of figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})` : ''}`,
      );
  }
}
