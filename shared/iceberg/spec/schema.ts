// From the project's table definitions (shared/tables.ts) to Iceberg schema, partition spec and sort
// order; the day transform; the partition tuple's type. Pure.
import type { TableDef } from '../../tables.ts';
import { describeType, parseTransform, transformResultType, walkFields } from './type-info.ts';
import type {
  NestedField,
  PartitionField,
  PartitionSpec,
  PrimitiveType,
  Schema,
  SortOrder,
} from './types.ts';

/** Spec: "partition field ids start at 1000" (v1 reference implementation, kept in v2 by convention). */
export const FIRST_PARTITION_FIELD_ID = 1000;

export function schemaFromTableDef(def: TableDef, schemaId = 0): Schema {
  const fields: NestedField[] = def.columns.map((c) => ({
    id: c.id,
    name: c.name,
    required: c.required,
    type: c.type,
    ...(c.doc === undefined ? {} : { doc: c.doc }),
  }));
  return { schemaId, fields };
}

export function partitionSpecFromTableDef(def: TableDef, schema: Schema, specId = 0): PartitionSpec {
  const fields = def.partition.map((p): PartitionField => {
    const source = schema.fields.find((f) => f.name === p.source);
    if (source === undefined) {
      throw new Error(
        `expected partition source column ${JSON.stringify(p.source)} in the schema, but the columns are: ${schema.fields.map((f) => f.name).join(', ')}`,
      );
    }
    if (transformResultType(p.transform, source.type) === undefined) {
      throw new Error(
        `expected a transform of ${describeType(source.type)} for partition field ${p.name}, but was: ${p.transform}`,
      );
    }
    return { sourceId: source.id, fieldId: p.fieldId, name: p.name, transform: p.transform };
  });
  return { specId, fields };
}

/** "Order id 0 is reserved for the unsorted order." */
export const UNSORTED_ORDER: SortOrder = { orderId: 0, fields: [] };

/** A field of the schema by id, nested fields included (a partition source may sit in a struct). */
export function findField(schema: Schema, id: number): NestedField | undefined {
  const top = schema.fields.find((f) => f.id === id);
  if (top !== undefined) return top;
  for (const f of walkFields(schema.fields)) if (f.id === id) return f;
  return undefined;
}

export interface PartitionFieldType {
  readonly field: PartitionField;
  readonly type: PrimitiveType;
}

/**
 * The partition tuple's struct type: each partition field with the type its transform yields. Throws
 * when a source column is missing or a transform is unknown or does not apply (such a spec can still be
 * read and kept; writing a new manifest for it needs the manifest's own partition schema).
 */
export function partitionType(spec: PartitionSpec, schema: Schema): PartitionFieldType[] {
  return spec.fields.map((field) => {
    const source = findField(schema, field.sourceId);
    if (source === undefined) {
      throw new Error(
        `expected partition source id ${field.sourceId} (of partition field ${field.name}) in schema ${schema.schemaId}, but it is missing`,
      );
    }
    const type = transformResultType(field.transform, source.type);
    if (type === undefined) {
      throw new Error(
        `expected a transform this writer can type for partition field ${field.name}, but ${field.transform} of ${describeType(source.type)} is ${parseTransform(field.transform).kind === 'unknown' ? 'unknown' : 'not defined for that type'}`,
      );
    }
    return { field, type };
  });
}

const MICROS_PER_DAY = 86_400_000_000n;

/** day(): days from 1970-01-01 of a timestamptz in epoch microseconds (floor, also for negatives). */
export function dayFromMicros(micros: bigint): number {
  const q = micros / MICROS_PER_DAY;
  const floored = micros % MICROS_PER_DAY !== 0n && micros < 0n ? q - 1n : q;
  return Number(floored);
}

/** Days from 1970-01-01 as an ISO date (for paths and display). */
export function isoDateFromDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}
