// verify for any join spec: the rows both tables must hold, computed from the producer's ground truth
// (the records each row comes from) and the spec's columns alone — never by the pipeline's own join or
// row code — and compared with the tables' rows on every column. The time columns (joined_at,
// emitted_at) depend on landing times: they are checked to be set, not compared.
import type { RejectRecord } from '../../shared/firestore/rejects.ts';
import { loadTable, readRows } from '../../shared/iceberg/index.ts';
import type { JoinSpec, OutputColumn, OutputKind } from '../../shared/spec/model.ts';
import { OUTPUT_KINDS, tableOf } from '../../shared/spec/model.ts';
import type { RecordValue } from '../../shared/spec/records.ts';
import { type TableValue, tableValueOf } from '../../shared/spec/values.ts';
import type { ObjectStore } from '../../shared/storage/port.ts';
import type { SentRecord, SpecGroundTruth, SpecTruthRow } from './produce-spec.ts';
import { rejectProblemsOf, type VerifyResult, verdictOf } from './verify.ts';

/** A row of one of the two tables, its columns by name. */
export interface SpecTableRow {
  readonly table: OutputKind;
  readonly values: Readonly<Record<string, TableValue>>;
}

/** The table value of a record's JSON value for a field of `type` (undefined = missing → null): the
 *  agreed representation, by shared/spec/values.ts (the writers' conversion of a single value; the rows
 *  themselves — which side, which column, which reason — are computed here from the truth alone). */
export function expectedTableValue(type: string, v: unknown): TableValue {
  return v === undefined ? null : tableValueOf(type, v as RecordValue);
}

/** The columns compared by value (not the landing-time columns). */
function isTimeColumn(c: OutputColumn): boolean {
  return c.source.kind === 'pipeline' && c.source.value !== 'reason';
}
const SET = '<set>';

/** One expected row, as its table and column values (time columns as `<set>`). */
export function expectedRow(spec: JoinSpec, row: SpecTruthRow): SpecTableRow {
  const kind: OutputKind = row.reason === 'joined' ? 'joined' : 'unmatched';
  const values: Record<string, TableValue> = {};
  const recordOf = (side: 'left' | 'right'): SentRecord | null => (side === 'left' ? row.left : row.right);
  for (const c of tableOf(spec, kind).columns) {
    const s = c.source;
    if (s.kind === 'key') {
      const key = row.left?.[spec.left.key] ?? row.right?.[spec.right.key];
      values[c.name] = expectedTableValue(c.type, key);
    } else if (s.kind === 'field') {
      const stream = s.side === 'left' ? spec.left : spec.right;
      const type = stream.fields.find((f) => f.name === s.field)?.type ?? c.type;
      values[c.name] = expectedTableValue(type, recordOf(s.side)?.[s.field]);
    } else if (s.value === 'reason') {
      values[c.name] = row.reason;
    } else {
      values[c.name] = SET;
    }
  }
  return { table: kind, values };
}

/** A row as one comparable string: its table, then its spec columns in order (time columns set or not). */
export function specRowKey(spec: JoinSpec, row: SpecTableRow): string {
  const parts = tableOf(spec, row.table).columns.map((c) => {
    const v = row.values[c.name];
    const shown = isTimeColumn(c) ? (v === null || v === undefined ? null : SET) : (v ?? null);
    return `${c.name}=${typeof shown === 'bigint' ? `${shown}n` : JSON.stringify(shown)}`;
  });
  return `${row.table} ${parts.join(' ')}`;
}

function reasonOf(spec: JoinSpec, row: SpecTableRow): string {
  if (row.table === 'joined') return 'joined';
  const c = spec.unmatched.columns.find((x) => x.source.kind === 'pipeline' && x.source.value === 'reason');
  return c === undefined ? 'unmatched' : String(row.values[c.name]);
}

/** Pure comparison of the expected rows (from the truth) with the tables' rows, and of the rejects. */
export function compareSpecWithTruth(
  spec: JoinSpec,
  truth: SpecGroundTruth,
  actual: readonly SpecTableRow[],
  rejects: readonly Pick<RejectRecord, 'object'>[],
): VerifyResult {
  const specProblems =
    truth.spec === spec.name
      ? []
      : [
          `the ground truth was produced for spec ${JSON.stringify(truth.spec)}, but verify runs with ${JSON.stringify(spec.name)}`,
        ];
  const byReason: Record<string, number> = {};
  for (const r of actual) {
    const reason = reasonOf(spec, r);
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }
  return verdictOf(
    truth.rows.map((r) => specRowKey(spec, expectedRow(spec, r))),
    actual.map((r) => specRowKey(spec, r)),
    [...specProblems, ...rejectProblemsOf(truth.rejects, rejects)],
    byReason,
    (key, found, expected) => (expected > 1 ? `${key} (${found} of ${expected})` : key),
  );
}

/** Reads both tables (current snapshots): every row with every column of the table's schema. */
export async function readSpecTableRows(
  store: ObjectStore,
  locations: { joined: string; unmatched: string },
): Promise<SpecTableRow[]> {
  const out: SpecTableRow[] = [];
  for (const kind of OUTPUT_KINDS) {
    let table: Awaited<ReturnType<typeof loadTable>>;
    try {
      table = await loadTable(store, locations[kind]);
    } catch {
      continue; // not created yet: no rows
    }
    for await (const r of readRows(table)) out.push({ table: kind, values: r as Record<string, TableValue> });
  }
  return out;
}

/** The name of the joined table's key column (unique there: one joined row per key). */
export function keyColumnOf(spec: JoinSpec, kind: OutputKind = 'joined'): string | undefined {
  return tableOf(spec, kind).columns.find((c) => c.source.kind === 'key')?.name;
}
