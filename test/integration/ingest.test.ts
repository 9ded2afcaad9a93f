// Ingest against the real Firestore emulator and the local GCS server: the state table through real
// files, redelivery, crash injection between steps, bad inputs quarantined beside good records.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Timestamp } from '@google-cloud/firestore';
import { setFaults } from '../../shared/faults.ts';
import { docIdFor } from '../../shared/firestore/client.ts';
import { ledgerKey } from '../../shared/firestore/ledger.ts';
import { evictExpired } from '../../shared/pipeline/evict.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

const MIN = 60_000;
let h: Harness;
before(async () => {
  h = await createHarness('ingest', { STREAMJOIN_MAX_DECOMPRESSED_SIZE: '32MiB' });
});
after(() => h.close());
afterEach(async () => {
  setFaults('');
  await h.fs.reset();
});

const ledgerDocId = (o: { bucket: string; name: string; generation: string }) => docIdFor(ledgerKey(o));
const O = (n: string) => `stream/orders/2026_11_25/order_${n}_1764072000000.json`;
const P = (n: string) => `stream/payments/2026_11_25/payment_${n}_1764072000000.json`;

async function send(name: string, body: unknown) {
  return h.ingest(await h.upload(name, typeof body === 'string' ? body : JSON.stringify(body)));
}

function reasons(rows: Array<{ table: string; row: Record<string, unknown> }>) {
  return rows.map((r) => (r.table === 'joined' ? 'joined' : String(r.row['reason']))).sort();
}

describe('ingest: the DESIGN §3 state table through real files', () => {
  const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);
  const cases: Array<{
    name: string;
    steps: Array<
      | { at: number; file: string; body: unknown; landedAt?: number; late?: number }
      | { at: number; tick: true }
    >;
    rows: string[];
    status: string;
  }> = [
    {
      name: 'order then payment → joined',
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 1000, file: P('1'), body: payment('p1', 'A') },
      ],
      rows: ['joined'],
      status: 'JOINED',
    },
    {
      name: 'early payment then order → joined',
      steps: [
        { at: 0, file: P('1'), body: payment('p1', 'A') },
        { at: 1000, file: O('1'), body: order('A') },
      ],
      rows: ['joined'],
      status: 'JOINED',
    },
    {
      name: 'order twice while waiting → duplicate ignored, first one wins',
      steps: [
        { at: 0, file: O('1'), body: order('A', { amount: 1 }) },
        { at: 10, file: O('2'), body: order('A', { amount: 2 }) },
        { at: 20, file: P('1'), body: payment('p1', 'A') },
      ],
      rows: ['joined'],
      status: 'JOINED',
    },
    {
      name: 'same payment twice while waiting for the order → duplicate',
      steps: [
        { at: 0, file: P('1'), body: payment('p1', 'A') },
        { at: 10, file: P('2'), body: payment('p1', 'A') },
      ],
      rows: [],
      status: 'WAITING_ORDER',
    },
    {
      name: 'another payment while waiting for the order → held undecided',
      steps: [
        { at: 0, file: P('1'), body: payment('p1', 'A') },
        { at: 10, file: P('2'), body: payment('p2', 'A') },
      ],
      rows: [],
      status: 'WAITING_ORDER',
    },
    {
      name: 'two payments, then the order → payment_extra for the newcomer, joined with the first',
      steps: [
        { at: 0, file: P('1'), body: payment('p1', 'A') },
        { at: 10, file: P('2'), body: payment('p2', 'A') },
        { at: 20, file: O('1'), body: order('A') },
      ],
      rows: ['joined', 'payment_extra'],
      status: 'JOINED',
    },
    {
      name: 'after JOINED: order again and same payment → duplicates; another payment → payment_extra',
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 10, file: P('1'), body: payment('p1', 'A') },
        { at: 20, file: O('2'), body: order('A') },
        { at: 30, file: P('2'), body: payment('p1', 'A') },
        { at: 40, file: P('3'), body: payment('p2', 'A') },
      ],
      rows: ['joined', 'payment_extra'],
      status: 'JOINED',
    },
    {
      name: "a payment that landed after the order's deadline → held, not joined",
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 16 * MIN, file: P('1'), body: payment('p1', 'A') },
      ],
      rows: [],
      status: 'WAITING_PAYMENT',
    },
    {
      name: 'order waits past its deadline, its payment lands later; the tick closes the window → order_timeout + payment_late',
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 16 * MIN, file: P('1'), body: payment('p1', 'A') },
        { at: 18 * MIN, tick: true },
      ],
      rows: ['order_timeout', 'payment_late'],
      status: 'EXPIRED',
    },
    {
      name: 'early payment past its deadline, then the order; tick → payment_orphan + order_late',
      steps: [
        { at: 0, file: P('1'), body: payment('p1', 'A') },
        { at: 16 * MIN, file: O('1'), body: order('A') },
        { at: 18 * MIN, tick: true },
      ],
      rows: ['order_late', 'payment_orphan'],
      status: 'EXPIRED',
    },
    {
      name: 'EXPIRED: the expired event again → duplicate',
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 18 * MIN, tick: true },
        { at: 19 * MIN, file: O('2'), body: order('A') },
      ],
      rows: ['order_timeout'],
      status: 'EXPIRED',
    },
    {
      name: 'a payment that landed in time but is ingested after the window closed → payment_late, counted as ingested late',
      steps: [
        { at: 0, file: O('1'), body: order('A') },
        { at: 18 * MIN, tick: true },
        { at: 20 * MIN, landedAt: 10 * MIN, file: P('1'), body: payment('p1', 'A'), late: 1 },
      ],
      rows: ['order_timeout', 'payment_late'],
      status: 'EXPIRED',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const s of c.steps) {
        h.clock = t0 + s.at;
        if ('tick' in s) {
          await evictExpired({ ...h.ingestDeps(), config: h.config });
          continue;
        }
        const obj = await h.upload(s.file, JSON.stringify(s.body), {
          landedAtMs: t0 + (s.landedAt ?? s.at),
        });
        const r = await h.ingest(obj);
        assert.equal(r.counters.ingestedLate, s.late ?? 0, 'counted as ingested late');
      }
      assert.deepEqual(reasons(await h.outbox()), [...c.rows].sort());
      assert.equal((await h.state('A'))?.status, c.status);
    });
  }

  it('a joined row carries both sides and joined_at in micros (as decimal digits: shared/spec/values.ts)', async () => {
    h.clock = t0;
    await send(O('1'), order('B', { amount: 42, customer_id: 'c9' }));
    h.clock = t0 + 5000;
    await send(P('1'), payment('pay-9', 'B', { amount: 41 }));
    const [r] = await h.outbox();
    assert.deepEqual(r!.row, {
      order_id: 'B',
      order_date: '2026-11-25T12:00:00',
      created_at: '2026-11-25T12:00:00',
      customer_id: 'c9',
      order_amount: 42,
      payment_id: 'pay-9',
      payment_date: '2026-11-25T12:01:00',
      payment_amount: 41,
      joined_at: String((t0 + 5000) * 1000),
    });
  });
});

describe('ingest: any order_id is a key', () => {
  it('slashes, dots, reserved names, unicode and ids over 1,500 bytes', async () => {
    const ids = ['a/b/c', '.', '..', '__x__', 'zß水🍣', 'x'.repeat(3000)];
    const lines = ids
      .flatMap((id, i) => [JSON.stringify(order(id)), JSON.stringify(payment(`p${i}`, id))])
      .join('\n');
    const r = await h.ingest(
      await h.upload('stream/orders/k/orders.jsonl', ids.map((id) => JSON.stringify(order(id))).join('\n')),
    );
    assert.equal(r.records, ids.length);
    await h.ingest(
      await h.upload(
        'stream/payments/k/payments.jsonl',
        ids.map((id, i) => JSON.stringify(payment(`p${i}`, id))).join('\n'),
      ),
    );
    assert.ok(lines.length > 0);
    const rows = await h.outbox();
    assert.equal(rows.length, ids.length);
    assert.deepEqual(rows.map((r) => r.row['order_id']).sort(), [...ids].sort());
    for (const id of ids) assert.equal((await h.state(id))?.status, 'JOINED');
  });
});

describe('ingest: idempotency', () => {
  it('20 concurrent deliveries of one object are applied once', async () => {
    await send(O('1'), order('C'));
    const obj = await h.upload(P('1'), JSON.stringify(payment('p1', 'C')));
    const results = await Promise.all(Array.from({ length: 20 }, () => h.ingest(obj)));
    assert.equal(
      results.reduce((n, r) => n + r.emitted, 0),
      1,
    );
    assert.deepEqual(reasons(await h.outbox()), ['joined']);
  });

  it('different files for one waiting order at the same time: one joined row, the other payments extra', async () => {
    await send(O('1'), order('CC'));
    const objs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.upload(P(`cc${i}`), JSON.stringify(payment(`cc-p${i}`, 'CC')))),
    );
    await Promise.all(objs.map((o) => h.ingest(o)));
    assert.deepEqual(reasons(await h.outbox()), [
      'joined',
      ...Array.from({ length: 7 }, () => 'payment_extra'),
    ]);
  });

  it('a redelivery after the tombstone retention emits nothing: the ledger recognises the files', async () => {
    const o = await h.upload(O('t'), JSON.stringify(order('TT')));
    const p = await h.upload(P('t'), JSON.stringify(payment('tt-p', 'TT')));
    await h.ingest(o);
    await h.ingest(p);
    assert.deepEqual(reasons(await h.outbox()), ['joined']);
    // The row is flushed; past the tombstone retention Firestore TTL deletes the JOINED state.
    for (const d of (await h.collections.outbox.get()).docs) await d.ref.delete();
    h.clock += h.config.tombstoneRetentionMs + 24 * 3_600_000;
    for (const d of (await h.collections.states.get()).docs) await d.ref.delete();
    const again = [await h.ingest(p), await h.ingest(o)];
    assert.deepEqual(
      again.map((r) => r.status),
      ['already-done', 'already-done'],
    );
    assert.deepEqual(await h.outbox(), [], 'no row emitted twice');
    assert.equal(await h.state('TT'), undefined, 'no state started afresh');
  });

  it('each object generation gets one ledger entry with its outcome', async () => {
    await send(O('l1'), order('LL'));
    await send('stream/orders/bad/l2.json', '{"order_id": ');
    await h.ingest(await h.upload('elsewhere/l3.json', '{}'));
    const entries = (await h.collections.files.get()).docs.map((d) => d.data());
    assert.deepEqual(entries.map((e) => [e['object'], e['outcome'], e['records'], e['rejected']]).sort(), [
      ['elsewhere/l3.json', 'ignored', 0, 0],
      [O('l1'), 'ingested', 1, 0],
      ['stream/orders/bad/l2.json', 'quarantined', 0, 1],
    ]);
    for (const e of entries) {
      assert.match(String(e['file']), /^file-stream-bucket\/.+#\d+$/);
      assert.equal(e['expireAt'].toMillis(), e['updatedAt'].toMillis() + h.config.ledgerRetentionMs);
    }
  });

  it('a file with many order_ids delivered 5 times concurrently gives each row once', async () => {
    const n = 300;
    await h.ingest(
      await h.upload(
        'stream/orders/m/o.jsonl',
        Array.from({ length: n }, (_, i) => JSON.stringify(order(`M${i}`))).join('\n'),
      ),
    );
    const obj = await h.upload(
      'stream/payments/m/p.jsonl',
      Array.from({ length: n }, (_, i) => JSON.stringify(payment(`q${i}`, `M${i}`))).join('\n'),
    );
    await Promise.all(Array.from({ length: 5 }, () => h.ingest(obj)));
    const rows = await h.outbox();
    assert.equal(rows.length, n);
    assert.equal(new Set(rows.map((r) => r.row['order_id'])).size, n);
  });

  for (const point of ['ingest.before-read', 'ingest.before-commit', 'ingest.after-commit']) {
    it(`a crash at ${point} followed by a retry leaves exactly the right state and outbox`, async () => {
      await send(O('1'), order('D'));
      const obj = await h.upload(
        'stream/payments/c/p.jsonl',
        [
          JSON.stringify(payment('p1', 'D')),
          JSON.stringify(payment('p2', 'D')),
          JSON.stringify(payment('p3', 'E')),
        ].join('\n'),
      );
      setFaults(`${point}=fail:1`);
      await assert.rejects(h.ingest(obj), /injected failure/);
      await h.ingest(obj); // the platform's retry
      await h.ingest(obj); // and a late duplicate delivery
      assert.deepEqual(reasons(await h.outbox()), ['joined', 'payment_extra']);
      assert.equal((await h.state('D'))?.status, 'JOINED');
      assert.equal((await h.state('E'))?.status, 'WAITING_ORDER');
    });
  }
});

describe('ingest: a file applied in several commits', () => {
  for (const point of ['ingest.after-commit', 'ingest.before-commit']) {
    it(`a crash at ${point} between its commits: the retry applies each event once, then the ledger records it`, async () => {
      const n = 1500; // two chunks of records, each more than one commit
      const body = Array.from({ length: n }, (_, i) => JSON.stringify(order(`MC${i}`))).join('\n');
      const obj = await h.upload('stream/orders/mc/orders.jsonl', body);
      await send(P('mc'), payment('mc-p', 'MC7'));
      setFaults(`${point}=fail:${point === 'ingest.after-commit' ? 1 : 2}`);
      await assert.rejects(h.ingest(obj), /injected failure/);
      assert.equal((await h.collections.files.doc(ledgerDocId(obj)).get()).exists, false, 'no entry yet');
      setFaults('');
      const r = await h.ingest(obj);
      assert.equal(r.status, 'ingested');
      assert.equal(
        r.counters.duplicateOrders > 0,
        point === 'ingest.after-commit',
        'applied events recognised',
      );
      assert.equal((await h.collections.states.count().get()).data().count, n);
      assert.deepEqual(reasons(await h.outbox()), ['joined']);
      assert.equal((await h.collections.files.doc(ledgerDocId(obj)).get()).get('outcome'), 'ingested');
      assert.equal((await h.ingest(obj)).status, 'already-done');
    });
  }
});

describe('ingest: bad input is quarantined, good records beside it are processed', () => {
  const catalogue: Array<{
    name: string;
    file: string;
    body: string | Buffer;
    good: number;
    codes: string[];
  }> = [
    {
      name: 'JSON Lines with a truncated line, wrong types, overflow and nulls',
      file: 'stream/orders/bad/mixed.jsonl',
      body: [
        JSON.stringify(order('G1')),
        '{"order_id": "G2", "order_date": "x", "created',
        JSON.stringify(order('G3', { amount: '12' })),
        JSON.stringify(order('G4', { amount: 2147483648 })),
        JSON.stringify(order('G5', { customer_id: null })),
        JSON.stringify(order('G6', { amount: 12.5 })),
        JSON.stringify(order('G7')),
      ].join('\n'),
      good: 2,
      codes: ['invalid-json', 'wrong-type', 'out-of-range', 'null-field', 'not-an-integer'],
    },
    { name: 'an empty file', file: 'stream/orders/bad/empty.json', body: '', good: 0, codes: ['empty-file'] },
    {
      name: 'binary garbage',
      file: 'stream/orders/bad/garbage.json',
      body: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x81]),
      good: 0,
      codes: ['not-json'],
    },
    {
      name: 'a gzip bomb',
      file: 'stream/orders/bad/bomb.json.gz',
      body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)),
      good: 0,
      codes: ['inflation-ratio'],
    },
    {
      name: 'a repeated key and an order_id of spaces beside a good order',
      file: 'stream/orders/bad/dup-and-blank.jsonl',
      body: [
        JSON.stringify(order('J1')),
        JSON.stringify(order('J2')).replace('}', ',"amount":999}'),
        JSON.stringify({ ...order('J3'), order_id: '   ' }),
      ].join('\n'),
      good: 1,
      codes: ['duplicate-key', 'blank-string'],
    },
    {
      name: 'deep nesting',
      file: 'stream/orders/bad/deep.json',
      body: `${'['.repeat(200)}${']'.repeat(200)}`,
      good: 0,
      codes: ['too-deep'],
    },
    {
      name: 'a BOM is fine',
      file: 'stream/orders/ok/bom.json',
      body: `\uFEFF${JSON.stringify(order('H1'))}`,
      good: 1,
      codes: [],
    },
    {
      name: 'a gzip JSON array',
      file: 'stream/orders/ok/array.json.gz',
      body: gzipSync(JSON.stringify([order('I1'), order('I2'), { nope: 1 }])),
      good: 2,
      codes: ['missing-field'],
    },
  ];
  for (const c of catalogue) {
    it(c.name, async () => {
      const obj = await h.upload(c.file, c.body);
      const r = await h.ingest(obj);
      assert.equal(r.records, c.good);
      const rejects = await h.rejects();
      assert.deepEqual([...new Set(rejects.map((x) => x['code']))].sort(), [...c.codes].sort());
      for (const x of rejects) {
        assert.equal(x['object'], c.file);
        assert.match(String(x['message']), /.{10,}/);
      }
      // A redelivery of the same generation rewrites the same quarantine records, not new ones.
      await h.ingest(obj);
      assert.equal((await h.rejects()).length, rejects.length);
    });
  }

  it('names the line and field and quotes expected vs actual', async () => {
    await h.ingest(
      await h.upload(
        'stream/payments/bad/p.jsonl',
        [JSON.stringify(payment('p1', 'Z')), JSON.stringify(payment('p2', 'Z', { amount: '12.5' }))].join(
          '\n',
        ),
      ),
    );
    const [rej] = await h.rejects();
    assert.equal(rej!['line'], 2);
    assert.equal(rej!['field'], 'amount');
    assert.match(String(rej!['message']), /amount.*but was.*"12\.5"/);
    // Kept for the quarantine's retention, then deleted by Firestore TTL (firestore.indexes.json).
    const createdAt = rej!['createdAt'] as Timestamp;
    assert.equal(
      (rej!['expireAt'] as Timestamp).toMillis(),
      createdAt.toMillis() + h.config.rejectsRetentionMs,
    );
  });
});

describe('ingest: objects outside the prefixes', () => {
  it('are ignored', async () => {
    const r = await h.ingest(await h.upload('other/thing.json', JSON.stringify(order('X'))));
    assert.equal(r.status, 'ignored');
    assert.equal((await h.outbox()).length, 0);
    assert.equal(await h.state('X'), undefined);
  });
});

describe('ingest: large files', () => {
  it('one order_id with hundreds of payments in one file: every extra payment emitted once (commits split under 500 writes)', async () => {
    await send(O('1'), order('L'));
    const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify(payment(`lp${i}`, 'L'))).join('\n');
    const obj = await h.upload('stream/payments/l/many.jsonl', lines);
    await h.ingest(obj);
    await h.ingest(obj);
    const rows = await h.outbox();
    assert.equal(rows.filter((r) => r.table === 'joined').length, 1);
    assert.equal(rows.filter((r) => r.row['reason'] === 'payment_extra').length, 599);
  });

  it('a file that cannot finish within the time budget saves its progress and the retry resumes there', async () => {
    const n = 12_000;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify(order(`R${i}`, { customer_id: `customer-${'x'.repeat(40)}` })),
    ).join('\n');
    assert.ok(lines.length > 1 << 20, 'large enough to keep a progress document');
    const obj = await h.upload('stream/orders/r/big.jsonl', lines);
    // Each call of the clock advances it: the 1 s budget runs out after a few chunks.
    let calls = 0;
    const deps = {
      ...h.ingestDeps(),
      config: { ...h.config, ingestTimeBudgetMs: 1000 },
      now: () => h.clock + 100 * calls++,
    };
    const { ingestObject } = await import('../../shared/pipeline/ingest.ts');
    await assert.rejects(ingestObject(deps, obj), /time budget/);
    const done1 = (await h.fs.db.collection(`${h.config.collectionPrefix}_states`).count().get()).data()
      .count;
    assert.ok(done1 > 0 && done1 < n, `part of the file was applied (${done1})`);
    const r = await h.ingest(obj); // the platform's retry, with time to spare
    assert.ok(r.resumedAt > 0, 'resumed after the saved position');
    assert.equal(r.resumedAt + r.records, n);
    assert.equal(
      (await h.fs.db.collection(`${h.config.collectionPrefix}_states`).count().get()).data().count,
      n,
    );
    const again = await h.ingest(obj);
    assert.equal(again.status, 'already-done');
  });
});

describe('ingest: order-insensitivity against the emulator', () => {
  it('random permutations of one event set (with duplicates) give the same outbox rows', async () => {
    const events: Array<{ name: string; body: unknown }> = [];
    for (let i = 0; i < 6; i++) {
      events.push({ name: O(`o${i}`), body: order(`P${i}`) });
      if (i % 3 !== 2) events.push({ name: P(`p${i}`), body: payment(`pp${i}`, `P${i}`) });
      if (i % 2 === 0) events.push({ name: O(`o${i}dup`), body: order(`P${i}`) });
    }
    events.push({ name: P('orphan'), body: payment('pp-orphan', 'P-none') });
    const seeds = [1, 2, 3, 4];
    const outcomes: string[] = [];
    for (const seed of seeds) {
      await h.fs.reset();
      let x = seed;
      const shuffled = [...events].sort(() => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return (x % 3) - 1;
      });
      for (const e of shuffled) await send(e.name, e.body);
      const rows = await h.outbox();
      outcomes.push(JSON.stringify(rows.map((r) => [r.table, r.row['order_id'], r.row['payment_id']])));
    }
    assert.equal(new Set(outcomes).size, 1, 'every permutation gives the same rows');
    assert.equal(JSON.parse(outcomes[0]!).length, 4);
  });
});
