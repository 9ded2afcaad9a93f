// Appendix D "Binary single-value serialization": how lower/upper bounds and partition summary bounds
// are stored as bytes. int/date: 4-byte little-endian; long/timestamptz: 8-byte little-endian
// (timestamptz = microseconds from 1970-01-01 UTC); string: UTF-8 bytes without length. Pure.
import type { PrimitiveType } from './types.ts';

export type SingleValue = string | number | bigint | boolean | Uint8Array;

export function encodeSingleValue(type: PrimitiveType, value: SingleValue): Uint8Array {
  switch (type) {
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
    case 'timestamptz': {
      let big: bigint;
      if (typeof value === 'bigint') big = value;
      else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
      else throw mismatch(type, value);
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, big), true);
      return out;
    }
    case 'string':
      if (typeof value !== 'string') throw mismatch(type, value);
      return new TextEncoder().encode(value);
    case 'binary':
      if (!(value instanceof Uint8Array)) throw mismatch(type, value);
      return value;
  }
}

export function decodeSingleValue(type: PrimitiveType, bytes: Uint8Array): SingleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number) => {
    if (bytes.byteLength !== n) {
      throw new Error(`expected ${n} bytes for a ${type} single value, but got ${bytes.byteLength}`);
    }
  };
  switch (type) {
    case 'boolean':
      need(1);
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      need(4);
      return view.getInt32(0, true);
    case 'long':
    case 'timestamptz':
      need(8);
      return view.getBigInt64(0, true);
    case 'string':
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case 'binary':
      return bytes;
  }
}

function mismatch(type: PrimitiveType, value: unknown): Error {
  const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  return new Error(
    `expected a ${type} value for single-value serialization, but was: ${shown} (${typeof value})`,
  );
}
