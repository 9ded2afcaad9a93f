// The join state in Firestore: one document per join key, and an outbox row per emitted row written
// in the SAME atomic commit as the state change. Optimistic concurrency: states are read in bulk
// (getAll), the pure transition runs, and all changes of a chunk are committed as one WriteBatch whose
// every state write carries a precondition (create = must not exist, update = lastUpdateTime). If the
// batch loses a race, only the keys of that chunk are retried one by one, each re-read and re-planned.
// Keys expected to be new can be planned without the read (a speculative create: the precondition
// proves the state absent, and a lost bet is re-read and re-planned like a lost race). applyAtomic()
// commits a whole set of transitions as ONE commit together with a guard document created there.
import {
  type DocumentData,
  type DocumentReference,
  type DocumentSnapshot,
  FieldValue,
  type Firestore,
  Timestamp,
  type WriteBatch,
} from '@google-cloud/firestore';
import { settleAll } from '../async.ts';
import { StreamjoinError } from '../errors.ts';
import { type GuardName, guardOn } from '../guards.ts';
import type { TableKind } from '../tables.ts';
import { type Collections, docIdFor, shardOf } from './client.ts';
import type { OpCounter } from './op-counter.ts';

/** A row for one of the output tables; timestamps as epoch microseconds (number, < 2^53). */
export interface OutboxRow {
  /** Deterministic id (the same emission always has the same id). */
  readonly id: string;
  readonly table: TableKind;
  readonly values: Readonly<Record<string, string | number | boolean | null>>;
}

/** Index fields of a state document, derived from the state by the caller. */
export interface StateIndex {
  readonly status: string;
  /** Epoch ms (landing time) when a waiting state times out, or null. The stored, queried field `deadline`
   *  is max(this, the writer's clock at the write): see JoinStore.stage. */
  readonly deadlineMs: number | null;
  /** Epoch ms after which Firestore TTL may delete the (terminal) state, or null. */
  readonly expireAtMs: number | null;
}

export interface Transition<S> {
  /** The new state, or undefined when nothing changes (no write). */
  readonly next: S | undefined;
  readonly emitted: readonly OutboxRow[];
}

export interface ApplyOptions {
  /** Plan the first attempt as if no state existed (no read); a key that exists fails the commit, and the
   *  keys of that commit are then read and re-planned. For keys that are almost always new. */
  readonly assumeAbsent?: boolean;
  /** Snapshots the caller already holds (the tick's eviction query): the first attempt plans from them
   *  instead of reading again, and its commit lands only on those exact versions (guard `guard`). */
  readonly read?: ReadonlyMap<string, DocumentSnapshot>;
  readonly guard?: GuardName;
}

export interface AtomicOptions extends Pick<ApplyOptions, 'assumeAbsent'> {
  /** Created (must not exist) in the same commit. If it exists, the commit is not made: `guarded`. */
  readonly guard: { readonly ref: DocumentReference; readonly data: DocumentData };
  /** Write the guard whether or not it exists (a forced re-run): never `guarded`. */
  readonly overwriteGuard?: boolean;
  /** Whether an existing guard means the work is done (default: any existing guard does); one that is
   *  not ends the attempt with `guard-unfinished`. */
  readonly guardDone?: (data: DocumentData) => boolean;
  /** Further writes of the same commit (e.g. quarantine records), each staging exactly one write. */
  readonly extra?: ReadonlyArray<(batch: WriteBatch) => void>;
}

export type AtomicResult =
  | { readonly status: 'committed'; readonly conflicts: number; readonly emitted: number }
  /** The guard already existed: someone made (or is making) these changes. Nothing was written. */
  | { readonly status: 'guarded'; readonly conflicts: number }
  /** The changes do not fit one commit: nothing was written; apply() them in parts instead. */
  | { readonly status: 'too-big'; readonly writes: number }
  /** The guard exists but says the work is unfinished: nothing was written; apply() them in parts. */
  | { readonly status: 'guard-unfinished' };

/** What the stored document says beside the state: `deadline` as the tick queries it (epoch ms), or null. */
export interface StoredIndex {
  readonly deadlineMs: number | null;
}

export type TransitionFn<S> = (current: S | undefined, stored: StoredIndex) => Transition<S>;

export interface JoinStoreOptions<S> {
  readonly db: Firestore;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly index: (state: S) => StateIndex;
  /** The join key as messages name it (`order_id`, `shipment_id`: keyNameOf the spec). The stored
   *  field holding the key stays `orderId` for every spec (kept for compatibility). */
  readonly keyName: string;
  /** Shards of the deadline and outbox indexes (avoid the ~500 writes/s hotspot of monotonic values). */
  readonly shards: number;
  /** Max state keys per commit (each with its outbox rows). */
  readonly chunkKeys?: number;
  readonly maxAttempts?: number;
  /** The writer's clock (processing time), epoch ms. */
  readonly now?: () => number;
}

/** Writes per commit: Firestore's documented limit is 500 per batch. */
const MAX_WRITES_PER_COMMIT = 450;
/** Key chunks of one apply() read and committed at the same time. */
const CONCURRENT_PARTS = 4;
/** Re-plans of a whole commit that lost a race before its keys are retried one by one. */
const GROUP_ATTEMPTS = 3;
const FAILED_PRECONDITION = 9;
const ALREADY_EXISTS = 6;
const ABORTED = 10;

function storedIndex(snap: DocumentSnapshot | undefined): StoredIndex {
  const d = snap?.exists === true ? (snap.get('deadline') as Timestamp | null | undefined) : undefined;
  return { deadlineMs: d instanceof Timestamp ? d.toMillis() : null };
}

function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === FAILED_PRECONDITION || code === ALREADY_EXISTS || code === ABORTED;
}

export class JoinStore<S> {
  private readonly o: JoinStoreOptions<S>;

  constructor(options: JoinStoreOptions<S>) {
    this.o = options;
  }

  /** An error's context naming the key by the spec's field (`{ shipment_id: "S1" }`). */
  private keyContext(key: string): Record<string, unknown> {
    return { [this.o.keyName]: key };
  }

  stateRef(key: string): DocumentReference {
    return this.o.collections.states.doc(docIdFor(key));
  }

  /** Reads current states (for inspection and tests). */
  async getStates(keys: readonly string[]): Promise<Map<string, S>> {
    const out = new Map<string, S>();
    if (keys.length === 0) return out;
    const snaps = await this.o.db.getAll(...keys.map((k) => this.stateRef(k)));
    this.o.counter.reads += snaps.length;
    snaps.forEach((snap, i) => {
      if (snap.exists) out.set(keys[i]!, snap.get('s') as S);
    });
    return out;
  }

  /**
   * Applies one transition per key, atomically per key (state + its outbox rows).
   * Transition functions are pure and may run more than once (after a lost race).
   * `read`: snapshots the caller already holds (the tick's eviction query): the first attempt plans from
   * them instead of reading again, and its commit lands only on those exact versions (guard `guard`);
   * a key that lost a race is re-read as usual.
   */
  async apply(
    items: ReadonlyMap<string, TransitionFn<S>>,
    options: ApplyOptions = {},
  ): Promise<{ conflicts: number; emitted: number }> {
    const keys = [...items.keys()];
    const chunk = this.o.chunkKeys ?? 200;
    const parts: string[][] = [];
    for (let i = 0; i < keys.length; i += chunk) parts.push(keys.slice(i, i + chunk));
    // Parts hold distinct keys, so they commit side by side without contending with each other.
    let conflicts = 0;
    let emitted = 0;
    let next = 0;
    let failed = false;
    await settleAll(
      Array.from({ length: Math.min(CONCURRENT_PARTS, parts.length) }, async () => {
        while (!failed && next < parts.length) {
          const part = parts[next++]!;
          try {
            const r = await this.applyChunk(part, items, 1, options);
            conflicts += r.conflicts;
            emitted += r.emitted;
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      }),
    );
    return { conflicts, emitted };
  }

  /**
   * Applies the transitions in ONE commit that also creates `guard` (and holds `extra`), so either all of
   * it happens or none. A lost race is re-read (with the guard) and re-planned; a guard found existing
   * means the work is someone else's: `guarded`, nothing written.
   */
  async applyAtomic(
    items: ReadonlyMap<string, TransitionFn<S>>,
    options: AtomicOptions,
  ): Promise<AtomicResult> {
    const keys = [...items.keys()];
    const refs = keys.map((k) => this.stateRef(k));
    const max = this.o.maxAttempts ?? 30;
    for (let attempt = 1; attempt <= max; attempt++) {
      const speculative = attempt === 1 && options.assumeAbsent === true;
      let snaps: Array<DocumentSnapshot | undefined> = keys.map(() => undefined);
      if (!speculative && (keys.length > 0 || attempt > 1)) {
        // After a lost race, the guard is read too: it tells "done by someone else" from "re-plan".
        const read = await this.o.db.getAll(...refs, ...(attempt > 1 ? [options.guard.ref] : []));
        this.o.counter.reads += read.length;
        const guard = attempt > 1 ? read[refs.length]! : undefined;
        if (guard?.exists === true && options.overwriteGuard !== true) {
          if (options.guardDone === undefined || options.guardDone(guard.data()!))
            return { status: 'guarded', conflicts: attempt - 1 };
          return { status: 'guard-unfinished' };
        }
        snaps = read.slice(0, refs.length);
      }
      const batch = this.o.db.batch();
      let writes = 0;
      let emitted = 0;
      const planned = keys.map((key, i) => {
        const snap = snaps[i];
        return items.get(key)!(snap?.exists ? (snap.get('s') as S) : undefined, storedIndex(snap));
      });
      writes = planned.reduce((n, t) => n + (t.next === undefined ? 0 : 1 + t.emitted.length), 0);
      const extraWrites = options.extra?.length ?? 0;
      if (writes + extraWrites + 1 > MAX_WRITES_PER_COMMIT)
        return { status: 'too-big', writes: writes + extraWrites + 1 };
      keys.forEach((key, i) => {
        this.stage(batch, key, refs[i]!, snaps[i], planned[i]!);
        emitted += planned[i]!.emitted.length;
      });
      for (const write of options.extra ?? []) write(batch);
      // Guard ingest.ledger-create: the file's ledger entry is created in its one commit (create-only), so
      // a redelivered file is recognised whole — even after its states' tombstones are gone.
      if (guardOn('ingest.ledger-create') && options.overwriteGuard !== true)
        batch.create(options.guard.ref, options.guard.data);
      else batch.set(options.guard.ref, options.guard.data);
      try {
        await batch.commit();
        this.o.counter.writes += writes + extraWrites + 1;
        return { status: 'committed', conflicts: attempt - 1, emitted };
      } catch (err) {
        if (!isConflict(err)) throw err;
        await new Promise((r) =>
          setTimeout(r, Math.min(1000, 10 * 2 ** Math.min(attempt, 7)) * Math.random()),
        );
      }
    }
    throw new StreamjoinError('conflict', `gave up after ${max} conflicting attempts on one file's commit`, {
      context: { guard: options.guard.ref.path },
    });
  }

  private async applyChunk(
    keys: readonly string[],
    items: ReadonlyMap<string, TransitionFn<S>>,
    attempt = 1,
    given: ApplyOptions = {},
  ): Promise<{ conflicts: number; emitted: number }> {
    const refs = keys.map((k) => this.stateRef(k));
    const read = given.read;
    let snaps: Array<DocumentSnapshot | undefined> = keys.map(() => undefined);
    let guard: GuardName = 'ingest.state-precondition';
    if (read !== undefined && keys.every((k) => read.has(k))) {
      snaps = keys.map((k) => read.get(k)!);
      guard = given.guard ?? guard;
    } else if (given.assumeAbsent !== true) {
      snaps = await this.o.db.getAll(...refs);
      this.o.counter.reads += snaps.length;
    }
    // Pack the keys' writes into commits of at most MAX_WRITES_PER_COMMIT (a key's writes stay together).
    const groups: Array<{ batch: WriteBatch; keys: string[]; writes: number; emitted: number }> = [];
    let cur = { batch: this.o.db.batch(), keys: [] as string[], writes: 0, emitted: 0 };
    keys.forEach((key, i) => {
      const snap = snaps[i];
      const t = items.get(key)!(snap?.exists ? (snap.get('s') as S) : undefined, storedIndex(snap));
      const n = t.next === undefined ? 0 : 1 + t.emitted.length;
      if (n === 0) return;
      if (n > MAX_WRITES_PER_COMMIT) {
        throw new StreamjoinError(
          'internal',
          `one ${this.o.keyName} needs ${n} writes in one commit (max ${MAX_WRITES_PER_COMMIT}): chunk the input smaller`,
          { context: this.keyContext(key) },
        );
      }
      if (cur.writes + n > MAX_WRITES_PER_COMMIT) {
        groups.push(cur);
        cur = { batch: this.o.db.batch(), keys: [], writes: 0, emitted: 0 };
      }
      this.stage(cur.batch, key, refs[i]!, snap, t, guard);
      cur.keys.push(key);
      cur.writes += n;
      cur.emitted += t.emitted.length;
    });
    if (cur.writes > 0) groups.push(cur);
    let conflicts = 0;
    let emitted = 0;
    await settleAll(
      groups.map(async (g) => {
        try {
          await g.batch.commit();
          this.o.counter.writes += g.writes;
          emitted += g.emitted;
          return;
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
        // Lost a race on at least one key: re-read and re-plan the keys of this commit together a few
        // times (a concurrent writer usually touched a handful of them), then each key on its own.
        conflicts++;
        if (attempt < GROUP_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
          const r = await this.applyChunk(g.keys, items, attempt + 1);
          conflicts += r.conflicts;
          emitted += r.emitted;
          return;
        }
        for (const key of g.keys) {
          const r = await this.applyOne(key, items.get(key)!);
          conflicts += r.conflicts;
          emitted += r.emitted;
        }
      }),
    );
    return { conflicts, emitted };
  }

  private async applyOne(key: string, fn: TransitionFn<S>): Promise<{ conflicts: number; emitted: number }> {
    const ref = this.stateRef(key);
    const max = this.o.maxAttempts ?? 30;
    for (let attempt = 1; attempt <= max; attempt++) {
      const snap = await ref.get();
      this.o.counter.reads++;
      const t = fn(snap.exists ? (snap.get('s') as S) : undefined, storedIndex(snap));
      const batch = this.o.db.batch();
      const writes = this.stage(batch, key, ref, snap, t);
      if (writes === 0) return { conflicts: attempt - 1, emitted: 0 };
      try {
        await batch.commit();
        this.o.counter.writes += writes;
        return { conflicts: attempt - 1, emitted: t.emitted.length };
      } catch (err) {
        if (!isConflict(err)) throw err;
        await new Promise((r) =>
          setTimeout(r, Math.min(1000, 10 * 2 ** Math.min(attempt, 7)) * Math.random()),
        );
      }
    }
    throw new StreamjoinError(
      'conflict',
      `gave up after ${max} conflicting attempts on ${this.o.keyName} state`,
      {
        context: this.keyContext(key),
      },
    );
  }

  /** Adds the writes of one transition to a batch; returns how many writes. */
  private stage(
    batch: WriteBatch,
    key: string,
    ref: DocumentReference,
    /** The state document as read; undefined when planned without a read (created if it does not exist). */
    snap: DocumentSnapshot | undefined,
    t: Transition<S>,
    guard: GuardName = 'ingest.state-precondition',
  ): number {
    if (t.next === undefined) {
      if (t.emitted.length > 0) {
        throw new StreamjoinError('internal', 'a transition emitted rows without changing the state', {
          context: this.keyContext(key),
        });
      }
      return 0;
    }
    const idx = this.o.index(t.next);
    // The tick closes a waiting state once `deadline` + allowed lateness has passed by its clock. Deadlines
    // are landing times; a state written later than its deadline (a replay, a backlog after an outage) is
    // queried as due no sooner than its write, so the events ingested with it get the allowed lateness too.
    const due = idx.deadlineMs === null ? null : Math.max(idx.deadlineMs, (this.o.now ?? Date.now)());
    const fields = {
      orderId: key,
      s: t.next,
      status: idx.status,
      deadline: due === null ? null : Timestamp.fromMillis(due),
      deadlineShard: shardOf(key, this.o.shards),
      expireAt: idx.expireAtMs === null ? null : Timestamp.fromMillis(idx.expireAtMs),
      updatedAt: FieldValue.serverTimestamp(),
    };
    // Guard ingest.state-precondition (evict.precondition for states the eviction query read): the change
    // lands only on the state it was planned from.
    if (!guardOn(guard)) batch.set(ref, fields);
    else if (snap?.exists === true) batch.update(ref, fields, { lastUpdateTime: snap.updateTime! });
    else batch.create(ref, fields);
    for (const row of t.emitted) {
      batch.set(this.o.collections.outbox.doc(docIdFor(row.id)), {
        rowId: row.id,
        table: row.table,
        row: row.values,
        orderId: key,
        shard: shardOf(row.id, this.o.shards),
        createdAt: FieldValue.serverTimestamp(),
      });
    }
    return 1 + t.emitted.length;
  }
}
