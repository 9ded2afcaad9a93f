// Named guards on the exactly-once path. Each check that keeps a row from being lost or duplicated asks
// `guardOn(name)` where it stands, so `npm run test:guards` can disable that check alone and prove that a
// test fails without it (test/guards/). Disabling is for that proof only: the variable is honoured only
// when the Firestore emulator is configured (local stacks and tests), never in a deployed function.
//
//   STREAMJOIN_DISABLED_GUARDS="flush.lease-owner"   (comma-separated names)

/** Every guard, with what it protects. A new guard is added here and gets an entry in test/guards/registry.ts. */
export const GUARDS = {
  'ingest.state-precondition':
    'ingest/evict commits a state change only if the state is still the one it read (create-only or lastUpdateTime)',
  'ingest.ledger-create':
    "a file's ledger entry is created (create-only) in the same commit as its state changes, so a redelivered or replayed file is recognised whole, even after its tombstones are gone",
  'compact.batch-id-skip':
    'an append skips batches whose ids a committed snapshot already records (retried commit after success)',
  'compact.rewrite-liveness':
    'a rewrite (replace) commits only if every file it replaces is still live in the base it commits on',
  'compact.rewrite-delete-validation':
    'a rewrite (replace) commits only if no position or equality delete applies to a file it replaces (another engine deleted rows: the copy would resurrect them)',
  'iceberg.unknown-outcome-reread':
    'after an error whose outcome is unknown, a commit re-reads the table to see whether it landed before retrying',
  'compact.orphan-waits-for-batches':
    'orphan cleanup never runs while a claimed or staged batch of the table waits (its files are unreferenced)',
  'evict.precondition':
    'an eviction commits an expiry only on the state version its query read (another tick or a payment may have changed it since)',
  'flush.lease-owner':
    'a flush attempt stages (and goes on writing) only while the lease names its batch and its own token',
  'flush.stage-status':
    'a batch found already staged is finished from its record (exactly its staged range deleted), never read again',
  'flush.release-owner':
    'a flush attempt frees the shard lease only while it holds it (else a new batch could take staged, undeleted rows)',
  'flush.reused-file-content':
    "a data file already at a batch file name is reused only when the row-id digest it records is this attempt's",
  'iceberg.fork-protection':
    'a new metadata version counts as committed only if it is the head or the head descends from it (a stale base cannot fork the table by re-creating a version expiry deleted)',
  'iceberg.hint-monotonic':
    'version-hint.text is only ever raised (read with its generation, replaced conditionally), so it stays above every deleted metadata version',
  'orphan.recheck-uncached':
    'orphan cleanup deletes a file its manifest cache found unreferenced only after a fresh read of every manifest list and manifest agrees (the cache alone never condemns a file a live snapshot references)',
  'compact.keep-file-on-unknown-outcome':
    'a rewrite whose commit outcome is unknown keeps its compacted file (a commit that may have landed references it)',
} as const;

export type GuardName = keyof typeof GUARDS;

export const GUARD_NAMES = Object.keys(GUARDS) as GuardName[];

let disabled: ReadonlySet<string> | undefined;

function readDisabled(env: NodeJS.ProcessEnv): ReadonlySet<string> {
  const raw = env['STREAMJOIN_DISABLED_GUARDS'] ?? '';
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return new Set();
  const unknown = names.filter((n) => !(n in GUARDS));
  if (unknown.length > 0) {
    throw new Error(
      `STREAMJOIN_DISABLED_GUARDS names unknown guards ${JSON.stringify(unknown)}; expected some of ${GUARD_NAMES.join(', ')}`,
    );
  }
  if (!env['FIRESTORE_EMULATOR_HOST']) {
    throw new Error(
      'STREAMJOIN_DISABLED_GUARDS is honoured only against the Firestore emulator (npm run test:guards); it was set without FIRESTORE_EMULATOR_HOST',
    );
  }
  return new Set(names);
}

/** True unless `name` was disabled for `npm run test:guards`. Cheap: the variable is read once. */
export function guardOn(name: GuardName): boolean {
  disabled ??= readDisabled(process.env);
  return !disabled.has(name);
}

/** Tests in-process: replace the disabled set (undefined re-reads the environment). */
export function setDisabledGuards(names: readonly GuardName[] | undefined): void {
  disabled = names === undefined ? undefined : new Set(names);
}
