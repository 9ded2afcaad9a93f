// Benchmark: write N joined rows (default 1,000,000) to one Parquet data file with shared/parquet, and
// the same rows with pyarrow (bench/parquet_pyarrow.py) in the same run; prints rows/s, wall time, peak
// RSS and the ratio. Each writer runs in its own child process so peak RSS is its own.
//
//   npx node bench/parquet.ts [--rows 1000000] [--row-group-rows 50000] [--zstd-level 3] [--keep]
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDataFile } from '../shared/parquet/index.ts';
import { JOINED_TABLE, type Row } from '../shared/tables.ts';

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The target, in words (e.g. "≤ 2"); absent for figures reported for information. */
  readonly goal?: string;
  readonly meets?: boolean;
}

export interface ParquetBenchOptions {
  readonly rows?: number;
  readonly rowGroupRows?: number;
  readonly zstdLevel?: number;
  /** Python interpreter with pyarrow (default $PYTHON or python3). */
  readonly python?: string;
  /** Keep the two files (their folder is printed) instead of deleting them. */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

const BASE_MS = Date.UTC(2024, 4, 1); // 2024-05-01T00:00:00Z: all rows fall on this day
const HERE = fileURLToPath(import.meta.url);
const PY_SCRIPT = join(HERE, '..', 'parquet_pyarrow.py');

/** Milliseconds between consecutive rows: 37 ms, or less so that N rows stay within 22 hours. */
export function stepMs(rows: number): number {
  return Math.max(1, Math.min(37, Math.floor(80_000_000 / rows)));
}

/**
 * The benchmark rows, like the producer's (bench/parquet_pyarrow.py mirrors this formula exactly):
 * row i is an order made at t = 2024-05-01 + i·step ms, paid a minute later, joined a second after.
 */
export function* generateJoinedRows(rows: number): Generator<Row> {
  const step = stepMs(rows);
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  // ISO seconds change once per ~27 rows: cache the last formatted second per field.
  const cache = [-1, -1, -1];
  const text = ['', '', ''];
  const isoSeconds = (slot: number, ms: number): string => {
    const sec = Math.floor(ms / 1000);
    if (cache[slot] !== sec) {
      cache[slot] = sec;
      text[slot] = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return text[slot];
  };
  for (let i = 0; i < rows; i++) {
    const t = BASE_MS + i * step;
    const amount = 100 + ((i * 7919) % 99_900);
    yield {
      order_id: `ORD${pad(i, 9)}`,
      order_date: isoSeconds(0, t),
      created_at: `${isoSeconds(1, t + 250)}.${pad((t + 250) % 1000, 3)}`,
      customer_id: `CUST${pad((i * 7919) % 100_000, 6)}`,
      order_amount: amount,
      payment_id: `PAY${pad(i, 9)}`,
      payment_date: isoSeconds(2, t + 60_000),
      payment_amount: amount,
      joined_at: BigInt(t + 61_000) * 1000n + BigInt(i % 1000),
    };
  }
}

interface NodeChildReport {
  readonly rows: number;
  readonly generateSeconds: number;
  readonly totalSeconds: number;
  readonly maxRssMiB: number;
  readonly fileBytes: number;
  readonly rowGroups: number;
}

interface PyReport {
  readonly rows: number;
  readonly build_seconds: number;
  readonly write_seconds: number;
  readonly max_rss_mib: number;
  readonly file_bytes: number;
  readonly node_file_equal: boolean | null;
  readonly pyarrow_version: string;
}

/** Child process: time the generator alone, then generator + writer; report as one JSON line. */
async function runNodeChild(
  rows: number,
  out: string,
  rowGroupRows: number,
  zstdLevel: number,
): Promise<void> {
  let t0 = performance.now();
  let n = 0;
  for (const _ of generateJoinedRows(rows)) n++;
  const generateSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const result = await writeDataFile(generateJoinedRows(rows), JOINED_TABLE, createWriteStream(out), {
    rowGroupRows,
    zstdLevel,
  });
  const totalSeconds = (performance.now() - t0) / 1000;
  const report: NodeChildReport = {
    rows: n,
    generateSeconds,
    totalSeconds,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    fileBytes: result.fileSizeInBytes,
    rowGroups: result.rowGroupCount,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function runChild(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', (err) =>
      reject(
        new Error(
          `could not start ${command} (${err.message}); for the pyarrow comparison install python3 and pyarrow`,
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').at(-1) ?? '');
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.trim()}`));
    });
  });
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

export async function runParquetBench(
  options: ParquetBenchOptions = {},
): Promise<{ figures: BenchFigure[] }> {
  const rows = options.rows ?? 1_000_000;
  const rowGroupRows = options.rowGroupRows ?? 50_000;
  const zstdLevel = options.zstdLevel ?? 3;
  const python = options.python ?? process.env['PYTHON'] ?? 'python3';
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = await mkdtemp(join(tmpdir(), 'streamjoin-bench-parquet-'));
  try {
    const nodeFile = join(dir, 'node.parquet');
    const pyFile = join(dir, 'pyarrow.parquet');
    log(
      `parquet bench: ${rows.toLocaleString('en')} joined rows, row groups of ${rowGroupRows}, ZSTD level ${zstdLevel}`,
    );
    const nodeOut = await runChild(process.execPath, [
      HERE,
      '--child',
      `--rows=${rows}`,
      `--out=${nodeFile}`,
      `--row-group-rows=${rowGroupRows}`,
      `--zstd-level=${zstdLevel}`,
    ]);
    const node = JSON.parse(nodeOut) as NodeChildReport;
    const pyOut = await runChild(python, [
      PY_SCRIPT,
      '--rows',
      String(rows),
      '--out',
      pyFile,
      '--row-group-rows',
      String(rowGroupRows),
      '--zstd-level',
      String(zstdLevel),
      '--check',
      nodeFile,
    ]);
    const py = JSON.parse(pyOut) as PyReport;
    const nodeWrite = node.totalSeconds - node.generateSeconds;
    const pyTotal = py.build_seconds + py.write_seconds;
    const ratio = nodeWrite / pyTotal;
    log(
      `  node  : ${round(node.totalSeconds)} s total, of which generating rows ${round(node.generateSeconds)} s → ` +
        `write ${round(nodeWrite)} s = ${Math.round(rows / nodeWrite).toLocaleString('en')} rows/s; ` +
        `peak RSS ${round(node.maxRssMiB, 0)} MiB; ${round(node.fileBytes / 2 ** 20)} MiB, ${node.rowGroups} row groups`,
    );
    log(
      `  pyarrow ${py.pyarrow_version}: build table ${round(py.build_seconds)} s + write ${round(py.write_seconds)} s = ` +
        `${round(pyTotal)} s = ${Math.round(rows / pyTotal).toLocaleString('en')} rows/s; peak RSS ` +
        `${round(py.max_rss_mib, 0)} MiB (includes the generated Python lists); ${round(py.file_bytes / 2 ** 20)} MiB`,
    );
    log(
      `  ratio node/pyarrow: ${round(ratio)} (write only vs build+write; goal ≤ 2); vs pyarrow write alone: ` +
        `${round(nodeWrite / py.write_seconds)}; node file read back by pyarrow equals pyarrow's rows: ${py.node_file_equal}`,
    );
    if (options.keep) log(`  files kept in ${dir}`);
    return {
      figures: [
        { name: 'parquet write rows/s (node)', value: Math.round(rows / nodeWrite), unit: 'rows/s' },
        { name: 'parquet write wall time (node, excl. row generation)', value: round(nodeWrite), unit: 's' },
        {
          name: 'parquet write peak RSS (node)',
          value: round(node.maxRssMiB, 0),
          unit: 'MiB',
          goal: '< 512',
          meets: node.maxRssMiB < 512,
        },
        { name: 'parquet build+write wall time (pyarrow)', value: round(pyTotal), unit: 's' },
        {
          name: 'parquet write time ratio node/pyarrow',
          value: round(ratio),
          unit: 'x',
          goal: '≤ 2',
          meets: ratio <= 2,
        },
        {
          name: 'parquet node file equals pyarrow rows',
          value: py.node_file_equal ? 1 : 0,
          unit: 'bool',
          goal: '= 1',
          meets: py.node_file_equal === true,
        },
      ],
    };
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}

function argValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

function intArg(args: string[], name: string, fallback: number): number {
  const raw = argValue(args, name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} expects a positive integer, but was: ${JSON.stringify(raw)}`);
  return n;
}

if (process.argv[1] === HERE) {
  const args = process.argv.slice(2);
  const rows = intArg(args, '--rows', 1_000_000);
  const rowGroupRows = intArg(args, '--row-group-rows', 50_000);
  const zstdLevel = intArg(args, '--zstd-level', 3);
  if (args.includes('--child')) {
    await runNodeChild(rows, argValue(args, '--out') ?? 'out.parquet', rowGroupRows, zstdLevel);
  } else {
    const { figures } = await runParquetBench({
      rows,
      rowGroupRows,
      zstdLevel,
      keep: args.includes('--keep'),
    });
    const missed = figures.filter((f) => f.meets === false).map((f) => f.name);
    if (missed.length > 0) console.log(`goals missed: ${missed.join('; ')}`);
  }
}
