// deploy --dry-run follows the join spec's names: its namespace and table names in the plan's summary,
// its streams' prefixes and names in the input bucket's line (a copy of the default spec with other
// names: what the pipeline runs today beside the default).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { formatPlan } from '../../../infra/gcp/format.ts';
import { planDeploy, plural } from '../../../infra/gcp/plan.ts';
import { loadConfig } from '../../../shared/config.ts';
import { ROOT, SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sj-deploy-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('deploy --dry-run: the tables and prefixes of the spec', async () => {
  const spec = JSON.parse(readFileSync(`${ROOT}specs/orders-payments.json`, 'utf8'));
  spec.name = 'sales';
  spec.streams.left.prefix = 'in/sales/orders/';
  spec.streams.right.prefix = 'in/sales/payments/';
  spec.output.namespace = 'sales';
  spec.output.joined.table = 'paid_orders';
  spec.output.unmatched.table = 'paid_orders_unmatched';
  const file = path.join(dir, 'sales.json');
  writeFileSync(file, JSON.stringify(spec));
  const text = formatPlan(
    planDeploy(loadConfig({ ...SAMPLE_ENV, STREAMJOIN_SPEC: file }), await sampleDeployOptions()),
  );
  assert.match(
    text,
    /joined table: +sales\.paid_orders at gs:\/\/sample-project-warehouse\/sales\/paid_orders\//,
  );
  assert.match(
    text,
    /unmatched table: +sales\.paid_orders_unmatched at gs:\/\/sample-project-warehouse\/sales\/paid_orders_unmatched\//,
  );
  assert.match(text, /orders under in\/sales\/orders\/, payments under in\/sales\/payments\//);
  assert.doesNotMatch(text, /orders_payments|stream\/orders\//);
});

test('plural: the stream names in the summary', () => {
  const cases = [
    ['order', 'orders'],
    ['payment', 'payments'],
    ['shipment', 'shipments'],
    ['delivery', 'deliveries'],
    ['day', 'days'],
    ['box', 'boxes'],
    ['batch', 'batches'],
    ['status', 'statuses'],
  ] as const;
  for (const [one, many] of cases) assert.equal(plural(one), many);
});
