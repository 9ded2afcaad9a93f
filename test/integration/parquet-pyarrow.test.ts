// Interop: data files of both tables, streamed into the file:// ObjectStore, read back by pyarrow
// (test/interop/check_parquet.py): rows, types, REQUIRED-ness, field ids, ZSTD and statistics.
// Needs python3 with pyarrow (CI installs it); fails, never skips, when they are missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { storeDataFile } from '../../shared/parquet/index.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import {
  JOINED_TABLE,
  type Row,
  type TableDef,
  UNMATCHED_REASONS,
  UNMATCHED_TABLE,
} from '../../shared/tables.ts';

const CHECKER = fileURLToPath(new URL('../interop/check_parquet.py', import.meta.url));
const PYTHON = process.env['PYTHON'] ?? 'python3';
const DAY_START = 1_714_521_600_000_000n; // 2024-05-01T00:00:00Z

function joinedRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    order_id: `ORD${String(i).padStart(9, '0')}`,
    order_date: `2024-05-01T${String(i % 24).padStart(2, '0')}:00:00`,
    created_at: `2024-05-01T${String(i % 24).padStart(2, '0')}:00:00.${String(i % 1000).padStart(3, '0')}`,
    customer_id: i % 5 === 0 ? `Kunde-Müller-${i}-€-😀-with-a-long-tail` : `CUST${(i * 7919) % 100_000}`,
    order_amount: i % 7 === 0 ? -2_147_483_648 : (i * 31) % 100_000,
    payment_id: `PAY${String(i).padStart(9, '0')}`,
    payment_date: `2024-05-01T${String(i % 24).padStart(2, '0')}:01:00`,
    payment_amount: i % 11 === 0 ? 2_147_483_647 : (i * 31) % 100_000,
    joined_at: DAY_START + BigInt(i) * 30_000_001n,
  }));
}

function unmatchedRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => {
    const reason = UNMATCHED_REASONS[i % UNMATCHED_REASONS.length];
    const hasOrder = reason !== 'payment_orphan';
    // rows 0..299 have no payment at all, so one row group's payment columns are entirely null
    const hasPayment = reason !== 'order_timeout' && i >= 300;
    return {
      order_id: `ORD${i}`,
      order_date: hasOrder ? '2024-05-01T08:00:00' : null,
      created_at: hasOrder ? `2024-05-01T08:00:${String(i % 60).padStart(2, '0')}` : null,
      customer_id: hasOrder ? `CUST-ü-${i % 13}` : null,
      order_amount: hasOrder ? i : null,
      payment_id: hasPayment ? `PAY${i}` : null,
      payment_date: hasPayment ? '2024-05-01T08:20:00' : null,
      payment_amount: hasPayment ? i * 3 : null,
      reason,
      emitted_at: DAY_START + 86_399_999_999n - BigInt(i) * 7n,
    };
  });
}

/** JSON with bigints as exact JSON numbers (Python's json reads them as ints). */
function toJson(value: unknown): string {
  // JSON.rawJSON (Node ≥ 21) is not in TypeScript's ES2024 lib yet.
  const { rawJSON } = JSON as unknown as { rawJSON(text: string): unknown };
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? rawJSON(v.toString()) : v));
}

describe('Parquet data files read by pyarrow', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamjoin-parquet-interop-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('both tables: rows, types, nullability, field ids, ZSTD, statistics', async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import pyarrow; print(pyarrow.__version__)'], {
      encoding: 'utf8',
    });
    assert.equal(
      probe.status,
      0,
      `this test needs ${PYTHON} with pyarrow (pip install pyarrow): ${probe.error?.message ?? probe.stderr.trim()}`,
    );

    const store = new FileObjectStore();
    const cases: { name: string; table: TableDef; rows: Row[]; rowGroupRows: number }[] = [
      { name: 'joined', table: JOINED_TABLE, rows: joinedRows(2_500), rowGroupRows: 1_000 },
      { name: 'unmatched', table: UNMATCHED_TABLE, rows: unmatchedRows(1_200), rowGroupRows: 300 },
    ];
    const files = [];
    for (const c of cases) {
      const path = join(dir, `${c.name}.parquet`);
      const uri = `file://${path}`;
      const stats = await storeDataFile(store, uri, c.rows, c.table, {
        rowGroupRows: c.rowGroupRows,
        ifAbsent: true,
      });
      assert.equal(stats.uri, uri);
      assert.equal(stats.recordCount, c.rows.length);
      assert.equal((await store.stat(uri))?.size, stats.fileSizeInBytes);
      // create-only: a retried batch cannot write a second copy over the first
      await assert.rejects(storeDataFile(store, uri, c.rows, c.table, { ifAbsent: true }), {
        kind: 'already-exists',
      });
      files.push({
        path,
        columns: c.table.columns,
        rows: c.rows,
        rowGroupCount: stats.rowGroupCount,
        stats,
      });
    }
    const specPath = join(dir, 'spec.json');
    await writeFile(specPath, toJson({ files }));
    const run = spawnSync(PYTHON, [CHECKER, specPath], { encoding: 'utf8' });
    const report = (() => {
      try {
        return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { files: number; errors: string[] };
      } catch {
        return undefined;
      }
    })();
    assert.ok(report, `check_parquet.py printed no report (exit ${run.status}): ${run.stderr.trim()}`);
    assert.deepEqual(report.errors, []);
    assert.equal(report.files, 2);
    assert.equal(run.status, 0, run.stderr);
  });
});
