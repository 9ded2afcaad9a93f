// `streamjoin verify --truth FILE`: compares both Iceberg tables with a producer's ground truth —
// every expected row exactly once, nothing else — and the quarantine with the expected rejects.

import type { RejectRecord } from '../../shared/firestore/rejects.ts';
import { loadTable, readRows } from '../../shared/iceberg/index.ts';
import type { ObjectStore } from '../../shared/storage/port.ts';
import type { GroundTruth, TruthRow } from './produce.ts';

export interface VerifyResult {
  readonly pass: boolean;
  readonly expectedRows: number;
  readonly actualRows: number;
  readonly missing: string[];
  readonly unexpected: string[];
  readonly duplicated: string[];
  readonly rejectProblems: string[];
  readonly byReason: Record<string, number>;
}

/** The identity of a row for comparison. Joined rows also compare both amounts. */
export function rowKey(
  r: Pick<TruthRow, 'order_id' | 'payment_id' | 'reason' | 'order_amount' | 'payment_amount'>,
): string {
  if (r.reason === 'joined')
    return `joined|${r.order_id}|${r.payment_id}|${r.order_amount}|${r.payment_amount}`;
  return `${r.reason}|${r.order_id}|${r.payment_id ?? ''}`;
}

/** Pure comparison of expected and actual rows (multisets) and rejects. */
export function compareWithTruth(
  truth: GroundTruth,
  actual: readonly TruthRow[],
  rejects: readonly Pick<RejectRecord, 'object'>[],
): VerifyResult {
  const count = (rows: readonly TruthRow[]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(rowKey(r), (m.get(rowKey(r)) ?? 0) + 1);
    return m;
  };
  const want = count(truth.rows);
  const got = count(actual);
  const missing: string[] = [];
  const unexpected: string[] = [];
  const duplicated: string[] = [];
  for (const [k, n] of want) {
    const g = got.get(k) ?? 0;
    if (g < n) missing.push(k);
    if (g > n) duplicated.push(`${k} ×${g}`);
  }
  for (const [k] of got) if (!want.has(k)) unexpected.push(k);
  const rejectProblems: string[] = [];
  const rejectCounts = new Map<string, number>();
  for (const r of rejects) rejectCounts.set(r.object, (rejectCounts.get(r.object) ?? 0) + 1);
  for (const [object, n] of Object.entries(truth.rejects)) {
    const g = rejectCounts.get(object) ?? 0;
    if (g !== n) rejectProblems.push(`${object}: expected ${n} rejected record(s), found ${g}`);
  }
  for (const [object] of rejectCounts) {
    if (truth.rejects[object] === undefined) {
      rejectProblems.push(`${object}: rejected, but the truth expects no reject`);
    }
  }
  const byReason: Record<string, number> = {};
  for (const r of actual) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return {
    pass:
      missing.length === 0 &&
      unexpected.length === 0 &&
      duplicated.length === 0 &&
      rejectProblems.length === 0,
    expectedRows: truth.rows.length,
    actualRows: actual.length,
    missing,
    unexpected,
    duplicated,
    rejectProblems,
    byReason,
  };
}

/** A table row as a truth row, with its processing time (joined_at or emitted_at) in epoch ms. */
export interface TableRow extends TruthRow {
  readonly atMs: number;
}

/** Reads both tables (current snapshots) as truth rows. */
export async function readTableRows(
  store: ObjectStore,
  locations: { joined: string; unmatched: string },
): Promise<TableRow[]> {
  const out: TableRow[] = [];
  for (const [kind, location] of Object.entries(locations)) {
    let table: Awaited<ReturnType<typeof loadTable>>;
    try {
      table = await loadTable(store, location);
    } catch {
      continue; // not created yet: no rows
    }
    for await (const r of readRows(table)) {
      out.push({
        order_id: String(r['order_id']),
        payment_id: r['payment_id'] === null ? null : String(r['payment_id']),
        reason: kind === 'joined' ? 'joined' : (String(r['reason']) as TruthRow['reason']),
        order_amount: r['order_amount'] === null ? null : Number(r['order_amount']),
        payment_amount: r['payment_amount'] === null ? null : Number(r['payment_amount']),
        atMs: Number(r[kind === 'joined' ? 'joined_at' : 'emitted_at']) / 1000,
      });
    }
  }
  return out;
}

export function formatVerify(r: VerifyResult, limit = 20): string {
  const lines = [
    `${r.pass ? 'PASS' : 'FAIL'}: ${r.actualRows} rows in the tables, ${r.expectedRows} expected`,
    `  by reason: ${Object.entries(r.byReason)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`  ${title} (${items.length}):`);
    for (const i of items.slice(0, limit)) lines.push(`    ${i}`);
    if (items.length > limit) lines.push(`    … and ${items.length - limit} more`);
  };
  section('missing rows', r.missing);
  section('duplicated rows', r.duplicated);
  section('unexpected rows', r.unexpected);
  section('reject mismatches', r.rejectProblems);
  return lines.join('\n');
}
