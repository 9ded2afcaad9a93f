// Benchmark of table maintenance (issue 15), against the Firestore emulator and a file:// warehouse:
//  - a simulated day at production cadence: 288 appends (one per 5-minute compact run) of a micro-batch
//    of 30,000 joined rows into one day partition, split into 5 files as deployed (a tick every minute
//    between two compact runs, one file per tick and flush shard; --files-per-append 1,5 runs both
//    shapes), runCompact after each append, then the first run after the day (the partition has been
//    quiet for STREAMJOIN_COMPACT_QUIET_AFTER): bytes rewritten ÷ bytes appended, files in the partition
//    at the end, total compaction seconds, and the manifests orphan cleanup read;
//  - reader cost after that day: a full scan of the partition (seconds, data files opened);
//  - compaction peak RSS (getrusage maxrss of a child process doing only runCompact) for 1,000,000 and
//    10,000,000 rows in files of 50,000 rows, in the compact function's deployed configuration (memory
//    and NODE_OPTIONS from infra/gcp/settings.ts): flat with size when the rewrite streams.
//
//   npx node bench/compaction.ts [--quick] [--no-day] [--files-per-append 5|1,5] [--rss-10m]       (or npm run bench -- --only compaction)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
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
  readonly log?: (line: string) => void;
}

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
}

/** The simulated day, in this process (timings of runCompact only; writing the appends is not timed). */
async function simulateDay(
  warehouse: string,
  host: string,
  shape: { appends: number; filesPerAppend: number; rowsPerFile: number },
  log: (line: string) => void,
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
      const before = new Map((await listDataFiles(table)).map((e) => [e.dataFile.filePath, e.dataFile]));
      const t0 = performance.now();
      const [res] = await runCompact(deps, { tables: ['joined'] });
      const seconds = (performance.now() - t0) / 1000;
      r.compactSeconds += seconds;
      r.slowestCompactSeconds = Math.max(r.slowestCompactSeconds, seconds);
      if ((res?.rewrittenFiles ?? 0) > 0) r.rewrites++;
      r.orphanReadsLastRun = res?.orphanManifestReads ?? 0;
      table = await loadTable(store, loc);
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
    return r;
  } finally {
    await db.terminate();
  }
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
        figures.push(...(await dayFigures(dir, host, quick, n, log)));
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
  const day = await simulateDay(`file://${warehouse}/`, host, shape, log);
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
    });
    for (const f of figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})` : ''}`,
      );
  }
}
