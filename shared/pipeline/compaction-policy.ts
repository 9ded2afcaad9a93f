// Which files of a partition compaction rewrites: a size-tiered policy with a bound on the number of
// small files, in the spirit of Iceberg's bin-pack planner (target size, files near it left alone) and
// of LSM stores' universal / size-ratio compaction (RocksDB, HBase): merge the smallest files, and take
// in the next larger one only while it is no bigger than what is already merged and at most twice the
// previous one (size tiers, as Cassandra's size-tiered buckets), so files of similar size go together
// and a large file is not rewritten for the sake of a tiny one. Pure: a function of file sizes.
//
// Why this shape (issue 15). The pipeline appends to the day's partition every compact run (5 minutes),
// and each append brings several files (one per tick and flush shard: about 5). Every byte compaction
// rewrites costs a read and a write, so the figure to keep low is bytes rewritten ÷ bytes appended over
// the day. With at most K small files kept after each run, universal compaction rewrites each byte about
// d times where C(K + d, d) ≈ appends (RocksDB; the binomial bound of LSM merge policies), and files that
// arrive several at a time must each be merged at least once: for 288 appends of 5 files, K = 8 costs
// 3.4-3.9 (measured 3.35-3.82), K = 16 about 2.5-2.9 (table-driven in
// test/unit/pipeline/compaction-policy.test.ts). So a partition being written (a "hot" one) keeps up to
// `minFilesToCompact - 1` = 16 small files, and once no file has been added to it for a while (the day
// is over: a "quiet" partition) its smallest files are merged, the fewest that bring it down to
// `quietMaxSmallFiles` (8) — a small fraction of the day, paid once, as a major compaction of cold data
// in LSM stores. Readers of the current day open at most 16 files, of a past day at most 8 small ones
// plus those of the target size. Files of at least `minFileRatio` of the target are done: never
// rewritten (Iceberg's min-file-size-bytes default, 0.75 × target).
import { StreamjoinError } from '../errors.ts';

export interface CompactionPolicy {
  /** Size of the files compaction writes (the table's write.target-file-size-bytes). */
  readonly targetFileSize: number;
  /** A partition is rewritten once it holds this many small files: it keeps at most this many - 1. */
  readonly minFilesToCompact: number;
  /** Files of at least this fraction of the target are done, never rewritten. Default 0.75. */
  readonly minFileRatio?: number;
  /** The group of smallest files takes in the next one while that one is at most `sizeRatio` × the
   *  group's bytes so far. Default 1. */
  readonly sizeRatio?: number;
  /** ... and at most `tierRatio` × the previous file taken: files of one size tier go together, a file
   *  of the next tier waits for its peers (size-tiered compaction's buckets). Default 2. */
  readonly tierRatio?: number;
  /** At most this many input bytes in one group (one run's work per partition); the files it leaves
   *  wait for the next run. Default 2 × target. The smallest two files are always taken. */
  readonly maxGroupBytes?: number;
  /** At most this many files in one group (each is one more read). Default 1,000. */
  readonly maxGroupFiles?: number;
  /** A quiet partition (no file added for a while) keeps at most this many small files: beyond that its
   *  smallest files are merged, the fewest that get there (no size-ratio extension). Default 8. */
  readonly quietMaxSmallFiles?: number;
}

export const POLICY_DEFAULTS = {
  minFileRatio: 0.75,
  sizeRatio: 1,
  tierRatio: 2,
  maxGroupFiles: 1000,
  quietMaxSmallFiles: 8,
} as const;

/** A file as the policy sees it. */
export interface SizedFile {
  readonly size: number;
  /** Breaks ties between equal sizes (deterministic plans). */
  readonly name: string;
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) {
    throw new StreamjoinError('config', `compaction policy: ${name} must be ${expected}, but was: ${value}`);
  }
}

/** The policy with its defaults filled in; throws StreamjoinError 'config' on a value out of range. */
export function resolvePolicy(p: CompactionPolicy): Required<CompactionPolicy> {
  const minFileRatio = p.minFileRatio ?? POLICY_DEFAULTS.minFileRatio;
  const sizeRatio = p.sizeRatio ?? POLICY_DEFAULTS.sizeRatio;
  const tierRatio = p.tierRatio ?? POLICY_DEFAULTS.tierRatio;
  const maxGroupBytes = p.maxGroupBytes ?? 2 * p.targetFileSize;
  const maxGroupFiles = p.maxGroupFiles ?? POLICY_DEFAULTS.maxGroupFiles;
  const quietMaxSmallFiles = p.quietMaxSmallFiles ?? POLICY_DEFAULTS.quietMaxSmallFiles;
  check(
    'targetFileSize',
    p.targetFileSize,
    Number.isSafeInteger(p.targetFileSize) && p.targetFileSize > 0,
    'a positive integer',
  );
  check(
    'minFilesToCompact',
    p.minFilesToCompact,
    Number.isInteger(p.minFilesToCompact) && p.minFilesToCompact >= 2,
    'an integer ≥ 2',
  );
  check('minFileRatio', minFileRatio, minFileRatio > 0 && minFileRatio <= 1, 'in (0, 1]');
  check('sizeRatio', sizeRatio, sizeRatio >= 0 && Number.isFinite(sizeRatio), 'a finite number ≥ 0');
  check('tierRatio', tierRatio, tierRatio >= 1, 'a number ≥ 1');
  check('maxGroupBytes', maxGroupBytes, maxGroupBytes > 0, 'positive');
  check(
    'maxGroupFiles',
    maxGroupFiles,
    Number.isInteger(maxGroupFiles) && maxGroupFiles >= 2,
    'an integer ≥ 2',
  );
  check(
    'quietMaxSmallFiles',
    quietMaxSmallFiles,
    Number.isInteger(quietMaxSmallFiles) && quietMaxSmallFiles >= 1,
    'an integer ≥ 1',
  );
  return {
    targetFileSize: p.targetFileSize,
    minFilesToCompact: p.minFilesToCompact,
    minFileRatio,
    sizeRatio,
    tierRatio,
    maxGroupBytes,
    maxGroupFiles,
    quietMaxSmallFiles,
  };
}

/** Whether a file is small enough to be rewritten. */
export function isSmallFile(size: number, policy: CompactionPolicy): boolean {
  return size < policy.targetFileSize * (policy.minFileRatio ?? POLICY_DEFAULTS.minFileRatio);
}

/**
 * The files of ONE partition to merge now (indices into `files`, smallest first), or [] when the
 * partition is fine as it is:
 *  - files of at least minFileRatio × target are never taken;
 *  - nothing happens while fewer than minFilesToCompact files are small (and, for a quiet partition,
 *    while at most quietMaxSmallFiles are);
 *  - otherwise the smallest files are taken, as many as bring the partition back to
 *    minFilesToCompact - 1 small files (at least two), and then each next larger file while it is at
 *    most sizeRatio × the bytes taken so far and at most tierRatio × the previous file taken (so
 *    similar sizes merge together, and a big file waits until enough small ones have gathered to be
 *    worth rewriting it and files of its own size join it), within maxGroupBytes/Files;
 *  - a quiet partition (`quiet`: nothing was added to it for a while) with more than
 *    quietMaxSmallFiles small files but fewer than minFilesToCompact: exactly the smallest files that
 *    bring it down to quietMaxSmallFiles (at least two), nothing more — the cheapest merge that does.
 */
export function planPartitionRewrite(
  files: readonly SizedFile[],
  policy: CompactionPolicy,
  options: { readonly quiet?: boolean } = {},
): number[] {
  const p = resolvePolicy(policy);
  const small = files
    .map((f, i) => ({ size: f.size, name: f.name, i }))
    .filter((f) => isSmallFile(f.size, p))
    .sort((a, b) => a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (small.length < p.minFilesToCompact) {
    if (options.quiet !== true || small.length <= p.quietMaxSmallFiles) return [];
    const need = Math.max(2, small.length - p.quietMaxSmallFiles + 1);
    const out: number[] = [];
    let bytes = 0;
    for (const f of small) {
      if (out.length >= need || out.length >= p.maxGroupFiles) break;
      if (out.length >= 2 && bytes + f.size > p.maxGroupBytes) break;
      out.push(f.i);
      bytes += f.size;
    }
    return out;
  }
  const need = Math.max(2, small.length - (p.minFilesToCompact - 1) + 1);
  const out: number[] = [];
  let bytes = 0;
  let last = 0;
  for (const f of small) {
    const required = out.length < 2 || (out.length < need && bytes + f.size <= p.maxGroupBytes);
    const extends_ =
      f.size <= p.sizeRatio * bytes && f.size <= p.tierRatio * last && bytes + f.size <= p.maxGroupBytes;
    if (!(required || extends_) || out.length >= p.maxGroupFiles) break;
    out.push(f.i);
    bytes += f.size;
    last = f.size;
  }
  return out;
}

/** What table maintenance follows for one table: its Iceberg properties where set, else the pipeline's. */
export interface MaintenanceSettings {
  readonly policy: CompactionPolicy;
  /** Snapshots older than this may expire (history.expire.max-snapshot-age-ms). */
  readonly maxSnapshotAgeMs: number;
  /** Expiry keeps at least this many of main's snapshots (history.expire.min-snapshots-to-keep). */
  readonly minSnapshotsToKeep: number;
  /** A partition none of whose files was added in this long is quiet (see planPartitionRewrite). */
  readonly quietAfterMs: number;
  /** Properties set on the table that could not be used (not a positive integer): the setting applies. */
  readonly ignored: readonly string[];
}

/** The table properties maintenance honours (Java TableProperties names). */
export const MAINTENANCE_PROPERTIES = {
  targetFileSize: 'write.target-file-size-bytes',
  maxSnapshotAgeMs: 'history.expire.max-snapshot-age-ms',
  minSnapshotsToKeep: 'history.expire.min-snapshots-to-keep',
} as const;

/**
 * The maintenance settings of a table: `write.target-file-size-bytes`, `history.expire.max-snapshot-age-ms`
 * and `history.expire.min-snapshots-to-keep` when the table sets them (another engine, or an operator with
 * `ALTER TABLE ... SET TBLPROPERTIES`), else the environment settings (STREAMJOIN_TARGET_FILE_SIZE,
 * STREAMJOIN_SNAPSHOT_RETENTION, STREAMJOIN_MIN_SNAPSHOTS_TO_KEEP). A property that is not a positive
 * integer is ignored (and reported), as a bad value must not stop maintenance. The one place compaction
 * and expiry read these properties. Pure.
 */
export function maintenanceSettingsOf(
  properties: Readonly<Record<string, string>>,
  config: {
    readonly targetFileSize: number;
    readonly minFilesToCompact: number;
    readonly snapshotRetentionMs: number;
    readonly minSnapshotsToKeep: number;
    readonly compactQuietAfterMs: number;
    readonly quietMaxSmallFiles: number;
  },
): MaintenanceSettings {
  const ignored: string[] = [];
  const read = (key: string, fallback: number): number => {
    const raw = properties[key];
    if (raw === undefined) return fallback;
    const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n <= 0) {
      ignored.push(`${key}=${JSON.stringify(raw)} (expected a positive integer; using ${fallback})`);
      return fallback;
    }
    return n;
  };
  return {
    policy: {
      targetFileSize: read(MAINTENANCE_PROPERTIES.targetFileSize, config.targetFileSize),
      minFilesToCompact: config.minFilesToCompact,
      quietMaxSmallFiles: config.quietMaxSmallFiles,
    },
    quietAfterMs: config.compactQuietAfterMs,
    maxSnapshotAgeMs: read(MAINTENANCE_PROPERTIES.maxSnapshotAgeMs, config.snapshotRetentionMs),
    minSnapshotsToKeep: read(MAINTENANCE_PROPERTIES.minSnapshotsToKeep, config.minSnapshotsToKeep),
    ignored,
  };
}
