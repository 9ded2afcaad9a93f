// Rows the join emits, from the join spec's output columns (key / field / pipeline sources, in table
// order), as JSON-safe values (they sit in a Firestore outbox before a Parquet writer takes them; shared/spec/values.ts), with
// deterministic ids so any writer can deduplicate a row written twice. For the shipped default spec the
// rows and ids are those of the pipeline before issue 17 (test/unit/join/golden.test.ts).
import { createHash } from 'node:crypto';
import type { StreamRecord } from '../spec/records.ts';
import { decodeValue, type EncodedValue } from '../spec/values.ts';
import type { Row, TableKind } from '../tables.ts';
import { columnValue, type JoinPlan, type TablePlan, tablePlan } from './plan.ts';

/** Where an event came from: the object generation and the record's ordinal in it (parseEventFile). */
export interface EventSource {
  readonly bucket: string;
  readonly object: string;
  /** GCS generation, as a decimal string (int64 arrives as a string in the finalize event). */
  readonly generation: string;
  readonly ordinal: number;
  /** When the object landed in the bucket (its `timeCreated`), epoch ms: the event's time (DESIGN §3). */
  readonly landedAtMs: number;
}

/** One side's event as the join holds it: its validated record (by field name), its identity among the
 *  events of its key (JoinPlan sides: the default's payment_id), and where it came from. */
export interface Facts {
  readonly record: StreamRecord;
  readonly identity: string;
  readonly source: EventSource;
}

/** The table's columns except the row's time, keyed by column name, JSON-safe (values.ts). */
export type RowValues = Readonly<Record<string, EncodedValue>>;

export interface EmittedRow {
  /** 32 hex chars, the same whenever the same state emits the same row (safe as a Firestore doc id). */
  readonly id: string;
  readonly table: TableKind;
  /** Null for joined rows; else one of the spec's reasons. */
  readonly reason: string | null;
  /** The join key (as a string). */
  readonly key: string;
  /** The right side's identity, or null when the row has no right event. */
  readonly identity: string | null;
  /** The row's time (joined_at / emitted_at) in epoch MILLISECONDS — a JSON-safe number here; the
   *  table holds epoch microseconds (toTableRow, toOutboxValues). */
  readonly atMs: number;
  /** Column name → value for every column except the row's time columns (unmatched rows include the reason). */
  readonly values: RowValues;
  /** The events this row is made of, for tracing a row back to its files. */
  readonly sources: readonly EventSource[];
}

/** What a row id is derived from; `epochMs` separates a state from one started afresh after retention. */
export function rowId(key: string, epochMs: number, kind: string, identity: string | null): string {
  return createHash('sha256')
    .update(`${key}\u0000${epochMs}\u0000${kind}\u0000${identity ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}

function valuesOf(
  table: TablePlan,
  plan: JoinPlan,
  key: string,
  left: Facts | null,
  right: Facts | null,
  reason: string | null,
): RowValues {
  const out: Record<string, EncodedValue> = {};
  for (const c of table.columns) {
    const s = c.source;
    if (s.kind === 'key') {
      const v = left?.record[plan.left.stream.key] ?? right?.record[plan.right.stream.key];
      out[c.name] = v === undefined ? key : columnValue(c.type, v, c.name);
    } else if (s.kind === 'field') {
      const f = s.side === 'left' ? left : right;
      out[c.name] = f === null ? null : columnValue(c.type, f.record[s.field], c.name);
    } else if (s.value === 'reason') out[c.name] = reason;
  }
  return out;
}

function sourcesOf(left: Facts | null, right: Facts | null): EventSource[] {
  const sources: EventSource[] = [];
  if (left !== null) sources.push(left.source);
  if (right !== null) sources.push(right.source);
  return sources;
}

export function joinedRow(
  plan: JoinPlan,
  key: string,
  left: Facts,
  right: Facts,
  epochMs: number,
  atMs: number,
): EmittedRow {
  return {
    id: rowId(key, epochMs, 'joined', right.identity),
    table: 'joined',
    reason: null,
    key,
    identity: right.identity,
    atMs,
    values: valuesOf(plan.joined, plan, key, left, right, null),
    sources: sourcesOf(left, right),
  };
}

export function unmatchedRow(
  plan: JoinPlan,
  key: string,
  reason: string,
  left: Facts | null,
  right: Facts | null,
  epochMs: number,
  atMs: number,
): EmittedRow {
  return {
    id: rowId(key, epochMs, reason, right?.identity ?? null),
    table: 'unmatched',
    reason,
    key,
    identity: right?.identity ?? null,
    atMs,
    values: valuesOf(plan.unmatched, plan, key, left, right, reason),
    sources: sourcesOf(left, right),
  };
}

/** The row's time columns as the table holds them: epoch microseconds. */
function microsOf(row: EmittedRow): bigint {
  return BigInt(row.atMs) * 1000n;
}

/** The row as the outbox holds it (every column, JSON-safe: the time as decimal microseconds). */
export function toOutboxValues(plan: JoinPlan, row: EmittedRow): RowValues {
  const table = tablePlan(plan, row.table);
  if (table.timeColumns.length === 0) return row.values;
  const at = microsOf(row).toString();
  const out: Record<string, EncodedValue> = { ...row.values };
  for (const c of table.timeColumns) out[c] = at;
  return out;
}

/** The row as the table holds it (shared/tables.ts `Row`): every column by its type (values.ts). */
export function toTableRow(plan: JoinPlan, row: EmittedRow): Row {
  const table = tablePlan(plan, row.table);
  const out: Record<string, string | number | bigint | null> = {};
  for (const c of table.columns) {
    if (table.timeColumns.includes(c.name)) out[c.name] = microsOf(row);
    else out[c.name] = decodeValue(c.type, row.values[c.name] ?? null) as string | number | bigint | null;
  }
  return out;
}
