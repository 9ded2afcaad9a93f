// Manifest-level rules: data files from the Parquet writer's stats, sequence-number inheritance, the
// counts and partition summaries a manifest list records for each manifest. Pure.
import type { DataFileStats } from '../../tables.ts';
import { type PartitionFieldType, partitionType } from './schema.ts';
import { encodeSingleValue } from './single-value.ts';
import {
  DATA_FILE_CONTENT,
  type DataFile,
  ENTRY_STATUS,
  type FieldSummary,
  MANIFEST_CONTENT,
  type ManifestEntry,
  type ManifestFile,
  type PartitionSpec,
  type PartitionValue,
  type ResolvedEntry,
  type Schema,
  type SnapshotId,
} from './types.ts';

/** A DataFile for the manifest from the Parquet writer's statistics (bounds binary-encoded by column type). */
export function dataFileFromStats(stats: DataFileStats, schema: Schema, spec: PartitionSpec): DataFile {
  const encode = (bounds: DataFileStats['lowerBounds']): Record<number, Uint8Array> => {
    const out: Record<number, Uint8Array> = {};
    for (const [id, value] of Object.entries(bounds)) {
      const field = schema.fields.find((f) => f.id === Number(id));
      if (field === undefined)
        throw new Error(
          `expected a bound for a column of schema ${schema.schemaId}, but field id ${id} is not in it`,
        );
      out[Number(id)] = encodeSingleValue(field.type, value);
    }
    return out;
  };
  const partition: Record<string, PartitionValue> = {};
  for (const f of spec.fields) {
    if (f.transform !== 'day')
      throw new Error(`expected a day() partition spec, but field ${f.name} uses ${f.transform}`);
    partition[f.name] = stats.partitionDay;
  }
  return {
    content: DATA_FILE_CONTENT.data,
    filePath: stats.uri,
    fileFormat: 'parquet',
    partition,
    recordCount: stats.recordCount,
    fileSizeInBytes: stats.fileSizeInBytes,
    columnSizes: { ...stats.columnSizes },
    valueCounts: { ...stats.valueCounts },
    nullValueCounts: { ...stats.nullValueCounts },
    lowerBounds: encode(stats.lowerBounds),
    upperBounds: encode(stats.upperBounds),
    sortOrderId: 0,
  };
}

/**
 * Sequence-number inheritance (spec "Sequence Number Inheritance"): an entry's null snapshot id and, for
 * ADDED entries, null data/file sequence numbers take the values of the manifest that holds it (from the
 * manifest list). EXISTING and DELETED entries must carry both sequence numbers explicitly.
 */
export function resolveEntry(entry: ManifestEntry, manifest: ManifestFile): ResolvedEntry {
  const snapshotId = entry.snapshotId ?? manifest.addedSnapshotId;
  let sequenceNumber = entry.sequenceNumber;
  let fileSequenceNumber = entry.fileSequenceNumber;
  if (entry.status === ENTRY_STATUS.added) {
    sequenceNumber ??= manifest.sequenceNumber;
    fileSequenceNumber ??= manifest.sequenceNumber;
  }
  if (sequenceNumber === undefined || fileSequenceNumber === undefined) {
    throw new Error(
      `expected explicit sequence numbers on an entry with status ${entry.status} (${entry.dataFile.filePath}) in ${manifest.manifestPath}, but they were null`,
    );
  }
  return { status: entry.status, snapshotId, sequenceNumber, fileSequenceNumber, dataFile: entry.dataFile };
}

/** Entries are live (part of the snapshot's data) when ADDED or EXISTING; DELETED is informational. */
export function isLive(entry: { readonly status: number }): boolean {
  return entry.status !== ENTRY_STATUS.deleted;
}

/** What a manifest list needs to know about a manifest written in this commit, before its sequence number. */
export interface WrittenManifest {
  readonly manifestPath: string;
  readonly manifestLength: number;
  readonly partitionSpecId: number;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  /** Minimum explicit data sequence number of live EXISTING entries (ADDED ones inherit the new one). */
  readonly minExistingSequenceNumber?: number;
  readonly partitions: readonly FieldSummary[];
}

function compareValues(a: PartitionValue, b: PartitionValue): number {
  if (a === b) return 0;
  return (a as number | string | bigint) < (b as number | string | bigint) ? -1 : 1;
}

/** field_summary per partition field over all entries (null, lower and upper bounds). */
export function summarizePartitions(
  entries: readonly ManifestEntry[],
  type: readonly PartitionFieldType[],
): FieldSummary[] {
  return type.map((p) => {
    let containsNull = false;
    let lower: PartitionValue | undefined;
    let upper: PartitionValue | undefined;
    for (const e of entries) {
      const v = e.dataFile.partition[p.field.name];
      if (v === null || v === undefined) {
        containsNull = true;
        continue;
      }
      if (lower === undefined || compareValues(v, lower) < 0) lower = v;
      if (upper === undefined || compareValues(v, upper) > 0) upper = v;
    }
    return {
      containsNull,
      containsNan: false,
      ...(lower === undefined || lower === null ? {} : { lowerBound: encodeSingleValue(p.type, lower) }),
      ...(upper === undefined || upper === null ? {} : { upperBound: encodeSingleValue(p.type, upper) }),
    };
  });
}

export function describeManifest(
  manifestPath: string,
  manifestLength: number,
  spec: PartitionSpec,
  schema: Schema,
  entries: readonly ManifestEntry[],
): WrittenManifest {
  let added = 0;
  let existing = 0;
  let deleted = 0;
  let addedRows = 0;
  let existingRows = 0;
  let deletedRows = 0;
  let minExisting: number | undefined;
  for (const e of entries) {
    const rows = e.dataFile.recordCount;
    if (e.status === ENTRY_STATUS.added) {
      added++;
      addedRows += rows;
      if (e.sequenceNumber !== undefined) minExisting = Math.min(minExisting ?? Infinity, e.sequenceNumber);
    } else if (e.status === ENTRY_STATUS.existing) {
      existing++;
      existingRows += rows;
      if (e.sequenceNumber !== undefined) minExisting = Math.min(minExisting ?? Infinity, e.sequenceNumber);
    } else {
      deleted++;
      deletedRows += rows;
    }
  }
  return {
    manifestPath,
    manifestLength,
    partitionSpecId: spec.specId,
    addedFilesCount: added,
    existingFilesCount: existing,
    deletedFilesCount: deleted,
    addedRowsCount: addedRows,
    existingRowsCount: existingRows,
    deletedRowsCount: deletedRows,
    ...(minExisting === undefined ? {} : { minExistingSequenceNumber: minExisting }),
    partitions: summarizePartitions(entries, partitionType(spec, schema)),
  };
}

/** The manifest list row of a manifest written in the snapshot with this sequence number. */
export function manifestFileFor(
  w: WrittenManifest,
  snapshotId: SnapshotId,
  sequenceNumber: number,
): ManifestFile {
  const hasInheriting = w.addedFilesCount > 0;
  const min = Math.min(
    w.minExistingSequenceNumber ?? Infinity,
    hasInheriting || w.minExistingSequenceNumber === undefined ? sequenceNumber : Infinity,
  );
  return {
    manifestPath: w.manifestPath,
    manifestLength: w.manifestLength,
    partitionSpecId: w.partitionSpecId,
    content: MANIFEST_CONTENT.data,
    sequenceNumber,
    minSequenceNumber: min,
    addedSnapshotId: snapshotId,
    addedFilesCount: w.addedFilesCount,
    existingFilesCount: w.existingFilesCount,
    deletedFilesCount: w.deletedFilesCount,
    addedRowsCount: w.addedRowsCount,
    existingRowsCount: w.existingRowsCount,
    deletedRowsCount: w.deletedRowsCount,
    partitions: w.partitions,
  };
}

/** A partition tuple as a stable key (for counting changed partitions, grouping files). */
export function partitionKey(partition: DataFile['partition']): string {
  return JSON.stringify(
    Object.entries(partition).sort(([a], [b]) => (a < b ? -1 : 1)),
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}
