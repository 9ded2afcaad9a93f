// A parsed spec file (any JSON value) → a JoinSpec, or the list of problems: one issue per problem, each
// naming the field by its JSON path in the file, what was expected and what came. First the file's shape
// (wire.ts, zod's safeParse), then the rules between values. Pure and total: never throws.
import type { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { parseTransform, transformResultType } from '../iceberg/spec/type-info.ts';
import { describeValue } from '../ingest/issues.ts';
import {
  type ColumnSource,
  columnRequired,
  defaultPartitionName,
  derivedReasons,
  FIELD_TYPE_NAMES,
  IDENTITY_TYPES,
  type JoinSpec,
  KEY_TYPES,
  type OutputColumn,
  type OutputKind,
  type OutputTableSpec,
  type PartitionFieldSpec,
  PIPELINE_VALUES,
  type PipelineValue,
  pipelineDoc,
  REASON_ROLES,
  RESERVED_STREAM_NAMES,
  type Reasons,
  type Side,
  type StreamField,
  type StreamSpec,
  sourceKey,
} from './model.ts';
import {
  DEFAULT_ALLOWED_LATENESS,
  DEFAULT_TIMEOUT,
  WireSpec,
  type WireStream,
  type WireTable,
} from './wire.ts';

export type SpecPath = readonly (string | number)[];

export interface SpecIssue {
  /** Where in the file: `['streams', 'left', 'fields', 2, 'type']`. */
  readonly path: SpecPath;
  /** "expected …, but was …" (the path is not repeated here; formatSpecIssue puts it in front). */
  readonly message: string;
}

export type SpecResult =
  | { readonly ok: true; readonly spec: JoinSpec }
  | { readonly ok: false; readonly issues: readonly SpecIssue[] };

/** `streams.left.fields[2].type` ("(root)" for the file itself). */
export function formatSpecPath(path: SpecPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out === '' ? '(root)' : out;
}

export function formatSpecIssue(issue: SpecIssue): string {
  return `${formatSpecPath(issue.path)}: ${issue.message}`;
}

export function validateJoinSpec(value: unknown): SpecResult {
  const parsed = WireSpec.safeParse(value, { reportInput: true });
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.flatMap(fromZodIssue) };
  const issues: SpecIssue[] = [];
  const spec = buildSpec(parsed.data, issues);
  return issues.length > 0 || spec === undefined ? { ok: false, issues } : { ok: true, spec };
}

// ---- the file's shape ------------------------------------------------------------------------------

function fromZodIssue(issue: z.core.$ZodIssue): SpecIssue[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(path);
    return issue.keys.map((key) => ({
      path: [...path, key],
      message: `unknown key${allowed === undefined ? '' : ` (expected one of: ${allowed.join(', ')}${suggestion(key, allowed)})`}`,
    }));
  }
  const input = (issue as { input?: unknown }).input;
  const came = input === undefined ? 'it is missing' : `was ${describeValue(input)}`;
  return [{ path, message: `${issue.message}, but ${came}` }];
}

/** The keys the schema allows at a path (for "unknown key" messages). */
function allowedKeys(path: SpecPath): string[] | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: walking zod's public schema tree
  let schema: any = WireSpec;
  for (const p of path) {
    while (schema?.unwrap !== undefined && schema.shape === undefined) schema = schema.unwrap();
    if (typeof p === 'number') schema = schema?.element;
    else schema = schema?.shape?.[p];
  }
  while (schema?.unwrap !== undefined && schema.shape === undefined) schema = schema.unwrap();
  return schema?.shape === undefined ? undefined : Object.keys(schema.shape);
}

/** "; did you mean "timeout"?" for a key one or two edits away from an allowed one. */
function suggestion(key: string, allowed: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestDistance) {
      best = a;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : `; did you mean ${JSON.stringify(best)}?`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- the rules between values ----------------------------------------------------------------------

const TYPE_TEXT = `one of ${FIELD_TYPE_NAMES.join(', ')} or decimal(P,S)`;
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

/** A field type as written → its canonical Iceberg name, or the issue's message. */
export function parseFieldType(raw: string): { type: string } | { problem: string } {
  const t = raw.trim();
  if ((FIELD_TYPE_NAMES as readonly string[]).includes(t)) return { type: t };
  const d = DECIMAL.exec(t);
  if (d !== null) {
    const precision = Number(d[1]);
    const scale = Number(d[2]);
    if (precision < 1 || precision > 38) {
      return {
        problem: `expected a decimal precision between 1 and 38 (Iceberg's limit), but was ${describeValue(raw)}`,
      };
    }
    if (scale > precision) {
      return {
        problem: `expected a decimal scale between 0 and the precision (${precision}), but was ${describeValue(raw)}`,
      };
    }
    return { type: `decimal(${precision}, ${scale})` };
  }
  return { problem: `expected ${TYPE_TEXT}, but was ${describeValue(raw)}` };
}

function durationMs(raw: string | undefined, fallback: string, minMs: number): number | string {
  const text = raw ?? fallback;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    return `expected a duration such as "15m", "10s", "1h30m", but was ${describeValue(text)}`;
  }
  if (ms < minMs) {
    return `expected a duration of at least ${minMs / 1000}s, but was ${describeValue(text)}`;
  }
  return ms;
}

function buildStream(w: WireStream, side: Side, issues: SpecIssue[]): StreamSpec | undefined {
  const at = ['streams', side];
  const before = issues.length;
  const fields: StreamField[] = [];
  const seen = new Map<string, number>();
  w.fields.forEach((f, i) => {
    const first = seen.get(f.name);
    if (first !== undefined) {
      issues.push({
        path: [...at, 'fields', i, 'name'],
        message: `expected a name not used by another field, but ${JSON.stringify(f.name)} is also fields[${first}]`,
      });
      return;
    }
    seen.set(f.name, i);
    const t = parseFieldType(f.type);
    if ('problem' in t) issues.push({ path: [...at, 'fields', i, 'type'], message: t.problem });
    else fields.push({ name: f.name, type: t.type, nullable: f.nullable ?? false });
  });
  if (RESERVED_STREAM_NAMES.includes(w.name as (typeof RESERVED_STREAM_NAMES)[number])) {
    issues.push({
      path: [...at, 'name'],
      message: `expected a stream name other than ${RESERVED_STREAM_NAMES.map((n) => JSON.stringify(n)).join(', ')} (sources "pipeline.<value>" name the pipeline's own columns), but was ${JSON.stringify(w.name)}`,
    });
  }
  const fieldIndex = (name: string) => w.fields.findIndex((f) => f.name === name);
  const names = () => w.fields.map((f) => f.name).join(', ');
  const keyIndex = fieldIndex(w.key);
  if (keyIndex < 0) {
    issues.push({
      path: [...at, 'key'],
      message: `expected one of the stream's fields (${names()}), but was ${JSON.stringify(w.key)}`,
    });
  } else {
    const key = fields.find((f) => f.name === w.key);
    if (w.fields[keyIndex]!.nullable === true) {
      issues.push({
        path: [...at, 'fields', keyIndex, 'nullable'],
        message: `expected the key field ${JSON.stringify(w.key)} to be required (false or absent), but was true`,
      });
    }
    if (key !== undefined && !(KEY_TYPES as readonly string[]).includes(key.type)) {
      issues.push({
        path: [...at, 'fields', keyIndex, 'type'],
        message: `expected the key field ${JSON.stringify(w.key)} to be one of ${KEY_TYPES.join(', ')}, but was ${JSON.stringify(key.type)}`,
      });
    }
  }
  const identity = w.identity ?? [w.key];
  if (side === 'left' && (identity.length !== 1 || identity[0] !== w.key)) {
    issues.push({
      path: [...at, 'identity'],
      message: `expected the left stream's identity to be its key [${JSON.stringify(w.key)}] (one event per key; a stream with several events per key goes on the right), but was ${JSON.stringify(identity)}`,
    });
  } else if (side === 'right') {
    identity.forEach((name, i) => {
      const path = [...at, 'identity', i];
      const fi = fieldIndex(name);
      const field = fields.find((f) => f.name === name);
      if (identity.indexOf(name) !== i) {
        issues.push({
          path,
          message: `expected each identity field once, but ${JSON.stringify(name)} repeats`,
        });
      } else if (fi < 0) {
        issues.push({
          path,
          message: `expected one of the stream's fields (${names()}), but was ${JSON.stringify(name)}`,
        });
      } else if (w.fields[fi]!.nullable === true) {
        issues.push({
          path,
          message: `expected a required field (an identity cannot be null), but ${JSON.stringify(name)} is nullable`,
        });
      } else if (field !== undefined && !(IDENTITY_TYPES as readonly string[]).includes(field.type)) {
        issues.push({
          path,
          message: `expected a field of type ${IDENTITY_TYPES.join(', ')} (exact values), but ${JSON.stringify(name)} is ${field.type}`,
        });
      }
    });
  }
  const timeout = durationMs(w.timeout, DEFAULT_TIMEOUT, 1000);
  if (typeof timeout === 'string') issues.push({ path: [...at, 'timeout'], message: timeout });
  if (issues.length > before || typeof timeout === 'string') return undefined;
  const prefix = w.prefix.endsWith('/') ? w.prefix : `${w.prefix}/`;
  return { side, name: w.name, prefix, key: w.key, identity, timeoutMs: timeout, fields };
}

function buildReasons(w: WireSpec, left: StreamSpec, right: StreamSpec, issues: SpecIssue[]): Reasons {
  const derived = derivedReasons(left.name, right.name);
  const overrides = w.reasons ?? {};
  const reasons: Reasons = {
    leftTimeout: overrides.leftTimeout ?? derived.leftTimeout,
    rightOrphan: overrides.rightOrphan ?? derived.rightOrphan,
    rightExtra: overrides.rightExtra ?? derived.rightExtra,
    rightLate: overrides.rightLate ?? derived.rightLate,
    leftLate: overrides.leftLate ?? derived.leftLate,
  };
  const seen = new Map<string, string>();
  for (const role of REASON_ROLES) {
    const value = reasons[role];
    const other = seen.get(value);
    if (other !== undefined) {
      issues.push({
        path: w.reasons?.[role] !== undefined ? ['reasons', role] : ['reasons', other],
        message: `expected a reason different from the others, but ${JSON.stringify(value)} is both ${other} and ${role}`,
      });
    } else seen.set(value, role);
  }
  return reasons;
}

function parseSource(
  from: string,
  kind: OutputKind,
  left: StreamSpec,
  right: StreamSpec,
): { source: ColumnSource; field?: StreamField } | { problem: string } {
  const dot = from.indexOf('.');
  const head = dot < 0 ? from : from.slice(0, dot);
  const tail = dot < 0 ? '' : from.slice(dot + 1);
  const allowed = PIPELINE_VALUES[kind] as readonly string[];
  if (head === 'pipeline') {
    if (allowed.includes(tail)) return { source: { kind: 'pipeline', value: tail as PipelineValue } };
    const other = kind === 'joined' ? 'unmatched' : 'joined';
    const elsewhere = (PIPELINE_VALUES[other] as readonly string[]).includes(tail)
      ? ` (${tail} belongs to the ${other} table)`
      : '';
    return {
      problem: `expected ${allowed.map((v) => `"pipeline.${v}"`).join(' or ')} in the ${kind} table, but was ${describeValue(from)}${elsewhere}`,
    };
  }
  const stream = head === left.name ? left : head === right.name ? right : undefined;
  if (stream === undefined || tail === '') {
    return {
      problem: `expected a source "<stream>.<field>" with stream ${left.name} or ${right.name}, or "pipeline.<value>", but was ${describeValue(from)}`,
    };
  }
  const field = stream.fields.find((f) => f.name === tail);
  if (field === undefined) {
    return {
      problem: `expected a field of stream ${stream.name} (${stream.fields.map((f) => f.name).join(', ')}), but was ${describeValue(from)}`,
    };
  }
  if (field.name === stream.key) return { source: { kind: 'key' }, field };
  return { source: { kind: 'field', side: stream.side, field: field.name }, field };
}

function buildTable(
  w: WireTable,
  kind: OutputKind,
  left: StreamSpec,
  right: StreamSpec,
  reasons: Reasons,
  issues: SpecIssue[],
): OutputTableSpec | undefined {
  const at = ['output', kind];
  const before = issues.length;
  const columns: OutputColumn[] = [];
  const names = new Map<string, number>();
  const sources = new Map<string, number>();
  w.columns.forEach((c, i) => {
    const lower = c.name.toLowerCase();
    const first = names.get(lower);
    if (first !== undefined) {
      issues.push({
        path: [...at, 'columns', i, 'name'],
        message: `expected a column name not used before in the table (names are compared ignoring case, as Spark does), but ${JSON.stringify(c.name)} is also columns[${first}]`,
      });
      return;
    }
    names.set(lower, i);
    const parsed = parseSource(c.from, kind, left, right);
    if ('problem' in parsed) {
      issues.push({ path: [...at, 'columns', i, 'from'], message: parsed.problem });
      return;
    }
    const key = sourceKey(parsed.source);
    const dup = sources.get(key);
    if (dup !== undefined) {
      const what = parsed.source.kind === 'key' ? 'the join key' : JSON.stringify(c.from);
      issues.push({
        path: [...at, 'columns', i, 'from'],
        message: `expected each source once per table, but ${what} is already the source of column ${JSON.stringify(w.columns[dup]!.name)} (columns[${dup}])`,
      });
      return;
    }
    sources.set(key, i);
    const { source, field } = parsed;
    const type =
      source.kind === 'pipeline' ? (source.value === 'reason' ? 'string' : 'timestamptz') : field!.type;
    const doc = c.doc ?? (source.kind === 'pipeline' ? pipelineDoc(source.value, reasons) : undefined);
    columns.push({
      name: c.name,
      source,
      from: c.from,
      type,
      required: columnRequired(kind, source, field),
      ...(doc === undefined ? {} : { doc }),
    });
  });
  if (!sources.has('key') && issues.length === before) {
    issues.push({
      path: [...at, 'columns'],
      message: `expected a column from the join key (${left.name}.${left.key} or ${right.name}.${right.key}), but there is none`,
    });
  }
  if (kind === 'unmatched' && !sources.has('pipeline.reason') && issues.length === before) {
    issues.push({
      path: [...at, 'columns'],
      message: `expected a column from "pipeline.reason" (why the row is unmatched), but there is none`,
    });
  }
  const partition: PartitionFieldSpec[] = [];
  const seenNames = new Map<string, number>();
  (w.partition ?? []).forEach((p, i) => {
    const path = [...at, 'partition', i];
    const column = columns.find((c) => c.name === p.column);
    if (column === undefined) {
      if (!w.columns.some((c) => c.name === p.column)) {
        issues.push({
          path: [...path, 'column'],
          message: `expected a column of the ${kind} table (${w.columns.map((c) => c.name).join(', ')}), but was ${JSON.stringify(p.column)}`,
        });
      }
      return;
    }
    const t = parseTransform(p.transform.trim());
    if (t.kind === 'unknown' || t.kind === 'void') {
      issues.push({
        path: [...path, 'transform'],
        message: `expected identity, year, month, day, hour, bucket[N] or truncate[W], but was ${describeValue(p.transform)}`,
      });
      return;
    }
    const transform = p.transform.trim().replace(/\s+/g, '');
    if (transformResultType(transform, column.type) === undefined) {
      issues.push({
        path: [...path, 'transform'],
        message: `expected a transform that applies to column ${JSON.stringify(column.name)} (${column.type}), but ${transform} ${transformNeeds(t.kind)}`,
      });
      return;
    }
    const name = p.name ?? defaultPartitionName(column.name, transform);
    const clash = columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (clash !== undefined && !(transform === 'identity' && clash.name === column.name)) {
      issues.push({
        path: [...path, p.name === undefined ? 'column' : 'name'],
        message: `expected a partition field name that is not a column's (Iceberg refuses it unless it is that column's identity), but ${JSON.stringify(name)} is a column`,
      });
      return;
    }
    const first = seenNames.get(name);
    if (first !== undefined) {
      issues.push({
        path: [...path, p.name === undefined ? 'column' : 'name'],
        message: `expected each partition field once, but ${JSON.stringify(name)} is also partition[${first}]`,
      });
      return;
    }
    seenNames.set(name, i);
    partition.push({ column: column.name, transform, name });
  });
  if (issues.length > before) return undefined;
  return { kind, name: w.table, columns, partition };
}

function transformNeeds(kind: string): string {
  switch (kind) {
    case 'year':
    case 'month':
    case 'day':
      return 'needs a date, timestamp or timestamptz column';
    case 'hour':
      return 'needs a timestamp or timestamptz column';
    case 'bucket':
      return 'needs an int, long, decimal, date, time, timestamp, string, uuid, fixed or binary column';
    case 'truncate':
      return 'needs an int, long, decimal, string or binary column';
    default:
      return 'does not apply to it';
  }
}

function buildSpec(w: WireSpec, issues: SpecIssue[]): JoinSpec | undefined {
  const left = buildStream(w.streams.left, 'left', issues);
  const right = buildStream(w.streams.right, 'right', issues);
  const lateness = durationMs(w.allowedLateness, DEFAULT_ALLOWED_LATENESS, 0);
  if (typeof lateness === 'string') issues.push({ path: ['allowedLateness'], message: lateness });
  if (left === undefined || right === undefined) return undefined;
  if (left.name === right.name) {
    issues.push({
      path: ['streams', 'right', 'name'],
      message: `expected a name other than the left stream's (it names the reasons and the sources), but was ${JSON.stringify(right.name)} too`,
    });
  }
  if (left.prefix.startsWith(right.prefix) || right.prefix.startsWith(left.prefix)) {
    issues.push({
      path: ['streams', 'right', 'prefix'],
      message: `expected a prefix that does not overlap the left stream's ${JSON.stringify(left.prefix)} (an object must belong to one stream), but was ${JSON.stringify(right.prefix)}`,
    });
  }
  const leftKey = left.fields.find((f) => f.name === left.key)!;
  const rightKey = right.fields.find((f) => f.name === right.key)!;
  if (leftKey.type !== rightKey.type) {
    const i = w.streams.right.fields.findIndex((f) => f.name === right.key);
    issues.push({
      path: ['streams', 'right', 'fields', i, 'type'],
      message: `expected the key field ${JSON.stringify(right.key)} to have the left key's type ${leftKey.type}, but was ${rightKey.type}`,
    });
  }
  if (issues.length > 0) return undefined;
  const reasons = buildReasons(w, left, right, issues);
  if (w.output.joined.table === w.output.unmatched.table) {
    issues.push({
      path: ['output', 'unmatched', 'table'],
      message: `expected a table name other than the joined table's, but was ${JSON.stringify(w.output.unmatched.table)} too`,
    });
  }
  const joined = buildTable(w.output.joined, 'joined', left, right, reasons, issues);
  const unmatched = buildTable(w.output.unmatched, 'unmatched', left, right, reasons, issues);
  if (issues.length > 0 || joined === undefined || unmatched === undefined || typeof lateness === 'string') {
    return undefined;
  }
  return {
    version: 1,
    name: w.name,
    ...(w.description === undefined ? {} : { description: w.description }),
    left,
    right,
    allowedLatenessMs: lateness,
    namespace: w.output.namespace,
    joined,
    unmatched,
    reasons,
  };
}
