// Table writes: append (one snapshot for many staged batches, idempotent by batch id) and rewrite
// (compaction: a `replace` snapshot that verifies its inputs are still live at commit time).
import { StreamjoinError } from '../errors.ts';
import { guardOn } from '../guards.ts';
import type { DataFileStats } from '../tables.ts';
import { type CommitOptions, type CommitOutcome, commitWithRetry } from './commit.ts';
import {
  currentSchema,
  defaultSpec,
  type ManifestMergeOptions,
  SnapshotProducer,
} from './snapshot-producer.ts';
import { dataFileFromStats } from './spec/manifests.ts';
import { checkBatchId, committedBatchIds } from './spec/summary.ts';
import type { DataFile, PartitionSpec, SnapshotId, TableMetadata } from './spec/types.ts';
import { newSnapshotId } from './spec/updates.ts';
import type { Table } from './table.ts';

export interface WriteOptions extends CommitOptions {
  readonly merge?: ManifestMergeOptions;
  /** Extra snapshot summary properties. */
  readonly summary?: Readonly<Record<string, string>>;
}

export interface StagedBatch {
  readonly batchId: string;
  readonly files: readonly DataFileStats[];
}

export interface AppendResult {
  readonly table: Table;
  /** The snapshot this call committed; undefined when there was nothing new to commit. */
  readonly snapshotId?: SnapshotId;
  /** Batches this call committed. */
  readonly committedBatchIds: readonly string[];
  /** Batches found already committed in the table's history (a retry after success): skipped. */
  readonly skippedBatchIds: readonly string[];
  readonly addedFiles: number;
  readonly attempts: number;
  /** Why nothing was committed, when nothing was. */
  readonly reason?: string;
}

/** The spec a file written before stats carried a spec id was written for: day() of the table def. */
function legacySpecId(md: TableMetadata): number {
  const dayOnly = (id: number) => {
    const s = md.partitionSpecs.find((x) => x.specId === id);
    return s !== undefined && s.fields.length === 1 && s.fields[0]!.transform === 'day';
  };
  return dayOnly(md.defaultSpecId) ? md.defaultSpecId : 0;
}

function specById(md: TableMetadata, id: number): PartitionSpec {
  const s = md.partitionSpecs.find((x) => x.specId === id);
  if (s === undefined) {
    throw new StreamjoinError(
      'incompatible-table',
      `expected partition spec ${id} (staged files were written for it) in table ${md.location}, but another engine removed it`,
      { context: { table: md.location, specId: id } },
    );
  }
  return s;
}

function landedWith(id: SnapshotId): (md: TableMetadata) => boolean {
  return (md) => md.snapshots.some((s) => s.snapshotId === id);
}

/** Files that commit together and the batch ids they stand for. */
interface Group {
  readonly batchIds: readonly string[];
  readonly files: readonly DataFileStats[];
}

function validateBatchIds(ids: readonly string[]): void {
  for (const id of ids) {
    const problem = checkBatchId(id);
    if (problem !== undefined)
      throw new StreamjoinError('invalid-input', problem, { context: { batchId: id } });
  }
  if (new Set(ids).size !== ids.length) {
    throw new StreamjoinError(
      'invalid-input',
      `expected distinct batch ids, but got duplicates: ${ids.join(',')}`,
    );
  }
}

/**
 * Commits the files of many staged batches as ONE append snapshot whose summary lists the batch ids.
 * Batches already in the current history are skipped (checked on every attempt, so a concurrent
 * committer of the same batches turns this into a no-op instead of a duplicate).
 */
export async function appendBatches(
  table: Table,
  batches: readonly StagedBatch[],
  options: WriteOptions = {},
): Promise<AppendResult> {
  validateBatchIds(batches.map((b) => b.batchId));
  return appendGroups(
    table,
    batches.map((b) => ({ batchIds: [b.batchId], files: b.files })),
    options,
  );
}

/**
 * Appends `files` as one snapshot recording `batchIds` (idempotent: a retry after success is skipped).
 * All or nothing: when only some of the ids are already committed the files cannot be split between
 * them, so that is a conflict — appendBatches knows which files belong to which batch.
 */
export async function appendFiles(
  table: Table,
  files: readonly DataFileStats[],
  options: WriteOptions & { readonly batchIds: readonly string[] },
): Promise<AppendResult> {
  const { batchIds, ...rest } = options;
  if (batchIds.length === 0) {
    throw new StreamjoinError(
      'invalid-input',
      'expected at least one batch id for an idempotent append, but got none',
    );
  }
  validateBatchIds(batchIds);
  return appendGroups(table, [{ batchIds, files }], rest);
}

async function appendGroups(
  table: Table,
  groups: readonly Group[],
  options: WriteOptions,
): Promise<AppendResult> {
  const ids = groups.flatMap((g) => g.batchIds);
  const snapshotId = newSnapshotId(new Set(table.metadata.snapshots.map((s) => s.snapshotId)));
  let producer: SnapshotProducer | undefined;
  let producerKey = '';
  let pending: Group[] = [];
  let skipped: string[] = [];
  const outcome: CommitOutcome = await commitWithRetry(
    table,
    async (base, attempt) => {
      // Guard compact.batch-id-skip: batches a committed snapshot already records are not added again.
      const done = guardOn('compact.batch-id-skip')
        ? committedBatchIds(base.metadata, ids)
        : new Set<string>();
      for (const g of groups) {
        const n = g.batchIds.filter((id) => done.has(id)).length;
        if (n > 0 && n < g.batchIds.length) {
          throw new StreamjoinError(
            'conflict',
            `expected batches ${g.batchIds.join(',')} to be all committed or none, but only ${g.batchIds.filter((id) => done.has(id)).join(',')} are`,
            { retryable: false },
          );
        }
      }
      pending = groups.filter((g) => !done.has(g.batchIds[0]!));
      skipped = ids.filter((id) => done.has(id));
      if (pending.length === 0) return { kind: 'noop', reason: 'every batch is already committed' };
      if (pending.every((g) => g.files.length === 0)) return { kind: 'noop', reason: 'no files to add' };
      const key = pending.flatMap((g) => g.batchIds).join(',');
      if (producer === undefined || key !== producerKey) {
        // The set of batches changed (another committer took some): the added-files manifest differs.
        const md = base.metadata;
        const schema = currentSchema(md);
        const files = pending.flatMap((g) => g.files);
        const specOf = (f: DataFileStats) => f.specId ?? legacySpecId(md);
        const addedSpecs = new Map(files.map((f) => [f.uri, specOf(f)]));
        const schemaIds = new Set(files.map((f) => f.schemaId ?? md.currentSchemaId));
        producer = new SnapshotProducer(
          snapshotId,
          {
            operation: 'append',
            added: files.map((f) => dataFileFromStats(f, schema, specById(md, specOf(f)))),
            addedSpecs,
            // The schema the files were written with: a reader of this snapshot finds every column of it
            // in them (one schema for all the batches, else the current one).
            ...(schemaIds.size === 1 ? { schemaId: [...schemaIds][0]! } : {}),
            removed: [],
            batchIds: pending.flatMap((g) => g.batchIds),
            ...(options.summary === undefined ? {} : { summaryExtra: options.summary }),
          },
          producerOptions(options),
        );
        producerKey = key;
      }
      return producer.plan(base, attempt);
    },
    landedWith(snapshotId),
    options,
  );
  const landed = outcome.committed;
  return {
    table: outcome.table,
    ...(landed ? { snapshotId } : {}),
    committedBatchIds: landed ? pending.flatMap((g) => g.batchIds) : [],
    skippedBatchIds: skipped,
    ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
    addedFiles: landed ? pending.reduce((n, g) => n + g.files.length, 0) : 0,
    attempts: outcome.attempts,
  };
}

function producerOptions(options: WriteOptions): { merge?: ManifestMergeOptions; now?: () => number } {
  return {
    ...(options.merge === undefined ? {} : { merge: options.merge }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
}

export interface RewriteResult {
  readonly table: Table;
  readonly snapshotId: SnapshotId;
  readonly attempts: number;
}

/**
 * Replaces `remove` by `add` (same rows, other files) as a `replace` snapshot. Each attempt verifies the
 * removed files are still live; when one is not (another compaction got there first), StreamjoinError
 * 'conflict' (not retryable as is): the caller re-plans its compaction from the new table state.
 */
export async function rewriteFiles(
  table: Table,
  change: { readonly remove: readonly DataFile[]; readonly add: readonly DataFileStats[] },
  options: WriteOptions = {},
): Promise<RewriteResult> {
  if (change.remove.length === 0)
    throw new StreamjoinError('invalid-input', 'expected files to rewrite, but got none');
  const removedRows = change.remove.reduce((n, f) => n + f.recordCount, 0);
  const addedRows = change.add.reduce((n, f) => n + f.recordCount, 0);
  if (removedRows !== addedRows) {
    throw new StreamjoinError(
      'invalid-input',
      `expected a rewrite to keep the row count, but it removes ${removedRows} rows and adds ${addedRows}`,
    );
  }
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
  const snapshotId = newSnapshotId(new Set(table.metadata.snapshots.map((s) => s.snapshotId)));
  const producer = new SnapshotProducer(
    snapshotId,
    {
      operation: 'replace',
      added: change.add.map((f) => dataFileFromStats(f, schema, spec)),
      removed: change.remove,
      batchIds: [],
      ...(options.summary === undefined ? {} : { summaryExtra: options.summary }),
    },
    producerOptions(options),
  );
  const outcome = await commitWithRetry(
    table,
    (base, attempt) => producer.plan(base, attempt),
    landedWith(snapshotId),
    options,
  );
  return { table: outcome.table, snapshotId, attempts: outcome.attempts };
}
