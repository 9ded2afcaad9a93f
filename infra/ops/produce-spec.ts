// The producer for any join spec: events of the spec's two streams with values of every field type
// (nullable fields sometimes null or missing), the same fault kinds as the default workload (early,
// unmatched, orphan, late and extra events of the right side; duplicate files; malformed lines and
// invalid records of each kind the spec's types allow) and a ground truth that holds the records each
// output row must come from. Pure and seeded; files are packed as the default's are (produce.ts).

import { defaultJoinSpec } from '../../shared/spec/load.ts';
import type { JoinSpec, StreamField, StreamSpec } from '../../shared/spec/model.ts';
import type { RecordValue } from '../../shared/spec/records.ts';
import { firstDifference } from '../../shared/spec/support.ts';
import { decimalText } from '../../shared/spec/values.ts';
import {
  isoLocal,
  type PackEvent,
  type ProduceOptions,
  packFiles,
  prng,
  type WorkloadFile,
} from './produce.ts';

/** A record as it was sent (valid ones only in the truth): field name → JSON value; a missing field is absent. */
export type SentRecord = Readonly<Record<string, RecordValue>>;

/** One row the tables must hold, as the records it comes from. */
export interface SpecTruthRow {
  /** 'joined' (the joined table), or one of the spec's reasons (the unmatched table). */
  readonly reason: string;
  /** The left event of the row, or null when the row has no left side. */
  readonly left: SentRecord | null;
  /** The right event of the row, or null. */
  readonly right: SentRecord | null;
}

/** The ground truth of a workload for a spec other than the default (whose truth is GroundTruth). */
export interface SpecGroundTruth {
  /** The spec's name: verify checks it is run against the same spec. */
  readonly spec: string;
  readonly seed: number;
  readonly rows: SpecTruthRow[];
  /** Records that must be rejected, by object name: how many. */
  readonly rejects: Record<string, number>;
  /** Valid records that must be ignored as duplicates. */
  readonly duplicates: number;
  readonly events: number;
  readonly files: number;
}

export function isSpecTruth(t: unknown): t is SpecGroundTruth {
  return typeof t === 'object' && t !== null && typeof (t as { spec?: unknown }).spec === 'string';
}

/** What of a spec the default workload and its truth (GroundTruth, by order_id, payment_id and the
 *  amounts) build in: the streams and the columns. */
function shapeOf(spec: JoinSpec) {
  const stream = (s: StreamSpec) => ({ name: s.name, key: s.key, identity: s.identity, fields: s.fields });
  const columns = (t: JoinSpec['joined']) => t.columns.map((c) => ({ name: c.name, source: c.source }));
  return {
    left: stream(spec.left),
    right: stream(spec.right),
    joined: columns(spec.joined),
    unmatched: columns(spec.unmatched),
    reasons: spec.reasons,
  };
}

/** True when `spec` has the default spec's streams, fields, columns and reasons (its prefixes,
 *  timeouts and table names may differ): its workload and truth are the default's. */
export function hasDefaultShape(spec: JoinSpec): boolean {
  return firstDifference(shapeOf(spec), shapeOf(defaultJoinSpec())) === undefined;
}

/** The kinds of invalid record the producer makes, each rejected as one record. */
export const DEFECT_KINDS = [
  'malformed',
  'not-an-object',
  'missing-field',
  'null-field',
  'wrong-type',
  'out-of-range',
  'not-an-integer',
  'empty-string',
] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

const DAY_MS = 86_400_000;

function decimalOf(type: string): { precision: number; scale: number } | undefined {
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  return m === null ? undefined : { precision: Number(m[1]), scale: Number(m[2]) };
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A zone offset in minutes as `+hh:mm`. */
function offsetText(minutes: number): string {
  const m = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(m / 60), 2)}:${pad(m % 60, 2)}`;
}

const OFFSETS_MIN = [0, 0, 60, -300, 330, 545, -480, 840, -720];

/** Values of every type from a seeded generator. */
export class ValueGen {
  readonly rnd: () => number;
  constructor(rnd: () => number) {
    this.rnd = rnd;
  }
  pick(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  /** A value of `type` around the instant `t` (epoch ms): valid for the stream's validation. */
  value(field: StreamField, t: number): RecordValue {
    const r = this.rnd();
    switch (field.type) {
      case 'string': {
        const base = `${field.name}-${this.pick(1, 5000)}`;
        // Some text beyond ASCII: the UTF-8 bytes must come back as they went.
        return r < 0.1 ? `${base}-é✓` : r < 0.15 ? `${base} 東京` : base;
      }
      case 'int':
        return r < 0.03 ? 2147483647 : r < 0.06 ? -2147483648 : this.pick(-1000, 1_000_000);
      case 'long':
        return r < 0.03
          ? Number.MAX_SAFE_INTEGER
          : r < 0.06
            ? -Number.MAX_SAFE_INTEGER
            : this.pick(-(2 ** 40), 2 ** 45);
      case 'float':
        // Quarters below 2^22: exact in float32, so the table holds the very value sent.
        return this.pick(-400_000, 400_000) / 4;
      case 'double':
        return r < 0.1 ? this.pick(-1000, 1000) : this.pick(-1e9, 1e9) / 1000;
      case 'boolean':
        return r < 0.5;
      case 'date':
        return new Date(t - this.pick(0, 800) * DAY_MS).toISOString().slice(0, 10);
      case 'timestamp': {
        const at = t - this.pick(0, 3_600_000);
        return r < 0.3 ? `${isoLocal(at)}.${pad(this.pick(0, 999_999), 6)}` : isoLocal(at);
      }
      case 'timestamptz': {
        const at = t - this.pick(0, 3_600_000);
        const off = OFFSETS_MIN[this.pick(0, OFFSETS_MIN.length - 1)]!;
        const local = isoLocal(at + off * 60_000);
        const frac = r < 0.3 ? `.${pad(this.pick(0, 999_999), 6)}` : '';
        return `${local}${frac}${off === 0 && r < 0.6 ? 'Z' : offsetText(off)}`;
      }
    }
    const d = decimalOf(field.type);
    if (d === undefined)
      throw new Error(`expected a field type the producer knows, but ${field.name} is ${field.type}`);
    const digits = this.pick(1, Math.min(d.precision, 30));
    let unscaled = 0n;
    for (let i = 0; i < digits; i++) unscaled = unscaled * 10n + BigInt(this.pick(i === 0 ? 1 : 0, 9));
    if (r < 0.3) unscaled = -unscaled;
    if (r > 0.97) unscaled = 0n;
    const text = decimalText(unscaled, d.scale);
    // Sometimes a JSON number, when its shortest form is that very text (no exponent, no lost digits).
    const asNumber = Number(text);
    return this.rnd() < 0.3 && digits <= 15 && String(asNumber) === text ? asNumber : text;
  }
}

/** The key of pair `n` of run `seed` (unique within the run; numeric keys are positive). */
export function keyValue(type: string, stream: string, seed: number, n: number): RecordValue {
  switch (type) {
    case 'int':
      return (seed % 2000) * 1_000_000 + n;
    case 'long':
      return (seed % 100_000_000) * 10_000_000 + n;
    default:
      return `${stream}-${seed.toString(36)}-${n}`;
  }
}

/** A key no valid event has (a bad record's, so an accepted one would show up as unexpected). */
function badKey(key: RecordValue): RecordValue {
  return typeof key === 'number' ? -key : `bad-${String(key)}`;
}

/** The identity value of the k-th right event of pair n (distinct for each k within a key). */
function identityValue(field: StreamField, seed: number, n: number, k: number, t: number): RecordValue {
  switch (field.type) {
    case 'int':
    case 'long':
      return n * 10 + k;
    case 'date':
      return new Date(t + k * DAY_MS).toISOString().slice(0, 10);
    case 'timestamp':
      return isoLocal(t + k * 1000);
    case 'timestamptz':
      return `${isoLocal(t + k * 1000)}Z`;
    default:
      return `${field.name}-${seed.toString(36)}-${n}-${k}`;
  }
}

function recordOf(
  gen: ValueGen,
  stream: StreamSpec,
  key: RecordValue,
  t: number,
  identity: (f: StreamField) => RecordValue | undefined,
): Record<string, RecordValue> {
  const out: Record<string, RecordValue> = {};
  for (const f of stream.fields) {
    if (f.name === stream.key) {
      out[f.name] = key;
      continue;
    }
    const id = identity(f);
    if (id !== undefined) {
      out[f.name] = id;
      continue;
    }
    if (f.nullable) {
      const r = gen.rnd();
      if (r < 0.1) continue; // missing
      if (r < 0.2) {
        out[f.name] = null;
        continue;
      }
    }
    out[f.name] = gen.value(f, t);
  }
  return out;
}

/** The defects a record of `stream` can carry in `format` (each makes exactly one rejected record). */
export function defectsFor(stream: StreamSpec, format: ProduceOptions['format']): DefectKind[] {
  const types = new Set(stream.fields.map((f) => f.type));
  const has = (t: string) => types.has(t);
  const out: DefectKind[] = [];
  // A truncated array element would sink the whole array file: malformed only as a file or a line.
  if (format !== 'array') out.push('malformed');
  if (format === 'array') out.push('not-an-object');
  if (stream.fields.some((f) => !f.nullable)) out.push('missing-field', 'null-field');
  out.push('wrong-type');
  if ([...types].some((t) => t !== 'string' && t !== 'boolean' && t !== 'float' && t !== 'double'))
    out.push('out-of-range');
  if (has('int') || has('long')) out.push('not-an-integer');
  if (has('string')) out.push('empty-string');
  return out;
}

/** A value of the wrong JSON type for `type`. */
function wrongTypeValue(type: string): RecordValue {
  switch (type) {
    case 'string':
      return 42;
    case 'boolean':
      return 'yes';
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      return 20261125;
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return '12';
    default:
      return 'twelve'; // decimal: not a number
  }
}

/** A value of the right JSON type outside what `type` holds, or undefined when there is none. */
function outOfRangeValue(type: string): RecordValue | undefined {
  switch (type) {
    case 'int':
      return 2 ** 40;
    case 'long':
      return 2 ** 60;
    case 'date':
      return '2026-02-30';
    case 'timestamp':
      return '2026-11-25T24:30:00';
    case 'timestamptz':
      return '2026-13-01T00:00:00Z';
  }
  const d = decimalOf(type);
  return d === undefined ? undefined : `1.${'5'.repeat(d.scale + 1)}`;
}

/** Makes `record` (a copy) carry one defect; the text for a malformed or non-object one. */
function withDefect(
  gen: ValueGen,
  stream: StreamSpec,
  record: Record<string, RecordValue>,
  defect: DefectKind,
): { record: unknown; raw?: string } {
  const choose = (fields: readonly StreamField[]) => fields[gen.pick(0, fields.length - 1)]!;
  switch (defect) {
    case 'malformed':
      return { record, raw: JSON.stringify(record).slice(0, -7) };
    case 'not-an-object':
      return { record: [record[stream.key] ?? null] };
    case 'missing-field': {
      const f = choose(stream.fields.filter((x) => !x.nullable));
      const { [f.name]: _, ...rest } = record;
      return { record: rest };
    }
    case 'null-field':
      return { record: { ...record, [choose(stream.fields.filter((x) => !x.nullable)).name]: null } };
    case 'wrong-type': {
      const f = choose(stream.fields);
      return { record: { ...record, [f.name]: wrongTypeValue(f.type) } };
    }
    case 'out-of-range': {
      const f = choose(stream.fields.filter((x) => outOfRangeValue(x.type) !== undefined));
      return { record: { ...record, [f.name]: outOfRangeValue(f.type)! } };
    }
    case 'not-an-integer': {
      const f = choose(stream.fields.filter((x) => x.type === 'int' || x.type === 'long'));
      return { record: { ...record, [f.name]: 12.5 } };
    }
    case 'empty-string': {
      const f = choose(stream.fields.filter((x) => x.type === 'string'));
      return { record: { ...record, [f.name]: '' } };
    }
  }
}

/** The workload for any spec (the default spec's own is planWorkload's, unchanged). */
export function planSpecWorkload(
  spec: JoinSpec,
  o: ProduceOptions,
): { files: WorkloadFile[]; truth: SpecGroundTruth } {
  const rnd = prng(o.seed);
  const gen = new ValueGen(rnd);
  const { left, right } = spec;
  const rows: SpecTruthRow[] = [];
  const events: PackEvent[] = [];
  const keyType = left.fields.find((f) => f.name === left.key)?.type ?? 'string';
  // A second right event for a joined key needs an identity other than the key itself.
  const canExtra = right.identity.some((f) => f !== right.key);
  let t = o.startMs;
  for (let n = 1; n <= o.count; n++) {
    t += gen.pick(1, 50);
    const key = keyValue(keyType, left.name, o.seed, n);
    const keyText = String(key);
    const l = recordOf(gen, left, key, t, () => undefined);
    const r = (k: number) =>
      recordOf(gen, right, key, t + 1000, (f) =>
        right.identity.includes(f.name) ? identityValue(f, o.seed, n, k, t) : undefined,
      );
    const r1 = r(1);
    const draw = rnd();
    const f = o.faults;
    let edge = 0;
    const is = (p: number) => {
      const hit = draw >= edge && draw < edge + p;
      edge += p;
      return hit;
    };
    const ev = (side: 'left' | 'right', record: SentRecord, phase: 'main' | 'late', completes?: string) =>
      events.push({
        kind: side === 'left' ? left.name : right.name,
        record,
        phase,
        ...(completes === undefined ? {} : { completes }),
      });
    const R = spec.reasons;
    if (is(f.earlyPayment)) {
      ev('right', r1, 'main');
      ev('left', l, 'main', keyText);
      rows.push({ reason: 'joined', left: l, right: r1 });
    } else if (is(f.unpaidOrder)) {
      ev('left', l, 'main');
      rows.push({ reason: R.leftTimeout, left: l, right: null });
    } else if (is(f.orphanPayment)) {
      ev('right', r1, 'main');
      rows.push({ reason: R.rightOrphan, left: null, right: r1 });
    } else if (is(f.latePayment)) {
      ev('left', l, 'main');
      ev('right', r1, 'late', keyText);
      rows.push({ reason: R.leftTimeout, left: l, right: null });
      rows.push({ reason: R.rightLate, left: l, right: r1 });
    } else if (is(f.lateOrder ?? 0)) {
      ev('right', r1, 'main');
      ev('left', l, 'late', keyText);
      rows.push({ reason: R.rightOrphan, left: null, right: r1 });
      rows.push({ reason: R.leftLate, left: l, right: r1 });
    } else if (is(f.secondPayment) && canExtra) {
      const r2 = r(2);
      ev('left', l, 'main');
      ev('right', r1, 'main', keyText);
      // After the join (late phase), so delivery order cannot swap which right event joins.
      ev('right', r2, 'late');
      rows.push({ reason: 'joined', left: l, right: r1 });
      rows.push({ reason: R.rightExtra, left: l, right: r2 });
    } else {
      ev('left', l, 'main');
      ev('right', r1, 'main', keyText);
      rows.push({ reason: 'joined', left: l, right: r1 });
    }
    if (rnd() < f.malformed) {
      const side = rnd() < 0.5 ? 'left' : 'right';
      const stream = side === 'left' ? left : right;
      const base = { ...(side === 'left' ? l : r1), [stream.key]: badKey(key) };
      const kinds = defectsFor(stream, o.format);
      const defect = kinds[gen.pick(0, kinds.length - 1)]!;
      const bad = withDefect(gen, stream, base, defect);
      events.push({
        kind: stream.name,
        record: bad.record,
        phase: 'main',
        bad: true,
        ...(bad.raw === undefined ? {} : { raw: bad.raw }),
      });
    }
  }
  const packed = packFiles(o, rnd, events, { [left.name]: o.ordersPrefix, [right.name]: o.paymentsPrefix });
  return {
    files: packed.files,
    truth: {
      spec: spec.name,
      seed: o.seed,
      rows,
      rejects: packed.rejects,
      duplicates: packed.duplicates,
      events: events.length,
      files: packed.files.length,
    },
  };
}
