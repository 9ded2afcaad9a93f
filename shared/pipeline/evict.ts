// Tick, part 1: evict waiting states whose deadline + allowed lateness has passed by the tick's clock (the
// watermark: deadlines are landing times, so a file that landed in time but is ingested up to the allowed
// lateness later still finds its state waiting and joins). The query runs per deadline shard
// (index: deadlineShard ASC, deadline ASC — the shard spreads the monotonically increasing deadline
// over several index ranges) and each hit is expired through the same pure state machine and the same
// atomic state+outbox commit as ingest, planned from the state the query read and committed only on
// that exact version. Work comes in bounded rounds (`evictBatchSize` states); rounds continue while
// expired states remain and the tick's eviction time budget lasts, so a backlog is worked off within
// the tick rather than one round per minute.
import type { DocumentSnapshot } from '@google-cloud/firestore';
import { Timestamp } from '@google-cloud/firestore';
import { settleAll } from '../async.ts';
import type { Config } from '../config.ts';
import type { TransitionFn } from '../firestore/join-store.ts';
import {
  addCounters,
  expireIfDue,
  type JoinCounters,
  type JoinState,
  zeroCounters,
} from '../join/state-machine.ts';
import { createJoinStore, type IngestDeps, joinPlanOf, toOutboxRow } from './ingest.ts';

export interface EvictResult {
  readonly expired: number;
  readonly counters: JoinCounters;
  /** True when the last round hit its limit (the budget ran out with a backlog left): call again. */
  readonly more: boolean;
  readonly rounds: number;
  /**
   * How far past its window (deadline + allowed lateness) the oldest due state was when this call
   * found it, in ms (0 when none was due): the eviction lag.
   */
  readonly lagMs: number;
}

export type EvictDeps = Pick<IngestDeps, 'db' | 'collections' | 'counter' | 'log' | 'now'> & {
  config: Pick<
    Config,
    | 'indexShards'
    | 'evictBatchSize'
    | 'evictTimeBudgetMs'
    | 'orderTimeoutMs'
    | 'paymentTimeoutMs'
    | 'tombstoneRetentionMs'
    | 'allowedLatenessMs'
  > &
    Partial<Pick<Config, 'joinSpec'>>;
  /** Test hook, awaited after a shard's query and before its commits (deterministic interleavings). */
  readonly pause?: (point: 'evict.after-query', shard: number) => Promise<void>;
  /** Elapsed-time clock of the budget (ms, monotonic); the processing clock `now` may be frozen in tests. */
  readonly elapsed?: () => number;
};

/** Evicts in rounds while a backlog remains and the time budget lasts (at least one round). */
export async function evictExpired(deps: EvictDeps): Promise<EvictResult> {
  const elapsed = deps.elapsed ?? (() => performance.now());
  const started = elapsed();
  const counters = zeroCounters();
  let expired = 0;
  let rounds = 0;
  let lagMs = 0;
  let more: boolean;
  do {
    const r = await evictRound(deps);
    rounds++;
    expired += r.expired;
    lagMs = Math.max(lagMs, r.lagMs);
    addCounters(counters, r.counters);
    more = r.more;
  } while (more && elapsed() - started < deps.config.evictTimeBudgetMs);
  if (expired > 0) deps.log.info({ expired, counters, more, rounds, lagMs }, 'evicted expired states');
  return { expired, counters, more, rounds, lagMs };
}

/** One bounded round: up to evictBatchSize states, spread over the deadline shards. */
export async function evictRound(deps: EvictDeps): Promise<Omit<EvictResult, 'rounds'>> {
  const now = (deps.now ?? Date.now)();
  // Everything that landed before this has had its allowed lateness to be ingested.
  const watermark = now - deps.config.allowedLatenessMs;
  const shards = deps.config.indexShards;
  const perShard = Math.max(1, Math.ceil(deps.config.evictBatchSize / shards));
  const store = createJoinStore(deps);
  const plan = joinPlanOf(deps.config);
  const counters = zeroCounters();
  let expired = 0;
  let more = false;
  let lagMs = 0;
  await settleAll(
    Array.from({ length: shards }, async (_, shard) => {
      const snap = await deps.collections.states
        .where('deadlineShard', '==', shard)
        .where('deadline', '<=', Timestamp.fromMillis(watermark))
        .orderBy('deadline')
        .limit(perShard)
        .select('orderId', 's', 'deadline')
        .get();
      deps.counter.reads += Math.max(1, snap.size);
      if (snap.size === perShard) more = true;
      if (snap.empty) return;
      // Ordered by deadline: the shard's first state is its oldest due one.
      const oldest = (snap.docs[0]!.get('deadline') as Timestamp).toMillis();
      lagMs = Math.max(lagMs, watermark - oldest);
      if (deps.pause !== undefined) await deps.pause('evict.after-query', shard);
      const shardCounters = new Map<string, JoinCounters>();
      const items = new Map<string, TransitionFn<JoinState>>();
      const read = new Map<string, DocumentSnapshot>();
      for (const doc of snap.docs) {
        const orderId = doc.get('orderId') as string;
        read.set(orderId, doc);
        items.set(orderId, (current, stored) => {
          // Re-checked on the document the commit is planned from: an ingest may have written it since.
          if (current === undefined || stored.deadlineMs === null || stored.deadlineMs > watermark)
            return { next: undefined, emitted: [] };
          const r = expireIfDue(current, watermark, deps.config);
          shardCounters.set(orderId, r.counters);
          return {
            next: r.changed ? r.state : undefined,
            emitted: r.emitted.map((row) => toOutboxRow(plan, row)),
          };
        });
      }
      // Guard evict.precondition (in the store's commit): each expiry is planned from the state this
      // query read and lands only if that state is unchanged — another tick may have expired it, or a
      // payment joined it, since; such a key is re-read and re-planned (then nothing is due).
      const r = await store.apply(items, { read, guard: 'evict.precondition' });
      expired += r.emitted;
      for (const c of shardCounters.values()) addCounters(counters, c);
    }),
  );
  return { expired, counters, more, lagMs };
}
