// From a join spec's output tables to Iceberg: the schema and partition spec of a NEW table (field ids
// assigned in column order from 1, as Iceberg assigns fresh ids; partition field ids from 1000), and the
// table definition in the shape of shared/tables.ts. Existing tables keep their own ids: evolution.ts
// maps a spec onto a table's current schema. Pure.
import { FIRST_PARTITION_FIELD_ID } from '../iceberg/spec/schema.ts';
import type { NestedField, PartitionSpec, Schema } from '../iceberg/spec/types.ts';
import type { Column, TableDef } from '../tables.ts';
import type { JoinSpec, OutputColumn, OutputKind, OutputTableSpec } from './model.ts';
import { tableOf } from './model.ts';

/** A column with the field id it has (or gets) in its table. */
export interface SpecColumnDef {
  readonly id: number;
  readonly name: string;
  /** Iceberg primitive type name. */
  readonly type: string;
  readonly required: boolean;
  readonly doc?: string;
  readonly column: OutputColumn;
}

export interface SpecPartitionDef {
  readonly sourceId: number;
  readonly sourceName: string;
  readonly fieldId: number;
  readonly name: string;
  readonly transform: string;
}

/** One output table as the writers need it: the spec's columns with field ids, and its partitioning. */
export interface SpecTableDef {
  readonly kind: OutputKind;
  readonly namespace: string;
  readonly name: string;
  readonly columns: readonly SpecColumnDef[];
  readonly partition: readonly SpecPartitionDef[];
}

/** The table as it is created from the spec: ids 1..n in column order. */
export function newTableDef(spec: JoinSpec, kind: OutputKind): SpecTableDef {
  const table = tableOf(spec, kind);
  const ids = new Map(table.columns.map((c, i) => [c.name, i + 1]));
  return tableDefWithIds(spec, table, ids);
}

/** The table's columns with the given field ids (by column name; evolution.ts computes them). */
export function tableDefWithIds(
  spec: JoinSpec,
  table: OutputTableSpec,
  ids: ReadonlyMap<string, number>,
): SpecTableDef {
  const columns = table.columns.map((c) => {
    const id = ids.get(c.name);
    if (id === undefined) throw new Error(`expected a field id for column ${c.name}, but none was given`);
    return {
      id,
      name: c.name,
      type: c.type,
      required: c.required,
      ...(c.doc === undefined ? {} : { doc: c.doc }),
      column: c,
    };
  });
  const partition = table.partition.map((p, i) => ({
    sourceId: ids.get(p.column)!,
    sourceName: p.column,
    fieldId: FIRST_PARTITION_FIELD_ID + i,
    name: p.name,
    transform: p.transform,
  }));
  return { kind: table.kind, namespace: spec.namespace, name: table.name, columns, partition };
}

/** The Iceberg schema of a new table. */
export function newTableSchema(spec: JoinSpec, kind: OutputKind, schemaId = 0): Schema {
  const def = newTableDef(spec, kind);
  const fields: NestedField[] = def.columns.map((c) => ({
    id: c.id,
    name: c.name,
    required: c.required,
    type: c.type,
    ...(c.doc === undefined ? {} : { doc: c.doc }),
  }));
  return { schemaId, fields };
}

/** The partition spec of a new table. */
export function newPartitionSpec(spec: JoinSpec, kind: OutputKind, specId = 0): PartitionSpec {
  const def = newTableDef(spec, kind);
  return {
    specId,
    fields: def.partition.map((p) => ({
      sourceId: p.sourceId,
      fieldId: p.fieldId,
      name: p.name,
      transform: p.transform,
    })),
  };
}

/**
 * The table definitions the writers use (shared/tables.ts's shape) for a spec's tables as a NEW table
 * gets them: for the shipped default spec, exactly shared/tables.ts's TABLES (test/unit/spec); any
 * primitive column type and any list of partition transforms for another spec.
 */
export function tableDefsOf(spec: JoinSpec): Readonly<Record<OutputKind, TableDef>> {
  const known = tableDefCache.get(spec);
  if (known !== undefined) return known;
  const defs = Object.freeze({
    joined: tableDefOf(spec, 'joined'),
    unmatched: tableDefOf(spec, 'unmatched'),
  });
  tableDefCache.set(spec, defs);
  return defs;
}
const tableDefCache = new WeakMap<JoinSpec, Readonly<Record<OutputKind, TableDef>>>();

function tableDefOf(spec: JoinSpec, kind: OutputKind): TableDef {
  return tableDefFromSpec(newTableDef(spec, kind));
}

/** A spec table with its field ids in the writers' shape (shared/tables.ts TableDef). */
export function tableDefFromSpec(def: SpecTableDef): TableDef {
  const columns: Column[] = def.columns.map((c) => ({
    id: c.id,
    name: c.name,
    type: c.type,
    required: c.required,
    ...(c.doc === undefined ? {} : { doc: c.doc }),
  }));
  const partition = def.partition.map((p) => ({
    source: p.sourceName,
    fieldId: p.fieldId,
    name: p.name,
    transform: p.transform,
  }));
  return { kind: def.kind, columns, partition };
}
