// The Iceberg table format v2 as domain types (camelCase). Wire names (`"snapshot-id"`, `manifest_path`)
// appear only in the codecs (metadata-codec.ts, manifest-codec.ts). Pure: no I/O.
// Source of every field: the Iceberg table spec, https://iceberg.apache.org/spec/ (format v2).

export const FORMAT_VERSION = 2;

/** Snapshot ids are Java longs: other engines (Spark, Trino) write ids up to 2^63-1, so they are bigint here. */
export type SnapshotId = bigint;

// ---- Schemas -------------------------------------------------------------------------------------

/** The primitive types this project writes (a subset of the spec's; enough for the two output tables). */
export const PRIMITIVE_TYPES = ['boolean', 'int', 'long', 'date', 'timestamptz', 'string', 'binary'] as const;
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number];

export interface NestedField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: PrimitiveType;
  readonly doc?: string;
}

export interface Schema {
  readonly schemaId: number;
  readonly fields: readonly NestedField[];
  readonly identifierFieldIds?: readonly number[];
}

// ---- Partitioning and sorting --------------------------------------------------------------------

/** Transform names as the spec serializes them; `day` is the one the output tables use. */
export const TRANSFORMS = ['identity', 'year', 'month', 'day', 'hour', 'void'] as const;
export type Transform = (typeof TRANSFORMS)[number];

export interface PartitionField {
  readonly sourceId: number;
  /** "In v2 table metadata, it is unique across all partition specs" (starts at 1000). */
  readonly fieldId: number;
  readonly name: string;
  readonly transform: Transform;
}

export interface PartitionSpec {
  readonly specId: number;
  readonly fields: readonly PartitionField[];
}

export interface SortField {
  readonly sourceId: number;
  readonly transform: Transform;
  readonly direction: 'asc' | 'desc';
  readonly nullOrder: 'nulls-first' | 'nulls-last';
}

export interface SortOrder {
  /** "Order id 0 is reserved for the unsorted order." */
  readonly orderId: number;
  readonly fields: readonly SortField[];
}

// ---- Snapshots -----------------------------------------------------------------------------------

/** Spec: append | replace | overwrite | delete. */
export const OPERATIONS = ['append', 'replace', 'overwrite', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** A string map that summarizes the snapshot changes, including `operation` (required). */
export interface SnapshotSummary {
  readonly operation: Operation;
  readonly [key: string]: string;
}

export interface Snapshot {
  readonly snapshotId: SnapshotId;
  /** Omitted for any snapshot with no parent. */
  readonly parentSnapshotId?: SnapshotId;
  /** A monotonically increasing long that tracks the order of changes to a table. */
  readonly sequenceNumber: number;
  readonly timestampMs: number;
  /** The location of a manifest list for this snapshot. */
  readonly manifestList: string;
  readonly summary: SnapshotSummary;
  readonly schemaId?: number;
}

export const REF_TYPES = ['branch', 'tag'] as const;
export type RefType = (typeof REF_TYPES)[number];

export interface SnapshotRef {
  readonly snapshotId: SnapshotId;
  readonly type: RefType;
  readonly minSnapshotsToKeep?: number;
  readonly maxSnapshotAgeMs?: number;
  readonly maxRefAgeMs?: number;
}

export const MAIN_BRANCH = 'main';

export interface SnapshotLogEntry {
  readonly snapshotId: SnapshotId;
  readonly timestampMs: number;
}

export interface MetadataLogEntry {
  readonly metadataFile: string;
  readonly timestampMs: number;
}

// ---- Table metadata ------------------------------------------------------------------------------

export interface TableMetadata {
  readonly formatVersion: 2;
  readonly tableUuid: string;
  readonly location: string;
  /** The table's highest assigned sequence number. */
  readonly lastSequenceNumber: number;
  readonly lastUpdatedMs: number;
  readonly lastColumnId: number;
  readonly schemas: readonly Schema[];
  readonly currentSchemaId: number;
  readonly partitionSpecs: readonly PartitionSpec[];
  readonly defaultSpecId: number;
  readonly lastPartitionId: number;
  readonly properties: Readonly<Record<string, string>>;
  /** Must be the same as the current id of the `main` branch in `refs`. */
  readonly currentSnapshotId?: SnapshotId;
  readonly snapshots: readonly Snapshot[];
  readonly snapshotLog: readonly SnapshotLogEntry[];
  readonly metadataLog: readonly MetadataLogEntry[];
  readonly sortOrders: readonly SortOrder[];
  readonly defaultSortOrderId: number;
  readonly refs: Readonly<Record<string, SnapshotRef>>;
}

// ---- Manifest lists ------------------------------------------------------------------------------

/** manifest_file.content (517): 0 data, 1 deletes. Manifest metadata `content`: "data" | "deletes". */
export const MANIFEST_CONTENT = { data: 0, deletes: 1 } as const;
export type ManifestContent = (typeof MANIFEST_CONTENT)[keyof typeof MANIFEST_CONTENT];

/** field_summary (508): a summary of one partition field's values over a manifest. */
export interface FieldSummary {
  readonly containsNull: boolean;
  readonly containsNan?: boolean;
  /** Single-value binary serialization of the partition field's type (Appendix D). */
  readonly lowerBound?: Uint8Array;
  readonly upperBound?: Uint8Array;
}

/** manifest_file: one entry of a manifest list. */
export interface ManifestFile {
  readonly manifestPath: string;
  readonly manifestLength: number;
  readonly partitionSpecId: number;
  readonly content: ManifestContent;
  /** The sequence number when the manifest was added to the table. */
  readonly sequenceNumber: number;
  /** The minimum data sequence number of all live data or delete files in the manifest. */
  readonly minSequenceNumber: number;
  readonly addedSnapshotId: SnapshotId;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  readonly partitions?: readonly FieldSummary[];
}

// ---- Manifests -----------------------------------------------------------------------------------

/** manifest_entry.status (0), with the spec's integer codes. */
export const ENTRY_STATUS = { existing: 0, added: 1, deleted: 2 } as const;
export type EntryStatus = (typeof ENTRY_STATUS)[keyof typeof ENTRY_STATUS];

/** data_file.content (134). */
export const DATA_FILE_CONTENT = { data: 0, positionDeletes: 1, equalityDeletes: 2 } as const;
export type DataFileContent = (typeof DATA_FILE_CONTENT)[keyof typeof DATA_FILE_CONTENT];

export const FILE_FORMATS = ['parquet', 'avro', 'orc', 'puffin'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** A partition value (the day transform yields days from 1970-01-01 as an int). */
export type PartitionValue = number | string | bigint | boolean | null;

export interface DataFile {
  readonly content: DataFileContent;
  /** Full URI for the file with FS scheme. */
  readonly filePath: string;
  readonly fileFormat: FileFormat;
  /** Partition tuple keyed by partition field name (the Avro record field names). */
  readonly partition: Readonly<Record<string, PartitionValue>>;
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  /** Maps keyed by column field id. */
  readonly columnSizes?: Readonly<Record<number, number>>;
  readonly valueCounts?: Readonly<Record<number, number>>;
  readonly nullValueCounts?: Readonly<Record<number, number>>;
  readonly nanValueCounts?: Readonly<Record<number, number>>;
  /** Single-value binary serialization (Appendix D). */
  readonly lowerBounds?: Readonly<Record<number, Uint8Array>>;
  readonly upperBounds?: Readonly<Record<number, Uint8Array>>;
  readonly splitOffsets?: readonly number[];
  readonly sortOrderId?: number;
}

export interface ManifestEntry {
  readonly status: EntryStatus;
  /** Inherited from the manifest's added_snapshot_id when absent. */
  readonly snapshotId?: SnapshotId;
  /** Data sequence number; inherited when absent and status is ADDED. */
  readonly sequenceNumber?: number;
  /** File sequence number; inherited when absent and status is ADDED. */
  readonly fileSequenceNumber?: number;
  readonly dataFile: DataFile;
}

/** A manifest entry after sequence-number inheritance: every tracking field is known. */
export interface ResolvedEntry {
  readonly status: EntryStatus;
  readonly snapshotId: SnapshotId;
  readonly sequenceNumber: number;
  readonly fileSequenceNumber: number;
  readonly dataFile: DataFile;
}
