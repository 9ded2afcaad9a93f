// Schema evolution end to end through the data path (issue 17, "Done when": the evolution test): records
// are ingested and joined under spec A (the default), their rows flushed and committed; then the spec
// gains an optional field on orders (`currency`) and a joined column for it, and the same pipeline —
// same Firestore state, same tables — goes on under spec B: an order waiting since A joins under B, new
// orders carry the field. Old rows read the new column as null, new rows carry it, through pyiceberg
// 0.9.1 and Java Iceberg core (check-iceberg). A refused change (the column dropped again) fails the
// flush with a clear error and leaves the table, its files and the outbox untouched.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import { loadTable } from '../../shared/iceberg/index.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { recordedJoinSpec } from '../../shared/pipeline/evolve.ts';
import { ingestObject } from '../../shared/pipeline/ingest.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, flushAndCommit, type Harness, order, payment } from '../support/harness.ts';
import { readersRows } from '../support/reference-rows.ts';
import { defaultSpecWith } from '../support/spec-edit.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('spec-evolution-e2e', { STREAMJOIN_INDEX_SHARDS: '1' });
});
after(() => h.close());

const A = defaultSpecWith(() => {});
/** A + an optional `currency` on orders, written to the joined table after order_amount. */
const B = defaultSpecWith((s) => {
  s.streams.left.fields.push({ name: 'currency', type: 'string', nullable: true });
  s.output.joined.columns.splice(5, 0, { name: 'currency', from: 'order.currency' });
});

function configFor(spec: JoinSpec, warehouse: string): Config {
  return { ...h.config, joinSpec: spec, warehouse };
}
let n = 0;
async function ingest(config: Config, prefix: string, records: unknown[]) {
  const obj = await h.upload(
    `${prefix}2026_11_25/f_${n++}.jsonl`,
    records.map((r) => JSON.stringify(r)).join('\n'),
  );
  return ingestObject({ ...h.ingestDeps(), config }, obj);
}
async function joinedInOutbox(): Promise<number> {
  return (await h.collections.outbox.where('table', '==', 'joined').get()).size;
}
/** Both reference readers must pass; pyiceberg's current rows by order_id ('' for null). */
async function rowsById(location: string, rows: number): Promise<Map<string, Record<string, string>>> {
  const read = await readersRows(location, { key: 'order_id', expectRows: rows });
  return new Map(read.map((r) => [String(r['order_id']), r]));
}

describe('schema evolution through ingest, join, flush and commit', () => {
  it('A, then B adds an optional field: a state waiting since A joins under B; old rows null, new rows carry it; a refused change touches nothing', async () => {
    const warehouse = `file://${h.dir}/warehouse-e2e/`;
    const a = configFor(A, warehouse);
    const b = configFor(B, warehouse);
    const location = tableLocationOf(a, 'joined');
    const orders = a.ordersPrefix;
    const payments = a.paymentsPrefix;

    // Under A: two pairs joined and committed; one order left waiting for its payment.
    await ingest(a, orders, [order('o1'), order('o2'), order('o-waiting')]);
    h.clock += 1000;
    await ingest(a, payments, [payment('p1', 'o1'), payment('p2', 'o2')]);
    assert.equal(await flushAndCommit(h.tickDeps(store, a)), 2);
    const t1 = await loadTable(store, location);
    assert.deepEqual(recordedJoinSpec(t1.metadata), A);
    assert.equal(
      t1.metadata.schemas.find((s) => s.schemaId === t1.metadata.currentSchemaId)!.fields.length,
      9,
    );

    // Under B: the waiting order's payment, and a new pair whose order carries the new field.
    h.clock += 1000;
    await ingest(b, orders, [order('o3', { currency: 'EUR' })]);
    await ingest(b, payments, [payment('p-waiting', 'o-waiting'), payment('p3', 'o3')]);
    assert.equal(await flushAndCommit(h.tickDeps(store, b)), 2);
    const t2 = await loadTable(store, location);
    assert.deepEqual(recordedJoinSpec(t2.metadata), B, 'the evolved table records spec B');
    const schema = t2.metadata.schemas.find((s) => s.schemaId === t2.metadata.currentSchemaId)!;
    assert.deepEqual(
      schema.fields.map((f) => [f.id, f.name, f.required]),
      [
        [1, 'order_id', true],
        [2, 'order_date', true],
        [3, 'created_at', true],
        [4, 'customer_id', true],
        [5, 'order_amount', true],
        [10, 'currency', false],
        [6, 'payment_id', true],
        [7, 'payment_date', true],
        [8, 'payment_amount', true],
        [9, 'joined_at', true],
      ],
      'a new optional column with a new field id; the others keep theirs',
    );
    const rows = await rowsById(location, 4);
    assert.deepEqual(
      [...rows.entries()].map(([id, r]) => [id, r['currency'], r['payment_id']]).sort(),
      [
        ['o-waiting', '', 'p-waiting'],
        ['o1', '', 'p1'],
        ['o2', '', 'p2'],
        ['o3', 'EUR', 'p3'],
      ],
      'rows written before the change and the state waiting since A read null; the new order carries EUR',
    );

    // A refused change: the column dropped again. The flush fails loudly and writes nothing.
    h.clock += 1000;
    await ingest(a, orders, [order('o4')]);
    await ingest(a, payments, [payment('p4', 'o4')]);
    const before = {
      metadata: readdirSync(new URL(`${location}/metadata/`)).sort(),
      data: readdirSync(new URL(`${location}/data/`), { recursive: true }).sort(),
      outbox: await joinedInOutbox(),
    };
    assert.equal(before.outbox, 1);
    await assert.rejects(flushAndCommit(h.tickDeps(store, a)), (err: unknown) => {
      assert.ok(err instanceof StreamjoinError, String(err));
      assert.match(err.message, /currency/);
      return true;
    });
    assert.deepEqual(
      {
        metadata: readdirSync(new URL(`${location}/metadata/`)).sort(),
        data: readdirSync(new URL(`${location}/data/`), { recursive: true }).sort(),
        outbox: await joinedInOutbox(),
      },
      before,
      'the table, its files and the waiting rows are untouched',
    );
    // Under B again the row goes on (its currency is null: the order came under A's config).
    assert.equal(await flushAndCommit(h.tickDeps(store, b)), 1);
    assert.equal((await rowsById(location, 5)).get('o4')?.['currency'], '');
  });
});
