// Table values of the spec's field types (shared/spec/values.ts): conversion of validated record values,
// edge values of each type, refusals with what was expected and what came, and the JSON-safe encoding
// round trip (through JSON text, as the outbox stores it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  civilFromDays,
  convertValue,
  dateText,
  daysFromCivil,
  decimalText,
  decodeRow,
  decodeValue,
  encodeRow,
  encodeValue,
  type TableValue,
  tableRecordOf,
  tableValueOf,
  timestampText,
} from '../../../shared/spec/values.ts';

const converts: { type: string; input: string | number | boolean | null; expected: TableValue }[] = [
  { type: 'string', input: 'o-1', expected: 'o-1' },
  { type: 'string', input: 'é漢😀', expected: 'é漢😀' },
  { type: 'int', input: 0, expected: 0 },
  { type: 'int', input: -0, expected: 0 },
  { type: 'int', input: 2147483647, expected: 2147483647 },
  { type: 'int', input: -2147483648, expected: -2147483648 },
  { type: 'long', input: 0, expected: 0n },
  { type: 'long', input: Number.MAX_SAFE_INTEGER, expected: 9007199254740991n },
  { type: 'long', input: -Number.MAX_SAFE_INTEGER, expected: -9007199254740991n },
  { type: 'long', input: 2147483648, expected: 2147483648n },
  { type: 'float', input: 0.1, expected: Math.fround(0.1) },
  { type: 'float', input: 1.5, expected: 1.5 },
  { type: 'float', input: -0, expected: -0 },
  { type: 'float', input: 3.4028234663852886e38, expected: 3.4028234663852886e38 },
  { type: 'double', input: 0.1, expected: 0.1 },
  { type: 'double', input: -0, expected: -0 },
  { type: 'double', input: 1e300, expected: 1e300 },
  { type: 'double', input: 5e-324, expected: 5e-324 },
  { type: 'boolean', input: true, expected: true },
  { type: 'boolean', input: false, expected: false },
  { type: 'date', input: '1970-01-01', expected: 0 },
  { type: 'date', input: '1970-01-02', expected: 1 },
  { type: 'date', input: '1969-12-31', expected: -1 },
  { type: 'date', input: '2000-02-29', expected: 11016 },
  { type: 'date', input: '2024-02-29', expected: 19782 },
  { type: 'date', input: '2026-11-25', expected: 20782 },
  { type: 'date', input: '1900-03-01', expected: -25508 },
  { type: 'date', input: '0000-02-29', expected: -719469 },
  { type: 'date', input: '0001-01-01', expected: -719162 },
  { type: 'date', input: '9999-12-31', expected: 2932896 },
  { type: 'timestamp', input: '1970-01-01T00:00:00', expected: 0n },
  { type: 'timestamp', input: '1970-01-01 00:00', expected: 0n },
  { type: 'timestamp', input: '2026-11-25T12:00:00', expected: 1_795_608_000_000_000n },
  { type: 'timestamp', input: '2026-11-25T12:00:00.123456', expected: 1_795_608_000_123_456n },
  { type: 'timestamp', input: '2026-11-25T12:00:00.1', expected: 1_795_608_000_100_000n },
  { type: 'timestamp', input: '2026-11-25T12:00:00.123456789', expected: 1_795_608_000_123_456n },
  { type: 'timestamp', input: '1969-12-31T23:59:59', expected: -1_000_000n },
  { type: 'timestamp', input: '1969-12-31T23:59:59.999999', expected: -1n },
  // Below a microsecond the value is the microsecond it falls in (floor), before 1970 too.
  { type: 'timestamp', input: '1969-12-31T23:59:59.9999999', expected: -1n },
  { type: 'timestamp', input: '1900-01-01T00:00:00', expected: -2_208_988_800_000_000n },
  { type: 'timestamp', input: '2024-02-29T23:59:59', expected: 1_709_251_199_000_000n },
  { type: 'timestamptz', input: '1970-01-01T00:00:00Z', expected: 0n },
  { type: 'timestamptz', input: '2026-11-25T12:00:00Z', expected: 1_795_608_000_000_000n },
  { type: 'timestamptz', input: '2026-11-25T13:30:00+01:30', expected: 1_795_608_000_000_000n },
  { type: 'timestamptz', input: '2026-11-25T07:00:00-0500', expected: 1_795_608_000_000_000n },
  { type: 'timestamptz', input: '1970-01-01T00:00:00+00:01', expected: -60_000_000n },
  { type: 'timestamptz', input: '1969-12-31T19:00:00.5-05:00', expected: 500_000n },
  { type: 'timestamptz', input: '2026-11-25T12:00:00+18:00', expected: 1_795_543_200_000_000n },
  { type: 'decimal(12,2)', input: '12.34', expected: 1234n },
  { type: 'decimal(12,2)', input: 12.34, expected: 1234n },
  { type: 'decimal(12,2)', input: '12.3', expected: 1230n },
  { type: 'decimal(12,2)', input: '12', expected: 1200n },
  { type: 'decimal(12,2)', input: '-12.34', expected: -1234n },
  { type: 'decimal(12,2)', input: '-0.01', expected: -1n },
  { type: 'decimal(12,2)', input: '-0.00', expected: 0n },
  { type: 'decimal(12,2)', input: '0', expected: 0n },
  { type: 'decimal(12,2)', input: '0000000009999999999.99', expected: 999999999999n },
  { type: 'decimal(12,2)', input: '-9999999999.99', expected: -999999999999n },
  { type: 'decimal(1,1)', input: '0.5', expected: 5n },
  { type: 'decimal(3,0)', input: '-999', expected: -999n },
  {
    type: 'decimal(38,10)',
    input: '9999999999999999999999999999.9999999999',
    expected: 99999999999999999999999999999999999999n,
  },
  {
    type: 'decimal(38, 0)',
    input: '-12345678901234567890123456789012345678',
    expected: -12345678901234567890123456789012345678n,
  },
];

const refuses: { type: string; input: string | number | boolean | bigint; message: RegExp }[] = [
  { type: 'string', input: 1, message: /expected a string, but was: 1$/ },
  {
    type: 'int',
    input: 2147483648,
    message: /expected an int \(an integer in \[-2147483648, 2147483647\]\), but was: 2147483648/,
  },
  { type: 'int', input: -2147483649, message: /but was: -2147483649/ },
  { type: 'int', input: 1.5, message: /expected an int/ },
  { type: 'int', input: '1', message: /expected an int .*but was: "1"/ },
  { type: 'long', input: 2 ** 53, message: /expected a long .*but was: 9007199254740992/ },
  { type: 'long', input: 2n ** 63n, message: /but was: 9223372036854775808n/ },
  { type: 'long', input: 1.5, message: /expected a long/ },
  { type: 'float', input: Number.NaN, message: /expected a finite float, but was: NaN/ },
  { type: 'float', input: 1e39, message: /expected a float within .*32-bit.*but was: 1e\+39/ },
  { type: 'double', input: Number.POSITIVE_INFINITY, message: /expected a finite double, but was: Infinity/ },
  { type: 'double', input: Number.NaN, message: /but was: NaN/ },
  { type: 'boolean', input: 'true', message: /expected true or false, but was: "true"/ },
  { type: 'date', input: '2026-02-29', message: /a date that exists in the calendar, but was: "2026-02-29"/ },
  { type: 'date', input: '1900-02-29', message: /exists in the calendar/ },
  { type: 'date', input: '2026-13-01', message: /exists in the calendar/ },
  { type: 'date', input: '2026-11-25T00:00:00', message: /expected a date such as/ },
  { type: 'timestamp', input: '2026-11-25T12:00:00Z', message: /expected a date-time with no zone/ },
  { type: 'timestamp', input: '2026-11-25T24:00:00', message: /exists in the calendar/ },
  { type: 'timestamp', input: '2026-11-31T00:00:00', message: /exists in the calendar/ },
  { type: 'timestamptz', input: '2026-11-25T12:00:00', message: /expected a date-time with a zone/ },
  { type: 'timestamptz', input: '2026-11-25T12:00:00+19:00', message: /offset is within ±18:00/ },
  { type: 'timestamptz', input: '2026-11-25T12:00:00+01:60', message: /offset is within ±18:00/ },
  { type: 'timestamptz', input: 1795608000, message: /expected a timestamptz as text/ },
  {
    type: 'decimal(12,2)',
    input: '1.234',
    message: /expected a decimal\(12,2\) number .*but was: "1.234" \(3 digits after the point\)/,
  },
  { type: 'decimal(12,1)', input: '1.50', message: /but was: "1.50" \(2 digits after the point\)/ },
  { type: 'decimal(12,2)', input: '10000000000', message: /\(13 digits once scaled to 2\)/ },
  { type: 'decimal(3,2)', input: '12.5', message: /but was: "12.5" \(4 digits once scaled to 2\)/ },
  { type: 'decimal(12,2)', input: '1e3', message: /expected a decimal\(12,2\) number/ },
  { type: 'decimal(12,2)', input: '+1', message: /expected a decimal/ },
  { type: 'decimal(12,2)', input: '.5', message: /expected a decimal/ },
  { type: 'decimal(12,2)', input: 1e21, message: /but was: 1e\+21/ },
  { type: 'decimal(12,2)', input: true, message: /as a number or text, but was: true/ },
  { type: 'uuid', input: 'x', message: /expected a field type .*but was: "uuid"/ },
];

describe('convertValue: record value → table value', () => {
  for (const c of converts) {
    it(`${c.type} ${JSON.stringify(c.input)} → ${String(c.expected)}`, () => {
      const r = convertValue(c.type, c.input);
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.ok(
        Object.is(r.value, c.expected) || r.value === c.expected,
        `${String(r.value)} !== ${String(c.expected)}`,
      );
      assert.equal(typeof r.value, typeof c.expected);
    });
  }
  it('null stays null for every type', () => {
    for (const t of [
      'string',
      'int',
      'long',
      'float',
      'double',
      'boolean',
      'date',
      'timestamp',
      'timestamptz',
      'decimal(5,2)',
    ])
      assert.deepEqual(convertValue(t, null), { ok: true, value: null });
  });
  for (const c of refuses) {
    it(`refuses ${c.type} ${typeof c.input === 'bigint' ? `${c.input}n` : JSON.stringify(c.input)}`, () => {
      const r = convertValue(c.type, c.input as never);
      assert.equal(r.ok, false, `accepted as ${r.ok ? String(r.value) : ''}`);
      if (!r.ok) assert.match(r.message, c.message);
    });
  }
  it('tableValueOf throws the message with the field name; tableRecordOf converts by field', () => {
    assert.throws(() => tableValueOf('int', 1.5, 'qty'), /^Error: qty: expected an int/);
    assert.deepEqual(
      tableRecordOf(
        [
          { name: 'id', type: 'long' },
          { name: 'weight', type: 'double' },
          { name: 'price', type: 'decimal(12,2)' },
          { name: 'note', type: 'string' },
        ],
        { id: 7, weight: 1.25, price: '3.5' },
      ),
      { id: 7n, weight: 1.25, price: 350n, note: null },
    );
  });
});

describe('calendar and text', () => {
  it('daysFromCivil and civilFromDays are inverse over ±3,000,000 days (property), and agree with Date', () => {
    fc.assert(
      fc.property(fc.integer({ min: -3_000_000, max: 3_000_000 }), (days) => {
        const [y, m, d] = civilFromDays(days);
        assert.equal(daysFromCivil(y, m, d), days);
        if (y >= 100 && y <= 9999) {
          const iso = new Date(days * 86_400_000).toISOString().slice(0, 10);
          assert.equal(dateText(days), iso);
        }
      }),
    );
  });
  const texts: { name: string; got: () => string; expected: string }[] = [
    { name: 'date 0', got: () => dateText(0), expected: '1970-01-01' },
    { name: 'date -1', got: () => dateText(-1), expected: '1969-12-31' },
    { name: 'leap day', got: () => dateText(19782), expected: '2024-02-29' },
    { name: 'timestamp -1 µs', got: () => timestampText(-1n, false), expected: '1969-12-31T23:59:59.999999' },
    {
      name: 'timestamptz',
      got: () => timestampText(1_795_608_000_123_456n, true),
      expected: '2026-11-25T12:00:00.123456Z',
    },
    { name: 'decimal -0.01', got: () => decimalText(-1n, 2), expected: '-0.01' },
    { name: 'decimal 12.30', got: () => decimalText(1230n, 2), expected: '12.30' },
    { name: 'decimal scale 0', got: () => decimalText(-999n, 0), expected: '-999' },
  ];
  for (const t of texts) it(t.name, () => assert.equal(t.got(), t.expected));
});

describe('JSON-safe encoding', () => {
  it('every converted value survives JSON text exactly (bigints, -0.0, pre-1970, bounds)', () => {
    for (const c of converts) {
      const encoded = encodeValue(c.type, c.expected);
      const back = decodeValue(c.type, JSON.parse(JSON.stringify(encoded)));
      assert.ok(Object.is(back, c.expected), `${c.type} ${String(c.expected)} came back as ${String(back)}`);
    }
  });
  const encodings: { type: string; value: TableValue; expected: unknown }[] = [
    { type: 'long', value: -(2n ** 63n), expected: '-9223372036854775808' },
    { type: 'long', value: 2n ** 63n - 1n, expected: '9223372036854775807' },
    { type: 'timestamptz', value: -1n, expected: '-1' },
    { type: 'decimal(38,0)', value: 10n ** 37n, expected: '10000000000000000000000000000000000000' },
    { type: 'double', value: -0, expected: '-0' },
    { type: 'double', value: 0, expected: 0 },
    { type: 'float', value: 1.5, expected: 1.5 },
    { type: 'date', value: -719469, expected: -719469 },
    { type: 'int', value: -2147483648, expected: -2147483648 },
    { type: 'string', value: 'x', expected: 'x' },
    { type: 'boolean', value: false, expected: false },
    { type: 'timestamp', value: null, expected: null },
  ];
  for (const e of encodings)
    it(`${e.type} ${Object.is(e.value, -0) ? '-0' : String(e.value)} → ${JSON.stringify(e.expected)}`, () =>
      assert.deepEqual(encodeValue(e.type, e.value), e.expected));

  const badDecodes: { type: string; encoded: unknown; message: RegExp }[] = [
    {
      type: 'long',
      encoded: 12,
      message: /expected integer digits as a string for a long value, but was: 12 \(number\)/,
    },
    { type: 'timestamptz', encoded: '12.5', message: /integer digits/ },
    { type: 'decimal(5,2)', encoded: '1e3', message: /integer digits/ },
    { type: 'int', encoded: '1', message: /expected an integer number for a int value/ },
    { type: 'double', encoded: 'NaN', message: /a finite number or "-0"/ },
    { type: 'boolean', encoded: 1, message: /expected a boolean/ },
    { type: 'blob', encoded: 'x', message: /a known field type/ },
  ];
  for (const b of badDecodes)
    it(`decode refuses ${b.type} ${JSON.stringify(b.encoded)}`, () =>
      assert.throws(() => decodeValue(b.type, b.encoded), b.message));

  it('encode refuses a value of the wrong representation', () => {
    assert.throws(() => encodeValue('long', 5), /expected a bigint for a long value, but was: 5 \(number\)/);
    assert.throws(() => encodeValue('double', Number.NaN), /a finite number/);
    assert.throws(() => encodeValue('int', 1.5), /an integer number/);
  });

  it('rows: encodeRow / decodeRow round-trip through JSON and name the column at fault', () => {
    const columns = [
      { name: 'id', type: 'long' },
      { name: 'at', type: 'timestamptz' },
      { name: 'price', type: 'decimal(12,2)' },
      { name: 'w', type: 'double' },
      { name: 'd', type: 'date' },
      { name: 'ok', type: 'boolean' },
      { name: 'gone', type: 'string' },
    ];
    const row = { id: 1n, at: -5n, price: -1234n, w: -0, d: -1, ok: true, gone: null };
    const json = JSON.parse(JSON.stringify(encodeRow(columns, row)));
    const back = decodeRow(columns, json);
    assert.deepEqual(back, row);
    assert.ok(Object.is(back.w, -0));
    assert.throws(() => encodeRow(columns, { ...row, id: 1 }), /^Error: column id: expected a bigint/);
    assert.throws(() => decodeRow(columns, { ...json, at: 5 }), /^Error: column at: expected integer digits/);
  });

  it('property: any long, timestamp, decimal(38,S) and double round-trips', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (big, dbl) => {
          for (const t of ['long', 'timestamp', 'timestamptz', 'decimal(38,4)'])
            assert.equal(decodeValue(t, JSON.parse(JSON.stringify(encodeValue(t, big)))), big);
          assert.ok(
            Object.is(decodeValue('double', JSON.parse(JSON.stringify(encodeValue('double', dbl)))), dbl),
          );
        },
      ),
    );
  });
});
