// Evolving a pipeline table to a new join spec (Iceberg's rules, shared/spec/evolution.ts): the schema
// update is committed before any row of the new spec is written, re-planned on each commit attempt
// against the table as it then is; a change the rules refuse throws a config error with every reason
// and leaves the table untouched.
import { StreamjoinError } from '../errors.ts';
import { type CommitOptions, type CommitOutcome, commitWithRetry } from '../iceberg/commit.ts';
import { commitSchemaUpdate } from '../iceberg/schema-update.ts';
import type { TableMetadata } from '../iceberg/spec/types.ts';
import type { Table } from '../iceberg/table.ts';
import { planEvolution, type SchemaChange, tableViewOf } from '../spec/evolution.ts';
import { type JoinSpec, type OutputKind, tableOf } from '../spec/model.ts';
import { tableDefFromSpec, tableDefWithIds } from '../spec/tables.ts';
import type { TableDef } from '../tables.ts';

export interface EvolveOutcome extends CommitOutcome {
  /** What the committed schema changed (empty when nothing was committed). */
  readonly changes: readonly SchemaChange[];
}

/**
 * Brings table `kind` from what `previous` wrote (undefined: unknown, matched by column name) to `next`.
 * Throws StreamjoinError 'config' naming each refused change (drop, narrowing, new key, …).
 */
export async function evolveTableToSpec(
  table: Table,
  kind: OutputKind,
  previous: JoinSpec | undefined,
  next: JoinSpec,
  options: CommitOptions & { readonly properties?: Readonly<Record<string, string>> } = {},
): Promise<EvolveOutcome> {
  let changes: readonly SchemaChange[] = [];
  const outcome = await commitSchemaUpdate(
    table,
    (md) => {
      const view = tableViewOf(md);
      const r = planEvolution({
        previous,
        next,
        tables: {
          joined: kind === 'joined' ? view : undefined,
          unmatched: kind === 'unmatched' ? view : undefined,
        },
      });
      if (!r.ok) {
        throw new StreamjoinError(
          'config',
          `join spec ${JSON.stringify(next.name)} cannot be applied to ${table.location} (left untouched):\n  ${r.refusals.join('\n  ')}`,
          { context: { table: table.location, refusals: r.refusals } },
        );
      }
      const plan = r[kind];
      if (plan.action !== 'update') return { nothing: `the table already has the columns of ${next.name}` };
      changes = plan.changes;
      return {
        fields: plan.schema.fields,
        ...(options.properties === undefined ? {} : { properties: options.properties }),
      };
    },
    options,
  );
  return { ...outcome, changes: outcome.committed ? changes : [] };
}

/** Table property holding the join spec the table was created or last evolved with (the JoinSpec model
 *  as JSON): the `previous` of the next evolution, so renames keep their field ids. */
export const JOIN_SPEC_PROPERTY = 'streamjoin.join-spec';

/** The value of JOIN_SPEC_PROPERTY for a spec. */
export function joinSpecProperty(spec: JoinSpec): string {
  return JSON.stringify(spec);
}

/** The spec recorded in a table's properties; undefined when none is (a table created before specs were
 *  recorded, or by another engine) or it is not one: the table is then matched by column name. */
export function recordedJoinSpec(md: TableMetadata): JoinSpec | undefined {
  const raw = md.properties[JOIN_SPEC_PROPERTY];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<JoinSpec> | null;
    const ok =
      v !== null &&
      typeof v === 'object' &&
      v.version === 1 &&
      typeof v.left === 'object' &&
      typeof v.right === 'object' &&
      Array.isArray(v.joined?.columns) &&
      Array.isArray(v.unmatched?.columns);
    return ok ? (v as JoinSpec) : undefined;
  } catch {
    return undefined;
  }
}

/** Table property: the field id of each of the recorded spec's columns of this table (JSON, by name). */
export const FIELD_IDS_PROPERTY = 'streamjoin.join-spec.field-ids';

export function fieldIdsProperty(ids: ReadonlyMap<string, number>): string {
  return JSON.stringify(Object.fromEntries([...ids].sort((a, b) => a[1] - b[1])));
}

function recordedFieldIds(md: TableMetadata): ReadonlyMap<string, number> | undefined {
  const raw = md.properties[FIELD_IDS_PROPERTY];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.every(([, id]) => Number.isSafeInteger(id))
      ? new Map(entries as [string, number][])
      : undefined;
  } catch {
    return undefined;
  }
}

export interface TableForSpec {
  /** The table as it is now (after the schema update, if one was committed). */
  readonly table: Table;
  /** The spec's table with the field ids the table has for its columns: what the flush writes. */
  readonly def: TableDef;
  /** The schema changes committed for this spec (empty when the table already had its columns). */
  readonly changes: readonly SchemaChange[];
}

/**
 * Makes table `kind` ready for rows of `spec`, before any is written: plans evolution from the spec the
 * table records (JOIN_SPEC_PROPERTY) to `spec` by Iceberg's rules and commits the schema update, with the
 * new spec recorded in the same commit; when only the recorded spec differs (no column changes: e.g. a new
 * timeout or doc), records it alone. A refused change throws StreamjoinError 'config' naming every reason,
 * and nothing is committed.
 */
export async function prepareTableForSpec(
  table: Table,
  kind: OutputKind,
  spec: JoinSpec,
  options: CommitOptions = {},
): Promise<TableForSpec> {
  const previous = recordedJoinSpec(table.metadata);
  const value = joinSpecProperty(spec);
  // The spec the table records is the configured one: it was made to fit it, and the ids its columns had
  // then are recorded. Another engine's changes since (a rename, a drop) are the write layout's concern
  // (planTableWrite, by field id), not evolution's.
  const knownIds = recordedFieldIds(table.metadata);
  if (table.metadata.properties[JOIN_SPEC_PROPERTY] === value && knownIds !== undefined) {
    const t = tableOf(spec, kind);
    if (t.columns.every((c) => knownIds.has(c.name)))
      return { table, def: tableDefFromSpec(tableDefWithIds(spec, t, knownIds)), changes: [] };
  }
  const viewOf = (md: TableMetadata) => ({
    joined: kind === 'joined' ? tableViewOf(md) : undefined,
    unmatched: kind === 'unmatched' ? tableViewOf(md) : undefined,
  });
  // Planned on the table as loaded first (pure: an unchanged spec costs no I/O); a change or a refusal
  // goes through evolveTableToSpec, which re-plans on the newest metadata and commits or throws.
  const first = planEvolution({ previous, next: spec, tables: viewOf(table.metadata) });
  const evolved =
    first.ok && first[kind].action === 'none'
      ? { table, changes: [] as readonly SchemaChange[] }
      : await evolveTableToSpec(table, kind, previous, spec, {
          ...options,
          properties: { [JOIN_SPEC_PROPERTY]: value },
        });
  let current = evolved.table;
  const recorded = current.metadata.properties[JOIN_SPEC_PROPERTY];
  // A recorded spec that differs is brought up to date (one property commit). A table that records none
  // (created before specs were recorded) is left as it is until its next schema change.
  // The table now has every column of the spec: their ids, matched the same way evolution matched them.
  const plan = planEvolution({ previous: spec, next: spec, tables: viewOf(current.metadata) });
  const ids = plan.ok ? fieldIdsProperty(plan[kind].columnIds) : undefined;
  if (
    recorded !== undefined &&
    ids !== undefined &&
    (recorded !== value || current.metadata.properties[FIELD_IDS_PROPERTY] !== ids)
  ) {
    const updates = { [JOIN_SPEC_PROPERTY]: value, [FIELD_IDS_PROPERTY]: ids };
    const done = (md: TableMetadata) =>
      md.properties[JOIN_SPEC_PROPERTY] === value && md.properties[FIELD_IDS_PROPERTY] === ids;
    const r = await commitWithRetry(
      current,
      async (base) =>
        done(base.metadata)
          ? { kind: 'noop', reason: 'the table already records this spec' }
          : {
              kind: 'commit',
              updates: [{ action: 'set-properties', updates }],
              requirements: [],
              attemptFiles: [],
            },
      done,
      options,
    );
    current = r.table;
  }
  if (!plan.ok || plan[kind].action !== 'none') {
    throw new StreamjoinError(
      'internal',
      `expected table ${current.location} to have every column of join spec ${JSON.stringify(spec.name)} after evolving it, but ${plan.ok ? `it still needs: ${plan[kind].action}` : plan.refusals.join('; ')}`,
    );
  }
  const def = tableDefFromSpec(tableDefWithIds(spec, tableOf(spec, kind), plan[kind].columnIds));
  return { table: current, def, changes: evolved.changes };
}
