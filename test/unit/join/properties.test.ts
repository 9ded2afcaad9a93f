// Properties of the join over random event sets (fast-check): arrival order does not change the outcome
// when no deadline passes, and every distinct order and payment ends in exactly one row whatever the times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { EmittedRow } from '../../../shared/join/rows.ts';
import {
  addCounters,
  applyEvent,
  expireIfDue,
  type JoinEvent,
  type JoinSettings,
  type JoinState,
  zeroCounters,
} from '../../../shared/join/state-machine.ts';

const settings: JoinSettings = {
  orderTimeoutMs: 900_000,
  paymentTimeoutMs: 600_000,
  tombstoneRetentionMs: 7 * 86_400_000,
};
const T0 = 1_764_072_000_000;

interface Spec {
  /** Per order_id: is the order sent, and how many distinct payments. */
  orders: Array<{ hasOrder: boolean; payments: number; copies: number[] }>;
}

/** Distinct events of a spec, each repeated `copies` times (redeliveries), with distinct sources. */
function eventsOf(spec: Spec): JoinEvent[] {
  const out: JoinEvent[] = [];
  let ordinal = 0;
  spec.orders.forEach((o, i) => {
    const orderId = `o${i}`;
    const distinct: Array<() => JoinEvent> = [];
    if (o.hasOrder) {
      distinct.push(() => ({
        kind: 'order',
        order: { orderId, orderDate: 'd', createdAt: 'c', customerId: `cust-${i}`, amount: i },
        source: { bucket: 'b', object: `orders/${i}`, generation: '1', ordinal: ordinal++ },
      }));
    }
    for (let k = 0; k < o.payments; k++) {
      distinct.push(() => ({
        kind: 'payment',
        payment: { paymentId: `${orderId}-p${k}`, orderId, paymentDate: 'd', createdAt: 'c', amount: k },
        source: { bucket: 'b', object: `payments/${i}-${k}`, generation: '1', ordinal: ordinal++ },
      }));
    }
    distinct.forEach((make, j) => {
      for (let c = 0; c < (o.copies[j % o.copies.length] ?? 1); c++) out.push(make());
    });
  });
  return out;
}

const specArb = (maxPayments: number): fc.Arbitrary<Spec> =>
  fc.record({
    orders: fc.array(
      fc.record({
        hasOrder: fc.boolean(),
        payments: fc.integer({ min: 0, max: maxPayments }),
        copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  });

/** A spec and two arrival orders of its events. */
const scenario = (maxPayments: number) =>
  specArb(maxPayments).chain((spec) => {
    const events = eventsOf(spec);
    const perm = fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length });
    return fc.tuple(fc.constant(spec), fc.constant(events), perm, perm);
  });

/** Applies events in order; `times[i]` is the processing time of event i. Returns rows and final states. */
function replay(events: JoinEvent[], times: (i: number) => number) {
  const states = new Map<string, JoinState>();
  const rows: EmittedRow[] = [];
  const counters = zeroCounters();
  events.forEach((e, i) => {
    const id = e.kind === 'order' ? e.order.orderId : e.payment.orderId;
    const r = applyEvent(states.get(id), e, times(i), settings);
    states.set(id, r.state);
    rows.push(...r.emitted);
    addCounters(counters, r.counters);
  });
  return { states, rows, counters };
}

/** Everything a row holds except its sources (which copy of a redelivered event counted is arbitrary). */
const rowKey = (r: EmittedRow) => JSON.stringify([r.id, r.table, r.reason, r.atMs, r.values]);
const multiset = (rows: EmittedRow[]) => rows.map(rowKey).sort();

describe('join properties', () => {
  it('same event set in any order, duplicates and early payments included, no deadline passing → same rows', () => {
    fc.assert(
      fc.property(scenario(1), ([, , a, b]) => {
        // One processing time for all: no deadline can pass, and row ids/timestamps are comparable.
        const ra = replay(a, () => T0);
        const rb = replay(b, () => T0);
        assert.deepEqual(multiset(ra.rows), multiset(rb.rows));
        assert.deepEqual(ra.counters, rb.counters);
        const statuses = (m: Map<string, JoinState>) => [...m].map(([k, s]) => `${k}:${s.status}`).sort();
        assert.deepEqual(statuses(ra.states), statuses(rb.states));
      }),
      { numRuns: 300 },
    );
  });

  it('with extra payments, any order gives the same rows per (table, reason, order_id) and every payment once', () => {
    // Which payment joins is first-come (DESIGN §3: the newcomer is the extra), so row contents may differ;
    // counts per reason and the set of payments must not.
    fc.assert(
      fc.property(scenario(3), fc.integer({ min: 0, max: 60_000 }), ([, , a, b], step) => {
        const ra = replay(a, (i) => T0 + Math.floor((i * step) / Math.max(1, a.length)));
        const rb = replay(b, (i) => T0 + Math.floor((i * step) / Math.max(1, b.length)));
        const flush = (r: ReturnType<typeof replay>) => {
          for (const s of r.states.values())
            r.rows.push(...expireIfDue(s, T0 + 86_400_000, settings).emitted);
          return r.rows;
        };
        const shapeKeys = (rows: EmittedRow[]) =>
          rows.map((r) => `${r.table}/${r.reason}/${r.orderId}`).sort();
        const payments = (rows: EmittedRow[]) =>
          rows
            .map((r) => r.paymentId)
            .filter((p) => p !== null)
            .sort();
        const rowsA = flush(ra);
        const rowsB = flush(rb);
        assert.deepEqual(shapeKeys(rowsA), shapeKeys(rowsB));
        assert.deepEqual(payments(rowsA), payments(rowsB));
        assert.equal(new Set(payments(rowsA)).size, payments(rowsA).length, 'each payment in one row');
      }),
      { numRuns: 300 },
    );
  });

  it('whatever the times: each distinct order and payment is the subject of exactly one row, the rest are duplicates', () => {
    // Subjects: an order is reported by joined, order_timeout or order_late; a payment by joined,
    // payment_orphan, payment_extra or payment_late (payment_late also repeats the order's fields).
    const ORDER_SUBJECT = new Set(['joined', 'order_timeout', 'order_late']);
    const PAYMENT_SUBJECT = new Set(['joined', 'payment_orphan', 'payment_extra', 'payment_late']);
    fc.assert(
      fc.property(
        scenario(3),
        fc.array(fc.integer({ min: 0, max: 20 * 60_000 }), { minLength: 1, maxLength: 40 }),
        ([spec, , a], gaps) => {
          let t = T0;
          const times: number[] = a.map((_, i) => {
            t += gaps[i % gaps.length]!;
            return t;
          });
          const r = replay(a, (i) => times[i]!);
          for (const s of r.states.values()) r.rows.push(...expireIfDue(s, t + 86_400_000, settings).emitted);
          const kind = (row: EmittedRow) => row.reason ?? 'joined';
          const orderRows = r.rows
            .filter((row) => ORDER_SUBJECT.has(kind(row)))
            .map((row) => row.orderId)
            .sort();
          const paymentRows = r.rows
            .filter((row) => PAYMENT_SUBJECT.has(kind(row)))
            .map((row) => row.paymentId!)
            .sort();
          const distinctOrders = spec.orders.flatMap((o, i) => (o.hasOrder ? [`o${i}`] : [])).sort();
          const distinctPayments = spec.orders
            .flatMap((o, i) => Array.from({ length: o.payments }, (_, k) => `o${i}-p${k}`))
            .sort();
          assert.deepEqual(orderRows, distinctOrders);
          assert.deepEqual(paymentRows, distinctPayments);
          const orderEvents = a.filter((e) => e.kind === 'order').length;
          assert.equal(r.counters.duplicateOrders, orderEvents - distinctOrders.length);
          assert.equal(r.counters.duplicatePayments, a.length - orderEvents - distinctPayments.length);
          for (const s of r.states.values()) assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
        },
      ),
      { numRuns: 300 },
    );
  });
});
