// Record validation from a spec's stream (shared/spec/records.ts): for the shipped default it is
// shared/ingest/validate.ts exactly (same values, codes, paths and messages, on generated records of
// every defect), and the other types of a spec take and refuse what they should (table-driven).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateOrder, validatePayment } from '../../../shared/ingest/validate.ts';
import { defaultJoinSpec, loadJoinSpec } from '../../../shared/spec/load.ts';
import type { StreamSpec } from '../../../shared/spec/model.ts';
import { validateStreamRecord } from '../../../shared/spec/records.ts';

const spec = defaultJoinSpec();
const ORDER_WIRE = {
  orderId: 'order_id',
  orderDate: 'order_date',
  createdAt: 'created_at',
  customerId: 'customer_id',
  amount: 'amount',
};
const PAYMENT_WIRE = {
  paymentId: 'payment_id',
  orderId: 'order_id',
  paymentDate: 'payment_date',
  createdAt: 'created_at',
  amount: 'amount',
};

const anyValue = fc.oneof(
  fc.constantFrom(
    'o-1',
    '2026-11-25T12:00:00',
    '',
    '   ',
    '\t\n',
    '\ud800',
    'x'.repeat(5000),
    'é'.repeat(2100),
  ),
  fc.string(),
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    12.5,
    2147483647,
    2147483648,
    -2147483648,
    -2147483649,
    1e300,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
);
const record = (keys: readonly string[]) =>
  fc.oneof(
    fc.record(Object.fromEntries(keys.map((k) => [k, anyValue])), { requiredKeys: [] }),
    fc.record(
      Object.fromEntries(
        keys.map((k) => [k, fc.oneof(anyValue, fc.constant('ok-value'), fc.integer({ min: -5, max: 5 }))]),
      ),
    ),
    anyValue,
  );

describe('records of the default spec are validated as shared/ingest/validate.ts validates them', () => {
  const sides: Array<{
    name: string;
    stream: StreamSpec;
    wire: Record<string, string>;
    today: typeof validateOrder;
  }> = [
    { name: 'orders', stream: spec.left, wire: ORDER_WIRE, today: validateOrder },
    {
      name: 'payments',
      stream: spec.right,
      wire: PAYMENT_WIRE,
      today: validatePayment as unknown as typeof validateOrder,
    },
  ];
  for (const s of sides) {
    it(`${s.name}: same values, or the same issues in the same order`, () => {
      fc.assert(
        fc.property(record(Object.values(s.wire)), fc.integer({ min: 1, max: 1000 }), (value, line) => {
          const today = s.today(value, { line });
          const now = validateStreamRecord(s.stream, value, { line });
          if (today.ok) {
            assert.ok(now.ok, JSON.stringify(now));
            const expected = Object.fromEntries(Object.entries(today.value).map(([k, v]) => [s.wire[k]!, v]));
            assert.deepEqual(now.value, expected);
          } else {
            assert.equal(now.ok, false);
            if (!now.ok) assert.deepEqual(now.issues, today.issues);
          }
        }),
        { numRuns: 3000 },
      );
    });
  }
});

describe('the other types a spec may declare', () => {
  const shipments = loadJoinSpec('specs/shipments-deliveries.yaml');
  const field = (type: string, nullable = false): StreamSpec => ({
    ...shipments.left,
    fields: [{ name: 'v', type, nullable }],
  });
  const cases: Array<{ type: string; nullable?: boolean; value: unknown; expected: unknown }> = [
    { type: 'long', value: 9007199254740991, expected: 9007199254740991 },
    { type: 'long', value: 9007199254740992, expected: 'out-of-range' },
    { type: 'long', value: 1.5, expected: 'not-an-integer' },
    { type: 'double', value: 1.25, expected: 1.25 },
    { type: 'double', value: '1.25', expected: 'wrong-type' },
    { type: 'float', value: 3, expected: 3 },
    { type: 'boolean', value: true, expected: true },
    { type: 'boolean', value: 'true', expected: 'wrong-type' },
    { type: 'date', value: '2026-02-28', expected: '2026-02-28' },
    { type: 'date', value: '2026-02-30', expected: 'out-of-range' },
    { type: 'date', value: '2026-2-3', expected: 'wrong-type' },
    { type: 'timestamp', value: '2026-11-25T12:00:00', expected: '2026-11-25T12:00:00' },
    { type: 'timestamp', value: '2026-11-25T12:00:00.123456', expected: '2026-11-25T12:00:00.123456' },
    { type: 'timestamp', value: '2026-11-25T12:00:00Z', expected: 'wrong-type' },
    { type: 'timestamp', value: '2026-11-25T24:00:00', expected: 'out-of-range' },
    { type: 'timestamptz', value: '2026-11-25T12:00:00Z', expected: '2026-11-25T12:00:00Z' },
    { type: 'timestamptz', value: '2026-11-25T12:00:00+01:00', expected: '2026-11-25T12:00:00+01:00' },
    { type: 'timestamptz', value: '2026-11-25T12:00:00', expected: 'wrong-type' },
    { type: 'decimal(10, 2)', value: 12.5, expected: '12.5' },
    { type: 'decimal(10, 2)', value: '-0012345678.99', expected: '-0012345678.99' },
    { type: 'decimal(10, 2)', value: '1.234', expected: 'out-of-range' },
    { type: 'decimal(4, 0)', value: 12345, expected: 'out-of-range' },
    { type: 'decimal(10, 2)', value: '1e3', expected: 'wrong-type' },
    // What is accepted here converts to a table value (values.ts): precision counts digits once scaled,
    // floats fit in 32 bits, dates of any year, offsets within ±18:00.
    { type: 'decimal(3, 2)', value: '12.5', expected: 'out-of-range' },
    { type: 'decimal(1, 1)', value: '0.5', expected: '0.5' },
    { type: 'float', value: 1e39, expected: 'out-of-range' },
    { type: 'double', value: 1e39, expected: 1e39 },
    { type: 'date', value: '0000-02-29', expected: '0000-02-29' },
    { type: 'date', value: '1900-02-29', expected: 'out-of-range' },
    { type: 'timestamptz', value: '2026-11-25T12:00:00+19:00', expected: 'out-of-range' },
    { type: 'double', nullable: true, value: null, expected: null },
    { type: 'double', nullable: true, value: undefined, expected: null },
    { type: 'double', value: null, expected: 'null-field' },
    { type: 'double', value: undefined, expected: 'missing-field' },
  ];
  for (const c of cases) {
    it(`${c.type}${c.nullable ? ' (nullable)' : ''}: ${JSON.stringify(c.value)} → ${JSON.stringify(c.expected)}`, () => {
      const r = validateStreamRecord(field(c.type, c.nullable), c.value === undefined ? {} : { v: c.value });
      if (r.ok) assert.deepEqual(r.value, { v: c.expected });
      else {
        assert.equal(r.issues.length, 1);
        assert.equal(r.issues[0]!.code, c.expected);
        assert.equal(r.issues[0]!.path.field, 'v');
        assert.match(r.issues[0]!.message, /^v (must be|is required)/);
      }
    });
  }

  it('a shipment of the example spec, and one missing its key', () => {
    const sample: Record<string, unknown> = {
      string: 'x',
      int: 7,
      long: 7,
      double: 2.5,
      float: 2.5,
      boolean: true,
      date: '2026-11-25',
      timestamp: '2026-11-25T12:00:00',
      timestamptz: '2026-11-25T12:00:00Z',
    };
    const ok = validateStreamRecord(
      shipments.left,
      Object.fromEntries(shipments.left.fields.map((f) => [f.name, sample[f.type] ?? '12.50'])),
    );
    assert.ok(ok.ok, JSON.stringify(ok));
    const bad = validateStreamRecord(shipments.left, {}, { line: 3 });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.deepEqual(bad.issues[0]!.path, { line: 3, field: shipments.left.fields[0]!.name });
  });
});
