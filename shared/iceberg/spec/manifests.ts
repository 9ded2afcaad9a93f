// Manifest-level rules: data files from the Parquet writer's stats, sequence-number inheritance, the
// counts and partition summaries a manifest list records for each manifest. Pure.
import type { DataFileStats } from '../../tables.ts';
import { avroFieldName } from './avro-schemas.ts';
import { findField, type PartitionFieldType, partitionType } from './schema.ts';
import { bytesToDecimal, encodeSingleValue } from './single-value.ts';
import { parsePrimitive } from './type-info.ts';
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

/**
 * A DataFile for the manifest from the Parquet writer's statistics (bounds binary-encoded by column
 * type). The partition tuple is the one the writer computed under `spec` (stats.partition); a file
 * whose stats carry only a partition day (written before the writer followed the table's spec) fits a
 * spec of day() fields only.
 */
export function dataFileFromStats(stats: DataFileStats, schema: Schema, spec: PartitionSpec): DataFile {
  const encode = (bounds: DataFileStats['lowerBounds']): Record<number, Uint8Array> => {
    const out: Record<number, Uint8Array> = {};
    for (const [id, value] of Object.entries(bounds)) {
      const field = findField(schema, Number(id));
      if (field === undefined || typeof field.type !== 'string')
        throw new Error(
          `expected a bound for a primitive column of schema ${schema.schemaId}, but field id ${id} is ${field === undefined ? 'not in it' : 'nested'}`,
        );
      out[Number(id)] = encodeSingleValue(field.type, value);
    }
    return out;
  };
  if (stats.specId !== undefined && stats.specId !== spec.specId) {
    throw new Error(
      `expected stats of a file written for partition spec ${spec.specId}, but ${stats.uri} was written for spec ${stats.specId}`,
    );
  }
  const partition: Record<string, PartitionValue> = {};
  for (const f of spec.fields) {
    const name = avroFieldName(f.name);
    if (stats.partition !== undefined) {
      const v = stats.partition[f.name] ?? stats.partition[name];
      if (v === undefined)
        throw new Error(`expected partition field ${f.name} in the stats of ${stats.uri}, but it is missing`);
      partition[name] = v;
    } else {
      if (f.transform !== 'day' || stats.partitionDay === undefined)
        throw new Error(
          `expected a day() partition spec for ${stats.uri} (its stats carry only a partition day), but field ${f.name} uses ${f.transform}`,
        );
      partition[name] = stats.partitionDay;
    }
  }
  const nan = stats.nanValueCounts;
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
    ...(nan === undefined || Object.keys(nan).length === 0 ? {} : { nanValueCounts: { ...nan } }),
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
  readonly partitions?: readonly FieldSummary[];
}

function compareValues(a: PartitionValue, b: PartitionValue): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b);
  if (a === b) return 0;
  return (a as number | string | bigint) < (b as number | string | bigint) ? -1 : 1;
}

/**
 * field_summary per partition field over all entries (null, NaN, lower and upper bounds). Bounds are
 * given for the types the writer knows; a decimal partition value (fixed bytes in the manifest) is
 * compared and encoded as its unscaled value.
 */
export function summarizePartitions(
  entries: readonly ManifestEntry[],
  type: readonly PartitionFieldType[],
): FieldSummary[] {
  return type.map((p) => {
    const name = avroFieldName(p.field.name);
    const kind = parsePrimitive(p.type)?.kind;
    const norm = (v: PartitionValue): PartitionValue =>
      kind === 'decimal' && v instanceof Uint8Array ? bytesToDecimal(v) : v;
    let containsNull = false;
    let containsNan = false;
    let lower: PartitionValue | undefined;
    let upper: PartitionValue | undefined;
    for (const e of entries) {
      const raw = e.dataFile.partition[name];
      if (raw === null || raw === undefined) {
        containsNull = true;
        continue;
      }
      if (typeof raw === 'number' && Number.isNaN(raw)) {
        containsNan = true;
        continue;
      }
      const v = norm(raw);
      if (lower === undefined || compareValues(v, lower) < 0) lower = v;
      if (upper === undefined || compareValues(v, upper) > 0) upper = v;
    }
    return {
      containsNull,
      containsNan,
      ...(lower === undefined || lower === null ? {} : { lowerBound: encodeSingleValue(p.type, lower) }),
      ...(upper === undefined || upper === null ? {} : { upperBound: encodeSingleValue(p.type, upper) }),
    };
  });
}

/** Partition summaries, when the spec's transforms can be typed (an unknown one cannot: none then). */
function summariesIfTyped(
  entries: readonly ManifestEntry[],
  spec: PartitionSpec,
  schema: Schema,
): { partitions?: FieldSummary[] } {
  let type: PartitionFieldType[];
  try {
    type = partitionType(spec, schema);
  } catch {
    return {};
  }
  return { partitions: summarizePartitions(entries, type) };
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
    ...summariesIfTyped(entries, spec, schema),
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
    ...(w.partitions === undefined ? {} : { partitions: w.partitions }),
  };
}

/** A partition tuple as a stable key (for counting changed partitions, grouping files). */
export function partitionKey(partition: DataFile['partition']): string {
  return JSON.stringify(
    Object.entries(partition)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : v]),
    // A long decodes to a number when it is safe and to a bigint otherwise: one key for one value.
    (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : `${v}n`) : v),
  );
}
