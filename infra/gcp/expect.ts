// What a "describe" command must show for a step to count as already done: declarative expectations,
// evaluated against the command's JSON output. Pure, so the plan stays printable data.

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

export type Expectation =
  /** The value at `path` deep-equals `value`. */
  | { readonly kind: 'equals'; readonly path: string; readonly value: Json }
  /** The value at `path` is one of `values`. */
  | { readonly kind: 'one-of'; readonly path: string; readonly values: readonly Json[] }
  /** The value at `path` contains `value`: object keys recursively, array elements by containment. */
  | { readonly kind: 'includes'; readonly path: string; readonly value: Json }
  /** The value at `path` is absent, null, [] or {}. */
  | { readonly kind: 'empty'; readonly path: string }
  /**
   * An IAM policy (`{bindings: [{role, members, condition?}]}`) grants `role` to `member`: with no
   * `condition`, unconditionally; with one, under a condition whose expression is exactly that.
   */
  | {
      readonly kind: 'iam-binding';
      readonly role: string;
      readonly member: string;
      readonly condition?: string;
    }
  /** A `gcloud services list --format=json` answer lists every service in `names`. */
  | { readonly kind: 'services-enabled'; readonly names: readonly string[] }
  /** A `gcloud firestore indexes composite list --format=json` answer holds this index. */
  | {
      readonly kind: 'composite-index';
      readonly collectionGroup: string;
      readonly queryScope: string;
      readonly fields: readonly { readonly fieldPath: string; readonly order: string }[];
      /** Also require this state (`READY`); without it any state but NEEDS_REPAIR counts. */
      readonly state?: string;
    };

/** The value at a dot-separated path (`serviceConfig.timeoutSeconds`); undefined where it is missing. */
export function valueAt(doc: unknown, path: string): unknown {
  if (path === '') return doc;
  let cur: unknown = doc;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !(key in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as never)[k], (b as never)[k]));
}

/** True when `actual` holds everything in `expected` (objects: per key; arrays: each expected element). */
export function includes(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.every((e) => actual.some((a) => includes(a, e)));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => includes((actual as Record<string, unknown>)[k], v));
  }
  return actual === expected;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

function hasBinding(policy: unknown, role: string, member: string, condition: string | undefined): boolean {
  const bindings = valueAt(policy, 'bindings');
  if (!Array.isArray(bindings)) return false;
  return bindings.some((b) => {
    if (typeof b !== 'object' || b === null || b.role !== role) return false;
    if (!Array.isArray(b.members) || !b.members.includes(member)) return false;
    const expression = valueAt(b, 'condition.expression');
    return condition === undefined
      ? b.condition === undefined || b.condition === null
      : typeof expression === 'string' && expression === condition;
  });
}

function enabledServices(list: unknown): Set<string> {
  const names = new Set<string>();
  if (!Array.isArray(list)) return names;
  for (const s of list) {
    // `gcloud services list` shows config.name (run.googleapis.com) and name (projects/N/services/run.googleapis.com).
    const n = valueAt(s, 'config.name') ?? valueAt(s, 'name');
    if (typeof n === 'string') names.add(n.slice(n.lastIndexOf('/') + 1));
  }
  return names;
}

function hasCompositeIndex(list: unknown, e: Extract<Expectation, { kind: 'composite-index' }>): boolean {
  if (!Array.isArray(list)) return false;
  return list.some((ix) => {
    const name = valueAt(ix, 'name');
    // name: projects/P/databases/D/collectionGroups/CG/indexes/ID
    const cg =
      typeof name === 'string' ? /\/collectionGroups\/([^/]+)\/indexes\//.exec(name)?.[1] : undefined;
    if (cg !== e.collectionGroup || valueAt(ix, 'queryScope') !== e.queryScope) return false;
    const state = valueAt(ix, 'state');
    if (state === 'NEEDS_REPAIR') return false;
    if (e.state !== undefined && state !== e.state) return false;
    const fields = valueAt(ix, 'fields');
    if (!Array.isArray(fields)) return false;
    // Firestore appends the implicit __name__ field to every composite index it returns.
    const own = fields.filter((f) => valueAt(f, 'fieldPath') !== '__name__');
    return (
      own.length === e.fields.length &&
      own.every(
        (f, i) =>
          valueAt(f, 'fieldPath') === e.fields[i]!.fieldPath && valueAt(f, 'order') === e.fields[i]!.order,
      )
    );
  });
}

export function isMet(doc: unknown, e: Expectation): boolean {
  switch (e.kind) {
    // A missing field counts as null (APIs omit unset fields from their JSON).
    case 'equals':
      return deepEqual(valueAt(doc, e.path) ?? null, e.value);
    case 'one-of':
      return e.values.some((v) => deepEqual(valueAt(doc, e.path) ?? null, v));
    case 'includes':
      return includes(valueAt(doc, e.path), e.value);
    case 'empty':
      return isEmpty(valueAt(doc, e.path));
    case 'iam-binding':
      return hasBinding(doc, e.role, e.member, e.condition);
    case 'services-enabled': {
      const on = enabledServices(doc);
      return e.names.every((n) => on.has(n));
    }
    case 'composite-index':
      return hasCompositeIndex(doc, e);
  }
}

/** The expectations `doc` does not meet (empty when the step is already done). */
export function unmetExpectations(doc: unknown, expectations: readonly Expectation[]): Expectation[] {
  return expectations.filter((e) => !isMet(doc, e));
}

/** One line for the dry-run and the log. */
export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'equals':
      return `${e.path} = ${JSON.stringify(e.value)}`;
    case 'one-of':
      return `${e.path} in ${JSON.stringify(e.values)}`;
    case 'includes': {
      const text = JSON.stringify(e.value);
      if (text.length <= 100 || typeof e.value !== 'object' || e.value === null || Array.isArray(e.value)) {
        return `${e.path} includes ${text}`;
      }
      return `${e.path} includes the planned values of ${Object.keys(e.value).join(', ')}`;
    }
    case 'empty':
      return `${e.path} is empty`;
    case 'iam-binding':
      return `binding ${e.role} → ${e.member}${e.condition === undefined ? ' (unconditional)' : ` if ${e.condition}`}`;
    case 'services-enabled':
      return `enabled: ${e.names.join(', ')}`;
    case 'composite-index':
      return `index on ${e.collectionGroup} (${e.fields.map((f) => `${f.fieldPath} ${f.order}`).join(', ')})${e.state === undefined ? '' : ` is ${e.state}`}`;
  }
}
