// A schema update as one commit (REST `add-schema` + `set-current-schema`, as pyiceberg's and Java's
// UpdateSchema commit it): the new schema gets the next schema id and becomes current; its new field
// ids were assigned above the table's last-column-id. Required: the table's current schema and last
// assigned field id are still those the update was planned on (another engine's schema change in
// between makes the planner run again on the new head, or give up).
import { type CommitOptions, type CommitOutcome, commitWithRetry } from './commit.ts';
import { walkFields } from './spec/type-info.ts';
import type { NestedField, Schema, TableMetadata } from './spec/types.ts';
import type { Table } from './table.ts';

/** What to do with the table as it is now: commit these fields as its new current schema (and set these
 *  table properties in the same commit), or nothing. */
export type SchemaDecision =
  | { readonly fields: readonly NestedField[]; readonly properties?: Readonly<Record<string, string>> }
  | { readonly nothing: string };

/** Same columns (ids, names, types, nullability, docs) in the same order. */
function sameFields(a: readonly NestedField[], b: readonly NestedField[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function currentFields(md: TableMetadata): readonly NestedField[] | undefined {
  return md.schemas.find((s) => s.schemaId === md.currentSchemaId)?.fields;
}

/**
 * Commits the schema `decide` returns for the table's newest metadata (asked again on each attempt).
 * `committed` is false when it decided nothing was needed (e.g. a concurrent instance made the change).
 */
export async function commitSchemaUpdate(
  table: Table,
  decide: (md: TableMetadata) => SchemaDecision,
  options: CommitOptions = {},
): Promise<CommitOutcome> {
  let intended: readonly NestedField[] | undefined;
  return commitWithRetry(
    table,
    async (base) => {
      const md = base.metadata;
      const d = decide(md);
      if ('nothing' in d) return { kind: 'noop', reason: d.nothing };
      const current = currentFields(md);
      if (current !== undefined && sameFields(current, d.fields)) {
        return { kind: 'noop', reason: 'the table already has this schema' };
      }
      intended = d.fields;
      const schemaId = Math.max(...md.schemas.map((s) => s.schemaId)) + 1;
      const schema: Schema = {
        ...(md.schemas.find((s) => s.schemaId === md.currentSchemaId) ?? {}),
        schemaId,
        fields: d.fields,
      };
      const highest = Math.max(0, ...[...walkFields(d.fields)].map((f) => f.id));
      return {
        kind: 'commit',
        updates: [
          { action: 'add-schema', schema, lastColumnId: Math.max(md.lastColumnId, highest) },
          { action: 'set-current-schema', schemaId },
          ...(d.properties === undefined
            ? []
            : [{ action: 'set-properties' as const, updates: d.properties }]),
        ],
        requirements: [
          { type: 'assert-current-schema-id', currentSchemaId: md.currentSchemaId },
          { type: 'assert-last-assigned-field-id', lastAssignedFieldId: md.lastColumnId },
        ],
        attemptFiles: [],
      };
    },
    (md) => {
      const current = currentFields(md);
      return intended !== undefined && current !== undefined && sameFields(current, intended);
    },
    options,
  );
}
