// Partition transforms applied to values (spec "Partition Transforms", Appendix B for bucket hashing):
// identity, bucket[N] (32-bit Murmur3 x86 of the value's spec serialization), truncate[W], year, month,
// day, hour, void; and the partition path Java writes (`name=humanString`, URL-encoded). Pure.
import murmurhash from 'murmurhash';
import { decimalRequiredBytes } from './avro-schemas.ts';
import { bytesToDecimal, decimalToBytes } from './single-value.ts';
import { type ParsedTransform, parsePrimitive } from './type-info.ts';
import type { PartitionValue, PrimitiveType } from './types.ts';

const MICROS_PER_DAY = 86_400_000_000n;
const MICROS_PER_HOUR = 3_600_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new Error(`expected ${what} as an integer, but was: ${String(v)} (${typeof v})`);
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string' && UUID_TEXT.test(v))
    return new Uint8Array(Buffer.from(v.replaceAll('-', ''), 'hex'));
  throw new Error(`expected ${what} as bytes, but was: ${String(v)} (${typeof v})`);
}

/** The unscaled value of a decimal as a row may hold it (bigint, integer number or big-endian bytes). */
function unscaledOf(v: unknown): bigint {
  return v instanceof Uint8Array ? bytesToDecimal(v) : toBigInt(v, 'a decimal unscaled value');
}

/** A decimal partition value as its manifest type holds it: fixed bytes of the precision's size. */
function decimalPartition(unscaled: bigint, precision: number): Uint8Array {
  const n = decimalRequiredBytes(precision);
  const out = new Uint8Array(n);
  let x = BigInt.asUintN(n * 8, unscaled);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Murmur3 x86 32-bit (seed 0) of bytes, as a signed int, like Java's Guava murmur3_32. */
export function murmur3(bytes: Uint8Array): number {
  return murmurhash.v3(bytes, 0) | 0;
}

/** Appendix B: the hash of a value by its type (ints and dates hash as longs). */
export function bucketHash(type: PrimitiveType, value: unknown): number {
  const p = parsePrimitive(type);
  switch (p?.kind) {
    case 'int':
    case 'long':
    case 'date':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt.asIntN(64, toBigInt(value, type)), true);
      return murmur3(b);
    }
    case 'decimal':
      return murmur3(decimalToBytes(unscaledOf(value)));
    case 'string':
      return murmur3(new TextEncoder().encode(String(value)));
    case 'uuid':
    case 'fixed':
    case 'binary':
      return murmur3(toBytes(value, type));
    default:
      throw new Error(`expected a type bucket[N] applies to, but was: ${type}`);
  }
}

function utcParts(micros: bigint): Date {
  return new Date(Number(floorDiv(micros, 1000n)));
}

/** The transform of a source value (null stays null), as the manifest's partition type holds it. */
export function applyTransform(t: ParsedTransform, source: PrimitiveType, value: unknown): PartitionValue {
  if (value === null || value === undefined || t.kind === 'void') return null;
  const p = parsePrimitive(source);
  if (p === undefined) throw new Error(`expected a primitive partition source, but was: ${source}`);
  switch (t.kind) {
    case 'identity':
      switch (p.kind) {
        case 'decimal':
          return decimalPartition(unscaledOf(value), p.precision);
        case 'uuid':
        case 'fixed':
        case 'binary':
          return toBytes(value, source);
        case 'long':
        case 'time':
        case 'timestamp':
        case 'timestamptz':
          return toBigInt(value, source);
        default:
          return value as PartitionValue;
      }
    case 'bucket':
      return (bucketHash(source, value) & 0x7fffffff) % t.n;
    case 'truncate': {
      const w = t.width;
      switch (p.kind) {
        // In the source type's arithmetic, as Java computes it: within W of the type's minimum the
        // result wraps around (Java TruncateInteger/TruncateLong), so it is always a valid int/long.
        case 'int': {
          const v = Number(value);
          return (v - (((v % w) + w) % w)) | 0;
        }
        case 'long': {
          const v = toBigInt(value, source);
          const W = BigInt(w);
          return BigInt.asIntN(64, v - (((v % W) + W) % W));
        }
        case 'decimal': {
          const v = unscaledOf(value);
          const W = BigInt(w);
          return decimalPartition(v - (((v % W) + W) % W), p.precision);
        }
        case 'string':
          // Code points, not UTF-16 units (Java's UnicodeUtil.truncateString).
          return Array.from(String(value)).slice(0, w).join('');
        case 'binary':
          return toBytes(value, source).slice(0, w);
        default:
          throw new Error(`expected a type truncate[W] applies to, but was: ${source}`);
      }
    }
    case 'year':
    case 'month':
    case 'day':
    case 'hour': {
      const micros = p.kind === 'date' ? BigInt(Number(value)) * MICROS_PER_DAY : toBigInt(value, source);
      if (t.kind === 'day') return Number(floorDiv(micros, MICROS_PER_DAY));
      if (t.kind === 'hour') return Number(floorDiv(micros, MICROS_PER_HOUR));
      const d = utcParts(micros);
      const years = d.getUTCFullYear() - 1970;
      return t.kind === 'year' ? years : years * 12 + d.getUTCMonth();
    }
    case 'unknown':
      throw new Error(`expected a transform this writer can compute, but was: ${t.name}`);
  }
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Java's Transform.toHumanString of a transformed value (what partition paths show). */
export function humanString(t: ParsedTransform, resultType: PrimitiveType, value: PartitionValue): string {
  if (value === null) return 'null';
  switch (t.kind) {
    // Java's TransformUtil: years as %04d (year 1 is "0001").
    case 'year':
      return pad(1970 + Number(value), 4);
    case 'month': {
      const m = Number(value);
      const y = Math.floor(m / 12);
      return `${pad(1970 + y, 4)}-${pad(m - y * 12 + 1, 2)}`;
    }
    case 'day':
      return new Date(Number(value) * 86_400_000).toISOString().slice(0, 10);
    case 'hour': {
      const iso = new Date(Number(value) * 3_600_000).toISOString();
      return `${iso.slice(0, 10)}-${iso.slice(11, 13)}`;
    }
    default: {
      const p = parsePrimitive(resultType);
      if (p?.kind === 'date') return new Date(Number(value) * 86_400_000).toISOString().slice(0, 10);
      if ((p?.kind === 'timestamp' || p?.kind === 'timestamptz') && typeof value === 'bigint') {
        const ms = Number(floorDiv(value, 1000n));
        const sub = String(Number(((value % 1000n) + 1000n) % 1000n)).padStart(3, '0');
        return `${new Date(ms).toISOString().slice(0, 23)}${sub}${p.kind === 'timestamptz' ? 'Z' : ''}`;
      }
      if (p?.kind === 'decimal' && value instanceof Uint8Array) {
        const v = bytesToDecimal(value);
        const neg = v < 0n;
        const digits = (neg ? -v : v).toString().padStart(p.scale + 1, '0');
        const int = digits.slice(0, digits.length - p.scale);
        const frac = digits.slice(digits.length - p.scale);
        return `${neg ? '-' : ''}${int}${p.scale > 0 ? `.${frac}` : ''}`;
      }
      if (p?.kind === 'uuid' && value instanceof Uint8Array) {
        const h = Buffer.from(value).toString('hex');
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      }
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      return String(value);
    }
  }
}

/** Java's URLEncoder.encode (spaces as +, the unreserved set kept). */
function urlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The partition path of a tuple: `name=value/name=value`, as Java's PartitionSpec.partitionToPath. */
export function partitionPath(
  fields: readonly {
    readonly name: string;
    readonly transform: ParsedTransform;
    readonly resultType: PrimitiveType;
  }[],
  values: readonly PartitionValue[],
): string {
  return fields
    .map(
      (f, i) =>
        `${urlEncode(f.name)}=${urlEncode(humanString(f.transform, f.resultType, values[i] ?? null))}`,
    )
    .join('/');
}
