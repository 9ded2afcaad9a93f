// `npm run bench [-- --quick] [--only ingest,evict,reconcile,parquet,iceberg,e2e,memory,ingest-memory,flush,compaction,compaction-10m] [--memory-full] [--files-per-append 5|1,5] [--check-readers] [--out FILE]`:
// every benchmark of issue 8 in one run on this machine — ingest throughput vs the emulator's raw
// throughput, Firestore operations and cost per joined pair, reconciliation cost, Parquet vs pyarrow, Iceberg commit latency
// with history, end-to-end latency and the highest sustained rate on the local stack, peak RSS of ingest
// and compaction. Prints a table (with each figure's conditions) and writes bench/results.json. A
// benchmark is not a test: a missed goal never fails the run; only a benchmark that could not run does.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';
import { stackDown } from '../infra/local/stack.ts';
import { parseFilesPerAppend, runCompactionBench } from './compaction.ts';
import { runE2eBench } from './e2e.ts';
import { runEvictBench } from './evict.ts';
import { runFlushBacklogBench } from './flush-backlog.ts';
import { runIngestBench } from './ingest.ts';
import { runIngestMemoryBench } from './ingest-memory.ts';
import { runMemoryBench } from './memory.ts';
import { runParquetBench } from './parquet.ts';
import { runReconcileBench } from './reconcile.ts';
import { type BenchFigure, machineInfo, round, withConditions } from './support.ts';

const SECTIONS = [
  'ingest',
  'evict',
  'reconcile',
  'parquet',
  'iceberg',
  'e2e',
  'memory',
  'ingest-memory',
  'flush',
  'compaction',
  'compaction-10m',
] as const;
type Section = (typeof SECTIONS)[number];
/** Sections run on request only (--only): minutes of work for one figure. */
const ON_REQUEST: readonly Section[] = ['compaction-10m'];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'memory-full': { type: 'boolean', default: false },
    'files-per-append': { type: 'string' },
    // compaction: read every snapshot of the simulated day back through the reference readers (slow).
    'check-readers': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json') },
  },
  strict: true,
});
const quick = values.quick;
const only = (values.only?.split(',').map((s) => s.trim()) ??
  SECTIONS.filter((s) => !ON_REQUEST.includes(s))) as Section[];
for (const s of only) {
  if (!(SECTIONS as readonly string[]).includes(s)) {
    console.error(
      `--only expects a comma-separated list of ${SECTIONS.join(', ')}, but got: ${JSON.stringify(s)}`,
    );
    process.exit(2);
  }
}

// The emulator keeps every document in its Java heap: a million join states need more than the 512 MiB
// the project's default gives it (it fails with OutOfMemoryError → gRPC UNKNOWN).
process.env['JAVA_TOOL_OPTIONS'] ??= '-Xmx3g';
const started = Date.now();
const machine = machineInfo();
const log = (line: string) => console.log(line);
console.log(
  `streamjoin bench${quick ? ' (--quick)' : ''} on ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.date}`,
);
console.log('(a shared machine: other processes may run too; figures are single runs unless stated)');

// Everything started here is stopped on exit, Ctrl-C included.
let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
let e2eDir: string | undefined;
const cleanUp = async () => {
  if (e2eDir !== undefined) await stackDown(e2eDir).catch(() => undefined);
  await emulator?.stop().catch(() => undefined);
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\nbench: ${sig}, stopping what it started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const figures: BenchFigure[] = [];
const errors: Array<{ section: Section; error: string }> = [];
const timings: Record<string, number> = {};

async function section(name: Section, fn: () => Promise<BenchFigure[]>): Promise<void> {
  if (!only.includes(name)) return;
  console.log(`\n== ${name}`);
  const t0 = Date.now();
  try {
    figures.push(...(await fn()));
  } catch (err) {
    console.error(
      `bench ${name} could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    errors.push({ section: name, error: String(err) });
  }
  timings[name] = round((Date.now() - t0) / 1000, 1);
}

try {
  if (
    only.includes('ingest') ||
    only.includes('evict') ||
    only.includes('memory') ||
    only.includes('ingest-memory') ||
    only.includes('compaction') ||
    only.includes('compaction-10m') ||
    only.includes('reconcile')
  ) {
    emulator = await startFirestoreEmulator({
      port: await freePort(),
      logFile: '.streamjoin/bench-firestore.log',
    });
  }
  await section(
    'ingest',
    async () => (await runIngestBench({ emulatorHost: emulator!.host, quick, log })).figures,
  );
  await section(
    'evict',
    async () => (await runEvictBench({ emulatorHost: emulator!.host, quick, log })).figures,
  );
  await section(
    'reconcile',
    async () => (await runReconcileBench({ emulatorHost: emulator!.host, quick, log })).figures,
  );
  await section('parquet', async () => {
    const rows = quick ? 200_000 : 1_000_000;
    const { figures: f } = await runParquetBench({ rows, repeat: quick ? 1 : 3, log });
    return withConditions(
      f,
      `${rows.toLocaleString('en')} joined rows (+ joined_at) to one Parquet file, ZSTD level 3, row groups of 50,000; each writer in its own child process (peak RSS its own); wall time = median of ${quick ? 1 : 3} alternating runs; pyarrow = build the table + write (bench/parquet.ts)`,
    );
  });
  await section('iceberg', async () => {
    const mod = (await import('./iceberg-commit.ts')) as Record<string, unknown>;
    if (typeof mod['runIcebergCommitBench'] !== 'function') {
      throw new Error('bench/iceberg-commit.ts exports no runIcebergCommitBench (not finished yet)');
    }
    const run = mod['runIcebergCommitBench'] as (o: object) => Promise<{ figures: BenchFigure[] }>;
    const commits = quick ? 200 : 1000;
    const { figures: f } = await run({ commits, window: 10, log });
    return withConditions(
      f,
      `file:// table, ${commits} append commits of one 20-row data file each (files written outside the timing), default manifest merging; latencies are medians of 10 commits timed alternately on a young (10th snapshot) and an old (${commits}th) table (bench/iceberg-commit.ts)`,
    );
  });
  await section('e2e', async () => {
    const { figures: f } = await runE2eBench({
      quick,
      log,
      onDataDir: (d) => {
        e2eDir = d;
      },
    });
    return f;
  });
  await section('memory', async () => {
    const { figures: f } = await runMemoryBench({
      emulatorHost: emulator!.host,
      quick,
      full: values['memory-full'],
      log,
    });
    return f;
  });
  await section('ingest-memory', async () => {
    // Peak RSS of one ingest instance at the deployed concurrency: what the function is sized from.
    const { figures: f } = await runIngestMemoryBench({ emulatorHost: emulator!.host, quick, log });
    return f;
  });
  await section('flush', async () => {
    // An outbox backlog flushed by repeated ticks (its own emulator with a larger heap).
    const { figures: f } = await runFlushBacklogBench({ rows: quick ? 20_000 : 100_000 });
    return f;
  });
  await section('compaction', async () => {
    // Table maintenance (issue 15): a simulated day of appends with compaction after each, the reader
    // after it, and compaction's peak RSS for 1,000,000 rows.
    // --files-per-append 1,5: the day in both shapes (default: the deployed one, 5).
    const { figures: f } = await runCompactionBench({
      emulatorHost: emulator!.host,
      quick,
      log,
      checkReaders: values['check-readers'],
      ...(values['files-per-append'] === undefined
        ? {}
        : { filesPerAppend: parseFilesPerAppend(values['files-per-append']) }),
    });
    return f;
  });
  await section('compaction-10m', async () => {
    // Peak RSS for 10,000,000 rows too (on request: --only compaction-10m).
    const { figures: f } = await runCompactionBench({
      emulatorHost: emulator!.host,
      quick,
      day: false,
      rssRows: [10_000_000],
      log,
    });
    return f;
  });
} finally {
  await cleanUp();
}

// The table, then each figure's conditions (numbered).
const conditions: string[] = [];
const ref = (c: string | undefined) => {
  if (c === undefined) return '';
  let i = conditions.indexOf(c);
  if (i < 0) i = conditions.push(c) - 1;
  return `[${i + 1}]`;
};
const rows = figures.map((f) => [
  f.name,
  `${f.value.toLocaleString('en')} ${f.unit}`,
  f.goal ?? '',
  f.goal === undefined ? '' : f.meets ? 'yes' : 'NO',
  ref(f.conditions),
]);
const header = ['figure', 'value', 'goal', 'meets', 'cond.'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
for (const r of rows) console.log(line(r));
console.log('\nconditions:');
for (const [i, c] of conditions.entries()) console.log(`  [${i + 1}] ${c}`);
for (const e of errors) console.log(`\nNOT RUN: ${e.section}: ${e.error}`);
const totalSeconds = round((Date.now() - started) / 1000, 0);
const goals = figures.filter((f) => f.goal !== undefined);
console.log(
  `\n${goals.filter((f) => f.meets).length} of ${goals.length} goals met; ${figures.length} figures in ${totalSeconds} s (${Object.entries(
    timings,
  )
    .map(([k, v]) => `${k} ${v} s`)
    .join(', ')})`,
);

writeFileSync(
  values.out,
  `${JSON.stringify(
    {
      machine,
      run: { quick, sections: only, seconds: totalSeconds, timings, errors },
      figures: figures.map((f) => ({
        name: f.name,
        value: f.value,
        unit: f.unit,
        goal: f.goal ?? null,
        meets: f.goal === undefined ? null : (f.meets ?? false),
        conditions: f.conditions ?? null,
      })),
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${values.out}`);
process.exit(errors.length === 0 ? 0 : 1);
