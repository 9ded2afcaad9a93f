// Record validation from a join spec's stream (issue 17, step 3b): a parsed JSON value becomes the
// stream's record (its fields by wire name, typed values) or a list of issues, for any spec. For the
// shipped default it is shared/ingest/validate.ts exactly — the same codes, paths and messages
// (test/unit/spec/records.test.ts compares them on generated input). Pure and total: never throws.
//
// Values: string (non-empty, not only whitespace, at most 4096 UTF-8 bytes, well-formed Unicode),
// int (JSON integer in int32), long (JSON integer within ±(2^53-1): a larger one has already lost its
// digits in JSON.parse), float/double (finite JSON number), boolean, date (`YYYY-MM-DD`), timestamp
// (ISO-8601 date-time with no zone, as the producer writes dates), timestamptz (with `Z` or ±hh:mm),
// decimal(P,S) (a JSON number or numeric string with at most S fraction digits and P digits in all).
// Dates and timestamps are kept as the strings that came (DESIGN §1); the writers convert them.

import { describeValue, type Issue, type IssueCode, type IssuePath, type Result } from '../ingest/issues.ts';
import { AMOUNT_MAX, AMOUNT_MIN, MAX_STRING_BYTES } from '../ingest/validate.ts';
import type { StreamField, StreamSpec } from './model.ts';
import { convertValue, decimalUnscaled } from './values.ts';

export type RecordValue = string | number | boolean | null;
export type StreamRecord = Readonly<Record<string, RecordValue>>;

const STRING_EXPECTED = `a non-empty string of at most ${MAX_STRING_BYTES} UTF-8 bytes`;
const INT_EXPECTED = `an integer in [${AMOUNT_MIN}, ${AMOUNT_MAX}]`;
const LONG_EXPECTED = `an integer in [${-Number.MAX_SAFE_INTEGER}, ${Number.MAX_SAFE_INTEGER}]`;

/** What a field of `type` must be, as the messages say it. */
export function expectedOf(type: string): string {
  switch (type) {
    case 'string':
      return STRING_EXPECTED;
    case 'int':
      return INT_EXPECTED;
    case 'long':
      return LONG_EXPECTED;
    case 'float':
    case 'double':
      return 'a finite number';
    case 'boolean':
      return 'true or false';
    case 'date':
      return 'a date such as "2026-11-25"';
    case 'timestamp':
      return 'a date-time with no zone such as "2026-11-25T12:00:00"';
    case 'timestamptz':
      return 'a date-time with a zone such as "2026-11-25T12:00:00Z"';
  }
  const d = decimalOf(type);
  if (d !== undefined)
    return `a decimal number with at most ${d.precision} digits, ${d.scale} after the point`;
  return type;
}

function decimalOf(type: string): { precision: number; scale: number } | undefined {
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  return m === null ? undefined : { precision: Number(m[1]), scale: Number(m[2]) };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = '(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.\\d{1,9})?)?';
const TIMESTAMP = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})[T ]${TIME}$`);
const TIMESTAMPTZ = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})[T ]${TIME}(Z|[+-]\\d{2}:?\\d{2})$`);

type Check = { code: IssueCode; detail?: string } | { value: RecordValue };

function checkValue(type: string, value: unknown): Check {
  const wrong = { code: 'wrong-type' as const };
  switch (type) {
    case 'string': {
      if (typeof value !== 'string') return wrong;
      if (value.length === 0) return { code: 'empty-string' };
      if (value.trim().length === 0) return { code: 'blank-string' };
      if (value.length > MAX_STRING_BYTES / 3) {
        const bytes = Buffer.byteLength(value, 'utf8');
        if (bytes > MAX_STRING_BYTES) return { code: 'string-too-long', detail: `${bytes} bytes` };
      }
      if (!value.isWellFormed()) return { code: 'invalid-string' };
      return { value };
    }
    case 'int':
    case 'long': {
      if (typeof value !== 'number') return wrong;
      if (!Number.isFinite(value)) return { code: 'out-of-range' };
      if (!Number.isInteger(value)) return { code: 'not-an-integer' };
      const [min, max] =
        type === 'int' ? [AMOUNT_MIN, AMOUNT_MAX] : [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      if (value < min || value > max) return { code: 'out-of-range' };
      return { value: Object.is(value, -0) ? 0 : value };
    }
    case 'float':
    case 'double':
      if (typeof value !== 'number') return wrong;
      // A float must also fit in 32 bits (values.ts).
      return convertValue(type, value).ok ? { value } : { code: 'out-of-range' };
    case 'boolean':
      return typeof value === 'boolean' ? { value } : wrong;
    case 'date':
    case 'timestamp':
    case 'timestamptz': {
      if (typeof value !== 'string') return wrong;
      const m = (type === 'date' ? DATE : type === 'timestamp' ? TIMESTAMP : TIMESTAMPTZ).exec(value);
      if (m === null) return wrong;
      // values.ts converts what is accepted here (calendar of any year, offsets within ±18:00).
      return convertValue(type, value).ok ? { value } : { code: 'out-of-range' };
    }
  }
  const d = decimalOf(type);
  if (d === undefined) return wrong;
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d+(\.\d+)?$/.test(text)) return wrong;
  // At most S digits after the point and P digits once scaled (12.5 does not fit decimal(3,2)).
  if (!decimalUnscaled(d, text).ok) return { code: 'out-of-range' };
  return { value: text };
}

function fieldIssue(field: StreamField, raw: unknown, at: IssuePath): Issue | { value: RecordValue } {
  const path = { ...at, field: field.name };
  const expected = expectedOf(field.type);
  if (raw === undefined || raw === null) {
    if (field.nullable) return { value: null };
    return raw === undefined
      ? { code: 'missing-field', path, message: `${field.name} is required (${expected}), but was missing` }
      : { code: 'null-field', path, message: `${field.name} must be ${expected}, but was: null` };
  }
  const c = checkValue(field.type, raw);
  if ('value' in c) return c;
  const message =
    c.code === 'blank-string'
      ? `${field.name} must be ${expected} with a character other than whitespace, but was: ${describeValue(raw)}`
      : c.code === 'invalid-string'
        ? `${field.name} must be valid Unicode text (no lone surrogates), but was: ${describeValue(raw)}`
        : c.code === 'string-too-long'
          ? `${field.name} must be ${expected}, but was ${c.detail}: ${describeValue(raw)}`
          : `${field.name} must be ${expected}, but was: ${describeValue(raw)}`;
  return { code: c.code, path, message };
}

/** `an order`, `a payment`: the stream's name with its article. */
function withArticle(name: string): string {
  return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
}

/** Validates one record of `stream`; `at` (line / index) is copied into every issue's path. */
export function validateStreamRecord(
  stream: StreamSpec,
  value: unknown,
  at: IssuePath = {},
): Result<StreamRecord> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      issues: [
        {
          code: 'not-an-object',
          path: at,
          message: `${withArticle(stream.name)} must be a JSON object, but was: ${describeValue(value)}`,
        },
      ],
    };
  }
  const record = value as Record<string, unknown>;
  const out: Record<string, RecordValue> = {};
  const issues: Issue[] = [];
  for (const field of stream.fields) {
    // Own properties only: `{"__proto__": …}` or inherited names must not count as fields.
    const raw = Object.hasOwn(record, field.name) ? record[field.name] : undefined;
    const r = fieldIssue(field, raw, at);
    if ('value' in r) out[field.name] = r.value;
    else issues.push(r);
  }
  // Unknown extra fields are ignored (as shared/ingest/validate.ts does).
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
}
