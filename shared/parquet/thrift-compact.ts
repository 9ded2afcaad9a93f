// A minimal writer for the Thrift compact protocol, enough for Parquet page headers and the file footer.
// Spec: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md

/** Compact protocol type ids (as they appear in field headers and list headers). */
export const CT = {
  BOOL_TRUE: 1,
  BOOL_FALSE: 2,
  I16: 4,
  I32: 5,
  I64: 6,
  BINARY: 8,
  LIST: 9,
  STRUCT: 12,
} as const;

export class CompactWriter {
  private buf: Buffer;
  private pos = 0;
  private lastFieldId = 0;
  private readonly fieldStack: number[] = [];

  constructor(initialSize = 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** The bytes written so far (a copy, safe to keep). */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint of a non-negative safe integer (up to 2^53). */
  private varint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** Zigzag varint of a safe integer (i16, i32, or i64 values within ±2^52). */
  private zigzag(n: number): void {
    if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 52) {
      throw new RangeError(`expected an integer within ±2^52 for thrift, but was: ${n}`);
    }
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  private fieldHeader(id: number, type: number): void {
    const delta = id - this.lastFieldId;
    if (delta > 0 && delta <= 15) {
      this.byte((delta << 4) | type);
    } else {
      this.byte(type);
      this.zigzag(id);
    }
    this.lastFieldId = id;
  }

  /** Starts the outermost struct (no field header). */
  beginStruct(): this {
    this.fieldStack.push(this.lastFieldId);
    this.lastFieldId = 0;
    return this;
  }

  endStruct(): this {
    this.byte(0);
    this.lastFieldId = this.fieldStack.pop() ?? 0;
    return this;
  }

  i32(id: number, value: number): this {
    this.fieldHeader(id, CT.I32);
    this.zigzag(value);
    return this;
  }

  i16(id: number, value: number): this {
    this.fieldHeader(id, CT.I16);
    this.zigzag(value);
    return this;
  }

  i64(id: number, value: number): this {
    this.fieldHeader(id, CT.I64);
    this.zigzag(value);
    return this;
  }

  bool(id: number, value: boolean): this {
    this.fieldHeader(id, value ? CT.BOOL_TRUE : CT.BOOL_FALSE);
    return this;
  }

  binary(id: number, value: Uint8Array): this {
    this.fieldHeader(id, CT.BINARY);
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  string(id: number, value: string): this {
    return this.binary(id, Buffer.from(value, 'utf8'));
  }

  /** A struct-typed field; close it with endStruct(). */
  struct(id: number): this {
    this.fieldHeader(id, CT.STRUCT);
    return this.beginStruct();
  }

  /** A list field header; then write `size` elements with the element methods below. */
  list(id: number, elementType: number, size: number): this {
    this.fieldHeader(id, CT.LIST);
    if (size < 15) {
      this.byte((size << 4) | elementType);
    } else {
      this.byte(0xf0 | elementType);
      this.varint(size);
    }
    return this;
  }

  /** List element: i32. */
  elemI32(value: number): this {
    this.zigzag(value);
    return this;
  }

  /** List element: string. */
  elemString(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** List element: struct; close it with endStruct(). */
  elemStruct(): this {
    return this.beginStruct();
  }
}
