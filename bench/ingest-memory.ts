// Benchmark: peak memory of one ingest instance at the deployed concurrency, the figure the ingest
// function is sized from (docs/deploy.md "Sizing ingest"). Each scenario runs in a fresh child process
// that serves `concurrency` requests at a time the way functions/ingest.ts does (memory admission, then
// shared/pipeline/ingest.ts ingestObject against the Firestore emulator, the object read as a stream),
// and reports its peak RSS (getrusage maxrss):
//   - base: small files (one order each, what the original producer writes), admission on: the memory
//     an instance needs besides the admission budget;
//   - large gzip objects, admission off: what the instance did before (every request holds its object
//     for gzip verification at once);
//   - the same objects, admission on with the deployed budget.
//
//   npx node bench/ingest-memory.ts [--quick]     (starts its own emulator)
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { FUNCTION_DEFAULTS, INGEST_BASE_MEMORY_BYTES, memoryBytes } from '../infra/gcp/settings.ts';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { loadConfig, SETTINGS } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { GZIP_VERIFY_MAX_BYTES } from '../shared/ingest/parse-event-file.ts';
import { createLogger } from '../shared/log.ts';
import { ingestObject } from '../shared/pipeline/ingest.ts';
import {
  ingestMemoryCost,
  MemoryBudget,
  REQUEST_WORKING_SET_BYTES,
  withAdmission,
} from '../shared/pipeline/ingest-admission.ts';
import { type BenchFigure, forEachConcurrent, peakRssMiB, round, runJsonChild } from './support.ts';

const HERE = fileURLToPath(import.meta.url);
const MIB = 1024 ** 2;
const silent = createLogger({ level: 'silent' });

interface Scenario {
  readonly host: string;
  readonly project: string;
  readonly objects: readonly { readonly file: string; readonly name: string; readonly size: number }[];
  readonly concurrency: number;
  /** Undefined: no admission (every request starts at once). */
  readonly budgetBytes: number | undefined;
  readonly timeBudget: string;
}

interface ScenarioReport {
  readonly peakRssMiB: number;
  readonly rssSamplesMiB: number[];
  readonly maxHeldMiB: number;
  readonly maxWaiting: number;
  readonly records: number;
  /** Requests that gave up waiting for room (the platform would redeliver them later). */
  readonly deferred: number;
  readonly seconds: number;
}

async function child(scenario: Scenario): Promise<void> {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: scenario.project,
    FIRESTORE_EMULATOR_HOST: scenario.host,
    STREAMJOIN_WAREHOUSE: 'file:///tmp/unused/',
    STREAMJOIN_INGEST_TIME_BUDGET: scenario.timeBudget,
    METADATA_SERVER_DETECTION: 'none',
  });
  const db = createFirestore(config);
  const c = collections(db, config.collectionPrefix);
  const budget = scenario.budgetBytes === undefined ? undefined : new MemoryBudget(scenario.budgetBytes);
  let maxHeld = 0;
  let maxWaiting = 0;
  const samples: number[] = [];
  const sampler = setInterval(() => {
    samples.push(Math.round(process.memoryUsage.rss() / MIB));
    if (budget !== undefined) {
      maxHeld = Math.max(maxHeld, budget.heldBytes);
      maxWaiting = Math.max(maxWaiting, budget.waitingRequests);
    }
  }, 250);
  const t0 = performance.now();
  let records = 0;
  let deferred = 0;
  await forEachConcurrent(scenario.objects, scenario.concurrency, async (o) => {
    const obj = { bucket: 'bench', name: o.name, generation: '1', size: o.size, landedAtMs: Date.now() };
    const run = (timeBudgetMs: number) =>
      ingestObject(
        {
          db,
          collections: c,
          counter: new OpCounter(),
          config: { ...config, ingestTimeBudgetMs: timeBudgetMs },
          log: silent,
          openObject: () => createReadStream(o.file, { highWaterMark: 256 * 1024 }),
        },
        obj,
      );
    try {
      const r =
        budget === undefined
          ? await run(config.ingestTimeBudgetMs)
          : await withAdmission(budget, ingestMemoryCost(obj, config), config.ingestTimeBudgetMs, run);
      records += r.records;
    } catch (err) {
      // A large object stops at its time budget (the retry would resume): the memory peak is behind us.
      // A request that waited too long for room is redelivered by the platform: counted, not run.
      const m = /resumes at record (\d+)/.exec(String(err));
      if (/memory budget busy/.test(String(err))) deferred++;
      else if (m === null) throw err;
      else records += Number(m[1]);
    }
  });
  clearInterval(sampler);
  const report: ScenarioReport = {
    peakRssMiB: round(peakRssMiB(), 0),
    rssSamplesMiB: samples.filter((_, i) => i % 8 === 0),
    maxHeldMiB: round(maxHeld / MIB, 0),
    maxWaiting,
    records,
    deferred,
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  await db.terminate();
  console.log(JSON.stringify(report));
}

/** A gzip JSON Lines file of orders whose compressed size is about `bytes` (random ids keep it from compressing to nothing). */
async function writeGzipOrders(file: string, bytes: number): Promise<number> {
  const gz = createGzip({ level: 1 });
  const out = createWriteStream(file);
  const done = pipeline(gz, out);
  let i = 0;
  const base = Date.UTC(2026, 10, 25);
  for (;;) {
    let buf = '';
    for (let k = 0; k < 2000; k++, i++) {
      const t = new Date(base + i * 37).toISOString().slice(0, 19);
      const noise = Math.random().toString(36).slice(2, 12);
      buf += `{"order_id":"ord-gz-${i}-${noise}","order_date":"${t}","created_at":"${t}","customer_id":"cust-${noise}","amount":${1 + (i % 1000)}}\n`;
    }
    if (!gz.write(buf)) await new Promise<void>((r) => gz.once('drain', () => r()));
    if (out.bytesWritten >= bytes) break;
  }
  gz.end();
  await done;
  return i;
}

export interface IngestMemoryBenchOptions {
  readonly emulatorHost?: string;
  readonly quick?: boolean;
  readonly log?: (line: string) => void;
}

export async function runIngestMemoryBench(
  options: IngestMemoryBenchOptions = {},
): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = await mkdtemp(path.join(tmpdir(), 'streamjoin-bench-ingest-memory-'));
  let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
  try {
    let host = options.emulatorHost;
    if (host === undefined) {
      emulator = await startFirestoreEmulator({ port: await freePort(), logFile: path.join(dir, 'fs.log') });
      host = emulator.host;
    }
    const defaults = FUNCTION_DEFAULTS.ingest.defaults;
    const concurrency = Number(defaults.concurrency);
    const instanceBytes = memoryBytes(defaults.memory);
    const budgetBytes = loadConfig({}).ingestMemoryBudget;
    const figures: BenchFigure[] = [];

    // Small files: the producer's one-order JSON documents.
    const smallCount = options.quick === true ? 200 : 800;
    const small = [];
    for (let i = 0; i < smallCount; i++) {
      const file = path.join(dir, `order_${i}.json`);
      const t = new Date(Date.UTC(2026, 10, 25) + i * 1000).toISOString().slice(0, 19);
      const text = JSON.stringify({
        order_id: `ord-small-${i}`,
        order_date: t,
        created_at: t,
        customer_id: `cust-${i % 50}`,
        amount: 100 + i,
      });
      await writeFile(file, text);
      small.push({ file, name: `stream/orders/2026_11_25/order_${i}_${i}.json`, size: text.length });
    }
    // Large gzip objects just under the verification limit: each is held whole while its CRC is checked.
    const gzBytes = Math.min(options.quick === true ? 24 * MIB : 48 * MIB, GZIP_VERIFY_MAX_BYTES);
    const gzFile = path.join(dir, 'orders.jsonl.gz');
    const gzRecords = await writeGzipOrders(gzFile, gzBytes);
    const gzSize = (await stat(gzFile)).size;
    const large = Array.from({ length: concurrency }, (_, i) => ({
      file: gzFile,
      name: `stream/orders/2026_11_25/orders_large_${i}.jsonl.gz`,
      size: gzSize,
    }));
    log(
      `ingest memory bench: concurrency ${concurrency}, budget ${budgetBytes / MIB} MiB; ${smallCount} one-order files; ${concurrency} gzip objects of ${round(gzSize / MIB, 1)} MiB (${gzRecords.toLocaleString('en')} orders each)`,
    );

    const scenario = async (name: string, s: Omit<Scenario, 'host' | 'project' | 'concurrency'>) => {
      const r = await runJsonChild<ScenarioReport>(
        process.execPath,
        [HERE, '--child', JSON.stringify({ ...s, host, project: `bench-mem-${name}`, concurrency })],
        { timeoutMs: 20 * 60_000 },
      );
      log(
        `  ${name}: peak RSS ${r.peakRssMiB} MiB (samples ${r.rssSamplesMiB.join(', ')}), budget held ≤ ${r.maxHeldMiB} MiB, ≤ ${r.maxWaiting} waiting, ${r.deferred} deferred, ${r.records.toLocaleString('en')} records in ${r.seconds} s`,
      );
      return r;
    };
    const base = await scenario('small', { objects: small, budgetBytes, timeBudget: '480s' });
    const timeBudget = options.quick === true ? '10s' : '20s';
    const unbounded = await scenario('large-no-admission', {
      objects: large,
      budgetBytes: undefined,
      timeBudget,
    });
    const admitted = await scenario('large-admitted', { objects: large, budgetBytes, timeBudget });

    const instanceMiB = instanceBytes / MIB;
    const cond = (what: string) =>
      `${what}; ${concurrency} requests at a time in one child process (Node ${process.version}, default V8 heap sizing), ingestObject against the Firestore emulator, objects read as file streams (bench/ingest-memory.ts)`;
    figures.push(
      {
        name: `ingest base memory at concurrency ${concurrency} (small files)`,
        value: base.peakRssMiB,
        unit: 'MiB',
        goal: `≤ ${INGEST_BASE_MEMORY_BYTES / MIB} (the base the deploy sizes ingest with)`,
        meets: base.peakRssMiB <= INGEST_BASE_MEMORY_BYTES / MIB,
        conditions: cond(
          `${smallCount} one-order JSON files, admission on (${budgetBytes / MIB} MiB budget)`,
        ),
      },
      {
        name: `ingest peak, ${concurrency} large gzip objects, no admission`,
        value: unbounded.peakRssMiB,
        unit: 'MiB',
        conditions: cond(
          `${concurrency} gzip JSONL objects of ${round(gzSize / MIB, 1)} MiB each at once, each stopped by a ${timeBudget} time budget (the memory peak is the gzip verification at the start)`,
        ),
      },
      {
        name: `ingest peak, ${concurrency} large gzip objects, admission (${budgetBytes / MIB} MiB budget)`,
        value: admitted.peakRssMiB,
        unit: 'MiB',
        goal: `≤ ${instanceMiB} (deployed ingest memory ${defaults.memory})`,
        meets: admitted.peakRssMiB <= instanceMiB,
        conditions: cond(
          `the same objects through the memory admission: each charged ${round(ingestMemoryCost({ size: gzSize }, SETTINGS_DEFAULTS) / MIB, 0)} MiB (working set ${REQUEST_WORKING_SET_BYTES / MIB} MiB + 4 × max line + the object), at most ${admitted.maxHeldMiB} MiB held, up to ${admitted.maxWaiting} waiting (${admitted.deferred} gave up after half their ${timeBudget} time budget: redelivered in production)`,
        ),
      },
    );
    return { figures };
  } finally {
    await emulator?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const SETTINGS_DEFAULTS = { maxLineLength: SETTINGS.maxLineLength.parse(SETTINGS.maxLineLength.default!) };

if (process.argv[1] === HERE) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') await child(JSON.parse(args[1]!) as Scenario);
  else {
    const { figures } = await runIngestMemoryBench({ quick: args.includes('--quick') });
    for (const f of figures)
      console.log(`${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal})` : ''}`);
  }
}
