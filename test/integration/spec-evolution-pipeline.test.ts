// Schema evolution in the running pipeline (issue 17, "Done when": the evolution test), at the table
// level: the tick's flush finds the table, evolves it to the configured join spec before writing any of
// its rows (shared/pipeline/evolve.ts prepareTableForSpec, called by the layout provider) and records the
// spec in the table's properties. Rows are put into the outbox as the join writes them (JSON-safe table
// values, shared/spec/values.ts): the generic data path from events to rows is issue 17's other part.
//   spec A (the default) → B: orders gain optional `currency` and `discount decimal(10,2)`, the joined
//   table two columns → C: order amounts widened int → long, `customer_id` renamed `customer`.
// Old rows read the new columns as null and new rows carry them (pyiceberg 0.9.1 reads the values, Java
// Iceberg core plans every snapshot: check-iceberg); renamed and widened columns keep their field ids.
// A refused change (a dropped column, a new key) fails the flush with a clear error, commits nothing,
// writes no file and leaves the rows in the outbox; the previous spec then goes on.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FieldValue } from '@google-cloud/firestore';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import { docIdFor, shardOf } from '../../shared/firestore/client.ts';
import { loadTable, readRows } from '../../shared/iceberg/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { JOIN_SPEC_PROPERTY, recordedJoinSpec } from '../../shared/pipeline/evolve.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { tableDefsOf } from '../../shared/spec/tables.ts';
import { encodeRow, type TableValue } from '../../shared/spec/values.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, flushAndCommit, type Harness } from '../support/harness.ts';
import { readersRows } from '../support/reference-rows.ts';
import { defaultSpecWith, type SpecJson } from '../support/spec-edit.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('spec-evolution-pipeline', {
    STREAMJOIN_INDEX_SHARDS: '1',
    STREAMJOIN_FLUSH_MAX_ROWS: '100',
  });
});
after(() => h.close());

const A = defaultSpecWith(() => {});
/** Orders gain optional currency and discount; the joined table both, after order_amount. */
function addCurrencyAndDiscount(s: SpecJson): void {
  s.streams.left.fields.push(
    { name: 'currency', type: 'string', nullable: true },
    { name: 'discount', type: 'decimal(10,2)', nullable: true },
  );
  s.output.joined.columns.splice(
    5,
    0,
    { name: 'currency', from: 'order.currency' },
    { name: 'discount', from: 'order.discount' },
  );
}
const B = defaultSpecWith(addCurrencyAndDiscount);
/** B with amounts widened to long and customer_id renamed customer in both tables. */
const C = defaultSpecWith((s) => {
  addCurrencyAndDiscount(s);
  for (const side of ['left', 'right'])
    for (const f of s.streams[side].fields) if (f.name === 'amount') f.type = 'long';
  for (const t of ['joined', 'unmatched'])
    for (const c of s.output[t].columns) if (c.name === 'customer_id') c.name = 'customer';
});

function depsFor(spec: JoinSpec, warehouse: string): CompactDeps {
  return h.tickDeps(store, { ...h.config, joinSpec: spec, warehouse });
}

const BASE_MICROS = 1_795_608_000_000_000n;
/** A joined row of `spec` (its column names and types) for order `id`. */
function joinedRow(
  spec: JoinSpec,
  id: string,
  extra: Record<string, TableValue>,
): Record<string, TableValue> {
  const long = spec.left.fields.find((f) => f.name === 'amount')?.type === 'long';
  const row: Record<string, TableValue> = {
    order_id: id,
    order_date: '2026-11-25',
    created_at: '2026-11-25T12:00:00',
    [spec.joined.columns.some((c) => c.name === 'customer') ? 'customer' : 'customer_id']: `c-${id}`,
    order_amount: long ? 5_000_000_000n : 100,
    payment_id: `p-${id}`,
    payment_date: '2026-11-25',
    payment_amount: long ? 5_000_000_000n : 100,
    joined_at: BASE_MICROS,
    ...extra,
  };
  return row;
}

let seq = 0;
async function putJoined(spec: JoinSpec, rows: Record<string, TableValue>[]): Promise<void> {
  const columns = tableDefsOf(spec).joined.columns;
  const batch = h.fs.db.batch();
  for (const values of rows) {
    const id = `joined-${seq++}`;
    batch.set(h.collections.outbox.doc(docIdFor(id)), {
      rowId: id,
      table: 'joined',
      row: encodeRow(columns, values),
      orderId: String(values['order_id']),
      shard: shardOf(id, h.config.indexShards),
      createdAt: FieldValue.serverTimestamp(),
    });
  }
  await batch.commit();
}

async function outboxCount(): Promise<number> {
  return (await h.collections.outbox.where('table', '==', 'joined').get()).size;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('the pipeline evolves its table to the configured spec before writing', () => {
  it('A → B adds optional columns (new ids), B → C widens and renames (same ids); old rows read null, new ones carry values', async () => {
    const warehouse = `file://${h.dir}/warehouse-evolve/`;
    const a = depsFor(A, warehouse);
    const location = tableLocationOf(a.config, 'joined');

    await putJoined(A, [joinedRow(A, 'a0', {}), joinedRow(A, 'a1', {})]);
    assert.equal(await flushAndCommit(a), 2);
    const t1 = await loadTable(store, location);
    assert.deepEqual(recordedJoinSpec(t1.metadata), A, 'created with spec A recorded');
    assert.equal(t1.metadata.lastColumnId, 9);

    // B: the first flush commits the schema update (with B recorded) before it writes B's rows.
    await putJoined(B, [
      joinedRow(B, 'b0', { currency: 'EUR', discount: 1250n }),
      joinedRow(B, 'b1', { currency: null, discount: -5n }),
    ]);
    assert.equal(await flushAndCommit(depsFor(B, warehouse)), 2);
    const t2 = await loadTable(store, location);
    const s2 = t2.metadata.schemas.find((s) => s.schemaId === t2.metadata.currentSchemaId)!;
    assert.deepEqual(
      s2.fields.map((f) => [f.id, f.name, f.type, f.required]),
      [
        [1, 'order_id', 'string', true],
        [2, 'order_date', 'string', true],
        [3, 'created_at', 'string', true],
        [4, 'customer_id', 'string', true],
        [5, 'order_amount', 'int', true],
        [10, 'currency', 'string', false],
        [11, 'discount', 'decimal(10, 2)', false],
        [6, 'payment_id', 'string', true],
        [7, 'payment_date', 'string', true],
        [8, 'payment_amount', 'int', true],
        [9, 'joined_at', 'timestamptz', true],
      ],
    );
    assert.equal(t2.metadata.properties[JOIN_SPEC_PROPERTY], JSON.stringify(B));
    // The schema update is its own commit, before the snapshot holding B's rows (written with it).
    const appended = t2.metadata.snapshots.at(-1)!;
    assert.equal(appended.schemaId, s2.schemaId, "B's rows are written with the evolved schema");

    let rows = await readersRows(location, { key: 'order_id', expectRows: 4 });
    const byId = (id: string) => rows.find((r) => r['order_id'] === id)!;
    for (const id of ['a0', 'a1']) {
      assert.equal(byId(id)['currency'], '', `${id}: written before, currency reads null`);
      assert.equal(byId(id)['discount'], '', `${id}: discount reads null`);
    }
    assert.equal(byId('b0')['currency'], 'EUR');
    assert.equal(byId('b0')['discount'], '12.50');
    assert.equal(byId('b1')['currency'], '');
    assert.equal(byId('b1')['discount'], '-0.05');

    // C: amounts widened to long, customer_id renamed; ids kept, values of old rows read through.
    await putJoined(C, [joinedRow(C, 'c0', { currency: 'USD', discount: 1n })]);
    assert.equal(await flushAndCommit(depsFor(C, warehouse)), 1);
    const t3 = await loadTable(store, location);
    const s3 = t3.metadata.schemas.find((s) => s.schemaId === t3.metadata.currentSchemaId)!;
    assert.deepEqual(
      s3.fields.map((f) => [f.id, f.name, f.type]),
      [
        [1, 'order_id', 'string'],
        [2, 'order_date', 'string'],
        [3, 'created_at', 'string'],
        [4, 'customer', 'string'],
        [5, 'order_amount', 'long'],
        [10, 'currency', 'string'],
        [11, 'discount', 'decimal(10, 2)'],
        [6, 'payment_id', 'string'],
        [7, 'payment_date', 'string'],
        [8, 'payment_amount', 'long'],
        [9, 'joined_at', 'timestamptz'],
      ],
    );
    assert.equal(t3.metadata.lastColumnId, 11, 'no new ids for a rename or a widening');
    rows = await readersRows(location, { key: 'order_id', expectRows: 5 });
    assert.equal(byId('a0')['customer'], 'c-a0', 'the renamed column reads the old rows by field id');
    assert.equal(byId('a0')['order_amount'], '100', 'an int read as long');
    assert.equal(byId('c0')['order_amount'], '5000000000');
    assert.equal(byId('c0')['customer'], 'c-c0');
    assert.equal(byId('c0')['discount'], '0.01');

    // Our reader agrees (table values: bigints for longs and decimals).
    const ours = new Map<string, Record<string, unknown>>();
    for await (const r of readRows(t3)) ours.set(String(r['order_id']), r);
    assert.equal(ours.get('a0')?.['order_amount'], 100n);
    assert.equal(ours.get('b0')?.['discount'], 1250n);
    assert.equal(ours.get('a1')?.['currency'], null);

    // Running C again evolves nothing: no new metadata version.
    const before = (await loadTable(store, location)).version;
    await putJoined(C, [joinedRow(C, 'c1', {})]);
    await createFlusher(depsFor(C, warehouse)).flushAll({ tables: ['joined'] });
    const t4 = await loadTable(store, location);
    assert.equal(t4.metadata.schemas.length, t3.metadata.schemas.length);
    assert.equal(t4.version, before, 'flush stages; no schema commit');
    await runCompact(depsFor(C, warehouse), { tables: ['joined'] });
  });

  const refused: Array<{ name: string; next: JoinSpec; message: RegExp }> = [
    {
      name: 'a dropped column',
      next: defaultSpecWith((s) => {
        s.output.joined.columns.splice(3, 1);
      }),
      message: /customer_id/,
    },
    {
      name: 'another join key',
      next: defaultSpecWith((s) => {
        s.streams.left.key = 'customer_id';
        s.streams.left.identity = ['customer_id'];
      }),
      message: /streams\.left\.key: the join key changed/,
    },
    {
      name: 'a narrowed column (int → string)',
      next: defaultSpecWith((s) => {
        for (const f of s.streams.left.fields) if (f.name === 'amount') f.type = 'string';
      }),
      message: /order_amount/,
    },
  ];
  for (const c of refused) {
    it(`refused: ${c.name} — the flush fails loudly, the table and the outbox are untouched, the old spec goes on`, async () => {
      const warehouse = `file://${h.dir}/warehouse-refuse-${seq}/`;
      const a = depsFor(A, warehouse);
      const location = tableLocationOf(a.config, 'joined');
      await putJoined(A, [joinedRow(A, `r${seq}`, {})]);
      assert.equal(await flushAndCommit(a), 1);
      const before = await loadTable(store, location);
      const files = filesUnder(fileURLToPath(location));

      await putJoined(A, [joinedRow(A, `r${seq}`, {})]);
      const waiting = await outboxCount();
      await assert.rejects(
        createFlusher(depsFor(c.next, warehouse)).flushAll({ tables: ['joined'] }),
        (err: unknown) => {
          assert.ok(err instanceof StreamjoinError, String(err));
          assert.equal(err.kind, 'config');
          assert.match(err.message, /cannot be applied to .* \(left untouched\)/);
          assert.match(err.message, c.message);
          return true;
        },
      );
      const after = await loadTable(store, location);
      assert.equal(after.version, before.version, 'no commit');
      assert.deepEqual(after.metadata, before.metadata);
      assert.deepEqual(filesUnder(fileURLToPath(location)), files, 'no file written');
      assert.equal(await outboxCount(), waiting, 'the rows wait in the outbox');

      // The previous spec goes on: the waiting row lands.
      assert.equal(await flushAndCommit(a), 1);
      const c2 = await checkIceberg(location, { expectRows: 2 });
      assert.ok(c2.ok, formatIcebergCheck(c2));
    });
  }
});
