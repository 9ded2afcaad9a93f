// Builds one snapshot on a base version: writes the manifest of added files (once per commit, reused
// across retries thanks to sequence-number inheritance), rewrites manifests that lose files (replace),
// merges small manifests when a snapshot would reference too many, writes the manifest list (once per
// attempt) and returns the commit as data (updates + requirements) for commit.ts.
import { randomUUID } from 'node:crypto';
import { StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { guardOn } from '../guards.ts';
import type { ObjectStore } from '../storage/port.ts';
import { joinUri } from '../storage/port.ts';
import { COMMIT_FAULT_POINTS, type PlannedCommit } from './commit.ts';
import { positionDeleteTargets } from './deletes-io.ts';
import { DeleteIndex, type SpecEntry } from './spec/deletes.ts';
import {
  decodeManifest,
  decodeManifestFile,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  type PartitionAvroFields,
} from './spec/manifest-codec.ts';
import {
  describeManifest,
  isLive,
  manifestFileFor,
  resolveEntry,
  type WrittenManifest,
} from './spec/manifests.ts';
import { buildSummary } from './spec/summary.ts';
import {
  type DataFile,
  ENTRY_STATUS,
  MAIN_BRANCH,
  MANIFEST_CONTENT,
  type ManifestEntry,
  type ManifestFile,
  type PartitionSpec,
  type ResolvedEntry,
  type Schema,
  type Snapshot,
  type SnapshotId,
  type TableMetadata,
} from './spec/types.ts';
import type { Table } from './table.ts';

export interface ManifestMergeOptions {
  /** Merge when a snapshot would reference more than this many manifests (Java default 100). */
  readonly minCountToMerge: number;
  /** Merged manifests grow up to about this size (Java `commit.manifest.target-size-bytes`, 8 MiB). */
  readonly targetSizeBytes: number;
}

export const DEFAULT_MERGE: ManifestMergeOptions = { minCountToMerge: 100, targetSizeBytes: 8 * 1024 * 1024 };

export function currentSchema(md: TableMetadata): Schema {
  const s = md.schemas.find((x) => x.schemaId === md.currentSchemaId);
  if (s === undefined)
    throw new StreamjoinError('internal', `current schema ${md.currentSchemaId} is not in the table`);
  return s;
}

export function defaultSpec(md: TableMetadata): PartitionSpec {
  const s = md.partitionSpecs.find((x) => x.specId === md.defaultSpecId);
  if (s === undefined)
    throw new StreamjoinError('internal', `default spec ${md.defaultSpecId} is not in the table`);
  return s;
}

/**
 * A new snapshot's timestamp-ms: now, but never at or before the last snapshot-log entry nor before the
 * base's last-updated-ms. `AS OF t` picks the last log entry at or before t, so entries must strictly
 * increase for each snapshot to be found at its own commit time — also when another engine's clock, or
 * a commit in the same millisecond, got there first.
 */
export function snapshotTimestamp(md: TableMetadata, nowMs: number): number {
  const lastLogged = md.snapshotLog.at(-1)?.timestampMs;
  return Math.max(nowMs, md.lastUpdatedMs, lastLogged === undefined ? -Infinity : lastLogged + 1);
}

export function snapshotById(md: TableMetadata, id: SnapshotId | undefined): Snapshot | undefined {
  return id === undefined ? undefined : md.snapshots.find((s) => s.snapshotId === id);
}

export async function readManifestList(store: ObjectStore, uri: string): Promise<ManifestFile[]> {
  return decodeManifestList(await store.read(uri));
}

/** A manifest's entries with inherited snapshot ids and sequence numbers filled in. */
export async function readManifestEntries(
  store: ObjectStore,
  manifest: ManifestFile,
): Promise<ResolvedEntry[]> {
  return decodeManifest(await store.read(manifest.manifestPath)).map((e) => resolveEntry(e, manifest));
}

async function writeManifest(
  store: ObjectStore,
  uri: string,
  schema: Schema,
  spec: PartitionSpec,
  entries: readonly ManifestEntry[],
  partitionFields?: PartitionAvroFields,
): Promise<WrittenManifest> {
  const bytes = encodeManifest(schema, spec, entries, 'data', partitionFields);
  // Create-only: a manifest name is never reused, so an existing object means a bug, not a retry.
  await store.write(uri, bytes, { ifAbsent: true, contentType: 'application/octet-stream' });
  return describeManifest(uri, bytes.length, spec, schema, entries);
}

/** A live entry copied into a new manifest keeps its (now explicit) snapshot id and sequence numbers. */
function asExisting(e: ResolvedEntry): ManifestEntry {
  return {
    status: ENTRY_STATUS.existing,
    snapshotId: e.snapshotId,
    sequenceNumber: e.sequenceNumber,
    fileSequenceNumber: e.fileSequenceNumber,
    dataFile: e.dataFile,
  };
}

export interface SnapshotChange {
  readonly operation: 'append' | 'replace';
  readonly added: readonly DataFile[];
  /**
   * The partition spec each added file was written for (by file path); absent: the default spec. Added
   * files are written in one manifest per spec, so a file flushed before another engine changed the
   * partitioning keeps the partition tuple it was written with.
   */
  readonly addedSpecs?: ReadonlyMap<string, number>;
  /** The schema the added files were written with, as the snapshot's schema-id; absent: the current. */
  readonly schemaId?: number;
  /** Files to remove (by file path); each must be live in the base, or the plan is a conflict. */
  readonly removed: readonly DataFile[];
  readonly batchIds: readonly string[];
  readonly summaryExtra?: Readonly<Record<string, string>>;
}

/** State of one commit across its attempts: the snapshot id and the added-files manifest stay the same. */
export class SnapshotProducer {
  readonly snapshotId: SnapshotId;
  readonly commitId: string = randomUUID();
  private readonly change: SnapshotChange;
  private readonly merge: ManifestMergeOptions;
  private readonly now: () => number;
  private addedManifests: WrittenManifest[] | undefined;
  private manifestCounter = 0;

  constructor(
    snapshotId: SnapshotId,
    change: SnapshotChange,
    options: { merge?: ManifestMergeOptions; now?: () => number } = {},
  ) {
    this.snapshotId = snapshotId;
    this.change = change;
    this.merge = options.merge ?? DEFAULT_MERGE;
    this.now = options.now ?? Date.now;
  }

  private manifestUri(location: string): string {
    return joinUri(location, 'metadata', `${this.commitId}-m${this.manifestCounter++}.avro`);
  }

  /** Writes this attempt's manifests and manifest list on `base`; returns the commit as data. */
  async plan(base: Table, attempt: number): Promise<PlannedCommit> {
    const { store, location, metadata: md } = base;
    const schema = currentSchema(md);
    const spec = defaultSpec(md);
    const parent = snapshotById(md, md.currentSnapshotId);
    const parentManifests = parent === undefined ? [] : await readManifestList(store, parent.manifestList);
    const sequenceNumber = md.lastSequenceNumber + 1;
    const attemptFiles: string[] = [];
    const written: WrittenManifest[] = [];

    if (this.change.added.length > 0) {
      // Written once per commit: ADDED entries inherit the sequence number of whichever attempt lands.
      if (this.addedManifests === undefined) {
        const bySpec = new Map<number, DataFile[]>();
        for (const f of this.change.added) {
          const id = this.change.addedSpecs?.get(f.filePath) ?? spec.specId;
          const list = bySpec.get(id);
          if (list === undefined) bySpec.set(id, [f]);
          else list.push(f);
        }
        const out: WrittenManifest[] = [];
        for (const [specId, files] of [...bySpec].sort((a, b) => a[0] - b[0])) {
          const fileSpec = md.partitionSpecs.find((x) => x.specId === specId);
          if (fileSpec === undefined) {
            throw new StreamjoinError(
              'incompatible-table',
              `expected partition spec ${specId} (files to add were written for it) in table ${location}, but another engine removed it`,
              { context: { table: location, specId } },
            );
          }
          out.push(
            await writeManifest(
              store,
              this.manifestUri(location),
              schema,
              fileSpec,
              files.map((dataFile) => ({
                status: ENTRY_STATUS.added,
                snapshotId: this.snapshotId,
                dataFile,
              })),
            ),
          );
        }
        this.addedManifests = out;
      }
      written.push(...this.addedManifests);
    }

    // Manifests with no live entry (only DELETED ones from an older replace) are dropped.
    let kept = parentManifests.filter((m) => m.addedFilesCount + m.existingFilesCount > 0);
    if (this.change.removed.length > 0) {
      const remove = new Set(this.change.removed.map((f) => f.filePath));
      const found = new Set<string>();
      const replaced: SpecEntry[] = [];
      const stillKept: ManifestFile[] = [];
      for (const m of kept) {
        if (m.content !== MANIFEST_CONTENT.data) {
          stillKept.push(m); // delete manifests are carried as they are
          continue;
        }
        const decoded = decodeManifestFile(await store.read(m.manifestPath));
        const entries = decoded.entries.map((e) => resolveEntry(e, m)).filter(isLive);
        if (!entries.some((e) => remove.has(e.dataFile.filePath))) {
          stillKept.push(m);
          continue;
        }
        const rewritten = entries.map((e): ManifestEntry => {
          if (!remove.has(e.dataFile.filePath)) return asExisting(e);
          found.add(e.dataFile.filePath);
          replaced.push({ entry: e, specId: m.partitionSpecId });
          return { ...asExisting(e), status: ENTRY_STATUS.deleted, snapshotId: this.snapshotId };
        });
        const uri = this.manifestUri(location);
        attemptFiles.push(uri);
        // The manifest keeps its own spec and partition record (after partition evolution it is not the
        // default spec's).
        const own = md.partitionSpecs.find((s) => s.specId === m.partitionSpecId) ?? spec;
        written.push(await writeManifest(store, uri, schema, own, rewritten, decoded.partitionFields));
      }
      const missing = [...remove].filter((p) => !found.has(p));
      // Guard compact.rewrite-liveness: replace only files still live in the base.
      if (missing.length > 0 && guardOn('compact.rewrite-liveness')) {
        throw new StreamjoinError(
          'conflict',
          `expected every file to replace to be live in snapshot ${parent?.snapshotId ?? 'none'}, but ${missing.length} are not (already rewritten or expired): ${missing.slice(0, 3).join(', ')}`,
          { context: { missing }, retryable: false },
        );
      }
      // Guard compact.rewrite-delete-validation: a data file that row-level deletes apply to is never
      // replaced — the copy would have a new path and sequence number, so the deletes would stop
      // applying and the deleted rows would come back (Java RewriteFiles validates the same).
      if (guardOn('compact.rewrite-delete-validation')) {
        const deleteEntries: SpecEntry[] = [];
        for (const m of kept) {
          if (m.content !== MANIFEST_CONTENT.deletes) continue;
          for (const e of await readManifestEntries(store, m)) {
            if (isLive(e)) deleteEntries.push({ entry: e, specId: m.partitionSpecId });
          }
        }
        const index = new DeleteIndex(
          deleteEntries,
          md.partitionSpecs,
          await positionDeleteTargets(store, deleteEntries),
        );
        const withDeletes = replaced.filter((r) => index.hasDeletes(r));
        if (withDeletes.length > 0) {
          throw new StreamjoinError(
            'conflict',
            `expected no row-level deletes on the files to replace, but ${withDeletes.length} have some in snapshot ${parent?.snapshotId ?? 'none'} (committed by another engine since the rewrite was planned?): ${withDeletes
              .slice(0, 3)
              .map((r) => r.entry.dataFile.filePath)
              .join(', ')}`,
            { context: { withDeletes: withDeletes.map((r) => r.entry.dataFile.filePath) }, retryable: false },
          );
        }
      }
      kept = stillKept;
    }

    if (written.length + kept.length > this.merge.minCountToMerge) {
      kept = await this.mergeManifests(base, schema, spec, kept, attemptFiles, written);
    }
    faultPoint(COMMIT_FAULT_POINTS.afterManifests);

    const manifests = [...written.map((w) => manifestFileFor(w, this.snapshotId, sequenceNumber)), ...kept];
    const manifestList = joinUri(
      location,
      'metadata',
      `snap-${this.snapshotId}-${attempt}-${this.commitId}.avro`,
    );
    await store.write(
      manifestList,
      encodeManifestList(
        {
          snapshotId: this.snapshotId,
          ...(parent === undefined ? {} : { parentSnapshotId: parent.snapshotId }),
          sequenceNumber,
        },
        manifests,
      ),
      { ifAbsent: true, contentType: 'application/octet-stream' },
    );
    attemptFiles.push(manifestList);
    faultPoint(COMMIT_FAULT_POINTS.afterManifestList);

    const snapshot: Snapshot = {
      snapshotId: this.snapshotId,
      ...(parent === undefined ? {} : { parentSnapshotId: parent.snapshotId }),
      sequenceNumber,
      timestampMs: snapshotTimestamp(md, this.now()),
      manifestList,
      summary: buildSummary({
        operation: this.change.operation,
        added: this.change.added,
        removed: this.change.removed,
        previous: parent?.summary,
        batchIds: this.change.batchIds,
        extra: {
          ...(this.change.summaryExtra ?? {}),
          'manifests-created': String(written.length),
          'manifests-kept': String(kept.length),
          // Parent manifests not carried over as they were: rewritten without the removed files,
          // merged, or dropped for holding no live file (Java's manifests-replaced).
          'manifests-replaced': String(parentManifests.length - kept.length),
        },
      }),
      schemaId:
        this.change.schemaId !== undefined && md.schemas.some((x) => x.schemaId === this.change.schemaId)
          ? this.change.schemaId
          : schema.schemaId,
    };
    return {
      kind: 'commit',
      updates: [
        { action: 'add-snapshot', snapshot },
        { action: 'set-snapshot-ref', refName: MAIN_BRANCH, snapshotId: this.snapshotId, type: 'branch' },
      ],
      requirements: [
        { type: 'assert-table-uuid', uuid: md.tableUuid },
        { type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, snapshotId: parent?.snapshotId },
      ],
      attemptFiles,
    };
  }

  /**
   * Bin-packs the kept manifests smaller than the target size (in list order, newest first) and rewrites
   * each bin of two or more as one manifest of EXISTING entries, so the count stays bounded.
   */
  private async mergeManifests(
    base: Table,
    schema: Schema,
    spec: PartitionSpec,
    kept: readonly ManifestFile[],
    attemptFiles: string[],
    written: WrittenManifest[],
  ): Promise<ManifestFile[]> {
    const out: ManifestFile[] = [];
    const bins: ManifestFile[][] = [];
    let bin: ManifestFile[] = [];
    let binSize = 0;
    for (const m of kept) {
      // Only data manifests of the current spec are merged; the others are carried as they are.
      if (
        m.manifestLength >= this.merge.targetSizeBytes ||
        m.partitionSpecId !== spec.specId ||
        m.content !== MANIFEST_CONTENT.data
      ) {
        out.push(m);
        continue;
      }
      if (bin.length > 0 && binSize + m.manifestLength > this.merge.targetSizeBytes) {
        bins.push(bin);
        bin = [];
        binSize = 0;
      }
      bin.push(m);
      binSize += m.manifestLength;
    }
    if (bin.length > 0) bins.push(bin);
    for (const b of bins) {
      if (b.length === 1) {
        out.push(b[0]!);
        continue;
      }
      const entries: ManifestEntry[] = [];
      for (const m of b) {
        for (const e of await readManifestEntries(base.store, m)) if (isLive(e)) entries.push(asExisting(e));
      }
      const uri = this.manifestUri(base.location);
      attemptFiles.push(uri);
      written.push(await writeManifest(base.store, uri, schema, spec, entries));
    }
    return out;
  }
}
