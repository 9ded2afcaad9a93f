// Every row of DESIGN §3's table, table-driven: a history of events builds the state, then one event that
// landed at `now` (or a tick whose watermark is `now`) must give the expected state, rows and counters.
// Time is landing time: each event carries it (source.landedAtMs); ingest time plays no part.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Order, Payment } from '../../../shared/ingest/validate.ts';
import { planOf } from '../../../shared/join/plan.ts';
import { type EmittedRow, rowId, toTableRow } from '../../../shared/join/rows.ts';
import {
  applyEvent,
  expireIfDue,
  type JoinCounters,
  type JoinEvent,
  type JoinSettings,
  type JoinState,
  type JoinStatus,
  MAX_PENDING_PAYMENTS,
  paymentKey,
} from '../../../shared/join/state-machine.ts';
import { defaultJoinSpec } from '../../../shared/spec/load.ts';
import { orderEvent, paymentEvent } from '../../support/default-events.ts';

const MIN = 60_000;
// Distinct timeouts, so a test notices which one a state used.
const settings: JoinSettings = {
  orderTimeoutMs: 15 * MIN,
  paymentTimeoutMs: 10 * MIN,
  tombstoneRetentionMs: 7 * 24 * 60 * MIN,
};
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

let ordinal = 0;
const source = () => ({
  bucket: 'file-stream-bucket',
  object: 'stream/x.json',
  generation: '1',
  ordinal: ordinal++,
  landedAtMs: 0,
});

/** The event as if its object landed at `t`. */
function at(e: JoinEvent, t: number): JoinEvent {
  return { ...e, source: { ...e.source, landedAtMs: t } };
}

function order(fields: Partial<Order> = {}): JoinEvent {
  return orderEvent(
    {
      orderId: 'o1',
      orderDate: '2026-11-25T12:00:00',
      createdAt: '2026-11-25T12:00:01',
      customerId: 'c1',
      amount: 100,
      ...fields,
    },
    source(),
  );
}
function payment(paymentId: string, fields: Partial<Payment> = {}): JoinEvent {
  return paymentEvent(
    {
      paymentId,
      orderId: 'o1',
      paymentDate: '2026-11-25T12:05:00',
      createdAt: '2026-11-25T12:05:01',
      amount: 100,
      ...fields,
    },
    source(),
  );
}
const plan = planOf(defaultJoinSpec());

/** Applies [event, landed at] pairs (or [tick, watermark]) from no state, as ingest and the tick would. */
function run(history: Array<[JoinEvent | 'tick', number]>): JoinState | undefined {
  let state: JoinState | undefined;
  for (const [e, t] of history) {
    if (e === 'tick') state = expireIfDue(state!, t, settings).state;
    else state = applyEvent(state, at(e, t), settings).state;
  }
  return state;
}

/** A row reduced to what the table decides: table, reason, whose fields it carries. */
interface RowShape {
  table: 'joined' | 'unmatched';
  reason: string | null;
  /** customer_id (order side) or null. */
  order: string | null;
  payment: string | null;
  atMs: number;
}
const shape = (r: EmittedRow): RowShape => ({
  table: r.table,
  reason: r.reason,
  order: r.values.customer_id as string | null,
  payment: r.values.payment_id as string | null,
  atMs: r.atMs,
});

interface Case {
  name: string;
  given: Array<[JoinEvent | 'tick', number]>;
  givenStatus: JoinStatus | 'none';
  event: JoinEvent | 'tick';
  now: number;
  expected: {
    status: JoinStatus;
    rows: RowShape[];
    counters: Partial<JoinCounters>;
    changed: boolean;
    deadlineMs?: number | null;
    purgeAtMs?: number | null;
    expiredAs?: 'order_timeout' | 'payment_orphan' | null;
    /** `kind:id` of the events a waiting state holds undecided. */
    pending?: string[];
    lateForWindowMs?: number | null;
  };
}

const o = order();
const p1 = payment('p1');
const p1again = payment('p1', { amount: 999 }); // same payment_id, other content: still a duplicate
const p2 = payment('p2', { amount: 50 });
const oAgain = order({ customerId: 'c-other' }); // first order wins
const ORDER_DEADLINE = T0 + settings.orderTimeoutMs;
const PAYMENT_DEADLINE = T0 + settings.paymentTimeoutMs;
const late = T0 + 60 * MIN;
const JOINED_AT = T0 + MIN;

const cases: Case[] = [
  {
    name: 'none + order → WAITING_PAYMENT, deadline = now + ORDER_TIMEOUT',
    given: [],
    givenStatus: 'none',
    event: o,
    now: T0,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: {},
      changed: true,
      deadlineMs: ORDER_DEADLINE,
      purgeAtMs: null,
    },
  },
  {
    name: 'none + payment → WAITING_ORDER (early payment), deadline = now + PAYMENT_TIMEOUT',
    given: [],
    givenStatus: 'none',
    event: p1,
    now: T0,
    expected: {
      status: 'WAITING_ORDER',
      rows: [],
      counters: {},
      changed: true,
      deadlineMs: PAYMENT_DEADLINE,
      purgeAtMs: null,
    },
  },
  {
    name: 'WAITING_PAYMENT + payment → JOINED, joined row',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: p1,
    now: JOINED_AT,
    expected: {
      status: 'JOINED',
      rows: [{ table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: JOINED_AT }],
      counters: { joined: 1 },
      changed: true,
      deadlineMs: null,
      purgeAtMs: JOINED_AT + settings.tombstoneRetentionMs,
    },
  },
  {
    name: 'WAITING_ORDER + order → JOINED, joined row',
    given: [[p1, T0]],
    givenStatus: 'WAITING_ORDER',
    event: o,
    now: JOINED_AT,
    expected: {
      status: 'JOINED',
      rows: [{ table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: JOINED_AT }],
      counters: { joined: 1 },
      changed: true,
      deadlineMs: null,
      purgeAtMs: JOINED_AT + settings.tombstoneRetentionMs,
    },
  },
  {
    name: 'WAITING_PAYMENT + order again → duplicate, ignored (first wins), counted',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: oAgain,
    now: T0 + MIN,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: { duplicateOrders: 1 },
      changed: false,
      deadlineMs: ORDER_DEADLINE,
    },
  },
  {
    name: 'WAITING_ORDER + same payment_id again → duplicate, counted',
    given: [[p1, T0]],
    givenStatus: 'WAITING_ORDER',
    event: p1again,
    now: T0 + MIN,
    expected: {
      status: 'WAITING_ORDER',
      rows: [],
      counters: { duplicatePayments: 1 },
      changed: false,
      deadlineMs: PAYMENT_DEADLINE,
    },
  },
  {
    name: 'WAITING_ORDER + another payment_id → held undecided (the order may still land between them)',
    given: [[p1, T0]],
    givenStatus: 'WAITING_ORDER',
    event: p2,
    now: T0 + MIN,
    expected: {
      status: 'WAITING_ORDER',
      rows: [],
      counters: {},
      changed: true,
      deadlineMs: PAYMENT_DEADLINE, // the first payment keeps waiting on its own deadline
      pending: ['payment:p2'],
    },
  },
  {
    name: 'WAITING_ORDER + the extra payment_id again → duplicate (extras are remembered)',
    given: [
      [p1, T0],
      [p2, T0 + MIN],
    ],
    givenStatus: 'WAITING_ORDER',
    event: payment('p2'),
    now: T0 + 2 * MIN,
    expected: { status: 'WAITING_ORDER', rows: [], counters: { duplicatePayments: 1 }, changed: false },
  },
  {
    name: 'WAITING_ORDER with an extra + order → payment_extra for the newcomer (payment fields only), JOINED with the first payment',
    given: [
      [p1, T0],
      [p2, T0 + MIN],
    ],
    givenStatus: 'WAITING_ORDER',
    event: o,
    now: T0 + 2 * MIN,
    expected: {
      status: 'JOINED',
      rows: [
        { table: 'unmatched', reason: 'payment_extra', order: null, payment: 'p2', atMs: T0 + MIN },
        { table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: T0 + 2 * MIN },
      ],
      counters: { joined: 1, paymentExtra: 1 },
      changed: true,
      pending: [],
    },
  },
  {
    name: 'WAITING_ORDER with an extra + an order that landed between them → JOINED, then payment_extra with order fields',
    given: [
      [p1, T0],
      [p2, T0 + 2 * MIN],
    ],
    givenStatus: 'WAITING_ORDER',
    event: o,
    now: T0 + MIN,
    expected: {
      status: 'JOINED',
      rows: [
        { table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: T0 + MIN },
        { table: 'unmatched', reason: 'payment_extra', order: 'c1', payment: 'p2', atMs: T0 + 2 * MIN },
      ],
      counters: { joined: 1, paymentExtra: 1 },
      changed: true,
    },
  },
  {
    name: 'JOINED + order again → duplicate',
    given: [
      [o, T0],
      [p1, JOINED_AT],
    ],
    givenStatus: 'JOINED',
    event: oAgain,
    now: T0 + 2 * MIN,
    expected: { status: 'JOINED', rows: [], counters: { duplicateOrders: 1 }, changed: false },
  },
  {
    name: 'JOINED + same payment_id → duplicate',
    given: [
      [o, T0],
      [p1, JOINED_AT],
    ],
    givenStatus: 'JOINED',
    event: p1again,
    now: T0 + 2 * MIN,
    expected: { status: 'JOINED', rows: [], counters: { duplicatePayments: 1 }, changed: false },
  },
  {
    name: 'JOINED + another payment_id → payment_extra (order fields + new payment)',
    given: [
      [o, T0],
      [p1, JOINED_AT],
    ],
    givenStatus: 'JOINED',
    event: p2,
    now: T0 + 2 * MIN,
    expected: {
      status: 'JOINED',
      rows: [{ table: 'unmatched', reason: 'payment_extra', order: 'c1', payment: 'p2', atMs: T0 + 2 * MIN }],
      counters: { paymentExtra: 1 },
      changed: true,
      purgeAtMs: JOINED_AT + settings.tombstoneRetentionMs, // retention counts from the join, not extended
    },
  },
  {
    name: 'JOINED, long after every deadline, tick → unchanged (only waiting states expire)',
    given: [
      [o, T0],
      [p1, JOINED_AT],
    ],
    givenStatus: 'JOINED',
    event: 'tick',
    now: late,
    expected: { status: 'JOINED', rows: [], counters: {}, changed: false },
  },
  {
    name: 'WAITING_PAYMENT, 1 ms before the deadline, tick → still waiting',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: 'tick',
    now: ORDER_DEADLINE - 1,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: {},
      changed: false,
      deadlineMs: ORDER_DEADLINE,
    },
  },
  {
    name: 'WAITING_PAYMENT, 1 ms before the deadline, payment → JOINED (not expired)',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: p1,
    now: ORDER_DEADLINE - 1,
    expected: {
      status: 'JOINED',
      rows: [{ table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: ORDER_DEADLINE - 1 }],
      counters: { joined: 1 },
      changed: true,
    },
  },
  {
    name: 'WAITING_PAYMENT, deadline passed (exactly at it), tick → EXPIRED, order_timeout (order fields)',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: 'tick',
    now: ORDER_DEADLINE,
    expected: {
      status: 'EXPIRED',
      rows: [
        { table: 'unmatched', reason: 'order_timeout', order: 'c1', payment: null, atMs: ORDER_DEADLINE },
      ],
      counters: { orderTimeout: 1 },
      changed: true,
      deadlineMs: null,
      purgeAtMs: ORDER_DEADLINE + settings.tombstoneRetentionMs,
      expiredAs: 'order_timeout',
    },
  },
  {
    name: 'WAITING_ORDER, deadline passed, tick → EXPIRED, payment_orphan (payment fields) at the deadline',
    given: [[p1, T0]],
    givenStatus: 'WAITING_ORDER',
    event: 'tick',
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [
        { table: 'unmatched', reason: 'payment_orphan', order: null, payment: 'p1', atMs: PAYMENT_DEADLINE },
      ],
      counters: { paymentOrphan: 1 },
      changed: true,
      deadlineMs: null,
      purgeAtMs: PAYMENT_DEADLINE + settings.tombstoneRetentionMs,
      expiredAs: 'payment_orphan',
    },
  },
  {
    name: 'WAITING_PAYMENT + a payment that landed after the deadline → held until the window closes',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: p1,
    now: late,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: {},
      changed: true,
      deadlineMs: ORDER_DEADLINE,
      pending: ['payment:p1'],
    },
  },
  {
    name: 'WAITING_PAYMENT holding a payment landed after the deadline, tick → order_timeout at the deadline, then payment_late at its landing',
    given: [
      [o, T0],
      [p1, late],
    ],
    givenStatus: 'WAITING_PAYMENT',
    event: 'tick',
    now: late + MIN,
    expected: {
      status: 'EXPIRED',
      rows: [
        { table: 'unmatched', reason: 'order_timeout', order: 'c1', payment: null, atMs: ORDER_DEADLINE },
        { table: 'unmatched', reason: 'payment_late', order: 'c1', payment: 'p1', atMs: late },
      ],
      counters: { orderTimeout: 1, paymentLate: 1 },
      changed: true,
      expiredAs: 'order_timeout',
      pending: [],
    },
  },
  {
    name: 'WAITING_PAYMENT holding a late payment + a payment that landed in time → JOINED, the late one is payment_extra',
    given: [
      [o, T0],
      [p2, late],
    ],
    givenStatus: 'WAITING_PAYMENT',
    event: p1,
    now: JOINED_AT,
    expected: {
      status: 'JOINED',
      rows: [
        { table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: JOINED_AT },
        { table: 'unmatched', reason: 'payment_extra', order: 'c1', payment: 'p2', atMs: late },
      ],
      counters: { joined: 1, paymentExtra: 1 },
      changed: true,
    },
  },
  {
    name: 'WAITING_PAYMENT, deadline passed, order again → a duplicate; the state still waits for the tick',
    given: [[o, T0]],
    givenStatus: 'WAITING_PAYMENT',
    event: oAgain,
    now: late,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: { duplicateOrders: 1 },
      changed: false,
      deadlineMs: ORDER_DEADLINE,
    },
  },
  {
    name: 'WAITING_PAYMENT + a copy of the order that landed earlier → the earlier copy counts (its deadline)',
    given: [[oAgain, T0 + MIN]],
    givenStatus: 'WAITING_PAYMENT',
    event: o,
    now: T0,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: { duplicateOrders: 1 },
      changed: true,
      deadlineMs: ORDER_DEADLINE,
    },
  },
  {
    name: 'WAITING_ORDER + an order that landed before the payment → JOINED at the later landing (the payment)',
    given: [[p1, JOINED_AT]],
    givenStatus: 'WAITING_ORDER',
    event: o,
    now: T0,
    expected: {
      status: 'JOINED',
      rows: [{ table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: JOINED_AT }],
      counters: { joined: 1 },
      changed: true,
      purgeAtMs: JOINED_AT + settings.tombstoneRetentionMs,
    },
  },
  {
    name: 'WAITING_ORDER + an order that landed more than its timeout before the payment → held (order_timeout + payment_late once closed)',
    given: [[p1, late]],
    givenStatus: 'WAITING_ORDER',
    event: o,
    now: T0,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: {},
      changed: true,
      deadlineMs: ORDER_DEADLINE,
      pending: ['payment:p1'],
    },
  },
  {
    name: 'WAITING_ORDER, deadline passed, order → held; tick → payment_orphan at the deadline, then order_late',
    given: [
      [p1, T0],
      [o, late],
    ],
    givenStatus: 'WAITING_ORDER',
    event: 'tick',
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [
        { table: 'unmatched', reason: 'payment_orphan', order: null, payment: 'p1', atMs: PAYMENT_DEADLINE },
        { table: 'unmatched', reason: 'order_late', order: 'c1', payment: 'p1', atMs: late },
      ],
      counters: { paymentOrphan: 1, orderLate: 1 },
      changed: true,
      expiredAs: 'payment_orphan',
    },
  },
  {
    name: 'WAITING_ORDER, deadline passed, same payment_id → duplicate',
    given: [[p1, T0]],
    givenStatus: 'WAITING_ORDER',
    event: p1again,
    now: late,
    expected: { status: 'WAITING_ORDER', rows: [], counters: { duplicatePayments: 1 }, changed: false },
  },
  {
    name: 'WAITING_ORDER, deadline passed, another payment_id → held; tick → payment_orphan, then payment_extra',
    given: [
      [p1, T0],
      [p2, late],
    ],
    givenStatus: 'WAITING_ORDER',
    event: 'tick',
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [
        { table: 'unmatched', reason: 'payment_orphan', order: null, payment: 'p1', atMs: PAYMENT_DEADLINE },
        { table: 'unmatched', reason: 'payment_extra', order: null, payment: 'p2', atMs: late },
      ],
      counters: { paymentOrphan: 1, paymentExtra: 1 },
      changed: true,
    },
  },
  {
    name: 'EXPIRED after order_timeout + a payment that landed before the deadline (ingested after the window closed) → payment_late, counted as ingested late',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: p1,
    now: JOINED_AT,
    expected: {
      status: 'EXPIRED',
      rows: [{ table: 'unmatched', reason: 'payment_late', order: 'c1', payment: 'p1', atMs: JOINED_AT }],
      counters: { paymentLate: 1, ingestedLate: 1 },
      changed: true,
      lateForWindowMs: ORDER_DEADLINE,
    },
  },
  {
    name: 'EXPIRED after order_timeout + payment → payment_late (order + payment fields)',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: p1,
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [{ table: 'unmatched', reason: 'payment_late', order: 'c1', payment: 'p1', atMs: late }],
      counters: { paymentLate: 1 },
      changed: true,
      purgeAtMs: ORDER_DEADLINE + settings.tombstoneRetentionMs,
      expiredAs: 'order_timeout',
    },
  },
  {
    name: 'EXPIRED after payment_orphan + order → order_late (order + payment fields)',
    given: [
      [p1, T0],
      ['tick', PAYMENT_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: o,
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [{ table: 'unmatched', reason: 'order_late', order: 'c1', payment: 'p1', atMs: late }],
      counters: { orderLate: 1 },
      changed: true,
      expiredAs: 'payment_orphan',
    },
  },
  {
    name: 'EXPIRED after order_timeout + the expired order again → duplicate',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: oAgain,
    now: late,
    expected: { status: 'EXPIRED', rows: [], counters: { duplicateOrders: 1 }, changed: false },
  },
  {
    name: 'EXPIRED after payment_orphan + the expired payment again → duplicate',
    given: [
      [p1, T0],
      ['tick', PAYMENT_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: p1again,
    now: late,
    expected: { status: 'EXPIRED', rows: [], counters: { duplicatePayments: 1 }, changed: false },
  },
  {
    name: 'EXPIRED after payment_late + the late payment again → duplicate',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
      [p1, late],
    ],
    givenStatus: 'EXPIRED',
    event: p1again,
    now: late + MIN,
    expected: { status: 'EXPIRED', rows: [], counters: { duplicatePayments: 1 }, changed: false },
  },
  {
    name: 'EXPIRED after payment_late + another payment_id → payment_extra (order + payment fields)',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
      [p1, late],
    ],
    givenStatus: 'EXPIRED',
    event: p2,
    now: late + MIN,
    expected: {
      status: 'EXPIRED',
      rows: [{ table: 'unmatched', reason: 'payment_extra', order: 'c1', payment: 'p2', atMs: late + MIN }],
      counters: { paymentExtra: 1 },
      changed: true,
    },
  },
  {
    name: 'EXPIRED after order_late + the order again → duplicate',
    given: [
      [p1, T0],
      ['tick', PAYMENT_DEADLINE],
      [o, late],
    ],
    givenStatus: 'EXPIRED',
    event: oAgain,
    now: late + MIN,
    expected: { status: 'EXPIRED', rows: [], counters: { duplicateOrders: 1 }, changed: false },
  },
  {
    name: 'EXPIRED after payment_orphan + another payment_id → payment_extra (payment fields only)',
    given: [
      [p1, T0],
      ['tick', PAYMENT_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: p2,
    now: late,
    expected: {
      status: 'EXPIRED',
      rows: [{ table: 'unmatched', reason: 'payment_extra', order: null, payment: 'p2', atMs: late }],
      counters: { paymentExtra: 1 },
      changed: true,
    },
  },
  {
    name: 'JOINED tombstone past retention + order → starts afresh (TTL may not have deleted it yet)',
    given: [
      [o, T0],
      [p1, JOINED_AT],
    ],
    givenStatus: 'JOINED',
    event: oAgain,
    now: JOINED_AT + settings.tombstoneRetentionMs,
    expected: {
      status: 'WAITING_PAYMENT',
      rows: [],
      counters: { restarted: 1 },
      changed: true,
      deadlineMs: JOINED_AT + settings.tombstoneRetentionMs + settings.orderTimeoutMs,
      purgeAtMs: null,
      expiredAs: null,
    },
  },
  {
    name: 'EXPIRED tombstone 1 ms before retention ends + order again → still a duplicate',
    given: [
      [o, T0],
      ['tick', ORDER_DEADLINE],
    ],
    givenStatus: 'EXPIRED',
    event: oAgain,
    now: ORDER_DEADLINE + settings.tombstoneRetentionMs - 1,
    expected: { status: 'EXPIRED', rows: [], counters: { duplicateOrders: 1 }, changed: false },
  },
];

const ZERO: JoinCounters = {
  joined: 0,
  orderTimeout: 0,
  paymentOrphan: 0,
  paymentExtra: 0,
  paymentLate: 0,
  orderLate: 0,
  duplicateOrders: 0,
  duplicatePayments: 0,
  restarted: 0,
  ingestedLate: 0,
};

const heldKeys = (s: JoinState) =>
  s.pending.map((e) => (e.side === 'left' ? `order:${e.key}` : `payment:${e.identity}`));

describe('join state machine: DESIGN §3 table', () => {
  for (const c of cases) {
    it(c.name, () => {
      const before = run(c.given);
      assert.equal(before?.status ?? 'none', c.givenStatus, 'precondition');
      const frozen = before === undefined ? undefined : structuredClone(before);
      const r =
        c.event === 'tick'
          ? expireIfDue(before!, c.now, settings)
          : applyEvent(before, at(c.event, c.now), settings);
      assert.equal(r.state.status, c.expected.status);
      assert.deepEqual(r.emitted.map(shape), c.expected.rows);
      assert.deepEqual(r.counters, { ...ZERO, ...c.expected.counters });
      assert.equal(r.changed, c.expected.changed);
      // An unchanged result is the same object, so the adapter can skip the write.
      assert.equal(r.state === before, !c.expected.changed);
      if (c.expected.deadlineMs !== undefined) assert.equal(r.state.deadlineMs, c.expected.deadlineMs);
      if (c.expected.purgeAtMs !== undefined) assert.equal(r.state.purgeAtMs, c.expected.purgeAtMs);
      if (c.expected.expiredAs !== undefined) assert.equal(r.state.expiredAs, c.expected.expiredAs);
      if (c.expected.pending !== undefined) assert.deepEqual(heldKeys(r.state), c.expected.pending);
      if ('lateForWindowMs' in r) assert.equal(r.lateForWindowMs, c.expected.lateForWindowMs ?? null);
      // Pure: the input state is not mutated; the output is plain JSON (a Firestore document as is).
      if (frozen !== undefined) assert.deepEqual(before, frozen);
      assert.deepEqual(JSON.parse(JSON.stringify(r.state)), r.state);
      for (const row of r.emitted) assert.deepEqual(JSON.parse(JSON.stringify(row)), row);
    });
  }
});

describe('join state machine: rows and state details', () => {
  it('a joined row carries all eight columns as the original job wrote them', () => {
    const s = run([[o, T0]]);
    const r = applyEvent(
      s,
      at(payment('p1', { paymentDate: '2026-11-25T12:05:00', amount: 100 }), JOINED_AT),
      settings,
    );
    const [row] = r.emitted;
    assert.deepEqual(row!.values, {
      order_id: 'o1',
      order_date: '2026-11-25T12:00:00',
      created_at: '2026-11-25T12:00:01',
      customer_id: 'c1',
      order_amount: 100,
      payment_id: 'p1',
      payment_date: '2026-11-25T12:05:00',
      payment_amount: 100,
    });
    assert.deepEqual(toTableRow(plan, row!), { ...row!.values, joined_at: BigInt(JOINED_AT) * 1000n });
    assert.equal(row!.sources.length, 2);
  });

  it('an unmatched row has all eight columns (null where a side is missing) and reason; emitted_at in micros', () => {
    const r = expireIfDue(run([[p1, T0]])!, late, settings);
    const row = r.emitted[0]!;
    assert.deepEqual(row.values, {
      order_id: 'o1',
      order_date: null,
      created_at: null,
      customer_id: null,
      order_amount: null,
      payment_id: 'p1',
      payment_date: '2026-11-25T12:05:00',
      payment_amount: 100,
      reason: 'payment_orphan',
    });
    assert.equal(toTableRow(plan, row).emitted_at, BigInt(PAYMENT_DEADLINE) * 1000n);
  });

  it('row ids are deterministic: re-applying the same event to the same state gives the same ids', () => {
    const s = run([[o, T0]]);
    const a = applyEvent(s, at(p1, JOINED_AT), settings);
    const b = applyEvent(s, at(p1, JOINED_AT), settings);
    assert.equal(a.emitted[0]!.id, b.emitted[0]!.id);
    assert.equal(a.emitted[0]!.id, rowId('o1', T0, 'joined', 'p1'));
    assert.match(a.emitted[0]!.id, /^[0-9a-f]{32}$/);
  });

  it('row ids differ per reason, per payment, and for a state started afresh after retention', () => {
    const joined = applyEvent(run([[o, T0]]), at(p1, JOINED_AT), settings);
    const extra = applyEvent(joined.state, at(p2, JOINED_AT + 1), settings);
    const fresh = applyEvent(joined.state, at(order(), JOINED_AT + settings.tombstoneRetentionMs), settings);
    const rejoined = applyEvent(fresh.state, at(p1, JOINED_AT + settings.tombstoneRetentionMs + 1), settings);
    const ids = [joined.emitted[0]!.id, extra.emitted[0]!.id, rejoined.emitted[0]!.id];
    assert.equal(new Set(ids).size, 3);
  });

  it('the state remembers payment_ids as short digests, not the ids themselves', () => {
    const longId = 'p'.repeat(4096);
    const s = applyEvent(undefined, at(payment(longId), T0), settings).state;
    assert.deepEqual(s.rightKeys, [paymentKey(longId)]);
    assert.ok(JSON.stringify(s.rightKeys).length < 30);
  });

  it('keeps the first order when a different order with the same order_id comes (first one wins)', () => {
    const s = run([
      [o, T0],
      [oAgain, T0 + 1],
    ]);
    assert.equal(s!.left!.record['customer_id'], 'c1');
  });

  it('traces each state side to its source file and ordinal', () => {
    const e = at(order(), T0);
    const s = applyEvent(undefined, e, settings).state;
    assert.deepEqual(s.left!.source, e.source);
  });

  it('refuses a state of another order_id (a programming error, not data)', () => {
    const s = run([[o, T0]]);
    assert.throws(() => applyEvent(s, at(payment('p1', { orderId: 'o2' }), T0), settings), {
      name: 'StreamjoinError',
      message: /expected a state for order_id "o2", but was one for "o1"/,
    });
  });
});

describe('join state machine: landing time, held events, limits', () => {
  it('a tick whose watermark is 1 ms before the deadline decides nothing', () => {
    const s = run([
      [o, T0],
      [p1, late],
    ])!;
    const r = expireIfDue(s, ORDER_DEADLINE - 1, settings);
    assert.equal(r.changed, false);
    assert.equal(r.state, s);
  });

  it('any ingest order of the same events gives the rows of landing order (out-of-order arrival)', () => {
    const evs: Array<[JoinEvent, number]> = [
      [o, T0],
      [p1, T0 + MIN],
      [payment('p2'), late],
    ];
    const perms = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    const results = perms.map((perm) => {
      let state: JoinState | undefined;
      const rows: EmittedRow[] = [];
      for (const i of perm) {
        const r = applyEvent(state, at(evs[i]![0], evs[i]![1]), settings);
        rows.push(...r.emitted);
        state = r.state;
      }
      rows.push(...expireIfDue(state!, late * 2, settings).emitted);
      return JSON.stringify(rows.map((r) => [r.id, r.reason, r.identity, r.atMs, r.values]).sort());
    });
    assert.equal(new Set(results).size, 1, results.join('\n'));
    assert.match(results[0]!, /payment_extra/);
  });

  it('limit: a copy that landed earlier but comes after its pair was decided is only a duplicate', () => {
    // The joined row was emitted with the copy that was there; rows are never taken back.
    const joined = run([
      [p1, T0],
      [oAgain, T0 + 2 * MIN],
    ])!;
    assert.equal(joined.status, 'JOINED');
    const r = applyEvent(joined, at(o, T0 + MIN), settings);
    assert.equal(r.outcome, 'duplicate');
    assert.deepEqual(r.emitted, []);
  });

  it(`past ${MAX_PENDING_PAYMENTS} undecided payments, another distinct payment is emitted at once as payment_extra`, () => {
    let s: JoinState | undefined;
    for (let i = 0; i <= MAX_PENDING_PAYMENTS; i++)
      s = applyEvent(s, at(payment(`q${i}`), T0 + i), settings).state;
    assert.equal(s!.pending.length, MAX_PENDING_PAYMENTS);
    const r = applyEvent(s, at(payment('overflow'), T0 + 1000), settings);
    assert.deepEqual(r.emitted.map(shape), [
      { table: 'unmatched', reason: 'payment_extra', order: null, payment: 'overflow', atMs: T0 + 1000 },
    ]);
    assert.equal(applyEvent(r.state, at(payment('overflow'), T0 + 2000), settings).outcome, 'duplicate');
    // The overflow is not held, so the order later releases the others but not it again.
    const joined = applyEvent(r.state, at(o, T0 + 2000), settings);
    assert.equal(joined.state.status, 'JOINED');
    assert.equal(joined.emitted.filter((x) => x.identity === 'overflow').length, 0);
    assert.equal(joined.emitted.length, MAX_PENDING_PAYMENTS + 1);
  });

  it('reads a version-1 state (processing time, no held events) as landing time', () => {
    const v1 = {
      v: 1,
      orderId: 'o1',
      status: 'WAITING_PAYMENT',
      epochMs: T0,
      updatedAtMs: T0,
      deadlineMs: ORDER_DEADLINE,
      purgeAtMs: null,
      expiredAs: null,
      order: {
        orderId: 'o1',
        orderDate: '2026-11-25T12:00:00',
        createdAt: '2026-11-25T12:00:01',
        customerId: 'c1',
        amount: 100,
        source: { bucket: 'b', object: 'x', generation: '1', ordinal: 0 },
      },
      payment: null,
      paymentKeys: [],
    } as unknown as JoinState;
    const r = applyEvent(v1, at(p1, JOINED_AT), settings);
    assert.deepEqual(r.emitted.map(shape), [
      { table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: JOINED_AT },
    ]);
    assert.equal(r.state.v, 3);
  });

  it('reads a version-2 state (orders and payments built in, before issue 17) with held payments', () => {
    const src = (ordinal: number, landedAtMs: number) => ({
      bucket: 'b',
      object: `stream/payments/p${ordinal}.json`,
      generation: '1',
      ordinal,
      landedAtMs,
    });
    const legacyPayment = (paymentId: string, amount: number) => ({
      paymentId,
      orderId: 'o1',
      paymentDate: '2026-11-25T12:05:00',
      createdAt: '2026-11-25T12:05:01',
      amount,
    });
    const v2 = {
      v: 2,
      orderId: 'o1',
      status: 'WAITING_ORDER',
      epochMs: T0,
      updatedAtMs: T0 + 1,
      deadlineMs: PAYMENT_DEADLINE,
      purgeAtMs: null,
      expiredAs: null,
      closedAtMs: null,
      order: null,
      payment: { ...legacyPayment('p1', 100), source: src(0, T0) },
      paymentKeys: [paymentKey('p1'), paymentKey('p2')],
      pending: [{ kind: 'payment', payment: legacyPayment('p2', 7), source: src(1, T0 + 1) }],
    } as unknown as JoinState;
    // The payment_ids it remembers are still recognised.
    const dup = applyEvent(v2, at(payment('p2'), T0 + 5), settings);
    assert.equal(dup.outcome, 'duplicate');
    assert.equal(dup.state, v2);
    const r = applyEvent(v2, at(o, T0 + MIN), settings);
    assert.deepEqual(r.emitted.map(shape), [
      { table: 'unmatched', reason: 'payment_extra', order: null, payment: 'p2', atMs: T0 + 1 },
      { table: 'joined', reason: null, order: 'c1', payment: 'p1', atMs: T0 + MIN },
    ]);
    assert.equal(r.emitted[1]!.id, rowId('o1', T0, 'joined', 'p1'));
    assert.equal(r.emitted[0]!.values['payment_amount'], 7);
    assert.equal(r.state.v, 3);
    assert.deepEqual(r.state.rightKeys, [paymentKey('p1'), paymentKey('p2')]);
  });
});
