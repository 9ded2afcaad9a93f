// firestore.indexes.json and the queries in the code, kept in step: every Firestore query of the code
// (each `.where(` / `.orderBy(` chain, read from the source with the TypeScript parser and followed
// through the variables and methods that build it) is turned into the index Firestore needs for it,
// by Firestore's rules: equality filters alone are served by merging single-field indexes; an order
// (an orderBy, or the implicit one on an inequality field) after equality filters, or more than one
// order, needs a composite index whose fields are the equality fields, then the order fields with their
// directions. The test fails when a query needs a composite index the file lacks, when the file has a
// composite index no query needs (each costs a write on every document change), or when a query that
// runs on single-field indexes uses a field the file exempts from indexing.
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import ts from 'typescript';
import { parseFirestoreIndexes } from '../../../infra/gcp/indexes.ts';
import { COLLECTION_SUFFIXES } from '../../../infra/gcp/plan.ts';
import { SETTINGS } from '../../../shared/config.ts';
import { ROOT } from './sample.ts';

/** Where queries live: the core, the functions, the operations the CLI runs. */
const SOURCES = ['shared/**/*.ts', 'functions/**/*.ts', 'infra/ops/**/*.ts', 'cli/**/*.ts'];
const QUERY_METHODS = new Set(['where', 'orderBy']);
const EQUALITY = new Set(['==', 'in', 'array-contains', 'array-contains-any']);
const PREFIX = `${SETTINGS.collectionPrefix.default}_`;

type Order = 'ASCENDING' | 'DESCENDING';
interface Op {
  readonly method: 'where' | 'orderBy';
  readonly field: string;
  readonly operator?: string;
  readonly order?: Order;
}
export interface Query {
  readonly at: string;
  readonly collection: string;
  readonly ops: readonly Op[];
}
export interface IndexNeed {
  readonly collection: string;
  readonly equalities: readonly string[];
  readonly orders: readonly { readonly field: string; readonly order: Order }[];
}

const literal = (n: ts.Node | undefined): string | undefined =>
  n !== undefined && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) ? n.text : undefined;

function where(sf: ts.SourceFile, n: ts.Node): string {
  const { line } = sf.getLineAndCharacterOfPosition(n.getStart(sf));
  return `${sf.fileName.slice(ROOT.length)}:${line + 1}`;
}

/** A call chain `root.a(..).b(..)` → its root and its calls, innermost first. */
function flatten(e: ts.Expression): { root: ts.Expression; calls: ts.CallExpression[] } {
  const calls: ts.CallExpression[] = [];
  let cur: ts.Expression = e;
  while (ts.isCallExpression(cur) && ts.isPropertyAccessExpression(cur.expression)) {
    const name = cur.expression.name.text;
    if (
      !QUERY_METHODS.has(name) &&
      ![
        'limit',
        'select',
        'startAfter',
        'startAt',
        'endAt',
        'endBefore',
        'offset',
        'count',
        'get',
        'stream',
        'limitToLast',
      ].includes(name)
    )
      break;
    calls.unshift(cur);
    cur = cur.expression.expression;
  }
  return { root: cur, calls };
}

function enclosingFunction(n: ts.Node): ts.Node {
  let cur: ts.Node | undefined = n.parent;
  while (cur !== undefined && !ts.isFunctionLike(cur) && !ts.isSourceFile(cur)) cur = cur.parent;
  return cur ?? n.getSourceFile();
}

function find<T extends ts.Node>(scope: ts.Node, pick: (n: ts.Node) => n is T): T[] {
  const out: T[] = [];
  const visit = (n: ts.Node) => {
    if (pick(n)) out.push(n);
    ts.forEachChild(n, visit);
  };
  visit(scope);
  return out;
}

/** The collection and the filters/orders that build the query `e`, following variables and methods. */
function resolve(sf: ts.SourceFile, e: ts.Expression, depth = 0): { collection: string; ops: Op[] } {
  if (depth > 8) throw new Error(`${where(sf, e)}: query built through too many steps to follow`);
  const { root, calls } = flatten(e);
  const ops: Op[] = calls.flatMap((c): Op[] => {
    const method = (c.expression as ts.PropertyAccessExpression).name.text;
    if (!QUERY_METHODS.has(method)) return [];
    const field = literal(c.arguments[0]);
    if (field === undefined) {
      throw new Error(`${where(sf, c)}: a query field must be a string literal for the index check`);
    }
    if (method === 'where') {
      const operator = literal(c.arguments[1]);
      if (operator === undefined)
        throw new Error(`${where(sf, c)}: a where operator must be a string literal`);
      return [{ method, field, operator }];
    }
    const dir = literal(c.arguments[1]) ?? 'asc';
    return [{ method: 'orderBy', field, order: dir === 'desc' ? 'DESCENDING' : 'ASCENDING' }];
  });
  let base: { collection: string; ops: Op[] };
  if (
    ts.isPropertyAccessExpression(root) &&
    (COLLECTION_SUFFIXES as readonly string[]).includes(root.name.text)
  ) {
    base = { collection: root.name.text, ops: [] };
  } else if (ts.isIdentifier(root)) {
    const decls = find(enclosingFunction(root), (n): n is ts.VariableDeclaration =>
      ts.isVariableDeclaration(n),
    )
      .filter((d) => ts.isIdentifier(d.name) && d.name.text === root.text && d.initializer !== undefined)
      .filter((d) => d.pos < root.pos);
    const d = decls.at(-1);
    if (d === undefined)
      throw new Error(`${where(sf, root)}: cannot find how the query ${root.text} is built`);
    base = resolve(sf, d.initializer!, depth + 1);
  } else if (ts.isCallExpression(root)) {
    const callee = root.expression;
    const name = ts.isPropertyAccessExpression(callee)
      ? callee.name.text
      : ts.isIdentifier(callee)
        ? callee.text
        : undefined;
    const fn = find(
      sf,
      (n): n is ts.MethodDeclaration | ts.FunctionDeclaration =>
        (ts.isMethodDeclaration(n) || ts.isFunctionDeclaration(n)) &&
        n.name !== undefined &&
        ts.isIdentifier(n.name) &&
        n.name.text === name,
    )[0];
    const ret =
      fn?.body === undefined
        ? undefined
        : find(fn.body, (n): n is ts.ReturnStatement => ts.isReturnStatement(n))[0];
    if (ret?.expression === undefined)
      throw new Error(`${where(sf, root)}: cannot follow the query built by ${name}()`);
    base = resolve(sf, ret.expression, depth + 1);
  } else {
    throw new Error(
      `${where(sf, root)}: a query must start from a collection (collections.<name>), but starts from: ${root.getText(sf)}`,
    );
  }
  return { collection: base.collection, ops: [...base.ops, ...ops] };
}

/** Every query chain in the sources. */
export function findQueries(files: readonly string[]): Query[] {
  const queries: Query[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (!/\.(where|orderBy)\(/.test(text)) continue;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const outermost = new Set<ts.Node>();
    const visit = (n: ts.Node) => {
      if (
        ts.isCallExpression(n) &&
        ts.isPropertyAccessExpression(n.expression) &&
        QUERY_METHODS.has(n.expression.name.text)
      ) {
        let top: ts.Node = n;
        while (
          ts.isPropertyAccessExpression(top.parent) &&
          ts.isCallExpression(top.parent.parent) &&
          top.parent.parent.expression === top.parent
        ) {
          top = top.parent.parent;
        }
        outermost.add(top);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    for (const top of outermost) {
      const r = resolve(sf, top as ts.Expression);
      queries.push({ at: where(sf, top), collection: r.collection, ops: r.ops });
    }
  }
  return queries;
}

/** The composite index a query needs, or undefined when single-field indexes serve it. */
export function indexNeed(q: Pick<Query, 'collection' | 'ops'>): IndexNeed | undefined {
  const equalities = [
    ...new Set(q.ops.filter((o) => o.method === 'where' && EQUALITY.has(o.operator!)).map((o) => o.field)),
  ];
  const orders: { field: string; order: Order }[] = [];
  for (const o of q.ops) {
    if (o.method === 'orderBy' && !orders.some((x) => x.field === o.field))
      orders.push({ field: o.field, order: o.order! });
  }
  // An inequality orders by its field first (Firestore adds the order when the query does not).
  for (const o of q.ops) {
    if (o.method === 'where' && !EQUALITY.has(o.operator!) && !orders.some((x) => x.field === o.field)) {
      orders.unshift({ field: o.field, order: 'ASCENDING' });
    }
  }
  const ordersOnEqualities = orders.filter((o) => !equalities.includes(o.field));
  if (ordersOnEqualities.length === 0) return undefined;
  if (equalities.length === 0 && ordersOnEqualities.length === 1) return undefined;
  return { collection: q.collection, equalities: equalities.sort(), orders: ordersOnEqualities };
}

const sourceFiles = () =>
  SOURCES.flatMap((g) => globSync(g, { cwd: ROOT }))
    .map((f) => `${ROOT}${f}`)
    .sort();
const indexes = () => parseFirestoreIndexes(readFileSync(`${ROOT}firestore.indexes.json`, 'utf8'));

function serves(
  ix: { collectionGroup: string; fields: readonly { fieldPath: string; order: string }[] },
  need: IndexNeed,
): boolean {
  if (ix.collectionGroup !== `${PREFIX}${need.collection}`) return false;
  const eq = ix.fields
    .slice(0, need.equalities.length)
    .map((f) => f.fieldPath)
    .sort();
  const rest = ix.fields.slice(need.equalities.length);
  return (
    JSON.stringify(eq) === JSON.stringify(need.equalities) &&
    rest.length === need.orders.length &&
    rest.every((f, i) => f.fieldPath === need.orders[i]!.field && f.order === need.orders[i]!.order)
  );
}

test('indexNeed follows Firestore rules', () => {
  const w = (field: string, operator: string): Op => ({ method: 'where', field, operator });
  const o = (field: string, order: Order = 'ASCENDING'): Op => ({ method: 'orderBy', field, order });
  const cases: { name: string; ops: Op[]; expected: IndexNeed | undefined }[] = [
    { name: 'equalities only (index merging)', ops: [w('a', '=='), w('b', 'in')], expected: undefined },
    { name: 'one range on one field', ops: [w('t', '>='), o('t', 'DESCENDING')], expected: undefined },
    {
      name: 'equality then range',
      ops: [w('s', '=='), w('d', '<='), o('d')],
      expected: { collection: 'c', equalities: ['s'], orders: [{ field: 'd', order: 'ASCENDING' }] },
    },
    {
      name: 'range without its orderBy orders by it implicitly',
      ops: [w('s', '=='), w('d', '<')],
      expected: { collection: 'c', equalities: ['s'], orders: [{ field: 'd', order: 'ASCENDING' }] },
    },
    {
      name: 'two orders',
      ops: [o('a'), o('b', 'DESCENDING')],
      expected: {
        collection: 'c',
        equalities: [],
        orders: [
          { field: 'a', order: 'ASCENDING' },
          { field: 'b', order: 'DESCENDING' },
        ],
      },
    },
    { name: 'order on an equality field is free', ops: [w('a', '=='), o('a')], expected: undefined },
  ];
  for (const c of cases) assert.deepEqual(indexNeed({ collection: 'c', ops: c.ops }), c.expected, c.name);
});

test('the check reads real query chains: through a method and a variable, and refuses what it cannot follow', () => {
  const file = `${ROOT}.streamjoin/query-fixture.ts`;
  const src = ts.createSourceFile(
    file,
    `class F { q(t) { return this.d.collections.outbox.where('table', '==', t).orderBy('createdAt'); }
       r(t) { let q = this.q(t).where('createdAt', '<=', 1); return q.limit(2); } }`,
    ts.ScriptTarget.Latest,
    true,
  );
  const top = find(src, (n): n is ts.ReturnStatement => ts.isReturnStatement(n))[1]!.expression!;
  assert.deepEqual(resolve(src, top), {
    collection: 'outbox',
    ops: [
      { method: 'where', field: 'table', operator: '==' },
      { method: 'orderBy', field: 'createdAt', order: 'ASCENDING' },
      { method: 'where', field: 'createdAt', operator: '<=' },
    ],
  });
  const bad = ts.createSourceFile(
    file,
    `const x = someQuery().where(field, '==', 1);`,
    ts.ScriptTarget.Latest,
    true,
  );
  const call = find(
    bad,
    (n): n is ts.CallExpression => ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression),
  )[0]!;
  assert.throws(() => resolve(bad, call), /query field must be a string literal/);
});

test('firestore.indexes.json has exactly the composite indexes the queries need, and exempts no field a query relies on', () => {
  const queries = findQueries(sourceFiles());
  assert.ok(queries.length >= 8, `found only ${queries.length} queries: the search is broken`);
  const file = indexes();
  const problems: string[] = [];
  const used = new Set<number>();
  for (const q of queries) {
    const need = indexNeed(q);
    if (need === undefined) {
      // Served by single-field indexes: none of its fields may be exempt.
      for (const op of q.ops) {
        const exempt = file.fieldOverrides.find(
          (f) =>
            f.exemptFromIndexing &&
            f.collectionGroup === `${PREFIX}${q.collection}` &&
            f.fieldPath === op.field,
        );
        if (exempt !== undefined) {
          problems.push(
            `${q.at}: the query on ${q.collection}.${op.field} needs its single-field index, but firestore.indexes.json exempts it`,
          );
        }
      }
      continue;
    }
    const i = file.indexes.findIndex((ix) => serves(ix, need));
    if (i < 0) {
      problems.push(
        `${q.at}: the query needs a composite index on ${PREFIX}${need.collection} (${[...need.equalities.map((f) => `${f} ==`), ...need.orders.map((o) => `${o.field} ${o.order}`)].join(', ')}), and firestore.indexes.json has none`,
      );
    } else {
      used.add(i);
    }
  }
  file.indexes.forEach((ix, i) => {
    if (!used.has(i)) {
      problems.push(
        `firestore.indexes.json: the composite index on ${ix.collectionGroup} (${ix.fields.map((f) => `${f.fieldPath} ${f.order}`).join(', ')}) serves no query: remove it (every index costs a write per document change)`,
      );
    }
  });
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('docs/deploy.md lists every index exemption and TTL field of firestore.indexes.json', () => {
  const docs = readFileSync(`${ROOT}docs/deploy.md`, 'utf8');
  for (const f of indexes().fieldOverrides) {
    const name = `${f.collectionGroup.slice(PREFIX.length)}.${f.fieldPath}`;
    assert.ok(
      docs.includes(`\`<prefix>_${name}\``),
      `docs/deploy.md does not list ${f.collectionGroup}.${f.fieldPath}`,
    );
  }
});
