// The join follows the join spec (issue 17): another spec's streams (specs/shipments-deliveries.yaml:
// shipments ⋈ delivery scans by shipment_id, scans told apart by scan_id) get DESIGN §3's semantics with
// the spec's key, identity and reasons, and rows carry the spec's columns in its order, typed as the
// writers take them; a long key and a two-field identity work as the plan says. Table-driven.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { planOf } from '../../../shared/join/plan.ts';
import { type EmittedRow, rowId, toOutboxValues, toTableRow } from '../../../shared/join/rows.ts';
import {
  applyEvent,
  expireIfDue,
  identityKey,
  type JoinEvent,
  type JoinState,
  joinEventOf,
} from '../../../shared/join/state-machine.ts';
import { joinSpecFromText, loadJoinSpec } from '../../../shared/spec/load.ts';
import type { Side } from '../../../shared/spec/model.ts';
import type { StreamRecord } from '../../../shared/spec/records.ts';
import { decodeRow } from '../../../shared/spec/values.ts';

const spec = loadJoinSpec(path.resolve(import.meta.dirname, '../../../specs/shipments-deliveries.yaml'));
const plan = planOf(spec);
const settings = {
  orderTimeoutMs: spec.left.timeoutMs,
  paymentTimeoutMs: spec.right.timeoutMs,
  tombstoneRetentionMs: 86_400_000,
  joinSpec: spec,
};
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
let ordinal = 0;

function ev(side: Side, record: StreamRecord, landedAtMs: number): JoinEvent {
  return joinEventOf(plan, side, record, {
    bucket: 'b',
    object: `${side}/${ordinal}.json`,
    generation: '1',
    ordinal: ordinal++,
    landedAtMs,
  });
}
const shipment = (id = 's1') => ({
  shipment_id: id,
  carrier: 'DHL',
  weight_kg: 2.5,
  declared_value: '1234.50',
  shipped_at: '2026-11-25T08:30:00.123456',
  fragile: null,
});
const scan = (scanId: string, id = 's1') => ({
  scan_id: scanId,
  shipment_id: id,
  delivered_at: '2026-11-25T13:00:00+01:00',
  delivery_date: '2026-11-25',
  attempts: 2,
  signed_by: null,
});

function run(history: Array<[JoinEvent | 'tick', number]>): {
  state: JoinState | undefined;
  rows: EmittedRow[];
} {
  let state: JoinState | undefined;
  const rows: EmittedRow[] = [];
  for (const [e, t] of history) {
    const r =
      e === 'tick'
        ? expireIfDue(state!, t, settings)
        : applyEvent(state, { ...e, source: { ...e.source, landedAtMs: t } }, settings);
    state = r.state;
    rows.push(...r.emitted);
  }
  return { state, rows };
}

const LEFT_DEADLINE = T0 + spec.left.timeoutMs;
const RIGHT_DEADLINE = T0 + spec.right.timeoutMs;

describe('join of another spec: semantics with its key, identity and reasons', () => {
  const cases: Array<{
    name: string;
    history: Array<[JoinEvent | 'tick', number]>;
    status: string;
    rows: Array<[string | null, string | null, number]>; // reason, scan_id, atMs
  }> = [
    {
      name: 'shipment then scan → joined',
      history: [
        [ev('left', shipment(), 0), T0],
        [ev('right', scan('a'), 0), T0 + 5],
      ],
      status: 'JOINED',
      rows: [[null, 'a', T0 + 5]],
    },
    {
      name: 'scan then shipment → joined',
      history: [
        [ev('right', scan('a'), 0), T0],
        [ev('left', shipment(), 0), T0 + 5],
      ],
      status: 'JOINED',
      rows: [[null, 'a', T0 + 5]],
    },
    {
      name: 'the same scan_id again → duplicate',
      history: [
        [ev('left', shipment(), 0), T0],
        [ev('right', scan('a'), 0), T0 + 5],
        [ev('right', scan('a'), 0), T0 + 6],
      ],
      status: 'JOINED',
      rows: [[null, 'a', T0 + 5]],
    },
    {
      name: 'another scan_id after the join → delivery_extra',
      history: [
        [ev('left', shipment(), 0), T0],
        [ev('right', scan('a'), 0), T0 + 5],
        [ev('right', scan('b'), 0), T0 + 6],
      ],
      status: 'JOINED',
      rows: [
        [null, 'a', T0 + 5],
        ['delivery_extra', 'b', T0 + 6],
      ],
    },
    {
      name: 'no scan by the deadline → shipment_timeout at the deadline',
      history: [
        [ev('left', shipment(), 0), T0],
        ['tick', LEFT_DEADLINE],
      ],
      status: 'EXPIRED',
      rows: [['shipment_timeout', null, LEFT_DEADLINE]],
    },
    {
      name: 'a scan with no shipment → delivery_orphan, then the shipment → shipment_late',
      history: [
        [ev('right', scan('a'), 0), T0],
        ['tick', RIGHT_DEADLINE],
        [ev('left', shipment(), 0), RIGHT_DEADLINE + 1],
      ],
      status: 'EXPIRED',
      rows: [
        ['delivery_orphan', 'a', RIGHT_DEADLINE],
        ['shipment_late', 'a', RIGHT_DEADLINE + 1],
      ],
    },
    {
      name: 'a scan after the shipment timed out → delivery_late',
      history: [
        [ev('left', shipment(), 0), T0],
        ['tick', LEFT_DEADLINE],
        [ev('right', scan('a'), 0), LEFT_DEADLINE + 1],
      ],
      status: 'EXPIRED',
      rows: [
        ['shipment_timeout', null, LEFT_DEADLINE],
        ['delivery_late', 'a', LEFT_DEADLINE + 1],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = run(c.history);
      assert.equal(r.state?.status, c.status);
      assert.deepEqual(
        r.rows.map((x) => [x.reason, x.identity, x.atMs]),
        c.rows,
      );
      for (const row of r.rows) {
        assert.equal(row.key, 's1');
        assert.equal(row.id, rowId('s1', T0, row.reason ?? 'joined', row.identity));
        assert.deepEqual(JSON.parse(JSON.stringify(row)), row, 'rows are plain JSON');
      }
      assert.deepEqual(JSON.parse(JSON.stringify(r.state)), r.state, 'states are plain JSON');
    });
  }
});

describe('rows of another spec: its columns, in its order, typed as the writers take them', () => {
  it('a joined row has every column of the joined table, values by type, the time as micros', () => {
    const { rows } = run([
      [ev('left', shipment(), 0), T0],
      [ev('right', scan('a'), 0), T0 + 5],
    ]);
    const row = toTableRow(plan, rows[0]!);
    assert.deepEqual(
      Object.keys(row),
      spec.joined.columns.map((c) => c.name),
    );
    assert.deepEqual(row, {
      shipment_id: 's1',
      carrier: 'DHL',
      weight_kg: 2.5,
      declared_value: 123450n,
      shipped_at: BigInt(Date.UTC(2026, 10, 25, 8, 30, 0)) * 1000n + 123456n,
      fragile: null,
      scan_id: 'a',
      delivered_at: BigInt(Date.UTC(2026, 10, 25, 12, 0, 0)) * 1000n,
      delivery_date: Date.UTC(2026, 10, 25) / 86_400_000,
      attempts: 2n,
      signed_by: null,
      matched_at: BigInt(T0 + 5) * 1000n,
    });
    // The outbox form is JSON-safe (bigints as digits) and decodes back to the same row.
    const outbox = toOutboxValues(plan, rows[0]!);
    assert.deepEqual(JSON.parse(JSON.stringify(outbox)), outbox);
    assert.equal(outbox['attempts'], '2');
    assert.deepEqual(decodeRow(plan.joined.columns, outbox), row);
  });

  it('an unmatched row: the missing side null, the key from the side there is, reason and emitted_at', () => {
    const { rows } = run([
      [ev('right', scan('a'), 0), T0],
      ['tick', RIGHT_DEADLINE],
    ]);
    const row = toTableRow(plan, rows[0]!);
    assert.deepEqual(
      Object.keys(row),
      spec.unmatched.columns.map((c) => c.name),
    );
    assert.deepEqual(row, {
      shipment_id: 's1',
      carrier: null,
      weight_kg: null,
      declared_value: null,
      shipped_at: null,
      scan_id: 'a',
      delivered_at: BigInt(Date.UTC(2026, 10, 25, 12, 0, 0)) * 1000n,
      reason: 'delivery_orphan',
      emitted_at: BigInt(RIGHT_DEADLINE) * 1000n,
    });
  });
});

describe('keys and identities of the plan', () => {
  const text = JSON.stringify({
    version: 1,
    name: 'long-keys',
    streams: {
      left: {
        name: 'user',
        prefix: 'u/',
        key: 'user_id',
        timeout: '1m',
        fields: [{ name: 'user_id', type: 'long' }],
      },
      right: {
        name: 'visit',
        prefix: 'v/',
        key: 'user_id',
        identity: ['site', 'n'],
        timeout: '1m',
        fields: [
          { name: 'user_id', type: 'long' },
          { name: 'site', type: 'string' },
          { name: 'n', type: 'int' },
        ],
      },
    },
    allowedLateness: '1m',
    output: {
      namespace: 'x',
      joined: {
        table: 'j',
        columns: [
          { name: 'user_id', from: 'user.user_id' },
          { name: 'site', from: 'visit.site' },
          { name: 'at', from: 'pipeline.joined_at' },
        ],
        partition: [],
      },
      unmatched: {
        table: 'u',
        columns: [
          { name: 'user_id', from: 'visit.user_id' },
          { name: 'reason', from: 'pipeline.reason' },
          { name: 'at', from: 'pipeline.emitted_at' },
        ],
        partition: [],
      },
    },
  });
  const other = planOf(joinSpecFromText(text, 'long-keys.json'));
  const cases: Array<{ name: string; side: Side; record: StreamRecord; key: string; identity: string }> = [
    {
      name: 'a long key is its digits',
      side: 'left',
      record: { user_id: 9007199254740991 },
      key: '9007199254740991',
      identity: '9007199254740991',
    },
    {
      name: 'two identity fields are a JSON array',
      side: 'right',
      record: { user_id: -5, site: 'a', n: 1 },
      key: '-5',
      identity: '["a",1]',
    },
    {
      name: 'values that would join as text stay apart',
      side: 'right',
      record: { user_id: 1, site: 'a",1', n: 0 },
      key: '1',
      identity: '["a\\",1",0]',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sp = other[c.side];
      assert.equal(sp.keyOf(c.record), c.key);
      assert.equal(sp.identityOf(c.record), c.identity);
    });
  }

  it('a long key joins, and the key column holds it as a long', () => {
    const s = {
      orderTimeoutMs: 60_000,
      paymentTimeoutMs: 60_000,
      tombstoneRetentionMs: 1e6,
      joinSpec: other.spec,
    };
    const src = { bucket: 'b', object: 'o', generation: '1', ordinal: 0, landedAtMs: T0 };
    const a = applyEvent(undefined, joinEventOf(other, 'left', { user_id: 42 }, src), s);
    const b = applyEvent(
      a.state,
      joinEventOf(other, 'right', { user_id: 42, site: 's', n: 3 }, { ...src, landedAtMs: T0 + 1 }),
      s,
    );
    assert.equal(b.outcome, 'joined');
    assert.deepEqual(b.state.rightKeys, [identityKey('["s",3]')]);
    assert.deepEqual(toTableRow(other, b.emitted[0]!), {
      user_id: 42n,
      site: 's',
      at: BigInt(T0 + 1) * 1000n,
    });
  });
});
