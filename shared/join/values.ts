// Table values of the join's columns, interim (issue 17): until shared/spec/values.ts (record value →
// table value for every field type, and the outbox's JSON-safe form) is on main, the data path converts
// the types it can write today with the same names and the agreed representation:
//   string → string, int → number, long → bigint, float/double → number, boolean → boolean,
//   timestamp/timestamptz → bigint (epoch microseconds); in the outbox bigints are decimal strings.
//   date → number (days since 1970-01-01), decimal(P,S) → bigint (unscaled).
import type { RecordValue } from '../spec/records.ts';

export type TableValue = string | number | bigint | boolean | null;
/** A table value as JSON and Firestore hold it exactly (decoded by its column type). */
export type EncodedValue = string | number | boolean | null;

const BIGINT_TYPES = new Set(['long', 'timestamp', 'timestamptz']);
const isBigintType = (type: string): boolean => BIGINT_TYPES.has(type) || type.startsWith('decimal(');

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (exact integer arithmetic, any year). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/** Microseconds since the epoch of a validated date-time text (sub-microsecond digits dropped). */
function micros(text: string): bigint {
  const m = DATE_TIME.exec(text);
  if (m === null) throw new Error(`expected a date-time, but was: ${JSON.stringify(text)}`);
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const secs = Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0);
  let offsetMin = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    offsetMin = (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  const frac = BigInt((m[7] ?? '').padEnd(6, '0').slice(0, 6));
  return (BigInt(days) * 86_400n + BigInt(secs - offsetMin * 60)) * 1_000_000n + frac;
}

function unscaled(type: string, value: string | number): bigint {
  const scale = Number(/,\s*(\d+)\)$/.exec(type)?.[1] ?? 0);
  const text = String(value);
  const neg = text.startsWith('-');
  const [whole = '0', fraction = ''] = text.replace(/^-/, '').split('.');
  const v = BigInt(whole + fraction.padEnd(scale, '0'));
  return neg ? -v : v;
}

function refuse(type: string, what: string, v: unknown): never {
  throw new Error(
    `expected ${what} for a ${type} value, but was: ${JSON.stringify(String(v))} (${typeof v})`,
  );
}

/** The table value of a validated record value of `type` (null stays null). */
export function tableValueOf(type: string, value: RecordValue | bigint, field = 'value'): TableValue {
  if (value === null) return null;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : refuse(type, `a string (${field})`, value);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value)
        ? value === 0
          ? 0
          : value
        : refuse(type, `an integer (${field})`, value);
    case 'long':
      if (typeof value === 'bigint') return value;
      return typeof value === 'number' && Number.isSafeInteger(value)
        ? BigInt(value)
        : refuse(type, `an integer (${field})`, value);
    case 'float':
      return typeof value === 'number' ? Math.fround(value) : refuse(type, `a number (${field})`, value);
    case 'double':
      return typeof value === 'number' ? value : refuse(type, `a number (${field})`, value);
    case 'boolean':
      return typeof value === 'boolean' ? value : refuse(type, `true or false (${field})`, value);
    case 'date': {
      const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : null;
      return m === null
        ? refuse(type, `a date (${field})`, value)
        : daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
    }
    case 'timestamp':
    case 'timestamptz':
      if (typeof value === 'bigint') return value;
      return typeof value === 'string' ? micros(value) : refuse(type, `a date-time (${field})`, value);
  }
  if (type.startsWith('decimal(') && (typeof value === 'string' || typeof value === 'number'))
    return unscaled(type, value);
  return refuse(type, `a value of a known type (${field})`, value);
}

/** A table value as the outbox holds it: bigints as their decimal digits, -0.0 as "-0". */
export function encodeValue(type: string, value: TableValue): EncodedValue {
  if (value === null) return null;
  if (isBigintType(type))
    return typeof value === 'bigint' ? value.toString() : refuse(type, 'a bigint', value);
  if (typeof value === 'bigint') return refuse(type, 'no bigint', value);
  if (typeof value === 'number' && Object.is(value, -0)) return type === 'int' ? 0 : '-0';
  return value;
}

/** encodeValue's inverse. */
export function decodeValue(type: string, encoded: unknown): TableValue {
  if (encoded === null || encoded === undefined) return null;
  if (isBigintType(type)) {
    return typeof encoded === 'string' && /^-?\d+$/.test(encoded)
      ? BigInt(encoded)
      : refuse(type, 'integer digits as a string', encoded);
  }
  if ((type === 'float' || type === 'double') && encoded === '-0') return -0;
  if (typeof encoded === 'string' || typeof encoded === 'number' || typeof encoded === 'boolean')
    return encoded;
  return refuse(type, 'a JSON value', encoded);
}

/** decodeValue over a row's columns (by name); columns missing from the row decode as null. */
export function decodeRow(
  columns: readonly { readonly name: string; readonly type: string }[],
  encoded: Readonly<Record<string, unknown>>,
): Record<string, TableValue> {
  const out: Record<string, TableValue> = {};
  for (const c of columns) {
    try {
      out[c.name] = decodeValue(c.type, Object.hasOwn(encoded, c.name) ? encoded[c.name] : null);
    } catch (e) {
      throw new Error(`column ${c.name}: ${(e as Error).message}`);
    }
  }
  return out;
}
