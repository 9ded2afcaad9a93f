// What of a join spec the pipeline follows today. Loading validates any spec, but the pipeline's
// validation, join state, rows and writers still have the default spec's streams and columns built in:
// a spec that differs there is refused at start-up (rather than run as if it were the default) until
// they follow the spec too. Prefixes, timeouts, lateness, namespace and table names are followed.
import { DEFAULT_SPEC_NAME, defaultJoinSpec } from './load.ts';
import type { JoinSpec } from './model.ts';

/** The parts of a spec the pipeline follows: set to the default's before comparing the rest. */
function withFollowedPartsOf(spec: JoinSpec, from: JoinSpec): JoinSpec {
  const { description: _, ...rest } = spec;
  return {
    ...rest,
    ...(from.description === undefined ? {} : { description: from.description }),
    name: from.name,
    left: { ...spec.left, prefix: from.left.prefix, timeoutMs: from.left.timeoutMs },
    right: { ...spec.right, prefix: from.right.prefix, timeoutMs: from.right.timeoutMs },
    allowedLatenessMs: from.allowedLatenessMs,
    namespace: from.namespace,
    joined: { ...spec.joined, name: from.joined.name },
    unmatched: { ...spec.unmatched, name: from.unmatched.name },
  };
}

/** The first place two JSON-like values differ, as a path (`left.fields[2].type`), or undefined. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        at === '' ? k : `${at}.${k}`,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return at === '' ? '(the whole spec)' : at;
}

/** Why the pipeline cannot run `spec` yet, or undefined when it follows all of it. */
export function pipelineSupportProblem(spec: JoinSpec): string | undefined {
  const def = defaultJoinSpec();
  const diff = firstDifference(withFollowedPartsOf(spec, def), def);
  if (diff === undefined) return undefined;
  return `join spec ${JSON.stringify(spec.name)}: this version of the pipeline follows a spec's prefixes, timeouts, allowed lateness, namespace and table names, and expects its streams, fields, key, identity, reasons, columns and partitioning to be those of ${DEFAULT_SPEC_NAME}, but ${diff} differs (the pipeline would write the default's rows: use ${DEFAULT_SPEC_NAME} or a copy that changes only those parts)`;
}
