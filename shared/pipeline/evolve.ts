// Evolving a pipeline table to a new join spec (Iceberg's rules, shared/spec/evolution.ts): the schema
// update is committed before any row of the new spec is written, re-planned on each commit attempt
// against the table as it then is; a change the rules refuse throws a config error with every reason
// and leaves the table untouched.
import { StreamjoinError } from '../errors.ts';
import type { CommitOptions, CommitOutcome } from '../iceberg/commit.ts';
import { commitSchemaUpdate } from '../iceberg/schema-update.ts';
import type { Table } from '../iceberg/table.ts';
import { planEvolution, type SchemaChange, tableViewOf } from '../spec/evolution.ts';
import type { JoinSpec, OutputKind } from '../spec/model.ts';

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
  options: CommitOptions = {},
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
      return { fields: plan.schema.fields };
    },
    options,
  );
  return { ...outcome, changes: outcome.committed ? changes : [] };
}
