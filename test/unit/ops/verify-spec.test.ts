// verify for any spec: the expected table values of each type (written out by hand here, not computed
// by the code under test), and the comparison of expected and actual rows on every column.
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SpecGroundTruth } from '../../../infra/ops/produce-spec.ts';
import {
  compareSpecWithTruth,
  expectedTableValue,
  keyColumnOf,
  type SpecTableRow,
} from '../../../infra/ops/verify-spec.ts';
import { loadJoinSpec } from '../../../shared/spec/load.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SPEC = loadJoinSpec(path.join(ROOT, 'specs/shipments-deliveries.yaml'));

test('expectedTableValue: the agreed table representation of each type', () => {
  const table: { type: string; input: unknown; expected: unknown }[] = [
    { type: 'string', input: 'a é 東京', expected: 'a é 東京' },
    { type: 'string', input: undefined, expected: null },
    { type: 'string', input: null, expected: null },
    { type: 'int', input: -2147483648, expected: -2147483648 },
    { type: 'long', input: 9007199254740991, expected: 9007199254740991n },
    { type: 'long', input: -5, expected: -5n },
    { type: 'float', input: 0.1, expected: 0.10000000149011612 },
    { type: 'float', input: 2.25, expected: 2.25 },
    { type: 'double', input: -174028.764, expected: -174028.764 },
    { type: 'boolean', input: false, expected: false },
    { type: 'date', input: '1970-01-01', expected: 0 },
    { type: 'date', input: '2026-11-25', expected: 20_782 },
    { type: 'date', input: '1969-12-31', expected: -1 },
    { type: 'timestamp', input: '1970-01-01T00:00:01', expected: 1_000_000n },
    { type: 'timestamp', input: '2026-11-25T12:00', expected: 1_795_608_000_000_000n },
    { type: 'timestamp', input: '2026-11-25 12:00:00.000001', expected: 1_795_608_000_000_001n },
    { type: 'timestamp', input: '1970-01-01T00:00:00.123', expected: 123_000n },
    { type: 'timestamptz', input: '2026-11-25T12:00:00Z', expected: 1_795_608_000_000_000n },
    { type: 'timestamptz', input: '2026-11-25T17:30:00+05:30', expected: 1_795_608_000_000_000n },
    { type: 'timestamptz', input: '2026-11-25T04:00:00.5-08:00', expected: 1_795_608_000_500_000n },
    { type: 'decimal(12, 2)', input: '2251.07', expected: 225107n },
    { type: 'decimal(12, 2)', input: 12.5, expected: 1250n },
    { type: 'decimal(12, 2)', input: '-0.02', expected: -2n },
    { type: 'decimal(12, 2)', input: '7', expected: 700n },
    { type: 'decimal(5,0)', input: '-99999', expected: -99999n },
    {
      type: 'decimal(38, 6)',
      input: '12345678901234567890123456789012.123456',
      expected: 12345678901234567890123456789012123456n,
    },
  ];
  for (const c of table)
    assert.deepEqual(expectedTableValue(c.type, c.input), c.expected, `${c.type} ${JSON.stringify(c.input)}`);
});

const SHIPMENT = {
  shipment_id: 's-1',
  carrier: 'dhl',
  weight_kg: 1.5,
  declared_value: '10.00',
  shipped_at: '2026-11-25T10:00:00',
};
const SCAN = {
  scan_id: 'scan-1',
  shipment_id: 's-1',
  delivered_at: '2026-11-25T12:00:00Z',
  delivery_date: '2026-11-25',
  attempts: 2,
  signed_by: null,
};
const TRUTH: SpecGroundTruth = {
  spec: 'shipments-deliveries',
  seed: 1,
  rows: [
    { reason: 'joined', left: SHIPMENT, right: SCAN },
    { reason: 'delivery_orphan', left: null, right: { ...SCAN, shipment_id: 's-2', scan_id: 'scan-2' } },
  ],
  rejects: { 'stream/shipments/x.json': 1 },
  duplicates: 0,
  events: 3,
  files: 3,
};
const JOINED: SpecTableRow = {
  table: 'joined',
  values: {
    shipment_id: 's-1',
    carrier: 'dhl',
    weight_kg: 1.5,
    declared_value: 1000n,
    shipped_at: 1_795_600_800_000_000n,
    fragile: null,
    scan_id: 'scan-1',
    delivered_at: 1_795_608_000_000_000n,
    delivery_date: 20_782,
    attempts: 2n,
    signed_by: null,
    matched_at: 1_795_608_001_000_000n,
  },
};
const ORPHAN: SpecTableRow = {
  table: 'unmatched',
  values: {
    shipment_id: 's-2',
    carrier: null,
    weight_kg: null,
    declared_value: null,
    shipped_at: null,
    scan_id: 'scan-2',
    delivered_at: 1_795_608_000_000_000n,
    reason: 'delivery_orphan',
    emitted_at: 1_795_609_800_000_000n,
  },
};
const REJECTS = [{ object: 'stream/shipments/x.json' }];
const change = (r: SpecTableRow, values: Record<string, unknown>): SpecTableRow => ({
  ...r,
  values: { ...r.values, ...values } as SpecTableRow['values'],
});

test('compareSpecWithTruth: every column compared, time columns only set', () => {
  const cases: {
    name: string;
    rows: SpecTableRow[];
    rejects?: { object: string }[];
    spec?: string;
    pass: boolean;
    counts?: [missing: number, unexpected: number, duplicated: number, rejectProblems: number];
  }[] = [
    { name: 'the expected rows', rows: [JOINED, ORPHAN], pass: true },
    {
      name: 'other landing times',
      rows: [change(JOINED, { matched_at: 1n }), change(ORPHAN, { emitted_at: 2n })],
      pass: true,
    },
    { name: 'a row missing', rows: [JOINED], pass: false, counts: [1, 0, 0, 0] },
    { name: 'a row twice', rows: [JOINED, JOINED, ORPHAN], pass: false, counts: [0, 0, 1, 0] },
    {
      name: 'a decimal off by one unit',
      rows: [change(JOINED, { declared_value: 1001n }), ORPHAN],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a long as a number',
      rows: [change(JOINED, { attempts: 2 }), ORPHAN],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a date one day off',
      rows: [change(JOINED, { delivery_date: 20_781 }), ORPHAN],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a null that should be a value',
      rows: [change(JOINED, { carrier: null }), ORPHAN],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a value that should be null',
      rows: [JOINED, change(ORPHAN, { carrier: 'dhl' })],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'another reason',
      rows: [JOINED, change(ORPHAN, { reason: 'shipment_timeout' })],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a time column not set',
      rows: [change(JOINED, { matched_at: null }), ORPHAN],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    {
      name: 'a row in the other table',
      rows: [JOINED, { ...ORPHAN, table: 'joined' }],
      pass: false,
      counts: [1, 1, 0, 0],
    },
    { name: 'a reject missing', rows: [JOINED, ORPHAN], rejects: [], pass: false, counts: [0, 0, 0, 1] },
    {
      name: 'an unexpected reject',
      rows: [JOINED, ORPHAN],
      rejects: [...REJECTS, { object: 'y' }],
      pass: false,
      counts: [0, 0, 0, 1],
    },
    {
      name: 'a truth of another spec',
      rows: [JOINED, ORPHAN],
      spec: 'orders-payments',
      pass: false,
      counts: [0, 0, 0, 1],
    },
  ];
  for (const c of cases) {
    const truth = c.spec === undefined ? TRUTH : { ...TRUTH, spec: c.spec };
    const r = compareSpecWithTruth(SPEC, truth, c.rows, c.rejects ?? REJECTS);
    assert.equal(
      r.pass,
      c.pass,
      `${c.name}: ${JSON.stringify([r.missing, r.unexpected, r.duplicated, r.rejectProblems])}`,
    );
    if (c.counts !== undefined)
      assert.deepEqual(
        [r.missing.length, r.unexpected.length, r.duplicated.length, r.rejectProblems.length],
        c.counts,
        c.name,
      );
  }
  const ok = compareSpecWithTruth(SPEC, TRUTH, [JOINED, ORPHAN], REJECTS);
  assert.deepEqual(ok.byReason, { joined: 1, delivery_orphan: 1 });
  const bad = compareSpecWithTruth(SPEC, TRUTH, [change(JOINED, { declared_value: 1001n }), ORPHAN], REJECTS);
  assert.match(bad.missing[0]!, /declared_value=1000n/);
  assert.match(bad.unexpected[0]!, /declared_value=1001n/);
});

test('keyColumnOf: the column filled from the key', () => {
  assert.equal(keyColumnOf(SPEC), 'shipment_id');
  assert.equal(keyColumnOf(SPEC, 'unmatched'), 'shipment_id');
});
