// The Avro schemas of manifest lists (manifest_file) and manifests (manifest_entry / data_file), v2, as
// const tables with the spec's field ids and doc text ("Manifests", "Manifest Lists", Appendix A).
// Int-keyed maps are arrays of key/value records with `logicalType: "map"`; optional fields are unions
// with null and default null. The raw JSON built here is what goes into the file header (`avro.schema`).
import type { PartitionFieldType } from './schema.ts';
import { parsePrimitive } from './type-info.ts';
import type { PrimitiveType } from './types.ts';

type AvroPrimitive = 'int' | 'long' | 'string' | 'boolean' | 'bytes';
type FieldType =
  | AvroPrimitive
  | { readonly map: readonly [keyId: number, valueId: number, key: 'int', value: 'long' | 'bytes'] }
  | { readonly list: readonly [elementId: number, element: 'int' | 'long'] }
  | { readonly summaries: true }
  | { readonly partition: true }
  | { readonly dataFile: true };

export interface FieldDef {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: FieldType;
  readonly doc: string;
}

/** field_summary (list element 508 of manifest_file.partitions). */
export const FIELD_SUMMARY_FIELDS: readonly FieldDef[] = [
  {
    id: 509,
    name: 'contains_null',
    required: true,
    type: 'boolean',
    doc: 'Whether the manifest contains at least one partition with a null value for the field',
  },
  {
    id: 518,
    name: 'contains_nan',
    required: false,
    type: 'boolean',
    doc: 'Whether the manifest contains at least one partition with a NaN value for the field',
  },
  {
    id: 510,
    name: 'lower_bound',
    required: false,
    type: 'bytes',
    doc: 'Lower bound for the non-null, non-NaN values in the partition field, or null if all values are null or NaN',
  },
  {
    id: 511,
    name: 'upper_bound',
    required: false,
    type: 'bytes',
    doc: 'Upper bound for the non-null, non-NaN values in the partition field, or null if all values are null or NaN',
  },
];

/** manifest_file (v2): one row of a manifest list. */
export const MANIFEST_FILE_FIELDS: readonly FieldDef[] = [
  { id: 500, name: 'manifest_path', required: true, type: 'string', doc: 'Location of the manifest file' },
  {
    id: 501,
    name: 'manifest_length',
    required: true,
    type: 'long',
    doc: 'Length of the manifest file in bytes',
  },
  {
    id: 502,
    name: 'partition_spec_id',
    required: true,
    type: 'int',
    doc: 'ID of a partition spec used to write the manifest; must be listed in table metadata partition-specs',
  },
  {
    id: 517,
    name: 'content',
    required: true,
    type: 'int',
    doc: 'The type of files tracked by the manifest, either data or delete files; 0 for all v1 manifests',
  },
  {
    id: 515,
    name: 'sequence_number',
    required: true,
    type: 'long',
    doc: 'The sequence number when the manifest was added to the table; use 0 when reading v1 manifest lists',
  },
  {
    id: 516,
    name: 'min_sequence_number',
    required: true,
    type: 'long',
    doc: 'The minimum data sequence number of all live data or delete files in the manifest; use 0 when reading v1 manifest lists',
  },
  {
    id: 503,
    name: 'added_snapshot_id',
    required: true,
    type: 'long',
    doc: 'ID of the snapshot where the manifest file was added',
  },
  {
    id: 504,
    name: 'added_files_count',
    required: true,
    type: 'int',
    doc: 'Number of entries in the manifest that have status ADDED (1)',
  },
  {
    id: 505,
    name: 'existing_files_count',
    required: true,
    type: 'int',
    doc: 'Number of entries in the manifest that have status EXISTING (0)',
  },
  {
    id: 506,
    name: 'deleted_files_count',
    required: true,
    type: 'int',
    doc: 'Number of entries in the manifest that have status DELETED (2)',
  },
  {
    id: 512,
    name: 'added_rows_count',
    required: true,
    type: 'long',
    doc: 'Number of rows in all of files in the manifest that have status ADDED',
  },
  {
    id: 513,
    name: 'existing_rows_count',
    required: true,
    type: 'long',
    doc: 'Number of rows in all of files in the manifest that have status EXISTING',
  },
  {
    id: 514,
    name: 'deleted_rows_count',
    required: true,
    type: 'long',
    doc: 'Number of rows in all of files in the manifest that have status DELETED',
  },
  {
    id: 507,
    name: 'partitions',
    required: false,
    type: { summaries: true },
    doc: 'A list of field summaries for each partition field in the spec',
  },
  {
    id: 519,
    name: 'key_metadata',
    required: false,
    type: 'bytes',
    doc: 'Implementation-specific key metadata for encryption',
  },
];

/** data_file (v2), field 2 of manifest_entry. */
export const DATA_FILE_FIELDS: readonly FieldDef[] = [
  {
    id: 134,
    name: 'content',
    required: true,
    type: 'int',
    doc: 'Type of content stored by the data file: data (0), position deletes (1) or equality deletes (2)',
  },
  { id: 100, name: 'file_path', required: true, type: 'string', doc: 'Full URI for the file with FS scheme' },
  {
    id: 101,
    name: 'file_format',
    required: true,
    type: 'string',
    doc: 'String file format name, avro, orc, parquet, or puffin',
  },
  {
    id: 102,
    name: 'partition',
    required: true,
    type: { partition: true },
    doc: 'Partition data tuple, schema based on the partition spec output using partition field ids for the struct field ids',
  },
  { id: 103, name: 'record_count', required: true, type: 'long', doc: 'Number of records in this file' },
  { id: 104, name: 'file_size_in_bytes', required: true, type: 'long', doc: 'Total file size in bytes' },
  {
    id: 108,
    name: 'column_sizes',
    required: false,
    type: { map: [117, 118, 'int', 'long'] },
    doc: 'Map from column id to the total size on disk of all regions that store the column',
  },
  {
    id: 109,
    name: 'value_counts',
    required: false,
    type: { map: [119, 120, 'int', 'long'] },
    doc: 'Map from column id to number of values in the column (including null and NaN values)',
  },
  {
    id: 110,
    name: 'null_value_counts',
    required: false,
    type: { map: [121, 122, 'int', 'long'] },
    doc: 'Map from column id to number of null values in the column',
  },
  {
    id: 137,
    name: 'nan_value_counts',
    required: false,
    type: { map: [138, 139, 'int', 'long'] },
    doc: 'Map from column id to number of NaN values in the column',
  },
  {
    id: 125,
    name: 'lower_bounds',
    required: false,
    type: { map: [126, 127, 'int', 'bytes'] },
    doc: 'Map from column id to lower bound in the column serialized as binary',
  },
  {
    id: 128,
    name: 'upper_bounds',
    required: false,
    type: { map: [129, 130, 'int', 'bytes'] },
    doc: 'Map from column id to upper bound in the column serialized as binary',
  },
  {
    id: 131,
    name: 'key_metadata',
    required: false,
    type: 'bytes',
    doc: 'Implementation-specific key metadata for encryption',
  },
  {
    id: 132,
    name: 'split_offsets',
    required: false,
    type: { list: [133, 'long'] },
    doc: 'Split offsets for the data file. For example, all row group offsets in a Parquet file',
  },
  {
    id: 135,
    name: 'equality_ids',
    required: false,
    type: { list: [136, 'int'] },
    doc: 'Field ids used to determine row equality in equality delete files',
  },
  {
    id: 140,
    name: 'sort_order_id',
    required: false,
    type: 'int',
    doc: 'ID representing sort order for this file',
  },
  {
    id: 143,
    name: 'referenced_data_file',
    required: false,
    type: 'string',
    doc: 'Fully qualified location (URI with FS scheme) of a data file that all deletes reference',
  },
];

/** manifest_entry (v2). */
export const MANIFEST_ENTRY_FIELDS: readonly FieldDef[] = [
  {
    id: 0,
    name: 'status',
    required: true,
    type: 'int',
    doc: 'Used to track additions and deletions: 0 EXISTING, 1 ADDED, 2 DELETED',
  },
  {
    id: 1,
    name: 'snapshot_id',
    required: false,
    type: 'long',
    doc: 'Snapshot id where the file was added, or deleted if status is 2. Inherited when null.',
  },
  {
    id: 3,
    name: 'sequence_number',
    required: false,
    type: 'long',
    doc: 'Data sequence number of the file. Inherited when null and status is 1 (added).',
  },
  {
    id: 4,
    name: 'file_sequence_number',
    required: false,
    type: 'long',
    doc: 'File sequence number indicating when the file was added. Inherited when null and status is 1 (added).',
  },
  {
    id: 2,
    name: 'data_file',
    required: true,
    type: { dataFile: true },
    doc: 'File path, partition tuple, metrics',
  },
];

// ---- Raw Avro JSON -------------------------------------------------------------------------------

export type AvroSchema = string | { readonly [key: string]: unknown } | readonly AvroSchema[];

/**
 * A name Avro accepts ([A-Za-z_][A-Za-z0-9_]*), made the way Java's AvroSchemaUtil.makeCompatibleName
 * does: a leading digit becomes `_<digit>`, any other character `_x<HEX>`. Partition field names are
 * Avro field names in a manifest, and DataFile.partition is keyed by them.
 */
export function avroFieldName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    const ok = /[A-Za-z_]/.test(c) || (i > 0 && /[0-9]/.test(c));
    out += ok ? c : /[0-9]/.test(c) ? `_${c}` : `_x${c.codePointAt(0)!.toString(16).toUpperCase()}`;
  }
  return out;
}

function avroPartitionField(p: PartitionFieldType): Record<string, unknown> {
  return {
    name: avroFieldName(p.field.name),
    type: ['null', avroPrimitiveFor(p.type, `f${p.field.fieldId}`)],
    default: null,
    'field-id': p.field.fieldId,
  };
}

/** Bytes of the fixed type holding a decimal of this precision (Java TypeUtil.decimalRequiredBytes). */
export function decimalRequiredBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  for (let n = 1; ; n++) if (max <= 2n ** BigInt(8 * n - 1) - 1n) return n;
}

/**
 * Avro type of an Iceberg primitive (Appendix A). Fixed types are named types in Avro: `suffix` keeps
 * their names unique within one record (e.g. two decimal partition fields of the same precision).
 */
export function avroPrimitiveFor(type: PrimitiveType, suffix = ''): AvroSchema {
  const p = parsePrimitive(type);
  if (p === undefined) throw new Error(`expected an Iceberg primitive type, but was: ${type}`);
  const named = (base: string) => (suffix === '' ? base : `${base}_${suffix}`);
  switch (p.kind) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return p.kind;
    case 'binary':
      return 'bytes';
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
    case 'uuid':
      return { type: 'fixed', name: named('uuid_fixed'), size: 16, logicalType: 'uuid' };
    case 'fixed':
      return { type: 'fixed', name: named(`fixed_${p.length}`), size: p.length };
    case 'decimal':
      return {
        type: 'fixed',
        name: named(`decimal_${p.precision}_${p.scale}`),
        size: decimalRequiredBytes(p.precision),
        logicalType: 'decimal',
        precision: p.precision,
        scale: p.scale,
      };
  }
}

/** The Avro fields of a manifest's partition record (r102) for a partition tuple type. */
export function partitionAvroFields(type: readonly PartitionFieldType[]): Record<string, unknown>[] {
  return type.map(avroPartitionField);
}

type PartitionFields = readonly unknown[];

function avroType(t: FieldType, partition: PartitionFields): AvroSchema {
  if (typeof t === 'string') return t;
  if ('map' in t) {
    const [keyId, valueId, key, value] = t.map;
    return {
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: key, 'field-id': keyId },
          { name: 'value', type: value, 'field-id': valueId },
        ],
      },
    };
  }
  if ('list' in t) return { type: 'array', items: t.list[1], 'element-id': t.list[0] };
  if ('summaries' in t) {
    return { type: 'array', items: avroRecord('r508', FIELD_SUMMARY_FIELDS, partition), 'element-id': 508 };
  }
  if ('partition' in t) return { type: 'record', name: 'r102', fields: partition };
  return avroRecord('r2', DATA_FILE_FIELDS, partition);
}

function avroRecord(
  name: string,
  fields: readonly FieldDef[],
  partition: PartitionFields,
): Record<string, unknown> {
  return {
    type: 'record',
    name,
    fields: fields.map((f) => {
      const type = avroType(f.type, partition);
      return f.required
        ? { name: f.name, type, doc: f.doc, 'field-id': f.id }
        : { name: f.name, type: ['null', type], doc: f.doc, default: null, 'field-id': f.id };
    }),
  };
}

/** The Avro schema of a manifest list file (v2). */
export function manifestListAvroSchema(): Record<string, unknown> {
  return avroRecord('manifest_file', MANIFEST_FILE_FIELDS, []);
}

/**
 * The Avro schema of a manifest file (v2) with this partition record: built from the spec's tuple type
 * (partitionAvroFields), or taken from the manifest being rewritten, so values of any transform — even
 * one this model cannot compute — are written back as they were read.
 */
export function manifestEntryAvroSchema(partitionFields: readonly unknown[]): Record<string, unknown> {
  return avroRecord('manifest_entry', MANIFEST_ENTRY_FIELDS, partitionFields);
}
