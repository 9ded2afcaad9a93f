// Tick, part 1: evict waiting states whose deadline has passed. The query runs per deadline shard
// (index: deadlineShard ASC, deadline ASC — the shard spreads the monotonically increasing deadline
// over several index ranges) and each hit is expired through the same pure state machine and the same
// atomic state+outbox commit as ingest. Bounded per run; `more` says a backlog remains.
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
import { createJoinStore, type IngestDeps, toOutboxRow } from './ingest.ts';

export interface EvictResult {
  readonly expired: number;
  readonly counters: JoinCounters;
  /** True when a shard hit its limit: call again. */
  readonly more: boolean;
}

export async function evictExpired(
  deps: Pick<IngestDeps, 'db' | 'collections' | 'counter' | 'log' | 'now'> & {
    config: Pick<
      Config,
      'indexShards' | 'evictBatchSize' | 'orderTimeoutMs' | 'paymentTimeoutMs' | 'tombstoneRetentionMs'
    >;
  },
): Promise<EvictResult> {
  const now = (deps.now ?? Date.now)();
  const shards = deps.config.indexShards;
  const perShard = Math.max(1, Math.ceil(deps.config.evictBatchSize / shards));
  const store = createJoinStore(deps);
  const counters = zeroCounters();
  let expired = 0;
  let more = false;
  await settleAll(
    Array.from({ length: shards }, async (_, shard) => {
      const snap = await deps.collections.states
        .where('deadlineShard', '==', shard)
        .where('deadline', '<=', Timestamp.fromMillis(now))
        .orderBy('deadline')
        .limit(perShard)
        .select('orderId')
        .get();
      deps.counter.reads += Math.max(1, snap.size);
      if (snap.size === perShard) more = true;
      if (snap.empty) return;
      const shardCounters = new Map<string, JoinCounters>();
      const items = new Map<string, TransitionFn<JoinState>>();
      for (const doc of snap.docs) {
        const orderId = doc.get('orderId') as string;
        items.set(orderId, (current) => {
          if (current === undefined) return { next: undefined, emitted: [] };
          const r = expireIfDue(current, now, deps.config);
          shardCounters.set(orderId, r.counters);
          return { next: r.changed ? r.state : undefined, emitted: r.emitted.map(toOutboxRow) };
        });
      }
      const r = await store.apply(items);
      expired += r.emitted;
      for (const c of shardCounters.values()) addCounters(counters, c);
    }),
  );
  if (expired > 0) deps.log.info({ expired, counters, more }, 'evicted expired states');
  return { expired, counters, more };
}
