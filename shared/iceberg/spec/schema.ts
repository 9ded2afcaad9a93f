// From the project's table definitions (shared/tables.ts) to Iceberg schema, partition spec and sort
// order; the day transform; the partition tuple's type. Pure.
import type { TableDef } from '../../tables.ts';
import type {
  NestedField,
  PartitionField,
  PartitionSpec,
  PrimitiveType,
  Schema,
  SortOrder,
  Transform,
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
  const source = schema.fields.find((f) => f.name === def.partitionSource);
  if (source === undefined) {
    throw new Error(
      `expected partition source column ${JSON.stringify(def.partitionSource)} in the schema, but the columns are: ${schema.fields.map((f) => f.name).join(', ')}`,
    );
  }
  const field: PartitionField = {
    sourceId: source.id,
    fieldId: def.partitionFieldId,
    name: def.partitionName,
    transform: 'day',
  };
  return { specId, fields: [field] };
}

/** "Order id 0 is reserved for the unsorted order." */
export const UNSORTED_ORDER: SortOrder = { orderId: 0, fields: [] };

export function findField(schema: Schema, id: number): NestedField | undefined {
  return schema.fields.find((f) => f.id === id);
}

/** Result type of a transform applied to a source type (spec "Partition Transforms"). */
export function transformResultType(transform: Transform, source: PrimitiveType): PrimitiveType {
  switch (transform) {
    case 'identity':
      return source;
    case 'year':
    case 'month':
    case 'hour':
      return 'int';
    case 'day':
      // The spec says `int`; Java and pyiceberg type it as `date` (also an Avro int, days from epoch).
      return 'date';
    case 'void':
      return source;
  }
}

export interface PartitionFieldType {
  readonly field: PartitionField;
  readonly type: PrimitiveType;
}

/** The partition tuple's struct type: each partition field with the type its transform yields. */
export function partitionType(spec: PartitionSpec, schema: Schema): PartitionFieldType[] {
  return spec.fields.map((field) => {
    const source = findField(schema, field.sourceId);
    if (source === undefined) {
      throw new Error(
        `expected partition source id ${field.sourceId} in schema ${schema.schemaId}, but it is missing`,
      );
    }
    return { field, type: transformResultType(field.transform, source.type) };
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
