// The reference readers and the foreign writer of `../shared/readers` (README there): `check-iceberg`
// reads a table with pyiceberg 0.9.1 and Java Iceberg core, `foreign-writer` commits to it as another
// engine. Used by the demo, the e2e and chaos runs (no PASS without both readers passing) and the tests.
// The kit sits beside the repository; STREAMJOIN_READERS_KIT points elsewhere. A missing kit is an
// error that says where it was looked for, never a silent skip.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findLatestVersion, metadataUriFor } from '../../shared/iceberg/table.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';

/** The repository root (this file is infra/ops/check-iceberg.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the kit is: $STREAMJOIN_READERS_KIT, else `<repo>/../shared/readers`. */
export function readersKitDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['STREAMJOIN_READERS_KIT'];
  return override !== undefined && override !== ''
    ? path.resolve(override)
    : path.resolve(REPO_ROOT, '../shared/readers');
}

/** The kit's directory; throws naming the path and the variable when `check-iceberg` is not there. */
export function requireReadersKit(env: NodeJS.ProcessEnv = process.env): string {
  const dir = readersKitDir(env);
  for (const tool of ['check-iceberg', 'foreign-writer']) {
    if (!existsSync(path.join(dir, tool))) {
      throw new Error(
        `expected the reference readers kit (${tool}) at ${dir}, but it is missing: put ../shared/readers beside the repository or set STREAMJOIN_READERS_KIT to the kit's directory`,
      );
    }
  }
  return dir;
}

export interface ToolRun {
  readonly status: number | null;
  /** The last line of stdout parsed as JSON (the kit's one-line verdict), or undefined. */
  readonly verdict: Record<string, unknown> | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trimEnd().split('\n').at(-1) ?? '';
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one of the kit's tools; never throws for a non-zero exit (the verdict says what failed). */
export async function runKitTool(
  tool: 'check-iceberg' | 'foreign-writer',
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<ToolRun> {
  const env = options.env ?? process.env;
  const r = await runToEnd(path.join(requireReadersKit(env), tool), args, { ...options, env });
  return { status: r.status, verdict: lastJsonLine(r.stdout), stdout: r.stdout, stderr: r.stderr };
}

interface ProcessRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed after `timeoutMs`. */
  readonly timedOut: boolean;
}

/** Runs a program to its end (SIGKILL after `timeoutMs`, default 300 s), `input` on its stdin. */
function runToEnd(
  exe: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      resolve({ status, stdout, stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `runToEnd`'s stdout; throws with the exit status (or the timeout) and the end of stderr otherwise. */
async function stdoutOf(
  exe: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<string> {
  const r = await runToEnd(exe, args, { env, timeoutMs });
  if (r.status === 0) return r.stdout;
  const how = r.timedOut ? `did not finish within ${timeoutMs / 1000} s` : `exited with ${r.status}`;
  throw new Error(
    `${path.basename(exe)} ${args.map((a) => path.basename(a)).join(' ')} ${how}: ${r.stderr.trim().slice(-1000)}`,
  );
}

export interface CheckOptions {
  readonly expectRows?: number;
  /** A column that must be unique and non-null (pyiceberg). */
  readonly key?: string;
  /** `name[:type],...`: the current schema starts with these columns (pyiceberg). */
  readonly expectColumns?: string;
  /** Also write the current snapshot's rows, sorted, to this CSV file (pyiceberg, deletes applied). */
  readonly rowsCsv?: string;
  readonly only?: 'pyiceberg' | 'java';
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (and reported as "no verdict") after this long; default 300 s. Tables with hundreds of large
   *  snapshots take longer: pyiceberg reads every snapshot. */
  readonly timeoutMs?: number;
}

export interface IcebergCheck {
  readonly table: string;
  readonly ok: boolean;
  /** `reader:check` names that failed, or why no verdict came. */
  readonly failed: readonly string[];
  readonly status: number | null;
  readonly verdict: Record<string, unknown> | undefined;
  /** Human output of both readers (for a failure message). */
  readonly output: string;
}

/** `check-iceberg TABLE_DIR` with both readers (unless `only`): ok only when every check passed. */
export async function checkIceberg(tableDir: string, options: CheckOptions = {}): Promise<IcebergCheck> {
  const dir = localDir(tableDir);
  const args = [dir];
  if (options.expectRows !== undefined) args.push('--expect-rows', String(options.expectRows));
  if (options.key !== undefined) args.push('--key', options.key);
  if (options.expectColumns !== undefined) args.push('--expect-columns', options.expectColumns);
  if (options.rowsCsv !== undefined) args.push('--rows-csv', options.rowsCsv);
  if (options.only !== undefined) args.push('--only', options.only);
  const r = await runKitTool('check-iceberg', args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const failed = Array.isArray(r.verdict?.['failed'])
    ? (r.verdict['failed'] as unknown[]).map(String)
    : [`no verdict (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`];
  const unavailable = Array.isArray(r.verdict?.['unavailable'])
    ? (r.verdict['unavailable'] as unknown[]).map((u) => `unavailable:${String(u)}`)
    : [];
  return {
    table: dir,
    ok: r.status === 0 && r.verdict?.['ok'] === true,
    failed: [...failed, ...unavailable],
    status: r.status,
    verdict: r.verdict,
    output: `${r.stdout}${r.stderr}`,
  };
}

/** One line per table: `check-iceberg <dir>: PASS (pyiceberg + iceberg-java)` or what failed. */
export function formatIcebergCheck(c: IcebergCheck): string {
  if (c.ok) return `check-iceberg ${c.table}: PASS (pyiceberg 0.9.1 and Java Iceberg core)`;
  const detail = c.output
    .split('\n')
    .filter((l) => l.startsWith('[FAIL]'))
    .slice(0, 6)
    .map((l) => `    ${l.slice(0, 400)}`);
  return [`check-iceberg ${c.table}: FAIL ${c.failed.join(', ')}`, ...detail].join('\n');
}

/**
 * Both pipeline tables through both readers, run in parallel: the joined table with its key column
 * (`order_id` for the default spec) as a unique key, each with the row count our own reader found (so
 * the readers must agree with it).
 */
export async function checkPipelineTables(
  locations: { readonly joined: string; readonly unmatched: string },
  rows: readonly { readonly reason: string }[],
  env: NodeJS.ProcessEnv = process.env,
  key = 'order_id',
): Promise<IcebergCheck[]> {
  const joined = rows.filter((r) => r.reason === 'joined').length;
  return Promise.all([
    checkIceberg(locations.joined, { key, expectRows: joined, env }),
    checkIceberg(locations.unmatched, { expectRows: rows.length - joined, env }),
  ]);
}

/** What pyiceberg reads in one snapshot: rows, SHA-256 of the key column's values (as strings, sorted,
 *  joined by newlines), distinct keys. */
export interface SnapshotKeys {
  readonly rows: number;
  readonly keys_sha256: string;
  readonly distinct: number;
}

/** A local table given as a path or a file:// URI, as a path. */
export function localDir(table: string): string {
  return table.startsWith('file://') ? fileURLToPath(table) : table;
}

/** The current `vN.metadata.json` of a local table, found as the pipeline's own commits find it
 *  (version-hint.text, then probed forward; by listing without a usable hint). */
async function currentMetadataFile(tableDir: string): Promise<string> {
  const location = pathToFileURL(localDir(tableDir)).href;
  const version = await findLatestVersion(new FileObjectStore(), location);
  if (version === undefined) {
    throw new Error(`expected an Iceberg table at ${localDir(tableDir)}, but it has no metadata version`);
  }
  return fileURLToPath(metadataUriFor(location, version));
}

/** pyiceberg 0.9.1 (the kit's interpreter) reading every snapshot of a local table by time travel
 *  (infra/ops/snapshot_rows.py): snapshot id → rows and key digest. Throws naming the snapshot pyiceberg
 *  could not read, or on timeout. */
export async function snapshotKeyDigests(
  tableDir: string,
  key: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Map<string, SnapshotKeys>> {
  const env = options.env ?? process.env;
  const python = (
    await stdoutOf(path.join(requireReadersKit(env), 'pyiceberg/setup-python'), [], env, 600_000)
  )
    .trim()
    .split('\n')
    .at(-1);
  const script = path.join(REPO_ROOT, 'infra/ops/snapshot_rows.py');
  const out = await stdoutOf(
    python ?? 'python3',
    [script, await currentMetadataFile(tableDir), key],
    env,
    options.timeoutMs ?? 300_000,
  );
  const parsed = lastJsonLine(out)?.['snapshots'];
  if (typeof parsed !== 'object' || parsed === null) {
    throw new Error(
      `expected snapshot_rows.py to print {"snapshots": {...}} last, but it printed: ${out.slice(-500)}`,
    );
  }
  return new Map(Object.entries(parsed as Record<string, SnapshotKeys>));
}
