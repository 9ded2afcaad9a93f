// Benchmark: ingest throughput through the core (shared/pipeline/ingest.ts ingestObject) against the real
// Firestore emulator, next to the emulator's raw throughput for the same number of plain operations in the
// same run; and Firestore operations per joined pair (ingest of both events + tick + compact) with the
// cost per million orders at public prices.
//
//   npx node bench/ingest.ts [--quick]     (starts its own emulator)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { DocumentData, DocumentReference, Firestore } from '@google-cloud/firestore';
import { resetFirestoreEmulator, startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { type Config, loadConfig } from '../shared/config.ts';
import { type Collections, collections, createFirestore, docIdFor } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger } from '../shared/log.ts';
import { runCompact } from '../shared/pipeline/compact.ts';
import { type InputObject, ingestObject } from '../shared/pipeline/ingest.ts';
import { runTick } from '../shared/pipeline/tick.ts';
import { createObjectStore } from '../shared/storage/index.ts';
import { type BenchFigure, forEachConcurrent, round } from './support.ts';

/** Public Firestore (Standard edition) prices per 100,000 document operations, USD. */
export const FIRESTORE_PRICES = {
  source: 'firebase.google.com/docs/firestore/pricing (price table by location), read 2026-11',
  regional: { where: 'regional, e.g. us-west1 (Oregon)', reads: 0.03, writes: 0.09, deletes: 0.01 },
  multiRegion: { where: 'multi-region, e.g. nam5 / eur3', reads: 0.06, writes: 0.18, deletes: 0.02 },
} as const;

export interface IngestBenchOptions {
  /** host:port of a running emulator; otherwise one is started (and stopped) here. */
  readonly emulatorHost?: string;
  readonly quick?: boolean;
  readonly log?: (line: string) => void;
}

type Ops = { reads: number; writes: number; deletes: number };

const silent = createLogger({ level: 'silent' });
const BASE_MS = Date.UTC(2026, 10, 25, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);

function order(run: string, n: number) {
  return {
    order_id: `o-${run}-${n}`,
    order_date: iso(BASE_MS + n),
    created_at: iso(BASE_MS + n),
    customer_id: `c-${n % 5000}`,
    amount: 1 + (n % 1000),
  };
}
function payment(run: string, n: number) {
  return {
    payment_id: `p-${run}-${n}`,
    order_id: `o-${run}-${n}`,
    payment_date: iso(BASE_MS + n + 60_000),
    created_at: iso(BASE_MS + n + 60_000),
    amount: 1 + (n % 1000),
  };
}

interface BenchFile {
  readonly obj: InputObject;
  readonly body: Buffer;
  readonly events: number;
}

function benchFile(kind: 'orders' | 'payments', name: string, records: readonly object[]): BenchFile {
  const body = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n'));
  return {
    obj: {
      bucket: 'bench',
      name: `stream/${kind}/2026_11_25/${name}`,
      generation: '1',
      size: body.length,
      landedAtMs: Date.now(),
    },
    body,
    events: records.length,
  };
}

const kindOf = (f: BenchFile): 'orders' | 'payments' =>
  f.obj.name.includes('/payments/') ? 'payments' : 'orders';

interface Env {
  readonly db: Firestore;
  readonly cols: Collections;
  readonly config: Config;
  readonly dir: string;
}

async function openEnv(host: string, project: string, dir: string): Promise<Env> {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: project,
    FIRESTORE_EMULATOR_HOST: host,
    STREAMJOIN_WAREHOUSE: `file://${path.join(dir, project)}/`,
    METADATA_SERVER_DETECTION: 'none',
  });
  const db = createFirestore(config);
  return { db, cols: collections(db, config.collectionPrefix), config, dir };
}

/** Ingests files at `concurrency` (like concurrent function instances); returns seconds and summed ops. */
async function ingestAll(
  env: Env,
  files: readonly BenchFile[],
  concurrency: number,
): Promise<{ seconds: number; ops: Ops; conflicts: number }> {
  const ops = new OpCounter();
  let conflicts = 0;
  const t0 = performance.now();
  await forEachConcurrent(files, concurrency, async (f) => {
    const counter = new OpCounter();
    const r = await ingestObject(
      {
        db: env.db,
        collections: env.cols,
        counter,
        config: env.config,
        log: silent,
        openObject: () => Readable.from([f.body]),
      },
      f.obj,
    );
    conflicts += r.conflicts;
    ops.add(counter.snapshot());
  });
  return { seconds: (performance.now() - t0) / 1000, ops: ops.snapshot(), conflicts };
}

/** Tick (evict + flush) until the outbox is empty, then compact; returns the ops of both. */
async function tickAndCompact(env: Env): Promise<{ tick: Ops; compact: Ops; rows: number }> {
  const store = createObjectStore({ projectId: env.config.projectId });
  const tick = new OpCounter();
  let rows = 0;
  for (let i = 0; i < 20; i++) {
    const r = await runTick({
      db: env.db,
      collections: env.cols,
      counter: tick,
      store,
      config: env.config,
      log: silent,
    });
    rows += r.flush.rows;
    if (r.flush.rows === 0 && r.flush.busyShards === 0) break;
  }
  const compact = new OpCounter();
  await runCompact({
    db: env.db,
    collections: env.cols,
    counter: compact,
    store,
    config: env.config,
    log: silent,
  });
  return { tick: tick.snapshot(), compact: compact.snapshot(), rows };
}

/** Copies of what ingest wrote: a joined state document and an outbox document, taken from `env`. */
interface Templates {
  readonly state: DocumentData;
  readonly outbox: DocumentData;
}

async function takeTemplates(env: Env): Promise<Templates> {
  const [s, o] = await Promise.all([env.cols.states.limit(1).get(), env.cols.outbox.limit(1).get()]);
  if (s.empty || o.empty) throw new Error('expected ingest to have written state and outbox documents');
  return { state: s.docs[0]!.data(), outbox: o.docs[0]!.data() };
}

/** The documents one event writes: its state, plus an outbox row when it completes a pair (a payment). */
function docsOf(env: Env, tpl: Templates, kind: 'orders' | 'payments', i: number, tag: string) {
  const id = `${tag}-${i}`;
  const docs: Array<[DocumentReference, DocumentData]> = [
    [env.db.collection(`raw_${tag}_states`).doc(docIdFor(id)), { ...tpl.state, orderId: id }],
  ];
  if (kind === 'payments') {
    docs.push([
      env.db.collection(`raw_${tag}_outbox`).doc(docIdFor(`row-${id}`)),
      { ...tpl.outbox, rowId: `row-${id}` },
    ]);
  }
  return docs;
}

/** Raw, per event: one read-modify-write transaction (read the state, write the same documents as ingest). */
async function rawTransactions(
  env: Env,
  tpl: Templates,
  files: readonly BenchFile[],
  concurrency: number,
  tag: string,
): Promise<number> {
  const t0 = performance.now();
  await forEachConcurrent(files, concurrency, async (f, i) => {
    const docs = docsOf(env, tpl, f.obj.name.includes('/payments/') ? 'payments' : 'orders', i, tag);
    await env.db.runTransaction(async (tx) => {
      await tx.get(docs[0]![0]);
      for (const [ref, data] of docs) tx.set(ref, data);
    });
  });
  return (performance.now() - t0) / 1000;
}

/** Raw, per `perCall` events: getAll of their states + one WriteBatch of the same documents, states with
 *  a create/update-time precondition (the join store's primitive, without the pipeline around it). */
async function rawGetAllBatch(
  env: Env,
  tpl: Templates,
  events: ReadonlyArray<'orders' | 'payments'>,
  concurrency: number,
  perCall: number,
  tag: string,
): Promise<number> {
  const calls = Math.ceil(events.length / perCall);
  const t0 = performance.now();
  await forEachConcurrent(
    Array.from({ length: calls }, (_, c) => c),
    concurrency,
    async (c) => {
      const docs = events
        .slice(c * perCall, (c + 1) * perCall)
        .map((k, j) => docsOf(env, tpl, k, c * perCall + j, tag));
      const snaps = await env.db.getAll(...docs.map((d) => d[0]![0]));
      const batch = env.db.batch();
      docs.forEach((d, j) => {
        const s = snaps[j]!;
        const [ref, data] = d[0]!;
        if (s.exists) batch.update(ref, data, { lastUpdateTime: s.updateTime! });
        else batch.create(ref, data);
        for (const [r, v] of d.slice(1)) batch.set(r, v);
      });
      await batch.commit();
    },
  );
  return (performance.now() - t0) / 1000;
}

/** Raw: the same documents as plain sets in WriteBatches of `perBatch` writes, `concurrency` in flight. */
async function rawBatchedWrites(
  env: Env,
  tpl: Templates,
  events: ReadonlyArray<'orders' | 'payments'>,
  concurrency: number,
  perBatch: number,
  tag: string,
): Promise<number> {
  const writes = events.flatMap((k, i) => docsOf(env, tpl, k, i, tag));
  const t0 = performance.now();
  await forEachConcurrent(
    Array.from({ length: Math.ceil(writes.length / perBatch) }, (_, b) => b),
    concurrency,
    async (b) => {
      const batch = env.db.batch();
      for (const [ref, data] of writes.slice(b * perBatch, (b + 1) * perBatch)) batch.set(ref, data);
      await batch.commit();
    },
  );
  return (performance.now() - t0) / 1000;
}

const perPair = (o: Ops, pairs: number): Ops => ({
  reads: o.reads / pairs,
  writes: o.writes / pairs,
  deletes: o.deletes / pairs,
});
const sumOps = (...xs: Ops[]): Ops => ({
  reads: xs.reduce((a, x) => a + x.reads, 0),
  writes: xs.reduce((a, x) => a + x.writes, 0),
  deletes: xs.reduce((a, x) => a + x.deletes, 0),
});

/** USD per million orders for `ops` per pair, plus `ttlDeletes` per pair (the tombstone state and the
 *  objects' ledger entries, deleted by Firestore TTL and billed as deletes). */
function costPerMillion(
  ops: Ops,
  prices: { reads: number; writes: number; deletes: number },
  ttlDeletes: number,
): number {
  return (
    ((ops.reads * prices.reads + ops.writes * prices.writes + (ops.deletes + ttlDeletes) * prices.deletes) *
      1e6) /
    1e5
  );
}

export async function runIngestBench(options: IngestBenchOptions = {}): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const quick = options.quick === true;
  const dir = await mkdtemp(path.join(tmpdir(), 'streamjoin-bench-ingest-'));
  let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
  const envs: Env[] = [];
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
    const run = Date.now().toString(36);

    // Warm-up (JIT, connections, the emulator's own JIT) on a project of its own.
    const warm = await openEnv(host, `bench-ingest-warm-${run}`, dir);
    envs.push(warm);
    await ingestAll(
      warm,
      Array.from({ length: 6 }, (_, f) =>
        benchFile(
          'orders',
          `w_${f}.jsonl`,
          Array.from({ length: 500 }, (_, k) => order(`w${run}`, f * 500 + k)),
        ),
      ),
      4,
    );
    const warmTpl = { state: { a: 1, b: { c: 'd' } }, outbox: { e: 'f' } };
    await rawTransactions(
      warm,
      warmTpl,
      Array.from({ length: 300 }, (_, i) => benchFile('orders', `w${i}`, [])),
      16,
      'w1',
    );
    await rawBatchedWrites(
      warm,
      warmTpl,
      Array.from({ length: 4000 }, () => 'payments' as const),
      4,
      400,
      'w2',
    );

    // 1. One event per file (the original producer). A payment comes LAG files after its order (the
    // producer pays a minute later), so the two halves of a pair are rarely in flight together.
    const pairs = quick ? 400 : 1500;
    const c1 = 16;
    const LAG = 64;
    const small: BenchFile[] = [];
    for (let i = 0; i < pairs + LAG; i++) {
      if (i < pairs) small.push(benchFile('orders', `order_${i}.json`, [order(run, i)]));
      if (i >= LAG) small.push(benchFile('payments', `payment_${i - LAG}.json`, [payment(run, i - LAG)]));
    }
    const e1 = await openEnv(host, `bench-ingest-single-${run}`, dir);
    envs.push(e1);
    const ing1 = await ingestAll(e1, small, c1);
    const tpl1 = await takeTemplates(e1);
    const tx1 = await rawTransactions(e1, tpl1, small, c1, 'tx');
    const rmw1 = await rawGetAllBatch(e1, tpl1, small.map(kindOf), c1, 1, 'rmw');
    const eps1 = small.length / ing1.seconds;
    const txps = small.length / tx1;
    const cond1 = `${small.length} one-event files (${pairs} order+payment pairs, each payment ${LAG} files after its order), ${c1} files in flight, ingestObject in-process (no HTTP, no GCS download) against the Firestore emulator; raw = per event one read-modify-write transaction (read the state, write the same documents ingest wrote: copies of a real state doc, plus an outbox doc for a payment) at the same concurrency`;
    const tc1 = await tickAndCompact(e1);
    log(
      `ingest 1-event files: ${round(eps1, 0)} events/s (${ing1.conflicts} conflicts); raw transactions ${round(txps, 0)} events/s; getAll + precondition batch per event ${round(small.length / rmw1, 0)} events/s`,
    );
    figures.push(
      {
        name: 'ingest throughput, 1-event files',
        value: round(eps1, 0),
        unit: 'events/s',
        conditions: cond1,
      },
      {
        name: 'emulator raw, 1-event files: a read-modify-write transaction per event',
        value: round(txps, 0),
        unit: 'events/s',
        conditions: cond1,
      },
      {
        name: 'ingest / raw ratio, 1-event files',
        value: round(eps1 / txps),
        unit: 'x',
        goal: '≥ 0.5',
        meets: eps1 / txps >= 0.5,
        conditions: cond1,
      },
      {
        name: 'ingest / raw ratio, 1-event files, vs the join store primitive (getAll + precondition batch)',
        value: round(eps1 / (small.length / rmw1)),
        unit: 'x',
        conditions: `${cond1}; here raw = per event getAll of its state + a WriteBatch of the same documents with a create/update-time precondition`,
      },
    );

    // 2. 1,000-event JSON Lines files: all order files, then all payment files, 4 files in flight.
    const perFile = 1000;
    const nFiles = quick ? 6 : 20;
    const big: BenchFile[] = [];
    for (let f = 0; f < nFiles / 2; f++) {
      big.push(
        benchFile(
          'orders',
          `orders_${f}.jsonl`,
          Array.from({ length: perFile }, (_, k) => order(run, f * perFile + k)),
        ),
      );
    }
    for (let f = 0; f < nFiles / 2; f++) {
      big.push(
        benchFile(
          'payments',
          `payments_${f}.jsonl`,
          Array.from({ length: perFile }, (_, k) => payment(run, f * perFile + k)),
        ),
      );
    }
    const c2 = 4;
    const events2 = nFiles * perFile;
    const e2 = await openEnv(host, `bench-ingest-jsonl-${run}`, dir);
    envs.push(e2);
    const ing2 = await ingestAll(e2, big, c2);
    const tpl2 = await takeTemplates(e2);
    const kinds2 = big.flatMap((f) => Array.from({ length: f.events }, () => kindOf(f)));
    const bw2 = await rawBatchedWrites(e2, tpl2, kinds2, c2, 400, 'bw');
    const rmw2 = await rawGetAllBatch(e2, tpl2, kinds2, c2, 200, 'rmw');
    const eps2 = events2 / ing2.seconds;
    const bwps = events2 / bw2;
    const cond2 = `${nFiles} JSON Lines files of ${perFile} events (${nFiles / 2} of orders first, then ${nFiles / 2} of their payments), ${c2} files in flight, ingestObject in-process against the emulator; raw = the same documents ingest wrote (copies of a real state doc per event, plus an outbox doc per payment) as plain sets in WriteBatches of 400, ${c2} in flight`;
    const tc2 = await tickAndCompact(e2);
    log(
      `ingest 1,000-event files: ${round(eps2, 0)} events/s (${ing2.conflicts} conflicts); raw batched writes ${round(bwps, 0)} events/s; getAll(200) + precondition batch ${round(events2 / rmw2, 0)} events/s`,
    );
    figures.push(
      {
        name: 'ingest throughput, 1,000-event JSONL files',
        value: round(eps2, 0),
        unit: 'events/s',
        conditions: cond2,
      },
      {
        name: 'emulator raw, 1,000-event files: the same documents in plain batched writes',
        value: round(bwps, 0),
        unit: 'events/s',
        conditions: cond2,
      },
      {
        name: 'ingest / raw ratio, 1,000-event JSONL files',
        value: round(eps2 / bwps),
        unit: 'x',
        goal: '≥ 0.5',
        meets: eps2 / bwps >= 0.5,
        conditions: cond2,
      },
      {
        name: 'ingest / raw ratio, 1,000-event files, vs the join store primitive (getAll 200 + precondition batch)',
        value: round(eps2 / (events2 / rmw2)),
        unit: 'x',
        conditions: `${cond2}; here raw = getAll of 200 states + one WriteBatch of their documents with create/update-time preconditions`,
      },
    );

    // 3. Firestore operations per joined pair, and the cost.
    // Goals (issue 14): the per-object ledger entry costs at most one operation per object.
    for (const [label, ing, tc, n, goal, objectsPerPair] of [
      ['1-event files', ing1, tc1, pairs, 9, 2],
      ['1,000-event files', ing2, tc2, events2 / 2, 7.1, 2 / perFile],
    ] as const) {
      if (tc.rows !== n) log(`  warning: ${label}: flushed ${tc.rows} rows, expected ${n}`);
      const total = perPair(sumOps(ing.ops, tc.tick, tc.compact), n);
      const all = total.reads + total.writes + total.deletes;
      const cond = `${label}: ${n} pairs ingested (each object's ledger entry included), then ticks (evict + flush to Parquet) until the outbox is empty and one compaction (Iceberg commit), counted by OpCounter; ingest ${JSON.stringify(perPair(ing.ops, n))}, tick ${JSON.stringify(perPair(tc.tick, n))}, compact ${JSON.stringify(perPair(tc.compact, n))} per pair`;
      log(
        `Firestore ops per joined pair (${label}): reads ${round(total.reads, 3)}, writes ${round(total.writes, 3)}, deletes ${round(total.deletes, 3)} = ${round(all, 3)}`,
      );
      figures.push(
        {
          name: `Firestore reads per joined pair (${label})`,
          value: round(total.reads, 3),
          unit: 'reads',
          conditions: cond,
        },
        {
          name: `Firestore writes per joined pair (${label})`,
          value: round(total.writes, 3),
          unit: 'writes',
          conditions: cond,
        },
        {
          name: `Firestore deletes per joined pair (${label})`,
          value: round(total.deletes, 3),
          unit: 'deletes',
          conditions: cond,
        },
        {
          name: `Firestore operations per joined pair (${label})`,
          value: round(all, 3),
          unit: 'ops',
          goal: `≤ ${goal}`,
          meets: all <= goal,
          conditions: cond,
        },
      );
      for (const p of [FIRESTORE_PRICES.regional, FIRESTORE_PRICES.multiRegion]) {
        figures.push({
          name: `Firestore cost per million orders (${label}, ${p.where})`,
          value: round(costPerMillion(total, p, 1 + objectsPerPair), 3),
          unit: 'USD',
          conditions: `the operations of "Firestore operations per joined pair (${label})" (${round(total.reads, 3)} reads, ${round(total.writes, 3)} writes, ${round(total.deletes, 3)} deletes) × 1,000,000 at prices per 100k: reads $${p.reads}, writes $${p.writes}, deletes $${p.deletes} (${FIRESTORE_PRICES.source}); plus ${round(1 + objectsPerPair, 3)} TTL deletes per pair (the tombstone state and ${round(objectsPerPair, 3)} ledger entries, billed as deletes); free tier ignored; document sizes < 1 KiB (1 op each)`,
        });
      }
    }
    return { figures };
  } finally {
    for (const e of envs) {
      await e.db.terminate().catch(() => undefined);
      // Free the emulator's heap for what runs next on the same emulator.
      if (options.emulatorHost !== undefined)
        await resetFirestoreEmulator(options.emulatorHost, e.config.projectId).catch(() => undefined);
    }
    await emulator?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { figures } = await runIngestBench({ quick: process.argv.includes('--quick') });
  for (const f of figures)
    console.log(
      `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})` : ''}`,
    );
}
