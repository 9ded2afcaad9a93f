// Loading the join spec: a file named by STREAMJOIN_SPEC / --spec, or the shipped default
// (specs/orders-payments.json, bundled by import so it travels with the built functions). A bad spec
// stops start-up with one line per problem (file:line:col, JSON path, expected, came).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import defaultSpecJson from '../../specs/orders-payments.json' with { type: 'json' };
import { StreamjoinError } from '../errors.ts';
import type { JoinSpec } from './model.ts';
import { formatLocatedIssue, parseJoinSpecText } from './text.ts';
import { formatSpecIssue, validateJoinSpec } from './validate.ts';

export const DEFAULT_SPEC_NAME = 'specs/orders-payments.json';

let shippedDefault: JoinSpec | undefined;

/** The shipped default spec (today's pipeline), validated once. */
export function defaultJoinSpec(): JoinSpec {
  if (shippedDefault !== undefined) return shippedDefault;
  const r = validateJoinSpec(defaultSpecJson);
  if (!r.ok) {
    throw new StreamjoinError(
      'internal',
      `the shipped default spec ${DEFAULT_SPEC_NAME} is invalid:\n${r.issues.map(formatSpecIssue).join('\n')}`,
    );
  }
  shippedDefault = r.spec;
  return r.spec;
}

/** Parses spec text (JSON, or YAML for a .yaml/.yml name); throws a config error listing every problem. */
export function joinSpecFromText(text: string, fileName: string): JoinSpec {
  const r = parseJoinSpecText(text, fileName);
  if (r.ok) return r.spec;
  const n = r.issues.length;
  throw new StreamjoinError(
    'config',
    `join spec ${fileName} is invalid (${n} problem${n === 1 ? '' : 's'}):\n${r.issues.map((i) => `  ${formatLocatedIssue(fileName, i)}`).join('\n')}`,
    { context: { spec: fileName, issues: r.issues.map((i) => formatLocatedIssue(fileName, i)) } },
  );
}

/** Reads and validates a spec file; undefined or '' gives the default spec. */
export function loadJoinSpec(file: string | undefined): JoinSpec {
  if (file === undefined || file === '') return defaultJoinSpec();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StreamjoinError(
      'config',
      `expected a readable join spec file at ${JSON.stringify(file)}, but ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file' : (err as Error).message}`,
      { cause: err },
    );
  }
  // Named as the user would find it: relative to here when under here, else in full.
  const rel = path.relative(process.cwd(), file);
  return joinSpecFromText(text, rel === '' || rel.startsWith('..') ? path.resolve(file) : rel);
}
