// Per-column encoders: validate each value as it arrives, append it PLAIN-encoded to the current data
// page, cut ZSTD-compressed pages at a byte budget, and keep the statistics Parquet and Iceberg need.
import { constants as zlibConstants, zstdCompressSync } from 'node:zlib';
import { StreamjoinError } from '../errors.ts';
import type { Column, RowValue, TableDef } from '../tables.ts';
import { encodeDataPageHeader } from './format.ts';
import { dayBoundsOf, describeValue, formatDay, formatMicros, partitionDayOf } from './partition.ts';
import { compareUtf8 } from './utf8-order.ts';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Int32Array/BigInt64Array bytes are copied as-is into PLAIN pages, which are little-endian.
  throw new Error('expected a little-endian platform for the Parquet writer, but this one is big-endian');
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface EncoderSettings {
  readonly table: TableDef;
  /** Target uncompressed size of a data page's values. */
  readonly pageBytes: number;
  readonly zstdLevel: number;
  /** Row number (0-based, within the file) of the value being appended, for error messages. */
  readonly rowNumber: () => number;
}

/** The pages of one column in one row group, ready to be written, with their statistics. */
export interface EncodedChunk {
  readonly pages: Buffer[];
  readonly numValues: number;
  readonly nullCount: number;
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

export type Bound = string | number | bigint;

/** Definition levels (bit width 1) in the RLE/bit-packed hybrid encoding, with the 4-byte length
 *  prefix data page v1 puts before them. */
export function encodeDefinitionLevels(levels: Uint8Array, count: number, nulls: number): Buffer {
  const out: number[] = [0, 0, 0, 0];
  const pushVarint = (n: number) => {
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
  };
  if (nulls === 0 || nulls === count) {
    pushVarint(count * 2); // one RLE run
    out.push(nulls === 0 ? 1 : 0);
    const buf = Buffer.from(out);
    buf.writeUInt32LE(buf.length - 4, 0);
    return buf;
  }
  const groups = Math.ceil(count / 8);
  pushVarint(groups * 2 + 1); // one bit-packed run of `groups` groups of 8 values
  const head = Buffer.from(out);
  const packed = Buffer.alloc(groups);
  for (let i = 0; i < count; i++) if (levels[i] === 1) packed[i >> 3] |= 1 << (i & 7);
  const buf = Buffer.concat([head, packed]);
  buf.writeUInt32LE(buf.length - 4, 0);
  return buf;
}

export abstract class ColumnEncoder {
  readonly column: Column;
  protected readonly settings: EncoderSettings;
  private readonly zstdOptions: { params: Record<number, number> };

  // current page
  protected pageCount = 0;
  protected pageNulls = 0;
  private levels: Uint8Array;

  // current chunk (row group)
  private pages: Buffer[] = [];
  private chunkValues = 0;
  private chunkNulls = 0;
  private chunkUncompressed = 0;
  private chunkCompressed = 0;

  // whole file, for Iceberg
  fileNulls = 0;
  fileValues = 0;
  fileCompressedBytes = 0;

  constructor(column: Column, settings: EncoderSettings) {
    this.column = column;
    this.settings = settings;
    this.zstdOptions = { params: { [zlibConstants.ZSTD_c_compressionLevel]: settings.zstdLevel } };
    this.levels = new Uint8Array(column.required ? 0 : 1024);
  }

  /** Validates and appends one value; throws StreamjoinError 'invalid-input' naming the column. */
  abstract append(value: RowValue | undefined): void;
  /** PLAIN bytes of the current page's non-null values (a view, used before the page is reset). */
  protected abstract pageValueBytes(): Buffer;
  protected abstract resetPageValues(): void;
  /** Chunk statistics as Parquet bytes; resets the chunk's min/max and folds them into the file's. */
  protected abstract takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array };
  /** Iceberg lower/upper bounds over the whole file, or undefined if every value was null. */
  abstract fileBounds(): { lower: Bound; upper: Bound } | undefined;

  protected pushLevel(level: 0 | 1): void {
    if (this.pageCount >= this.levels.length) {
      const next = new Uint8Array(this.levels.length * 2);
      next.set(this.levels);
      this.levels = next;
    }
    this.levels[this.pageCount] = level;
  }

  /** A null arrived: fine for optional columns, an error for required ones. */
  protected appendNull(value: RowValue | undefined, expected: string): void {
    if (value !== null || this.column.required) throw this.badValue(expected, value);
    this.pushLevel(0);
    this.pageCount++;
    this.pageNulls++;
  }

  protected badValue(expected: string, value: unknown, detail?: string): StreamjoinError {
    const { table } = this.settings;
    const { name, required } = this.column;
    const want = required ? `${expected} (required: never null)` : `${expected} or null`;
    const row = this.settings.rowNumber();
    return new StreamjoinError(
      'invalid-input',
      `${table.kind} table, row ${row}: column "${name}" expects ${want}, but was: ${describeValue(value)}` +
        (detail ? ` (${detail})` : ''),
      { context: { table: table.kind, column: name, row, expected } },
    );
  }

  protected flushPage(): void {
    if (this.pageCount === 0) return;
    const values = this.pageValueBytes();
    const body = this.column.required
      ? values
      : Buffer.concat([encodeDefinitionLevels(this.levels, this.pageCount, this.pageNulls), values]);
    const compressed = zstdCompressSync(body, this.zstdOptions);
    const header = encodeDataPageHeader({
      uncompressedSize: body.length,
      compressedSize: compressed.length,
      numValues: this.pageCount,
    });
    this.pages.push(header, compressed);
    this.chunkUncompressed += header.length + body.length;
    this.chunkCompressed += header.length + compressed.length;
    this.chunkValues += this.pageCount;
    this.chunkNulls += this.pageNulls;
    this.pageCount = 0;
    this.pageNulls = 0;
    this.resetPageValues();
  }

  /** Ends the column chunk of the current row group. */
  finishChunk(): EncodedChunk {
    this.flushPage();
    const chunk: EncodedChunk = {
      pages: this.pages,
      numValues: this.chunkValues,
      nullCount: this.chunkNulls,
      uncompressedSize: this.chunkUncompressed,
      compressedSize: this.chunkCompressed,
      ...this.takeChunkBounds(),
    };
    this.fileValues += this.chunkValues;
    this.fileNulls += this.chunkNulls;
    this.fileCompressedBytes += this.chunkCompressed;
    this.pages = [];
    this.chunkValues = 0;
    this.chunkNulls = 0;
    this.chunkUncompressed = 0;
    this.chunkCompressed = 0;
    return chunk;
  }
}

/** string → BYTE_ARRAY (UTF8): PLAIN is a 4-byte little-endian length, then the UTF-8 bytes. */
export class StringEncoder extends ColumnEncoder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private min: string | undefined;
  private max: string | undefined;
  private fileMin: string | undefined;
  private fileMax: string | undefined;

  append(value: RowValue | undefined): void {
    if (typeof value !== 'string') {
      this.appendNull(value, 'a string');
      return;
    }
    const worst = 4 + value.length * 3;
    if (this.pos + worst > this.buf.length) this.grow(worst);
    const n = this.buf.write(value, this.pos + 4, 'utf8');
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = n & 0xff;
    buf[p++] = (n >>> 8) & 0xff;
    buf[p++] = (n >>> 16) & 0xff;
    buf[p] = n >>> 24;
    this.pos += 4 + n;
    if (n === value.length) {
      // ASCII: JavaScript's order is the UTF-8 byte order against any other well-formed string.
      if (this.min === undefined || this.max === undefined) {
        this.min = value;
        this.max = value;
      } else if (value < this.min) this.min = value;
      else if (value > this.max) this.max = value;
    } else {
      if (!value.isWellFormed()) {
        this.pos -= 4 + n;
        throw this.badValue('a string', value, 'it holds a lone UTF-16 surrogate, which is not valid UTF-8');
      }
      if (this.min === undefined || compareUtf8(value, this.min) < 0) this.min = value;
      if (this.max === undefined || compareUtf8(value, this.max) > 0) this.max = value;
    }
    if (!this.column.required) this.pushLevel(1);
    this.pageCount++;
    if (this.pos >= this.settings.pageBytes) this.flushPage();
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  protected pageValueBytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  protected resetPageValues(): void {
    this.pos = 0;
  }

  protected takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array } {
    const { min, max } = this;
    this.min = undefined;
    this.max = undefined;
    if (min === undefined || max === undefined) return {};
    if (this.fileMin === undefined || compareUtf8(min, this.fileMin) < 0) this.fileMin = min;
    if (this.fileMax === undefined || compareUtf8(max, this.fileMax) > 0) this.fileMax = max;
    return { min: Buffer.from(min, 'utf8'), max: Buffer.from(max, 'utf8') };
  }

  fileBounds(): { lower: Bound; upper: Bound } | undefined {
    if (this.fileMin === undefined || this.fileMax === undefined) return undefined;
    return { lower: this.fileMin, upper: this.fileMax };
  }
}

/** int → INT32: PLAIN is 4 bytes little-endian. */
export class IntEncoder extends ColumnEncoder {
  private values = new Int32Array(16 * 1024);
  private count = 0;
  private min = 0;
  private max = 0;
  private hasBounds = false;
  private fileMin = 0;
  private fileMax = 0;
  private fileHasBounds = false;

  append(value: RowValue | undefined): void {
    if (typeof value !== 'number' || (value | 0) !== value) {
      if (typeof value === 'number') {
        throw this.badValue('an int (32-bit integer in [-2147483648, 2147483647])', value);
      }
      this.appendNull(value, 'an int (32-bit integer in [-2147483648, 2147483647])');
      return;
    }
    if (this.count === this.values.length) {
      const next = new Int32Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.count++] = value;
    if (!this.hasBounds) {
      this.min = value;
      this.max = value;
      this.hasBounds = true;
    } else if (value < this.min) this.min = value;
    else if (value > this.max) this.max = value;
    if (!this.column.required) this.pushLevel(1);
    this.pageCount++;
    if (this.count * 4 >= this.settings.pageBytes) this.flushPage();
  }

  protected pageValueBytes(): Buffer {
    return Buffer.from(this.values.buffer, 0, this.count * 4);
  }

  protected resetPageValues(): void {
    this.count = 0;
  }

  protected takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array } {
    if (!this.hasBounds) return {};
    this.hasBounds = false;
    if (!this.fileHasBounds || this.min < this.fileMin) this.fileMin = this.min;
    if (!this.fileHasBounds || this.max > this.fileMax) this.fileMax = this.max;
    this.fileHasBounds = true;
    const min = Buffer.allocUnsafe(4);
    min.writeInt32LE(this.min);
    const max = Buffer.allocUnsafe(4);
    max.writeInt32LE(this.max);
    return { min, max };
  }

  fileBounds(): { lower: Bound; upper: Bound } | undefined {
    return this.fileHasBounds ? { lower: this.fileMin, upper: this.fileMax } : undefined;
  }
}

/** timestamptz → INT64 TIMESTAMP(MICROS, UTC): PLAIN is 8 bytes little-endian. The partition source
 *  column also checks that every value falls on the file's partition day. */
export class TimestampEncoder extends ColumnEncoder {
  private values = new BigInt64Array(8 * 1024);
  private count = 0;
  private min = 0n;
  private max = 0n;
  private hasBounds = false;
  private fileMin = 0n;
  private fileMax = 0n;
  private fileHasBounds = false;
  /** Accepted range [lo, hi): the partition day once known, else all of int64. */
  private lo = INT64_MIN;
  private hi = INT64_MAX + 1n;
  private readonly isPartitionSource: boolean;
  /** Partition day of the file (partition source only), fixed by the first value or the options. */
  day: number | undefined;

  constructor(column: Column, settings: EncoderSettings, day: number | undefined) {
    super(column, settings);
    this.isPartitionSource = column.name === settings.table.partitionSource;
    if (this.isPartitionSource) {
      if (day !== undefined) this.setDay(day);
      else [this.lo, this.hi] = [1n, 0n]; // empty until the first value fixes the day
    }
  }

  private setDay(day: number): void {
    this.day = day;
    const { start, end } = dayBoundsOf(day);
    this.lo = start;
    this.hi = end;
  }

  append(value: RowValue | undefined): void {
    if (typeof value !== 'bigint' || value < this.lo || value >= this.hi) {
      this.reject(value);
      if (typeof value !== 'bigint') return; // a null, accepted in an optional column
      this.setDay(partitionDayOf(value)); // the first value of the partition source
    }
    this.appendValue(value);
  }

  private appendValue(value: bigint): void {
    if (this.count === this.values.length) {
      const next = new BigInt64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.count++] = value;
    if (!this.hasBounds) {
      this.min = value;
      this.max = value;
      this.hasBounds = true;
    } else if (value < this.min) this.min = value;
    else if (value > this.max) this.max = value;
    if (!this.column.required) this.pushLevel(1);
    this.pageCount++;
    if (this.count * 8 >= this.settings.pageBytes) this.flushPage();
  }

  /** Slow path: throws for a bad value; returns for a null in an optional column or for the first
   *  value of the partition source. */
  private reject(value: RowValue | undefined): void {
    const expected = 'a timestamptz as bigint epoch microseconds';
    if (typeof value !== 'bigint') {
      this.appendNull(value, expected);
      return;
    }
    if (value < INT64_MIN || value > INT64_MAX) throw this.badValue(expected, value, 'outside int64');
    if (this.isPartitionSource && this.day === undefined) return;
    const day = partitionDayOf(value);
    throw new StreamjoinError(
      'invalid-input',
      `${this.settings.table.kind} table, row ${this.settings.rowNumber()}: column "${this.column.name}" ` +
        `(partition source) is ${formatMicros(value)}, on day ${day} (${formatDay(day)}), but this data file ` +
        `holds day ${this.day} (${formatDay(this.day ?? 0)}): one file per partition day; split the rows ` +
        'with splitRowsByDay() first',
      { context: { table: this.settings.table.kind, column: this.column.name, day, fileDay: this.day } },
    );
  }

  protected pageValueBytes(): Buffer {
    return Buffer.from(this.values.buffer, 0, this.count * 8);
  }

  protected resetPageValues(): void {
    this.count = 0;
  }

  protected takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array } {
    if (!this.hasBounds) return {};
    this.hasBounds = false;
    if (!this.fileHasBounds || this.min < this.fileMin) this.fileMin = this.min;
    if (!this.fileHasBounds || this.max > this.fileMax) this.fileMax = this.max;
    this.fileHasBounds = true;
    const min = Buffer.allocUnsafe(8);
    min.writeBigInt64LE(this.min);
    const max = Buffer.allocUnsafe(8);
    max.writeBigInt64LE(this.max);
    return { min, max };
  }

  fileBounds(): { lower: Bound; upper: Bound } | undefined {
    return this.fileHasBounds ? { lower: this.fileMin, upper: this.fileMax } : undefined;
  }
}

export function createColumnEncoder(column: Column, settings: EncoderSettings, day?: number): ColumnEncoder {
  switch (column.type) {
    case 'string':
      return new StringEncoder(column, settings);
    case 'int':
      return new IntEncoder(column, settings);
    case 'timestamptz':
      return new TimestampEncoder(column, settings, day);
  }
}
