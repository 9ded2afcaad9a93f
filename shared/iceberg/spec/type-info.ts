// The structure behind type and transform names: `decimal(10, 2)` → {decimal, 10, 2}, `bucket[16]` →
// {bucket, 16}; which transforms apply to which source types and what they yield (spec "Partition
// Transforms"); type equality and display. Pure.
import {
  type IcebergType,
  type ListType,
  type MapType,
  type NestedField,
  PRIMITIVE_NAMES,
  type PrimitiveName,
  type PrimitiveType,
  type StructType,
  type Transform,
} from './types.ts';

export type Primitive =
  | { readonly kind: PrimitiveName }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'fixed'; readonly length: number };

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED = /^fixed\[\s*(\d+)\s*\]$/;
const parsed = new Map<string, Primitive | undefined>();

/** The structure of a v2 primitive type name, or undefined when the name is not one. */
export function parsePrimitive(name: PrimitiveType): Primitive | undefined {
  if (parsed.has(name)) return parsed.get(name);
  let out: Primitive | undefined;
  if ((PRIMITIVE_NAMES as readonly string[]).includes(name)) out = { kind: name as PrimitiveName };
  else {
    const d = DECIMAL.exec(name);
    const f = FIXED.exec(name);
    if (d !== null) {
      const precision = Number(d[1]);
      const scale = Number(d[2]);
      // Spec: "Precision must be 38 or less"; scale is at most the precision.
      if (precision >= 1 && precision <= 38 && scale <= precision)
        out = { kind: 'decimal', precision, scale };
    } else if (f !== null && Number(f[1]) > 0) out = { kind: 'fixed', length: Number(f[1]) };
  }
  parsed.set(name, out);
  return out;
}

/** The primitive behind a type, or undefined for struct/list/map and unknown names. */
export function primitiveOf(type: IcebergType): Primitive | undefined {
  return typeof type === 'string' ? parsePrimitive(type) : undefined;
}

export function isNested(type: IcebergType): type is StructType | ListType | MapType {
  return typeof type !== 'string';
}

/** Canonical text of a type (Java's toString form) for messages and comparisons. */
export function describeType(type: IcebergType): string {
  if (typeof type === 'string') {
    const p = parsePrimitive(type);
    if (p?.kind === 'decimal') return `decimal(${p.precision}, ${p.scale})`;
    if (p?.kind === 'fixed') return `fixed[${p.length}]`;
    return type;
  }
  switch (type.type) {
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.id}: ${f.name}: ${f.required ? 'required' : 'optional'} ${describeType(f.type)}`).join(', ')}>`;
    case 'list':
      return `list<${describeType(type.element)}>`;
    case 'map':
      return `map<${describeType(type.key)}, ${describeType(type.value)}>`;
  }
}

/** Same type, field ids and nullability included (names of nested fields too). */
export function sameType(a: IcebergType, b: IcebergType): boolean {
  return describeType(a) === describeType(b) && sameIds(a, b);
}

function sameIds(a: IcebergType, b: IcebergType): boolean {
  if (typeof a === 'string' || typeof b === 'string') return typeof a === typeof b;
  if (a.type === 'list' && b.type === 'list')
    return (
      a.elementId === b.elementId && a.elementRequired === b.elementRequired && sameIds(a.element, b.element)
    );
  if (a.type === 'map' && b.type === 'map')
    return (
      a.keyId === b.keyId &&
      a.valueId === b.valueId &&
      a.valueRequired === b.valueRequired &&
      sameIds(a.key, b.key) &&
      sameIds(a.value, b.value)
    );
  if (a.type === 'struct' && b.type === 'struct')
    return a.fields.length === b.fields.length && a.fields.every((f, i) => sameField(f, b.fields[i]!));
  return false;
}

function sameField(a: NestedField, b: NestedField): boolean {
  return a.id === b.id && a.name === b.name && a.required === b.required && sameType(a.type, b.type);
}

/** Every field of a type tree (the field itself, then nested fields, depth first). */
export function* walkFields(fields: readonly NestedField[]): Generator<NestedField> {
  for (const f of fields) {
    yield f;
    yield* walkTypeFields(f.type);
  }
}

function* walkTypeFields(type: IcebergType): Generator<NestedField> {
  if (typeof type === 'string') return;
  if (type.type === 'struct') yield* walkFields(type.fields);
  else if (type.type === 'list') {
    yield { id: type.elementId, name: 'element', required: type.elementRequired, type: type.element };
    yield* walkTypeFields(type.element);
  } else {
    yield { id: type.keyId, name: 'key', required: true, type: type.key };
    yield* walkTypeFields(type.key);
    yield { id: type.valueId, name: 'value', required: type.valueRequired, type: type.value };
    yield* walkTypeFields(type.value);
  }
}

// ---- Transforms ----------------------------------------------------------------------------------

export type ParsedTransform =
  | { readonly kind: 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void' }
  | { readonly kind: 'bucket'; readonly n: number }
  | { readonly kind: 'truncate'; readonly width: number }
  /** A name this model does not know: kept, never computed. */
  | { readonly kind: 'unknown'; readonly name: string };

const PARAM = /^(bucket|truncate)\[\s*(\d+)\s*\]$/;

export function parseTransform(t: Transform): ParsedTransform {
  switch (t) {
    case 'identity':
    case 'year':
    case 'month':
    case 'day':
    case 'hour':
    case 'void':
      return { kind: t };
  }
  const m = PARAM.exec(t);
  if (m !== null && Number(m[2]) > 0) {
    return m[1] === 'bucket'
      ? { kind: 'bucket', n: Number(m[2]) }
      : { kind: 'truncate', width: Number(m[2]) };
  }
  return { kind: 'unknown', name: t };
}

const TIME_SOURCES: Readonly<Record<string, readonly string[]>> = {
  year: ['date', 'timestamp', 'timestamptz'],
  month: ['date', 'timestamp', 'timestamptz'],
  day: ['date', 'timestamp', 'timestamptz'],
  hour: ['timestamp', 'timestamptz'],
};
const BUCKET_SOURCES = [
  'int',
  'long',
  'decimal',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'string',
  'uuid',
  'fixed',
  'binary',
];
const TRUNCATE_SOURCES = ['int', 'long', 'decimal', 'string', 'binary'];

/**
 * The type a transform yields for a source type (spec "Partition Transforms"), or undefined when the
 * transform is unknown or does not apply to that source. `day` yields `date` (Java and pyiceberg type
 * it so; the spec's int and date share the Avro encoding, days from 1970-01-01).
 */
export function transformResultType(transform: Transform, source: IcebergType): PrimitiveType | undefined {
  const p = primitiveOf(source);
  if (p === undefined || typeof source !== 'string') return undefined;
  const t = parseTransform(transform);
  switch (t.kind) {
    case 'identity':
    case 'void':
      return source;
    case 'bucket':
      return BUCKET_SOURCES.includes(p.kind) ? 'int' : undefined;
    case 'truncate':
      return TRUNCATE_SOURCES.includes(p.kind) ? source : undefined;
    case 'year':
    case 'month':
    case 'hour':
      return TIME_SOURCES[t.kind]!.includes(p.kind) ? 'int' : undefined;
    case 'day':
      return TIME_SOURCES['day']!.includes(p.kind) ? 'date' : undefined;
    case 'unknown':
      return undefined;
  }
}
