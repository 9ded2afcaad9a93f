// Benchmark: flushing an outbox backlog (default 1,000,000 joined rows) into Parquet micro-batches,
// in a child process whose peak RSS (getrusage maxrss) is the figure — the tick's memory bound.
// The outbox rows are written straight to the Firestore emulator first (batched writes).
//
//   npx node bench/flush-backlog.ts [--rows 1000000]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FieldValue } from '@google-cloud/firestore';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore, docIdFor, shardOf } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger } from '../shared/log.ts';
import { createFlusher } from '../shared/pipeline/tick.ts';
import { FileObjectStore } from '../shared/storage/file-store.ts';
import type { BenchFigure } from './support.ts';

const SELF = fileURLToPath(import.meta.url);

function env(host: string, dir: string): Record<string, string> {
  return {
    GOOGLE_CLOUD_PROJECT: 'bench-flush',
    FIRESTORE_EMULATOR_HOST: host,
    STREAMJOIN_WAREHOUSE: `file://${dir}/warehouse/`,
    STREAMJOIN_FLUSH_MAX_ROWS: '200000',
    STREAMJOIN_LOG_LEVEL: 'silent',
    LOG_LEVEL: 'silent',
  };
}

/** Child: flush until the outbox is empty; prints JSON {rows, ms, maxRssMiB, batches}. */
async function child(): Promise<void> {
  const config = loadConfig(process.env);
  const db = createFirestore(config);
  const cols = collections(db, config.collectionPrefix);
  const store = new FileObjectStore();
  const flusher = createFlusher({
    db,
    collections: cols,
    counter: new OpCounter(),
    store,
    config,
    log: createLogger({ level: 'silent' }),
  });
  const t0 = Date.now();
  let rows = 0;
  let batches = 0;
  for (;;) {
    const r = await flusher.flushAll();
    rows += r.rows;
    batches += r.batches.length;
    if (r.rows === 0) break;
  }
  const ms = Date.now() - t0;
  await db.terminate();
  console.log(JSON.stringify({ rows, ms, batches, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

export async function runFlushBacklogBench(
  options: { rows?: number } = {},
): Promise<{ figures: BenchFigure[] }> {
  const rows = options.rows ?? 1_000_000;
  const dir = await mkdtemp(path.join(tmpdir(), 'sj-flush-bench-'));
  // 1M outbox documents need more than the 512 MiB heap the tests give the emulator.
  const prevJava = process.env['JAVA_TOOL_OPTIONS'];
  process.env['JAVA_TOOL_OPTIONS'] = '-Xmx6g';
  const emu = await startFirestoreEmulator({
    port: await freePort(),
    logFile: path.join(dir, 'firestore.log'),
  });
  if (prevJava === undefined) delete process.env['JAVA_TOOL_OPTIONS'];
  else process.env['JAVA_TOOL_OPTIONS'] = prevJava;
  try {
    const e = env(emu.host, dir);
    const config = loadConfig(e);
    const db = createFirestore(config);
    const cols = collections(db, config.collectionPrefix);
    const day = Date.UTC(2026, 10, 25);
    const t0 = Date.now();
    const writers: Promise<unknown>[] = [];
    for (let i = 0; i < rows; i += 500) {
      const batch = db.batch();
      for (let j = i; j < Math.min(rows, i + 500); j++) {
        const id = `bench-${j}`;
        batch.set(cols.outbox.doc(docIdFor(id)), {
          rowId: id,
          table: 'joined',
          orderId: `ord-${j}`,
          shard: shardOf(id, config.indexShards),
          createdAt: FieldValue.serverTimestamp(),
          row: {
            order_id: `ord-${j}`,
            order_date: '2026-11-25T12:00:00',
            created_at: '2026-11-25T12:00:00',
            customer_id: `cust-${j % 5000}`,
            order_amount: j % 1000,
            payment_id: `pay-${j}`,
            payment_date: '2026-11-25T12:00:01',
            payment_amount: j % 1000,
            joined_at: (day + (j % 86_400_000)) * 1000,
          },
        });
      }
      writers.push(batch.commit());
      if (writers.length >= 8) await Promise.all(writers.splice(0));
    }
    await Promise.all(writers);
    const seedMs = Date.now() - t0;
    await db.terminate();
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(
        process.execPath,
        [...(process.env['FLUSH_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean), SELF, '--child'],
        { env: { ...process.env, ...e }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
      });
      p.on('exit', (code) =>
        code === 0 ? resolve(buf) : reject(new Error(`flush child exited with ${code}`)),
      );
    });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
      rows: number;
      ms: number;
      batches: number;
      maxRssMiB: number;
    };
    const conditions = `${rows.toLocaleString('en')} joined rows in the outbox (written in ${(seedMs / 1000).toFixed(0)} s), flushed by repeated tick flushes (200,000 rows per batch, 50,000 per row group) against the Firestore emulator into a file:// warehouse; ${r.batches} batches`;
    return {
      figures: [
        { name: 'flush backlog: rows flushed', value: r.rows, unit: 'rows', conditions },
        {
          name: 'flush backlog: throughput',
          value: Math.round(r.rows / (r.ms / 1000)),
          unit: 'rows/s',
          conditions,
        },
        {
          name: 'flush backlog: peak RSS',
          value: Math.round(r.maxRssMiB),
          unit: 'MiB',
          goal: '≤ 512 MiB',
          meets: r.maxRssMiB <= 512,
          conditions,
        },
      ],
    };
  } finally {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, child: { type: 'boolean' } } });
  if (values.child === true) {
    await child();
  } else {
    const r = await runFlushBacklogBench(values.rows === undefined ? {} : { rows: Number(values.rows) });
    for (const f of r.figures)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'meets' : 'MISSES'})` : ''}`,
      );
    console.log(r.figures[0]?.conditions);
  }
}
