// Evolving the joined table to a new join spec (shared/pipeline/evolve.ts) between the pipeline's cycles:
// a spec that adds an optional field and column commits one schema update (a new schema with a new field
// id above the table's last one, made current) before any row of the new spec; rows written before and
// after read through pyiceberg 0.9.1 and Java Iceberg core (check-iceberg), the new column null in both;
// a refused change (a dropped column, a new key) leaves the table's metadata exactly as it was and the
// pipeline writing on. The pipeline does not carry the new field's values yet (issue 17, step 3): these
// rows hold null there.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { StreamjoinError } from '../../shared/errors.ts';
import { loadTable } from '../../shared/iceberg/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { evolveTableToSpec } from '../../shared/pipeline/evolve.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import { defaultJoinSpec } from '../../shared/spec/load.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';
import { readersRows } from '../support/reference-rows.ts';
import { defaultSpecWith } from '../support/spec-edit.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('spec-evolution', {
    STREAMJOIN_FLUSH_MAX_ROWS: '25',
    STREAMJOIN_INDEX_SHARDS: '1',
  });
});
after(() => h.close());
afterEach(async () => {
  await h.fs.reset();
});

/** Orders gain an optional `currency`; the joined table a `currency` column after `order_amount`. */
const WITH_CURRENCY = defaultSpecWith((s) => {
  s.streams.left.fields.push({ name: 'currency', type: 'string', nullable: true });
  s.output.joined.columns.splice(5, 0, { name: 'currency', from: 'order.currency' });
});

let run = 0;
function deps(): CompactDeps {
  run++;
  return h.tickDeps(store, { ...h.config, warehouse: `file://${h.dir}/warehouse-${run}/` });
}

/** One pipeline cycle: n joined pairs ingested, flushed, committed. */
async function cycle(d: CompactDeps, prefix: string, n: number) {
  await h.ingest(
    await h.upload(
      `stream/orders/${prefix}/o.jsonl`,
      Array.from({ length: n }, (_, i) => JSON.stringify(order(`${prefix}${i}`))).join('\n'),
    ),
  );
  await h.ingest(
    await h.upload(
      `stream/payments/${prefix}/p.jsonl`,
      Array.from({ length: n }, (_, i) => JSON.stringify(payment(`p-${prefix}${i}`, `${prefix}${i}`))).join(
        '\n',
      ),
    ),
  );
  const flusher = createFlusher(d);
  for (let i = 0; i < 50; i++) if ((await flusher.flushAll()).rows === 0) break;
  await runCompact(d);
}

describe('evolving the joined table to a new spec', () => {
  it('adding an optional field: one schema update with a new field id; old and new rows read by both readers', async () => {
    const d = deps();
    const location = tableLocationOf(d.config, 'joined');
    await cycle(d, 'a', 12);
    const before = await loadTable(store, location);
    assert.equal(before.metadata.lastColumnId, 9);

    const r = await evolveTableToSpec(before, 'joined', defaultJoinSpec(), WITH_CURRENCY);
    assert.equal(r.committed, true);
    assert.deepEqual(
      r.changes.map((c) => c.kind),
      ['add-column'],
    );
    const after = await loadTable(store, location);
    assert.equal(after.version, before.version + 1, 'one commit');
    assert.equal(after.metadata.lastColumnId, 10);
    assert.equal(after.metadata.schemas.length, before.metadata.schemas.length + 1);
    const current = after.metadata.schemas.find((s) => s.schemaId === after.metadata.currentSchemaId)!;
    assert.notEqual(after.metadata.currentSchemaId, before.metadata.currentSchemaId);
    assert.deepEqual(
      current.fields.map((f) => [f.id, f.name, f.required]),
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
    );
    assert.equal(
      after.metadata.currentSnapshotId,
      before.metadata.currentSnapshotId,
      'no snapshot: a schema change',
    );

    // Applying it again finds nothing to do (another instance did it): no commit.
    const again = await evolveTableToSpec(after, 'joined', defaultJoinSpec(), WITH_CURRENCY);
    assert.equal(again.committed, false);
    assert.equal((await loadTable(store, location)).version, after.version);

    // The pipeline goes on writing with the table's current schema.
    await cycle(d, 'b', 12);
    const rows = await readersRows(location, { key: 'order_id', expectRows: 24 });
    assert.deepEqual(
      rows.map((x) => x['order_id']).sort(),
      [
        ...Array.from({ length: 12 }, (_, i) => `a${i}`),
        ...Array.from({ length: 12 }, (_, i) => `b${i}`),
      ].sort(),
    );
    assert.ok(
      rows.every((x) => 'currency' in x && x['currency'] === ''),
      'the new column reads null in rows written before and after the change',
    );
    assert.ok(
      rows.every((x) => x['order_amount'] === '100'),
      'the other columns keep their values',
    );
  });

  const refused: Array<{ name: string; next: JoinSpec; message: RegExp }> = [
    {
      name: 'dropping a column the table has',
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
  ];
  for (const c of refused) {
    it(`refused: ${c.name} — the table's metadata is untouched and the pipeline goes on`, async () => {
      const d = deps();
      const location = tableLocationOf(d.config, 'joined');
      await cycle(d, 'c', 6);
      const before = await loadTable(store, location);
      await assert.rejects(evolveTableToSpec(before, 'joined', defaultJoinSpec(), c.next), (err: unknown) => {
        assert.ok(err instanceof StreamjoinError);
        assert.equal(err.kind, 'config');
        assert.match(err.message, /cannot be applied to .* \(left untouched\)/);
        assert.match(err.message, c.message);
        return true;
      });
      const after = await loadTable(store, location);
      assert.equal(after.version, before.version);
      assert.deepEqual(after.metadata, before.metadata);
      await cycle(d, 'd', 6);
      await readersRows(location, { key: 'order_id', expectRows: 12 });
    });
  }
});
