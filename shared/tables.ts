// The two output tables: columns, Iceberg field ids (stable forever — never renumber), types and
// nullability. DESIGN §2: the original job's eight columns first, pipeline columns after.

/** The column types of the shipped default tables (a spec's tables may have any Iceberg primitive). */
export const COLUMN_TYPES = ['string', 'int', 'timestamptz'] as const;
/** An Iceberg primitive type name: string, int, long, float, double, boolean, date, timestamp,
 *  timestamptz or decimal(P, S) (the types a join spec's fields may have). */
export type ColumnType = string;

export interface Column {
  readonly id: number;
  readonly name: string;
  readonly type: ColumnType;
  /** REQUIRED in Iceberg and Parquet: the pipeline never writes null here. */
  readonly required: boolean;
  readonly doc?: string;
}

/** A partition field of a new table: a transform of one of its columns. */
export interface PartitionFieldDef {
  /** The column it is computed from. */
  readonly source: string;
  /** Iceberg partition field id (spec: partition field ids start at 1000). */
  readonly fieldId: number;
  readonly name: string;
  /** identity, year, month, day, hour, bucket[N], truncate[W] or void (Iceberg's transform names). */
  readonly transform: string;
}

export interface TableDef {
  readonly kind: TableKind;
  readonly columns: readonly Column[];
  /** The partition spec a new table gets, in order (the default tables: day() of one timestamptz). */
  readonly partition: readonly PartitionFieldDef[];
}

/** The day() partition field of a table partitioned by exactly that, or undefined. */
export function dayPartitionOf(def: TableDef): PartitionFieldDef | undefined {
  const p = def.partition[0];
  return def.partition.length === 1 && p?.transform === 'day' ? p : undefined;
}

export const TABLE_KINDS = ['joined', 'unmatched'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];

export const JOINED_TABLE: TableDef = {
  kind: 'joined',
  columns: [
    { id: 1, name: 'order_id', type: 'string', required: true },
    { id: 2, name: 'order_date', type: 'string', required: true },
    { id: 3, name: 'created_at', type: 'string', required: true },
    { id: 4, name: 'customer_id', type: 'string', required: true },
    { id: 5, name: 'order_amount', type: 'int', required: true },
    { id: 6, name: 'payment_id', type: 'string', required: true },
    { id: 7, name: 'payment_date', type: 'string', required: true },
    { id: 8, name: 'payment_amount', type: 'int', required: true },
    { id: 9, name: 'joined_at', type: 'timestamptz', required: true, doc: 'When the pair was joined' },
  ],
  partition: [{ source: 'joined_at', fieldId: 1000, name: 'joined_at_day', transform: 'day' }],
};

export const UNMATCHED_REASONS = [
  'order_timeout',
  'payment_orphan',
  'payment_extra',
  'payment_late',
  'order_late',
] as const;
export type UnmatchedReason = (typeof UNMATCHED_REASONS)[number];

export const UNMATCHED_TABLE: TableDef = {
  kind: 'unmatched',
  columns: [
    { id: 1, name: 'order_id', type: 'string', required: true },
    { id: 2, name: 'order_date', type: 'string', required: false },
    { id: 3, name: 'created_at', type: 'string', required: false },
    { id: 4, name: 'customer_id', type: 'string', required: false },
    { id: 5, name: 'order_amount', type: 'int', required: false },
    { id: 6, name: 'payment_id', type: 'string', required: false },
    { id: 7, name: 'payment_date', type: 'string', required: false },
    { id: 8, name: 'payment_amount', type: 'int', required: false },
    { id: 9, name: 'reason', type: 'string', required: true, doc: UNMATCHED_REASONS.join(', ') },
    { id: 10, name: 'emitted_at', type: 'timestamptz', required: true, doc: 'When the row was emitted' },
  ],
  partition: [{ source: 'emitted_at', fieldId: 1000, name: 'emitted_at_day', transform: 'day' }],
};

export const TABLES: Readonly<Record<TableKind, TableDef>> = {
  joined: JOINED_TABLE,
  unmatched: UNMATCHED_TABLE,
};

/** A row as the pipeline holds it, by column type (shared/spec/values.ts): timestamps as epoch
 *  microseconds, longs and decimals' unscaled values as bigint; ints, floats, doubles and dates (days) as
 *  numbers; booleans. */
export type RowValue = string | number | bigint | boolean | null;
export type Row = Readonly<Record<string, RowValue>>;

/** A bound or partition value as the writer computed it (bytes for binary, fixed, uuid and decimal
 *  partition values; bigint for longs, timestamps and decimal bounds' unscaled values). */
export type StatValue = string | number | bigint | boolean | Uint8Array;

/** Statistics of one data file, as Iceberg manifests need them (keyed by field id). */
export interface DataFileStats {
  /** Full URI of the Parquet file. */
  readonly uri: string;
  readonly fileSizeInBytes: number;
  readonly recordCount: number;
  readonly columnSizes: Readonly<Record<number, number>>;
  readonly valueCounts: Readonly<Record<number, number>>;
  readonly nullValueCounts: Readonly<Record<number, number>>;
  readonly nanValueCounts?: Readonly<Record<number, number>>;
  /** Bounds as values (string, number, or bigint micros for timestamptz); binary-encoded by the manifest writer. */
  readonly lowerBounds: Readonly<Record<number, StatValue>>;
  readonly upperBounds: Readonly<Record<number, StatValue>>;
  /**
   * Days since 1970-01-01 of the partition source, for a file of a day() spec; files written before
   * the writer followed the table's spec carry only this.
   */
  readonly partitionDay?: number;
  /** The partition tuple (by partition field name) under spec `specId`. */
  readonly partition?: Readonly<Record<string, StatValue | null>>;
  /** The partition spec the file was written for. */
  readonly specId?: number;
  /** The schema the file was written with (its Parquet columns are that schema's, by field id). */
  readonly schemaId?: number;
}
