// Shared pieces of the benchmarks: the figure type of bench/results.json, the machine description,
// child processes that report their own peak RSS, percentiles, and free ports for a private local stack.
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadDeploySettings, memoryBytes } from '../infra/gcp/settings.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger } from '../shared/log.ts';
import { runCompact } from '../shared/pipeline/compact.ts';
import { createObjectStore } from '../shared/storage/index.ts';

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The target, in words (e.g. "≥ 0.5"); absent for figures reported for information. */
  readonly goal?: string;
  readonly meets?: boolean;
  /** Machine-independent run conditions of this figure (input size, concurrency, settings). */
  readonly conditions?: string;
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Attaches the conditions to each figure that has none. */
export function withConditions(figures: readonly BenchFigure[], conditions: string): BenchFigure[] {
  return figures.map((f) => (f.conditions === undefined ? { ...f, conditions } : f));
}

/**
 * Runs a child process that prints one JSON object on its last stdout line; returns it. stderr is passed
 * through when `verbose`, else kept for the error message.
 */
export function runJsonChild<T>(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs).unref();
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) {
        resolve(JSON.parse(last) as T);
        return;
      }
      reject(
        new Error(
          `${command} ${args.join(' ')} exited with ${signal ?? code}; stderr: ${err.slice(-2000)}; stdout: ${out.slice(-1000)}`,
        ),
      );
    });
  });
}

/** Peak resident set size of this process so far, in MiB (getrusage maxrss). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/**
 * The compact function's instance as the deploy creates it (infra/gcp/settings.ts, with the
 * STREAMJOIN_COMPACT_* variables of this environment): its memory and the NODE_OPTIONS (V8 heap flags)
 * the deploy sets on it. The benches run compaction's child process with exactly these flags.
 */
export function deployedCompactInstance(env: Record<string, string | undefined> = process.env): {
  readonly memory: string;
  readonly memoryMiB: number;
  readonly nodeOptions: string;
} {
  const spec = loadDeploySettings(env).functions.compact;
  return {
    memory: spec.memory,
    memoryMiB: memoryBytes(spec.memory) / 2 ** 20,
    nodeOptions: spec.nodeOptions,
  };
}

export interface CompactChildReport {
  readonly rewrittenFiles: number;
  readonly rewrittenInto: number;
  readonly seconds: number;
  readonly maxRssMiB: number;
}

const SUPPORT = fileURLToPath(import.meta.url);

/**
 * Runs one runCompact of the joined table under `warehouse` (Firestore at `host`) in a child process
 * started with `nodeOptions` as its NODE_OPTIONS (nothing else of this process's flags), and returns
 * what it did with its peak RSS.
 */
export function runCompactChild(
  warehouse: string,
  host: string,
  nodeOptions: string,
  timeoutMs = 3600_000,
): Promise<CompactChildReport> {
  return runJsonChild<CompactChildReport>(process.execPath, [SUPPORT, '--child-compact', warehouse, host], {
    env: { NODE_OPTIONS: nodeOptions },
    timeoutMs,
  });
}

/** The child of runCompactChild: one runCompact of the joined table, its report as JSON on stdout. */
async function childCompact(warehouse: string, host: string): Promise<void> {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'bench-compaction',
    FIRESTORE_EMULATOR_HOST: host,
    STREAMJOIN_WAREHOUSE: warehouse,
    METADATA_SERVER_DETECTION: 'none',
  });
  const db = createFirestore(config);
  const t0 = performance.now();
  const [r] = await runCompact(
    {
      db,
      collections: collections(db, config.collectionPrefix),
      counter: new OpCounter(),
      store: createObjectStore({ projectId: config.projectId }),
      config,
      log: createLogger({ level: 'silent' }),
    },
    { tables: ['joined'] },
  );
  const seconds = (performance.now() - t0) / 1000;
  await db.terminate();
  const report: CompactChildReport = {
    rewrittenFiles: r?.rewrittenFiles ?? 0,
    rewrittenInto: r?.rewrittenInto ?? 0,
    seconds,
    maxRssMiB: peakRssMiB(),
  };
  console.log(JSON.stringify(report));
}

if (process.argv[1] === SUPPORT && process.argv[2] === '--child-compact') {
  await childCompact(process.argv[3]!, process.argv[4]!);
}
