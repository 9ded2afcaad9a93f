// Another engine committing to our tables, for the sharing tests: the readers kit's `foreign-writer`
// (pyiceberg 0.9.1: append, add-column, set-property, copy-on-write delete-where, tag, branch, expire)
// and test/interop/commit_deletes.py (merge-on-read position and equality deletes, which pyiceberg 0.9.1
// cannot write), run with the kit's Python. Each throws with the tool's output when it did not commit.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { localDir, REPO_ROOT, requireReadersKit, runKitTool } from '../../infra/ops/check-iceberg.ts';

/** `foreign-writer OP TABLE ARGS...`: the verdict of a commit (throws unless ok). */
export async function foreign(
  op: string,
  table: string,
  args: readonly string[] = [],
  input?: string,
): Promise<Record<string, unknown>> {
  const r = await runKitTool(
    'foreign-writer',
    [op, localDir(table), ...args],
    input === undefined ? {} : { input },
  );
  if (r.status !== 0 || r.verdict?.['ok'] !== true) {
    throw new Error(
      `foreign-writer ${op} ${args.join(' ')} failed (exit ${r.status}): ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}`,
    );
  }
  return r.verdict;
}

/** Rows for `foreign-writer append --rows -`: one JSON object per line. */
export function jsonl(rows: readonly Record<string, unknown>[]): string {
  return `${rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))).join('\n')}\n`;
}

let python: string | undefined;
function kitPython(): string {
  if (python !== undefined) return python;
  const kit = requireReadersKit();
  const r = spawnSync(path.join(kit, 'pyiceberg', 'setup-python'), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the readers kit's setup-python failed: ${r.stderr}`);
  python = r.stdout.trim();
  return python;
}

/**
 * A merge-on-read DELETE committed as another engine would (commit_deletes.py): `position` deletes
 * name rows by data file and position; `equality` deletes name values of one column.
 */
export function commitDeletes(
  table: string,
  deletes:
    | { readonly mode: 'position'; readonly rows: readonly { file_path: string; pos: number }[] }
    | { readonly mode: 'equality'; readonly column: string; readonly values: readonly (string | number)[] },
): { snapshot_id: number; delete_files: string[] } {
  const script = path.join(REPO_ROOT, 'test/interop/commit_deletes.py');
  const args =
    deletes.mode === 'position'
      ? [script, requireReadersKit(), localDir(table), 'position']
      : [script, requireReadersKit(), localDir(table), 'equality', deletes.column];
  const input = JSON.stringify(deletes.mode === 'position' ? deletes.rows : deletes.values);
  const r = spawnSync(kitPython(), args, { input, encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`commit_deletes.py failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
}

/** test/interop/evolve_table.py: drop-column, rename-column, add-partition-field, upgrade-v3. */
export function evolveTable(table: string, op: string, ...args: string[]): Record<string, unknown> {
  const script = path.join(REPO_ROOT, 'test/interop/evolve_table.py');
  const r = spawnSync(kitPython(), [script, requireReadersKit(), localDir(table), op, ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`evolve_table.py ${op} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
}
