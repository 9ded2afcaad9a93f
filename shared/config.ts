// The one place that reads configuration. Each setting is declared once — its environment variable,
// default, validator and description — and the README's settings table, the local stack's flags and
// the deploy script's --set-env-vars all come from this table.

import { BadValue, parseDuration } from './duration.ts';
import { describeError, StreamjoinError } from './errors.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import { loadJoinSpec } from './spec/load.ts';
import type { JoinSpec } from './spec/model.ts';

type Parser<T> = (raw: string) => T;

export interface Setting<T> {
  readonly env: string;
  readonly default: string | undefined;
  readonly description: string;
  readonly expected: string;
  readonly parse: Parser<T>;
  /** Deployed functions get this variable (false for local-only settings such as emulator hosts). */
  readonly deploy: boolean;
}

export { parseDuration };

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** "128MiB", "10MB", "4096" → bytes. */
export function parseSize(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (m === null || unit === undefined) throw new BadValue();
  return Math.round(Number(m[1]) * unit);
}

const str =
  (pattern?: RegExp): Parser<string> =>
  (raw) => {
    if (raw === '' || (pattern !== undefined && !pattern.test(raw))) throw new BadValue();
    return raw;
  };
const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new BadValue();
    const n = Number(raw);
    if (n < min || n > max) throw new BadValue();
    return n;
  };
const duration =
  (minMs: number): Parser<number> =>
  (raw) => {
    const ms = parseDuration(raw);
    if (ms < minMs) throw new BadValue();
    return ms;
  };
const size =
  (minBytes: number): Parser<number> =>
  (raw) => {
    const b = parseSize(raw);
    if (b < minBytes) throw new BadValue();
    return b;
  };
const prob: Parser<number> = (raw) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new BadValue();
  return n;
};
const warehouseUri: Parser<string> = (raw) => {
  if (!/^(gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](\/.*)?|file:\/\/\/.*)$/.test(raw)) throw new BadValue();
  return raw.endsWith('/') ? raw : `${raw}/`;
};
const hostPort: Parser<string> = (raw) => {
  if (!/^(https?:\/\/)?[A-Za-z0-9.[\]:-]+:\d{1,5}\/?$/.test(raw)) throw new BadValue();
  return raw;
};
const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new BadValue();
    return raw as T;
  };
/** "YYYY_MM_DD"-like folder pattern (each of YYYY, MM, DD at most once), or "none" → "". */
const dayFolder: Parser<string> = (raw) => {
  if (raw === 'none') return '';
  if (!/^(YYYY|MM|DD|[A-Za-z0-9_.=/-])+$/.test(raw) || !raw.includes('YYYY')) throw new BadValue();
  if (
    raw.startsWith('/') ||
    raw.endsWith('/') ||
    raw.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
  )
    throw new BadValue();
  for (const t of ['YYYY', 'MM', 'DD']) if (raw.split(t).length > 2) throw new BadValue();
  return raw;
};
const prefix: Parser<string> = (raw) => {
  if (raw === '' || raw.startsWith('/')) throw new BadValue();
  return raw.endsWith('/') ? raw : `${raw}/`;
};

function setting<T>(
  env: string,
  def: string | undefined,
  expected: string,
  parse: Parser<T>,
  description: string,
  deploy = true,
): Setting<T> {
  return { env, default: def, expected, parse, description, deploy };
}

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const SETTINGS = {
  projectId: setting(
    'GOOGLE_CLOUD_PROJECT',
    'streamjoin-local',
    'a Google Cloud project id',
    str(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/),
    'Project that holds Firestore, the buckets and the functions.',
  ),
  inputBucket: setting(
    'STREAMJOIN_INPUT_BUCKET',
    'file-stream-bucket',
    'a bucket name',
    str(BUCKET),
    'Bucket the producer writes order and payment files to.',
  ),
  ordersPrefix: setting(
    'STREAMJOIN_ORDERS_PREFIX',
    'stream/orders/',
    'an object name prefix',
    prefix,
    'Objects under this prefix are order files.',
  ),
  paymentsPrefix: setting(
    'STREAMJOIN_PAYMENTS_PREFIX',
    'stream/payments/',
    'an object name prefix',
    prefix,
    'Objects under this prefix are payment files.',
  ),
  warehouse: setting(
    'STREAMJOIN_WAREHOUSE',
    'gs://spark-iceberg-warehouse/',
    'a gs://bucket/path or file:///path URI',
    warehouseUri,
    'Iceberg warehouse (hadoop-catalog layout).',
  ),
  namespace: setting(
    'STREAMJOIN_NAMESPACE',
    'default',
    'an identifier',
    str(IDENT),
    'Iceberg namespace of both tables.',
  ),
  joinedTable: setting(
    'STREAMJOIN_JOINED_TABLE',
    'orders_payments',
    'an identifier',
    str(IDENT),
    'Table of joined rows.',
  ),
  unmatchedTable: setting(
    'STREAMJOIN_UNMATCHED_TABLE',
    'orders_payments_unmatched',
    'an identifier',
    str(IDENT),
    'Table of unmatched rows.',
  ),
  orderTimeoutMs: setting(
    'STREAMJOIN_ORDER_TIMEOUT',
    '15m',
    'a duration ≥ 1s such as 15m, 10s, 1h',
    duration(1000),
    'How long an order waits for its payment (from its landing time).',
  ),
  paymentTimeoutMs: setting(
    'STREAMJOIN_PAYMENT_TIMEOUT',
    '15m',
    'a duration ≥ 1s such as 15m, 10s, 1h',
    duration(1000),
    'How long an early payment waits for its order (from its landing time).',
  ),
  allowedLatenessMs: setting(
    'STREAMJOIN_ALLOWED_LATENESS',
    '2m',
    'a duration such as 2m, 10s (0 is allowed)',
    duration(0),
    'The tick closes a waiting state this long after its deadline, so a file that landed in time but is ingested a little later still joins.',
  ),
  tombstoneRetentionMs: setting(
    'STREAMJOIN_TOMBSTONE_RETENTION',
    '7d',
    'a duration ≥ 1m',
    duration(60_000),
    'JOINED/EXPIRED states are kept this long (Firestore TTL) to recognise duplicates.',
  ),
  ledgerRetentionMs: setting(
    'STREAMJOIN_LEDGER_RETENTION',
    '30d',
    'a duration ≥ 1m',
    duration(60_000),
    'Ledger entries (one per ingested object generation) are kept this long (Firestore TTL): a file seen within it is recognised whole.',
  ),
  rejectsRetentionMs: setting(
    'STREAMJOIN_REJECTS_RETENTION',
    '30d',
    'a duration ≥ 1m',
    duration(60_000),
    'Quarantine records (`streamjoin rejects`) are kept this long (Firestore TTL), so the collection does not grow forever.',
  ),
  tickIntervalMs: setting(
    'STREAMJOIN_TICK_INTERVAL',
    '1m',
    'a duration ≥ 100ms',
    duration(100),
    'How often the scheduler calls tick.',
  ),
  compactIntervalMs: setting(
    'STREAMJOIN_COMPACT_INTERVAL',
    '5m',
    'a duration ≥ 100ms',
    duration(100),
    'How often the scheduler calls compact.',
  ),
  reconcileIntervalMs: setting(
    'STREAMJOIN_RECONCILE_INTERVAL',
    '1h',
    'a duration ≥ 100ms',
    duration(100),
    'How often the scheduler calls reconcile (ingests objects whose finalize event never came).',
  ),
  reconcileGraceMs: setting(
    'STREAMJOIN_RECONCILE_GRACE',
    '15m',
    'a duration such as 15m, 10s (0 is allowed)',
    duration(0),
    'Reconciliation leaves alone objects that landed less than this ago (their event may still be on its way).',
  ),
  reconcileDays: setting(
    'STREAMJOIN_RECONCILE_DAYS',
    '2',
    'an integer in [1, 366]',
    int(1, 366),
    'Reconciliation lists the day folders of the last N days (UTC, today included) under both prefixes.',
  ),
  reconcileDayFolder: setting(
    'STREAMJOIN_RECONCILE_DAY_FOLDER',
    'YYYY_MM_DD',
    'a folder pattern of YYYY, MM, DD and [A-Za-z0-9_.=/-] (such as YYYY_MM_DD or dt=YYYY-MM-DD), or "none"',
    dayFolder,
    'The day folders under each prefix (the producer writes stream/orders/YYYY_MM_DD/…); "none" lists the whole prefixes.',
  ),
  evictBatchSize: setting(
    'STREAMJOIN_EVICT_BATCH',
    '2000',
    'an integer in [1, 100000]',
    int(1, 100_000),
    'Expired states evicted per round; a tick runs rounds while expired states remain and its eviction time budget lasts.',
  ),
  evictTimeBudgetMs: setting(
    'STREAMJOIN_EVICT_TIME_BUDGET',
    '60s',
    'a duration such as 60s (0: one round per tick)',
    duration(0),
    'How long a tick keeps evicting expired states in rounds before it flushes (the tick function times out after 300 s).',
  ),
  flushMaxRows: setting(
    'STREAMJOIN_FLUSH_MAX_ROWS',
    '200000',
    'an integer in [1, 5000000]',
    int(1, 5_000_000),
    'Outbox rows per micro-batch file.',
  ),
  rowGroupRows: setting(
    'STREAMJOIN_ROW_GROUP_ROWS',
    '50000',
    'an integer in [100, 1000000]',
    int(100, 1_000_000),
    'Rows per Parquet row group (bounds writer memory).',
  ),
  indexShards: setting(
    'STREAMJOIN_INDEX_SHARDS',
    '4',
    'an integer in [1, 64]',
    int(1, 64),
    'Shards of the deadline and outbox indexes (each shard takes ~500 writes/s).',
  ),
  flushLeaseMs: setting(
    'STREAMJOIN_FLUSH_LEASE',
    '2m',
    'a duration ≥ 1s',
    duration(1000),
    'A flush that holds a shard longer than this is presumed dead and taken over.',
  ),
  ingestTimeBudgetMs: setting(
    'STREAMJOIN_INGEST_TIME_BUDGET',
    '480s',
    'a duration ≥ 1s',
    duration(1000),
    'Ingest saves its progress and asks for a retry after this long (function timeout 540 s).',
  ),
  ingestFunctionTimeoutMs: setting(
    'STREAMJOIN_INGEST_FUNCTION_TIMEOUT',
    undefined,
    'a duration such as 540s',
    duration(1000),
    'Timeout of the deployed ingest function (a deploy setting; deploy also hands it to the functions so start-up checks the time budget against it).',
    false,
  ),
  ingestMemoryBudget: setting(
    'STREAMJOIN_INGEST_MEMORY_BUDGET',
    '512MiB',
    'a size ≥ 16MiB such as 512MiB',
    size(16 * 1024 ** 2),
    'Memory one ingest instance lends to objects in flight; a request waits until its object fits (shared/pipeline/ingest-admission.ts).',
  ),
  targetFileSize: setting(
    'STREAMJOIN_TARGET_FILE_SIZE',
    '128MiB',
    'a size ≥ 1KiB such as 128MiB',
    size(1024),
    "Compaction rewrites small data files into files of about this size; files of 75 % of it or more are never rewritten. A table's write.target-file-size-bytes property wins.",
  ),
  minFilesToCompact: setting(
    'STREAMJOIN_MIN_FILES_TO_COMPACT',
    '17',
    'an integer in [2, 10000]',
    int(2, 10_000),
    'A partition being written keeps fewer small files than this: when it has this many, its smallest files are merged (and each next one no bigger than those merged so far; shared/pipeline/compaction-policy.ts).',
  ),
  quietMaxSmallFiles: setting(
    'STREAMJOIN_QUIET_MAX_SMALL_FILES',
    '8',
    'an integer in [1, 10000]',
    int(1, 10_000),
    'A quiet partition (nothing added for STREAMJOIN_COMPACT_QUIET_AFTER, e.g. a past day) keeps at most this many small files: its smallest files are merged down to it.',
  ),
  compactQuietAfterMs: setting(
    'STREAMJOIN_COMPACT_QUIET_AFTER',
    '1h',
    'a duration ≥ 1s',
    duration(1000),
    'A partition none of whose files was added for this long is quiet (its day is over): compaction merges it down to STREAMJOIN_QUIET_MAX_SMALL_FILES small files.',
  ),
  snapshotRetentionMs: setting(
    'STREAMJOIN_SNAPSHOT_RETENTION',
    '5d',
    'a duration ≥ 1s',
    duration(1000),
    'Snapshots older than this are expired.',
  ),
  minSnapshotsToKeep: setting(
    'STREAMJOIN_MIN_SNAPSHOTS_TO_KEEP',
    '10',
    'an integer in [1, 100000]',
    int(1, 100_000),
    'Expiry always keeps at least this many snapshots.',
  ),
  orphanSafetyMs: setting(
    'STREAMJOIN_ORPHAN_SAFETY_WINDOW',
    '1d',
    'a duration ≥ 1s',
    duration(1000),
    'Unreferenced files younger than this are never deleted.',
  ),
  maxObjectSize: setting(
    'STREAMJOIN_MAX_OBJECT_SIZE',
    '512MiB',
    'a size ≥ 1KiB',
    size(1024),
    'Input objects larger than this are quarantined unread.',
  ),
  maxDecompressedSize: setting(
    'STREAMJOIN_MAX_DECOMPRESSED_SIZE',
    '2GiB',
    'a size ≥ 1KiB',
    size(1024),
    'A gzip object inflating past this is quarantined (gzip bombs).',
  ),
  maxInflationRatio: setting(
    'STREAMJOIN_MAX_INFLATION_RATIO',
    '200',
    'an integer in [2, 100000]',
    int(2, 100_000),
    'A gzip object inflating to more than this many times its compressed size (checked past the first MiB) is quarantined at once (gzip bombs; JSON event files inflate 5-20 times).',
  ),
  maxLineLength: setting(
    'STREAMJOIN_MAX_LINE_LENGTH',
    '1MiB',
    'a size ≥ 1KiB',
    size(1024),
    'Longest JSON line (or single JSON document) accepted.',
  ),
  firestoreDatabase: setting(
    'STREAMJOIN_FIRESTORE_DATABASE',
    '(default)',
    'a Firestore database id',
    str(/^(\(default\)|[a-z][a-z0-9-]{3,62})$/),
    'Firestore database holding the join state.',
  ),
  collectionPrefix: setting(
    'STREAMJOIN_COLLECTION_PREFIX',
    'streamjoin',
    'an identifier',
    str(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/),
    'Prefix of every Firestore collection the pipeline uses.',
  ),
  firestoreEmulatorHost: setting(
    'FIRESTORE_EMULATOR_HOST',
    undefined,
    'host:port',
    hostPort,
    'Use the Firestore emulator at this address (local only).',
    false,
  ),
  storageEmulatorHost: setting(
    'STORAGE_EMULATOR_HOST',
    undefined,
    'http://host:port',
    hostPort,
    'Use this Cloud Storage JSON-API server (local only).',
    false,
  ),
  duplicateDelivery: setting(
    'STREAMJOIN_DUPLICATE_DELIVERY',
    '0',
    'a probability in [0, 1]',
    prob,
    'Local GCS server: deliver each event twice with this probability.',
    false,
  ),
  dropDelivery: setting(
    'STREAMJOIN_DROP_DELIVERY',
    '0',
    'a probability in [0, 1]',
    prob,
    'Local GCS server: never deliver an event, with this probability (as Eventarc after its retry window).',
    false,
  ),
  logLevel: setting('LOG_LEVEL', 'info', LOG_LEVELS.join(' | '), oneOf(LOG_LEVELS), 'Log level.'),
  spec: setting(
    'STREAMJOIN_SPEC',
    undefined,
    'a join spec file (JSON, or YAML named .yaml/.yml)',
    str(),
    'What is joined: the two streams, their key and fields, and the output tables (specs/README.md). Unset: the shipped specs/orders-payments.json. Its prefixes, timeouts, lateness, namespace and table names stand where the variables above are not set. Deploy hands it to the functions when set (a file under specs/, uploaded with them).',
    false,
  ),
} as const;

/**
 * Settings that say the same as a value of the join spec: the spec's value stands unless the variable
 * is set (the shipped default spec has the settings' defaults, test/unit/spec/default-spec.test.ts).
 */
export const SPEC_SETTINGS = {
  ordersPrefix: link<string>(
    (s) => s.left.prefix,
    (s, v) => ({ ...s, left: { ...s.left, prefix: v } }),
  ),
  paymentsPrefix: link<string>(
    (s) => s.right.prefix,
    (s, v) => ({ ...s, right: { ...s.right, prefix: v } }),
  ),
  orderTimeoutMs: link<number>(
    (s) => s.left.timeoutMs,
    (s, v) => ({ ...s, left: { ...s.left, timeoutMs: v } }),
  ),
  paymentTimeoutMs: link<number>(
    (s) => s.right.timeoutMs,
    (s, v) => ({ ...s, right: { ...s.right, timeoutMs: v } }),
  ),
  allowedLatenessMs: link<number>(
    (s) => s.allowedLatenessMs,
    (s, v) => ({ ...s, allowedLatenessMs: v }),
  ),
  namespace: link<string>(
    (s) => s.namespace,
    (s, v) => ({ ...s, namespace: v }),
  ),
  joinedTable: link<string>(
    (s) => s.joined.name,
    (s, v) => ({ ...s, joined: { ...s.joined, name: v } }),
  ),
  unmatchedTable: link<string>(
    (s) => s.unmatched.name,
    (s, v) => ({ ...s, unmatched: { ...s.unmatched, name: v } }),
  ),
} as const satisfies Partial<Record<keyof typeof SETTINGS, unknown>>;

function link<T>(get: (spec: JoinSpec) => T, set: (spec: JoinSpec, value: T) => JoinSpec): SpecSetting<T> {
  return { get, set };
}

interface SpecSetting<T> {
  readonly get: (spec: JoinSpec) => T;
  readonly set: (spec: JoinSpec, value: T) => JoinSpec;
}

type Settings = typeof SETTINGS;
export type Config = { readonly [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never } & {
  readonly logLevel: LogLevel;
  /** The join spec (STREAMJOIN_SPEC or the shipped default), with the settings above that override it. */
  readonly joinSpec: JoinSpec;
};

/** Reads, validates and freezes the configuration. Every bad value is reported, not just the first. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[s.env];
    const value = raw === undefined || raw === '' ? s.default : raw;
    if (value === undefined) {
      out[key] = undefined;
      continue;
    }
    try {
      out[key] = s.parse(value);
    } catch {
      problems.push(`${s.env} must be ${s.expected}, but was: ${JSON.stringify(value)}`);
    }
  }
  // The join spec is read and validated with the rest: a bad one stops start-up with every problem.
  try {
    let spec = loadJoinSpec(out['spec'] as string | undefined);
    for (const [key, link] of Object.entries(SPEC_SETTINGS) as unknown as [string, SpecSetting<unknown>][]) {
      const raw = env[SETTINGS[key as keyof Settings].env];
      if (raw === undefined || raw === '') out[key] = link.get(spec);
      else if (out[key] !== undefined) spec = link.set(spec, out[key]);
    }
    out['joinSpec'] = spec;
  } catch (err) {
    problems.push(describeError(err).replaceAll('\n', '\n  '));
  }
  if (problems.length === 0) problems.push(...pairProblems(out as Config));
  if (problems.length > 0) {
    throw new StreamjoinError('config', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      context: { problems },
    });
  }
  return Object.freeze(out) as Config;
}

/**
 * Settings that are each valid but contradict each other, checked at start-up (every function and the
 * CLI load the configuration through loadConfig). Pairs with deploy-only settings (function timeout and
 * memory) are checked by the deploy plan: infra/gcp/settings.ts settingPairProblems.
 */
export const SETTING_PAIRS: readonly {
  readonly rule: string;
  readonly problem: (c: Config) => string | undefined;
}[] = [
  {
    rule: 'a record must fit in what a file may inflate to',
    problem: (c) =>
      c.maxLineLength <= c.maxDecompressedSize
        ? undefined
        : `${SETTINGS.maxLineLength.env} (${c.maxLineLength} bytes) must not exceed ${SETTINGS.maxDecompressedSize.env} (${c.maxDecompressedSize} bytes): no file could hold such a record`,
  },
  {
    rule: 'the ingest time budget must end before the ingest function timeout',
    problem: (c) =>
      c.ingestFunctionTimeoutMs === undefined
        ? undefined
        : ingestBudgetProblem(c.ingestTimeBudgetMs, c.ingestFunctionTimeoutMs),
  },
  {
    rule: 'the ingest memory budget must hold the longest record',
    problem: (c) =>
      c.ingestMemoryBudget >= 4 * c.maxLineLength
        ? undefined
        : `${SETTINGS.ingestMemoryBudget.env} (${c.ingestMemoryBudget} bytes) must be at least 4 × ${SETTINGS.maxLineLength.env} (${4 * c.maxLineLength} bytes): a record is held as bytes, text and parsed values`,
  },
];

/**
 * After its time budget, ingest still finishes the chunk in flight and saves its progress: at least
 * this much of the function timeout must be left (a chunk of 1,000 records commits in a few seconds;
 * 30 s leaves room for contention retries and a slow Firestore).
 */
export const INGEST_BUDGET_MARGIN_MS = 30_000;

/** The ingest time budget against the ingest function timeout (used at start-up and by the deploy plan). */
export function ingestBudgetProblem(budgetMs: number, timeoutMs: number): string | undefined {
  if (budgetMs <= timeoutMs - INGEST_BUDGET_MARGIN_MS) return undefined;
  const most = Math.max(timeoutMs - INGEST_BUDGET_MARGIN_MS, 1000);
  return `${SETTINGS.ingestTimeBudgetMs.env} (${budgetMs / 1000} s) must end at least ${INGEST_BUDGET_MARGIN_MS / 1000} s before ${SETTINGS.ingestFunctionTimeoutMs.env} (${timeoutMs / 1000} s), so a long file saves its progress before the platform kills it: lower the budget to at most ${most / 1000}s or raise the timeout`;
}

function pairProblems(c: Config): string[] {
  return SETTING_PAIRS.flatMap((p) => {
    const problem = p.problem(c);
    return problem === undefined ? [] : [problem];
  });
}

/** Environment variables equivalent to `config` (for child processes and deployment). */
export function configToEnv(
  overrides: Partial<Record<keyof Settings, string>>,
  base: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) env[SETTINGS[key as keyof Settings].env] = value;
  }
  return env;
}

export function tablePath(config: Pick<Config, 'warehouse' | 'namespace'>, table: string): string {
  return `${config.warehouse}${config.namespace}/${table}/`;
}
