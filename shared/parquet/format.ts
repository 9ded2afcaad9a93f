// Parquet format pieces for Iceberg data files: the file schema of an Iceberg schema (field ids, repetition,
// physical and logical types, three-level lists and maps), data page headers and the footer
// (FileMetaData), in Thrift compact form.
// Field numbers quote parquet.thrift (apache/parquet-format).
import { decimalRequiredBytes } from '../iceberg/spec/avro-schemas.ts';
import { parsePrimitive } from '../iceberg/spec/type-info.ts';
import type { IcebergType, NestedField, PrimitiveType } from '../iceberg/spec/types.ts';
import type { ColumnType } from '../tables.ts';
import { CompactWriter, CT } from './thrift-compact.ts';

/** parquet.thrift `Type`. */
export const PHYSICAL_TYPE = {
  BOOLEAN: 0,
  INT32: 1,
  INT64: 2,
  FLOAT: 4,
  DOUBLE: 5,
  BYTE_ARRAY: 6,
  FIXED_LEN_BYTE_ARRAY: 7,
} as const;
/** parquet.thrift `FieldRepetitionType`. */
export const REPETITION = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
/** parquet.thrift `ConvertedType` (legacy annotations, written next to the logical type for old readers). */
export const CONVERTED_TYPE = {
  UTF8: 0,
  MAP: 1,
  LIST: 3,
  DECIMAL: 5,
  DATE: 6,
  TIME_MICROS: 8,
  TIMESTAMP_MICROS: 10,
} as const;
/** parquet.thrift `Encoding`. */
export const ENCODING = { PLAIN: 0, RLE: 3 } as const;
/** parquet.thrift `CompressionCodec`. */
export const CODEC = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2, BROTLI: 4, ZSTD: 6 } as const;
export type CodecName = keyof typeof CODEC;
/** parquet.thrift `PageType`. */
export const PAGE_TYPE = { DATA_PAGE: 0 } as const;

export const PARQUET_MAGIC = Buffer.from('PAR1', 'ascii');

/** How an Iceberg primitive type is stored (Iceberg spec, "Parquet" appendix): its physical type. */
export function physicalTypeOf(type: ColumnType): number {
  return physicalOf(type).physical;
}

/** Physical storage of an Iceberg primitive (Iceberg spec, "Parquet" appendix). */
export interface PhysicalOf {
  readonly physical: number;
  readonly typeLength?: number;
}

export function physicalOf(type: PrimitiveType): PhysicalOf {
  const p = parsePrimitive(type);
  if (p === undefined) throw new Error(`expected an Iceberg primitive type, but was: ${type}`);
  switch (p.kind) {
    case 'boolean':
      return { physical: PHYSICAL_TYPE.BOOLEAN };
    case 'int':
    case 'date':
      return { physical: PHYSICAL_TYPE.INT32 };
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return { physical: PHYSICAL_TYPE.INT64 };
    case 'float':
      return { physical: PHYSICAL_TYPE.FLOAT };
    case 'double':
      return { physical: PHYSICAL_TYPE.DOUBLE };
    case 'string':
    case 'binary':
      return { physical: PHYSICAL_TYPE.BYTE_ARRAY };
    case 'uuid':
      return { physical: PHYSICAL_TYPE.FIXED_LEN_BYTE_ARRAY, typeLength: 16 };
    case 'fixed':
      return { physical: PHYSICAL_TYPE.FIXED_LEN_BYTE_ARRAY, typeLength: p.length };
    case 'decimal':
      // Parquet: precision <= 9 in INT32, <= 18 in INT64, else the fewest bytes of a fixed array.
      if (p.precision <= 9) return { physical: PHYSICAL_TYPE.INT32 };
      if (p.precision <= 18) return { physical: PHYSICAL_TYPE.INT64 };
      return { physical: PHYSICAL_TYPE.FIXED_LEN_BYTE_ARRAY, typeLength: decimalRequiredBytes(p.precision) };
  }
}

/** One leaf column of a file's schema: where it sits, its levels and how its values are stored. */
export interface LeafColumn {
  /** path_in_schema: names from the top-level column down to the leaf. */
  readonly path: readonly string[];
  readonly fieldId: number;
  readonly type: PrimitiveType;
  readonly physical: number;
  readonly typeLength?: number;
  /** Highest definition and repetition level of the leaf. */
  readonly maxDef: number;
  readonly maxRep: number;
  /** Index of the top-level column the leaf belongs to. */
  readonly top: number;
  /** Inside a struct, list or map: the writer only writes nulls there (every level 0). */
  readonly nested: boolean;
  /** The leaf is a top-level REQUIRED column. */
  readonly required: boolean;
  /** Decimal columns order their statistics as signed numbers (also in fixed-length bytes). */
  readonly signed: boolean;
}

interface SchemaElement {
  readonly name: string;
  readonly repetition?: number;
  readonly fieldId?: number;
  readonly numChildren?: number;
  readonly leaf?: LeafColumn;
  readonly group?: 'list' | 'map';
}

/**
 * The Parquet schema of top-level Iceberg fields (depth first, as the footer lists it) and its leaves.
 * Lists and maps use the three-level form Iceberg writes (`list.element`, `key_value.key/value`).
 */
export function fileSchemaOf(fields: readonly NestedField[]): {
  elements: SchemaElement[];
  leaves: LeafColumn[];
} {
  const elements: SchemaElement[] = [];
  const leaves: LeafColumn[] = [];
  const visit = (
    name: string,
    fieldId: number | undefined,
    repetition: number,
    type: IcebergType,
    path: string[],
    def: number,
    rep: number,
    top: number,
  ) => {
    const d = def + (repetition === REPETITION.REQUIRED ? 0 : 1);
    const r = rep + (repetition === REPETITION.REPEATED ? 1 : 0);
    const here = [...path, name];
    if (typeof type === 'string') {
      const phys = physicalOf(type);
      const leaf: LeafColumn = {
        path: here,
        fieldId: fieldId ?? -1,
        type,
        physical: phys.physical,
        ...(phys.typeLength === undefined ? {} : { typeLength: phys.typeLength }),
        maxDef: d,
        maxRep: r,
        top,
        nested: here.length > 1,
        required: here.length === 1 && repetition === REPETITION.REQUIRED,
        signed: parsePrimitive(type)?.kind === 'decimal',
      };
      leaves.push(leaf);
      elements.push({ name, repetition, ...(fieldId === undefined ? {} : { fieldId }), leaf });
      return;
    }
    const req = (required: boolean) => (required ? REPETITION.REQUIRED : REPETITION.OPTIONAL);
    if (type.type === 'struct') {
      elements.push({
        name,
        repetition,
        ...(fieldId === undefined ? {} : { fieldId }),
        numChildren: type.fields.length,
      });
      for (const f of type.fields) visit(f.name, f.id, req(f.required), f.type, here, d, r, top);
    } else if (type.type === 'list') {
      elements.push({
        name,
        repetition,
        ...(fieldId === undefined ? {} : { fieldId }),
        numChildren: 1,
        group: 'list',
      });
      elements.push({ name: 'list', repetition: REPETITION.REPEATED, numChildren: 1 });
      visit(
        'element',
        type.elementId,
        req(type.elementRequired),
        type.element,
        [...here, 'list'],
        d + 1,
        r + 1,
        top,
      );
    } else {
      elements.push({
        name,
        repetition,
        ...(fieldId === undefined ? {} : { fieldId }),
        numChildren: 1,
        group: 'map',
      });
      elements.push({ name: 'key_value', repetition: REPETITION.REPEATED, numChildren: 2 });
      visit('key', type.keyId, REPETITION.REQUIRED, type.key, [...here, 'key_value'], d + 1, r + 1, top);
      visit(
        'value',
        type.valueId,
        req(type.valueRequired),
        type.value,
        [...here, 'key_value'],
        d + 1,
        r + 1,
        top,
      );
    }
  };
  fields.forEach((f, i) => {
    visit(f.name, f.id, f.required ? REPETITION.REQUIRED : REPETITION.OPTIONAL, f.type, [], 0, 0, i);
  });
  return { elements, leaves };
}

function writeElement(w: CompactWriter, e: SchemaElement): void {
  w.elemStruct();
  if (e.leaf !== undefined) {
    w.i32(1, e.leaf.physical); // type
    if (e.leaf.typeLength !== undefined) w.i32(2, e.leaf.typeLength); // type_length
  }
  if (e.repetition !== undefined) w.i32(3, e.repetition); // repetition_type
  w.string(4, e.name); // name
  if (e.numChildren !== undefined) w.i32(5, e.numChildren); // num_children
  if (e.leaf !== undefined) {
    // converted_type, scale, precision, then field_id (9) and logicalType (10) in field order
    const p = parsePrimitive(e.leaf.type)!;
    if (p.kind === 'string') w.i32(6, CONVERTED_TYPE.UTF8);
    else if (p.kind === 'date') w.i32(6, CONVERTED_TYPE.DATE);
    else if (p.kind === 'time') w.i32(6, CONVERTED_TYPE.TIME_MICROS);
    else if (p.kind === 'timestamp' || p.kind === 'timestamptz') w.i32(6, CONVERTED_TYPE.TIMESTAMP_MICROS);
    else if (p.kind === 'decimal') {
      w.i32(6, CONVERTED_TYPE.DECIMAL);
      w.i32(7, p.scale);
      w.i32(8, p.precision);
    }
    if (e.fieldId !== undefined) w.i32(9, e.fieldId); // field_id: Iceberg reads columns by this id
    writeLogical(w, e.leaf.type);
  } else {
    if (e.group === 'list') w.i32(6, CONVERTED_TYPE.LIST);
    if (e.group === 'map') w.i32(6, CONVERTED_TYPE.MAP);
    if (e.fieldId !== undefined) w.i32(9, e.fieldId);
    if (e.group === 'list') w.struct(10).struct(3).endStruct().endStruct(); // LIST
    if (e.group === 'map') w.struct(10).struct(2).endStruct().endStruct(); // MAP
  }
  w.endStruct();
}

/** logicalType (field 10) of a leaf, or nothing for types without one. */
function writeLogical(w: CompactWriter, type: PrimitiveType): void {
  const p = parsePrimitive(type)!;
  const micros = () => w.struct(2).struct(2).endStruct().endStruct(); // unit: TimeUnit MICROS
  switch (p.kind) {
    case 'string':
      w.struct(10).struct(1).endStruct().endStruct(); // STRING (StringType {})
      return;
    case 'date':
      w.struct(10).struct(6).endStruct().endStruct(); // DATE
      return;
    case 'time':
      w.struct(10).struct(7).bool(1, false); // TIME: isAdjustedToUTC false
      micros();
      w.endStruct().endStruct();
      return;
    case 'timestamp':
    case 'timestamptz':
      w.struct(10)
        .struct(8)
        .bool(1, p.kind === 'timestamptz'); // TIMESTAMP: isAdjustedToUTC
      micros();
      w.endStruct().endStruct();
      return;
    case 'decimal':
      w.struct(10).struct(5).i32(1, p.scale).i32(2, p.precision).endStruct().endStruct(); // DECIMAL
      return;
    case 'uuid':
      w.struct(10).struct(14).endStruct().endStruct(); // UUID
      return;
    default:
      return;
  }
}

export interface PageHeaderV1 {
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  readonly numValues: number;
}

/** PageHeader of a DATA_PAGE (v1) with PLAIN values and RLE definition levels. */
export function encodeDataPageHeader(h: PageHeaderV1): Buffer {
  const w = new CompactWriter(48);
  w.beginStruct();
  w.i32(1, PAGE_TYPE.DATA_PAGE); // type
  w.i32(2, h.uncompressedSize); // uncompressed_page_size (without the header)
  w.i32(3, h.compressedSize); // compressed_page_size
  w.struct(5); // data_page_header
  w.i32(1, h.numValues); // num_values, nulls included
  w.i32(2, ENCODING.PLAIN); // encoding
  w.i32(3, ENCODING.RLE); // definition_level_encoding
  w.i32(4, ENCODING.RLE); // repetition_level_encoding
  w.endStruct();
  w.endStruct();
  return w.bytes();
}

export interface ColumnChunkMeta {
  readonly leaf: LeafColumn;
  /** Offset of the chunk's first page in the file. */
  readonly dataPageOffset: number;
  readonly numValues: number;
  /** Both sizes include page headers, as parquet.thrift defines them. */
  readonly totalUncompressedSize: number;
  readonly totalCompressedSize: number;
  readonly nullCount: number;
  /** Statistics bounds as Parquet encodes them (PLAIN bytes); absent when every value is null. */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

export interface RowGroupMeta {
  readonly columns: readonly ColumnChunkMeta[];
  readonly numRows: number;
  readonly fileOffset: number;
  readonly totalCompressedSize: number;
}

export interface FooterInput {
  /** The file's top-level columns (the table schema's fields, with their Iceberg ids). */
  readonly fields: readonly NestedField[];
  readonly numRows: number;
  readonly rowGroups: readonly RowGroupMeta[];
  readonly createdBy: string;
  readonly codec: number;
  readonly keyValueMetadata?: Readonly<Record<string, string>>;
}

/** FileMetaData followed by its 4-byte length and the closing magic: the end of the file. */
export function encodeFooter(input: FooterInput): Buffer {
  const { elements, leaves } = fileSchemaOf(input.fields);
  const w = new CompactWriter(4096);
  w.beginStruct();
  w.i32(1, 2); // version
  w.list(2, CT.STRUCT, elements.length + 1); // schema: root, then every element depth first
  w.elemStruct();
  w.string(4, 'schema'); // root name, as pyarrow and parquet-mr write it
  w.i32(5, input.fields.length); // num_children
  w.endStruct();
  for (const e of elements) writeElement(w, e);
  w.i64(3, input.numRows); // num_rows
  w.list(4, CT.STRUCT, input.rowGroups.length); // row_groups
  input.rowGroups.forEach((rg, ordinal) => {
    w.elemStruct();
    w.list(1, CT.STRUCT, rg.columns.length); // columns
    let totalByteSize = 0;
    for (const c of rg.columns) {
      totalByteSize += c.totalUncompressedSize;
      w.elemStruct();
      w.i64(2, c.dataPageOffset); // file_offset (deprecated; the chunk's start)
      w.struct(3); // meta_data
      w.i32(1, c.leaf.physical); // type
      w.list(2, CT.I32, 2).elemI32(ENCODING.PLAIN).elemI32(ENCODING.RLE); // encodings
      w.list(3, CT.BINARY, c.leaf.path.length); // path_in_schema
      for (const name of c.leaf.path) w.elemString(name);
      w.i32(4, input.codec); // codec
      w.i64(5, c.numValues); // num_values
      w.i64(6, c.totalUncompressedSize); // total_uncompressed_size
      w.i64(7, c.totalCompressedSize); // total_compressed_size
      w.i64(9, c.dataPageOffset); // data_page_offset
      w.struct(12); // statistics
      // Deprecated max/min too for the signed integer types, whose order never changed, for old readers;
      // never for byte arrays (their deprecated order was signed bytes) nor floats.
      const legacy = c.leaf.physical === PHYSICAL_TYPE.INT32 || c.leaf.physical === PHYSICAL_TYPE.INT64;
      if (legacy && c.max !== undefined) w.binary(1, c.max); // max
      if (legacy && c.min !== undefined) w.binary(2, c.min); // min
      w.i64(3, c.nullCount); // null_count
      if (c.max !== undefined) w.binary(5, c.max); // max_value
      if (c.min !== undefined) w.binary(6, c.min); // min_value
      if (c.max !== undefined) w.bool(7, true); // is_max_value_exact: never truncated
      if (c.min !== undefined) w.bool(8, true); // is_min_value_exact
      w.endStruct();
      w.endStruct(); // meta_data
      w.endStruct(); // ColumnChunk
    }
    w.i64(2, totalByteSize); // total_byte_size
    w.i64(3, rg.numRows); // num_rows
    w.i64(5, rg.fileOffset); // file_offset
    w.i64(6, rg.totalCompressedSize); // total_compressed_size
    w.i16(7, ordinal); // ordinal
    w.endStruct();
  });
  const kv = Object.entries(input.keyValueMetadata ?? {});
  if (kv.length > 0) {
    w.list(5, CT.STRUCT, kv.length); // key_value_metadata
    for (const [key, value] of kv) w.elemStruct().string(1, key).string(2, value).endStruct();
  }
  w.string(6, input.createdBy); // created_by
  // column_orders: TYPE_ORDER for every leaf, so readers trust min_value/max_value (unsigned byte order
  // for UTF8 and binary, signed for integers, floats and decimals).
  w.list(7, CT.STRUCT, leaves.length);
  for (let i = 0; i < leaves.length; i++) w.elemStruct().struct(1).endStruct().endStruct();
  w.endStruct();
  const meta = w.bytes();
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32LE(meta.length, 0);
  PARQUET_MAGIC.copy(tail, 4);
  return Buffer.concat([meta, tail]);
}
