// Rows the join emits, as plain JSON (they sit in a Firestore outbox before a Parquet writer takes them),
// with deterministic ids so any writer can deduplicate a row written twice.
import { createHash } from 'node:crypto';
import type { Order, Payment } from '../ingest/validate.ts';
import type { Row, TableKind, UnmatchedReason } from '../tables.ts';

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

export type OrderFacts = Order & { readonly source: EventSource };
export type PaymentFacts = Payment & { readonly source: EventSource };

/** The table's own columns (everything but the timestamp), keyed by column name as in shared/tables.ts. */
export type RowValues = Readonly<Record<string, string | number | null>>;

export interface EmittedRow {
  /** 32 hex chars, the same whenever the same state emits the same row (safe as a Firestore doc id). */
  readonly id: string;
  readonly table: TableKind;
  /** Null for joined rows. */
  readonly reason: UnmatchedReason | null;
  readonly orderId: string;
  readonly paymentId: string | null;
  /** `joined_at` (joined) or `emitted_at` (unmatched) in epoch MILLISECONDS — a JSON-safe number here;
   *  toTableRow() turns it into the epoch-microsecond bigint that shared/tables.ts `Row` specifies. */
  readonly atMs: number;
  /** Column name → value for every column except the timestamp (unmatched rows include `reason`). */
  readonly values: RowValues;
  /** The events this row is made of, for tracing a row back to its files. */
  readonly sources: readonly EventSource[];
}

/** What a row id is derived from; `epochMs` separates a state from one started afresh after retention. */
export function rowId(
  orderId: string,
  epochMs: number,
  kind: 'joined' | UnmatchedReason,
  paymentId: string | null,
): string {
  return createHash('sha256')
    .update(`${orderId}\u0000${epochMs}\u0000${kind}\u0000${paymentId ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}

export function joinedRow(
  order: OrderFacts,
  payment: PaymentFacts,
  epochMs: number,
  atMs: number,
): EmittedRow {
  return {
    id: rowId(order.orderId, epochMs, 'joined', payment.paymentId),
    table: 'joined',
    reason: null,
    orderId: order.orderId,
    paymentId: payment.paymentId,
    atMs,
    values: {
      order_id: order.orderId,
      order_date: order.orderDate,
      created_at: order.createdAt,
      customer_id: order.customerId,
      order_amount: order.amount,
      payment_id: payment.paymentId,
      payment_date: payment.paymentDate,
      payment_amount: payment.amount,
    },
    sources: [order.source, payment.source],
  };
}

export function unmatchedRow(
  orderId: string,
  reason: UnmatchedReason,
  order: OrderFacts | null,
  payment: PaymentFacts | null,
  epochMs: number,
  atMs: number,
): EmittedRow {
  const sources: EventSource[] = [];
  if (order !== null) sources.push(order.source);
  if (payment !== null) sources.push(payment.source);
  return {
    id: rowId(orderId, epochMs, reason, payment?.paymentId ?? null),
    table: 'unmatched',
    reason,
    orderId,
    paymentId: payment?.paymentId ?? null,
    atMs,
    values: {
      order_id: orderId,
      order_date: order?.orderDate ?? null,
      created_at: order?.createdAt ?? null,
      customer_id: order?.customerId ?? null,
      order_amount: order?.amount ?? null,
      payment_id: payment?.paymentId ?? null,
      payment_date: payment?.paymentDate ?? null,
      payment_amount: payment?.amount ?? null,
      reason,
    },
    sources,
  };
}

/** The row as the table holds it (shared/tables.ts `Row`): the timestamp column in epoch microseconds. */
export function toTableRow(row: EmittedRow): Row {
  const micros = BigInt(row.atMs) * 1000n;
  return row.table === 'joined'
    ? { ...row.values, joined_at: micros }
    : { ...row.values, emitted_at: micros };
}
