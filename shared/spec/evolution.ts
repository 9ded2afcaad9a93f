// Schema evolution by Iceberg's rules, as a pure function: the spec the tables were written with, the new
// spec and each table's current schema → the schema update to commit before any row with a new field is
// written, or the refusals (each says what is refused, why, and what to do instead).
//
// Columns are matched across the two specs by their source (`key`, `left.amount`, `pipeline.reason`: a
// source is used once per table), and to the table by name — so renaming an output column keeps its
// field id. Allowed: adding a column (optional, with a new field id, placed where the spec puts it; older
// rows read it as null), widening int → long, float → double, decimal(P,S) → decimal(P',S) with P' > P
// (Iceberg v2's promotions), making a column optional, renaming, reordering, changing docs. Refused:
// dropping a column the table still has, narrowing or otherwise changing a type, changing a column's
// source, changing the join key or what identifies a duplicate, changing the partitioning.
// Columns another engine added are kept where they are (the pipeline writes null into them).
import { describeType, parsePrimitive } from '../iceberg/spec/type-info.ts';
import type {
  IcebergType,
  NestedField,
  PartitionSpec,
  Schema,
  TableMetadata,
} from '../iceberg/spec/types.ts';
import {
  type JoinSpec,
  OUTPUT_KINDS,
  type OutputColumn,
  type OutputKind,
  type OutputTableSpec,
  sourceKey,
  tableOf,
} from './model.ts';
import { newPartitionSpec, newTableSchema } from './tables.ts';

/** What evolution needs to know of a table as it is now. */
export interface TableView {
  readonly schema: Schema;
  /** The table's last-column-id: new columns get ids above it (ids of dropped columns are never reused). */
  readonly lastColumnId: number;
  /** The highest schema id in the table (a new schema gets the next). */
  readonly highestSchemaId: number;
  /** The table's default partition spec. */
  readonly partitionSpec: PartitionSpec;
}

export function tableViewOf(md: TableMetadata): TableView {
  const schema = md.schemas.find((s) => s.schemaId === md.currentSchemaId);
  const spec = md.partitionSpecs.find((s) => s.specId === md.defaultSpecId);
  if (schema === undefined || spec === undefined) {
    throw new Error(
      `expected the table's current schema ${md.currentSchemaId} and default spec ${md.defaultSpecId} in its metadata, but one is missing`,
    );
  }
  return {
    schema,
    lastColumnId: md.lastColumnId,
    highestSchemaId: Math.max(...md.schemas.map((s) => s.schemaId)),
    partitionSpec: spec,
  };
}

export type SchemaChange =
  | {
      readonly kind: 'add-column';
      readonly id: number;
      readonly name: string;
      readonly type: string;
      /** The column it follows (null: first). */
      readonly after: string | null;
    }
  | { readonly kind: 'rename-column'; readonly id: number; readonly from: string; readonly to: string }
  | {
      readonly kind: 'widen-column';
      readonly id: number;
      readonly name: string;
      readonly from: string;
      readonly to: string;
    }
  | { readonly kind: 'make-optional'; readonly id: number; readonly name: string }
  | { readonly kind: 'update-doc'; readonly id: number; readonly name: string; readonly doc: string }
  | { readonly kind: 'reorder'; readonly names: readonly string[] };

export type TablePlan =
  /** No table yet: create it with this schema and partition spec. */
  | {
      readonly action: 'create';
      readonly kind: OutputKind;
      readonly schema: Schema;
      readonly partitionSpec: PartitionSpec;
      readonly columnIds: ReadonlyMap<string, number>;
      readonly notes: readonly string[];
    }
  /** The table already has what the spec needs. */
  | {
      readonly action: 'none';
      readonly kind: OutputKind;
      readonly columnIds: ReadonlyMap<string, number>;
      readonly notes: readonly string[];
    }
  /** Commit this schema (and make it current) before writing any row of the new spec. */
  | {
      readonly action: 'update';
      readonly kind: OutputKind;
      readonly schema: Schema;
      readonly changes: readonly SchemaChange[];
      readonly columnIds: ReadonlyMap<string, number>;
      readonly notes: readonly string[];
    };

export type EvolutionResult =
  | { readonly ok: true; readonly joined: TablePlan; readonly unmatched: TablePlan }
  | { readonly ok: false; readonly refusals: readonly string[] };

export interface EvolutionInput {
  /** The spec the tables were last written with (undefined: unknown — match the tables by name only). */
  readonly previous: JoinSpec | undefined;
  readonly next: JoinSpec;
  /** Each table of `next` as it is now (by next's namespace and names); undefined: it does not exist. */
  readonly tables: Readonly<Record<OutputKind, TableView | undefined>>;
}

/** The plan for both tables of `next`, or every reason it is refused. */
export function planEvolution(input: EvolutionInput): EvolutionResult {
  const refusals: string[] = [];
  const plans: Partial<Record<OutputKind, TablePlan>> = {};
  const kept = OUTPUT_KINDS.filter(
    (k) => sameTable(input.previous, input.next, k) && input.tables[k] !== undefined,
  );
  if (input.previous !== undefined && kept.length > 0) {
    // A new key or identity is refused on its own: the column changes it implies say nothing more.
    refusals.push(...checkJoin(input.previous, input.next, kept));
    if (refusals.length > 0) return { ok: false, refusals };
  }
  for (const kind of OUTPUT_KINDS) {
    const plan = planTable(kind, input, refusals);
    if (plan !== undefined) plans[kind] = plan;
  }
  if (refusals.length > 0 || plans.joined === undefined || plans.unmatched === undefined) {
    return { ok: false, refusals };
  }
  return { ok: true, joined: plans.joined, unmatched: plans.unmatched };
}

function tableName(spec: JoinSpec, kind: OutputKind): string {
  return `${spec.namespace}.${tableOf(spec, kind).name}`;
}

function sameTable(previous: JoinSpec | undefined, next: JoinSpec, kind: OutputKind): boolean {
  return previous !== undefined && tableName(previous, kind) === tableName(next, kind);
}

/** The key and the duplicate rules: the join state and every row depend on them. */
function checkJoin(previous: JoinSpec, next: JoinSpec, kept: readonly OutputKind[]): string[] {
  const out: string[] = [];
  const tables = kept.map((k) => tableName(next, k)).join(' and ');
  const instead = `Keep it, or write to new tables (other table names in output) with a fresh join state (another STREAMJOIN_FIRESTORE_PREFIX) and replay the inputs (streamjoin replay --since …).`;
  for (const side of ['left', 'right'] as const) {
    const a = previous[side];
    const b = next[side];
    const ta = a.fields.find((f) => f.name === a.key)?.type;
    const tb = b.fields.find((f) => f.name === b.key)?.type;
    if (a.key !== b.key || ta !== tb) {
      out.push(
        `streams.${side}.key: the join key changed from ${b.name}.${a.key} (${ta}) to ${b.name}.${b.key} (${tb}), but ${tables} and the waiting join states are keyed by it: events would pair under a different key than the rows already written. ${instead}`,
      );
    }
    // The left identity is its key (checked above).
    if (side === 'right' && a.identity.join(',') !== b.identity.join(',')) {
      out.push(
        `streams.${side}.identity: what identifies a duplicate changed from [${a.identity.join(', ')}] to [${b.identity.join(', ')}], but the join states remember the identities of the events they have seen: a redelivered event would look new and be written twice. ${instead}`,
      );
    }
  }
  return out;
}

const PROMOTIONS: Readonly<Record<string, string>> = { int: 'long', float: 'double' };

/** Iceberg v2 type promotion: int → long, float → double, decimal(P,S) → decimal(P',S) with P' > P. */
export function canPromote(from: string, to: string): boolean {
  const a = parsePrimitive(from);
  const b = parsePrimitive(to);
  if (a === undefined || b === undefined) return false;
  if (a.kind === 'decimal' && b.kind === 'decimal') return a.scale === b.scale && b.precision > a.precision;
  return PROMOTIONS[a.kind] === b.kind;
}

function sameType(a: IcebergType, b: string): boolean {
  return describeType(a) === describeType(b);
}

function planTable(kind: OutputKind, input: EvolutionInput, refusals: string[]): TablePlan | undefined {
  const { next, previous } = input;
  const table = tableOf(next, kind);
  const current = input.tables[kind];
  const name = tableName(next, kind);
  if (current === undefined) {
    const schema = newTableSchema(next, kind);
    return {
      action: 'create',
      kind,
      schema,
      partitionSpec: newPartitionSpec(next, kind),
      columnIds: new Map(schema.fields.map((f) => [f.name, f.id])),
      notes: [],
    };
  }
  const prevTable = sameTable(previous, next, kind) ? tableOf(previous!, kind) : undefined;
  const before = refusals.length;
  const notes: string[] = [];
  const changes: SchemaChange[] = [];
  const tableFields = current.schema.fields;
  const byName = new Map(tableFields.map((f) => [f.name, f]));
  const prevBySource = new Map((prevTable?.columns ?? []).map((c) => [sourceKey(c.source), c]));
  const nextSources = new Set(table.columns.map((c) => sourceKey(c.source)));
  const used = new Map<number, string>();
  let lastColumnId = current.lastColumnId;
  const resolved: NestedField[] = [];
  const at = (c: OutputColumn) => `output.${kind}.columns (${c.name})`;

  for (const c of table.columns) {
    const prev = prevBySource.get(sourceKey(c.source));
    let field: NestedField | undefined;
    if (prev !== undefined) {
      field = byName.get(prev.name) ?? byName.get(c.name);
      if (field === undefined) {
        refusals.push(
          `${at(c)}: ${name} has no column ${JSON.stringify(prev.name)}${prev.name === c.name ? '' : ` nor ${JSON.stringify(c.name)}`} any more (another engine renamed or dropped it), but the spec still fills it from ${c.from}. Name the column in the spec as the table names it now, or give it a new name to add it as a new column.`,
        );
        continue;
      }
    } else {
      field = byName.get(c.name);
      const sourceBefore = prevTable?.columns.find((p) => p.name === c.name);
      if (field !== undefined && sourceBefore !== undefined) {
        refusals.push(
          `${at(c)}: the source of column ${JSON.stringify(c.name)} changed from ${sourceBefore.from} to ${c.from}, but its rows already hold ${sourceBefore.from}: one column would mean two things. Keep its source and add a column with another name for ${c.from}.`,
        );
        continue;
      }
    }
    if (field === undefined) {
      lastColumnId += 1;
      const added: NestedField = {
        id: lastColumnId,
        name: c.name,
        required: false,
        type: c.type,
        ...(c.doc === undefined ? {} : { doc: c.doc }),
      };
      changes.push({
        kind: 'add-column',
        id: added.id,
        name: c.name,
        type: c.type,
        after: null, // set once the columns of other engines are placed
      });
      if (c.required) {
        notes.push(
          `${name}.${c.name} is added as an optional column (Iceberg adds no required column to a table with rows: older rows read it as null); the pipeline fills it in every new row.`,
        );
      }
      resolved.push(added);
      continue;
    }
    const clash = used.get(field.id);
    if (clash !== undefined) {
      refusals.push(
        `${at(c)}: columns ${JSON.stringify(clash)} and ${JSON.stringify(c.name)} of the spec are both column ${JSON.stringify(field.name)} of ${name} (a rename onto a name the table uses). Rename one of them.`,
      );
      continue;
    }
    used.set(field.id, c.name);
    let out: NestedField = field;
    if (field.name !== c.name) {
      const other = byName.get(c.name);
      if (other !== undefined && other.id !== field.id) {
        refusals.push(
          `${at(c)}: column ${JSON.stringify(field.name)} cannot be renamed to ${JSON.stringify(c.name)}, because ${name} already has a column ${JSON.stringify(c.name)} (field id ${other.id}). Choose another name.`,
        );
        continue;
      }
      changes.push({ kind: 'rename-column', id: field.id, from: field.name, to: c.name });
      out = { ...out, name: c.name };
    }
    if (!sameType(field.type, c.type)) {
      const tableType = typeof field.type === 'string' ? describeType(field.type) : describeType(field.type);
      if (typeof field.type === 'string' && canPromote(field.type, c.type)) {
        changes.push({
          kind: 'widen-column',
          id: field.id,
          name: c.name,
          from: tableType,
          to: describeType(c.type),
        });
        out = { ...out, type: c.type };
      } else if (typeof field.type === 'string' && canPromote(c.type, field.type)) {
        const specNarrowed = prev !== undefined && prev.type !== c.type && canPromote(c.type, prev.type);
        if (specNarrowed) {
          refusals.push(
            `${at(c)}: column ${JSON.stringify(c.name)} would narrow from ${describeType(prev.type)} to ${describeType(c.type)}, but Iceberg never narrows a column (rows already written may not fit). Keep ${c.from} as ${describeType(prev.type)}: every ${describeType(c.type)} value is accepted as ${describeType(prev.type)}.`,
          );
          continue;
        }
        notes.push(
          `${name}.${c.name} stays ${tableType} in the table (wider than the spec's ${describeType(c.type)}); the pipeline writes its values as ${tableType}.`,
        );
      } else {
        refusals.push(
          `${at(c)}: column ${JSON.stringify(c.name)} would change type from ${tableType} to ${describeType(c.type)}, but Iceberg only widens int → long, float → double and decimal precision. Keep its type, and add a column with another name for the ${describeType(c.type)} values.`,
        );
        continue;
      }
    }
    if (field.required && !c.required) {
      changes.push({ kind: 'make-optional', id: field.id, name: c.name });
      out = { ...out, required: false };
    }
    if (c.doc !== undefined && c.doc !== field.doc) {
      changes.push({ kind: 'update-doc', id: field.id, name: c.name, doc: c.doc });
      out = { ...out, doc: c.doc };
    }
    resolved.push(out);
  }

  for (const p of prevTable?.columns ?? []) {
    // Still filled (by source), or its name is taken by a column of the new spec (refused above if its
    // source changed).
    if (nextSources.has(sourceKey(p.source)) || table.columns.some((c) => c.name === p.name)) continue;
    const still = byName.get(p.name);
    if (still !== undefined && !used.has(still.id)) {
      refusals.push(
        `output.${kind}.columns: column ${JSON.stringify(p.name)} (from ${p.from}) was removed from the spec, but ${name} still has it and the pipeline never drops data. Keep it in the spec (make its field nullable if the producer stops sending it), or drop it with an engine first (Spark: ALTER TABLE ${name} DROP COLUMN ${p.name}) and then remove it from the spec.`,
      );
    }
  }
  if (refusals.length > before) return undefined;

  // Columns the spec does not fill (another engine added them): kept, after the column they followed.
  const fields = [...resolved];
  const placed = new Set(fields.map((f) => f.id));
  let anchor: number | undefined;
  for (const f of tableFields) {
    if (placed.has(f.id)) {
      anchor = f.id;
      continue;
    }
    const i = anchor === undefined ? 0 : fields.findIndex((x) => x.id === anchor) + 1;
    fields.splice(i, 0, f);
    placed.add(f.id);
    anchor = f.id;
  }
  const finalChanges = changes.map((c) => {
    if (c.kind !== 'add-column') return c;
    const i = fields.findIndex((f) => f.id === c.id);
    return { ...c, after: i === 0 ? null : fields[i - 1]!.name };
  });
  changes.splice(0, changes.length, ...finalChanges);
  const oldOrder = tableFields.map((f) => f.id).join(',');
  const addedIds = new Set(changes.flatMap((c) => (c.kind === 'add-column' ? [c.id] : [])));
  const newOrder = fields
    .filter((f) => !addedIds.has(f.id))
    .map((f) => f.id)
    .join(',');
  if (oldOrder !== newOrder) changes.push({ kind: 'reorder', names: fields.map((f) => f.name) });

  const columnIds = new Map(table.columns.map((c, i) => [c.name, resolved[i]!.id]));
  checkPartition(kind, name, table, prevTable, current, columnIds, refusals, notes);
  if (refusals.length > before) return undefined;
  if (changes.length === 0) return { action: 'none', kind, columnIds, notes };
  const schema: Schema = { ...current.schema, schemaId: current.highestSchemaId + 1, fields };
  return { action: 'update', kind, schema, changes, columnIds, notes };
}

function describePartition(fields: readonly { column: string; transform: string }[]): string {
  return fields.length === 0
    ? 'nothing (unpartitioned)'
    : fields.map((f) => `${f.transform}(${f.column})`).join(', ');
}

/** The partitioning is the table's: the spec's applies when a table is created; changing it is refused. */
function checkPartition(
  kind: OutputKind,
  name: string,
  table: OutputTableSpec,
  prevTable: OutputTableSpec | undefined,
  current: TableView,
  columnIds: ReadonlyMap<string, number>,
  refusals: string[],
  notes: string[],
): void {
  const idToName = new Map(current.schema.fields.map((f) => [f.id, f.name]));
  const wanted = table.partition.map((p) => `${columnIds.get(p.column)}:${p.transform}`).join(',');
  const actual = current.partitionSpec.fields.map((f) => `${f.sourceId}:${f.transform}`).join(',');
  if (wanted === actual) return;
  const tableDesc = describePartition(
    current.partitionSpec.fields.map((f) => ({
      column: idToName.get(f.sourceId) ?? `#${f.sourceId}`,
      transform: f.transform,
    })),
  );
  const bySource = (t: OutputTableSpec) =>
    t.partition
      .map((p) => {
        const c = t.columns.find((x) => x.name === p.column)!;
        return `${sourceKey(c.source)}:${p.transform}`;
      })
      .join(',');
  if (prevTable !== undefined && bySource(prevTable) !== bySource(table)) {
    const first = current.partitionSpec.fields[0];
    const example =
      first === undefined
        ? `ALTER TABLE ${name} ADD PARTITION FIELD …`
        : `ALTER TABLE ${name} REPLACE PARTITION FIELD ${first.name} WITH …`;
    refusals.push(
      `output.${kind}.partition: the partitioning changed from ${describePartition(prevTable.partition)} to ${describePartition(table.partition)}, but the pipeline does not change a table's partition spec (it writes with the table's own, now ${tableDesc}). Change it with an engine (Spark: ${example}), or write to a new table.`,
    );
    return;
  }
  notes.push(
    `${name} is partitioned by ${tableDesc}, not as the spec says (${describePartition(table.partition)}): the pipeline writes with the table's partition spec; the spec's applies to new tables.`,
  );
}
