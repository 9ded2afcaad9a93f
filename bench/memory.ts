// Benchmark: peak RSS (getrusage maxrss of a child process doing only that work) of
//  - ingest (shared/pipeline/ingest.ts ingestObject) on a ~100 MB JSON Lines file (~1M orders) read as a
//    stream, against the Firestore emulator — one invocation with a time budget, as the function runs
//    (the retry resumes where it stopped), unless --memory-full ingests the whole file;
//  - parse + validate of the whole file (the streaming part of ingest, no Firestore);
//  - compaction (shared/pipeline/compact.ts runCompact) rewriting 20 files of 50,000 rows = 1,000,000 rows
//    into one file, in the compact function's deployed configuration (memory, NODE_OPTIONS).
//
//   npx node bench/memory.ts [--quick] [--memory-full]
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { appendFiles, loadOrCreateTable } from '../shared/iceberg/index.ts';
import { parseEventFile } from '../shared/ingest/parse-event-file.ts';
import { validateEvent } from '../shared/ingest/validate.ts';
import { createLogger } from '../shared/log.ts';
import { encodeDataFile } from '../shared/parquet/index.ts';
import { tableLocationOf } from '../shared/pipeline/compact.ts';
import { ingestObject } from '../shared/pipeline/ingest.ts';
import { FileObjectStore } from '../shared/storage/file-store.ts';
import { joinUri } from '../shared/storage/port.ts';
import { type DataFileStats, JOINED_TABLE, type Row } from '../shared/tables.ts';
import { generateJoinedRows } from './parquet.ts';
import {
  type BenchFigure,
  deployedCompactInstance,
  peakRssMiB,
  round,
  runCompactChild,
  runJsonChild,
} from './support.ts';

const HERE = fileURLToPath(import.meta.url);
const GOAL_MIB = 512;
/** Issue 15's goal for compaction, whatever the size of what it rewrites (and within the instance). */
const COMPACT_GOAL_MIB = 256;
const silent = createLogger({ level: 'silent' });

export interface MemoryBenchOptions {
  readonly emulatorHost?: string;
  readonly quick?: boolean;
  /** Ingest the whole 100 MB file instead of one time-budgeted invocation: slow (the emulator slows down as
   *  it fills; > 7 min here, and it needs a Java heap over 3 GiB). */
  readonly full?: boolean;
  readonly log?: (line: string) => void;
}

/** Writes JSON Lines orders (~140 bytes each, like the producer's) up to `bytes`; returns the event count. */
async function writeOrdersFile(file: string, bytes: number): Promise<number> {
  const out = createWriteStream(file);
  const base = Date.UTC(2026, 10, 25);
  let buf = '';
  let written = 0;
  let i = 0;
  for (; ; i++) {
    const t = new Date(base + i * 37).toISOString().slice(0, 19);
    const line = `{"order_id":"ord-mem-${i}","order_date":"${t}","created_at":"${t}","customer_id":"cust-${i % 5000}","amount":${1 + (i % 1000)}}\n`;
    if (written + buf.length + line.length > bytes) break;
    buf += line;
    if (buf.length > 1 << 20) {
      written += buf.length;
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.end(buf);
  await new Promise<void>((resolve, reject) => out.once('finish', resolve).once('error', reject));
  return i;
}

interface IngestChildReport {
  rssSamples: number[];
  records: number;
  seconds: number;
  maxRssMiB: number;
  status: string;
  stoppedByBudget: boolean;
}

async function childIngest(file: string, host: string, budget: string): Promise<void> {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'bench-memory',
    FIRESTORE_EMULATOR_HOST: host,
    STREAMJOIN_WAREHOUSE: 'file:///tmp/unused/',
    STREAMJOIN_INGEST_TIME_BUDGET: budget,
    METADATA_SERVER_DETECTION: 'none',
  });
  const db = createFirestore(config);
  const size = (await stat(file)).size;
  const t0 = performance.now();
  // RSS every 5 s: flat means bounded memory, whatever the file's length.
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(Math.round(process.memoryUsage.rss() / 2 ** 20)), 5000);
  let records = 0;
  let status = 'ingested';
  let stoppedByBudget = false;
  try {
    const r = await ingestObject(
      {
        db,
        collections: collections(db, config.collectionPrefix),
        counter: new OpCounter(),
        config,
        log: silent,
        openObject: () => createReadStream(file, { highWaterMark: 256 * 1024 }),
      },
      {
        bucket: 'bench',
        name: 'stream/orders/2026_11_25/orders_100mb.jsonl',
        generation: '1',
        size,
        landedAtMs: Date.now(),
      },
    );
    records = r.records;
    status = r.status;
  } catch (err) {
    if (!String(err).includes('time budget')) throw err;
    stoppedByBudget = true;
    const m = /resumes at record (\d+)/.exec(String(err));
    records = m === null ? 0 : Number(m[1]);
  }
  clearInterval(sampler);
  const report: IngestChildReport = {
    rssSamples,
    records,
    seconds: (performance.now() - t0) / 1000,
    maxRssMiB: peakRssMiB(),
    status,
    stoppedByBudget,
  };
  await db.terminate();
  console.log(JSON.stringify(report));
}

async function childParse(file: string): Promise<void> {
  const t0 = performance.now();
  let ok = 0;
  let bad = 0;
  for await (const item of parseEventFile(createReadStream(file, { highWaterMark: 256 * 1024 }), {
    name: 'orders.jsonl',
    maxObjectSize: 512 * 2 ** 20,
    maxDecompressedSize: 2 * 2 ** 30,
    maxLineLength: 2 ** 20,
  })) {
    if (item.kind === 'record') {
      if (validateEvent('order', item.value, item.path).ok) ok++;
      else bad++;
    } else if (item.kind !== 'end') bad++;
  }
  console.log(
    JSON.stringify({ records: ok, bad, seconds: (performance.now() - t0) / 1000, maxRssMiB: peakRssMiB() }),
  );
}

/** A joined table with `files` data files of `rowsPerFile` rows (one partition day), one append. */
export async function buildTable(warehouse: string, files: number, rowsPerFile: number): Promise<string> {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'bench-memory',
    STREAMJOIN_WAREHOUSE: warehouse,
    FIRESTORE_EMULATOR_HOST: '127.0.0.1:1',
  });
  const store = new FileObjectStore();
  const location = tableLocationOf(config, 'joined');
  const table = await loadOrCreateTable(store, location, JOINED_TABLE);
  const rows = generateJoinedRows(files * rowsPerFile);
  const stats: DataFileStats[] = [];
  for (let f = 0; f < files; f++) {
    async function* part(): AsyncGenerator<Row> {
      for (let i = 0; i < rowsPerFile; i++) {
        const r = rows.next();
        if (r.done === true) return;
        yield r.value;
      }
    }
    const uri = joinUri(location, 'data', `bench-${f}.parquet`);
    const file = encodeDataFile(part(), JOINED_TABLE);
    await store.writeStream(uri, file, { ifAbsent: true });
    const { rowGroupCount: _, ...s } = await file.stats;
    stats.push({ uri, ...s });
  }
  await appendFiles(table, stats, { batchIds: ['bench-memory'] });
  return location;
}

export async function runMemoryBench(options: MemoryBenchOptions = {}): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const quick = options.quick === true;
  const dir = await mkdtemp(path.join(tmpdir(), 'streamjoin-bench-memory-'));
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
    const file = path.join(dir, 'orders-100mb.jsonl');
    const events = await writeOrdersFile(file, 100_000_000);
    const mb = round((await stat(file)).size / 1e6, 1);
    log(`memory bench: ${events.toLocaleString('en')} orders in a ${mb} MB JSON Lines file`);

    const parse = await runJsonChild<{ records: number; seconds: number; maxRssMiB: number }>(
      process.execPath,
      [HERE, '--child-parse', file],
    );
    log(
      `  parse + validate: ${parse.records} records in ${round(parse.seconds, 1)} s, peak RSS ${round(parse.maxRssMiB, 0)} MiB`,
    );
    figures.push({
      name: `parse + validate peak RSS, ${mb} MB JSONL file`,
      value: round(parse.maxRssMiB, 0),
      unit: 'MiB',
      goal: `≤ ${GOAL_MIB}`,
      meets: parse.maxRssMiB <= GOAL_MIB,
      conditions: `${parse.records} orders streamed from disk through parseEventFile + validateEvent in a child process (no Firestore), ${round(parse.records / parse.seconds, 0)} records/s`,
    });

    const budget = options.full === true ? '3600s' : quick ? '20s' : '60s';
    const ing = await runJsonChild<IngestChildReport>(
      process.execPath,
      [HERE, '--child-ingest', file, host, budget],
      {
        timeoutMs: 4 * 3600_000,
      },
    );
    const rate = ing.records / ing.seconds;
    const whole = ing.stoppedByBudget
      ? `one invocation with a ${budget} time budget ingested the first ${ing.records.toLocaleString('en')} of ${events.toLocaleString('en')} events (the retry would resume there; the whole file would take ~${round(events / rate / 60, 1)} min at this rate)`
      : `the whole file, ${ing.records.toLocaleString('en')} events`;
    log(`  ingest: ${whole}; ${round(rate, 0)} events/s; peak RSS ${round(ing.maxRssMiB, 0)} MiB`);
    figures.push(
      {
        name: `ingest peak RSS, ${mb} MB JSONL file`,
        value: round(ing.maxRssMiB, 0),
        unit: 'MiB',
        goal: `≤ ${GOAL_MIB}`,
        meets: ing.maxRssMiB <= GOAL_MIB,
        conditions: `ingestObject in a child process reading the file as a stream, against the Firestore emulator (chunks of 400 records, state+outbox commits): ${whole}; RSS every 5 s: ${ing.rssSamples.join(', ')} MiB`,
      },
      {
        name: 'ingest rate on the 100 MB file (one sequential invocation)',
        value: round(rate, 0),
        unit: 'events/s',
        conditions: `one ingestObject call, records committed in chunks of 400 one after another, Firestore emulator on the same machine`,
      },
    );

    const rowsPerFile = 50_000;
    const nFiles = quick ? 10 : 20;
    const rows = nFiles * rowsPerFile;
    // The compact function's instance as deployed (infra/gcp/settings.ts): its NODE_OPTIONS, its memory.
    const instance = deployedCompactInstance();
    const goal = Math.min(COMPACT_GOAL_MIB, instance.memoryMiB);
    const warehouse = `file://${path.join(dir, 'warehouse-compact')}/`;
    const t0 = performance.now();
    await buildTable(warehouse, nFiles, rowsPerFile);
    const buildSeconds = (performance.now() - t0) / 1000;
    const comp = await runCompactChild(warehouse, host, instance.nodeOptions);
    const heap = `the deployed compact instance: ${instance.memory}, NODE_OPTIONS=${instance.nodeOptions || '(none)'}`;
    log(
      `  compaction (${heap}): ${comp.rewrittenFiles} files (${rows.toLocaleString('en')} rows, built in ${round(buildSeconds, 1)} s) → ${comp.rewrittenInto} in ${round(comp.seconds, 1)} s; peak RSS ${round(comp.maxRssMiB, 0)} MiB`,
    );
    figures.push({
      name: `compaction peak RSS, ${rows.toLocaleString('en')} rows`,
      value: round(comp.maxRssMiB, 0),
      unit: 'MiB',
      goal: `≤ ${goal}`,
      meets: comp.maxRssMiB <= goal && comp.rewrittenFiles === nFiles,
      conditions: `runCompact in a child process (${heap}) on a file:// joined table of ${nFiles} Parquet files × ${rowsPerFile.toLocaleString('en')} rows (one partition day): streamed into ${comp.rewrittenInto} file(s), ${comp.rewrittenFiles} rewritten, in ${round(comp.seconds, 1)} s (${round(rows / comp.seconds, 0)} rows/s)`,
    });
    return { figures };
  } finally {
    await emulator?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === HERE) {
  const args = process.argv.slice(2);
  if (args[0] === '--child-ingest') await childIngest(args[1]!, args[2]!, args[3]!);
  else if (args[0] === '--child-parse') await childParse(args[1]!);
  else {
    process.env['JAVA_TOOL_OPTIONS'] ??= '-Xmx3g'; // a million states do not fit the default 512 MiB heap
    const { figures } = await runMemoryBench({
      quick: args.includes('--quick'),
      full: args.includes('--memory-full'),
    });
    for (const f of figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})` : ''}`,
      );
  }
}
