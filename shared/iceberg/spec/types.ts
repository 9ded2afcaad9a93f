// The Iceberg table format v2 as domain types (camelCase). Wire names (`"snapshot-id"`, `manifest_path`)
// appear only in the codecs (metadata-codec.ts, manifest-codec.ts). Pure: no I/O.
// Source of every field: the Iceberg table spec, https://iceberg.apache.org/spec/ (format v2).

export const FORMAT_VERSION = 2;

/** Snapshot ids are Java longs: other engines (Spark, Trino) write ids up to 2^63-1, so they are bigint here. */
export type SnapshotId = bigint;

/**
 * JSON keys of an object that the model has no field for, kept exactly as they came and written back
 * after the known keys (Java's TableMetadataParser round-trips what it does not use; so do we).
 */
export type Extra = Readonly<Record<string, unknown>>;

// ---- Schemas -------------------------------------------------------------------------------------

/**
 * Primitive types of format v2 by their spec names; `decimal(P, S)` and `fixed[L]` carry parameters.
 * In the model a primitive type is the name as it came (`"decimal(10, 2)"`, `"decimal(10,2)"`): see
 * types-parse.ts (parsePrimitive) for its structure.
 */
export const PRIMITIVE_NAMES = [
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'string',
  'uuid',
  'binary',
] as const;
export type PrimitiveName = (typeof PRIMITIVE_NAMES)[number];
/** A primitive type's spec name: one of PRIMITIVE_NAMES, `decimal(P, S)` or `fixed[L]`. */
export type PrimitiveType = string;

export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly NestedField[];
  readonly extra?: Extra;
}

export interface ListType {
  readonly type: 'list';
  readonly elementId: number;
  readonly element: IcebergType;
  readonly elementRequired: boolean;
  readonly extra?: Extra;
}

export interface MapType {
  readonly type: 'map';
  readonly keyId: number;
  readonly key: IcebergType;
  readonly valueId: number;
  readonly value: IcebergType;
  readonly valueRequired: boolean;
  readonly extra?: Extra;
}

export type IcebergType = PrimitiveType | StructType | ListType | MapType;

export interface NestedField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
  /** e.g. v3 `initial-default` / `write-default` if a writer put them in a v2 table. */
  readonly extra?: Extra;
}

export interface Schema {
  readonly schemaId: number;
  readonly fields: readonly NestedField[];
  readonly identifierFieldIds?: readonly number[];
  readonly extra?: Extra;
}

// ---- Partitioning and sorting --------------------------------------------------------------------

/**
 * A transform as the spec serializes it: identity, bucket[N], truncate[W], year, month, day, hour,
 * void — or a name this model does not know, kept as it came (Java keeps it as UnknownTransform):
 * a table using one loads and round-trips, but nothing is written with it.
 */
export type Transform = string;

export interface PartitionField {
  readonly sourceId: number;
  /** "In v2 table metadata, it is unique across all partition specs" (starts at 1000). */
  readonly fieldId: number;
  readonly name: string;
  readonly transform: Transform;
  readonly extra?: Extra;
}

export interface PartitionSpec {
  readonly specId: number;
  readonly fields: readonly PartitionField[];
  readonly extra?: Extra;
}

export interface SortField {
  readonly sourceId: number;
  readonly transform: Transform;
  readonly direction: 'asc' | 'desc';
  readonly nullOrder: 'nulls-first' | 'nulls-last';
  readonly extra?: Extra;
}

export interface SortOrder {
  /** "Order id 0 is reserved for the unsorted order." */
  readonly orderId: number;
  readonly fields: readonly SortField[];
  readonly extra?: Extra;
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
  readonly extra?: Extra;
}

export const REF_TYPES = ['branch', 'tag'] as const;
export type RefType = (typeof REF_TYPES)[number];

export interface SnapshotRef {
  readonly snapshotId: SnapshotId;
  readonly type: RefType;
  readonly minSnapshotsToKeep?: number;
  readonly maxSnapshotAgeMs?: number;
  readonly maxRefAgeMs?: number;
  readonly extra?: Extra;
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

/**
 * An entry of `statistics` or `partition-statistics` (spec "Table Statistics"), written by engines that
 * compute table statistics (Spark, Trino). Kept exactly as it came; only its snapshot id is read (the
 * entry goes when its snapshot is expired, as in Java).
 */
export interface StatisticsFile {
  readonly snapshotId: SnapshotId;
  /** The entry's JSON object, verbatim. */
  readonly json: Readonly<Record<string, unknown>>;
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
  readonly statistics: readonly StatisticsFile[];
  readonly partitionStatistics: readonly StatisticsFile[];
  /** Top-level keys the model does not know (a legacy `schema`/`partition-spec`, engine extensions). */
  readonly extra?: Extra;
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
  /** Implementation-specific key metadata for encryption (519), kept as it came. */
  readonly keyMetadata?: Uint8Array;
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

/**
 * A partition value as its Avro encoding holds it: int/date/year/month/hour/day/bucket → number,
 * long/time/timestamp(tz) → number or bigint, float/double → number, string → string, boolean →
 * boolean, decimal (fixed), uuid (fixed 16), fixed, binary → bytes.
 */
export type PartitionValue = number | string | bigint | boolean | Uint8Array | null;

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
  /** Implementation-specific key metadata for encryption (131). */
  readonly keyMetadata?: Uint8Array;
  /** Field ids that define row equality in an equality delete file (135). */
  readonly equalityIds?: readonly number[];
  /** A position delete file's only data file, when it has one (143). */
  readonly referencedDataFile?: string;
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
