// Properties of the join over random event sets (fast-check). Time is landing time: every event carries
// when its object landed, and the order in which ingest happens to apply them is a separate, random choice.
// - The rows are those of the reference (DESIGN §3 applied in landing order) whatever the ingest order,
//   as long as the tick closes a window only after its events were applied (what allowed lateness buys).
// - Each distinct order and payment is the subject of exactly one row whatever the times, the ingest order
//   and when the tick runs; every other copy is counted as a duplicate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { EmittedRow } from '../../../shared/join/rows.ts';
import {
  addCounters,
  applyEvent,
  compareEvents,
  expireIfDue,
  inLandingOrder,
  isWaiting,
  type JoinEvent,
  type JoinSettings,
  type JoinState,
  zeroCounters,
} from '../../../shared/join/state-machine.ts';
import { orderEvent, paymentEvent } from '../../support/default-events.ts';

const settings: JoinSettings = {
  orderTimeoutMs: 900_000,
  paymentTimeoutMs: 600_000,
  tombstoneRetentionMs: 7 * 86_400_000,
};
const T0 = 1_764_072_000_000;
const END = T0 + 86_400_000;

interface Spec {
  /** Per order_id: is the order sent, how many distinct payments, copies and landing offsets. */
  orders: Array<{ hasOrder: boolean; payments: number; copies: number[]; offsets: number[] }>;
}

/**
 * Distinct events of a spec, each delivered `copies` times. `sameObject`: copies are redeliveries of one
 * object (same landing time); otherwise each copy is another object landing at its own time.
 */
function eventsOf(spec: Spec, sameObject: boolean): JoinEvent[] {
  const out: JoinEvent[] = [];
  let ordinal = 0;
  let salt = 0;
  spec.orders.forEach((o, i) => {
    const orderId = `o${i}`;
    const distinct: Array<(copy: number) => JoinEvent> = [];
    const landing = (j: number, copy: number) =>
      T0 + (o.offsets[j % o.offsets.length] ?? 0) + (sameObject ? 0 : copy * 7919 * (1 + (salt++ % 5)));
    if (o.hasOrder) {
      distinct.push((copy) =>
        orderEvent(
          { orderId, orderDate: 'd', createdAt: 'c', customerId: `cust-${i}`, amount: i },
          {
            bucket: 'b',
            object: `orders/${i}${sameObject ? '' : `-${copy}`}`,
            generation: '1',
            ordinal: ordinal++,
            landedAtMs: landing(0, copy),
          },
        ),
      );
    }
    for (let k = 0; k < o.payments; k++) {
      distinct.push((copy) =>
        paymentEvent(
          { paymentId: `${orderId}-p${k}`, orderId, paymentDate: 'd', createdAt: 'c', amount: k },
          {
            bucket: 'b',
            object: `payments/${i}-${k}${sameObject ? '' : `-${copy}`}`,
            generation: '1',
            ordinal: ordinal++,
            landedAtMs: landing(k + 1, copy),
          },
        ),
      );
    }
    distinct.forEach((make, j) => {
      for (let c = 0; c < (o.copies[j % o.copies.length] ?? 1); c++) out.push(make(c));
    });
  });
  return out;
}

const specArb = (maxPayments: number, maxOffset: number): fc.Arbitrary<Spec> =>
  fc.record({
    orders: fc.array(
      fc.record({
        hasOrder: fc.boolean(),
        payments: fc.integer({ min: 0, max: maxPayments }),
        copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        offsets: fc.array(fc.integer({ min: 0, max: maxOffset }), { minLength: 1, maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  });

/** A spec, its events, and an ingest order of them. */
const scenario = (maxPayments: number, maxOffset: number, sameObject: boolean) =>
  specArb(maxPayments, maxOffset).chain((spec) => {
    const events = eventsOf(spec, sameObject);
    const perm = fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length });
    return fc.tuple(fc.constant(spec), fc.constant(events), perm);
  });

/** Applies events in the given order; `tickAfter(i)`, when set, runs the tick over every state at that
 *  watermark after event i. Ends with a tick past every deadline. */
function ingestAll(
  events: readonly JoinEvent[],
  tickAfter: (i: number) => number | undefined = () => undefined,
) {
  const states = new Map<string, JoinState>();
  const rows: EmittedRow[] = [];
  const counters = zeroCounters();
  const tick = (watermark: number) => {
    for (const [id, s] of states) {
      const r = expireIfDue(s, watermark, settings);
      states.set(id, r.state);
      rows.push(...r.emitted);
      addCounters(counters, r.counters);
    }
  };
  events.forEach((e, i) => {
    const id = e.key;
    const r = applyEvent(states.get(id), e, settings);
    states.set(id, r.state);
    rows.push(...r.emitted);
    addCounters(counters, r.counters);
    const w = tickAfter(i);
    if (w !== undefined) tick(w);
  });
  tick(END);
  return { states, rows, counters };
}

/** The reference: per order_id, its distinct events (first landed copy) in landing order, then the tick. */
function reference(events: readonly JoinEvent[]): EmittedRow[] {
  const byOrder = new Map<string, Map<string, JoinEvent>>();
  for (const e of events) {
    const id = e.key;
    const key = e.side === 'left' ? 'order' : `payment:${e.identity}`;
    const m = byOrder.get(id) ?? new Map<string, JoinEvent>();
    byOrder.set(id, m);
    const held = m.get(key);
    if (held === undefined || compareEvents(e, held) < 0) m.set(key, e);
  }
  const rows: EmittedRow[] = [];
  for (const m of byOrder.values()) {
    const r = inLandingOrder([...m.values()].sort(compareEvents), settings);
    rows.push(...r.rows);
    if (isWaiting(r.state)) rows.push(...expireIfDue(r.state, END, settings).emitted);
  }
  return rows;
}

/** Everything a row holds except its sources (which copy of a redelivered object counted is arbitrary). */
const rowKey = (r: EmittedRow) => JSON.stringify([r.id, r.table, r.reason, r.atMs, r.values]);
const multiset = (rows: EmittedRow[]) => rows.map(rowKey).sort();

describe('join properties (landing time)', () => {
  it('one payment per order, redeliveries, landing times across the timeouts, any ingest order → the reference rows', () => {
    fc.assert(
      fc.property(scenario(1, 40 * 60_000, true), ([, events, perm]) => {
        assert.deepEqual(multiset(ingestAll(perm).rows), multiset(reference(events)));
      }),
      { numRuns: 500 },
    );
  });

  it('several payments arriving before their order is decided → the reference rows, whatever the ingest order', () => {
    // Payments held by a waiting state are decided in landing order when the order comes; only a payment
    // ingested after its pair was decided can be decided otherwise (limit: nothing emitted is taken back).
    fc.assert(
      fc.property(scenario(3, 40 * 60_000, true), ([, events, perm]) => {
        const ordersLast = [
          ...perm.filter((e) => e.side === 'right'),
          ...perm.filter((e) => e.side === 'left'),
        ];
        assert.deepEqual(multiset(ingestAll(ordersLast).rows), multiset(reference(events)));
      }),
      { numRuns: 300 },
    );
  });

  it('whatever the times, copies, ingest order and ticks: each distinct order and payment is the subject of exactly one row', () => {
    // Subjects: an order is reported by joined, order_timeout or order_late; a payment by joined,
    // payment_orphan, payment_extra or payment_late (payment_late also repeats the order's fields).
    const ORDER_SUBJECT = new Set(['joined', 'order_timeout', 'order_late']);
    const PAYMENT_SUBJECT = new Set(['joined', 'payment_orphan', 'payment_extra', 'payment_late']);
    fc.assert(
      fc.property(
        scenario(3, 40 * 60_000, false),
        fc.array(fc.option(fc.integer({ min: 0, max: 60 * 60_000 })), { minLength: 1, maxLength: 40 }),
        ([spec, , perm], ticks) => {
          const r = ingestAll(perm, (i) => {
            const w = ticks[i % ticks.length];
            return w === null || w === undefined ? undefined : T0 + w;
          });
          const kind = (row: EmittedRow) => row.reason ?? 'joined';
          const orderRows = r.rows
            .filter((row) => ORDER_SUBJECT.has(kind(row)))
            .map((row) => row.key)
            .sort();
          const paymentRows = r.rows
            .filter((row) => PAYMENT_SUBJECT.has(kind(row)))
            .map((row) => row.identity!)
            .sort();
          const distinctOrders = spec.orders.flatMap((o, i) => (o.hasOrder ? [`o${i}`] : [])).sort();
          const distinctPayments = spec.orders
            .flatMap((o, i) => Array.from({ length: o.payments }, (_, k) => `o${i}-p${k}`))
            .sort();
          assert.deepEqual(orderRows, distinctOrders);
          assert.deepEqual(paymentRows, distinctPayments);
          const orderEvents = perm.filter((e) => e.side === 'left').length;
          assert.equal(r.counters.duplicateOrders, orderEvents - distinctOrders.length);
          assert.equal(r.counters.duplicatePayments, perm.length - orderEvents - distinctPayments.length);
          assert.equal(new Set(r.rows.map((x) => x.id)).size, r.rows.length, 'row ids are unique');
          for (const s of r.states.values()) {
            assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
            assert.equal(isWaiting(s), false, 'the final tick decided every state');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
