import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { GroundTruth, TruthRow, WorkloadFile } from '../../../infra/ops/produce.ts';
import type { SentRecord, SpecGroundTruth } from '../../../infra/ops/produce-spec.ts';
import { compareWithTruth, type TableRow } from '../../../infra/ops/verify.ts';
import { compareSpecWithTruth, type SpecTableRow } from '../../../infra/ops/verify-spec.ts';
import { loadJoinSpec } from '../../../shared/spec/load.ts';
import {
  eventFiles,
  explainByLateIngest,
  explainSpecByLateIngest,
  filesIngestedLate,
  specEventFiles,
} from '../../chaos/late-proof.ts';

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

// The same proof for any join spec (explainSpecByLateIngest), on specs/shipments-deliveries.yaml: the
// truth holds records, the tables' rows are written out here by hand as table values (decimal unscaled,
// timestamps in µs, dates in days), every column compared.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SPEC = loadJoinSpec(path.join(ROOT, 'specs/shipments-deliveries.yaml'));
const shipment = (id: string, weight: number): SentRecord => ({
  shipment_id: id,
  carrier: `carrier-${id}`,
  weight_kg: weight,
  declared_value: '12.50',
  shipped_at: '2026-12-01T10:00:00',
  fragile: true,
});
const delivery = (id: string, scan: string, attempts: number): SentRecord => ({
  scan_id: scan,
  shipment_id: id,
  delivered_at: '2026-12-01T12:00:00Z',
  delivery_date: '2026-12-01',
  attempts,
  signed_by: null,
});
const US_10H = BigInt(Date.UTC(2026, 11, 1, 10)) * 1000n;
const US_12H = BigInt(Date.UTC(2026, 11, 1, 12)) * 1000n;
const DAY = Date.UTC(2026, 11, 1) / 86_400_000;
/** A row of either table as the pipeline writes it (the time columns: some instant). */
function tableRow(reason: string, s: SentRecord | null, d: SentRecord | null): SpecTableRow {
  const left = {
    carrier: s === null ? null : s['carrier']!,
    weight_kg: s === null ? null : s['weight_kg']!,
    declared_value: s === null ? null : 1250n,
    shipped_at: s === null ? null : US_10H,
  };
  const right = {
    scan_id: d === null ? null : d['scan_id']!,
    delivered_at: d === null ? null : US_12H,
  };
  const key = (s ?? d)!['shipment_id']!;
  if (reason === 'joined')
    return {
      table: 'joined',
      values: {
        shipment_id: key,
        ...left,
        fragile: s!['fragile']!,
        ...right,
        delivery_date: DAY,
        attempts: BigInt(d!['attempts'] as number),
        signed_by: null,
        matched_at: US_12H + 5n,
      },
    };
  return {
    table: 'unmatched',
    values: { shipment_id: key, ...left, ...right, reason, emitted_at: US_12H + 7n },
  };
}
const S1 = shipment('s1', 1.5);
const S2 = shipment('s2', 2.25);
const D1 = delivery('s1', 'scan-1', 1);
const D2 = delivery('s2', 'scan-2', 2);
const specFile = (name: string, records: unknown[], gzip = false): WorkloadFile => {
  const text = records.map((r) => JSON.stringify(r)).join('\n');
  return { name, body: gzip ? gzipSync(text) : Buffer.from(text), phase: 'main', completes: [] };
};
const SPEC_FILES = [
  specFile('stream/shipments/2026_12_01/shipment_1_1.jsonl', [S1, S2]),
  specFile('stream/deliveries/2026_12_01/delivery_1_1.jsonl.gz', [D1], true),
  specFile('stream/deliveries/2026_12_01/delivery_2_2.jsonl', [D2, '{"scan_id": "trunc']),
];
const SPEC_TRUTH: SpecGroundTruth = {
  spec: SPEC.name,
  seed: 1,
  rows: [
    { reason: 'joined', left: S1, right: D1 },
    { reason: 'joined', left: S2, right: D2 },
  ],
  rejects: {},
  duplicates: 0,
  events: 4,
  files: 3,
};
const SHIPMENT_FILE = 'stream/shipments/2026_12_01/shipment_1_1.jsonl';
const DELIVERY_FILE = 'stream/deliveries/2026_12_01/delivery_1_1.jsonl.gz';
const j2 = tableRow('joined', S2, D2);
const timeout1 = tableRow('shipment_timeout', S1, null);
const late1 = tableRow('delivery_late', S1, D1);
const orphan1 = tableRow('delivery_orphan', null, D1);
const shipmentLate1 = tableRow('shipment_late', S1, D1);

test('specEventFiles: events by stream prefix and identity, gzip and malformed lines too', () => {
  assert.deepEqual(
    [...specEventFiles(SPEC, SPEC_FILES)],
    [
      ['shipment:s1', [SHIPMENT_FILE]],
      ['shipment:s2', [SHIPMENT_FILE]],
      ['delivery:s1 ["scan-1"]', [DELIVERY_FILE]],
      ['delivery:s2 ["scan-2"]', ['stream/deliveries/2026_12_01/delivery_2_2.jsonl']],
    ],
  );
});

const specCases: {
  name: string;
  rows: SpecTableRow[];
  late: string[];
  reclassified: string[];
  unexplained: RegExp[];
}[] = [
  {
    name: 'strict match',
    rows: [tableRow('joined', S1, D1), j2],
    late: [],
    reclassified: [],
    unexplained: [],
  },
  {
    name: 'shipment timed out, delivery file logged late',
    rows: [timeout1, late1, j2],
    late: [DELIVERY_FILE],
    reclassified: ['s1'],
    unexplained: [],
  },
  {
    name: 'delivery orphaned, shipment file logged late',
    rows: [orphan1, shipmentLate1, j2],
    late: [SHIPMENT_FILE],
    reclassified: ['s1'],
    unexplained: [],
  },
  {
    name: 'a split without the log line is not explained',
    rows: [timeout1, late1, j2],
    late: [],
    reclassified: [],
    unexplained: [/^s1: delivery_late: no file of delivery:s1 \["scan-1"\] was logged as ingested late$/],
  },
  {
    name: 'the wrong half logged late is not a proof',
    rows: [timeout1, late1, j2],
    late: [SHIPMENT_FILE],
    reclassified: [],
    unexplained: [/^s1: delivery_late: no file of delivery:s1/],
  },
  {
    name: 'a late split that also duplicates the delivery',
    rows: [timeout1, late1, late1, j2],
    late: [DELIVERY_FILE],
    reclassified: [],
    unexplained: [/^s1: delivery events \["delivery:s1 \[\\"scan-1\\"\]","delivery:s1 \[\\"scan-1\\"\]"\]/],
  },
  {
    name: 'a duplicated joined row beside a proven late split',
    rows: [timeout1, late1, j2, j2],
    late: [DELIVERY_FILE],
    reclassified: ['s1'],
    unexplained: [/^duplicated: joined shipment_id="s2" .* ×2$/, /^s2: the shipment is in 2 shipment rows/],
  },
  {
    name: 'a lost delivery',
    rows: [timeout1, j2],
    late: [DELIVERY_FILE],
    reclassified: [],
    unexplained: [/^s1: delivery events \[\], expected \["delivery:s1 \[\\"scan-1\\"\]"\]$/],
  },
  {
    name: 'a late row with another value (the delivery seen with another scan id)',
    rows: [timeout1, { ...late1, values: { ...late1.values, scan_id: 'scan-9' } }, j2],
    late: [DELIVERY_FILE],
    reclassified: [],
    unexplained: [
      /^a row no record of the workload makes: unmatched .*scan_id="scan-9"/,
      /^s1: delivery events \[\]/,
    ],
  },
  {
    name: 'a late row with another left value',
    rows: [timeout1, { ...late1, values: { ...late1.values, weight_kg: 1.25 } }, j2],
    late: [DELIVERY_FILE],
    reclassified: [],
    unexplained: [/^a row no record of the workload makes: .*weight_kg=1.25/, /^s1: delivery events \[\]/],
  },
  {
    name: 'the shipment in two shipment rows',
    rows: [timeout1, late1, tableRow('joined', S1, D1), j2],
    late: [DELIVERY_FILE],
    reclassified: [],
    unexplained: [/^s1: the shipment is in 2 shipment rows; delivery events/],
  },
  {
    name: 'a row of a key the workload never produced',
    rows: [tableRow('joined', S1, D1), j2, tableRow('joined', shipment('s3', 1), delivery('s3', 'x', 1))],
    late: [],
    reclassified: [],
    unexplained: [/^a row no record of the workload makes: joined shipment_id="s3"/],
  },
];

for (const c of specCases)
  test(`explainSpecByLateIngest: ${c.name}`, () => {
    const strict = compareSpecWithTruth(SPEC, SPEC_TRUTH, c.rows, []);
    assert.equal(strict.pass, c.unexplained.length === 0 && c.reclassified.length === 0);
    const v = explainSpecByLateIngest(
      SPEC,
      SPEC_TRUTH,
      strict,
      c.rows,
      new Set(c.late),
      specEventFiles(SPEC, SPEC_FILES),
    );
    assert.deepEqual(v.reclassified, c.reclassified);
    assert.equal(v.unexplained.length, c.unexplained.length, v.unexplained.join('\n'));
    for (const [i, re] of c.unexplained.entries()) assert.match(v.unexplained[i]!, re);
  });
