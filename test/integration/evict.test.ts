// Eviction against the real Firestore emulator: rounds continue within the tick's time budget (a
// backlog larger than one round is worked off in one tick), and an expiry lands only on the state its
// query read — deterministic interleavings with another tick, and with a payment that joins the order
// between the query and the commit.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { shardOf } from '../../shared/firestore/client.ts';
import { createLogger } from '../../shared/log.ts';
import { type EvictDeps, evictExpired } from '../../shared/pipeline/evict.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('evict');
});
after(() => h.close());
afterEach(() => h.fs.reset());

function deps(
  overrides: Partial<Omit<EvictDeps, 'config'>> & { config?: Partial<EvictDeps['config']> } = {},
): EvictDeps {
  const { config, ...rest } = overrides;
  return {
    db: h.fs.db,
    collections: h.collections,
    counter: h.counter,
    log: createLogger({ level: 'silent' }),
    now: () => h.clock,
    ...rest,
    config: { ...h.config, ...config },
  };
}

async function ingestLines(name: string, lines: unknown[]) {
  return h.ingest(await h.upload(name, lines.map((l) => JSON.stringify(l)).join('\n')));
}

async function waitingOrders(prefix: string, n: number): Promise<number> {
  const t0 = h.clock;
  await ingestLines(
    `stream/orders/${prefix}/o.jsonl`,
    Array.from({ length: n }, (_, i) => order(`${prefix}${i}`)),
  );
  return t0 + h.config.orderTimeoutMs;
}

/** Outbox rows per order_id and reason, e.g. "E1:order_timeout" → 1. */
async function rowsByReason(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of await h.outbox()) {
    const key = `${r.row['order_id']}:${r.row['reason'] ?? 'joined'}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

describe('evict: rounds within the time budget', () => {
  it('a backlog of several rounds is evicted in one tick while the budget lasts', async () => {
    const deadline = await waitingOrders('R', 60);
    h.clock = deadline + h.config.allowedLatenessMs + 1; // past deadline + allowed lateness
    const r = await evictExpired(deps({ config: { evictBatchSize: 16 } }));
    assert.equal(r.expired, 60, 'every due state in one tick');
    assert.ok(r.rounds >= 4, `rounds of at most 16 (got ${r.rounds})`);
    assert.equal(r.more, false);
    // The eviction lag (logged for the metric streamjoin_eviction_lag): how far past deadline +
    // lateness the oldest due state was; nothing due, no lag.
    assert.equal(r.lagMs, 1);
    h.clock += 5000;
    assert.equal((await evictExpired(deps())).lagMs, 0);
  });

  it('the eviction lag is that of the oldest due state, over every shard and round', async () => {
    const early = await waitingOrders('L', 5);
    h.clock += 90_000;
    await waitingOrders('M', 20);
    h.clock = early + h.config.allowedLatenessMs + 90_000 + 7; // the later orders are 7 ms past, the early 90 s
    const r = await evictExpired(deps({ config: { evictBatchSize: 4 } }));
    assert.equal(r.expired, 25);
    assert.equal(r.lagMs, 90_007);
  });

  it('stops after the round in which the budget ran out, and says more is left', async () => {
    const deadline = await waitingOrders('S', 40);
    h.clock = deadline + h.config.allowedLatenessMs + 1; // past deadline + allowed lateness
    let t = 0;
    // The budget clock advances 10 ms per reading (one reading before the first round, one after each).
    const elapsed = () => (t += 10);
    const r = await evictExpired(deps({ config: { evictBatchSize: 8, evictTimeBudgetMs: 15 }, elapsed }));
    assert.equal(r.rounds, 2);
    assert.equal(r.expired, 16);
    assert.equal(r.more, true);
  });
});

describe('evict: an expiry lands only on the state its query read', () => {
  it('two overlapping ticks expire each state once', async () => {
    const deadline = await waitingOrders('T', 30);
    h.clock = deadline + h.config.allowedLatenessMs + 1; // past deadline + allowed lateness
    // Tick A stops after the query of every deadline shard that holds a due state.
    const shards = new Set(Array.from({ length: 30 }, (_, i) => shardOf(`T${i}`, h.config.indexShards)));
    const paused = Promise.withResolvers<void>();
    const go = Promise.withResolvers<void>();
    let reached = 0;
    const a = evictExpired(
      deps({
        pause: async () => {
          if (++reached === shards.size) paused.resolve();
          await go.promise;
        },
      }),
    );
    await paused.promise; // A has read every due state
    const b = await evictExpired(deps());
    // B's tick flushes its rows, as a tick does after evicting: they leave the outbox for a batch.
    const flushed = await createFlusher({ ...deps(), store, config: h.config }).flushAll();
    go.resolve();
    const ra = await a;
    assert.equal(b.expired, 30);
    assert.equal(flushed.rows, 30);
    assert.deepEqual(await rowsByReason(), new Map(), 'the paused tick emitted no second timeout row');
    assert.equal(ra.expired, 0);
  });

  it('a state joined between the eviction query and its commit is not expired', async () => {
    const t0 = h.clock;
    const deadline = await waitingOrders('J', 5);
    const paused = Promise.withResolvers<void>();
    const go = Promise.withResolvers<void>();
    // The tick's clock is past the deadline + allowed lateness; the payment landed a moment before the
    // deadline.
    const tick = evictExpired(
      deps({
        now: () => deadline + h.config.allowedLatenessMs + 1,
        pause: async () => {
          paused.resolve();
          await go.promise;
        },
      }),
    );
    await paused.promise;
    h.clock = deadline - 1;
    await ingestLines(
      'stream/payments/J/p.jsonl',
      Array.from({ length: 5 }, (_, i) => payment(`jp${i}`, `J${i}`)),
    );
    go.resolve();
    const r = await tick;
    assert.equal(r.expired, 0, 'nothing expired');
    const rows = await rowsByReason();
    assert.deepEqual(
      [...rows.keys()].sort(),
      ['J0:joined', 'J1:joined', 'J2:joined', 'J3:joined', 'J4:joined'],
      'each order in its joined row only',
    );
    assert.equal((await h.state('J0'))?.status, 'JOINED');
    assert.ok(t0 < deadline);
  });
});
