// Parquet format pieces for the two flat Iceberg tables: the schema of a TableDef (field ids, repetition,
// physical and logical types), data page headers and the footer (FileMetaData), in Thrift compact form.
// Field numbers quote parquet.thrift (apache/parquet-format).
import type { Column, ColumnType, TableDef } from '../tables.ts';
import { CompactWriter, CT } from './thrift-compact.ts';

/** parquet.thrift `Type`. */
export const PHYSICAL_TYPE = { INT32: 1, INT64: 2, BYTE_ARRAY: 6 } as const;
/** parquet.thrift `FieldRepetitionType`. */
export const REPETITION = { REQUIRED: 0, OPTIONAL: 1 } as const;
/** parquet.thrift `ConvertedType` (legacy annotations, written next to the logical type for old readers). */
export const CONVERTED_TYPE = { UTF8: 0, TIMESTAMP_MICROS: 10 } as const;
/** parquet.thrift `Encoding`. */
export const ENCODING = { PLAIN: 0, RLE: 3 } as const;
/** parquet.thrift `CompressionCodec`. */
export const CODEC = { ZSTD: 6 } as const;
/** parquet.thrift `PageType`. */
export const PAGE_TYPE = { DATA_PAGE: 0 } as const;

export const PARQUET_MAGIC = Buffer.from('PAR1', 'ascii');

/** How each Iceberg type is stored (Iceberg spec, "Parquet" appendix: string → binary UTF8,
 *  int → int32, timestamptz → int64 TIMESTAMP_MICROS adjusted to UTC). */
export function physicalTypeOf(type: ColumnType): number {
  switch (type) {
    case 'string':
      return PHYSICAL_TYPE.BYTE_ARRAY;
    case 'int':
      return PHYSICAL_TYPE.INT32;
    case 'timestamptz':
      return PHYSICAL_TYPE.INT64;
  }
}

function writeSchemaElement(w: CompactWriter, column: Column): void {
  w.elemStruct();
  w.i32(1, physicalTypeOf(column.type)); // type
  w.i32(3, column.required ? REPETITION.REQUIRED : REPETITION.OPTIONAL); // repetition_type
  w.string(4, column.name); // name
  if (column.type === 'string') w.i32(6, CONVERTED_TYPE.UTF8); // converted_type
  if (column.type === 'timestamptz') w.i32(6, CONVERTED_TYPE.TIMESTAMP_MICROS);
  w.i32(9, column.id); // field_id: Iceberg reads columns by this id
  if (column.type === 'string') {
    w.struct(10).struct(1).endStruct().endStruct(); // logicalType: STRING (StringType {})
  } else if (column.type === 'timestamptz') {
    w.struct(10).struct(8); // logicalType: TIMESTAMP (TimestampType)
    w.bool(1, true); // isAdjustedToUTC
    w.struct(2).struct(2).endStruct().endStruct(); // unit: TimeUnit MICROS (MicroSeconds {})
    w.endStruct().endStruct();
  }
  w.endStruct();
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
  readonly column: Column;
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
  readonly table: TableDef;
  readonly numRows: number;
  readonly rowGroups: readonly RowGroupMeta[];
  readonly createdBy: string;
  readonly keyValueMetadata?: Readonly<Record<string, string>>;
}

/** FileMetaData followed by its 4-byte length and the closing magic: the end of the file. */
export function encodeFooter(input: FooterInput): Buffer {
  const { table } = input;
  const w = new CompactWriter(4096);
  w.beginStruct();
  w.i32(1, 2); // version
  w.list(2, CT.STRUCT, table.columns.length + 1); // schema: root, then the flat leaves
  w.elemStruct();
  w.string(4, 'schema'); // root name, as pyarrow and parquet-mr write it
  w.i32(5, table.columns.length); // num_children
  w.endStruct();
  for (const column of table.columns) writeSchemaElement(w, column);
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
      w.i32(1, physicalTypeOf(c.column.type)); // type
      w.list(2, CT.I32, 2).elemI32(ENCODING.PLAIN).elemI32(ENCODING.RLE); // encodings
      w.list(3, CT.BINARY, 1).elemString(c.column.name); // path_in_schema
      w.i32(4, CODEC.ZSTD); // codec
      w.i64(5, c.numValues); // num_values
      w.i64(6, c.totalUncompressedSize); // total_uncompressed_size
      w.i64(7, c.totalCompressedSize); // total_compressed_size
      w.i64(9, c.dataPageOffset); // data_page_offset
      w.struct(12); // statistics
      // Deprecated max/min too for the signed integer types, whose order never changed, for old readers;
      // never for strings (their deprecated order was signed bytes).
      const legacy = c.column.type !== 'string';
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
  // for UTF8, signed for INT32/INT64).
  w.list(7, CT.STRUCT, table.columns.length);
  for (let i = 0; i < table.columns.length; i++) w.elemStruct().struct(1).endStruct().endStruct();
  w.endStruct();
  const meta = w.bytes();
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32LE(meta.length, 0);
  PARQUET_MAGIC.copy(tail, 4);
  return Buffer.concat([meta, tail]);
}
