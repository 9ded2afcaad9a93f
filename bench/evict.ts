// Benchmark: how fast one tick evicts expired waiting states against the real Firestore emulator, with
// the default settings (rounds of STREAMJOIN_EVICT_BATCH states over the deadline shards, continued
// while the tick's eviction time budget lasts). The orders are ingested through the core first (1,000-
// event JSON Lines files), then one tick's eviction runs past their deadline.
//
//   npx node bench/evict.ts [--quick]     (starts its own emulator)
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resetFirestoreEmulator, startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger } from '../shared/log.ts';
import { evictExpired } from '../shared/pipeline/evict.ts';
import { ingestObject } from '../shared/pipeline/ingest.ts';
import { type BenchFigure, forEachConcurrent, round } from './support.ts';

const silent = createLogger({ level: 'silent' });
/** Before rounds, a tick evicted one round of 2,000 states a minute at most. */
const OLD_CAP_PER_MINUTE = 2000;
/** The highest sustained input rate of one local ingest process (README, "Measured"): ~125 events/s.
 *  A tick that evicts at least that many a minute keeps up even if every order times out. */
const INGEST_EVENTS_PER_MINUTE = 125 * 60;

export async function runEvictBench(options: {
  emulatorHost: string;
  quick?: boolean;
  log?: (line: string) => void;
}): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? (() => {});
  const states = options.quick === true ? 10_000 : 40_000;
  const project = 'bench-evict';
  await resetFirestoreEmulator(options.emulatorHost, project);
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: project,
    FIRESTORE_EMULATOR_HOST: options.emulatorHost,
    STREAMJOIN_WAREHOUSE: 'file:///tmp/streamjoin-bench-evict/',
  });
  const db = createFirestore(config);
  const cols = collections(db, config.collectionPrefix);
  try {
    const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);
    const files = Array.from({ length: states / 1000 }, (_, f) => {
      const body = Buffer.from(
        Array.from({ length: 1000 }, (_, i) =>
          JSON.stringify({
            order_id: `e-${f}-${i}`,
            order_date: '2026-11-25T12:00:00',
            created_at: '2026-11-25T12:00:00',
            customer_id: `c-${i % 500}`,
            amount: 1 + (i % 1000),
          }),
        ).join('\n'),
      );
      const name = `stream/orders/2026_11_25/evict-${f}.jsonl`;
      return { obj: { bucket: 'bench', name, generation: '1', size: body.length, landedAtMs: t0 }, body };
    });
    log(`  ingesting ${states.toLocaleString('en')} orders that will time out…`);
    await forEachConcurrent(files, 4, async (f) => {
      await ingestObject(
        {
          db,
          collections: cols,
          counter: new OpCounter(),
          config,
          log: silent,
          now: () => t0,
          openObject: () => Readable.from([f.body]),
        },
        f.obj,
      );
    });
    const counter = new OpCounter();
    const started = performance.now();
    const r = await evictExpired({
      db,
      collections: cols,
      counter,
      config,
      log: silent,
      now: () => t0 + config.orderTimeoutMs + config.allowedLatenessMs + 1,
    });
    const seconds = (performance.now() - started) / 1000;
    if (r.expired !== states) {
      throw new Error(
        `expected one tick to evict all ${states} due states within its ${config.evictTimeBudgetMs} ms budget, but it evicted ${r.expired} (more: ${r.more})`,
      );
    }
    const perSecond = r.expired / seconds;
    const perTick = perSecond * (config.evictTimeBudgetMs / 1000);
    const ops = counter.snapshot();
    log(
      `  one tick evicted ${r.expired} states in ${round(seconds, 1)} s (${r.rounds} rounds): ${Math.round(perSecond)}/s; ops per eviction ${JSON.stringify(
        {
          reads: round(ops.reads / r.expired, 2),
          writes: round(ops.writes / r.expired, 2),
        },
      )}`,
    );
    const conditions = `${states.toLocaleString('en')} WAITING_PAYMENT states (ingested through the core) all past their deadline, one tick's eviction with the default settings: rounds of ${config.evictBatchSize} over ${config.indexShards} deadline shards, continued within the ${config.evictTimeBudgetMs / 1000} s budget; each expiry = state update + timeout row in the outbox (one commit per key group); local emulator, one process (bench/evict.ts)`;
    return {
      figures: [
        {
          name: 'eviction rate of one tick',
          value: Math.round(perSecond),
          unit: 'states/s',
          conditions,
        },
        {
          name: `timeouts one tick evicts within its ${config.evictTimeBudgetMs / 1000} s budget (extrapolated)`,
          value: Math.round(perTick),
          unit: 'states',
          goal: `≥ ${INGEST_EVENTS_PER_MINUTE.toLocaleString('en')} (one local ingest process's sustained input a minute; was ${OLD_CAP_PER_MINUTE.toLocaleString('en')} before rounds)`,
          meets: perTick >= INGEST_EVENTS_PER_MINUTE,
          conditions,
        },
        {
          name: 'Firestore reads per evicted state',
          value: round(ops.reads / r.expired, 2),
          unit: 'reads',
          conditions,
        },
      ],
    };
  } finally {
    await db.terminate();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const emu = await startFirestoreEmulator({
    port: await freePort(),
    logFile: '.streamjoin/bench-evict.log',
  });
  try {
    const { figures } = await runEvictBench({
      emulatorHost: emu.host,
      quick: values.quick,
      log: console.log,
    });
    for (const f of figures)
      console.log(`${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal})` : ''}`);
  } finally {
    await emu.stop();
  }
}
