// Tick against the real Firestore emulator: expiry of both timeout kinds, and the exactly-once flush
// of outbox rows into staged Parquet batches under crashes at every step and overlapping ticks.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { setFaults } from '../../shared/faults.ts';
import { deserializeStats, type SerializedStats } from '../../shared/pipeline/flush.ts';
import { createFlusher, runTick, type TickDeps } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

const MIN = 60_000;
let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('tick', { STREAMJOIN_FLUSH_MAX_ROWS: '150', STREAMJOIN_ROW_GROUP_ROWS: '100' });
});
after(() => h.close());
afterEach(async () => {
  setFaults('');
  await h.fs.reset();
});

function tickDeps(): TickDeps {
  return {
    ...h.tickDeps(store),
    now: () => h.clock,
  };
}

async function ingestLines(name: string, lines: unknown[]) {
  return h.ingest(await h.upload(name, lines.map((l) => JSON.stringify(l)).join('\n')));
}

/** Every row of every staged batch, read back from its Parquet files. */
async function stagedRows(): Promise<Array<Record<string, unknown>>> {
  const snap = await h.collections.batches.where('status', '==', 'staged').get();
  const rows: Array<Record<string, unknown>> = [];
  for (const b of snap.docs) {
    for (const f of (b.get('files') as SerializedStats[]).map(deserializeStats)) {
      const buf = await store.read(f.uri);
      const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      const got = await parquetReadObjects({
        file,
        compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) },
      });
      assert.equal(got.length, f.recordCount, `record count of ${f.uri}`);
      rows.push(...got);
    }
  }
  return rows;
}

async function outboxCount() {
  return (await h.collections.outbox.count().get()).data().count;
}

describe('tick: eviction', () => {
  it('expires waiting orders (order_timeout) and early payments (payment_orphan) once deadline + allowed lateness passed', async () => {
    const t0 = h.clock;
    const lateness = h.config.allowedLatenessMs;
    assert.equal(lateness, 2 * MIN, 'the default allowed lateness');
    await ingestLines('stream/orders/e/o.jsonl', [order('W1'), order('W2')]);
    await ingestLines('stream/payments/e/p.jsonl', [payment('p3', 'W3')]);
    h.clock = t0 + 14 * MIN;
    assert.equal((await runTick(tickDeps())).evict.expired, 0, 'nothing is due before the deadline');
    h.clock = t0 + 15 * MIN + lateness - 1;
    assert.equal((await runTick(tickDeps())).evict.expired, 0, 'nor within the allowed lateness');
    h.clock = t0 + 15 * MIN + lateness;
    const r = await runTick(tickDeps());
    assert.equal(r.evict.expired, 3);
    assert.equal(r.evict.counters.orderTimeout, 2);
    assert.equal(r.evict.counters.paymentOrphan, 1);
    const rows = await stagedRows();
    assert.deepEqual(rows.map((x) => `${x['order_id']}:${x['reason']}`).sort(), [
      'W1:order_timeout',
      'W2:order_timeout',
      'W3:payment_orphan',
    ]);
    // A timeout row is emitted at its deadline (landing time + timeout), not when the tick ran (ms as read).
    for (const x of rows) assert.equal(Number(x['emitted_at']), t0 + 15 * MIN);
    assert.equal((await h.state('W1'))?.status, 'EXPIRED');
    // A second tick finds nothing more and a late payment is payment_late, not joined.
    assert.equal((await runTick(tickDeps())).evict.expired, 0);
    await ingestLines('stream/payments/e/late.jsonl', [payment('p1', 'W1')]);
    await runTick(tickDeps());
    assert.ok((await stagedRows()).some((x) => x['order_id'] === 'W1' && x['reason'] === 'payment_late'));
  });

  it('a payment that landed after the deadline but came before the tick is held; the tick emits order_timeout + payment_late', async () => {
    const t0 = h.clock;
    await ingestLines('stream/orders/e/o2.jsonl', [order('V1')]);
    h.clock = t0 + 20 * MIN;
    await ingestLines('stream/payments/e/p2.jsonl', [payment('pv', 'V1')]);
    assert.equal((await h.state('V1'))?.status, 'WAITING_PAYMENT');
    // Written at 20 min: due no sooner than then, so the tick closes it at 20 min + allowed lateness.
    assert.equal((await runTick(tickDeps())).evict.expired, 0);
    h.clock = t0 + 22 * MIN;
    const r = await runTick(tickDeps());
    assert.equal(r.evict.expired, 2);
    const rows = await stagedRows();
    assert.deepEqual(rows.map((x) => [x['reason'], Number(x['emitted_at'])]).sort(), [
      ['order_timeout', t0 + 15 * MIN],
      ['payment_late', t0 + 20 * MIN],
    ]);
  });

  it('a state written long after its landing (a replay, a backlog) is closed no sooner than allowed lateness after the write', async () => {
    const t0 = h.clock;
    const landed = t0 - 60 * MIN; // deadline t0 - 45 min: long past when this is ingested
    await h.ingest(
      await h.upload('stream/orders/e/old.json', JSON.stringify(order('U1')), { landedAtMs: landed }),
    );
    await h.ingest(
      await h.upload('stream/orders/e/old2.json', JSON.stringify(order('U2')), { landedAtMs: landed }),
    );
    h.clock = t0 + h.config.allowedLatenessMs - 1;
    assert.equal((await runTick(tickDeps())).evict.expired, 0, 'its pair may still be in flight');
    await h.ingest(
      await h.upload('stream/payments/e/old.json', JSON.stringify(payment('pu', 'U1')), {
        landedAtMs: landed + MIN,
      }),
    );
    h.clock = t0 + h.config.allowedLatenessMs;
    assert.equal((await runTick(tickDeps())).evict.expired, 1);
    const rows = await stagedRows();
    assert.deepEqual(
      rows
        .map((x) => [x['order_id'], x['reason'] ?? 'joined', Number(x['joined_at'] ?? x['emitted_at'])])
        .sort(),
      [
        ['U1', 'joined', landed + MIN],
        ['U2', 'order_timeout', landed + 15 * MIN],
      ],
    );
  });

  it('bounded work per run with continuation (a budget of one round per tick)', async () => {
    const hh = h;
    const t0 = hh.clock;
    await ingestLines(
      'stream/orders/e/many.jsonl',
      Array.from({ length: 60 }, (_, i) => order(`B${i}`)),
    );
    hh.clock = t0 + 18 * MIN;
    const deps = { ...tickDeps(), config: { ...hh.config, evictBatchSize: 16, evictTimeBudgetMs: 0 } };
    let total = 0;
    let runs = 0;
    for (;;) {
      const r = await runTick(deps);
      total += r.evict.expired;
      runs++;
      if (!r.evict.more) break;
    }
    assert.equal(total, 60);
    assert.ok(runs >= 3, `expected several bounded runs, got ${runs}`);
  });
});

async function seedRows(n: number) {
  await ingestLines(
    'stream/orders/f/o.jsonl',
    Array.from({ length: n }, (_, i) => order(`F${i}`)),
  );
  await ingestLines(
    'stream/payments/f/p.jsonl',
    Array.from({ length: n }, (_, i) => payment(`q${i}`, `F${i}`)),
  );
  h.clock += 1000;
}

function assertExactlyOnce(rows: Array<Record<string, unknown>>, n: number) {
  const ids = rows.map((r) => String(r['order_id']));
  assert.equal(ids.length, n, 'rows in staged files');
  assert.equal(new Set(ids).size, n, 'no row twice');
}

describe('tick: flush exactly once', () => {
  it('flushes every outbox row into exactly one staged batch and empties the outbox', async () => {
    await seedRows(400);
    assert.equal(await outboxCount(), 400);
    const flusher = createFlusher(tickDeps());
    for (let i = 0; i < 10 && (await outboxCount()) > 0; i++) await flusher.flushAll();
    assert.equal(await outboxCount(), 0);
    assertExactlyOnce(await stagedRows(), 400);
  });

  for (const point of [
    'flush.after-claim',
    'flush.after-write',
    'flush.after-stage',
    'flush.during-delete',
    'flush.after-delete',
  ]) {
    it(`a crash at ${point} is finished by a later tick: no lost or duplicated row`, async () => {
      await seedRows(300);
      setFaults(`${point}=fail:1`);
      await assert.rejects(createFlusher(tickDeps()).flushAll(), /injected failure/);
      // The crashed batch's lease must lapse before another tick takes it over.
      h.clock += h.config.flushLeaseMs + 1;
      const flusher = createFlusher(tickDeps());
      for (let i = 0; i < 20 && (await outboxCount()) > 0; i++) await flusher.flushAll();
      await flusher.flushAll(); // releases any lease left after the last rows went
      assert.equal(await outboxCount(), 0);
      assertExactlyOnce(await stagedRows(), 300);
      const leases = await h.collections.flush.where('batchId', '!=', null).get();
      assert.equal(leases.size, 0, 'every lease released');
    });
  }

  it('two ticks at the same time put each row in exactly one batch', async () => {
    await seedRows(500);
    const a = createFlusher(tickDeps());
    const b = createFlusher(tickDeps());
    for (let i = 0; i < 20 && (await outboxCount()) > 0; i++)
      await Promise.all([a.flushAll(), b.flushAll(), a.flushAll()]);
    assert.equal(await outboxCount(), 0);
    assertExactlyOnce(await stagedRows(), 500);
  });
});

describe('tick: a retried batch never overwrites a complete data file', () => {
  it('reuses the file an earlier attempt wrote, and refuses one whose rows differ', async () => {
    await seedRows(60);
    setFaults('flush.after-write=fail:1');
    await assert.rejects(createFlusher(tickDeps()).flushAll(), /injected failure/);
    setFaults('');
    const claimed = await h.collections.batches.where('status', '==', 'claimed').get();
    assert.equal(claimed.size >= 1, true);
    const batchId = claimed.docs[0]!.get('batchId') as string;
    // Find the file the first attempt wrote for that batch and replace it with other bytes.
    let written: string | undefined;
    for await (const o of store.list(`file://${h.dir}/warehouse/`))
      if (o.uri.includes(batchId)) written = o.uri;
    assert.ok(written !== undefined, 'the first attempt wrote its file');
    await store.write(written, Buffer.from('PAR1 not the rows of this batch PAR1'));
    const flusher = createFlusher(tickDeps());
    await assert.rejects(
      flusher.flushAll(),
      /exists with content identity \(none recorded\), but this attempt's rows are \d+:[0-9a-f]{64}/,
    );
    assert.equal(
      (await store.read(written)).toString(),
      'PAR1 not the rows of this batch PAR1',
      'not overwritten',
    );
  });
});
