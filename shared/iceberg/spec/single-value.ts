// Appendix D "Binary single-value serialization": how lower/upper bounds and partition summary bounds
// are stored as bytes. boolean: one byte; int/date: 4-byte little-endian; long/time/timestamp(tz):
// 8-byte little-endian (microseconds); float/double: IEEE 754 little-endian; string: UTF-8 bytes without
// length; uuid: 16 bytes big-endian; fixed/binary: the bytes; decimal: the unscaled value in two's
// complement big-endian, minimum number of bytes. Pure.
import { parsePrimitive } from './type-info.ts';
import type { PrimitiveType } from './types.ts';

export type SingleValue = string | number | bigint | boolean | Uint8Array;

export function encodeSingleValue(type: PrimitiveType, value: SingleValue): Uint8Array {
  const p = parsePrimitive(type);
  if (p === undefined)
    throw new Error(`expected a primitive type for single-value serialization, but was: ${type}`);
  switch (p.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw mismatch(type, value);
      return Uint8Array.of(value ? 1 : 0);
    case 'int':
    case 'date': {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
        throw mismatch(type, value);
      }
      const out = new Uint8Array(4);
      new DataView(out.buffer).setInt32(0, value, true);
      return out;
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, toBigInt(type, value)), true);
      return out;
    }
    case 'float':
    case 'double': {
      if (typeof value !== 'number') throw mismatch(type, value);
      const out = new Uint8Array(p.kind === 'float' ? 4 : 8);
      const view = new DataView(out.buffer);
      if (p.kind === 'float') view.setFloat32(0, value, true);
      else view.setFloat64(0, value, true);
      return out;
    }
    case 'decimal':
      return decimalToBytes(toBigInt(type, value));
    case 'string':
      if (typeof value !== 'string') throw mismatch(type, value);
      return new TextEncoder().encode(value);
    case 'uuid':
    case 'fixed':
    case 'binary':
      if (!(value instanceof Uint8Array)) throw mismatch(type, value);
      if (p.kind === 'uuid' && value.byteLength !== 16) throw mismatch(type, value);
      if (p.kind === 'fixed' && value.byteLength !== p.length) throw mismatch(type, value);
      return value;
  }
}

export function decodeSingleValue(type: PrimitiveType, bytes: Uint8Array): SingleValue {
  const p = parsePrimitive(type);
  if (p === undefined)
    throw new Error(`expected a primitive type for single-value serialization, but was: ${type}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number) => {
    if (bytes.byteLength !== n) {
      throw new Error(`expected ${n} bytes for a ${type} single value, but got ${bytes.byteLength}`);
    }
  };
  switch (p.kind) {
    case 'boolean':
      need(1);
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      need(4);
      return view.getInt32(0, true);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      need(8);
      return view.getBigInt64(0, true);
    case 'float':
      need(4);
      return view.getFloat32(0, true);
    case 'double':
      need(8);
      return view.getFloat64(0, true);
    case 'decimal':
      return bytesToDecimal(bytes);
    case 'string':
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case 'uuid':
      need(16);
      return bytes;
    case 'fixed':
      need(p.length);
      return bytes;
    case 'binary':
      return bytes;
  }
}

function toBigInt(type: PrimitiveType, value: SingleValue): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw mismatch(type, value);
}

/** Two's complement big-endian in the fewest bytes (Java's BigInteger.toByteArray()). */
export function decimalToBytes(unscaled: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = unscaled;
  for (;;) {
    const b = Number(BigInt.asUintN(8, v));
    bytes.unshift(b);
    v >>= 8n; // arithmetic shift: keeps the sign
    const signBit = (b & 0x80) !== 0;
    if ((v === 0n && !signBit) || (v === -1n && signBit)) break;
  }
  return Uint8Array.from(bytes);
}

/** The unscaled value of a two's complement big-endian byte string (any length ≥ 1). */
export function bytesToDecimal(bytes: Uint8Array): bigint {
  if (bytes.byteLength === 0) throw new Error('expected at least one byte for a decimal, but got none');
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return BigInt.asIntN(bytes.byteLength * 8, v);
}

function mismatch(type: PrimitiveType, value: unknown): Error {
  const shown =
    typeof value === 'bigint'
      ? `${value}n`
      : value instanceof Uint8Array
        ? `${value.byteLength} bytes`
        : JSON.stringify(value);
  return new Error(
    `expected a ${type} value for single-value serialization, but was: ${shown} (${typeof value})`,
  );
}
