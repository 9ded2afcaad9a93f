// validateOrder / validatePayment: DESIGN §1 field names and types, INT32 amounts, bounded strings; every
// issue says what was expected and what came.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AMOUNT_MAX,
  AMOUNT_MIN,
  validateEvent,
  validateOrder,
  validatePayment,
} from '../../../shared/ingest/validate.ts';

const ORDER = {
  order_id: 'o1',
  order_date: '2026-11-25T17:51:49',
  created_at: '2026-11-25T17:51:49',
  customer_id: 'c1',
  amount: 1250,
};
const PAYMENT = {
  payment_id: 'p1',
  order_id: 'o1',
  payment_date: '2026-11-25T17:52:00',
  created_at: '2026-11-25T17:52:00',
  amount: 1250,
};
const AMOUNT = `an integer in [${AMOUNT_MIN}, ${AMOUNT_MAX}]`;
const STRING = 'a non-empty string of at most 4096 UTF-8 bytes';

const cases: Array<{
  name: string;
  input: unknown;
  expected:
    | { ok: true; amount?: number }
    | { ok: false; issues: Array<[code: string, field: string | undefined, message: string]> };
}> = [
  { name: 'a valid order', input: ORDER, expected: { ok: true } },
  {
    name: 'unknown extra fields are ignored',
    input: { ...ORDER, note: 'x', nested: { a: [1] } },
    expected: { ok: true },
  },
  {
    name: 'negative amount (refund) within INT32',
    input: { ...ORDER, amount: -5 },
    expected: { ok: true, amount: -5 },
  },
  {
    name: 'INT32 minimum',
    input: { ...ORDER, amount: AMOUNT_MIN },
    expected: { ok: true, amount: AMOUNT_MIN },
  },
  {
    name: 'INT32 maximum',
    input: { ...ORDER, amount: AMOUNT_MAX },
    expected: { ok: true, amount: AMOUNT_MAX },
  },
  {
    name: '12.0 is the integer 12 in JSON',
    input: { ...ORDER, amount: 12.0 },
    expected: { ok: true, amount: 12 },
  },
  { name: '-0 becomes 0', input: { ...ORDER, amount: -0 }, expected: { ok: true, amount: 0 } },
  {
    name: 'float amount',
    input: { ...ORDER, amount: 12.5 },
    expected: {
      ok: false,
      issues: [['not-an-integer', 'amount', `amount must be ${AMOUNT}, but was: 12.5`]],
    },
  },
  {
    name: 'number given as a string',
    input: { ...ORDER, amount: '12.5' },
    expected: { ok: false, issues: [['wrong-type', 'amount', `amount must be ${AMOUNT}, but was: "12.5"`]] },
  },
  {
    name: 'overflow above INT32',
    input: { ...ORDER, amount: 2147483648 },
    expected: {
      ok: false,
      issues: [['out-of-range', 'amount', `amount must be ${AMOUNT}, but was: 2147483648`]],
    },
  },
  {
    name: 'overflow below INT32',
    input: { ...ORDER, amount: -2147483649 },
    expected: {
      ok: false,
      issues: [['out-of-range', 'amount', `amount must be ${AMOUNT}, but was: -2147483649`]],
    },
  },
  {
    name: 'huge number (1e400 parses as Infinity)',
    input: JSON.parse('{"amount": 1e400}'),
    expected: {
      ok: false,
      issues: [
        ['missing-field', 'order_id', `order_id is required (${STRING}), but was missing`],
        ['missing-field', 'order_date', `order_date is required (${STRING}), but was missing`],
        ['missing-field', 'created_at', `created_at is required (${STRING}), but was missing`],
        ['missing-field', 'customer_id', `customer_id is required (${STRING}), but was missing`],
        [
          'out-of-range',
          'amount',
          `amount must be ${AMOUNT}, but was: Infinity (a number beyond double precision, e.g. 1e400)`,
        ],
      ],
    },
  },
  {
    name: 'null field',
    input: { ...ORDER, customer_id: null },
    expected: {
      ok: false,
      issues: [['null-field', 'customer_id', `customer_id must be ${STRING}, but was: null`]],
    },
  },
  {
    name: 'null amount',
    input: { ...ORDER, amount: null },
    expected: { ok: false, issues: [['null-field', 'amount', `amount must be ${AMOUNT}, but was: null`]] },
  },
  {
    name: 'missing amount',
    input: { ...ORDER, amount: undefined },
    expected: {
      ok: false,
      issues: [['missing-field', 'amount', `amount is required (${AMOUNT}), but was missing`]],
    },
  },
  {
    name: 'id as a number',
    input: { ...ORDER, order_id: 17 },
    expected: { ok: false, issues: [['wrong-type', 'order_id', `order_id must be ${STRING}, but was: 17`]] },
  },
  {
    name: 'boolean amount',
    input: { ...ORDER, amount: true },
    expected: { ok: false, issues: [['wrong-type', 'amount', `amount must be ${AMOUNT}, but was: true`]] },
  },
  {
    name: 'object where a string belongs',
    input: { ...ORDER, order_date: { y: 2026 } },
    expected: {
      ok: false,
      issues: [['wrong-type', 'order_date', `order_date must be ${STRING}, but was: an object`]],
    },
  },
  {
    name: 'empty string',
    input: { ...ORDER, order_id: '' },
    expected: {
      ok: false,
      issues: [['empty-string', 'order_id', `order_id must be ${STRING}, but was: ""`]],
    },
  },
  {
    name: 'string of exactly 4096 bytes',
    input: { ...ORDER, customer_id: 'é'.repeat(2048) },
    expected: { ok: true },
  },
  {
    name: 'string of 4097 bytes (multi-byte characters count as bytes)',
    input: { ...ORDER, customer_id: `${'é'.repeat(2048)}x` },
    expected: {
      ok: false,
      issues: [
        [
          'string-too-long',
          'customer_id',
          `customer_id must be ${STRING}, but was 4097 bytes: "${'é'.repeat(80)}…" (2049 characters)`,
        ],
      ],
    },
  },
  {
    name: 'lone surrogate',
    input: { ...ORDER, order_id: 'a\ud800b' },
    expected: {
      ok: false,
      issues: [
        [
          'invalid-string',
          'order_id',
          `order_id must be valid Unicode text (no lone surrogates), but was: "a\\ud800b"`,
        ],
      ],
    },
  },
  {
    name: 'emoji and other scripts are fine',
    input: { ...ORDER, order_id: '注文-😀-\u200d' },
    expected: { ok: true },
  },
  {
    name: 'an array is not an order',
    input: [ORDER],
    expected: {
      ok: false,
      issues: [
        ['not-an-object', undefined, 'an order must be a JSON object, but was: an array of 1 element'],
      ],
    },
  },
  {
    name: 'null is not an order',
    input: null,
    expected: {
      ok: false,
      issues: [['not-an-object', undefined, 'an order must be a JSON object, but was: null']],
    },
  },
  {
    name: 'a string is not an order',
    input: 'order',
    expected: {
      ok: false,
      issues: [['not-an-object', undefined, 'an order must be a JSON object, but was: "order"']],
    },
  },
  {
    name: 'inherited names do not count as fields',
    input: Object.assign(Object.create({ order_id: 'x' }), { ...ORDER, order_id: undefined }),
    expected: {
      ok: false,
      issues: [['missing-field', 'order_id', `order_id is required (${STRING}), but was missing`]],
    },
  },
];

describe('validateOrder', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = validateOrder(c.input, { line: 7 });
      if (c.expected.ok) {
        assert.equal(r.ok, true, r.ok ? '' : r.issues.map((i) => i.message).join('; '));
        if (r.ok && c.expected.amount !== undefined) assert.ok(Object.is(r.value.amount, c.expected.amount));
        return;
      }
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.deepEqual(
        r.issues.map((i) => [i.code, i.path.field, i.message]),
        c.expected.issues,
      );
      for (const i of r.issues) assert.equal(i.path.line, 7);
    });
  }

  it('maps wire names to the domain record and drops extras', () => {
    assert.deepEqual(validateOrder({ ...ORDER, extra: 1 }), {
      ok: true,
      value: {
        orderId: 'o1',
        orderDate: '2026-11-25T17:51:49',
        createdAt: '2026-11-25T17:51:49',
        customerId: 'c1',
        amount: 1250,
      },
    });
  });
});

describe('validatePayment', () => {
  it('maps a valid payment', () => {
    assert.deepEqual(validatePayment(PAYMENT), {
      ok: true,
      value: {
        paymentId: 'p1',
        orderId: 'o1',
        paymentDate: '2026-11-25T17:52:00',
        createdAt: '2026-11-25T17:52:00',
        amount: 1250,
      },
    });
  });

  it('reports every bad field, in the order of DESIGN §1', () => {
    const r = validatePayment({ order_id: 5, payment_date: null, amount: '1' }, { index: 3 });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.issues.map((i) => [i.code, i.path]),
      [
        ['missing-field', { index: 3, field: 'payment_id' }],
        ['wrong-type', { index: 3, field: 'order_id' }],
        ['null-field', { index: 3, field: 'payment_date' }],
        ['missing-field', { index: 3, field: 'created_at' }],
        ['wrong-type', { index: 3, field: 'amount' }],
      ],
    );
  });

  it('an order is not a payment (the kind comes from the prefix)', () => {
    const r = validateEvent('payment', ORDER);
    assert.equal(r.ok, false);
  });

  it('validateEvent tags the kind', () => {
    assert.deepEqual(validateEvent('order', ORDER), {
      ok: true,
      value: { kind: 'order', order: (validateOrder(ORDER) as { value: unknown }).value },
    });
  });
});
