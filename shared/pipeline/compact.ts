// Compact (Cloud Scheduler, every few minutes): commit all staged micro-batches of each table as ONE
// Iceberg append snapshot (batch ids in the summary, so a retried commit after a success is skipped),
// then table maintenance: bin-pack small files of a partition into larger ones (a `replace` snapshot),
// expire old snapshots, delete orphan files. Idempotent and safe to overlap.
import { randomUUID } from 'node:crypto';
import { Timestamp } from '@google-cloud/firestore';
import type { Config } from '../config.ts';
import { describeError, StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { guardOn } from '../guards.ts';
import { positionDeleteTargets } from '../iceberg/deletes-io.ts';
import {
  appendBatches,
  type CommitOptions,
  deleteOrphanFiles,
  expireSnapshots,
  rewriteFiles,
  type Table,
} from '../iceberg/index.ts';
import { type LiveFiles, listLiveFiles, readDataFileBatches } from '../iceberg/reader.ts';
import { currentSchema } from '../iceberg/snapshot-producer.ts';
import { DeleteIndex } from '../iceberg/spec/deletes.ts';
import { partitionKey } from '../iceberg/spec/manifests.ts';
import { partitionType } from '../iceberg/spec/schema.ts';
import type { PartitionValue, ResolvedEntry, Schema, TableMetadata } from '../iceberg/spec/types.ts';
import {
  intProperty,
  TABLE_PROPERTIES,
  type WriterSettings,
  writerSettingsOf,
} from '../iceberg/write-layout.ts';
import {
  type FilePartition,
  type FileSchema,
  type PartitionTuple,
  storeRollingDataFiles,
} from '../parquet/data-file-writer.ts';
import { joinUri } from '../storage/port.ts';
import type { DataFileStats, TableKind } from '../tables.ts';
import { type CompactionPolicy, maintenanceSettingsOf, planPartitionRewrite } from './compaction-policy.ts';
import { deserializeStats, type SerializedStats } from './flush.ts';
import { openTable, type TickDeps, tableUris } from './tick.ts';

/** Compact needs what the tick needs: Firestore (batches), the object store and the configuration;
 *  tests may tune the Iceberg commit retries (attempts, backoff). */
export type CompactDeps = TickDeps & { readonly commitOptions?: CommitOptions };

export interface TableCompactResult {
  readonly table: TableKind;
  readonly committedBatches: number;
  readonly skippedBatches: number;
  readonly addedFiles: number;
  readonly snapshotId?: string;
  readonly rewrittenFiles: number;
  readonly rewrittenInto: number;
  /** Rewrites whose commit outcome stayed unknown: their compacted files are kept. */
  readonly rewritesUnknown: number;
  readonly expiredSnapshots: number;
  readonly deletedFiles: number;
  /** Manifest lists and manifests orphan cleanup read (not served by its cache). */
  readonly orphanManifestReads?: number;
  /** Why nothing was done for this table: another engine changed it beyond what the pipeline writes. */
  readonly blocked?: string;
}

/** Batches per commit: bounds one run's work (the rest goes in the next run). */
const MAX_BATCHES_PER_COMMIT = 500;

export function tableLocationOf(config: Config, kind: TableKind): string {
  return tableUris(config)[kind].replace(/\/+$/, '');
}

export async function runCompact(
  deps: CompactDeps,
  options: { maintenance?: boolean; tables?: readonly TableKind[]; maxBatchesPerCommit?: number } = {},
): Promise<TableCompactResult[]> {
  const out: TableCompactResult[] = [];
  for (const kind of options.tables ?? (['joined', 'unmatched'] as const)) {
    try {
      out.push(
        await compactTable(
          deps,
          kind,
          options.maintenance ?? true,
          options.maxBatchesPerCommit ?? MAX_BATCHES_PER_COMMIT,
        ),
      );
    } catch (err) {
      // A table another engine changed beyond what the pipeline handles (format v3, a spec its staged
      // files need removed): its staged batches wait, an operator is alerted, the other table goes on.
      if (!(err instanceof StreamjoinError && err.kind === 'incompatible-table')) throw err;
      deps.log.alert(
        {
          table: kind,
          ...err.context,
          action:
            'nothing is lost: staged batches and outbox rows wait until the table is one this pipeline can write (format v2, the partition specs its staged files were written for)',
        },
        `compact stopped for table ${kind}: ${err.message}`,
      );
      out.push({
        table: kind,
        committedBatches: 0,
        skippedBatches: 0,
        addedFiles: 0,
        rewrittenFiles: 0,
        rewrittenInto: 0,
        rewritesUnknown: 0,
        expiredSnapshots: 0,
        deletedFiles: 0,
        blocked: err.message,
      });
    }
  }
  return out;
}

async function compactTable(
  deps: CompactDeps,
  kind: TableKind,
  maintenance: boolean,
  maxBatches: number,
): Promise<TableCompactResult> {
  const now = (deps.now ?? Date.now)();
  let table = await openTable(deps, kind);

  // 1. Commit staged batches as one append snapshot.
  const staged = await deps.collections.batches
    .where('table', '==', kind)
    .where('status', '==', 'staged')
    .limit(maxBatches)
    .get();
  deps.counter.reads += Math.max(1, staged.size);
  let committedBatches = 0;
  let skippedBatches = 0;
  let addedFiles = 0;
  let snapshotId: string | undefined;
  // For the commit's log line (metrics): rows committed and the age of the oldest batch committed.
  let committedRows = 0;
  let oldestClaimMs: number | undefined;
  if (!staged.empty) {
    const batches = staged.docs
      .map((d) => ({
        batchId: d.get('batchId') as string,
        files: ((d.get('files') as SerializedStats[]) ?? []).map(deserializeStats),
        claimedAtMs: (d.get('createdAt') as Timestamp | undefined)?.toMillis(),
      }))
      .sort((a, b) => (a.batchId < b.batchId ? -1 : 1));
    const withFiles = batches.filter((b) => b.files.length > 0);
    let done: string[] = batches.filter((b) => b.files.length === 0).map((b) => b.batchId);
    if (withFiles.length > 0) {
      const retries = intProperty(table.metadata.properties, TABLE_PROPERTIES.commitNumRetries);
      const r = await appendBatches(table, withFiles, {
        ...deps.commitOptions,
        now: () => (deps.now ?? Date.now)(),
        logger: deps.log,
        // commit.retry.num-retries, when the table sets it (at least the default's 12 attempts)
        ...(retries === undefined ? {} : { maxAttempts: Math.max(12, retries + 1) }),
      });
      table = r.table;
      committedBatches = r.committedBatchIds.length;
      skippedBatches = r.skippedBatchIds.length;
      addedFiles = r.addedFiles;
      snapshotId = r.snapshotId?.toString();
      done = [...done, ...r.committedBatchIds, ...r.skippedBatchIds];
      const committed = new Set(r.committedBatchIds);
      for (const b of withFiles) {
        if (!committed.has(b.batchId)) continue;
        committedRows += b.files.reduce((n, f) => n + f.recordCount, 0);
        if (b.claimedAtMs !== undefined)
          oldestClaimMs = Math.min(oldestClaimMs ?? b.claimedAtMs, b.claimedAtMs);
      }
    }
    faultPoint('compact.after-commit');
    for (let i = 0; i < done.length; i += 400) {
      const wb = deps.db.batch();
      for (const id of done.slice(i, i + 400)) {
        wb.update(deps.collections.batches.doc(id), {
          status: 'committed',
          committedAt: Timestamp.fromMillis(now),
          snapshotId: snapshotId ?? null,
          // Firestore TTL field: a committed batch is bookkeeping only; kept as long as tombstones.
          expireAt: Timestamp.fromMillis(now + deps.config.tombstoneRetentionMs),
        });
      }
      await wb.commit();
      deps.counter.writes += Math.min(400, done.length - i);
    }
    const at = (deps.now ?? Date.now)();
    deps.log.info(
      {
        table: kind,
        committedBatches,
        skippedBatches,
        addedFiles,
        snapshotId,
        rows: committedRows,
        // The commit's own duration, and how long its oldest batch waited since its claim.
        ms: at - now,
        ...(oldestClaimMs === undefined ? {} : { lagMs: Math.max(0, at - oldestClaimMs) }),
      },
      'committed staged batches',
    );
  }

  let rewrittenFiles = 0;
  let rewrittenInto = 0;
  let rewritesUnknown = 0;
  let expiredSnapshots = 0;
  let deletedFiles = 0;
  let orphanReads: number | undefined;
  if (maintenance) {
    // 2. Bin-pack small files per partition.
    const rw = await rewriteSmallFiles(deps, table, kind);
    table = rw.table;
    rewrittenFiles = rw.removed;
    rewrittenInto = rw.added;
    rewritesUnknown = rw.unknown;
    // 3. Expire old snapshots and the files only they referenced, as the table's history.expire.*
    // properties say (the settings where it has none).
    const settings = maintenanceSettingsOf(table.metadata.properties, deps.config);
    const ex = await expireSnapshots(table, {
      ...deps.commitOptions,
      olderThanMs: now - settings.maxSnapshotAgeMs,
      retainLast: settings.minSnapshotsToKeep,
      logger: deps.log,
    });
    table = ex.table;
    expiredSnapshots = ex.expiredSnapshotIds.length;
    // 4. Orphans (crashed or lost commits) older than the safety window — but never while a staged
    // batch of this table waits to be committed: its files are unreferenced until then, and may be
    // older than the window after an outage or a backlog larger than one run commits.
    const waiting = await deps.collections.batches
      .where('table', '==', kind)
      .where('status', 'in', ['claimed', 'staged']) // claimed too: a takeover rewrites old files
      .limit(1)
      .get();
    deps.counter.reads++;
    let orphanFiles = 0;
    // Guard compact.orphan-waits-for-batches.
    if (waiting.empty || !guardOn('compact.orphan-waits-for-batches')) {
      const orphans = await deleteOrphanFiles(table, { olderThanMs: now - deps.config.orphanSafetyMs });
      orphanFiles = orphans.deletedFiles.length;
      orphanReads = orphans.read.manifestLists + orphans.read.manifests;
    }
    deletedFiles = ex.deletedFiles.length + orphanFiles;
  }
  return {
    table: kind,
    committedBatches,
    skippedBatches,
    addedFiles,
    ...(snapshotId === undefined ? {} : { snapshotId }),
    rewrittenFiles,
    rewrittenInto,
    rewritesUnknown,
    expiredSnapshots,
    deletedFiles,
    ...(orphanReads === undefined ? {} : { orphanManifestReads: orphanReads }),
  };
}

/**
 * The data files compaction may rewrite: those of the table's current partition spec that no position
 * or equality delete applies to. A file with deletes is left as it is (this writer does not apply
 * deletes while rewriting, and a copy would escape them: the deleted rows would come back); files of an
 * older spec stay in their partitioning. Pure.
 */
export function rewriteCandidates(
  md: TableMetadata,
  live: LiveFiles,
  positionTargets?: ReadonlyMap<string, ReadonlySet<string>>,
): ResolvedEntry[] {
  const index = new DeleteIndex(live.deletes, md.partitionSpecs, positionTargets);
  return live.data.filter((d) => d.specId === md.defaultSpecId && !index.hasDeletes(d)).map((d) => d.entry);
}

/**
 * Groups of files to rewrite, at most one per partition (see compaction-policy.ts: the smallest files of
 * a partition that holds minFilesToCompact small files or more, merged by size ratio; of a quiet
 * partition, the fewest smallest ones that bring it down to quietMaxSmallFiles). A partition is quiet
 * when `quiet` says so of its files (compaction: none was added in STREAMJOIN_COMPACT_QUIET_AFTER). Pure.
 */
export function planRewrite(
  files: readonly ResolvedEntry[],
  policy: CompactionPolicy,
  quiet: (partitionFiles: readonly ResolvedEntry[]) => boolean = () => false,
): ResolvedEntry[][] {
  const byPartition = new Map<string, ResolvedEntry[]>();
  for (const f of files) {
    const key = partitionKey(f.dataFile.partition);
    const list = byPartition.get(key);
    if (list === undefined) byPartition.set(key, [f]);
    else list.push(f);
  }
  const groups: ResolvedEntry[][] = [];
  for (const list of byPartition.values()) {
    const picked = planPartitionRewrite(
      list.map((f) => ({ size: f.dataFile.fileSizeInBytes, name: f.dataFile.filePath })),
      policy,
      { quiet: quiet(list) },
    );
    if (picked.length > 1) groups.push(picked.map((i) => list[i]!));
  }
  return groups;
}

/**
 * Whether no file of a partition was added since `sinceMs`: each file's time is its adding snapshot's
 * (a file whose snapshot has expired is older than every retained one, so it counts as old). Pure.
 */
export function quietSince(
  md: TableMetadata,
  sinceMs: number,
): (partitionFiles: readonly ResolvedEntry[]) => boolean {
  const at = new Map(md.snapshots.map((s) => [s.snapshotId, s.timestampMs]));
  return (files) => files.every((f) => (at.get(f.snapshotId) ?? 0) < sinceMs);
}

/** A nested value met while compacting: the group is not rewritten. */
class NestedValues extends Error {
  readonly file: string;
  readonly column: string;
  constructor(file: string, column: string) {
    super(`${file} holds values in nested column ${column}`);
    this.file = file;
    this.column = column;
  }
}

/**
 * How compaction writes: the table's current schema with every column taken from the rows by name (the
 * files' own values), the table's Parquet properties; undefined when the default spec cannot be typed.
 */
function compactionLayout(
  md: TableMetadata,
  kind: TableKind,
): { schema: Schema; fileSchema: FileSchema; writer: WriterSettings; nested: string[] } | undefined {
  const schema = currentSchema(md);
  const spec = md.partitionSpecs.find((s) => s.specId === md.defaultSpecId);
  try {
    if (spec !== undefined) partitionType(spec, schema);
  } catch {
    return undefined;
  }
  return {
    schema,
    fileSchema: {
      tableName: kind,
      schemaId: schema.schemaId,
      columns: schema.fields.map((f) => ({ field: f, key: f.name })),
    },
    writer: writerSettingsOf(md.properties).settings,
    nested: schema.fields.filter((f) => typeof f.type !== 'string').map((f) => f.name),
  };
}

/** The partition of a compacted file: the group's own tuple (all its files share it), under the default spec. */
function fixedPartition(
  md: TableMetadata,
  partition: Readonly<Record<string, PartitionValue>>,
): FilePartition {
  const tuple: PartitionTuple = {
    key: partitionKey(partition),
    values: partition as PartitionTuple['values'],
  };
  return { specId: md.defaultSpecId, fixed: tuple, of: () => tuple, mismatch: () => 'unreachable' };
}

async function rewriteSmallFiles(
  deps: CompactDeps,
  table: Table,
  kind: TableKind,
): Promise<{ table: Table; removed: number; added: number; unknown: number }> {
  const live = await listLiveFiles(table);
  const targets = await positionDeleteTargets(deps.store, live.deletes);
  // The table's write.target-file-size-bytes wins over the pipeline's setting (another engine may set it).
  const settings = maintenanceSettingsOf(table.metadata.properties, deps.config);
  if (settings.ignored.length > 0) {
    deps.log.warn({ table: kind, ignored: settings.ignored }, 'table properties ignored by maintenance');
  }
  const { policy } = settings;
  const now = (deps.now ?? Date.now)();
  const groups = planRewrite(
    rewriteCandidates(table.metadata, live, targets),
    policy,
    quietSince(table.metadata, now - settings.quietAfterMs),
  );
  let removed = 0;
  let added = 0;
  let unknown = 0;
  const layout = compactionLayout(table.metadata, kind);
  if (layout === undefined) {
    deps.log.warn(
      { table: kind, spec: table.metadata.defaultSpecId },
      'compaction skipped: the default partition spec has a transform this writer cannot compute',
    );
    return { table, removed, added, unknown };
  }
  const { schema, fileSchema, writer } = layout;
  const nested = schema.fields.flatMap((f, i) => (typeof f.type === 'string' ? [] : [i]));
  for (const group of groups) {
    const first = group[0]!.dataFile.filePath;
    const dir = first.slice(0, first.lastIndexOf('/'));
    const outputs: string[] = [];
    const nextUri = () => {
      const uri = joinUri(dir, `compacted-${randomUUID()}.parquet`);
      outputs.push(uri);
      return uri;
    };
    // Streamed: one row group of one input at a time goes into the current output, which is closed at
    // the target size (the next one goes on), so memory does not grow with the files. Every value as it
    // was (raw: decimals, bytes, dates unconverted), in the table's current schema, matched by field id.
    async function* batches() {
      for (const f of group) {
        for await (const b of readDataFileBatches(
          deps.store,
          f.dataFile.filePath,
          f.dataFile.fileSizeInBytes,
          schema,
          // Batches of at most a row group: an input row group is never split across output ones.
          { raw: true, maxBatchRows: deps.config.rowGroupRows },
        )) {
          for (const c of nested) {
            const col = await b.column(c);
            if (col === undefined) continue;
            for (let i = 0; i < b.length; i++) {
              if (col[i] !== null && col[i] !== undefined)
                throw new NestedValues(f.dataFile.filePath, schema.fields[c]!.name);
            }
          }
          yield b;
        }
      }
    }
    let stats: DataFileStats[];
    try {
      stats = await storeRollingDataFiles(
        deps.store,
        nextUri,
        batches(),
        { ...fileSchema, partition: fixedPartition(table.metadata, group[0]!.dataFile.partition) },
        { ...writer, rowGroupRows: deps.config.rowGroupRows, targetFileSize: policy.targetFileSize },
      );
    } catch (err) {
      await deleteQuietly(deps, outputs);
      if (!(err instanceof NestedValues)) throw err;
      // Another engine's struct/list/map values: this writer stores only nulls there, so the group is
      // left as it is rather than rewritten without them.
      deps.log.info(
        { table: kind, file: err.file, column: err.column },
        'compaction skipped a group: nested values',
      );
      continue;
    }
    faultPoint('compact.rewrite-after-write');
    try {
      const r = await rewriteFiles(
        table,
        { remove: group.map((g) => g.dataFile), add: stats },
        { ...deps.commitOptions, logger: deps.log },
      );
      table = r.table;
      removed += group.length;
      added += stats.length;
    } catch (err) {
      const outcome = err instanceof StreamjoinError ? err.kind : undefined;
      // Guard compact.keep-file-on-unknown-outcome: only a commit that provably did not land ('conflict')
      // frees its files; after 'state-unknown' the commit may have landed (or may still land) and would
      // reference them. Orphan cleanup removes them after the safety window if nothing ever does.
      if (outcome === 'state-unknown' && guardOn('compact.keep-file-on-unknown-outcome')) {
        deps.log.warn(
          { table: kind, files: outputs, err: describeError(err) },
          'rewrite commit outcome unknown; keeping the compacted files (re-planned next run)',
        );
        unknown++;
        continue;
      }
      if (outcome === 'conflict' || outcome === 'state-unknown') {
        // Another compaction rewrote these files first, or another engine deleted rows in them: ours are
        // orphans; the next run plans again from the new state.
        deps.log.info(
          { table: kind, files: outputs, reason: describeError(err) },
          'rewrite lost to a concurrent change; re-planned next run',
        );
        for (const uri of outputs) await deps.store.delete(uri);
        continue;
      }
      throw err;
    }
    deps.log.info(
      {
        table: kind,
        files: group.length,
        bytes: group.reduce((n, g) => n + g.dataFile.fileSizeInBytes, 0),
        into: stats.map((s) => s.uri),
        rows: stats.reduce((n, s) => n + s.recordCount, 0),
      },
      'rewrote small files',
    );
  }
  return { table, removed, added, unknown };
}

/** Removes files a failed rewrite wrote (best effort: orphan cleanup gets any it misses). */
async function deleteQuietly(deps: CompactDeps, uris: readonly string[]): Promise<void> {
  for (const uri of uris) await deps.store.delete(uri).catch(() => {});
}
