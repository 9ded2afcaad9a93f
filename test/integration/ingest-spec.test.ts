// Ingest and eviction follow the configured join spec (issue 17), on the real Firestore emulator and the
// local GCS server: shipments ⋈ delivery scans (specs/shipments-deliveries.yaml) — records validated by
// the spec's stream (a bad one quarantined with its field), states keyed by shipment_id, scans told apart
// by scan_id, rows with the spec's columns and reasons in the outbox (JSON-safe, decoded by column type).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../shared/log.ts';
import { evictExpired } from '../../shared/pipeline/evict.ts';
import { ingestObject } from '../../shared/pipeline/ingest.ts';
import { loadJoinSpec } from '../../shared/spec/load.ts';
import { decodeRow } from '../../shared/spec/values.ts';
import { createHarness, type Harness } from '../support/harness.ts';

const spec = loadJoinSpec(path.resolve(import.meta.dirname, '../../specs/shipments-deliveries.yaml'));
let h: Harness;
before(async () => {
  h = await createHarness('ingest-spec');
});
after(() => h.close());

const config = () => ({
  ...h.config,
  joinSpec: spec,
  ordersPrefix: spec.left.prefix,
  paymentsPrefix: spec.right.prefix,
  orderTimeoutMs: spec.left.timeoutMs,
  paymentTimeoutMs: spec.right.timeoutMs,
});
const shipment = (id: string) => ({
  shipment_id: id,
  carrier: 'DHL',
  weight_kg: 2.5,
  declared_value: '1234.50',
  shipped_at: '2026-11-25T08:30:00',
  fragile: true,
});
const scan = (scanId: string, id: string) => ({
  scan_id: scanId,
  shipment_id: id,
  delivered_at: '2026-11-25T13:00:00+01:00',
  delivery_date: '2026-11-25',
  attempts: 1,
  signed_by: null,
});

async function send(name: string, lines: unknown[]) {
  const obj = await h.upload(name, lines.map((l) => JSON.stringify(l)).join('\n'));
  return ingestObject({ ...h.ingestDeps(), config: config() }, obj);
}

describe('ingest follows the join spec', () => {
  it('shipments and scans: joined, extra, duplicate, orphan and a bad record, with the spec’s columns', async () => {
    const t0 = h.clock;
    const s = await send('stream/shipments/2026_11_25/s.jsonl', [
      shipment('S1'),
      shipment('S2'),
      { ...shipment('S3'), weight_kg: 'heavy' },
    ]);
    assert.equal(s.kind, 'shipment');
    assert.equal(s.records, 2);
    assert.equal(s.rejected, 1);
    const [reject] = await h.rejects();
    assert.match(String(reject!['message']), /weight_kg must be a finite number, but was: "heavy"/);
    h.clock = t0 + 1000;
    const d = await send('stream/deliveries/2026_11_25/d.jsonl', [
      scan('a', 'S1'),
      scan('a', 'S1'),
      scan('b', 'S1'),
      scan('c', 'S9'),
    ]);
    assert.equal(d.kind, 'delivery');
    assert.equal(d.counters.joined, 1);
    assert.equal(d.counters.duplicatePayments, 1);
    assert.equal(d.counters.paymentExtra, 1);
    assert.equal((await h.state('S1'))?.status, 'JOINED');
    assert.equal((await h.state('S9'))?.status, 'WAITING_ORDER');
    // The tick closes the windows: S2 times out (2 h), S9's scan is an orphan (30 min).
    h.clock = t0 + spec.left.timeoutMs + spec.allowedLatenessMs + 1;
    await evictExpired({
      db: h.fs.db,
      collections: h.collections,
      counter: h.counter,
      log: createLogger({ level: 'silent' }),
      now: () => h.clock,
      config: config(),
    });
    const rows = await h.outbox();
    const reasons = rows.map(
      (r) => `${r.table}:${r.row['reason'] ?? 'joined'}:${r.row['shipment_id']}:${r.row['scan_id']}`,
    );
    assert.deepEqual(reasons.sort(), [
      'joined:joined:S1:a',
      'unmatched:delivery_extra:S1:b',
      'unmatched:delivery_orphan:S9:c',
      'unmatched:shipment_timeout:S2:null',
    ]);
    const joined = rows.find((r) => r.table === 'joined')!;
    assert.deepEqual(Object.keys(joined.row).sort(), spec.joined.columns.map((c) => c.name).sort());
    assert.deepEqual(decodeRow(spec.joined.columns, joined.row), {
      shipment_id: 'S1',
      carrier: 'DHL',
      weight_kg: 2.5,
      declared_value: 123450n,
      shipped_at: BigInt(Date.UTC(2026, 10, 25, 8, 30)) * 1000n,
      fragile: true,
      scan_id: 'a',
      delivered_at: BigInt(Date.UTC(2026, 10, 25, 12, 0)) * 1000n,
      delivery_date: Date.UTC(2026, 10, 25) / 86_400_000,
      attempts: 1n,
      signed_by: null,
      matched_at: BigInt(t0 + 1000) * 1000n,
    });
  });
});
