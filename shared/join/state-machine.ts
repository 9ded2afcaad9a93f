// The join of orders and payments per order_id (DESIGN §3) as pure functions of (state, event, now):
// the Firestore adapter wraps applyEvent / expireIfDue in one read-modify-write with the outbox.
// States are plain JSON (no bigint, no Date, no class) so they are stored as they are.
import { createHash } from 'node:crypto';
import { StreamjoinError } from '../errors.ts';
import type { Order, Payment } from '../ingest/validate.ts';
import type { UnmatchedReason } from '../tables.ts';
import {
  type EmittedRow,
  type EventSource,
  joinedRow,
  type OrderFacts,
  type PaymentFacts,
  unmatchedRow,
} from './rows.ts';

export const JOIN_STATUSES = ['WAITING_PAYMENT', 'WAITING_ORDER', 'JOINED', 'EXPIRED'] as const;
export type JoinStatus = (typeof JOIN_STATUSES)[number];

export type ExpiryReason = Extract<UnmatchedReason, 'order_timeout' | 'payment_orphan'>;

/** Structurally a subset of shared/config.ts `Config`, so the config object can be passed as is. */
export interface JoinSettings {
  /** How long an order waits for its payment. */
  readonly orderTimeoutMs: number;
  /** How long an early payment waits for its order. */
  readonly paymentTimeoutMs: number;
  /** How long a JOINED/EXPIRED state is kept to recognise duplicates. */
  readonly tombstoneRetentionMs: number;
}

export type JoinEvent =
  | { readonly kind: 'order'; readonly order: Order; readonly source: EventSource }
  | { readonly kind: 'payment'; readonly payment: Payment; readonly source: EventSource };

/** One order_id's join state (a Firestore document). All times are epoch milliseconds. */
export interface JoinState {
  /** Schema version of this document. */
  readonly v: 1;
  readonly orderId: string;
  readonly status: JoinStatus;
  /** When this state began; part of row ids, so a state started afresh after retention emits new ids. */
  readonly epochMs: number;
  readonly updatedAtMs: number;
  /** Waiting states: when they expire (expired when deadlineMs <= now); null otherwise. The tick's query. */
  readonly deadlineMs: number | null;
  /** JOINED/EXPIRED: end of tombstone retention (the Firestore TTL field); null while waiting. Set once,
   *  on entering the terminal state; later duplicates do not extend it (they need no write). */
  readonly purgeAtMs: number | null;
  /** EXPIRED: which timeout expired it; null otherwise. */
  readonly expiredAs: ExpiryReason | null;
  /** The first order seen (first one wins). */
  readonly order: OrderFacts | null;
  /** The payment that waits (WAITING_ORDER) or was paired with the order (JOINED, payment_late);
   *  extra payments are not kept, only their keys. */
  readonly payment: PaymentFacts | null;
  /** paymentKey() of every payment_id seen for this order_id, to tell a duplicate from an extra payment.
   *  Digests rather than ids keep the document small whatever the ids (≤ 4 KiB each) look like. */
  readonly paymentKeys: readonly string[];
}

/** Past this many distinct payment_ids per order, new keys are not recorded (the document must stay under
 *  Firestore's 1 MiB). A redelivered extra beyond it would be emitted again with the same row id. */
export const MAX_TRACKED_PAYMENT_IDS = 10_000;

export interface JoinCounters {
  joined: number;
  orderTimeout: number;
  paymentOrphan: number;
  paymentExtra: number;
  paymentLate: number;
  orderLate: number;
  duplicateOrders: number;
  duplicatePayments: number;
  /** A tombstone past its retention was found and a new state started (TTL had not deleted it yet). */
  restarted: number;
}

/** What the event itself did (an expiry the event triggered first is in `emitted`/`counters` too). */
export const EVENT_OUTCOMES = [
  'waiting',
  'joined',
  'payment_extra',
  'payment_late',
  'order_late',
  'duplicate',
] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

export interface JoinResult {
  readonly state: JoinState;
  /** In the order they happened: an expiry row before the event's own row. */
  readonly emitted: EmittedRow[];
  readonly counters: JoinCounters;
  /** False when the state is the same object as before (a duplicate): the adapter may skip the write. */
  readonly changed: boolean;
  readonly outcome: EventOutcome;
}

export interface ExpiryResult {
  readonly state: JoinState;
  readonly emitted: EmittedRow[];
  readonly counters: JoinCounters;
  readonly changed: boolean;
}

export function zeroCounters(): JoinCounters {
  return {
    joined: 0,
    orderTimeout: 0,
    paymentOrphan: 0,
    paymentExtra: 0,
    paymentLate: 0,
    orderLate: 0,
    duplicateOrders: 0,
    duplicatePayments: 0,
    restarted: 0,
  };
}

/** Adds `from` into `into` (mutates and returns `into`), for per-invocation totals. */
export function addCounters(into: JoinCounters, from: JoinCounters): JoinCounters {
  for (const k of Object.keys(into) as (keyof JoinCounters)[]) into[k] += from[k];
  return into;
}

/** A short digest of a payment_id (96 bits, base64url): what JoinState.paymentKeys holds. */
export function paymentKey(paymentId: string): string {
  return createHash('sha256').update(paymentId).digest('base64url').slice(0, 16);
}

export function eventOrderId(event: JoinEvent): string {
  return event.kind === 'order' ? event.order.orderId : event.payment.orderId;
}

export const isWaiting = (s: JoinState): boolean =>
  s.status === 'WAITING_PAYMENT' || s.status === 'WAITING_ORDER';
export const isTerminal = (s: JoinState): boolean => s.status === 'JOINED' || s.status === 'EXPIRED';

/** A waiting state whose deadline has passed (inclusive: at the deadline the timeout has elapsed). */
export function isDue(state: JoinState, nowMs: number): boolean {
  return isWaiting(state) && state.deadlineMs !== null && state.deadlineMs <= nowMs;
}

/** A tombstone past retention counts as absent, whether or not Firestore TTL has deleted it yet. */
export function isPurgeable(state: JoinState, nowMs: number): boolean {
  return isTerminal(state) && state.purgeAtMs !== null && state.purgeAtMs <= nowMs;
}

/**
 * Applies one valid event to the state of its order_id (undefined: no state yet) at processing time
 * `nowMs`. A waiting state whose deadline has passed is expired first (its row is emitted) and the event
 * is then applied to the EXPIRED state, so results do not depend on when the tick runs.
 * Throws StreamjoinError 'internal' only on a programming error (state of another order_id).
 */
export function applyEvent(
  state: JoinState | undefined,
  event: JoinEvent,
  nowMs: number,
  settings: JoinSettings,
): JoinResult {
  const orderId = eventOrderId(event);
  if (state !== undefined && state.orderId !== orderId) {
    throw new StreamjoinError(
      'internal',
      `applyEvent: expected a state for order_id ${JSON.stringify(orderId)}, but was one for ${JSON.stringify(state.orderId)}`,
    );
  }
  const counters = zeroCounters();
  const emitted: EmittedRow[] = [];
  let current = state;
  if (current !== undefined && isPurgeable(current, nowMs)) {
    current = undefined;
    counters.restarted++;
  }
  if (current !== undefined && isDue(current, nowMs)) {
    const expired = expire(current, nowMs, settings, counters);
    emitted.push(expired.row);
    current = expired.state;
  }
  const step =
    current === undefined
      ? start(event, orderId, nowMs, settings)
      : event.kind === 'order'
        ? onOrder(current, { ...event.order, source: event.source }, nowMs, settings, counters)
        : onPayment(current, { ...event.payment, source: event.source }, nowMs, settings, counters);
  if (step.row !== undefined) emitted.push(step.row);
  return { state: step.state, emitted, counters, changed: step.state !== state, outcome: step.outcome };
}

/** For the tick: expires a waiting state whose deadline has passed; otherwise returns it unchanged. */
export function expireIfDue(state: JoinState, nowMs: number, settings: JoinSettings): ExpiryResult {
  const counters = zeroCounters();
  if (!isDue(state, nowMs)) return { state, emitted: [], counters, changed: false };
  const expired = expire(state, nowMs, settings, counters);
  return { state: expired.state, emitted: [expired.row], counters, changed: true };
}

interface Step {
  readonly state: JoinState;
  readonly row?: EmittedRow;
  readonly outcome: EventOutcome;
}

function start(event: JoinEvent, orderId: string, nowMs: number, settings: JoinSettings): Step {
  const base = {
    v: 1,
    orderId,
    epochMs: nowMs,
    updatedAtMs: nowMs,
    purgeAtMs: null,
    expiredAs: null,
  } as const;
  if (event.kind === 'order') {
    return {
      outcome: 'waiting',
      state: {
        ...base,
        status: 'WAITING_PAYMENT',
        deadlineMs: nowMs + settings.orderTimeoutMs,
        order: { ...event.order, source: event.source },
        payment: null,
        paymentKeys: [],
      },
    };
  }
  return {
    outcome: 'waiting',
    state: {
      ...base,
      status: 'WAITING_ORDER',
      deadlineMs: nowMs + settings.paymentTimeoutMs,
      order: null,
      payment: { ...event.payment, source: event.source },
      paymentKeys: [paymentKey(event.payment.paymentId)],
    },
  };
}

function expire(
  state: JoinState,
  nowMs: number,
  settings: JoinSettings,
  counters: JoinCounters,
): { state: JoinState; row: EmittedRow } {
  const reason: ExpiryReason = state.status === 'WAITING_PAYMENT' ? 'order_timeout' : 'payment_orphan';
  if (reason === 'order_timeout') counters.orderTimeout++;
  else counters.paymentOrphan++;
  return {
    row: unmatchedRow(state.orderId, reason, state.order, state.payment, state.epochMs, nowMs),
    state: {
      ...state,
      status: 'EXPIRED',
      expiredAs: reason,
      updatedAtMs: nowMs,
      deadlineMs: null,
      purgeAtMs: nowMs + settings.tombstoneRetentionMs,
    },
  };
}

function onOrder(
  state: JoinState,
  order: OrderFacts,
  nowMs: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Step {
  // WAITING_PAYMENT, JOINED, EXPIRED after order_timeout, or EXPIRED after order_late: the order is known.
  if (state.order !== null) {
    counters.duplicateOrders++;
    return { state, outcome: 'duplicate' };
  }
  const payment = state.payment!;
  if (state.status === 'WAITING_ORDER') {
    counters.joined++;
    return {
      outcome: 'joined',
      row: joinedRow(order, payment, state.epochMs, nowMs),
      state: {
        ...state,
        status: 'JOINED',
        order,
        updatedAtMs: nowMs,
        deadlineMs: null,
        purgeAtMs: nowMs + settings.tombstoneRetentionMs,
      },
    };
  }
  // EXPIRED after payment_orphan: the order came after its payment gave up waiting.
  counters.orderLate++;
  return {
    outcome: 'order_late',
    row: unmatchedRow(state.orderId, 'order_late', order, payment, state.epochMs, nowMs),
    state: { ...state, order, updatedAtMs: nowMs },
  };
}

function onPayment(
  state: JoinState,
  payment: PaymentFacts,
  nowMs: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Step {
  const key = paymentKey(payment.paymentId);
  if (state.paymentKeys.includes(key)) {
    counters.duplicatePayments++;
    return { state, outcome: 'duplicate' };
  }
  const paymentKeys =
    state.paymentKeys.length < MAX_TRACKED_PAYMENT_IDS ? [...state.paymentKeys, key] : state.paymentKeys;
  if (state.status === 'WAITING_PAYMENT') {
    counters.joined++;
    return {
      outcome: 'joined',
      row: joinedRow(state.order!, payment, state.epochMs, nowMs),
      state: {
        ...state,
        status: 'JOINED',
        payment,
        paymentKeys,
        updatedAtMs: nowMs,
        deadlineMs: null,
        purgeAtMs: nowMs + settings.tombstoneRetentionMs,
      },
    };
  }
  if (state.status === 'EXPIRED' && state.payment === null) {
    // EXPIRED after order_timeout, first payment: late. (A later distinct one is an extra, as after JOINED.)
    counters.paymentLate++;
    return {
      outcome: 'payment_late',
      row: unmatchedRow(state.orderId, 'payment_late', state.order, payment, state.epochMs, nowMs),
      state: { ...state, payment, paymentKeys, updatedAtMs: nowMs },
    };
  }
  // WAITING_ORDER (the order is unknown: payment fields only), JOINED (order fields + the new payment),
  // EXPIRED with a payment already (order fields if the order is known).
  counters.paymentExtra++;
  return {
    outcome: 'payment_extra',
    row: unmatchedRow(state.orderId, 'payment_extra', state.order, payment, state.epochMs, nowMs),
    state: { ...state, paymentKeys, updatedAtMs: nowMs },
  };
}
