// The join spec as the data path uses it (issue 17): per side, how an event's key and identity are read
// from its validated record; per output table, where each column's value comes from and how it is
// written. Compiled once per spec object (a WeakMap), pure.
import { StreamjoinError } from '../errors.ts';
import {
  type ColumnSource,
  type JoinSpec,
  type OutputKind,
  type Reasons,
  type Side,
  type StreamSpec,
  streamOf,
  tableOf,
} from '../spec/model.ts';
import type { RecordValue, StreamRecord } from '../spec/records.ts';
import { type EncodedValue, encodeValue, type TableValue, tableValueOf } from '../spec/values.ts';

export interface SidePlan {
  readonly side: Side;
  readonly stream: StreamSpec;
  /** The join key of a record, as a string (a Firestore document key): the value itself for a string
   *  key, its decimal digits for an int or long key. */
  readonly keyOf: (record: StreamRecord) => string;
  /** What tells the record apart from others of its key: for a single field its value (a string as it
   *  is — so the default's payment_id digests and row ids are today's —, else as JSON); for several
   *  fields their values as a JSON array. */
  readonly identityOf: (record: StreamRecord) => string;
}

export interface ColumnPlan {
  readonly name: string;
  /** Iceberg type name. */
  readonly type: string;
  readonly source: ColumnSource;
}

export interface TablePlan {
  readonly kind: OutputKind;
  /** Every column, in table order. */
  readonly columns: readonly ColumnPlan[];
  /** Columns whose value is the row's time (pipeline.joined_at / pipeline.emitted_at): not in
   *  EmittedRow.values, derived from its atMs. */
  readonly timeColumns: readonly string[];
}

export interface JoinPlan {
  readonly spec: JoinSpec;
  readonly reasons: Reasons;
  readonly left: SidePlan;
  readonly right: SidePlan;
  readonly joined: TablePlan;
  readonly unmatched: TablePlan;
}

const plans = new WeakMap<JoinSpec, JoinPlan>();

/** The compiled plan of a spec (the same object for the same spec). */
export function planOf(spec: JoinSpec): JoinPlan {
  let plan = plans.get(spec);
  if (plan === undefined) {
    plan = compile(spec);
    plans.set(spec, plan);
  }
  return plan;
}

/** The join key as messages name it: the key field (`order_id`), or both sides' fields when the streams
 *  name it differently (`order_id/ref`). */
export function keyNameOf(spec: JoinSpec): string {
  return spec.left.key === spec.right.key ? spec.left.key : `${spec.left.key}/${spec.right.key}`;
}

export function sidePlan(plan: JoinPlan, side: Side): SidePlan {
  return side === 'left' ? plan.left : plan.right;
}

export function tablePlan(plan: JoinPlan, kind: OutputKind): TablePlan {
  return kind === 'joined' ? plan.joined : plan.unmatched;
}

function keyText(v: RecordValue | undefined, stream: StreamSpec): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  throw new StreamjoinError(
    'internal',
    `expected the key ${stream.key} of a validated ${stream.name} to be a string or an integer, but was: ${JSON.stringify(v)}`,
  );
}

function compileSide(spec: JoinSpec, side: Side): SidePlan {
  const stream = streamOf(spec, side);
  const key = stream.key;
  const identity = stream.identity;
  const single = identity.length === 1 ? identity[0]! : undefined;
  return {
    side,
    stream,
    keyOf: (record) => keyText(record[key], stream),
    identityOf: (record) => {
      if (single !== undefined) {
        const v = record[single];
        return typeof v === 'string' ? v : JSON.stringify(v ?? null);
      }
      return JSON.stringify(identity.map((f) => record[f] ?? null));
    },
  };
}

function compileTable(spec: JoinSpec, kind: OutputKind): TablePlan {
  const table = tableOf(spec, kind);
  const columns = table.columns.map((c) => ({ name: c.name, type: c.type, source: c.source }));
  const timeColumns = columns
    .filter(
      (c) =>
        c.source.kind === 'pipeline' && (c.source.value === 'joined_at' || c.source.value === 'emitted_at'),
    )
    .map((c) => c.name);
  return { kind, columns, timeColumns };
}

function compile(spec: JoinSpec): JoinPlan {
  return {
    spec,
    reasons: spec.reasons,
    left: compileSide(spec, 'left'),
    right: compileSide(spec, 'right'),
    joined: compileTable(spec, 'joined'),
    unmatched: compileTable(spec, 'unmatched'),
  };
}

/** A record value as its column holds it, JSON-safe (the outbox form): see values.ts. */
export function columnValue(type: string, value: RecordValue | undefined, column: string): EncodedValue {
  if (value === undefined || value === null) return null;
  const v: TableValue = tableValueOf(type, value, column);
  return encodeValue(type, v);
}
