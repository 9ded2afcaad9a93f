import assert from 'node:assert/strict';
import test from 'node:test';
import type { GroundTruth, TruthRow, WorkloadFile } from '../../../infra/ops/produce.ts';
import { compareWithTruth, type TableRow } from '../../../infra/ops/verify.ts';
import { eventFiles, explainByLateIngest, filesIngestedLate } from '../../chaos/late-proof.ts';

const file = (name: string, records: unknown[]): WorkloadFile => ({
  name,
  body: Buffer.from(records.map((r) => JSON.stringify(r)).join('\n')),
  phase: 'main',
  completes: [],
});
const FILES = [
  file('stream/orders/o1.json', [{ order_id: 'o1', amount: 10 }]),
  file('stream/payments/p1.json', [{ order_id: 'o1', payment_id: 'p1', amount: 10 }]),
  file('stream/orders/o2.json', [{ order_id: 'o2', amount: 20 }]),
  file('stream/payments/p2.json', [{ order_id: 'o2', payment_id: 'p2', amount: 20 }]),
];
const joined = (o: string, p: string, amount: number): TruthRow => ({
  order_id: o,
  payment_id: p,
  reason: 'joined',
  order_amount: amount,
  payment_amount: amount,
});
const row = (r: Partial<TruthRow> & Pick<TruthRow, 'order_id' | 'reason'>): TableRow => ({
  payment_id: null,
  order_amount: null,
  payment_amount: null,
  atMs: 0,
  ...r,
});
const TRUTH: GroundTruth = {
  seed: 1,
  rows: [joined('o1', 'p1', 10), joined('o2', 'p2', 20)],
  rejects: {},
  duplicates: 0,
  events: 4,
  files: 4,
};
const ok2 = row({ ...joined('o2', 'p2', 20) });
const orderTimeout = row({ order_id: 'o1', reason: 'order_timeout', order_amount: 10 });
const paymentLate = row({ order_id: 'o1', reason: 'payment_late', payment_id: 'p1', payment_amount: 10 });
const paymentOrphan = row({ order_id: 'o1', reason: 'payment_orphan', payment_id: 'p1', payment_amount: 10 });
const orderLate = row({
  order_id: 'o1',
  reason: 'order_late',
  payment_id: 'p1',
  order_amount: 10,
  payment_amount: 10,
});

const cases: {
  name: string;
  rows: TableRow[];
  late: string[];
  reclassified: string[];
  unexplained: RegExp[];
}[] = [
  {
    name: 'strict match',
    rows: [row(joined('o1', 'p1', 10)), ok2],
    late: [],
    reclassified: [],
    unexplained: [],
  },
  {
    name: 'order timed out, payment file logged late',
    rows: [orderTimeout, paymentLate, ok2],
    late: ['stream/payments/p1.json'],
    reclassified: ['o1'],
    unexplained: [],
  },
  {
    name: 'payment orphaned, order file logged late',
    rows: [paymentOrphan, orderLate, ok2],
    late: ['stream/orders/o1.json'],
    reclassified: ['o1'],
    unexplained: [],
  },
  {
    name: 'a split without the log line is not explained',
    rows: [orderTimeout, paymentLate, ok2],
    late: [],
    reclassified: [],
    unexplained: [/o1: payment_late p1: no file of payment:p1 was logged as ingested late/],
  },
  {
    name: 'the wrong half logged late is not a proof',
    rows: [orderTimeout, paymentLate, ok2],
    late: ['stream/orders/o1.json'],
    reclassified: [],
    unexplained: [/no file of payment:p1/],
  },
  {
    name: 'a late split that also duplicates the payment',
    rows: [orderTimeout, paymentLate, paymentLate, ok2],
    late: ['stream/payments/p1.json'],
    reclassified: [],
    unexplained: [/o1: payments \["p1","p1"\]/],
  },
  {
    name: 'a duplicated joined row beside a proven late split',
    rows: [orderTimeout, paymentLate, ok2, ok2],
    late: ['stream/payments/p1.json'],
    reclassified: ['o1'],
    unexplained: [/duplicated: joined\|o2\|p2\|20\|20 ×2/],
  },
  {
    name: 'a lost payment',
    rows: [orderTimeout, ok2],
    late: ['stream/payments/p1.json'],
    reclassified: [],
    unexplained: [/o1: payments \[\], expected \["p1"\]/],
  },
  {
    name: 'a late row with another amount',
    rows: [orderTimeout, { ...paymentLate, payment_amount: 11 }, ok2],
    late: ['stream/payments/p1.json'],
    reclassified: [],
    unexplained: [/payment_late row has payment p1 = 11/],
  },
  {
    name: 'the order in two order rows',
    rows: [orderTimeout, paymentLate, row({ ...joined('o1', 'p1', 10) }), ok2],
    late: ['stream/payments/p1.json'],
    reclassified: [],
    unexplained: [/the order is in 2 order rows/],
  },
];

for (const c of cases)
  test(`explainByLateIngest: ${c.name}`, () => {
    const strict = compareWithTruth(TRUTH, c.rows, []);
    const v = explainByLateIngest(TRUTH, strict, c.rows, new Set(c.late), eventFiles(FILES));
    assert.deepEqual(v.reclassified, c.reclassified);
    assert.equal(v.unexplained.length, c.unexplained.length, v.unexplained.join('\n'));
    for (const [i, re] of c.unexplained.entries()) assert.match(v.unexplained[i]!, re);
  });

test('filesIngestedLate: object names of the warnings with late events, generation and bucket dropped', () => {
  const log = [
    '{"severity":"WARNING","file":"in-bucket/stream/payments/p1.json#17","lateEvents":1,"lateBySeconds":32,"message":"ingested late by 32 s"}',
    '{"severity":"WARNING","file":"in-bucket/stream/orders/o9.json#18","lateEvents":0,"message":"ingested late by 0 s"}',
    '{"severity":"INFO","file":"in-bucket/stream/orders/o1.json#3","message":"ingested"}',
    'not json ingested late by',
  ].join('\n');
  assert.deepEqual([...filesIngestedLate(log)], ['stream/payments/p1.json']);
});
