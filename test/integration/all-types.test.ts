// Every field type a join spec may declare, nulls, and every partition transform, through the pipeline's
// own write path: outbox rows (JSON-safe table values, shared/spec/values.ts) flushed by the Flusher into
// a table created from the spec's definitions, committed by compaction. Then checked by others:
// - the reference readers (pyiceberg 0.9.1 and Java Iceberg core, check-iceberg) on the table;
// - pyiceberg's own transforms recomputing each data file's partition tuple from its rows (bucket[N] is
//   Iceberg's Murmur3; year/month/day/hour, truncate[W] and identity by the spec), and the path Java
//   names the file's partition directory;
// - pyarrow on the Parquet physical and logical types (INT64, FLOAT, DOUBLE, BOOLEAN, DATE, TIMESTAMP
//   micros adjusted to UTC or not, DECIMAL as INT32/INT64/FIXED_LEN_BYTE_ARRAY by precision), and
//   DuckDB reading the values back;
// - our reader returning exactly the table values that were written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FieldValue } from '@google-cloud/firestore';
import { checkIceberg, formatIcebergCheck, requireReadersKit } from '../../infra/ops/check-iceberg.ts';
import { docIdFor, shardOf } from '../../shared/firestore/client.ts';
import { listDataFiles, loadTable, readRows } from '../../shared/iceberg/index.ts';
import { type CompactDeps, runCompact, tableLocationOf } from '../../shared/pipeline/compact.ts';
import { createFlusher } from '../../shared/pipeline/tick.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { tableDefsOf } from '../../shared/spec/tables.ts';
import { validateJoinSpec } from '../../shared/spec/validate.ts';
import { encodeRow, type TableValue } from '../../shared/spec/values.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import type { TableKind } from '../../shared/tables.ts';
import { createHarness, type Harness } from '../support/harness.ts';

let h: Harness;
const store = new FileObjectStore();
before(async () => {
  h = await createHarness('all-types', { STREAMJOIN_INDEX_SHARDS: '1', STREAMJOIN_FLUSH_MAX_ROWS: '500' });
});
after(() => h.close());

/** Items checked by inspections, keyed by a long: every type on the left, a few on the right. */
const SPEC_JSON = {
  version: 1,
  name: 'all-types',
  streams: {
    left: {
      name: 'item',
      prefix: 'stream/items/',
      key: 'item_id',
      fields: [
        { name: 'item_id', type: 'long' },
        { name: 'name', type: 'string' },
        { name: 'qty', type: 'int' },
        { name: 'price', type: 'decimal(9,2)' },
        { name: 'cost', type: 'decimal(18,4)' },
        { name: 'huge', type: 'decimal(38,10)' },
        { name: 'weight', type: 'float' },
        { name: 'ratio', type: 'double' },
        { name: 'active', type: 'boolean', nullable: true },
        { name: 'made', type: 'date' },
        { name: 'seen', type: 'timestamp' },
        { name: 'at', type: 'timestamptz' },
        { name: 'note', type: 'string', nullable: true },
      ],
    },
    right: {
      name: 'check',
      prefix: 'stream/checks/',
      key: 'item_id',
      identity: ['check_id'],
      fields: [
        { name: 'check_id', type: 'string' },
        { name: 'item_id', type: 'long' },
        { name: 'score', type: 'double', nullable: true },
      ],
    },
  },
  output: {
    namespace: 'typed',
    joined: {
      table: 'items_checked',
      columns: [
        ...[
          'item_id',
          'name',
          'qty',
          'price',
          'cost',
          'huge',
          'weight',
          'ratio',
          'active',
          'made',
          'seen',
          'at',
          'note',
        ].map((f) => ({ name: f, from: `item.${f}` })),
        { name: 'check_id', from: 'check.check_id' },
        { name: 'score', from: 'check.score' },
        { name: 'joined_at', from: 'pipeline.joined_at' },
      ],
      partition: [
        { column: 'item_id', transform: 'bucket[4]' },
        { column: 'name', transform: 'truncate[2]' },
        { column: 'made', transform: 'year' },
        { column: 'seen', transform: 'month' },
        { column: 'at', transform: 'day' },
        { column: 'price', transform: 'bucket[3]' },
        { column: 'active', transform: 'identity' },
      ],
    },
    unmatched: {
      table: 'items_unmatched',
      columns: [
        { name: 'item_id', from: 'item.item_id' },
        { name: 'name', from: 'item.name' },
        { name: 'qty', from: 'item.qty' },
        { name: 'cost', from: 'item.cost' },
        { name: 'huge', from: 'item.huge' },
        { name: 'made', from: 'item.made' },
        { name: 'at', from: 'item.at' },
        { name: 'check_id', from: 'check.check_id' },
        { name: 'reason', from: 'pipeline.reason' },
        { name: 'emitted_at', from: 'pipeline.emitted_at' },
      ],
      partition: [
        { column: 'emitted_at', transform: 'hour' },
        { column: 'qty', transform: 'truncate[10]' },
        { column: 'cost', transform: 'truncate[50000]' },
        { column: 'huge', transform: 'bucket[2]' },
        { column: 'made', transform: 'bucket[5]' },
        { column: 'at', transform: 'bucket[3]' },
        { column: 'name', transform: 'identity' },
        { column: 'reason', transform: 'identity' },
      ],
    },
  },
};

function loadSpec(): JoinSpec {
  const r = validateJoinSpec(SPEC_JSON);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues, null, 1));
  return r.spec;
}

const US = 1_000_000n;
const DAY_US = 86_400n * US;
/** Values at the edges of each type, cycled through the rows. */
const EDGES = {
  item_id: [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 9_007_199_254_740_993n],
  // ASCII: a partition value that needs %-escaping in its path is read differently by the two readers
  // (Java decodes the file: URI, pyiceberg does not); the non-ASCII text is in `note`.
  name: ['a', 'ab', 'abc', 'a b', 'zz'],
  qty: [0, -1, 2147483647, -2147483648, 9, 10, -10],
  price: [0n, 1n, -1n, 999_999_999n, -999_999_999n, 1234n],
  cost: [0n, -5n, 10n ** 18n - 1n, -(10n ** 18n) + 1n, 49_999n, 50_000n, -50_001n],
  huge: [0n, 10n ** 38n - 1n, -(10n ** 38n) + 1n, 1n, -1n, 2n ** 64n],
  weight: [0, -0, 1.5, Math.fround(0.1), -3.4028234663852886e38, Math.fround(1e-45)],
  ratio: [0, -0, 0.1, -1e300, 5e-324, Number.MAX_VALUE],
  active: [true, false, null],
  made: [0, -1, 11016, 19782, -719162, 2932896, 365],
  seen: [0n, -1n, 1_709_251_199_000_000n, -2_208_988_800_000_000n, 1_795_608_000_123_456n],
  at: [0n, -1n, DAY_US - 1n, 1_795_608_000_000_000n, -DAY_US, 951_782_400_000_000n],
  note: ['n', null, 'x'.repeat(300), 'é漢😀\u0000'],
} as const;
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;

function itemOf(i: number): Record<string, TableValue> {
  const out: Record<string, TableValue> = {};
  for (const [k, list] of Object.entries(EDGES)) out[k] = pick(list as readonly TableValue[], i);
  // Distinct keys for distinct items (the edges repeat every few rows).
  out['item_id'] = (pick(EDGES.item_id, i) as bigint) === 0n ? BigInt(i) : pick(EDGES.item_id, i);
  return out;
}

const N = 40;
function joinedRows(): Record<string, TableValue>[] {
  return Array.from({ length: N }, (_, i) => ({
    ...itemOf(i),
    check_id: `k-${i}`,
    score: i % 4 === 0 ? null : i / 7,
    joined_at: 1_795_608_000_000_000n + BigInt(i) * 3_600_000_000n,
  }));
}
function unmatchedRows(): Record<string, TableValue>[] {
  return Array.from({ length: N }, (_, i) => {
    const it = itemOf(i);
    const left = i % 3 !== 2;
    return {
      item_id: it['item_id']!,
      name: left ? it['name']! : null,
      // truncate[10] of an int within 10 of its minimum wraps in Java and not in pyiceberg: not here.
      qty: left ? Math.max(it['qty'] as number, -2147483639) : null,
      cost: left ? it['cost']! : null,
      huge: left ? it['huge']! : null,
      made: left ? it['made']! : null,
      at: left ? it['at']! : null,
      check_id: left ? null : `k-${i}`,
      reason: left ? 'item_timeout' : 'check_orphan',
      emitted_at: -DAY_US + BigInt(i) * 1_800_000_000n,
    };
  });
}

async function putOutbox(spec: JoinSpec, kind: TableKind, rows: Record<string, TableValue>[]) {
  const columns = tableDefsOf(spec)[kind].columns;
  const batch = h.fs.db.batch();
  rows.forEach((values, i) => {
    const id = `${kind}-${i}`;
    batch.set(h.collections.outbox.doc(docIdFor(id)), {
      rowId: id,
      table: kind,
      row: encodeRow(columns, values),
      orderId: String(values['item_id']),
      shard: shardOf(id, h.config.indexShards),
      createdAt: FieldValue.serverTimestamp(),
    });
  });
  await batch.commit();
}

function python(script: string, args: string[], py = 'python3'): unknown {
  const r = spawnSync(py, ['-c', script, ...args], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `${py} failed: ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null');
}

/** pyiceberg's transforms over each data file's rows, against the file's partition tuple and path. */
const PARTITION_CHECK = String.raw`
import sys, json, glob, re, urllib.parse
import pyarrow.parquet as pq, pyarrow as pa
from pyiceberg.table import StaticTable
loc = sys.argv[1]
meta = max(glob.glob(loc + "/metadata/v*.metadata.json"), key=lambda p: int(re.search(r"/v(\d+)\.", p).group(1)))
t = StaticTable.from_metadata(meta)
schema, spec = t.schema(), t.spec()
errors, files, values = [], 0, 0
for task in t.scan().plan_files():
    df = task.file
    files += 1
    table = pq.read_table(df.file_path.replace("file://", ""))
    by_id = {}
    for i, f in enumerate(table.schema):
        fid = int(f.metadata[b"PARQUET:field_id"]) if f.metadata and b"PARQUET:field_id" in f.metadata else None
        by_id[fid] = table.column(i)
    for pos, pf in enumerate(spec.fields):
        src = schema.find_field(pf.source_id)
        col = by_id[pf.source_id]
        if pa.types.is_timestamp(col.type): col = col.cast(pa.int64())
        if pa.types.is_date32(col.type): col = col.cast(pa.int32())
        fn = pf.transform.transform(src.field_type)
        want = df.partition[pos]
        for v in col.to_pylist():
            values += 1
            got = fn(v)
            if got != want:
                errors.append(f"{df.file_path}: {pf.name} = {want!r} in the manifest, but pyiceberg computes {got!r} from {v!r}")
        human = "null" if want is None else pf.transform.to_human_string(t.specs()[spec.spec_id].partition_type(schema).fields[pos].field_type, want)
        seg = pf.name + "=" + urllib.parse.quote_plus(human, safe="-_.*")
        if "/" + seg + "/" not in df.file_path:
            errors.append(f"{df.file_path}: expected the path segment {seg}")
print(json.dumps({"files": files, "values": values, "errors": errors[:20]}))
`;

/** Parquet physical and logical types of each column (pyarrow), and DuckDB's view of the values. */
const PARQUET_TYPES = `
import sys, json, glob
import pyarrow.parquet as pq, duckdb
files = sorted(glob.glob(sys.argv[1] + "/data/**/*.parquet", recursive=True))
s = pq.ParquetFile(files[0]).schema
cols = {}
for i in range(len(s)):
    c = s.column(i)
    lt = c.logical_type
    cols[c.name] = {"physical": c.physical_type, "logical": lt.to_json() if lt is not None else None, "length": c.length, "max_def": c.max_definition_level}
con = duckdb.connect()
q = con.execute('select count(*), count(active), sum(price)::varchar, min(huge)::varchar, max(huge)::varchar, min("at")::varchar, min(seen)::varchar, min(made)::varchar, max(item_id)::varchar, min(item_id)::varchar, sum(case when weight = 0 then 1 else 0 end) from read_parquet(?)', [files]).fetchone()
print(json.dumps({"files": len(files), "columns": cols, "duckdb": [str(x) for x in q]}))
`;

describe('every type and every transform through flush and commit', () => {
  it('the tables pass both reference readers; partitions, Parquet types and values are what others compute', async () => {
    const kit = requireReadersKit();
    const spec = loadSpec();
    const d: CompactDeps = h.tickDeps(store, {
      ...h.config,
      joinSpec: spec,
      namespace: 'typed',
      joinedTable: 'items_checked',
      unmatchedTable: 'items_unmatched',
    });
    const written = { joined: joinedRows(), unmatched: unmatchedRows() };
    await putOutbox(spec, 'joined', written.joined);
    await putOutbox(spec, 'unmatched', written.unmatched);
    const flusher = createFlusher(d);
    let flushed = 0;
    for (let i = 0; i < 10; i++) {
      const r = await flusher.flushAll();
      assert.deepEqual(r.blocked, []);
      flushed += r.rows;
      if (r.rows === 0) break;
    }
    assert.equal(flushed, 2 * N);
    await runCompact(d);

    for (const kind of ['joined', 'unmatched'] as const) {
      const location = tableLocationOf(d.config, kind);
      const dir = fileURLToPath(location);
      const c = await checkIceberg(location, { expectRows: N });
      assert.ok(c.ok, formatIcebergCheck(c));

      const table = await loadTable(store, location);
      const files = await listDataFiles(table);
      assert.ok(files.length > 4, `${kind}: rows spread over several partitions (${files.length} files)`);

      const py = spawnSync(`${kit}/pyiceberg/setup-python`, [], { encoding: 'utf8' }).stdout.trim();
      const parts = python(PARTITION_CHECK, [dir], py) as { files: number; values: number; errors: string[] };
      assert.deepEqual(parts.errors, [], `${kind}: partition tuples as pyiceberg computes them`);
      assert.equal(parts.files, files.length);
      assert.equal(parts.values, N * tableDefsOf(spec)[kind].partition.length);

      // Our reader: exactly the table values written (by item, in any order).
      const back: Record<string, unknown>[] = [];
      for await (const r of readRows(table)) back.push(r);
      const key = (r: Record<string, unknown>) => `${String(r['item_id'])}/${String(r['check_id'])}`;
      const sorted = (rows: Record<string, unknown>[]) =>
        [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
      const got = sorted(back);
      const want = sorted(written[kind]);
      assert.equal(got.length, want.length);
      for (let i = 0; i < want.length; i++) {
        for (const [col, v] of Object.entries(want[i]!)) {
          assert.ok(
            Object.is(got[i]![col], v),
            `${kind} row ${key(want[i]!)} ${col}: read ${String(got[i]![col])} (${typeof got[i]![col]}), wrote ${String(v)} (${typeof v})`,
          );
        }
      }

      if (kind !== 'joined') continue;
      const types = python(PARQUET_TYPES, [dir]) as {
        columns: Record<
          string,
          { physical: string; logical: string | null; length: number; max_def: number }
        >;
        duckdb: string[];
      };
      const c2 = types.columns;
      const logical = (n: string) => JSON.parse(c2[n]!.logical ?? 'null') as Record<string, unknown> | null;
      const expect: [string, string, Record<string, unknown> | null][] = [
        ['item_id', 'INT64', null],
        ['name', 'BYTE_ARRAY', { Type: 'String' }],
        ['qty', 'INT32', null],
        ['price', 'INT32', { Type: 'Decimal', precision: 9, scale: 2 }],
        ['cost', 'INT64', { Type: 'Decimal', precision: 18, scale: 4 }],
        ['huge', 'FIXED_LEN_BYTE_ARRAY', { Type: 'Decimal', precision: 38, scale: 10 }],
        ['weight', 'FLOAT', null],
        ['ratio', 'DOUBLE', null],
        ['active', 'BOOLEAN', null],
        ['made', 'INT32', { Type: 'Date' }],
        [
          'seen',
          'INT64',
          {
            Type: 'Timestamp',
            isAdjustedToUTC: false,
            timeUnit: 'microseconds',
            is_from_converted_type: false,
            force_set_converted_type: false,
          },
        ],
        [
          'at',
          'INT64',
          {
            Type: 'Timestamp',
            isAdjustedToUTC: true,
            timeUnit: 'microseconds',
            is_from_converted_type: false,
            force_set_converted_type: false,
          },
        ],
      ];
      for (const [name, physical, lt] of expect) {
        assert.equal(c2[name]?.physical, physical, `${name}: physical type`);
        const got2 = logical(name);
        if (lt === null)
          assert.ok(
            got2 === null || got2['Type'] === 'None',
            `${name}: no logical type, got ${c2[name]!.logical}`,
          );
        else
          for (const [k, v] of Object.entries(lt))
            assert.deepEqual(got2?.[k], v, `${name}: logical ${k} (${c2[name]!.logical})`);
      }
      assert.equal(
        c2['huge']!.length,
        16,
        'decimal(38,10): 16 bytes (Iceberg: the fewest bytes that hold 38 digits)',
      );
      assert.equal(c2['active']!.max_def, 1, 'nullable: OPTIONAL');
      assert.equal(c2['item_id']!.max_def, 0, 'required: REQUIRED');

      const price = written.joined.reduce((s, r) => s + (r['price'] as bigint), 0n);
      const huges = written.joined.map((r) => r['huge'] as bigint);
      const dec = (u: bigint, scale: number) => {
        const neg = u < 0n;
        const t = (neg ? -u : u).toString().padStart(scale + 1, '0');
        return `${neg ? '-' : ''}${t.slice(0, t.length - scale)}.${t.slice(t.length - scale)}`;
      };
      const ids = written.joined.map((r) => r['item_id'] as bigint);
      const ordered = (xs: bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(types.duckdb, [
        String(N),
        String(written.joined.filter((r) => r['active'] !== null).length),
        dec(price, 2),
        dec(ordered(huges)[0]!, 10),
        dec(ordered(huges).at(-1)!, 10),
        '1969-12-31 00:00:00+00',
        '1900-01-01 00:00:00',
        '0001-01-01',
        String(ordered(ids).at(-1)),
        String(ordered(ids)[0]),
        String(written.joined.filter((r) => r['weight'] === 0).length),
      ]);
    }
  });
});
