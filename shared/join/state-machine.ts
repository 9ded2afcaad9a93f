// The join of the two streams of a join spec per key (DESIGN §3: orders and payments per order_id for the
// default spec; the left side is one event per key, the right side several per key told apart by their
// identity) as pure functions of (state, event): an
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
import { defaultJoinSpec } from '../spec/load.ts';
import type { JoinSpec, Side } from '../spec/model.ts';
import type { StreamRecord } from '../spec/records.ts';
import { type JoinPlan, planOf, sidePlan } from './plan.ts';
import { type EmittedRow, type EventSource, type Facts, joinedRow, unmatchedRow } from './rows.ts';

/** WAITING_PAYMENT: the left event waits for the right side; WAITING_ORDER: right events wait for the
 *  left one (the names of the default spec, kept for every spec: they are stored and indexed). */
export const JOIN_STATUSES = ['WAITING_PAYMENT', 'WAITING_ORDER', 'JOINED', 'EXPIRED'] as const;
export type JoinStatus = (typeof JOIN_STATUSES)[number];

/** The spec's leftTimeout or rightOrphan reason (`order_timeout`, `payment_orphan`). */
export type ExpiryReason = string;

/** Structurally a subset of shared/config.ts `Config`, so the config object can be passed as is. */
export interface JoinSettings {
  /** How long an order waits for its payment (from its landing time). */
  readonly orderTimeoutMs: number;
  /** How long an early payment waits for its order (from its landing time). */
  readonly paymentTimeoutMs: number;
  /** How long a JOINED/EXPIRED state is kept to recognise duplicates. */
  readonly tombstoneRetentionMs: number;
  /** What is joined: streams, key, identity, reasons and output columns. Absent: the shipped default. */
  readonly joinSpec?: JoinSpec;
}

/** One valid event of either side: its key and identity (JoinPlan) and its record by field name. */
export interface JoinEvent {
  readonly side: Side;
  readonly key: string;
  /** Tells the event apart from others of its side and key (the left side's is its key). */
  readonly identity: string;
  readonly record: StreamRecord;
  readonly source: EventSource;
}

/** The event of a validated record of `side`: key and identity taken as the spec says. */
export function joinEventOf(
  plan: JoinPlan,
  side: Side,
  record: StreamRecord,
  source: EventSource,
): JoinEvent {
  const sp = sidePlan(plan, side);
  return { side, key: sp.keyOf(record), identity: sp.identityOf(record), record, source };
}

/** One key's join state (a Firestore document). All times are epoch milliseconds of landing time. */
export interface JoinState {
  /** Schema version of this document (1: before landing time; 2: orders and payments built in; 3: any
   *  spec's records. Older ones are read by normalizeState). */
  readonly v: 3;
  /** The join key (as a string). */
  readonly key: string;
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
  /** The first left event (in landing order while waiting; first one wins once decided). */
  readonly left: Facts | null;
  /** The right event that waits (WAITING_ORDER) or was paired with the left one (JOINED, right late);
   *  extra right events are not kept, only their identities' digests. */
  readonly right: Facts | null;
  /** identityKey() of every right identity seen for this key, to tell a duplicate from an extra.
   *  Digests rather than identities keep the document small whatever they look like. */
  readonly rightKeys: readonly string[];
  /** Waiting states: the other distinct events seen so far, in landing order, not yet decided. [] otherwise. */
  readonly pending: readonly JoinEvent[];
}

/** Past this many distinct right identities per key, new ones are not recorded (the document must stay under
 *  Firestore's 1 MiB). A redelivered extra beyond it would be emitted again with the same row id. */
export const MAX_TRACKED_PAYMENT_IDS = 10_000;

/** A waiting state holds at most this many undecided payments; past it, another distinct payment is
 *  emitted at once as payment_extra (the document must stay small; a commit stays under 500 writes). */
export const MAX_PENDING_PAYMENTS = 100;

/** Named after the default spec's sides: orders are the left side, payments the right side. */
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

/** What the event itself did (rows it released are in `emitted`/`counters`): one of these, or the
 *  spec's rightExtra, rightLate or leftLate reason (`payment_extra`, `payment_late`, `order_late`). */
export const EVENT_OUTCOMES = ['waiting', 'joined', 'duplicate'] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number] | (string & {});

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

/** A short digest of a right identity (96 bits, base64url): what JoinState.rightKeys holds. For the
 *  default spec the identity is the payment_id, so states stored before issue 17 keep matching. */
export function identityKey(identity: string): string {
  return createHash('sha256').update(identity).digest('base64url').slice(0, 16);
}
/** The default spec's name for identityKey. */
export const paymentKey = identityKey;

export function eventKey(event: JoinEvent): string {
  return event.key;
}

/** The event's time: when its object landed. */
export function eventTime(event: JoinEvent): number {
  return event.source.landedAtMs;
}

/** Landing order: time, then a deterministic tie-break (left first, then the source's name and ordinal). */
export function compareEvents(a: JoinEvent, b: JoinEvent): number {
  const d = eventTime(a) - eventTime(b);
  if (d !== 0) return d;
  if (a.side !== b.side) return a.side === 'left' ? -1 : 1;
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

function planFor(settings: JoinSettings): JoinPlan {
  return planOf(settings.joinSpec ?? defaultJoinSpec());
}

/** Field names of the default spec's records in the stored form of version 1 and 2 (camelCase). */
const LEGACY_ORDER_FIELDS = [
  ['orderId', 'order_id'],
  ['orderDate', 'order_date'],
  ['createdAt', 'created_at'],
  ['customerId', 'customer_id'],
  ['amount', 'amount'],
] as const;
const LEGACY_PAYMENT_FIELDS = [
  ['paymentId', 'payment_id'],
  ['orderId', 'order_id'],
  ['paymentDate', 'payment_date'],
  ['createdAt', 'created_at'],
  ['amount', 'amount'],
] as const;

type LegacyFacts = Record<string, unknown> & { source: EventSource };

function legacyFacts(plan: JoinPlan, side: Side, f: LegacyFacts | null, landedAtMs: number): Facts | null {
  if (f === null || f === undefined) return null;
  const record: Record<string, StreamRecord[string]> = {};
  for (const [from, to] of side === 'left' ? LEGACY_ORDER_FIELDS : LEGACY_PAYMENT_FIELDS)
    record[to] = (f[from] ?? null) as StreamRecord[string];
  const source = typeof f.source.landedAtMs === 'number' ? f.source : { ...f.source, landedAtMs };
  return { record, identity: sidePlan(plan, side).identityOf(record), source };
}

/**
 * A state as stored by any version. Version 2 (before issue 17) held the default spec's order and payment
 * in camelCase (`order`, `payment`, `paymentKeys`, `orderId`; pending events by kind): they become its
 * records by wire name, with the same identities (payment_id) and digests. Version 1 (processing time)
 * had no pending events, no closedAtMs and no landing time on its facts (its times were processing
 * times: taken as landing times).
 */
export function normalizeState(state: JoinState, plan: JoinPlan = planOf(defaultJoinSpec())): JoinState {
  if (state.v === 3) return state;
  const old = state as unknown as {
    v: number;
    orderId: string;
    status: JoinStatus;
    epochMs: number;
    updatedAtMs: number;
    deadlineMs: number | null;
    purgeAtMs: number | null;
    expiredAs: string | null;
    closedAtMs?: number | null;
    order: LegacyFacts | null;
    payment: LegacyFacts | null;
    paymentKeys: readonly string[];
    pending?: ReadonlyArray<{
      kind: 'order' | 'payment';
      order?: Record<string, unknown>;
      payment?: Record<string, unknown>;
      source: EventSource;
    }>;
  };
  const pending = (old.pending ?? []).map((e): JoinEvent => {
    const side: Side = e.kind === 'order' ? 'left' : 'right';
    const facts = legacyFacts(
      plan,
      side,
      { ...(e.order ?? e.payment ?? {}), source: e.source },
      old.epochMs,
    )!;
    return { side, key: old.orderId, identity: facts.identity, record: facts.record, source: facts.source };
  });
  return {
    v: 3,
    key: old.orderId,
    status: old.status,
    epochMs: old.epochMs,
    updatedAtMs: old.updatedAtMs,
    deadlineMs: old.deadlineMs,
    purgeAtMs: old.purgeAtMs,
    expiredAs: old.expiredAs,
    closedAtMs: old.v >= 2 ? (old.closedAtMs ?? null) : old.status === 'EXPIRED' ? old.updatedAtMs : null,
    left: legacyFacts(plan, 'left', old.order, old.epochMs),
    right: legacyFacts(plan, 'right', old.payment, old.epochMs),
    rightKeys: old.paymentKeys ?? [],
    pending,
  };
}

/**
 * Applies one valid event (its time: `event.source.landedAtMs`) to the state of its key (undefined:
 * no state yet). Throws StreamjoinError 'internal' only on a programming error (state of another key).
 */
export function applyEvent(
  state: JoinState | undefined,
  event: JoinEvent,
  settings: JoinSettings,
): JoinResult {
  const plan = planFor(settings);
  const key = event.key;
  const current0 = state === undefined ? undefined : normalizeState(state, plan);
  if (current0 !== undefined && current0.key !== key) {
    throw new StreamjoinError(
      'internal',
      `applyEvent: expected a state for ${plan.left.stream.key} ${JSON.stringify(key)}, but was one for ${JSON.stringify(current0.key)}`,
    );
  }
  const counters = zeroCounters();
  let current = current0;
  if (current !== undefined && isPurgeable(current, eventTime(event))) {
    current = undefined;
    counters.restarted++;
  }
  if (current === undefined) return decide(plan, [event], settings, counters, 'waiting');
  if (isWaiting(current)) return onWaiting(plan, state!, current, event, settings, counters);
  // JOINED or EXPIRED: decided; a later event is applied at once.
  const lateForWindowMs =
    current.status === 'EXPIRED' && current.closedAtMs !== null && eventTime(event) < current.closedAtMs
      ? current.closedAtMs
      : null;
  const step = stepInOrder(plan, current, event, settings, counters);
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
  const plan = planFor(settings);
  const counters = zeroCounters();
  const current = normalizeState(state, plan);
  if (!isDue(current, watermarkMs)) return { state, emitted: [], counters, changed: false };
  const sim = replay(plan, heldEvents(current), settings);
  addCounters(counters, sim.counters);
  let final = sim.state;
  const emitted = [...sim.rows];
  if (isWaiting(final)) {
    const expired = expire(plan, final, settings, counters);
    emitted.push(expired.row);
    final = expired.state;
  }
  return { state: final, emitted, counters, changed: true };
}

function eventOfFacts(side: Side, key: string, f: Facts): JoinEvent {
  return { side, key, identity: f.identity, record: f.record, source: f.source };
}

/** The distinct events a waiting state holds, in landing order. */
function heldEvents(s: JoinState): JoinEvent[] {
  const first =
    s.status === 'WAITING_PAYMENT'
      ? eventOfFacts('left', s.key, s.left!)
      : eventOfFacts('right', s.key, s.right!);
  return [first, ...s.pending];
}

function factsOf(e: JoinEvent): Facts {
  return { record: e.record, identity: e.identity, source: e.source };
}

/** A waiting state receives an event: dedupe it against what the state holds, then decide. */
function onWaiting(
  plan: JoinPlan,
  stored: JoinState,
  s: JoinState,
  event: JoinEvent,
  settings: JoinSettings,
  counters: JoinCounters,
): JoinResult {
  const held = heldEvents(s);
  const sameIndex = held.findIndex((h) =>
    event.side === 'left'
      ? h.side === 'left'
      : h.side === 'right' && identityKey(h.identity) === identityKey(event.identity),
  );
  const keyKnown = event.side === 'right' && s.rightKeys.includes(identityKey(event.identity));
  if (sameIndex >= 0 || keyKnown) {
    // A duplicate (the key's left event, or a right identity seen). The copy that landed first is the
    // event (landing order decides, not ingest order): an earlier copy replaces the one held.
    if (event.side === 'left') counters.duplicateOrders++;
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
    return decide(plan, next, settings, counters, 'duplicate', s.rightKeys);
  }
  const pendingRight = s.pending.filter((e) => e.side === 'right').length;
  if (event.side === 'right' && pendingRight >= MAX_PENDING_PAYMENTS) {
    // Overflow: decided at once as an extra right event of this key (see MAX_PENDING_PAYMENTS).
    const r = factsOf(event);
    counters.paymentExtra++;
    return {
      state: { ...s, rightKeys: withKey(s.rightKeys, identityKey(r.identity)) },
      emitted: [unmatchedRow(plan, s.key, plan.reasons.rightExtra, null, r, s.epochMs, eventTime(event))],
      counters,
      changed: true,
      outcome: plan.reasons.rightExtra,
      lateForWindowMs: null,
    };
  }
  return decide(plan, [...held, event], settings, counters, 'waiting', s.rightKeys);
}

/**
 * Decides a set of distinct events of one key: if applying them in landing order joins the pair, the
 * pair (and every row up to and after it) is final and emitted now; otherwise nothing is decided yet and
 * the result is a waiting state holding them all.
 */
function decide(
  plan: JoinPlan,
  events: JoinEvent[],
  settings: JoinSettings,
  counters: JoinCounters,
  outcomeIfWaiting: EventOutcome,
  knownKeys: readonly string[] = [],
): JoinResult {
  const sorted = [...events].sort(compareEvents);
  const sim = replay(plan, sorted, settings);
  if (sim.state.status === 'JOINED') {
    addCounters(counters, sim.counters);
    const keys = knownKeys.reduce(withKey, sim.state.rightKeys);
    return {
      state: { ...sim.state, rightKeys: keys },
      emitted: sim.rows,
      counters,
      changed: true,
      outcome: 'joined',
      lateForWindowMs: null,
    };
  }
  const first = sorted[0]!;
  const base = start(first, settings).state;
  let keys = base.rightKeys;
  for (const e of sorted) if (e.side === 'right') keys = withKey(keys, identityKey(e.identity));
  keys = knownKeys.reduce(withKey, keys);
  return {
    state: {
      ...base,
      updatedAtMs: Math.max(...sorted.map(eventTime)),
      rightKeys: keys,
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
  return replay(planFor(settings), events, settings);
}

function replay(
  plan: JoinPlan,
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
    const step = stepInOrder(plan, state, e, settings, counters);
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
function stepInOrder(
  plan: JoinPlan,
  state: JoinState,
  e: JoinEvent,
  settings: JoinSettings,
  counters: JoinCounters,
): Step {
  const rows: EmittedRow[] = [];
  let current = state;
  const t = eventTime(e);
  if (isDue(current, t)) {
    const expired = expire(plan, current, settings, counters);
    rows.push(expired.row);
    current = expired.state;
  }
  const step =
    e.side === 'left'
      ? onLeft(plan, current, factsOf(e), t, settings, counters)
      : onRight(plan, current, factsOf(e), t, settings, counters);
  if (step.row !== undefined) rows.push(step.row);
  return { state: step.state, rows, outcome: step.outcome };
}

function start(event: JoinEvent, settings: JoinSettings): { state: JoinState } {
  const t = eventTime(event);
  const base = {
    v: 3,
    key: event.key,
    epochMs: t,
    updatedAtMs: t,
    purgeAtMs: null,
    expiredAs: null,
    closedAtMs: null,
    pending: [],
  } as const;
  if (event.side === 'left') {
    return {
      state: {
        ...base,
        status: 'WAITING_PAYMENT',
        deadlineMs: t + settings.orderTimeoutMs,
        left: factsOf(event),
        right: null,
        rightKeys: [],
      },
    };
  }
  return {
    state: {
      ...base,
      status: 'WAITING_ORDER',
      deadlineMs: t + settings.paymentTimeoutMs,
      left: null,
      right: factsOf(event),
      rightKeys: [identityKey(event.identity)],
    },
  };
}

/** The timeout of a waiting state: its row is emitted at the deadline (the moment the window closed). */
function expire(
  plan: JoinPlan,
  state: JoinState,
  settings: JoinSettings,
  counters: JoinCounters,
): { state: JoinState; row: EmittedRow } {
  const leftWaited = state.status === 'WAITING_PAYMENT';
  const reason = leftWaited ? plan.reasons.leftTimeout : plan.reasons.rightOrphan;
  if (leftWaited) counters.orderTimeout++;
  else counters.paymentOrphan++;
  const at = state.deadlineMs!;
  return {
    row: unmatchedRow(plan, state.key, reason, state.left, state.right, state.epochMs, at),
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

function onLeft(
  plan: JoinPlan,
  state: JoinState,
  left: Facts,
  t: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Change {
  // WAITING_PAYMENT, JOINED, EXPIRED after the left timeout, or EXPIRED after left late: the left is known.
  if (state.left !== null) {
    counters.duplicateOrders++;
    return { state, outcome: 'duplicate' };
  }
  const right = state.right!;
  if (state.status === 'WAITING_ORDER') {
    counters.joined++;
    return {
      outcome: 'joined',
      row: joinedRow(plan, state.key, left, right, state.epochMs, t),
      state: {
        ...state,
        status: 'JOINED',
        left,
        updatedAtMs: t,
        deadlineMs: null,
        purgeAtMs: t + settings.tombstoneRetentionMs,
        pending: [],
      },
    };
  }
  // EXPIRED after the right orphan: the left event came after the right one gave up waiting.
  counters.orderLate++;
  return {
    outcome: plan.reasons.leftLate,
    row: unmatchedRow(plan, state.key, plan.reasons.leftLate, left, right, state.epochMs, t),
    state: { ...state, left, updatedAtMs: t },
  };
}

function onRight(
  plan: JoinPlan,
  state: JoinState,
  right: Facts,
  t: number,
  settings: JoinSettings,
  counters: JoinCounters,
): Change {
  const key = identityKey(right.identity);
  if (state.rightKeys.includes(key)) {
    counters.duplicatePayments++;
    return { state, outcome: 'duplicate' };
  }
  const rightKeys = withKey(state.rightKeys, key);
  if (state.status === 'WAITING_PAYMENT') {
    counters.joined++;
    return {
      outcome: 'joined',
      row: joinedRow(plan, state.key, state.left!, right, state.epochMs, t),
      state: {
        ...state,
        status: 'JOINED',
        right,
        rightKeys,
        updatedAtMs: t,
        deadlineMs: null,
        purgeAtMs: t + settings.tombstoneRetentionMs,
        pending: [],
      },
    };
  }
  if (state.status === 'EXPIRED' && state.right === null) {
    // EXPIRED after the left timeout, first right event: late. (A later distinct one is an extra, as after JOINED.)
    counters.paymentLate++;
    return {
      outcome: plan.reasons.rightLate,
      row: unmatchedRow(plan, state.key, plan.reasons.rightLate, state.left, right, state.epochMs, t),
      state: { ...state, right, rightKeys, updatedAtMs: t },
    };
  }
  // WAITING_ORDER (the left is unknown: right fields only), JOINED (left fields + the new right event),
  // EXPIRED with a right event already (left fields if the left is known).
  counters.paymentExtra++;
  return {
    outcome: plan.reasons.rightExtra,
    row: unmatchedRow(plan, state.key, plan.reasons.rightExtra, state.left, right, state.epochMs, t),
    state: { ...state, rightKeys, updatedAtMs: t },
  };
}
