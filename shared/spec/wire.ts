// The join spec file's shape (JSON or YAML), as a zod schema: which keys exist, which are required, and
// the form of each single value. Rules between values (a key that must be one of the fields, a column
// whose source must exist, reasons that must differ) are checked after, in validate.ts. Pure.
import { z } from 'zod';

/** zod's `error` option that makes a failed check read "expected <text>" (the formatter adds what came). */
const expected = (text: string) => ({ error: () => `expected ${text}` });

export const IDENT_TEXT = 'an identifier (a letter or _, then letters, digits or _; at most 128)';
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const identifier = z.string(expected(IDENT_TEXT)).regex(IDENT, expected(IDENT_TEXT));

const STREAM_NAME_TEXT = 'a singular lower-case name such as "order" (a-z, then a-z, 0-9 or _; at most 32)';
const FIELD_NAME_TEXT = 'a field name (a letter or _, then letters, digits, _ or -; at most 128)';
const REASON_TEXT = 'a reason (a-z, then a-z, 0-9 or _; at most 64)';
const DURATION_TEXT = 'a duration such as "15m", "10s", "1h30m"';

const fieldName = z
  .string(expected(FIELD_NAME_TEXT))
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/, expected(FIELD_NAME_TEXT));
const duration = z.string(expected(DURATION_TEXT));
const reason = z.string(expected(REASON_TEXT)).regex(/^[a-z][a-z0-9_]{0,63}$/, expected(REASON_TEXT));

const WireField = z.strictObject({
  name: fieldName,
  /** string, int, long, float, double, decimal(P,S), boolean, date, timestamp, timestamptz (checked in validate.ts). */
  type: z
    .string(expected('a type name such as "string", "long" or "decimal(10,2)"'))
    .describe('string, int, long, float, double, decimal(P,S), boolean, date, timestamp or timestamptz'),
  nullable: z
    .boolean(expected('true or false'))
    .optional()
    .describe('May be null or missing (default false: required). Key and identity fields are required.'),
});

const WireStream = z.strictObject({
  name: z.string(expected(STREAM_NAME_TEXT)).regex(/^[a-z][a-z0-9_]{0,31}$/, expected(STREAM_NAME_TEXT)),
  prefix: z
    .string(expected('an object name prefix such as "stream/orders/"'))
    .regex(
      /^[^/*?\s][^*?\s]{0,511}$/,
      expected('an object name prefix such as "stream/orders/" (no leading /, no * ? or spaces)'),
    ),
  key: fieldName.describe(
    'The join key field (required; string, int or long; the same type in both streams).',
  ),
  identity: z
    .array(fieldName, expected('a list of field names'))
    .min(1, expected('at least one field name'))
    .optional()
    .describe(
      'Fields that identify an event among those of its key: the same key and identity again is a duplicate. Left: the key only (default). Right: e.g. ["payment_id"] (default: the key, one event per key).',
    ),
  timeout: duration
    .optional()
    .describe(
      'How long an event of this stream waits for the other side, from its landing time (default 15m).',
    ),
  fields: z.array(WireField, expected('a list of fields')).min(1, expected('at least one field')),
});

const WireColumn = z.strictObject({
  name: identifier,
  from: z
    .string(expected('a source: "<stream>.<field>" or "pipeline.<value>"'))
    .describe(
      '"<stream>.<field>" (either key field fills the key column), or pipeline.joined_at (joined table), pipeline.reason or pipeline.emitted_at (unmatched table)',
    ),
  doc: z.string(expected('a description')).optional(),
});

const WirePartitionField = z.strictObject({
  column: identifier,
  transform: z.string(expected('a transform: identity, year, month, day, hour, bucket[N] or truncate[W]')),
  name: identifier.optional(),
});

const WireTable = z.strictObject({
  table: identifier,
  columns: z.array(WireColumn, expected('a list of columns')).min(1, expected('at least one column')),
  partition: z.array(WirePartitionField, expected('a list of partition fields (may be empty)')).optional(),
});

export const WireSpec = z.strictObject(
  {
    /** Lets editors find the JSON Schema; ignored. */
    $schema: z.string(expected('a URI')).optional(),
    version: z.literal(1, expected('1 (the only version of the spec format)')),
    name: z
      .string(expected('a spec name (a-z, 0-9, ., _ or -; at most 64)'))
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, expected('a spec name (a-z, 0-9, ., _ or -; at most 64)')),
    description: z.string(expected('a description')).optional(),
    streams: z.strictObject(
      { left: WireStream, right: WireStream },
      expected('an object with "left" and "right"'),
    ),
    allowedLateness: duration
      .optional()
      .describe("The tick closes a waiting state's window this long after its deadline (default 2m)."),
    reasons: z
      .strictObject({
        leftTimeout: reason.optional(),
        rightOrphan: reason.optional(),
        rightExtra: reason.optional(),
        rightLate: reason.optional(),
        leftLate: reason.optional(),
      })
      .optional()
      .describe(
        'Reasons of unmatched rows; each defaults to the stream names (order_timeout, payment_orphan, …).',
      ),
    output: z.strictObject(
      { namespace: identifier, joined: WireTable, unmatched: WireTable },
      expected('an object with "namespace", "joined" and "unmatched"'),
    ),
  },
  expected('a join spec (an object)'),
);

export type WireSpec = z.infer<typeof WireSpec>;
export type WireStream = z.infer<typeof WireStream>;
export type WireTable = z.infer<typeof WireTable>;

/** Defaults of optional settings (today's pipeline: DESIGN §3). */
export const DEFAULT_TIMEOUT = '15m';
export const DEFAULT_ALLOWED_LATENESS = '2m';
