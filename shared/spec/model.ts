// The join spec as the pipeline uses it (after validation, see validate.ts): two JSON streams joined by
// a key, their timeouts, and the two output tables with their columns in order. Pure types and the few
// rules that follow from them (reasons from stream names, column types and nullability from sources).
// The file format (wire names, defaults) is in wire.ts; the shipped default is specs/orders-payments.json.

/** Field types a stream may declare; decimal(P, S) besides these. Iceberg primitive names (format v2). */
export const FIELD_TYPE_NAMES = [
  'string',
  'int',
  'long',
  'float',
  'double',
  'boolean',
  'date',
  'timestamp',
  'timestamptz',
] as const;

/** Types a join key may have (both streams' key fields have the same one). */
export const KEY_TYPES = ['string', 'int', 'long'] as const;

/** Types that can identify a duplicate (exact values: no float rounding, no null). */
export const IDENTITY_TYPES = ['string', 'int', 'long', 'date', 'timestamp', 'timestamptz'] as const;

/** Stream names that cannot be used: `pipeline.*` names the pipeline's own columns. */
export const RESERVED_STREAM_NAMES = ['pipeline'] as const;

/** The two sides of the join. The left side is one event per key (today: the order); the right side
 *  may bring several per key, told apart by its identity fields (today: payments by payment_id). */
export const SIDES = ['left', 'right'] as const;
export type Side = (typeof SIDES)[number];

export const OUTPUT_KINDS = ['joined', 'unmatched'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** Values the pipeline adds to a row, by the table they belong to. */
export const PIPELINE_VALUES = {
  joined: ['joined_at'],
  unmatched: ['reason', 'emitted_at'],
} as const satisfies Record<OutputKind, readonly string[]>;
export type PipelineValue = (typeof PIPELINE_VALUES)[OutputKind][number];

export interface StreamField {
  readonly name: string;
  /** An Iceberg primitive type name; decimals in the canonical form `decimal(P, S)`. */
  readonly type: string;
  /** May be null or missing in a record. Key and identity fields never are. */
  readonly nullable: boolean;
}

export interface StreamSpec {
  readonly side: Side;
  /** Singular, lower case (`order`): names the reasons (`order_timeout`) and the column sources. */
  readonly name: string;
  /** Object name prefix of the stream's files, ending in `/`. */
  readonly prefix: string;
  /** The join key field (required; the same type in both streams). */
  readonly key: string;
  /** Fields whose values identify an event among those of its key: an event with the same key and the
   *  same identity is a duplicate (the first one wins). Always `[key]` on the left. */
  readonly identity: readonly string[];
  /** How long an event of this stream waits for the other side (from its landing time). */
  readonly timeoutMs: number;
  readonly fields: readonly StreamField[];
}

/** Where a column's value comes from. The key column is filled from whichever side a row has. */
export type ColumnSource =
  | { readonly kind: 'key' }
  | { readonly kind: 'field'; readonly side: Side; readonly field: string }
  | { readonly kind: 'pipeline'; readonly value: PipelineValue };

export interface OutputColumn {
  readonly name: string;
  readonly source: ColumnSource;
  /** The source as the spec wrote it (`order.amount`), for messages. */
  readonly from: string;
  /** Iceberg type, from the source. */
  readonly type: string;
  /** REQUIRED in Iceberg and Parquet (see columnRequired). */
  readonly required: boolean;
  readonly doc?: string;
}

export interface PartitionFieldSpec {
  /** The column it is computed from (a column of the same table). */
  readonly column: string;
  /** identity, year, month, day, hour, bucket[N] or truncate[W]. */
  readonly transform: string;
  /** The partition field's name (default: Iceberg's, e.g. `joined_at_day`). */
  readonly name: string;
}

export interface OutputTableSpec {
  readonly kind: OutputKind;
  readonly name: string;
  readonly columns: readonly OutputColumn[];
  readonly partition: readonly PartitionFieldSpec[];
}

/** The reasons of unmatched rows (DESIGN §3), by what happened. */
export interface Reasons {
  /** A left event's window closed with no right event (`order_timeout`). */
  readonly leftTimeout: string;
  /** A right event's window closed with no left event (`payment_orphan`). */
  readonly rightOrphan: string;
  /** Another right event (new identity) for a key already paired (`payment_extra`). */
  readonly rightExtra: string;
  /** A right event after its left event's window closed (`payment_late`). */
  readonly rightLate: string;
  /** A left event after the right event's window closed (`order_late`). */
  readonly leftLate: string;
}
export const REASON_ROLES = ['leftTimeout', 'rightOrphan', 'rightExtra', 'rightLate', 'leftLate'] as const;
export type ReasonRole = (typeof REASON_ROLES)[number];

export interface JoinSpec {
  readonly version: 1;
  /** A short name for logs and table properties (`orders-payments`). */
  readonly name: string;
  readonly description?: string;
  readonly left: StreamSpec;
  readonly right: StreamSpec;
  /** The tick closes a waiting state's window this long after its deadline. */
  readonly allowedLatenessMs: number;
  /** Iceberg namespace of both tables. */
  readonly namespace: string;
  readonly joined: OutputTableSpec;
  readonly unmatched: OutputTableSpec;
  readonly reasons: Reasons;
}

/** The reasons that follow from the stream names (DESIGN §3 for order/payment). */
export function derivedReasons(left: string, right: string): Reasons {
  return {
    leftTimeout: `${left}_timeout`,
    rightOrphan: `${right}_orphan`,
    rightExtra: `${right}_extra`,
    rightLate: `${right}_late`,
    leftLate: `${left}_late`,
  };
}

/** The reasons in the order DESIGN §2 lists them (the reason column's doc). */
export function reasonList(r: Reasons): string[] {
  return REASON_ROLES.map((role) => r[role]);
}

/** A stream's events in prose: `payment events`; `event records` for a stream whose name already says it
 *  is an event (`event`, `click_event`), never "event events". */
export function streamEvents(name: string): string {
  return /(^|_)events?$/.test(name) ? `${name} records` : `${name} events`;
}

export function streamOf(spec: JoinSpec, side: Side): StreamSpec {
  return side === 'left' ? spec.left : spec.right;
}

export function tableOf(spec: JoinSpec, kind: OutputKind): OutputTableSpec {
  return kind === 'joined' ? spec.joined : spec.unmatched;
}

/** A source as one string that does not depend on stream names (`key`, `left.amount`, `pipeline.reason`):
 *  what identifies a column across two versions of a spec. */
export function sourceKey(source: ColumnSource): string {
  switch (source.kind) {
    case 'key':
      return 'key';
    case 'field':
      return `${source.side}.${source.field}`;
    case 'pipeline':
      return `pipeline.${source.value}`;
  }
}

/**
 * Whether a column is REQUIRED: the key and the pipeline's values always are; a stream field is in the
 * joined table when the stream requires it, never in the unmatched table (that side may be missing).
 */
export function columnRequired(
  kind: OutputKind,
  source: ColumnSource,
  field: StreamField | undefined,
): boolean {
  if (source.kind !== 'field') return true;
  return kind === 'joined' && field !== undefined && !field.nullable;
}

/** Default docs of the pipeline's columns (today's Iceberg docs, shared/tables.ts). */
export function pipelineDoc(value: PipelineValue, reasons: Reasons): string {
  switch (value) {
    case 'joined_at':
      return 'When the pair was joined';
    case 'emitted_at':
      return 'When the row was emitted';
    case 'reason':
      return reasonList(reasons).join(', ');
  }
}

/** Iceberg's default partition field name for a transform (Java PartitionSpec.Builder). */
export function defaultPartitionName(column: string, transform: string): string {
  if (transform === 'identity') return column;
  if (transform.startsWith('bucket[')) return `${column}_bucket`;
  if (transform.startsWith('truncate[')) return `${column}_trunc`;
  if (transform === 'void') return `${column}_null`;
  return `${column}_${transform}`;
}
