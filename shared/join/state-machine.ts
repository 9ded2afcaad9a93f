// The join of orders and payments per order_id (DESIGN §3) as pure functions of (state, event): an
// event's time is when its object LANDED in the bucket (`event.source.landedAtMs`, the object's
// `timeCreated`), never when a function ran, so the rows are a function of the objects and their landing
// times. The Firestore adapter wraps applyEvent / expireIfDue in one read-modify-write with the outbox.
// States are plain JSON (no bigint, no Date, no class) so they are stored as they are.
//
// The reference semantics is DESIGN §3's table applied to an order_id's distinct events in landing order
// (`inLandingOrder`). Events are ingested in any order, so a waiting state decides nothing it could still
// have to take back: it keeps the distinct events seen so far (`pending`) and emits rows only once they
// are final — when the reference over what it holds reaches JOINED (the join is emitted at once), or when
// the tick closes the window (`expireIfDue` at the watermark: deadline + allowed lateness). An event that
// landed after the deadline therefore gives exactly the rows of an expired state, whether or not the tick
// has run. JOINED and EXPIRED states apply later events at once.
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
  /** How long an order waits for its payment (from its landing time). */
  readonly orderTimeoutMs: number;
  /** How long an early payment waits for its order (from its landing time). */
  readonly paymentTimeoutMs: number;
  /** How long a JOINED/EXPIRED state is kept to recognise duplicates. */
  readonly tombstoneRetentionMs: number;
}

export type JoinEvent =
  | { readonly kind: 'order'; readonly order: Order; readonly source: EventSource }
  | { readonly kind: 'payment'; readonly payment: Payment; readonly source: EventSource };

/** One order_id's join state (a Firestore document). All times are epoch milliseconds of landing time. */
export interface JoinState {
  /** Schema version of this document (1: before landing time; read by normalizeState). */
  readonly v: 2;
  readonly orderId: string;
  readonly status: JoinStatus;
  /** Landing time of this state's first event (in landing order); part of row ids, so a state started
   *  afresh after retention emits new ids. */
  readonly epochMs: number;
  /** Landing time of the latest event applied. */
  readonly updatedAtMs: number;
  /** Waiting states: first event's landing + its timeout (expired when deadlineMs <= the event time or the
   *  tick's watermark); null otherwise. */
  readonly deadlineMs: number | null;
  /** JOINED/EXPIRED: end of tombstone retention (the Firestore TTL field); null while waiting. Set once,
   *  on entering the terminal state; later duplicates do not extend it (they need no write). */
  readonly purgeAtMs: number | null;
  /** EXPIRED: which timeout expired it; null otherwise. */
  readonly expiredAs: ExpiryReason | null;
  /** EXPIRED: the deadline its window closed at. An event that landed before it but comes now was ingested
   *  late (after the tick closed the window); null otherwise. */
  readonly closedAtMs: number | null;
  /** The first order (in landing order while waiting; first one wins once decided). */
  readonly order: OrderFacts | null;
  /** The payment that waits (WAITING_ORDER) or was paired with the order (JOINED, payment_late);
   *  extra payments are not kept, only their keys. */
  readonly payment: PaymentFacts | null;
  /** paymentKey() of every payment_id seen for this order_id, to tell a duplicate from an extra payment.
   *  Digests rather than ids keep the document small whatever the ids (≤ 4 KiB each) look like. */
  readonly paymentKeys: readonly string[];
  /** Waiting states: the other distinct events seen so far, in landing order, not yet decided. [] otherwise. */
  readonly pending: readonly JoinEvent[];
}

/** Past this many distinct payment_ids per order, new keys are not recorded (the document must stay under
 *  Firestore's 1 MiB). A redelivered extra beyond it would be emitted again with the same row id. */
export const MAX_TRACKED_PAYMENT_IDS = 10_000;

/** A waiting state holds at most this many undecided payments; past it, another distinct payment is
 *  emitted at once as payment_extra (the document must stay small; a commit stays under 500 writes). */
export const MAX_PENDING_PAYMENTS = 100;

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
  /** Events that landed inside a window the tick had already closed (ingested after deadline + lateness). */
  ingestedLate: number;
}

/** What the event itself did (rows it released are in `emitted`/`counters`). */
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
  /** In landing order: an expiry row before the rows that follow it. */
  readonly emitted: EmittedRow[];
  readonly counters: JoinCounters;
  /** False when the state is the same object as before (a duplicate): the adapter may skip the write. */
  readonly changed: boolean;
  readonly outcome: EventOutcome;
  /** Set when the event landed before the deadline of a window the tick had already closed: that deadline. */
  readonly lateForWindowMs: number | null;
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
    ingestedLate: 0,
  };
}

/** Adds `from` into `into` (mutates and returns `into`), for per-invocation totals. */
export function addCounters(into: JoinCounters, from: JoinCounters): JoinCounters {
  for (const k of Object.keys(into) as (keyof JoinCounters)[]) into[k] += from[k] ?? 0;
  return into;
}

/** A short digest of a payment_id (96 bits, base64url): what JoinState.paymentKeys holds. */
export function paymentKey(paymentId: string): string {
  return createHash('sha256').update(paymentId).digest('base64url').slice(0, 16);
}

export function eventOrderId(event: JoinEvent): string {
  return event.kind === 'order' ? event.order.orderId : event.payment.orderId;
}

/** The event's time: when its object landed. */
export function eventTime(event: JoinEvent): number {
  return event.source.landedAtMs;
}

/** Landing order: time, then a deterministic tie-break (orders first, then the source's name and ordinal). */
export function compareEvents(a: JoinEvent, b: JoinEvent): number {
  const d = eventTime(a) - eventTime(b);
  if (d !== 0) return d;
  if (a.kind !== b.kind) return a.kind === 'order' ? -1 : 1;
  const ka = `${a.source.bucket}/${a.source.object}#${a.source.generation}`;
  const kb = `${b.source.bucket}/${b.source.object}#${b.source.generation}`;
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.source.ordinal - b.source.ordinal;
}

export const isWaiting = (s: JoinState): boolean =>
  s.status === 'WAITING_PAYMENT' || s.status === 'WAITING_ORDER';
export const isTerminal = (s: JoinState): boolean => s.status === 'JOINED' || s.status === 'EXPIRED';

/** A waiting state whose deadline has passed at `atMs` (inclusive: at the deadline the timeout has elapsed). */
export function isDue(state: JoinState, atMs: number): boolean {
  return isWaiting(state) && state.deadlineMs !== null && state.deadlineMs <= atMs;
}

/** A tombstone past retention counts as absent, whether or not Firestore TTL has deleted it yet. */
export function isPurgeable(state: JoinState, atMs: number): boolean {
  return isTerminal(state) && state.purgeAtMs !== null && state.purgeAtMs <= atMs;
}

/** A state as stored by any version: version 1 (processing time) had no pending events, no closedAtMs and
 *  no landing time on its facts (its times were processing times: taken as landing times). */
export function normalizeState(state: JoinState): JoinState {
  if (state.v === 2) return state;
  const old = state as Omit<JoinState, 'v' | 'pending' | 'closedAtMs'> & { v: number };
  const land = <F extends OrderFacts | PaymentFacts>(f: F | null, at: number): F | null =>
    f === null || typeof f.source.landedAtMs === 'number'
      ? f
      : { ...f, source: { ...f.source, landedAtMs: at } };
  return {
    ...old,
    v: 2,
    order: land(old.order, old.epochMs),
    payment: land(old.payment, old.epochMs),
    closedAtMs: old.status === 'EXPIRED' ? old.updatedAtMs : null,
    pending: [],
  };
}

/**
 * Applies one valid event (its time: `event.source.landedAtMs`) to the state of its order_id (undefined:
 * no state yet). Throws StreamjoinError 'internal' only on a programming error (state of another order_id).
 */
export function applyEvent(
  state: JoinState | undefined,
  event: JoinEvent,
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
  let current = state === undefined ? undefined : normalizeState(state);
  if (current !== undefined && isPurgeable(current, eventTime(event))) {
    current = undefined;
    counters.restarted++;
  }
  if (current === undefined) return decide([event], settings, counters, 'waiting');
  if (isWaiting(current)) return onWaiting(state!, current, event, settings, counters);
  // JOINED or EXPIRED: decided; a later event is applied at once.
  const lateForWindowMs =
    current.status === 'EXPIRED' && current.closedAtMs !== null && eventTime(event) < current.closedAtMs
      ? current.closedAtMs
      : null;
  const step = stepInOrder(current, event, settings, counters);
  const duplicate = step.outcome === 'duplicate';
  if (lateForWindowMs !== null && !duplicate) counters.ingestedLate++;
  const changed = step.state !== current;
  return {
    state: changed ? step.state : state!,
    emitted: step.rows,
    counters,
    changed,
    outcome: step.outcome,
    lateForWindowMs: duplicate ? null : lateForWindowMs,
  };
}

/**
 * For the tick: closes the window of a waiting state whose deadline is at or before `watermarkMs` (the tick
 * passes its clock minus the allowed lateness): its events are decided in landing order, the timeout row
 * is emitted at the deadline. Any other state is returned unchanged.
 */
export function expireIfDue(state: JoinState, watermarkMs: number, settings: JoinSettings): ExpiryResult {
  const counters = zeroCounters();
  const current = normalizeState(state);
  if (!isDue(current, watermarkMs)) return { state, emitted: [], counters, changed: false };
  const sim = inLandingOrder(heldEvents(current), settings);
  addCounters(counters, sim.counters);
  let final = sim.state;
  const emitted = [...sim.rows];
  if (isWaiting(final)) {
    const expired = expire(final, settings, counters);
    emitted.push(expired.row);
    final = expired.state;
  }
  return { state: final, emitted, counters, changed: true };
}

/** The distinct events a waiting state holds, in landing order. */
function heldEvents(s: JoinState): JoinEvent[] {
  const first: JoinEvent =
    s.status === 'WAITING_PAYMENT'
      ? { kind: 'order', order: withoutSource(s.order!), source: s.order!.source }
      : { kind: 'payment', payment: withoutSource(s.payment!), source: s.payment!.source };
  return [first, ...s.pending];
}

function withoutSource<F extends OrderFacts | PaymentFacts>(f: F): Omit<F, 'source'> {
  const { source: _source, ...rest } = f;
  return rest;
}

/** A waiting state receives an event: dedupe it against what the state holds, then decide. */
function onWaiting(
  stored: JoinState,
  s: JoinState,
  event: JoinEvent,
  settings: JoinSettings,
  counters: JoinCounters,
): JoinResult {
  const held = heldEvents(s);
  const sameIndex = held.findIndex((h) =>
    event.kind === 'order'
      ? h.kind === 'order'
      : h.kind === 'payment' && paymentKey(h.payment.paymentId) === paymentKey(event.payment.paymentId),
  );
  const keyKnown = event.kind === 'payment' && s.paymentKeys.includes(paymentKey(event.payment.paymentId));
  if (sameIndex >= 0 || keyKnown) {
    // A duplicate (the same order_id's order, or a payment_id seen). The copy that landed first is the
    // event (landing order decides, not ingest order): an earlier copy replaces the one held.
    if (event.kind === 'order') counters.duplicateOrders++;
    else counters.duplicatePayments++;
    if (sameIndex < 0 || compareEvents(event, held[sameIndex]!) >= 0) {
      return {
        state: stored,
        emitted: [],
        counters,
        changed: false,
        outcome: 'duplicate',
        lateForWindowMs: null,
      };
    }
    const next = [...held];
    next[sameIndex] = event;
    return decide(next, settings, counters, 'duplicate', s.paymentKeys);
  }
  const pendingPayments = s.pending.filter((e) => e.kind === 'payment').length;
  if (event.kind === 'payment' && pendingPayments >= MAX_PENDING_PAYMENTS) {
    // Overflow: decided at once as an extra payment of this order_id (see MAX_PENDING_PAYMENTS).
    const p: PaymentFacts = { ...event.payment, source: event.source };
    counters.paymentExtra++;
    return {
      state: { ...s, paymentKeys: withKey(s.paymentKeys, paymentKey(p.paymentId)) },
      emitted: [unmatchedRow(s.orderId, 'payment_extra', null, p, s.epochMs, eventTime(event))],
      counters,
      changed: true,
      outcome: 'payment_extra',
      lateForWindowMs: null,
    };
  }
  return decide([...held, event], settings, counters, 'waiting', s.paymentKeys);
}

/**
 * Decides a set of distinct events of one order_id: if applying them in landing order joins the pair, the
 * pair (and every row up to and after it) is final and emitted now; otherwise nothing is decided yet and
 * the result is a waiting state holding them all.
 */
function decide(
  events: JoinEvent[],
  settings: JoinSettings,
  counters: JoinCounters,
  outcomeIfWaiting: EventOutcome,
  knownKeys: readonly string[] = [],
): JoinResult {
  const sorted = [...events].sort(compareEvents);
  const sim = inLandingOrder(sorted, settings);
  if (sim.state.status === 'JOINED') {
    addCounters(counters, sim.counters);
    const keys = knownKeys.reduce(withKey, sim.state.paymentKeys);
    return {
      state: { ...sim.state, paymentKeys: keys },
      emitted: sim.rows,
      counters,
      changed: true,
      outcome: 'joined',
      lateForWindowMs: null,
    };
  }
  const first = sorted[0]!;
  const base = start(first, settings).state;
  let keys = base.paymentKeys;
  for (const e of sorted) if (e.kind === 'payment') keys = withKey(keys, paymentKey(e.payment.paymentId));
  keys = knownKeys.reduce(withKey, keys);
  return {
    state: {
      ...base,
      updatedAtMs: Math.max(...sorted.map(eventTime)),
      paymentKeys: keys,
      pending: sorted.slice(1),
    },
    emitted: [],
    counters,
    changed: true,
    outcome: outcomeIfWaiting,
    lateForWindowMs: null,
  };
}

function withKey(keys: readonly string[], key: string): readonly string[] {
  if (keys.includes(key) || keys.length >= MAX_TRACKED_PAYMENT_IDS) return keys;
  return [...keys, key];
}

/**
 * The reference semantics: DESIGN §3's table applied to distinct events in landing order, each at its own
 * landing time (a waiting state whose deadline an event's time has reached is expired first).
 */
export function inLandingOrder(
  events: readonly JoinEvent[],
  settings: JoinSettings,
): { state: JoinState; rows: EmittedRow[]; counters: JoinCounters } {
  const counters = zeroCounters();
  const rows: EmittedRow[] = [];
  let state: JoinState | undefined;
  for (const e of events) {
    if (state === undefined) {
      state = start(e, settings).state;
      continue;
    }
    const step = stepInOrder(state, e, settings, counters);
    rows.push(...step.rows);
    state = step.state;
  }
  if (state === undefined)
    throw new StreamjoinError('internal', 'inLandingOrder: expected at least one event');
  return { state, rows, counters };
}

interface Step {
  readonly state: JoinState;
  readonly rows: EmittedRow[];
  readonly outcome: EventOutcome;
}

/** One event on an existing state, in landing order: expire first if the event's time reached the deadline. */
function stepInOrder(state: JoinState, e: JoinEvent, settings: JoinSettings, counters: JoinCounters): Step {
  const rows: EmittedRow[] = [];
  let current = state;
  const t = eventTime(e);
  if (isDue(current, t)) {
    const expired = expire(current, settings, counters);
    rows.push(expired.row);
    current = expired.state;
  }
  const step =
    e.kind === 'order'
      ? onOrder(current, { ...e.order, source: e.source }, t, settings, counters)
      : onPayment(current, { ...e.payment, source: e.source }, t, settings, counters);
  if (step.row !== undefined) rows.push(step.row);
  return { state: step.state, rows, outcome: step.outcome };
}

function start(event: JoinEvent, settings: JoinSettings): { state: JoinState } {
  const t = eventTime(event);
  const base = {
    v: 2,
    orderId: eventOrderId(event),
    epochMs: t,
    updatedAtMs: t,
    purgeAtMs: null,
    expiredAs: null,
    closedAtMs: null,
    pending: [],
  } as const;
  if (event.kind === 'order') {
    return {
      state: {
        ...base,
        status: 'WAITING_PAYMENT',
        deadlineMs: t + settings.orderTimeoutMs,
        order: { ...event.order, source: event.source },
        payment: null,
        paymentKeys: [],
      },
    };
  }
  return {
    state: {
      ...base,
      status: 'WAITING_ORDER',
      deadlineMs: t + settings.paymentTimeoutMs,
      order: null,
      payment: { ...event.payment, source: event.source },
      paymentKeys: [paymentKey(event.payment.paymentId)],
    },
  };
}

/** The timeout of a waiting state: its row is emitted at the deadline (the moment the window closed). */
function expire(
  state: JoinState,
  settings: JoinSettings,
  counters: JoinCounters,
): { state: JoinState; row: EmittedRow } {
  const reason: ExpiryReason = state.status === 'WAITING_PAYMENT' ? 'order_timeout' : 'payment_orphan';
  if (reason === 'order_timeout') counters.orderTimeout++;
  else counters.paymentOrphan++;
  const at = state.deadlineMs!;
  return {
    row: unmatchedRow(state.orderId, reason, state.order, state.payment, state.epochMs, at),
    state: {
      ...state,
      status: 'EXPIRED',
      expiredAs: reason,
      closedAtMs: at,
      deadlineMs: null,
      purgeAtMs: at + settings.tombstoneRetentionMs,
      pending: [],
    },
  };
}

interface Change {
  readonly state: JoinState;
  readonly row?: EmittedRow;
  readonly outcome: EventOutcome;
}

function onOrder(
  state: JoinState,
  order: OrderFacts,
  t: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Change {
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
      row: joinedRow(order, payment, state.epochMs, t),
      state: {
        ...state,
        status: 'JOINED',
        order,
        updatedAtMs: t,
        deadlineMs: null,
        purgeAtMs: t + settings.tombstoneRetentionMs,
        pending: [],
      },
    };
  }
  // EXPIRED after payment_orphan: the order came after its payment gave up waiting.
  counters.orderLate++;
  return {
    outcome: 'order_late',
    row: unmatchedRow(state.orderId, 'order_late', order, payment, state.epochMs, t),
    state: { ...state, order, updatedAtMs: t },
  };
}

function onPayment(
  state: JoinState,
  payment: PaymentFacts,
  t: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Change {
  const key = paymentKey(payment.paymentId);
  if (state.paymentKeys.includes(key)) {
    counters.duplicatePayments++;
    return { state, outcome: 'duplicate' };
  }
  const paymentKeys = withKey(state.paymentKeys, key);
  if (state.status === 'WAITING_PAYMENT') {
    counters.joined++;
    return {
      outcome: 'joined',
      row: joinedRow(state.order!, payment, state.epochMs, t),
      state: {
        ...state,
        status: 'JOINED',
        payment,
        paymentKeys,
        updatedAtMs: t,
        deadlineMs: null,
        purgeAtMs: t + settings.tombstoneRetentionMs,
        pending: [],
      },
    };
  }
  if (state.status === 'EXPIRED' && state.payment === null) {
    // EXPIRED after order_timeout, first payment: late. (A later distinct one is an extra, as after JOINED.)
    counters.paymentLate++;
    return {
      outcome: 'payment_late',
      row: unmatchedRow(state.orderId, 'payment_late', state.order, payment, state.epochMs, t),
      state: { ...state, payment, paymentKeys, updatedAtMs: t },
    };
  }
  // WAITING_ORDER (the order is unknown: payment fields only), JOINED (order fields + the new payment),
  // EXPIRED with a payment already (order fields if the order is known).
  counters.paymentExtra++;
  return {
    outcome: 'payment_extra',
    row: unmatchedRow(state.orderId, 'payment_extra', state.order, payment, state.epochMs, t),
    state: { ...state, paymentKeys, updatedAtMs: t },
  };
}
