// Per-column encoders: validate each value as it arrives, append it PLAIN-encoded to the current data
// page, cut compressed pages at a byte budget, and keep the statistics Parquet and Iceberg need. One
// encoder per leaf column; a leaf inside a struct, list or map only ever holds nulls (the pipeline has no
// values for another engine's nested columns, and compaction leaves files with such values alone).
import { StreamjoinError } from '../errors.ts';
import { decimalRequiredBytes } from '../iceberg/spec/avro-schemas.ts';
import { bytesToDecimal } from '../iceberg/spec/single-value.ts';
import { parsePrimitive } from '../iceberg/spec/type-info.ts';
import type { StatValue } from '../tables.ts';
import { encodeDataPageHeader, type LeafColumn, PHYSICAL_TYPE } from './format.ts';
import { describeValue } from './partition.ts';
import { compareUtf8 } from './utf8-order.ts';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Int32Array/BigInt64Array bytes are copied as-is into PLAIN pages, which are little-endian.
  throw new Error('expected a little-endian platform for the Parquet writer, but this one is big-endian');
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface EncoderSettings {
  /** The table, for error messages ("joined table"). */
  readonly tableName: string;
  /** Target uncompressed size of a data page's values. */
  readonly pageBytes: number;
  /** The file's page compression (identity for UNCOMPRESSED). */
  readonly compress: (page: Buffer) => Buffer;
  /** Row number (0-based, within the file) of the value being appended, for error messages. */
  readonly rowNumber: () => number;
}

/** A value a row may hold for a column (nested columns: null only). */
export type CellValue = StatValue | null | undefined | unknown;

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

export type Bound = StatValue;

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

/** Bits needed for levels up to `max` (RLE/bit-packed hybrid bit width). */
function bitWidth(max: number): number {
  return max === 0 ? 0 : 32 - Math.clz32(max);
}

/** `count` levels all equal to `value`, as one RLE run with the 4-byte length prefix of data page v1. */
export function encodeConstantLevels(count: number, value: number, maxLevel: number): Buffer {
  const out: number[] = [0, 0, 0, 0];
  let n = count * 2;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  const bytes = Math.ceil(bitWidth(maxLevel) / 8);
  for (let i = 0; i < bytes; i++) out.push((value >> (8 * i)) & 0xff);
  const buf = Buffer.from(out);
  buf.writeUInt32LE(buf.length - 4, 0);
  return buf;
}

export abstract class ColumnEncoder {
  readonly column: LeafColumn;
  protected readonly settings: EncoderSettings;

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

  constructor(column: LeafColumn, settings: EncoderSettings) {
    this.column = column;
    this.settings = settings;
    this.levels = new Uint8Array(column.required ? 0 : 1024);
  }

  /** Validates and appends one value; throws StreamjoinError 'invalid-input' naming the column. */
  abstract append(value: CellValue): void;
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
  protected appendNull(value: CellValue, expected: string): void {
    if (value !== null || this.column.required) throw this.badValue(expected, value);
    this.pushLevel(0);
    this.pageCount++;
    this.pageNulls++;
  }

  protected badValue(expected: string, value: unknown, detail?: string): StreamjoinError {
    const { tableName } = this.settings;
    const { required } = this.column;
    const name = this.column.path.join('.');
    const want = required ? `${expected} (required: never null)` : `${expected} or null`;
    const row = this.settings.rowNumber();
    return new StreamjoinError(
      'invalid-input',
      `${tableName} table, row ${row}: column "${name}" expects ${want}, but was: ${describeValue(value)}` +
        (detail ? ` (${detail})` : ''),
      { context: { table: tableName, column: name, row, expected } },
    );
  }

  /** Repetition then definition levels of the current page (none for a top-level required column). */
  protected levelBytes(): Buffer[] {
    return this.column.required ? [] : [encodeDefinitionLevels(this.levels, this.pageCount, this.pageNulls)];
  }

  protected flushPage(): void {
    if (this.pageCount === 0) return;
    const values = this.pageValueBytes();
    const levels = this.levelBytes();
    const body = levels.length === 0 ? values : Buffer.concat([...levels, values]);
    const compressed = this.settings.compress(body);
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

  append(value: CellValue): void {
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

/** The typed array an INT32 or INT64 column keeps its values in: its bytes are their PLAIN encoding. */
interface FixedWidthValues<T> {
  [index: number]: T;
  readonly length: number;
  readonly buffer: ArrayBufferLike;
  set(values: ArrayLike<T>): void;
}

/** How an INT32 or INT64 column stores a value: bytes per value, its typed array, a bound's bytes. */
interface FixedWidth<T> {
  readonly width: 4 | 8;
  readonly zero: T;
  readonly initialLength: number;
  readonly alloc: (length: number) => FixedWidthValues<T>;
  readonly bytes: (value: T) => Buffer;
}

const INT32: FixedWidth<number> = {
  width: 4,
  zero: 0,
  initialLength: 16 * 1024,
  alloc: (length) => new Int32Array(length),
  bytes: (value) => {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(value);
    return b;
  },
};

const INT64: FixedWidth<bigint> = {
  width: 8,
  zero: 0n,
  initialLength: 8 * 1024,
  alloc: (length) => new BigInt64Array(length),
  bytes: (value) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64LE(value);
    return b;
  },
};

/**
 * An INT32 or INT64 column: values in a typed array (copied as-is into PLAIN pages), chunk and file
 * bounds as the values compare. A subclass validates each value and store()s it.
 */
abstract class FixedWidthEncoder<T extends number | bigint> extends ColumnEncoder {
  private readonly fixed: FixedWidth<T>;
  private values: FixedWidthValues<T>;
  private count = 0;
  private min: T;
  private max: T;
  private hasBounds = false;
  private fileMin: T;
  private fileMax: T;
  private fileHasBounds = false;

  constructor(column: LeafColumn, settings: EncoderSettings, fixed: FixedWidth<T>) {
    super(column, settings);
    this.fixed = fixed;
    this.values = fixed.alloc(fixed.initialLength);
    this.min = this.max = this.fileMin = this.fileMax = fixed.zero;
  }

  protected store(value: T): void {
    if (this.count === this.values.length) {
      const next = this.fixed.alloc(this.values.length * 2);
      next.set(this.values as ArrayLike<T>);
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
    if (this.count * this.fixed.width >= this.settings.pageBytes) this.flushPage();
  }

  protected pageValueBytes(): Buffer {
    return Buffer.from(this.values.buffer, 0, this.count * this.fixed.width);
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
    return { min: this.fixed.bytes(this.min), max: this.fixed.bytes(this.max) };
  }

  fileBounds(): { lower: Bound; upper: Bound } | undefined {
    return this.fileHasBounds ? { lower: this.fileMin, upper: this.fileMax } : undefined;
  }
}

/** int, date, decimal(P <= 9) → INT32: PLAIN is 4 bytes little-endian. */
export class IntEncoder extends FixedWidthEncoder<number> {
  private readonly decimal = parsePrimitive(this.column.type)?.kind === 'decimal';

  constructor(column: LeafColumn, settings: EncoderSettings) {
    super(column, settings, INT32);
  }

  append(value: CellValue): void {
    // A decimal(P <= 9) holds its unscaled value: a bigint (or a number) in int32 range.
    if (this.decimal && typeof value === 'bigint' && value >= -2147483648n && value <= 2147483647n)
      value = Number(value);
    if (typeof value !== 'number' || (value | 0) !== value) {
      if (typeof value === 'number') {
        throw this.badValue('an int (32-bit integer in [-2147483648, 2147483647])', value);
      }
      this.appendNull(value, 'an int (32-bit integer in [-2147483648, 2147483647])');
      return;
    }
    this.store(value);
  }
}

/** long, time, timestamp, timestamptz, decimal(P <= 18) → INT64: PLAIN is 8 bytes little-endian. */
export class Int64Encoder extends FixedWidthEncoder<bigint> {
  private readonly expected: string;
  /** Timestamps only as bigint microseconds (a number is most likely milliseconds). */
  private readonly numbers: boolean;

  constructor(column: LeafColumn, settings: EncoderSettings) {
    super(column, settings, INT64);
    const kind = parsePrimitive(column.type)?.kind;
    this.numbers = kind !== 'timestamp' && kind !== 'timestamptz';
    this.expected =
      kind === 'timestamptz' || kind === 'timestamp'
        ? `a ${kind} as bigint epoch microseconds`
        : kind === 'time'
          ? 'a time as bigint microseconds from midnight'
          : kind === 'decimal'
            ? `a ${column.type} as its unscaled bigint`
            : 'a long (64-bit integer)';
  }

  append(value: CellValue): void {
    let v: bigint;
    if (typeof value === 'bigint') {
      if (value < INT64_MIN || value > INT64_MAX) throw this.badValue(this.expected, value, 'outside int64');
      v = value;
    } else if (this.numbers && typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
    else {
      this.appendNull(value, this.expected);
      return;
    }
    this.store(v);
  }
}

/** The earlier name of the INT64 encoder (timestamptz was its only type). */
export const TimestampEncoder = Int64Encoder;

/** A value of an encoder that keeps its values as JS values and writes them at page end. */
abstract class ListEncoder<T> extends ColumnEncoder {
  protected page: T[] = [];
  private lo: T | undefined;
  private hi: T | undefined;
  private fileLo: T | undefined;
  private fileHi: T | undefined;
  protected abstract readonly expected: string;
  /** The value to store, or undefined when `value` is not one (then it must be null). */
  protected abstract accept(value: CellValue): T | undefined;
  /** Negative, zero or positive, as `a` sorts before, with or after `b` (statistics order). */
  protected abstract compare(a: T, b: T): number;
  /** Whether the value takes part in min/max (NaN does not). */
  protected counts(_value: T): boolean {
    return true;
  }
  protected abstract plain(values: readonly T[]): Buffer;
  /** PLAIN bytes of one value as Parquet statistics hold it. */
  protected abstract statBytes(value: T): Uint8Array;
  protected abstract icebergBound(value: T): Bound;
  protected abstract sizeOf(value: T): number;
  private pageSize = 0;

  append(value: CellValue): void {
    const v = this.accept(value);
    if (v === undefined) {
      this.appendNull(value, this.expected);
      return;
    }
    this.page.push(v);
    this.pageSize += this.sizeOf(v);
    if (this.counts(v)) {
      if (this.lo === undefined || this.compare(v, this.lo) < 0) this.lo = v;
      if (this.hi === undefined || this.compare(v, this.hi) > 0) this.hi = v;
    }
    if (!this.column.required) this.pushLevel(1);
    this.pageCount++;
    if (this.pageSize >= this.settings.pageBytes) this.flushPage();
  }

  protected pageValueBytes(): Buffer {
    return this.plain(this.page);
  }

  protected resetPageValues(): void {
    this.page = [];
    this.pageSize = 0;
  }

  protected takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array } {
    const { lo, hi } = this;
    this.lo = undefined;
    this.hi = undefined;
    if (lo === undefined || hi === undefined) return {};
    if (this.fileLo === undefined || this.compare(lo, this.fileLo) < 0) this.fileLo = lo;
    if (this.fileHi === undefined || this.compare(hi, this.fileHi) > 0) this.fileHi = hi;
    return { min: this.statBytes(this.lowStat(lo)), max: this.statBytes(this.highStat(hi)) };
  }

  /** Parquet: a float min of +0 is written as -0, a max of -0 as +0 (readers may see either). */
  protected lowStat(v: T): T {
    return v;
  }
  protected highStat(v: T): T {
    return v;
  }

  fileBounds(): { lower: Bound; upper: Bound } | undefined {
    if (this.fileLo === undefined || this.fileHi === undefined) return undefined;
    return { lower: this.icebergBound(this.fileLo), upper: this.icebergBound(this.fileHi) };
  }
}

/** boolean → BOOLEAN: PLAIN is one bit per value, least significant bit first. */
export class BooleanEncoder extends ListEncoder<boolean> {
  protected readonly expected = 'a boolean';
  protected accept(v: CellValue) {
    return typeof v === 'boolean' ? v : undefined;
  }
  protected compare(a: boolean, b: boolean) {
    return Number(a) - Number(b);
  }
  protected plain(values: readonly boolean[]) {
    const out = Buffer.alloc(Math.ceil(values.length / 8));
    values.forEach((v, i) => {
      if (v) out[i >> 3]! |= 1 << (i & 7);
    });
    return out;
  }
  protected statBytes(v: boolean) {
    return Uint8Array.of(v ? 1 : 0);
  }
  protected icebergBound(v: boolean) {
    return v;
  }
  protected sizeOf() {
    return 1 / 8;
  }
}

/** float → FLOAT and double → DOUBLE, IEEE 754 little-endian; NaN counted apart, never a bound. */
export class FloatingEncoder extends ListEncoder<number> {
  protected readonly expected: string;
  private readonly bytes: 4 | 8;
  nanCount = 0;
  constructor(column: LeafColumn, settings: EncoderSettings) {
    super(column, settings);
    this.bytes = parsePrimitive(column.type)?.kind === 'float' ? 4 : 8;
    this.expected = this.bytes === 4 ? 'a float (number)' : 'a double (number)';
  }
  protected accept(v: CellValue) {
    if (typeof v !== 'number') return undefined;
    if (Number.isNaN(v)) this.nanCount++;
    return this.bytes === 4 ? Math.fround(v) : v;
  }
  protected override counts(v: number) {
    return !Number.isNaN(v);
  }
  protected compare(a: number, b: number) {
    // -0 sorts before +0, as Java's Float.compare/Double.compare order them.
    if (a === 0 && b === 0) return (Object.is(a, -0) ? 0 : 1) - (Object.is(b, -0) ? 0 : 1);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  protected override lowStat(v: number) {
    return v === 0 ? -0 : v;
  }
  protected override highStat(v: number) {
    return v === 0 ? 0 : v;
  }
  protected plain(values: readonly number[]) {
    const out = Buffer.allocUnsafe(values.length * this.bytes);
    values.forEach((v, i) => {
      if (this.bytes === 4) out.writeFloatLE(v, i * 4);
      else out.writeDoubleLE(v, i * 8);
    });
    return out;
  }
  protected statBytes(v: number) {
    return this.plain([v]);
  }
  protected icebergBound(v: number) {
    return v;
  }
  protected sizeOf() {
    return this.bytes;
  }
}

function unsignedCompare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** binary → BYTE_ARRAY (4-byte length + bytes); uuid, fixed[L], decimal(P > 18) → FIXED_LEN_BYTE_ARRAY. */
export class BytesEncoder extends ListEncoder<Uint8Array> {
  protected readonly expected: string;
  private readonly fixed: number | undefined;
  private readonly decimal: boolean;
  constructor(column: LeafColumn, settings: EncoderSettings) {
    super(column, settings);
    const p = parsePrimitive(column.type);
    this.decimal = p?.kind === 'decimal';
    this.fixed = column.physical === PHYSICAL_TYPE.FIXED_LEN_BYTE_ARRAY ? column.typeLength : undefined;
    this.expected =
      p?.kind === 'uuid'
        ? 'a uuid (16 bytes or its text form)'
        : this.decimal
          ? `a ${column.type} as its unscaled bigint`
          : this.fixed !== undefined
            ? `${this.fixed} bytes (Uint8Array)`
            : 'bytes (Uint8Array)';
  }
  protected accept(v: CellValue): Uint8Array | undefined {
    if (this.decimal) {
      let unscaled: bigint | undefined;
      if (typeof v === 'bigint') unscaled = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) unscaled = BigInt(v);
      else if (v instanceof Uint8Array && v.byteLength > 0) unscaled = bytesToDecimal(v);
      if (unscaled === undefined) return undefined;
      const n = this.fixed!;
      const out = new Uint8Array(n);
      let x = BigInt.asUintN(n * 8, unscaled);
      if (BigInt.asIntN(n * 8, x) !== unscaled)
        throw this.badValue(this.expected, v, `needs more than ${n} bytes`);
      for (let i = n - 1; i >= 0; i--) {
        out[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      return out;
    }
    let bytes: Uint8Array | undefined;
    if (v instanceof Uint8Array) bytes = v;
    else if (typeof v === 'string' && this.fixed === 16 && UUID_TEXT.test(v))
      bytes = new Uint8Array(Buffer.from(v.replaceAll('-', ''), 'hex'));
    if (bytes === undefined) return undefined;
    if (this.fixed !== undefined && bytes.byteLength !== this.fixed)
      throw this.badValue(this.expected, v, `${bytes.byteLength} bytes`);
    return bytes;
  }
  protected compare(a: Uint8Array, b: Uint8Array) {
    return this.decimal
      ? bytesToDecimal(a) < bytesToDecimal(b)
        ? -1
        : bytesToDecimal(a) > bytesToDecimal(b)
          ? 1
          : 0
      : unsignedCompare(a, b);
  }
  protected plain(values: readonly Uint8Array[]) {
    if (this.fixed !== undefined) return Buffer.concat(values);
    const parts: Buffer[] = [];
    for (const v of values) {
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32LE(v.byteLength);
      parts.push(len, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    }
    return Buffer.concat(parts);
  }
  protected statBytes(v: Uint8Array) {
    return v;
  }
  protected icebergBound(v: Uint8Array): Bound {
    return this.decimal ? bytesToDecimal(v) : v;
  }
  protected sizeOf(v: Uint8Array) {
    return v.byteLength + (this.fixed === undefined ? 4 : 0);
  }
}

/**
 * A leaf of another engine's struct, list or map column: the pipeline writes that column as null, so
 * every level is 0 (the top-level column is null) and no value is ever stored.
 */
export class NullLeafEncoder extends ColumnEncoder {
  append(value: CellValue): void {
    if (value !== null && value !== undefined)
      throw this.badValue('null (the writer stores no values in nested columns)', value);
    this.pageCount++;
    this.pageNulls++;
    if (this.pageCount >= 64 * 1024) this.flushPage();
  }
  protected override levelBytes(): Buffer[] {
    const { maxRep, maxDef } = this.column;
    const out: Buffer[] = [];
    if (maxRep > 0) out.push(encodeConstantLevels(this.pageCount, 0, maxRep));
    if (maxDef > 0) out.push(encodeConstantLevels(this.pageCount, 0, maxDef));
    return out;
  }
  protected pageValueBytes(): Buffer {
    return Buffer.alloc(0);
  }
  protected resetPageValues(): void {}
  protected takeChunkBounds(): { min?: Uint8Array; max?: Uint8Array } {
    return {};
  }
  fileBounds(): undefined {
    return undefined;
  }
}

/** The encoder of a leaf column, by its Iceberg type and how it is stored. */
export function createColumnEncoder(column: LeafColumn, settings: EncoderSettings): ColumnEncoder {
  if (column.nested) return new NullLeafEncoder(column, settings);
  const kind = parsePrimitive(column.type)?.kind;
  switch (column.physical) {
    case PHYSICAL_TYPE.BOOLEAN:
      return new BooleanEncoder(column, settings);
    case PHYSICAL_TYPE.INT32:
      return new IntEncoder(column, settings);
    case PHYSICAL_TYPE.INT64:
      return new Int64Encoder(column, settings);
    case PHYSICAL_TYPE.FLOAT:
    case PHYSICAL_TYPE.DOUBLE:
      return new FloatingEncoder(column, settings);
    case PHYSICAL_TYPE.BYTE_ARRAY:
      return kind === 'string' ? new StringEncoder(column, settings) : new BytesEncoder(column, settings);
    default:
      return new BytesEncoder(column, settings);
  }
}

/** Bytes a decimal column's values take in a FIXED_LEN_BYTE_ARRAY (re-exported for tests). */
export { decimalRequiredBytes };
