// Interop with tools nobody here wrote: test/interop/iceberg_check.py reads both tables' manifest lists
// and manifests with fastavro (field ids, header keys, counts, inheritance) and every data file with
// pyarrow and DuckDB. Needs python3 with pyarrow, fastavro and duckdb (pip); skipped, not passed, without.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  appendBatches,
  expireSnapshots,
  listDataFiles,
  loadOrCreateTable,
  readDataFileRows,
  rewriteFiles,
  type Table,
  tableLocation,
} from '../../shared/iceberg/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row, UNMATCHED_TABLE } from '../../shared/tables.ts';
import {
  collect,
  DAY0_MICROS,
  joinedRows,
  MICROS_PER_DAY,
  type TempWarehouse,
  tempWarehouse,
  writeDataFileOf,
} from '../unit/iceberg/support.ts';

const SCRIPT = fileURLToPath(new URL('../interop/iceberg_check.py', import.meta.url));
const store = new FileObjectStore();
let wh: TempWarehouse;
before(async () => {
  wh = await tempWarehouse();
});
after(async () => {
  await wh.cleanup();
});

function pythonReady(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import pyarrow, fastavro, duckdb'], { encoding: 'utf8' });
  if (r.error !== undefined) return `python3 not found: ${r.error.message}`;
  return r.status === 0
    ? undefined
    : `python3 lacks pyarrow/fastavro/duckdb: ${r.stderr.trim().split('\n').at(-1)}`;
}

function unmatchedRows(first: number, count: number, day: number): Row[] {
  const reasons = ['order_timeout', 'payment_orphan', 'payment_extra'];
  return Array.from({ length: count }, (_, i) => ({
    order_id: `u-${first + i}`,
    order_date: i % 2 === 0 ? '2024-05-01' : null,
    created_at: i % 2 === 0 ? '2024-05-01T09:00:00' : null,
    customer_id: i % 2 === 0 ? `c-${i}` : null,
    order_amount: i % 2 === 0 ? i : null,
    payment_id: i % 2 === 1 ? `p-${i}` : null,
    payment_date: i % 2 === 1 ? '2024-05-01' : null,
    payment_amount: i % 2 === 1 ? i * 3 : null,
    reason: reasons[i % 3]!,
    emitted_at: DAY0_MICROS + BigInt(day) * MICROS_PER_DAY + BigInt(i) * 7_000_000n,
  }));
}

async function buildJoined(): Promise<Table> {
  const loc = tableLocation(wh.uri, 'default', 'orders_payments');
  let table = await loadOrCreateTable(store, loc, JOINED_TABLE);
  for (let i = 0; i < 5; i++) {
    const batches = [
      {
        batchId: `j${i}-a`,
        files: [await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 100, 20 + i, i % 2))],
      },
      {
        batchId: `j${i}-b`,
        files: [await writeDataFileOf(store, loc, JOINED_TABLE, joinedRows(i * 100 + 50, 7, 2))],
      },
    ];
    table = (await appendBatches(table, batches, { merge: { minCountToMerge: 3, targetSizeBytes: 1 << 23 } }))
      .table;
  }
  // Compact day 2 (a replace snapshot with DELETED and EXISTING entries), then expire the oldest.
  const day2 = (await listDataFiles(table)).filter((e) => e.dataFile.partition['joined_at_day'] === 19846);
  const rows: Row[] = [];
  for (const e of day2) {
    rows.push(
      ...(await collect(
        readDataFileRows(store, e.dataFile.filePath, e.dataFile.fileSizeInBytes, table.metadata.schemas[0]!),
      )),
    );
  }
  const merged = await writeDataFileOf(store, loc, JOINED_TABLE, rows);
  table = (await rewriteFiles(table, { remove: day2.map((e) => e.dataFile), add: [merged] })).table;
  table = (await expireSnapshots(table, { olderThanMs: Date.now() + 1000, retainLast: 4 })).table;
  return table;
}

async function buildUnmatched(): Promise<Table> {
  const loc = tableLocation(wh.uri, 'default', 'orders_payments_unmatched');
  let table = await loadOrCreateTable(store, loc, UNMATCHED_TABLE);
  for (let i = 0; i < 3; i++) {
    const f = await writeDataFileOf(store, loc, UNMATCHED_TABLE, unmatchedRows(i * 10, 9, i));
    table = (await appendBatches(table, [{ batchId: `u${i}`, files: [f] }])).table;
  }
  return table;
}

function runCheck(dirs: string[]): {
  status: number | null;
  report: { ok: boolean; failures: string[]; tables: Record<string, unknown>[] };
} {
  const r = spawnSync('python3', [SCRIPT, ...dirs], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.error, undefined);
  return { status: r.status, report: JSON.parse(r.stdout) };
}

const missing = pythonReady();

describe('interop: fastavro, pyarrow and DuckDB read the tables', { skip: missing }, () => {
  let joined: Table;
  let unmatched: Table;

  it('both tables pass every check', async () => {
    joined = await buildJoined();
    unmatched = await buildUnmatched();
    const dirs = [joined.location, unmatched.location].map((u) => fileURLToPath(u));
    const { status, report } = runCheck(dirs);
    assert.deepEqual(report.failures, []);
    assert.equal(status, 0);
    assert.equal(report.ok, true);
    const [j, u] = report.tables;
    assert.equal(j?.['current_rows'], 5 * 27 + 10);
    assert.equal(j?.['snapshots'], 4);
    assert.equal(u?.['current_rows'], 27);
    assert.ok(Number(j?.['manifests']) >= 3);
  });

  it('the check fails when a live data file is missing (it can fail)', async () => {
    const [victim] = await listDataFiles(unmatched);
    await store.delete(victim!.dataFile.filePath);
    const { status, report } = runCheck([fileURLToPath(unmatched.location)]);
    assert.equal(status, 1);
    assert.ok(report.failures.some((f) => f.includes('is missing')));
  });
});
