// A join spec file's text (JSON, or YAML for .yaml/.yml) → a JoinSpec, or its problems as messages that
// start with `file:line:col` and the JSON path. Parsing reuses `yaml` (a maintained YAML 1.2 parser that
// also reads JSON and keeps every node's position); JSON files go through JSON.parse first so that
// a .json file is held to JSON. Pure: the caller reads the file (load.ts).
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { JoinSpec } from './model.ts';
import { formatSpecPath, type SpecIssue, type SpecPath, validateJoinSpec } from './validate.ts';

export interface LocatedIssue extends SpecIssue {
  /** 1-based line and column of the value (or of the key, for an unknown key), when found. */
  readonly line?: number;
  readonly col?: number;
}

export type SpecTextResult =
  | { readonly ok: true; readonly spec: JoinSpec }
  | { readonly ok: false; readonly issues: readonly LocatedIssue[] };

export type SpecSyntax = 'json' | 'yaml';

export function syntaxOf(fileName: string): SpecSyntax {
  return /\.ya?ml$/i.test(fileName) ? 'yaml' : 'json';
}

/** Parses and validates a spec file's text. `fileName` picks the syntax (.yaml/.yml: YAML, else JSON). */
export function parseJoinSpecText(text: string, fileName: string): SpecTextResult {
  const syntax = syntaxOf(fileName);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  let value: unknown;
  if (syntax === 'json') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      return {
        ok: false,
        issues: [{ path: [], message: `expected JSON, but it does not parse: ${(err as Error).message}` }],
      };
    }
    // JSON.parse keeps the last of two equal keys silently; a spec must not mean two things.
    const dup = doc.errors.find((e) => e.code === 'DUPLICATE_KEY');
    if (dup !== undefined) {
      const pos = lines.linePos(dup.pos[0]);
      return {
        ok: false,
        issues: [{ path: [], message: 'expected each key once per object, but one repeats', ...pos }],
      };
    }
  } else {
    const err = doc.errors[0];
    if (err !== undefined) {
      const pos = lines.linePos(err.pos[0]);
      return {
        ok: false,
        issues: [
          { path: [], message: `expected YAML, but it does not parse: ${firstLine(err.message)}`, ...pos },
        ],
      };
    }
    value = doc.toJS({ maxAliasCount: 100 });
  }
  const result = validateJoinSpec(value);
  if (result.ok) return result;
  return { ok: false, issues: result.issues.map((i) => ({ ...i, ...locate(doc.contents, i.path, lines) })) };
}

/** `file:line:col: path: message`, one line per problem. */
export function formatLocatedIssue(fileName: string, issue: LocatedIssue): string {
  const where = issue.line === undefined ? fileName : `${fileName}:${issue.line}:${issue.col}`;
  return issue.path.length === 0
    ? `${where}: ${issue.message}`
    : `${where}: ${formatSpecPath(issue.path)}: ${issue.message}`;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!;
}

/** The position of the node at `path`: the value, else the key naming it, else the nearest parent. */
function locate(
  root: unknown,
  path: SpecPath,
  lines: LineCounter,
): { line: number; col: number } | Record<string, never> {
  let node: unknown = root;
  let best: [number, number, number] | undefined = (root as Node | null)?.range ?? undefined;
  for (const p of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === p);
      if (pair === undefined) break;
      const keyRange = (pair.key as Node).range ?? undefined;
      if (keyRange) best = keyRange;
      node = pair.value;
      const valueRange = (node as Node | null)?.range;
      if (valueRange) best = valueRange;
    } else if (isSeq(node) && typeof p === 'number') {
      node = node.items[p];
      const range = (node as Node | null)?.range;
      if (!range) break;
      best = range;
    } else break;
  }
  return best === undefined ? {} : lines.linePos(best[0]);
}
