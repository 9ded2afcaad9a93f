// The join spec in the configuration: STREAMJOIN_SPEC is loaded with the other settings; its prefixes,
// timeouts, lateness, namespace and table names stand unless their variables are set (then the variable
// wins, in the config and in the spec alike); a valid spec whose streams or columns differ from the
// default's is followed as written. Table-driven.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../shared/config.ts';
import { defaultJoinSpec } from '../../../shared/spec/load.ts';
import { firstDifference } from '../../../shared/spec/support.ts';

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON here
type Json = any;
const DEFAULT: Json = JSON.parse(readFileSync('specs/orders-payments.json', 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'streamjoin-config-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes the default spec with `f` applied; returns its path. */
function specFile(f: (s: Json) => void): string {
  const s = structuredClone(DEFAULT);
  f(s);
  const file = join(dir, `spec-${n++}.json`);
  writeFileSync(file, JSON.stringify(s, null, 2));
  return file;
}

const RENAMED = specFile((s) => {
  s.name = 'orders-payments-eu';
  s.streams.left.prefix = 'eu/orders/';
  s.streams.right.prefix = 'eu/payments/';
  s.streams.left.timeout = '20m';
  s.streams.right.timeout = '5m';
  s.allowedLateness = '30s';
  s.output.namespace = 'sales';
  s.output.joined.table = 'eu_orders_payments';
  s.output.unmatched.table = 'eu_orders_payments_unmatched';
});

describe('the join spec in the configuration', () => {
  it('nothing set: the shipped default spec, and the settings as they always were', () => {
    const c = loadConfig({});
    assert.deepEqual(c.joinSpec, defaultJoinSpec());
    assert.equal(c.spec, undefined);
    assert.deepEqual(
      [c.ordersPrefix, c.paymentsPrefix, c.orderTimeoutMs, c.paymentTimeoutMs, c.allowedLatenessMs],
      ['stream/orders/', 'stream/payments/', 900_000, 900_000, 120_000],
    );
    assert.deepEqual(
      [c.namespace, c.joinedTable, c.unmatchedTable],
      ['default', 'orders_payments', 'orders_payments_unmatched'],
    );
  });

  it('the shipped default named explicitly is the same spec', () => {
    assert.deepEqual(
      loadConfig({ STREAMJOIN_SPEC: 'specs/orders-payments.json' }).joinSpec,
      defaultJoinSpec(),
    );
  });

  it("a spec's prefixes, timeouts, lateness, namespace and table names become the settings", () => {
    const c = loadConfig({ STREAMJOIN_SPEC: RENAMED });
    assert.deepEqual(
      {
        ordersPrefix: c.ordersPrefix,
        paymentsPrefix: c.paymentsPrefix,
        orderTimeoutMs: c.orderTimeoutMs,
        paymentTimeoutMs: c.paymentTimeoutMs,
        allowedLatenessMs: c.allowedLatenessMs,
        namespace: c.namespace,
        joinedTable: c.joinedTable,
        unmatchedTable: c.unmatchedTable,
      },
      {
        ordersPrefix: 'eu/orders/',
        paymentsPrefix: 'eu/payments/',
        orderTimeoutMs: 1_200_000,
        paymentTimeoutMs: 300_000,
        allowedLatenessMs: 30_000,
        namespace: 'sales',
        joinedTable: 'eu_orders_payments',
        unmatchedTable: 'eu_orders_payments_unmatched',
      },
    );
    assert.equal(c.joinSpec.name, 'orders-payments-eu');
  });

  const overrides: Array<{
    env: Record<string, string>;
    config: Record<string, unknown>;
    spec: (s: Json) => unknown;
  }> = [
    {
      env: { STREAMJOIN_ORDERS_PREFIX: 'x/orders' },
      config: { ordersPrefix: 'x/orders/' },
      spec: (s) => s.left.prefix,
    },
    {
      env: { STREAMJOIN_PAYMENTS_PREFIX: 'x/payments/' },
      config: { paymentsPrefix: 'x/payments/' },
      spec: (s) => s.right.prefix,
    },
    {
      env: { STREAMJOIN_ORDER_TIMEOUT: '5s' },
      config: { orderTimeoutMs: 5000 },
      spec: (s) => s.left.timeoutMs,
    },
    {
      env: { STREAMJOIN_PAYMENT_TIMEOUT: '7s' },
      config: { paymentTimeoutMs: 7000 },
      spec: (s) => s.right.timeoutMs,
    },
    {
      env: { STREAMJOIN_ALLOWED_LATENESS: '0' },
      config: { allowedLatenessMs: 0 },
      spec: (s) => s.allowedLatenessMs,
    },
    { env: { STREAMJOIN_NAMESPACE: 'other' }, config: { namespace: 'other' }, spec: (s) => s.namespace },
    { env: { STREAMJOIN_JOINED_TABLE: 'j' }, config: { joinedTable: 'j' }, spec: (s) => s.joined.name },
    {
      env: { STREAMJOIN_UNMATCHED_TABLE: 'u' },
      config: { unmatchedTable: 'u' },
      spec: (s) => s.unmatched.name,
    },
  ];
  for (const o of overrides) {
    it(`a set variable wins over the spec: ${Object.keys(o.env)[0]}`, () => {
      for (const env of [o.env, { ...o.env, STREAMJOIN_SPEC: RENAMED }]) {
        const c = loadConfig(env);
        const [key, value] = Object.entries(o.config)[0]!;
        assert.equal((c as unknown as Record<string, unknown>)[key], value);
        assert.equal(o.spec(c.joinSpec), value, 'the spec the pipeline runs carries the setting');
      }
    });
  }

  // Specs whose streams, fields, columns or partitioning differ from the default's: the pipeline follows
  // them (they were refused before it did); the configuration carries the spec as written.
  const followed: Array<{ name: string; file: string; check: (s: Json) => unknown; expected: unknown }> = [
    {
      name: 'the shipments example (other streams)',
      file: 'specs/shipments-deliveries.yaml',
      check: (s) => [s.left.name, s.right.name, s.left.key, s.reasons.rightOrphan],
      expected: ['shipment', 'delivery', 'shipment_id', 'delivery_orphan'],
    },
    {
      name: 'a renamed output column',
      file: specFile((s) => {
        s.output.joined.columns[4].name = 'amount_of_order';
      }),
      check: (s) => s.joined.columns[4].name,
      expected: 'amount_of_order',
    },
    {
      name: 'another field',
      file: specFile((s) => {
        s.streams.left.fields.push({ name: 'currency', type: 'string', nullable: true });
      }),
      check: (s) => s.left.fields[5],
      expected: { name: 'currency', type: 'string', nullable: true },
    },
    {
      name: 'another partitioning',
      file: specFile((s) => {
        s.output.joined.partition[0].transform = 'hour';
      }),
      check: (s) => s.joined.partition[0].transform,
      expected: 'hour',
    },
  ];
  for (const f of followed) {
    it(`followed: ${f.name}`, () => {
      const c = loadConfig({ STREAMJOIN_SPEC: f.file });
      assert.deepEqual(f.check(c.joinSpec), f.expected);
    });
  }

  it('a bad spec and a bad setting are both reported', () => {
    const bad = specFile((s) => {
      s.streams.left.timeout = 'soon';
    });
    assert.throws(
      () => loadConfig({ STREAMJOIN_SPEC: bad, STREAMJOIN_EVICT_BATCH: '0' }),
      /STREAMJOIN_EVICT_BATCH must be .*\n[\s\S]*streams\.left\.timeout: expected a duration/,
    );
  });
});

describe('firstDifference', () => {
  const cases: Array<{ a: unknown; b: unknown; expected: string | undefined }> = [
    { a: { x: 1 }, b: { x: 1 }, expected: undefined },
    { a: { x: 1 }, b: { x: 2 }, expected: 'x' },
    { a: { x: [1, { y: 'a' }] }, b: { x: [1, { y: 'b' }] }, expected: 'x[1].y' },
    { a: { x: [1] }, b: { x: [1, 2] }, expected: 'x[1]' },
    { a: { x: 1 }, b: { x: 1, z: 0 }, expected: 'z' },
    { a: 1, b: 2, expected: '(the whole spec)' },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.a)} vs ${JSON.stringify(c.b)} → ${c.expected}`, () => {
      assert.equal(firstDifference(c.a, c.b), c.expected);
    });
  }
});
