// Record validation (DESIGN §1): a parsed JSON value becomes an Order or a Payment, or a list of issues.
// Pure and total: never throws, whatever the value. The kind comes from the caller (the object's prefix).
import { describeValue, type Issue, type IssuePath, type Result } from './issues.ts';

export const EVENT_KINDS = ['order', 'payment'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** An order as the producer writes it (`order_id`, `order_date`, `created_at`, `customer_id`, `amount`). */
export interface Order {
  readonly orderId: string;
  readonly orderDate: string;
  readonly createdAt: string;
  readonly customerId: string;
  readonly amount: number;
}

/** A payment as the producer writes it (`payment_id`, `order_id`, `payment_date`, `created_at`, `amount`). */
export interface Payment {
  readonly paymentId: string;
  readonly orderId: string;
  readonly paymentDate: string;
  readonly createdAt: string;
  readonly amount: number;
}

/** Output columns are Iceberg INT (32-bit signed). Negative amounts are allowed: the column is signed
 *  and refunds/corrections exist; the original Spark job (IntegerType) accepted them too. */
export const AMOUNT_MIN = -2147483648;
export const AMOUNT_MAX = 2147483647;
/** Longest accepted string field, in UTF-8 bytes. */
export const MAX_STRING_BYTES = 4096;

type Fields<T> = { readonly [K in keyof T]: { readonly wire: string; readonly type: 'string' | 'amount' } };

// Wire names exactly as DESIGN §1; the order of entries is the order issues are reported in.
const ORDER_FIELDS: Fields<Order> = {
  orderId: { wire: 'order_id', type: 'string' },
  orderDate: { wire: 'order_date', type: 'string' },
  createdAt: { wire: 'created_at', type: 'string' },
  customerId: { wire: 'customer_id', type: 'string' },
  amount: { wire: 'amount', type: 'amount' },
};
const PAYMENT_FIELDS: Fields<Payment> = {
  paymentId: { wire: 'payment_id', type: 'string' },
  orderId: { wire: 'order_id', type: 'string' },
  paymentDate: { wire: 'payment_date', type: 'string' },
  createdAt: { wire: 'created_at', type: 'string' },
  amount: { wire: 'amount', type: 'amount' },
};

const AMOUNT_EXPECTED = `an integer in [${AMOUNT_MIN}, ${AMOUNT_MAX}]`;
const STRING_EXPECTED = `a non-empty string of at most ${MAX_STRING_BYTES} UTF-8 bytes`;

function checkString(value: unknown, field: string, at: IssuePath): Issue | undefined {
  const path = { ...at, field };
  if (value === undefined)
    return {
      code: 'missing-field',
      path,
      message: `${field} is required (${STRING_EXPECTED}), but was missing`,
    };
  if (value === null)
    return { code: 'null-field', path, message: `${field} must be ${STRING_EXPECTED}, but was: null` };
  if (typeof value !== 'string') {
    return {
      code: 'wrong-type',
      path,
      message: `${field} must be ${STRING_EXPECTED}, but was: ${describeValue(value)}`,
    };
  }
  if (value.length === 0)
    return { code: 'empty-string', path, message: `${field} must be ${STRING_EXPECTED}, but was: ""` };
  // Only whitespace: not a value anyone meant (an order_id of spaces would join other blank ids).
  if (value.trim().length === 0) {
    return {
      code: 'blank-string',
      path,
      message: `${field} must be ${STRING_EXPECTED} with a character other than whitespace, but was: ${describeValue(value)}`,
    };
  }
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes, so only long strings need measuring.
  if (value.length > MAX_STRING_BYTES / 3) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_STRING_BYTES) {
      return {
        code: 'string-too-long',
        path,
        message: `${field} must be ${STRING_EXPECTED}, but was ${bytes} bytes: ${describeValue(value)}`,
      };
    }
  }
  // A lone surrogate ("\ud800") is valid JSON but not Unicode: it cannot be written as UTF-8 to Parquet.
  if (!value.isWellFormed()) {
    return {
      code: 'invalid-string',
      path,
      message: `${field} must be valid Unicode text (no lone surrogates), but was: ${describeValue(value)}`,
    };
  }
  return undefined;
}

function checkAmount(value: unknown, field: string, at: IssuePath): Issue | undefined {
  const path = { ...at, field };
  if (value === undefined)
    return {
      code: 'missing-field',
      path,
      message: `${field} is required (${AMOUNT_EXPECTED}), but was missing`,
    };
  if (value === null)
    return { code: 'null-field', path, message: `${field} must be ${AMOUNT_EXPECTED}, but was: null` };
  if (typeof value !== 'number') {
    // "12" is refused like any string: the producer writes numbers, and coercion would hide a broken producer.
    return {
      code: 'wrong-type',
      path,
      message: `${field} must be ${AMOUNT_EXPECTED}, but was: ${describeValue(value)}`,
    };
  }
  if (!Number.isFinite(value)) {
    return {
      code: 'out-of-range',
      path,
      message: `${field} must be ${AMOUNT_EXPECTED}, but was: ${describeValue(value)}`,
    };
  }
  if (!Number.isInteger(value)) {
    return {
      code: 'not-an-integer',
      path,
      message: `${field} must be ${AMOUNT_EXPECTED}, but was: ${describeValue(value)}`,
    };
  }
  if (value < AMOUNT_MIN || value > AMOUNT_MAX) {
    return {
      code: 'out-of-range',
      path,
      message: `${field} must be ${AMOUNT_EXPECTED}, but was: ${describeValue(value)}`,
    };
  }
  return undefined;
}

function validateFields<T>(fields: Fields<T>, kind: EventKind, value: unknown, at: IssuePath): Result<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      issues: [
        {
          code: 'not-an-object',
          path: at,
          message: `${kind === 'order' ? 'an order' : 'a payment'} must be a JSON object, but was: ${describeValue(value)}`,
        },
      ],
    };
  }
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const issues: Issue[] = [];
  for (const [key, spec] of Object.entries(fields) as [string, Fields<T>[keyof T]][]) {
    // Own properties only: `{"__proto__": …}` or inherited names must not count as fields.
    const raw = Object.hasOwn(record, spec.wire) ? record[spec.wire] : undefined;
    const issue = spec.type === 'string' ? checkString(raw, spec.wire, at) : checkAmount(raw, spec.wire, at);
    if (issue === undefined) out[key] = spec.type === 'amount' && Object.is(raw, -0) ? 0 : raw;
    else issues.push(issue);
  }
  // Unknown extra fields are ignored (DESIGN §1 names the contract; additions by the producer are harmless).
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out as T };
}

export function validateOrder(value: unknown, at: IssuePath = {}): Result<Order> {
  return validateFields(ORDER_FIELDS, 'order', value, at);
}

export function validatePayment(value: unknown, at: IssuePath = {}): Result<Payment> {
  return validateFields(PAYMENT_FIELDS, 'payment', value, at);
}

export type ValidatedEvent =
  | { readonly kind: 'order'; readonly order: Order }
  | { readonly kind: 'payment'; readonly payment: Payment };

/** Validates a record of the given kind; `at` (line / index) is copied into every issue's path. */
export function validateEvent(kind: EventKind, value: unknown, at: IssuePath = {}): Result<ValidatedEvent> {
  if (kind === 'order') {
    const r = validateOrder(value, at);
    return r.ok ? { ok: true, value: { kind, order: r.value } } : r;
  }
  const r = validatePayment(value, at);
  return r.ok ? { ok: true, value: { kind, payment: r.value } } : r;
}
