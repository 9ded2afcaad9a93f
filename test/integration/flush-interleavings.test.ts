// Flush under adversarial timing, on the real Firestore emulator, with deterministic interleavings: a
// holder paused (test hook) past its lease while another attempt takes its batch over, with backlogs
// smaller and larger than one batch and rows of more than one day; a tick clock 30 s ahead of and behind
// Firestore's; a staged batch whose holder crashed halfway through deleting; a data file at a batch's
// name with other rows; and one poisoned shard next to healthy ones. Every case ends with the whole
// outbox flushed, each row in exactly one staged batch.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { setFaults } from '../../shared/faults.ts';
import { encodeDataFile } from '../../shared/parquet/data-file-writer.ts';
import {
  dataFileUri,
  deserializeStats,
  type FlushPoint,
  ROW_IDS_KEY,
  type SerializedStats,
} from '../../shared/pipeline/flush.ts';
import { createFlusher, type TickDeps, tableUris } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../shared/tables.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

const DAY = 86_400_000;
const MAX_ROWS = 150;
const store = new FileObjectStore();
let h: Harness;
let seeded = 0;

before(async () => {
  h = await createHarness('flush-interleave', {
    STREAMJOIN_FLUSH_MAX_ROWS: String(MAX_ROWS),
    STREAMJOIN_ROW_GROUP_ROWS: '100',
    STREAMJOIN_INDEX_SHARDS: '1',
  });
});
after(() => h.close());
afterEach(async () => {
  setFaults('');
  mock.restoreAll();
  await h.fs.reset();
});

function deps(overrides: Partial<TickDeps> = {}): TickDeps {
  return {
    ...h.tickDeps(store),
    now: () => h.clock,
    ...overrides,
  };
}

/** Pause points for named flushers: `at(name, point)` stops that flusher there once, until released. */
class Gates {
  private readonly gates = new Map<
    string,
    { reached: PromiseWithResolvers<string>; go: PromiseWithResolvers<void>; used: boolean }
  >();

  hook(name: string) {
    return async (point: FlushPoint, batchId: string): Promise<void> => {
      const g = this.gates.get(`${name}:${point}`);
      if (g === undefined || g.used) return;
      g.used = true;
      g.reached.resolve(batchId);
      await g.go.promise;
    };
  }

  at(name: string, point: FlushPoint): { reached: Promise<string>; release: () => void } {
    const g = { reached: Promise.withResolvers<string>(), go: Promise.withResolvers<void>(), used: false };
    this.gates.set(`${name}:${point}`, g);
    return { reached: g.reached.promise, release: () => g.go.resolve() };
  }
}

/** Ingests n joined pairs whose rows fall on day `day` (0 = the harness's first day). */
async function seedPairs(n: number, day = 0): Promise<void> {
  const base = Date.UTC(2026, 10, 25, 12, 0, 0) + day * DAY;
  if (h.clock < base) h.clock = base;
  const p = `P${seeded++}x`;
  const put = async (name: string, lines: unknown[]) =>
    h.ingest(await h.upload(name, lines.map((l) => JSON.stringify(l)).join('\n')));
  await put(
    `stream/orders/${p}/o.jsonl`,
    Array.from({ length: n }, (_, i) => order(`${p}${i}`)),
  );
  await put(
    `stream/payments/${p}/p.jsonl`,
    Array.from({ length: n }, (_, i) => payment(`${p}q${i}`, `${p}${i}`)),
  );
}

async function outboxCount(): Promise<number> {
  return (await h.collections.outbox.count().get()).data().count;
}

async function readParquet(uri: string): Promise<Array<Record<string, unknown>>> {
  const buf = await store.read(uri);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return parquetReadObjects({
    file,
    compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) },
  });
}

/** Order ids of every row of every staged batch, read back from its Parquet files. */
async function stagedOrderIds(): Promise<string[]> {
  const snap = await h.collections.batches.where('status', '==', 'staged').get();
  const ids: string[] = [];
  for (const b of snap.docs) {
    for (const f of (b.get('files') as SerializedStats[]).map(deserializeStats)) {
      const rows = await readParquet(f.uri);
      assert.equal(rows.length, f.recordCount, `record count of ${f.uri}`);
      ids.push(...rows.map((r) => String(r['order_id'])));
    }
  }
  return ids;
}

/** Flushes until the outbox is empty (a bounded number of ticks), then checks exactly once. */
async function drainAndCheck(expected: number): Promise<void> {
  const flusher = createFlusher(deps());
  for (let i = 0; i < 20 && (await outboxCount()) > 0; i++) await flusher.flushAll();
  await flusher.flushAll(); // frees a lease left after the last rows went
  assert.equal(await outboxCount(), 0, 'outbox empty');
  const ids = await stagedOrderIds();
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(dupes, [], 'no row in two batches');
  assert.equal(ids.length, expected, 'every row in a staged batch (none lost)');
  const claimed = await h.collections.batches.where('status', '==', 'claimed').get();
  assert.equal(claimed.size, 0, 'no batch left claimed');
}

describe('flush: a holder paused past its lease', () => {
  // 150 rows per batch: 100 rows fit in one batch; 250 = one batch of day-0 rows and 100 rows of day 1,
  // which the resumed holder would read next (into files of names no batch has written).
  for (const [backlog, label] of [
    [[100], 'a backlog smaller than one batch'],
    [[MAX_ROWS, 100], 'a backlog larger than one batch'],
  ] as const) {
    it(`stages and deletes nothing after its batch was taken over, staged and released (${label})`, async () => {
      for (const [day, n] of backlog.entries()) await seedPairs(n, day);
      const total = backlog.reduce((a, b) => a + b, 0);
      const gates = new Gates();
      const paused = gates.at('A', 'flush.after-claim');
      const a = createFlusher(deps(), { pause: gates.hook('A') });
      const runA = a.flushAll();
      await paused.reached;
      h.clock += h.config.flushLeaseMs + 1;
      const b = await createFlusher(deps()).flushAll();
      paused.release();
      const ra = await runA;
      await drainAndCheck(total);
      assert.deepEqual(
        b.batches.map((x) => x.rowCount),
        [Math.min(total, MAX_ROWS)],
        'the taker-over flushed the batch',
      );
      assert.equal(ra.lostLeases, 1, 'the resumed holder saw its lease taken over');
      assert.deepEqual(ra.batches, [], 'and staged nothing');
    });
  }

  it('does not free the lease of the attempt that took its batch over while that one is between stage and delete', async () => {
    await seedPairs(MAX_ROWS, 0);
    await seedPairs(100, 1);
    const gates = new Gates();
    const pausedA = gates.at('A', 'flush.after-claim');
    const pausedB = gates.at('B', 'flush.after-stage');
    const runA = createFlusher(deps(), { pause: gates.hook('A') }).flushAll();
    await pausedA.reached;
    h.clock += h.config.flushLeaseMs + 1;
    const runB = createFlusher(deps(), { pause: gates.hook('B') }).flushAll();
    await pausedB.reached; // B has staged the batch; its rows are still in the outbox
    pausedA.release();
    const ra = await runA;
    // A third tick while B still holds the lease: nothing to do for it on that shard.
    const c = await createFlusher(deps()).flushAll();
    pausedB.release();
    const rb = await runB;
    await drainAndCheck(MAX_ROWS + 100);
    assert.equal(ra.lostLeases, 1);
    assert.deepEqual(c.batches, [], 'no new batch while the staged one is not deleted');
    assert.equal(rb.batches[0]?.rowCount, MAX_ROWS);
  });
});

describe('flush: a holder that is slow but alive', () => {
  it('renews its lease while writing, so a tick after the first lease period finds it busy, not abandoned', async () => {
    await seedPairs(100, 0);
    const gates = new Gates();
    const claimed = gates.at('A', 'flush.after-claim');
    const written = gates.at('A', 'flush.after-write');
    const runA = createFlusher(deps(), { pause: gates.hook('A') }).flushAll();
    await claimed.reached;
    h.clock += h.config.flushLeaseMs / 2; // slow, but within its lease: it renews as it reads
    claimed.release();
    await written.reached;
    h.clock += (h.config.flushLeaseMs * 3) / 5; // past the first lease, within the renewed one
    const b = await createFlusher(deps()).flushAll();
    written.release();
    const a = await runA;
    assert.equal(b.busyShards, 1, 'the other tick leaves the batch to its live holder');
    assert.deepEqual(
      a.batches.map((x) => x.rowCount),
      [100],
    );
    assert.equal(a.lostLeases, 0);
    await drainAndCheck(100);
  });
});

describe('flush: a staged batch whose holder crashed while deleting', () => {
  it('is finished by the taker-over from its staged record (rows of the batch only, each once)', async () => {
    // 500-row batches: the crash comes after the first delete commit (400 rows), 100 rows of the batch
    // remain, and 200 more rows wait behind it.
    await seedPairs(700, 0);
    const config = { ...h.config, flushMaxRows: 500 };
    setFaults('flush.during-delete=fail:1');
    await assert.rejects(
      createFlusher(deps({ config })).flushAll(),
      /injected failure at flush.during-delete/,
    );
    setFaults('');
    assert.equal(await outboxCount(), 300, 'the crash left 100 rows of the staged batch and 200 more');
    const r = await createFlusher(deps({ config })).flushAll();
    assert.deepEqual(
      r.batches.map((b) => b.rowCount),
      [500],
      'the takeover finished the staged batch as recorded',
    );
    assert.equal(await outboxCount(), 200, 'exactly the staged rows were deleted');
    await drainAndCheck(700);
  });
});

describe('flush: a data file already at a batch file name', () => {
  async function crashAfterWrite(): Promise<{ batchId: string; uri: string }> {
    setFaults('flush.after-write=fail:1');
    await assert.rejects(createFlusher(deps()).flushAll(), /injected failure at flush.after-write/);
    setFaults('');
    const claimed = await h.collections.batches.where('status', '==', 'claimed').get();
    assert.equal(claimed.size, 1);
    const batchId = claimed.docs[0]!.get('batchId') as string;
    const day = Math.floor(h.clock / DAY);
    const uri = dataFileUri(tableUris(h.config).joined, JOINED_TABLE, batchId, day);
    assert.ok(await store.stat(uri), 'the crashed attempt wrote its file');
    return { batchId, uri };
  }

  it('is reused when it holds this batch’s rows, even encoded with other settings (another size)', async () => {
    await seedPairs(120, 0);
    const { uri } = await crashAfterWrite();
    const before = await store.read(uri);
    // The takeover runs with another row-group size: its own encoding differs in bytes, not in rows.
    const r = await createFlusher(deps({ config: { ...h.config, rowGroupRows: 1000 } })).flushAll();
    assert.equal(r.batches[0]?.rowCount, 120);
    assert.equal(r.batches[0]?.files[0]?.fileSizeInBytes, before.length, 'stats carry the real file size');
    assert.deepEqual(await store.read(uri), before, 'the file is kept as it was');
    await drainAndCheck(120);
  });

  it('is refused, and never overwritten, when it holds other rows of the same size', async () => {
    await seedPairs(120, 0);
    const { uri } = await crashAfterWrite();
    // hyparquet reads timestamps as Dates; the encoder takes epoch microseconds (the rows hold whole ms).
    const rows: Row[] = (await readParquet(uri)).map((r) => ({
      ...(r as Row),
      joined_at: BigInt((r['joined_at'] as Date).getTime()) * 1000n,
    }));
    // Other rows — row 0 replaced by a copy of row k's order — re-encoded like the real file (the same
    // footer keys; an identity, if it records one, of other rows), until it has exactly its size.
    const real = await store.read(uri);
    const realKv = parquetMetadata(
      real.buffer.slice(real.byteOffset, real.byteOffset + real.byteLength) as ArrayBuffer,
    ).key_value_metadata;
    let forged: Buffer | undefined;
    for (let k = 1; k < rows.length && forged === undefined; k++) {
      const other = rows.map((r, i) => (i === 0 ? { ...rows[k]! } : r));
      const kv = Object.fromEntries(
        (realKv ?? []).map(({ key, value }) => [
          key,
          key === ROW_IDS_KEY ? `120:${createHash('sha256').update(String(k)).digest('hex')}` : (value ?? ''),
        ]),
      );
      const chunks: Uint8Array[] = [];
      const file = encodeDataFile(other, JOINED_TABLE, { rowGroupRows: 100, keyValueMetadata: kv });
      for await (const chunk of file) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      if (bytes.length === real.length) forged = bytes;
    }
    assert.ok(forged !== undefined, 'a same-size file with other rows could be made');
    await store.delete(uri);
    await store.write(uri, forged);
    await assert.rejects(
      createFlusher(deps()).flushAll(),
      /exists with content identity 120:[0-9a-f]{64}, but this attempt's rows are 120:[0-9a-f]{64}: not reused, not overwritten/,
    );
    assert.deepEqual(await store.read(uri), forged, 'not overwritten');
    const staged = await h.collections.batches.where('status', '==', 'staged').get();
    assert.equal(staged.size, 0, 'nothing staged with a file of other rows');
    assert.equal(await outboxCount(), 120, 'no row deleted');
  });
});

describe('flush: the batch cutoff does not depend on the tick clock', () => {
  const realNow = Date.now;
  const skewed = (ms: number) => {
    mock.method(Date, 'now', () => realNow() + ms);
    return deps({ now: () => Date.now() });
  };

  for (const [first, later] of [
    [60, 20],
    [200, 30],
  ] as const) {
    it(`a tick 30 s ahead that crashed between write and stage: the takeover stages the same rows (${first} rows, ${later} more after the crash)`, async () => {
      await seedPairs(first, 0);
      const d = skewed(30_000);
      setFaults('flush.after-write=fail:1');
      await assert.rejects(createFlusher(d).flushAll(), /injected failure at flush.after-write/);
      setFaults('');
      await seedPairs(later, 0); // committed within the 30 s the clock is ahead
      const r = await createFlusher(d).flushAll();
      assert.deepEqual(
        r.batches.map((b) => b.rowCount),
        [Math.min(first, MAX_ROWS)],
        'the crashed batch is staged with the rows it was claimed with',
      );
      await drainAndCheck(first + later);
    });
  }

  it('a tick 30 s behind flushes the rows committed a moment ago', async () => {
    await seedPairs(40, 0);
    const d = skewed(-30_000);
    const r = await createFlusher(d).flushAll();
    assert.equal(r.rows, 40);
    await drainAndCheck(40);
  });
});

describe('flush: one poisoned shard next to healthy ones', () => {
  let h4: Harness;
  before(async () => {
    h4 = await createHarness('flush-poison', {
      STREAMJOIN_INDEX_SHARDS: '4',
      STREAMJOIN_FLUSH_MAX_ROWS: '500',
    });
  });
  after(() => h4.close());

  it('every other shard is flushed, and the tick still fails naming the poisoned shard', async () => {
    const d4 = (extra: Partial<TickDeps> = {}): TickDeps => ({
      ...deps({ collections: h4.collections, config: h4.config, db: h4.fs.db, counter: h4.counter }),
      now: () => h4.clock,
      ...extra,
    });
    const lines = (f: (i: number) => unknown) =>
      Array.from({ length: 200 }, (_, i) => JSON.stringify(f(i))).join('\n');
    await h4.ingest(
      await h4.upload(
        'stream/orders/x/o.jsonl',
        lines((i) => order(`Q${i}`)),
      ),
    );
    await h4.ingest(
      await h4.upload(
        'stream/payments/x/p.jsonl',
        lines((i) => payment(`q${i}`, `Q${i}`)),
      ),
    );
    // A batch of joined shard 0 is claimed, and a file with other content appears at its name: every
    // attempt at that batch fails (a conflict that needs an operator), forever.
    const gates = new Gates();
    const claimed = gates.at('A', 'flush.after-claim');
    const runA = createFlusher(d4(), { pause: gates.hook('A') }).flushShard('joined', 0);
    const batchId = await claimed.reached;
    const poison = dataFileUri(
      tableUris(h4.config).joined,
      JOINED_TABLE,
      batchId,
      Math.floor(h4.clock / DAY),
    );
    await store.write(poison, Buffer.from('PAR1 not this batch PAR1'));
    h4.clock += h4.config.flushLeaseMs + 1;
    const left = async (shard: number) =>
      (
        await h4.collections.outbox.where('table', '==', 'joined').where('shard', '==', shard).count().get()
      ).data().count;
    const shard0 = await left(0);
    assert.ok(shard0 > 0 && shard0 < 200, 'rows on shard 0 and on others');
    await assert.rejects(createFlusher(d4()).flushAll(), /flush failed for 1 of 8 shard jobs: joined\/0: /);
    assert.deepEqual(
      [await left(0), await left(1), await left(2), await left(3)],
      [shard0, 0, 0, 0],
      'every healthy shard flushed',
    );
    claimed.release();
    assert.equal(await runA, 'lost');
    // The operator removes the file: the shard recovers.
    await store.delete(poison);
    const f = createFlusher(d4());
    for (let i = 0; i < 5 && (await left(0)) > 0; i++) await f.flushAll();
    assert.equal(await left(0), 0);
  });
});
