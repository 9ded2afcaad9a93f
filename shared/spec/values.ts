// Table values of a join spec's field types (issue 17): a validated JSON record value (records.ts)
// becomes the value its Iceberg type holds in a row, and a row value has a JSON-safe form for the
// Firestore outbox (no bigint, no -0 lost in JSON) that decodes back exactly. Pure; no float arithmetic
// on decimals or timestamps.
//
// The agreed representation (shared/tables.ts Row):
//   string → string            int → number (int32)          long → bigint
//   float → number (the float32 value, Math.fround)          double → number
//   boolean → boolean          date → number (days since 1970-01-01)
//   timestamp → bigint (microseconds since 1970-01-01T00:00:00, the local date-time taken as UTC:
//               Iceberg's "timestamp without zone")
//   timestamptz → bigint (microseconds since the epoch, the offset applied)
//   decimal(P,S) → bigint (the unscaled value: 12.34 in decimal(10,2) is 1234n)
// Sub-microsecond digits of a time (records.ts takes up to 9) are dropped: the value is the microsecond
// it falls in (floor, also before 1970).

import type { RecordValue } from './records.ts';

export type TableValue = string | number | bigint | boolean | null;
/** A table value as JSON and Firestore can hold it exactly (decoded by its column type). */
export type EncodedValue = string | number | boolean | null;

export type Converted =
  | { readonly ok: true; readonly value: TableValue }
  | { readonly ok: false; readonly message: string };

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;
export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;
/** Largest finite float32. */
const FLOAT_MAX = 3.4028234663852886e38;
/** Iceberg's decimal precision limit (spec: "Precision must be 38 or less"). */
export const DECIMAL_MAX_PRECISION = 38;

export interface DecimalType {
  readonly precision: number;
  readonly scale: number;
}

/** `decimal(P, S)` / `decimal(P,S)` → {precision, scale}; undefined for any other type name. */
export function decimalTypeOf(type: string): DecimalType | undefined {
  const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  return m === null ? undefined : { precision: Number(m[1]), scale: Number(m[2]) };
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

const fail = (message: string): Converted => ({ ok: false, message });
const ok = (value: TableValue): Converted => ({ ok: true, value });

// ---- calendar arithmetic (proleptic Gregorian, any year; no Date so that years 0–99 stay themselves)

/** Days from 1970-01-01 to y-m-d (civil-from-days inverse, exact integer arithmetic). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date `days` after 1970-01-01 as [year, month, day]. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

function dateDays(y: string, mo: string, d: string): number | undefined {
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day);
}

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;

function dateTimeMicros(text: string, zoned: boolean): Converted {
  const what = zoned
    ? 'a date-time with a zone such as "2026-11-25T12:00:00Z"'
    : 'a date-time with no zone such as "2026-11-25T12:00:00"';
  const m = DATE_TIME.exec(text);
  if (m === null || (m[8] !== undefined) !== zoned) return fail(`expected ${what}, but was: ${show(text)}`);
  const days = dateDays(m[1]!, m[2]!, m[3]!);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6] ?? '0');
  if (days === undefined || h > 23 || mi > 59 || s > 59)
    return fail(`expected ${what} that exists in the calendar, but was: ${show(text)}`);
  const micros = BigInt((m[7] ?? '').padEnd(6, '0').slice(0, 6) || '0');
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    // java.time.ZoneOffset's range: ±18:00.
    if (om > 59 || oh * 60 + om > 18 * 60)
      return fail(`expected ${what} whose offset is within ±18:00, but was: ${show(text)}`);
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const seconds = BigInt(days) * 86_400n + BigInt(h * 3600 + mi * 60 + s - offsetMinutes * 60);
  return ok(seconds * MICROS_PER_SECOND + micros);
}

// ---- decimals

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * The unscaled value of a decimal's text (`-12.3` in decimal(10,2) → -1230n), or why it does not fit:
 * more than S digits after the point, or more than P digits once scaled. Exact (strings and bigint).
 */
export function decimalUnscaled(d: DecimalType, value: string | number): Converted {
  const what = `a decimal(${d.precision},${d.scale}) number (at most ${d.precision} digits, ${d.scale} after the point)`;
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  const m = DECIMAL_TEXT.exec(text);
  if (m === null) return fail(`expected ${what}, but was: ${show(value)}`);
  const fraction = m[3] ?? '';
  if (fraction.length > d.scale)
    return fail(`expected ${what}, but was: ${show(value)} (${fraction.length} digits after the point)`);
  const magnitude = BigInt(m[2]! + fraction.padEnd(d.scale, '0'));
  const digits = magnitude === 0n ? 0 : magnitude.toString().length;
  if (digits > d.precision)
    return fail(`expected ${what}, but was: ${show(value)} (${digits} digits once scaled to ${d.scale})`);
  return ok(m[1] === '-' ? -magnitude : magnitude);
}

/** The text of an unscaled decimal (1230n, scale 2 → "12.30"): what a reader shows. */
export function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${neg ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}

// ---- record value → table value

/**
 * The table value of a record value of `type` (null stays null: whether it may be null is records.ts's
 * concern). Refuses, with what was expected and what came, a value its type cannot hold.
 */
export function convertValue(type: string, value: RecordValue | bigint): Converted {
  if (value === null) return ok(null);
  switch (type) {
    case 'string':
      return typeof value === 'string' ? ok(value) : fail(`expected a string, but was: ${show(value)}`);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX
        ? ok(value === 0 ? 0 : value)
        : fail(`expected an int (an integer in [${INT_MIN}, ${INT_MAX}]), but was: ${show(value)}`);
    case 'long': {
      const v =
        typeof value === 'bigint'
          ? value
          : typeof value === 'number' && Number.isSafeInteger(value)
            ? BigInt(value)
            : undefined;
      return v !== undefined && v >= LONG_MIN && v <= LONG_MAX
        ? ok(v)
        : fail(
            `expected a long (an integer in [${LONG_MIN}, ${LONG_MAX}], exact in JSON within ±(2^53-1)), but was: ${show(value)}`,
          );
    }
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return fail(`expected a finite float, but was: ${show(value)}`);
      if (Math.abs(value) > FLOAT_MAX)
        return fail(`expected a float within ±${FLOAT_MAX} (32-bit), but was: ${show(value)}`);
      return ok(Math.fround(value));
    }
    case 'double':
      return typeof value === 'number' && Number.isFinite(value)
        ? ok(value)
        : fail(`expected a finite double, but was: ${show(value)}`);
    case 'boolean':
      return typeof value === 'boolean' ? ok(value) : fail(`expected true or false, but was: ${show(value)}`);
    case 'date': {
      const m = typeof value === 'string' ? DATE.exec(value) : null;
      if (m === null) return fail(`expected a date such as "2026-11-25", but was: ${show(value)}`);
      const days = dateDays(m[1]!, m[2]!, m[3]!);
      return days === undefined
        ? fail(`expected a date that exists in the calendar, but was: ${show(value)}`)
        : ok(days);
    }
    case 'timestamp':
    case 'timestamptz':
      return typeof value === 'string'
        ? dateTimeMicros(value, type === 'timestamptz')
        : fail(`expected a ${type} as text, but was: ${show(value)}`);
  }
  const d = decimalTypeOf(type);
  if (d !== undefined) {
    if (typeof value !== 'string' && typeof value !== 'number')
      return fail(
        `expected a decimal(${d.precision},${d.scale}) as a number or text, but was: ${show(value)}`,
      );
    return decimalUnscaled(d, value);
  }
  return fail(
    `expected a field type (string, int, long, float, double, boolean, date, timestamp, timestamptz or decimal(P,S)), but was: ${show(type)}`,
  );
}

/** convertValue for a value that must convert (validated input): throws the message otherwise. */
export function tableValueOf(type: string, value: RecordValue | bigint, field = 'value'): TableValue {
  const r = convertValue(type, value);
  if (!r.ok) throw new Error(`${field}: ${r.message}`);
  return r.value;
}

/** Converts every field of a validated record by its stream field types (by wire name). */
export function tableRecordOf(
  fields: readonly { readonly name: string; readonly type: string }[],
  record: Readonly<Record<string, RecordValue>>,
): Record<string, TableValue> {
  const out: Record<string, TableValue> = {};
  for (const f of fields) out[f.name] = tableValueOf(f.type, record[f.name] ?? null, f.name);
  return out;
}

// ---- table value → human text (for messages, verify and the CLI)

const pad = (n: number | bigint, w: number) => String(n).padStart(w, '0');

/** A date's days since the epoch as `YYYY-MM-DD`. */
export function dateText(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${y < 0 ? '-' : ''}${pad(Math.abs(y), 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffff` (`Z` added for timestamptz). */
export function timestampText(micros: bigint, zoned: boolean): string {
  const floorDiv = (a: bigint, b: bigint) => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
  const days = floorDiv(micros, MICROS_PER_DAY);
  const inDay = micros - days * MICROS_PER_DAY;
  const secs = inDay / MICROS_PER_SECOND;
  const frac = inDay % MICROS_PER_SECOND;
  const time = `${pad(secs / 3600n, 2)}:${pad((secs / 60n) % 60n, 2)}:${pad(secs % 60n, 2)}.${pad(frac, 6)}`;
  return `${dateText(Number(days))}T${time}${zoned ? 'Z' : ''}`;
}

// ---- JSON-safe encoding (the outbox)

function badEncoded(type: string, what: string, v: unknown): never {
  throw new Error(`expected ${what} for a ${type} value, but was: ${show(v)} (${typeof v})`);
}

const INTEGER_TEXT = /^-?\d+$/;

/**
 * A table value as JSON and Firestore hold it exactly: bigints (long, timestamp, timestamptz, decimal)
 * as their decimal digits, -0.0 as "-0" (JSON would drop the sign), every other value as it is.
 */
export function encodeValue(type: string, value: TableValue): EncodedValue {
  if (value === null) return null;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : badEncoded(type, 'a string', value);
    case 'boolean':
      return typeof value === 'boolean' ? value : badEncoded(type, 'a boolean', value);
    case 'int':
    case 'date':
      return typeof value === 'number' && Number.isInteger(value)
        ? value === 0
          ? 0
          : value
        : badEncoded(type, 'an integer number', value);
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value))
        return badEncoded(type, 'a finite number', value);
      return Object.is(value, -0) ? '-0' : value;
  }
  if (type === 'long' || type === 'timestamp' || type === 'timestamptz' || decimalTypeOf(type) !== undefined)
    return typeof value === 'bigint' ? value.toString() : badEncoded(type, 'a bigint', value);
  return badEncoded(type, 'a known field type', type);
}

/** The table value of an encoded value (encodeValue's inverse); a malformed one is named. */
export function decodeValue(type: string, encoded: unknown): TableValue {
  if (encoded === null) return null;
  switch (type) {
    case 'string':
      return typeof encoded === 'string' ? encoded : badEncoded(type, 'a string', encoded);
    case 'boolean':
      return typeof encoded === 'boolean' ? encoded : badEncoded(type, 'a boolean', encoded);
    case 'int':
    case 'date':
      return typeof encoded === 'number' && Number.isInteger(encoded)
        ? encoded
        : badEncoded(type, 'an integer number', encoded);
    case 'float':
    case 'double':
      if (encoded === '-0') return -0;
      return typeof encoded === 'number' && Number.isFinite(encoded)
        ? encoded
        : badEncoded(type, 'a finite number or "-0"', encoded);
  }
  if (type === 'long' || type === 'timestamp' || type === 'timestamptz' || decimalTypeOf(type) !== undefined)
    return typeof encoded === 'string' && INTEGER_TEXT.test(encoded)
      ? BigInt(encoded)
      : badEncoded(type, 'integer digits as a string', encoded);
  return badEncoded(type, 'a known field type', type);
}

/** encodeValue over a row's columns (by name); columns missing from the row encode as null. */
export function encodeRow(
  columns: readonly { readonly name: string; readonly type: string }[],
  row: Readonly<Record<string, TableValue>>,
): Record<string, EncodedValue> {
  const out: Record<string, EncodedValue> = {};
  for (const c of columns) {
    try {
      out[c.name] = encodeValue(c.type, row[c.name] ?? null);
    } catch (e) {
      throw new Error(`column ${c.name}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** decodeRow(encodeRow(row)) is row, value for value. */
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
