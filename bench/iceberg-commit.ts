// Benchmark: Iceberg append-commit latency as a table's history grows, on a file:// table. Commits N
// snapshots (default 1,000), one small data file each (written outside the timing), with the default
// manifest merging; prints the commit latency around the 10th and the 1,000th snapshot and their ratio
// (goal: the later at most 2x the earlier, so commit cost does not grow with history).
//
//   npx node bench/iceberg-commit.ts [--commits 1000] [--window 10] [--keep]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  appendFiles,
  loadOrCreateTable,
  readManifestList,
  type Table,
  tableLocation,
} from '../shared/iceberg/index.ts';
import { encodeDataFile } from '../shared/parquet/index.ts';
import { FileObjectStore } from '../shared/storage/file-store.ts';
import { joinUri } from '../shared/storage/port.ts';
import { type DataFileStats, JOINED_TABLE, type Row } from '../shared/tables.ts';
import type { BenchFigure } from './support.ts';

export type { BenchFigure } from './support.ts';

export interface IcebergCommitBenchOptions {
  /** Snapshots to commit. Default 1,000. */
  readonly commits?: number;
  /** Commits timed at each measured point, alternating between the two tables; medians reported. Default 10. */
  readonly window?: number;
  /** Keep the table (its folder is printed) instead of deleting it. */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

const DAY0_MICROS = 1_714_521_600_000_000n;

function rowsFor(commit: number): Row[] {
  return Array.from({ length: 20 }, (_, i) => ({
    order_id: `o-${commit}-${i}`,
    order_date: '2024-05-01',
    created_at: '2024-05-01T10:00:00',
    customer_id: `c-${i % 7}`,
    order_amount: i,
    payment_id: `p-${commit}-${i}`,
    payment_date: '2024-05-01',
    payment_amount: i * 2,
    joined_at: DAY0_MICROS + BigInt(commit % 30) * 86_400_000_000n + BigInt(i) * 1_000_000n,
  }));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

async function stagedFile(store: FileObjectStore, location: string, n: number): Promise<DataFileStats> {
  const uri = joinUri(location, 'data', `bench-${n}.parquet`);
  const file = encodeDataFile(rowsFor(n), JOINED_TABLE);
  await store.writeStream(uri, file, { ifAbsent: true });
  const { rowGroupCount: _, ...result } = await file.stats;
  return { uri, ...result };
}

async function timedCommit(
  table: Table,
  file: DataFileStats,
  n: number,
): Promise<{ table: Table; ms: number }> {
  const t0 = performance.now();
  const r = await appendFiles(table, [file], { batchIds: [`bench-${n}`] });
  return { table: r.table, ms: performance.now() - t0 };
}

/**
 * Two tables: `young` is brought to 9 snapshots and `old` to commits-1; then the 10th..(10+window-1)th
 * commit of `young` and the commits-th.. commit of `old` are timed alternately, so the shared box's
 * noise hits both sides alike. Figures are medians over the window.
 */
export async function runIcebergCommitBench(
  options: IcebergCommitBenchOptions = {},
): Promise<{ figures: BenchFigure[] }> {
  const commits = options.commits ?? 1000;
  const window = options.window ?? 10;
  const log = options.log ?? ((line: string) => console.log(line));
  if (commits < 20) throw new Error(`expected at least 20 commits, but was: ${commits}`);
  const dir = await mkdtemp(join(tmpdir(), 'streamjoin-bench-iceberg-'));
  const store = new FileObjectStore();
  try {
    const youngLoc = tableLocation(`file://${dir}`, 'default', 'young');
    const oldLoc = tableLocation(`file://${dir}`, 'default', 'old');
    let young: Table = await loadOrCreateTable(store, youngLoc, JOINED_TABLE);
    let old: Table = await loadOrCreateTable(store, oldLoc, JOINED_TABLE);
    log(`iceberg commit bench: building a ${commits - 1}-snapshot history on ${oldLoc}`);
    const history: number[] = [];
    for (let i = 0; i < commits - 1; i++) {
      const r = await timedCommit(old, await stagedFile(store, oldLoc, i), i);
      old = r.table;
      history.push(r.ms);
      if ((i + 1) % 250 === 0) log(`  ${i + 1} commits, last ${round(r.ms)} ms`);
    }
    for (let i = 0; i < 9; i++)
      young = (await timedCommit(young, await stagedFile(store, youngLoc, i), i)).table;
    const early: number[] = [];
    const late: number[] = [];
    for (let k = 0; k < window; k++) {
      const y = await timedCommit(young, await stagedFile(store, youngLoc, 9 + k), 9 + k);
      young = y.table;
      early.push(y.ms);
      const o = await timedCommit(old, await stagedFile(store, oldLoc, commits - 1 + k), commits - 1 + k);
      old = o.table;
      late.push(o.ms);
    }
    const e = median(early);
    const l = median(late);
    const ratio = l / e;
    const manifests = await readManifestList(store, old.metadata.snapshots.at(-1)!.manifestList);
    const metadataBytes = (await store.stat(old.metadataUri))?.size ?? 0;
    const mergeCommits = history.filter((ms) => ms > 5 * median(history)).length;
    const figures: BenchFigure[] = [
      { name: `iceberg commit latency at snapshot 10 (median of ${window})`, value: round(e), unit: 'ms' },
      {
        name: `iceberg commit latency at snapshot ${commits} (median of ${window})`,
        value: round(l),
        unit: 'ms',
      },
      {
        name: `iceberg commit latency ratio snapshot ${commits} / snapshot 10`,
        value: round(ratio),
        unit: 'x',
        goal: '≤ 2',
        meets: ratio <= 2,
      },
      {
        name: `iceberg commit latency max over ${commits} commits (a manifest merge)`,
        value: round(Math.max(...history)),
        unit: 'ms',
      },
      {
        name: 'iceberg commits slower than 5x the median (manifest merges)',
        value: mergeCommits,
        unit: 'commits',
      },
      {
        name: `manifests referenced by snapshot ${commits + window - 1}`,
        value: manifests.length,
        unit: 'manifests',
      },
      {
        name: `metadata file size at snapshot ${commits + window - 1}`,
        value: round(metadataBytes / 1024, 1),
        unit: 'KiB',
      },
    ];
    for (const f of figures) {
      log(
        `  ${f.name}: ${f.value} ${f.unit}${f.goal === undefined ? '' : ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})`}`,
      );
    }
    if (options.keep === true) log(`  tables kept in ${dir}`);
    return { figures };
  } finally {
    if (options.keep !== true) await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
    const i = process.argv.indexOf(`--${name}`);
    return hit?.split('=')[1] ?? (i >= 0 ? process.argv[i + 1] : undefined);
  };
  const commits = arg('commits');
  const window = arg('window');
  await runIcebergCommitBench({
    ...(commits === undefined ? {} : { commits: Number(commits) }),
    ...(window === undefined ? {} : { window: Number(window) }),
    keep: process.argv.includes('--keep'),
  });
}
