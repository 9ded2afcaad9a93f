// Which test proves each guard of shared/guards.ts: `npm run test:guards` runs it with that guard alone
// disabled and fails unless the test fails. Typed as a Record over every guard name, so a guard without
// a test does not type-check.
import type { GuardName } from '../../shared/guards.ts';

export interface GuardTest {
  /** Test file, relative to the repository root. */
  readonly file: string;
  /** The test's own name (not its suite's), matched literally by --test-name-pattern. */
  readonly name: string;
}

export const GUARD_TESTS: Record<GuardName, GuardTest> = {
  'ingest.state-precondition': {
    file: 'test/integration/ingest.test.ts',
    name: 'different files for one waiting order at the same time: one joined row, the other payments extra',
  },
  'ingest.ledger-create': {
    file: 'test/integration/ingest.test.ts',
    name: 'a redelivery after the tombstone retention emits nothing: the ledger recognises the files',
  },
  'compact.batch-id-skip': {
    file: 'test/integration/compact.test.ts',
    name: 'a crash after the Iceberg commit but before marking the batches: the retry skips them (no duplicate rows)',
  },
  'compact.rewrite-liveness': {
    file: 'test/integration/iceberg-table.test.ts',
    name: 'compacts a partition without changing rows; older snapshots stay readable',
  },
  'compact.rewrite-delete-validation': {
    file: 'test/integration/iceberg-deletes.test.ts',
    name: 'a rewrite planned before another engine deleted rows of its inputs is refused; the rows stay deleted',
  },
  'iceberg.unknown-outcome-reread': {
    file: 'test/integration/iceberg-crash.test.ts',
    name: 'written but reported as failed: resolved by re-reading, one snapshot',
  },
  'orphan.recheck-uncached': {
    file: 'test/integration/iceberg-maintenance.test.ts',
    name: 'a manifest rewritten in place after the cache read it: the file it now references is kept',
  },
  'compact.orphan-waits-for-batches': {
    file: 'test/integration/compact.test.ts',
    name: 'never deletes the files of a staged batch still waiting to be committed, however old they are',
  },
  'evict.precondition': {
    file: 'test/integration/evict.test.ts',
    name: 'two overlapping ticks expire each state once',
  },
  'flush.lease-owner': {
    file: 'test/integration/flush-interleavings.test.ts',
    name: 'stages and deletes nothing after its batch was taken over, staged and released (a backlog larger than one batch)',
  },
  'flush.stage-status': {
    file: 'test/integration/flush-interleavings.test.ts',
    name: 'is finished by the taker-over from its staged record (rows of the batch only, each once)',
  },
  'flush.release-owner': {
    file: 'test/integration/flush-interleavings.test.ts',
    name: 'does not free the lease of the attempt that took its batch over while that one is between stage and delete',
  },
  'flush.reused-file-content': {
    file: 'test/integration/flush-interleavings.test.ts',
    name: 'is refused, and never overwritten, when it holds other rows of the same size',
  },
  'iceberg.fork-protection': {
    file: 'test/integration/iceberg-fork.test.ts',
    name: 'paused between planning and its metadata write while others commit and expiry deletes its base: its re-created version is removed and the outcome is unknown, never a success',
  },
  'iceberg.hint-monotonic': {
    file: 'test/integration/iceberg-fork.test.ts',
    name: 'a slow hint write after a newer commit does not move version-hint.text back',
  },
  'compact.keep-file-on-unknown-outcome': {
    file: 'test/integration/compact-outcome.test.ts',
    name: 'the last rewrite attempt times out and lands later: the compacted file survives, every row exactly once',
  },
};
