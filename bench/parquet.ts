// Benchmark: write N joined rows (default 1,000,000) to one Parquet data file with shared/parquet, and
// the same rows with pyarrow (bench/parquet_pyarrow.py) in the same run; prints rows/s, wall time, peak
// RSS and the ratio. Each writer runs in its own child process so peak RSS is its own.
//
//   npx node bench/parquet.ts [--rows 1000000] [--row-group-rows 50000] [--zstd-level 3] [--repeat 3] [--keep]
//                             [--hyparquet-writer]   (also time hyparquet-writer 0.17, the alternative)
import { spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, zstdCompressSync } from 'node:zlib';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { writeDataFile } from '../shared/parquet/index.ts';
import { JOINED_TABLE, type Row } from '../shared/tables.ts';
import type { BenchFigure } from './support.ts';

export type { BenchFigure } from './support.ts';

export interface ParquetBenchOptions {
  readonly rows?: number;
  readonly rowGroupRows?: number;
  readonly zstdLevel?: number;
  /** Runs of each writer, alternating; figures are medians (the box is shared and noisy). Default 3. */
  readonly repeat?: number;
  /** Python interpreter with pyarrow (default $PYTHON or python3). */
  readonly python?: string;
  /** Also time hyparquet-writer (streaming ParquetWriter, same schema, ZSTD, untruncated stats). */
  readonly hyparquetWriter?: boolean;
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

/** Child process: the same rows through hyparquet-writer's streaming ParquetWriter, one row group at a
 *  time, configured as the Iceberg tables need (field ids, REQUIRED, logical types, ZSTD, whole bounds). */
async function runHyparquetChild(
  rows: number,
  out: string,
  rowGroupRows: number,
  zstdLevel: number,
): Promise<void> {
  const columns = JOINED_TABLE.columns;
  const schema = [
    { name: 'schema', num_children: columns.length },
    ...columns.map((c) => ({
      name: c.name,
      field_id: c.id,
      repetition_type: c.required ? ('REQUIRED' as const) : ('OPTIONAL' as const),
      ...(c.type === 'string'
        ? {
            type: 'BYTE_ARRAY' as const,
            converted_type: 'UTF8' as const,
            logical_type: { type: 'STRING' as const },
          }
        : c.type === 'int'
          ? { type: 'INT32' as const }
          : {
              type: 'INT64' as const,
              converted_type: 'TIMESTAMP_MICROS' as const,
              logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MICROS' as const },
            }),
    })),
  ];
  const fd = openSync(out, 'w');
  const writer = new ByteWriter();
  const flush = () => {
    writeSync(fd, new Uint8Array(writer.buffer, 0, writer.index));
    writer.index = 0;
  };
  Object.assign(writer, { flush, finish: flush });
  const level = { params: { [zlibConstants.ZSTD_c_compressionLevel]: zstdLevel } };
  const t0 = performance.now();
  const pw = new ParquetWriter({
    writer,
    schema,
    codec: 'ZSTD',
    compressors: { ZSTD: (input: Uint8Array) => zstdCompressSync(input, level) },
    statisticsTruncateLength: Number.POSITIVE_INFINITY,
  });
  let group: Row[] = [];
  const writeGroup = () => {
    const columnData = columns.map((c) => ({ name: c.name, data: group.map((r) => r[c.name]) }));
    pw.write({ columnData, rowGroupSize: group.length });
    group = [];
  };
  for (const row of generateJoinedRows(rows)) {
    group.push(row);
    if (group.length === rowGroupRows) writeGroup();
  }
  if (group.length > 0) writeGroup();
  pw.finish();
  closeSync(fd);
  const totalSeconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${JSON.stringify({ totalSeconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
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

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runParquetBench(
  options: ParquetBenchOptions = {},
): Promise<{ figures: BenchFigure[] }> {
  const rows = options.rows ?? 1_000_000;
  const rowGroupRows = options.rowGroupRows ?? 50_000;
  const zstdLevel = options.zstdLevel ?? 3;
  const repeat = options.repeat ?? 3;
  const python = options.python ?? process.env['PYTHON'] ?? 'python3';
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = await mkdtemp(join(tmpdir(), 'streamjoin-bench-parquet-'));
  try {
    const nodeFile = join(dir, 'node.parquet');
    const pyFile = join(dir, 'pyarrow.parquet');
    log(
      `parquet bench: ${rows.toLocaleString('en')} joined rows, row groups of ${rowGroupRows}, ZSTD level ${zstdLevel}`,
    );
    const nodeRuns: NodeChildReport[] = [];
    const pyRuns: PyReport[] = [];
    for (let run = 0; run < repeat; run++) {
      const nodeOut = await runChild(process.execPath, [
        HERE,
        '--child',
        `--rows=${rows}`,
        `--out=${nodeFile}`,
        `--row-group-rows=${rowGroupRows}`,
        `--zstd-level=${zstdLevel}`,
      ]);
      nodeRuns.push(JSON.parse(nodeOut) as NodeChildReport);
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
      pyRuns.push(JSON.parse(pyOut) as PyReport);
    }
    const node = nodeRuns[0];
    const py = pyRuns[0];
    const nodeWrites = nodeRuns.map((r) => r.totalSeconds - r.generateSeconds);
    const pyTotals = pyRuns.map((r) => r.build_seconds + r.write_seconds);
    const nodeWrite = median(nodeWrites);
    const pyTotal = median(pyTotals);
    const nodeRss = Math.max(...nodeRuns.map((r) => r.maxRssMiB));
    const nodeGenerate = median(nodeRuns.map((r) => r.generateSeconds));
    const pyWrite = median(pyRuns.map((r) => r.write_seconds));
    const pyBuild = median(pyRuns.map((r) => r.build_seconds));
    const sameRows = pyRuns.every((r) => r.node_file_equal === true);
    let hyparquet: { totalSeconds: number; maxRssMiB: number } | undefined;
    if (options.hyparquetWriter) {
      const args = [
        `--rows=${rows}`,
        `--out=${join(dir, 'hyparquet.parquet')}`,
        `--row-group-rows=${rowGroupRows}`,
      ];
      const out = await runChild(process.execPath, [
        HERE,
        '--child-hyparquet',
        ...args,
        `--zstd-level=${zstdLevel}`,
      ]);
      hyparquet = JSON.parse(out) as { totalSeconds: number; maxRssMiB: number };
    }
    const ratio = nodeWrite / pyTotal;
    const list = (xs: number[]) => xs.map((x) => round(x)).join(', ');
    log(`  medians of ${repeat} alternating runs`);
    log(
      `  node  : write ${round(nodeWrite)} s [${list(nodeWrites)}] = ${Math.round(rows / nodeWrite).toLocaleString('en')} ` +
        `rows/s (row generation, ${round(nodeGenerate)} s, timed apart and subtracted); peak RSS ${round(nodeRss, 0)} MiB; ` +
        `${round(node.fileBytes / 2 ** 20)} MiB in ${node.rowGroups} row groups`,
    );
    log(
      `  pyarrow ${py.pyarrow_version}: build table ${round(pyBuild)} s + write ${round(pyWrite)} s = ${round(pyTotal)} s ` +
        `[${list(pyTotals)}] = ${Math.round(rows / pyTotal).toLocaleString('en')} rows/s; peak RSS ` +
        `${round(py.max_rss_mib, 0)} MiB (with the generated Python lists); ${round(py.file_bytes / 2 ** 20)} MiB`,
    );
    log(
      `  ratio node/pyarrow: ${round(ratio)} (goal ≤ 2; against pyarrow's write alone: ${round(nodeWrite / pyWrite)}); ` +
        `pyarrow reads the node file as exactly its own rows: ${sameRows}`,
    );
    if (hyparquet) {
      const write = hyparquet.totalSeconds - nodeGenerate;
      log(
        `  hyparquet-writer 0.17 (for comparison, one run): write ~${round(write)} s (ratio ${round(write / pyTotal)}); ` +
          `peak RSS ${round(hyparquet.maxRssMiB, 0)} MiB`,
      );
    }
    if (options.keep) log(`  files kept in ${dir}`);
    return {
      figures: [
        { name: 'parquet write rows/s (node)', value: Math.round(rows / nodeWrite), unit: 'rows/s' },
        { name: 'parquet write wall time (node, excl. row generation)', value: round(nodeWrite), unit: 's' },
        {
          name: 'parquet write peak RSS (node)',
          value: round(nodeRss, 0),
          unit: 'MiB',
          goal: '< 512',
          meets: nodeRss < 512,
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
          value: sameRows ? 1 : 0,
          unit: 'bool',
          goal: '= 1',
          meets: sameRows,
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
  const repeat = intArg(args, '--repeat', 3);
  if (args.includes('--child')) {
    await runNodeChild(rows, argValue(args, '--out') ?? 'out.parquet', rowGroupRows, zstdLevel);
  } else if (args.includes('--child-hyparquet')) {
    await runHyparquetChild(rows, argValue(args, '--out') ?? 'out.parquet', rowGroupRows, zstdLevel);
  } else {
    const { figures } = await runParquetBench({
      rows,
      rowGroupRows,
      zstdLevel,
      repeat,
      keep: args.includes('--keep'),
      hyparquetWriter: args.includes('--hyparquet-writer'),
    });
    const missed = figures.filter((f) => f.meets === false).map((f) => f.name);
    if (missed.length > 0) console.log(`goals missed: ${missed.join('; ')}`);
  }
}
