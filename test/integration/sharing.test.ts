// Sharing the tables with other engines while the pipeline runs (issue 13): another engine (pyiceberg
// 0.9.1 through the readers kit's foreign-writer, or a merge-on-read DELETE committed as Spark would)
// changes the table between our ingest → flush → compact cycles (appends, compactions, expiry). After
// each: both reference readers pass, the other engine's change is still there, and every row we wrote is
// there exactly once. Changes the pipeline cannot write through stop that table with an alert (rows stay
// in the outbox) while the other table goes on.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { parquetMetadataAsync } from 'hyparquet';
import { listDataFiles, loadTable, type Table } from '../../shared/iceberg/index.ts';
import { createLogger } from '../../shared/log.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { commitDeletes, evolveTable, foreign, jsonl } from '../support/foreign.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';
import { readersRows } from '../support/reference-rows.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('sharing', {
    STREAMJOIN_FLUSH_MAX_ROWS: '25',
    STREAMJOIN_INDEX_SHARDS: '1',
    STREAMJOIN_MIN_FILES_TO_COMPACT: '2',
    STREAMJOIN_MIN_SNAPSHOTS_TO_KEEP: '3',
    STREAMJOIN_SNAPSHOT_RETENTION: '1s',
  });
});
after(() => h.close());
afterEach(async () => {
  await h.fs.reset();
});

let run = 0;
let clock = 0;
/** Log lines the pipeline wrote during a test (to find alerts). */
let lines: Record<string, unknown>[] = [];

function deps(): CompactDeps {
  run++;
  lines = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l));
      done();
    },
  });
  return {
    db: h.fs.db,
    collections: h.collections,
    counter: h.counter,
    store,
    config: { ...h.config, warehouse: `file://${h.dir}/warehouse-${run}/` },
    log: createLogger({ level: 'info', destination: sink }),
    // A clock that moves on between any two readings (a busy machine, a slow commit): a snapshot's
    // commit time then differs from the moment its metadata is written, as it does in production.
    now: () => {
      clock = Math.max(clock + 3, Date.now());
      return clock;
    },
  };
}

/** Ingests n joined pairs (order ids `${prefix}0`…) and flushes them into staged batches. */
async function ingestAndFlush(d: CompactDeps, prefix: string, n: number) {
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
  const blocked = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const r = await flusher.flushAll();
    for (const b of r.blocked ?? []) blocked.add(b.table);
    if (r.rows === 0) break;
  }
  return blocked;
}

/** One cycle of the pipeline: ingest, flush, then compact (commit, rewrite small files, expire, orphans). */
async function cycle(d: CompactDeps, prefix: string, n = 60) {
  await ingestAndFlush(d, prefix, n);
  return runCompact(d);
}

const joinedLocation = (d: CompactDeps) => tableLocationOf(d.config, 'joined');
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Every expected order id exactly once, and nothing else. */
function assertExactlyOnce(rows: readonly Record<string, string>[], expected: readonly string[]) {
  const got = rows.map((r) => r['order_id']!).sort();
  assert.deepEqual(got, [...expected].sort());
}

async function table(d: CompactDeps): Promise<Table> {
  return loadTable(store, joinedLocation(d));
}

/** A joined row another engine appends (the table's columns, epoch micros for joined_at). */
function foreignRow(id: string, extra: Record<string, unknown> = {}) {
  return {
    order_id: id,
    order_date: '2026-11-25T12:00:00',
    created_at: '2026-11-25T12:00:00',
    customer_id: `cust-${id}`,
    order_amount: 7,
    payment_id: `p-${id}`,
    payment_date: '2026-11-25T12:01:00',
    payment_amount: 7,
    joined_at: '2026-11-25T12:30:00Z',
    ...extra,
  };
}

describe('another engine changes the table while the pipeline runs', () => {
  it('append: its rows stay, exactly once, through our appends and compactions', async () => {
    const d = deps();
    await cycle(d, 'A');
    await foreign('append', joinedLocation(d), ['--rows', '-'], jsonl([foreignRow('F1'), foreignRow('F2')]));
    await cycle(d, 'B');
    await cycle(d, 'C');
    const rows = await readersRows(joinedLocation(d), { key: 'order_id' });
    assertExactlyOnce(rows, [...ids('A', 60), ...ids('B', 60), ...ids('C', 60), 'F1', 'F2']);
    assert.ok(
      (await table(d)).metadata.snapshots.some((s) => s.summary.operation === 'replace'),
      'compacted',
    );
  });

  const added: { type: string; value: unknown; shown: string }[] = [
    { type: 'double', value: 2.5, shown: '2.5' },
    { type: 'decimal(10,2)', value: '12.34', shown: '12.34' },
    { type: 'long', value: 4_000_000_000_123, shown: '4000000000123' },
    { type: 'string', value: 'vip', shown: 'vip' },
    { type: 'list<string>', value: ['a', 'b'], shown: '["a", "b"]' },
    {
      type: 'struct<tier:string,score:int>',
      value: { tier: 'gold', score: 3 },
      shown: '{"score": 3, "tier": "gold"}',
    },
  ];
  for (const c of added) {
    it(`add-column ${c.type}: our rows get null there, its values stay, the column stays`, async () => {
      const d = deps();
      await cycle(d, 'A');
      await foreign('add-column', joinedLocation(d), ['extra', c.type]);
      await foreign(
        'append',
        joinedLocation(d),
        ['--rows', '-'],
        jsonl([foreignRow('F1', { extra: c.value })]),
      );
      await cycle(d, 'B');
      await cycle(d, 'C');
      const t = await table(d);
      const schema = t.metadata.schemas.find((s) => s.schemaId === t.metadata.currentSchemaId)!;
      assert.equal(schema.fields.at(-1)?.name, 'extra', 'the column is still there');
      const rows = await readersRows(joinedLocation(d), { key: 'order_id' });
      assertExactlyOnce(rows, [...ids('A', 60), ...ids('B', 60), ...ids('C', 60), 'F1']);
      const f1 = rows.find((r) => r['order_id'] === 'F1')!;
      assert.equal(f1['extra'], c.shown, 'its value, unchanged by our compactions');
      for (const r of rows.filter((x) => x['order_id'] !== 'F1'))
        assert.equal(r['extra'], '', JSON.stringify(r));
    });
  }

  it('set-property: the property stays; our new files follow its compression codec', async () => {
    const d = deps();
    await cycle(d, 'A');
    await foreign('set-property', joinedLocation(d), [
      'owner=other-engine',
      'write.parquet.compression-codec=gzip',
    ]);
    await ingestAndFlush(d, 'B', 60);
    await runCompact(d, { maintenance: false });
    const t = await table(d);
    assert.equal(t.metadata.properties['owner'], 'other-engine');
    assert.equal(t.metadata.properties['write.parquet.compression-codec'], 'gzip');
    const last = t.metadata.snapshots.at(-1)!;
    const added = (await listDataFiles(t)).filter((e) => e.snapshotId === last.snapshotId);
    assert.ok(added.length > 0);
    for (const e of added) {
      const md = await parquetMetadataAsync({
        byteLength: e.dataFile.fileSizeInBytes,
        slice: async (s, end) => {
          const b = await store.readRange(e.dataFile.filePath, s, end ?? e.dataFile.fileSizeInBytes);
          return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
        },
      });
      assert.ok(md.row_groups.every((rg) => rg.columns.every((c) => c.meta_data?.codec === 'GZIP')));
    }
    await cycle(d, 'C');
    assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), [
      ...ids('A', 60),
      ...ids('B', 60),
      ...ids('C', 60),
    ]);
  });

  it('delete-where (copy-on-write): the deleted rows stay deleted through our compactions', async () => {
    const d = deps();
    await cycle(d, 'A');
    await foreign('delete-where', joinedLocation(d), ["order_id in ('A3','A17','A42')"]);
    await cycle(d, 'B');
    await cycle(d, 'C');
    const expected = [...ids('A', 60), ...ids('B', 60), ...ids('C', 60)].filter(
      (id) => !['A3', 'A17', 'A42'].includes(id),
    );
    assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), expected);
  });

  it('merge-on-read delete: the deleted rows stay deleted; compaction leaves those files alone', async () => {
    const d = deps();
    await cycle(d, 'A');
    const t = await table(d);
    const [victim] = await listDataFiles(t);
    commitDeletes(joinedLocation(d), {
      mode: 'position',
      rows: [
        { file_path: victim!.dataFile.filePath, pos: 0 },
        { file_path: victim!.dataFile.filePath, pos: 5 },
      ],
    });
    const before = await readersRows(joinedLocation(d), { key: 'order_id' });
    const deleted = ids('A', 60).filter((id) => !before.some((r) => r['order_id'] === id));
    assert.equal(deleted.length, 2);
    await cycle(d, 'B');
    await cycle(d, 'C');
    const after = await table(d);
    assert.ok((await listDataFiles(after)).some((e) => e.dataFile.filePath === victim!.dataFile.filePath));
    const expected = [...ids('A', 60), ...ids('B', 60), ...ids('C', 60)].filter(
      (id) => !deleted.includes(id),
    );
    assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), expected);
  });

  for (const kind of ['tag', 'branch'] as const) {
    it(`${kind}: it stays, and its snapshot stays readable through our commits and expiry`, async () => {
      const d = deps();
      await cycle(d, 'A');
      const before = await table(d);
      await foreign(kind, joinedLocation(d), [`audit-${kind}`]);
      await cycle(d, 'B');
      await new Promise((r) => setTimeout(r, 1200)); // past the 1 s retention: expiry runs for real
      await cycle(d, 'C');
      const t = await table(d);
      assert.equal(t.metadata.refs[`audit-${kind}`]?.snapshotId, before.metadata.currentSnapshotId);
      assert.equal(t.metadata.refs[`audit-${kind}`]?.type, kind);
      assert.ok(t.metadata.snapshots.some((s) => s.snapshotId === before.metadata.currentSnapshotId));
      assert.ok(t.metadata.snapshots.length < 12, 'expiry removed other snapshots');
      assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), [
        ...ids('A', 60),
        ...ids('B', 60),
        ...ids('C', 60),
      ]);
    });
  }

  it('expire: another engine expires our history; our next commits go on from what is left', async () => {
    const d = deps();
    await cycle(d, 'A');
    await cycle(d, 'B');
    await foreign('expire', joinedLocation(d), [
      '--older-than-ms',
      String(Date.now() + 1000),
      '--retain-last',
      '1',
    ]);
    assert.equal((await table(d)).metadata.snapshots.length, 1);
    await cycle(d, 'C');
    assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), [
      ...ids('A', 60),
      ...ids('B', 60),
      ...ids('C', 60),
    ]);
  });

  it('rename-column: our rows keep landing in it (by field id)', async () => {
    const d = deps();
    await cycle(d, 'A');
    evolveTable(joinedLocation(d), 'rename-column', 'customer_id', 'customer');
    await cycle(d, 'B');
    const rows = await readersRows(joinedLocation(d), { key: 'order_id' });
    assertExactlyOnce(rows, [...ids('A', 60), ...ids('B', 60)]);
    assert.ok(rows.every((r) => r['customer'] === `cust-${r['order_id']}`));
  });

  it('a partition spec change: our new files follow it (bucket of order_id), old ones keep theirs', async () => {
    const d = deps();
    await cycle(d, 'A');
    evolveTable(joinedLocation(d), 'add-partition-field', 'order_id', 'bucket[4]', 'order_bucket');
    await cycle(d, 'B');
    await cycle(d, 'C');
    const t = await table(d);
    assert.equal(t.metadata.partitionSpecs.length, 2);
    const files = await listDataFiles(t);
    assert.ok(
      files.some((f) => f.dataFile.filePath.includes('/order_bucket=')),
      'files of the new spec',
    );
    assertExactlyOnce(await readersRows(joinedLocation(d), { key: 'order_id' }), [
      ...ids('A', 60),
      ...ids('B', 60),
      ...ids('C', 60),
    ]);
  });

  it('a column we write dropped: that table stops with an alert, rows wait in the outbox; the other goes on', async () => {
    const d = deps();
    await cycle(d, 'A');
    evolveTable(joinedLocation(d), 'drop-column', 'order_amount');
    const blocked = await ingestAndFlush(d, 'B', 30);
    assert.deepEqual([...blocked], ['joined']);
    const waiting = (await h.collections.outbox.where('table', '==', 'joined').count().get()).data().count;
    assert.equal(waiting, 30, 'the rows wait in the outbox');
    const alert = lines.find((l) => l['severity'] === 'ALERT');
    assert.ok(alert, 'an alert-level log line');
    assert.match(String(alert['message']), /flush stopped for table joined/);
    assert.match(
      String(alert['message']),
      /column "order_amount" \(field id 5\), which the pipeline writes, was dropped/,
    );
    assert.match(String(alert['message']), /rows wait in the outbox/);
    // Compaction of what is committed goes on (nothing staged waits for the blocked table).
    const results = await runCompact(d);
    assert.ok(results.every((r) => r.blocked === undefined));
  });

  it('format v3: both flush and compact stop for that table with an alert; nothing is lost', async () => {
    const d = deps();
    await cycle(d, 'A');
    evolveTable(joinedLocation(d), 'upgrade-v3');
    const blocked = await ingestAndFlush(d, 'B', 30);
    assert.deepEqual([...blocked], ['joined']);
    assert.equal((await h.collections.outbox.where('table', '==', 'joined').count().get()).data().count, 30);
    const [joined, unmatched] = await runCompact(d);
    assert.match(joined!.blocked ?? '', /format version 3, which this pipeline cannot write/);
    assert.equal(unmatched!.blocked, undefined, 'the other table goes on');
    const alerts = lines.filter((l) => l['severity'] === 'ALERT').map((l) => String(l['message']));
    assert.ok(alerts.some((m) => /flush stopped for table joined: .*format version 3/.test(m)));
    assert.ok(alerts.some((m) => /compact stopped for table joined: .*format version 3/.test(m)));
  });
});
