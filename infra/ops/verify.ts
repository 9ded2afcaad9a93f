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
  const byReason: Record<string, number> = {};
  for (const r of actual) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return verdictOf(
    truth.rows.map(rowKey),
    actual.map(rowKey),
    rejectProblemsOf(truth.rejects, rejects),
    byReason,
  );
}

/**
 * The verdict verify and verify-spec return: the expected and the actual rows' keys compared as
 * multisets (every expected row exactly once, nothing else), beside the reject problems found.
 * `missingText` names a key found fewer times than expected (default: the key alone).
 */
export function verdictOf(
  want: readonly string[],
  got: readonly string[],
  rejectProblems: string[],
  byReason: Record<string, number>,
  missingText: (key: string, found: number, expected: number) => string = (key) => key,
): VerifyResult {
  const count = (keys: readonly string[]) => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  const wanted = count(want);
  const found = count(got);
  const missing: string[] = [];
  const unexpected: string[] = [];
  const duplicated: string[] = [];
  for (const [k, n] of wanted) {
    const g = found.get(k) ?? 0;
    if (g < n) missing.push(missingText(k, g, n));
    if (g > n) duplicated.push(`${k} ×${g}`);
  }
  for (const [k] of found) if (!wanted.has(k)) unexpected.push(k);
  return {
    pass:
      missing.length === 0 &&
      unexpected.length === 0 &&
      duplicated.length === 0 &&
      rejectProblems.length === 0,
    expectedRows: want.length,
    actualRows: got.length,
    missing,
    unexpected,
    duplicated,
    rejectProblems,
    byReason,
  };
}

/** A table row as a truth row, with its time column (joined_at or emitted_at) in epoch ms. */
export interface TableRow extends TruthRow {
  readonly atMs: number;
}

/** Rows whose subject is the order; payment_late and payment_extra carry the order only as context. */
const ORDER_SUBJECT = new Set(['joined', 'order_timeout', 'order_late']);

/**
 * Every valid event ends in exactly one row, whatever its reason (for events recovered late, whose rows
 * may legitimately differ from the no-delay truth): per order_id, the order in one order row, each payment
 * in one row with its own amount, the order's amount wherever it appears, and no order_id the workload
 * never produced. Returns one problem per order_id that breaks it.
 */
export function eachEventOnce(truth: GroundTruth, actual: readonly TruthRow[]): string[] {
  const byOrder = <T extends TruthRow>(rows: readonly T[]) => {
    const m = new Map<string, T[]>();
    for (const r of rows) m.set(r.order_id, [...(m.get(r.order_id) ?? []), r]);
    return m;
  };
  const want = byOrder(truth.rows);
  const got = byOrder(actual);
  const problems: string[] = [];
  for (const id of new Set([...want.keys(), ...got.keys()])) {
    const w = want.get(id) ?? [];
    const g = got.get(id) ?? [];
    const p: string[] = [];
    if (w.length === 0) p.push('rows for an order the workload never produced');
    const hasOrder = w.some((r) => ORDER_SUBJECT.has(r.reason));
    const orderRows = g.filter((r) => ORDER_SUBJECT.has(r.reason)).length;
    if (orderRows !== (hasOrder ? 1 : 0)) p.push(`the order is in ${orderRows} order rows`);
    const wantPayments = new Map(
      w.flatMap((r) => (r.payment_id === null ? [] : [[r.payment_id, r.payment_amount]])),
    );
    // An order_late row carries the orphaned payment as context: that payment's own row is payment_orphan.
    const gotPayments = g.flatMap((r) =>
      r.payment_id === null || r.reason === 'order_late' ? [] : [r.payment_id],
    );
    if (gotPayments.length !== wantPayments.size || new Set(gotPayments).size !== gotPayments.length)
      p.push(`payments ${JSON.stringify(gotPayments)}, expected ${JSON.stringify([...wantPayments.keys()])}`);
    const orderAmount = w.find((r) => r.order_amount !== null)?.order_amount ?? null;
    for (const r of g) {
      if (r.payment_id !== null && wantPayments.get(r.payment_id) !== r.payment_amount)
        p.push(`${r.reason} row has payment ${r.payment_id} = ${r.payment_amount}`);
      if (r.order_amount !== null && r.order_amount !== orderAmount)
        p.push(`${r.reason} row has order amount ${r.order_amount}, expected ${orderAmount}`);
    }
    if (p.length > 0) problems.push(`${id}: ${p.join('; ')}`);
  }
  return problems;
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

/** Every row of both tables with every column (timestamps in epoch µs as strings), each as canonical JSON,
 *  sorted: two runs gave the same tables iff these are equal. */
export async function readAllColumns(
  store: ObjectStore,
  locations: { joined: string; unmatched: string },
): Promise<{ joined: string[]; unmatched: string[] }> {
  const out = { joined: [] as string[], unmatched: [] as string[] };
  for (const kind of ['joined', 'unmatched'] as const) {
    let table: Awaited<ReturnType<typeof loadTable>>;
    try {
      table = await loadTable(store, locations[kind]);
    } catch {
      continue; // not created: no rows
    }
    for await (const r of readRows(table)) {
      const entries = Object.entries(r)
        .map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out[kind].push(JSON.stringify(entries));
    }
    out[kind].sort();
  }
  return out;
}

/** How the quarantine differs from the truth: per object, the number of rejected records expected
 *  (`expected`, by object name) against those found; objects rejected that the truth does not name. */
export function rejectProblemsOf(
  expected: Readonly<Record<string, number>>,
  rejects: readonly Pick<RejectRecord, 'object'>[],
): string[] {
  const problems: string[] = [];
  const found = new Map<string, number>();
  for (const r of rejects) found.set(r.object, (found.get(r.object) ?? 0) + 1);
  for (const [object, n] of Object.entries(expected)) {
    const g = found.get(object) ?? 0;
    if (g !== n) problems.push(`${object}: expected ${n} rejected record(s), found ${g}`);
  }
  for (const [object] of found)
    if (expected[object] === undefined) problems.push(`${object}: rejected, but the truth expects no reject`);
  return problems;
}
