// Manifest lists and manifests: domain types <-> Avro records (snake_case wire names), and the Avro
// header metadata readers require. Pure: produces and consumes bytes through avro-file.ts.
import { decodeAvroFile, encodeAvroFile } from './avro-file.ts';
import { manifestEntryAvroSchema, manifestListAvroSchema, partitionAvroFields } from './avro-schemas.ts';
import { partitionFieldsToJson, schemaToJson, stringifyJsonWithLongs } from './metadata-codec.ts';
import { partitionType } from './schema.ts';
import type {
  DataFile,
  DataFileContent,
  EntryStatus,
  FieldSummary,
  FileFormat,
  ManifestContent,
  ManifestEntry,
  ManifestFile,
  PartitionSpec,
  PartitionValue,
  Schema,
  SnapshotId,
} from './types.ts';
import { FORMAT_VERSION } from './types.ts';

type Rec = Record<string, unknown>;

function num(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  throw new Error(`expected ${what} to be an integer below 2^53, but was: ${String(v)}`);
}
function optNum(v: unknown, what: string): number | undefined {
  return v === null || v === undefined ? undefined : num(v, what);
}
function snapshotId(v: unknown, what: string): SnapshotId {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  throw new Error(`expected ${what} to be a long, but was: ${String(v)}`);
}
function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array();
}

function mapToAvro<V>(
  m: Readonly<Record<number, V>> | undefined,
  f: (v: V) => unknown = (v) => v,
): Rec[] | null {
  if (m === undefined) return null;
  return Object.entries(m)
    .map(([k, v]) => ({ key: Number(k), value: f(v as V) }))
    .sort((a, b) => a.key - b.key);
}
function mapFromAvro<V>(v: unknown, f: (x: unknown) => V): Record<number, V> | undefined {
  if (v === null || v === undefined) return undefined;
  const out: Record<number, V> = {};
  for (const kv of v as { key: number; value: unknown }[]) out[kv.key] = f(kv.value);
  return out;
}

// ---- manifest_file -------------------------------------------------------------------------------

export function manifestFileToAvro(m: ManifestFile): Rec {
  return {
    manifest_path: m.manifestPath,
    manifest_length: m.manifestLength,
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: m.addedRowsCount,
    existing_rows_count: m.existingRowsCount,
    deleted_rows_count: m.deletedRowsCount,
    partitions:
      m.partitions === undefined
        ? null
        : m.partitions.map((s) => ({
            contains_null: s.containsNull,
            contains_nan: s.containsNan ?? null,
            lower_bound: s.lowerBound === undefined ? null : Buffer.from(s.lowerBound),
            upper_bound: s.upperBound === undefined ? null : Buffer.from(s.upperBound),
          })),
    key_metadata: m.keyMetadata === undefined ? null : Buffer.from(m.keyMetadata),
  };
}

export function manifestFileFromAvro(r: Rec): ManifestFile {
  const partitions = r['partitions'] as Rec[] | null | undefined;
  return {
    manifestPath: String(r['manifest_path']),
    manifestLength: num(r['manifest_length'], 'manifest_length'),
    partitionSpecId: num(r['partition_spec_id'], 'partition_spec_id'),
    content: (optNum(r['content'], 'content') ?? 0) as ManifestContent,
    sequenceNumber: optNum(r['sequence_number'], 'sequence_number') ?? 0,
    minSequenceNumber: optNum(r['min_sequence_number'], 'min_sequence_number') ?? 0,
    addedSnapshotId: snapshotId(r['added_snapshot_id'], 'added_snapshot_id'),
    addedFilesCount: optNum(r['added_files_count'] ?? r['added_data_files_count'], 'added_files_count') ?? 0,
    existingFilesCount:
      optNum(r['existing_files_count'] ?? r['existing_data_files_count'], 'existing_files_count') ?? 0,
    deletedFilesCount:
      optNum(r['deleted_files_count'] ?? r['deleted_data_files_count'], 'deleted_files_count') ?? 0,
    addedRowsCount: optNum(r['added_rows_count'], 'added_rows_count') ?? 0,
    existingRowsCount: optNum(r['existing_rows_count'], 'existing_rows_count') ?? 0,
    deletedRowsCount: optNum(r['deleted_rows_count'], 'deleted_rows_count') ?? 0,
    ...(partitions === null || partitions === undefined
      ? {}
      : {
          partitions: partitions.map((s): FieldSummary => {
            const nan = s['contains_nan'];
            return {
              containsNull: Boolean(s['contains_null']),
              ...(typeof nan === 'boolean' ? { containsNan: nan } : {}),
              ...(s['lower_bound'] == null ? {} : { lowerBound: bytes(s['lower_bound']) }),
              ...(s['upper_bound'] == null ? {} : { upperBound: bytes(s['upper_bound']) }),
            };
          }),
        }),
    ...(r['key_metadata'] instanceof Uint8Array ? { keyMetadata: new Uint8Array(r['key_metadata']) } : {}),
  };
}

export interface ManifestListHeader {
  readonly snapshotId: SnapshotId;
  readonly parentSnapshotId?: SnapshotId;
  readonly sequenceNumber: number;
}

/** Manifest list file bytes: header keys snapshot-id, parent-snapshot-id, sequence-number, format-version. */
export function encodeManifestList(header: ManifestListHeader, manifests: readonly ManifestFile[]): Buffer {
  return encodeAvroFile(manifestListAvroSchema(), manifests.map(manifestFileToAvro), {
    metadata: {
      'snapshot-id': header.snapshotId.toString(),
      'parent-snapshot-id':
        header.parentSnapshotId === undefined ? 'null' : header.parentSnapshotId.toString(),
      'sequence-number': String(header.sequenceNumber),
      'format-version': String(FORMAT_VERSION),
    },
  });
}

export function decodeManifestList(data: Uint8Array): ManifestFile[] {
  return decodeAvroFile<Rec>(data).records.map(manifestFileFromAvro);
}

// ---- manifest_entry ------------------------------------------------------------------------------

/** Partition record fields (Avro) as a manifest's header schema has them: `{name, type, field-id}`. */
export type PartitionAvroFields = readonly Readonly<Record<string, unknown>>[];

function partitionToAvro(partition: DataFile['partition'], fields: PartitionAvroFields): Rec {
  const out: Rec = {};
  for (const f of fields) {
    const name = String(f['name']);
    const v = partition[name];
    out[name] = v === undefined || v === null ? null : v instanceof Uint8Array ? Buffer.from(v) : v;
  }
  return out;
}

const optBytes = (b: Uint8Array | undefined) => (b === undefined ? null : Buffer.from(b));

export function manifestEntryToAvro(e: ManifestEntry, partitionFields: PartitionAvroFields): Rec {
  const f = e.dataFile;
  return {
    status: e.status,
    snapshot_id: e.snapshotId ?? null,
    sequence_number: e.sequenceNumber ?? null,
    file_sequence_number: e.fileSequenceNumber ?? null,
    data_file: {
      content: f.content,
      file_path: f.filePath,
      file_format: f.fileFormat.toUpperCase(),
      partition: partitionToAvro(f.partition, partitionFields),
      record_count: f.recordCount,
      file_size_in_bytes: f.fileSizeInBytes,
      column_sizes: mapToAvro(f.columnSizes),
      value_counts: mapToAvro(f.valueCounts),
      null_value_counts: mapToAvro(f.nullValueCounts),
      nan_value_counts: mapToAvro(f.nanValueCounts),
      lower_bounds: mapToAvro(f.lowerBounds, (b) => Buffer.from(b)),
      upper_bounds: mapToAvro(f.upperBounds, (b) => Buffer.from(b)),
      key_metadata: optBytes(f.keyMetadata),
      split_offsets: f.splitOffsets === undefined ? null : [...f.splitOffsets],
      equality_ids: f.equalityIds === undefined ? null : [...f.equalityIds],
      sort_order_id: f.sortOrderId ?? null,
      referenced_data_file: f.referencedDataFile ?? null,
    },
  };
}

function partitionValue(v: unknown): PartitionValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint' || typeof v === 'boolean')
    return v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  throw new Error(`expected a primitive partition value, but was: ${String(v)}`);
}

export function manifestEntryFromAvro(r: Rec): ManifestEntry {
  const d = r['data_file'] as Rec;
  const partition: Record<string, PartitionValue> = {};
  for (const [k, v] of Object.entries((d['partition'] as Rec | null) ?? {})) partition[k] = partitionValue(v);
  const snap = r['snapshot_id'];
  const seq = optNum(r['sequence_number'], 'sequence_number');
  const fileSeq = optNum(r['file_sequence_number'], 'file_sequence_number');
  const columnSizes = mapFromAvro(d['column_sizes'], (x) => num(x, 'column_sizes value'));
  const valueCounts = mapFromAvro(d['value_counts'], (x) => num(x, 'value_counts value'));
  const nullValueCounts = mapFromAvro(d['null_value_counts'], (x) => num(x, 'null_value_counts value'));
  const nanValueCounts = mapFromAvro(d['nan_value_counts'], (x) => num(x, 'nan_value_counts value'));
  const lowerBounds = mapFromAvro(d['lower_bounds'], bytes);
  const upperBounds = mapFromAvro(d['upper_bounds'], bytes);
  const splitOffsets = d['split_offsets'] as unknown[] | null | undefined;
  const equalityIds = d['equality_ids'] as unknown[] | null | undefined;
  const sortOrderId = optNum(d['sort_order_id'], 'sort_order_id');
  const keyMetadata = d['key_metadata'];
  const referenced = d['referenced_data_file'];
  const dataFile: DataFile = {
    content: (optNum(d['content'], 'content') ?? 0) as DataFileContent,
    filePath: String(d['file_path']),
    fileFormat: String(d['file_format']).toLowerCase() as FileFormat,
    partition,
    recordCount: num(d['record_count'], 'record_count'),
    fileSizeInBytes: num(d['file_size_in_bytes'], 'file_size_in_bytes'),
    ...(columnSizes === undefined ? {} : { columnSizes }),
    ...(valueCounts === undefined ? {} : { valueCounts }),
    ...(nullValueCounts === undefined ? {} : { nullValueCounts }),
    ...(nanValueCounts === undefined ? {} : { nanValueCounts }),
    ...(lowerBounds === undefined ? {} : { lowerBounds }),
    ...(upperBounds === undefined ? {} : { upperBounds }),
    ...(splitOffsets == null ? {} : { splitOffsets: splitOffsets.map((x) => num(x, 'split_offsets')) }),
    ...(sortOrderId === undefined ? {} : { sortOrderId }),
    ...(keyMetadata instanceof Uint8Array ? { keyMetadata: new Uint8Array(keyMetadata) } : {}),
    ...(equalityIds == null ? {} : { equalityIds: equalityIds.map((x) => num(x, 'equality_ids')) }),
    ...(typeof referenced === 'string' ? { referencedDataFile: referenced } : {}),
  };
  return {
    status: num(r['status'], 'status') as EntryStatus,
    ...(snap === null || snap === undefined ? {} : { snapshotId: snapshotId(snap, 'snapshot_id') }),
    ...(seq === undefined ? {} : { sequenceNumber: seq }),
    ...(fileSeq === undefined ? {} : { fileSequenceNumber: fileSeq }),
    dataFile,
  };
}

/**
 * Manifest file bytes, with the header keys v2 readers require (schema, partition-spec, content, ...).
 * The partition record is the spec's tuple type over `schema`, unless `partitionFields` (the Avro
 * fields of the manifest being rewritten) is given.
 */
export function encodeManifest(
  schema: Schema,
  spec: PartitionSpec,
  entries: readonly ManifestEntry[],
  content: 'data' | 'deletes' = 'data',
  partitionFields?: PartitionAvroFields,
): Buffer {
  const fields = partitionFields ?? partitionAvroFields(partitionType(spec, schema));
  return encodeAvroFile(
    manifestEntryAvroSchema(fields),
    entries.map((e) => manifestEntryToAvro(e, fields)),
    {
      metadata: {
        schema: stringifyJsonWithLongs(schemaToJson(schema)),
        'schema-id': String(schema.schemaId),
        'partition-spec': stringifyJsonWithLongs(partitionFieldsToJson(spec)),
        'partition-spec-id': String(spec.specId),
        'format-version': String(FORMAT_VERSION),
        content,
      },
    },
  );
}

export interface DecodedManifest {
  readonly entries: ManifestEntry[];
  /** The partition record's Avro fields from the writer's schema (to rewrite entries as they were). */
  readonly partitionFields: PartitionAvroFields;
  /** Header `content`: "data" or "deletes" (absent in v1 manifests: data). */
  readonly content: 'data' | 'deletes';
}

/** The partition record (r102) fields of a manifest_entry writer schema. */
function partitionFieldsOf(schema: unknown): PartitionAvroFields {
  const rec = schema as { fields?: { name: string; type: unknown }[] };
  const dataFile = rec.fields?.find((f) => f.name === 'data_file')?.type as
    | { fields?: { name: string; type: unknown }[] }
    | undefined;
  const partition = dataFile?.fields?.find((f) => f.name === 'partition')?.type as
    | { fields?: Record<string, unknown>[] }
    | undefined;
  return partition?.fields ?? [];
}

export function decodeManifestFile(data: Uint8Array): DecodedManifest {
  const file = decodeAvroFile<Rec>(data);
  return {
    entries: file.records.map(manifestEntryFromAvro),
    partitionFields: partitionFieldsOf(file.schema),
    content: file.metadata['content'] === 'deletes' ? 'deletes' : 'data',
  };
}

export function decodeManifest(data: Uint8Array): ManifestEntry[] {
  return decodeManifestFile(data).entries;
}
