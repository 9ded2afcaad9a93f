// The expectations that decide whether a step is already done, against describe outputs shaped like
// gcloud's (missing fields, extra fields, the implicit __name__ index field, conditional bindings).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Expectation, isMet } from '../../../infra/gcp/expect.ts';

const index = (cg: string, fields: [string, string][], state = 'READY') => ({
  name: `projects/p/databases/(default)/collectionGroups/${cg}/indexes/CICAg`,
  queryScope: 'COLLECTION',
  state,
  fields: [
    ...fields.map(([fieldPath, order]) => ({ fieldPath, order })),
    { fieldPath: '__name__', order: 'ASCENDING' },
  ],
});
const wanted: Expectation = {
  kind: 'composite-index',
  collectionGroup: 'x_states',
  queryScope: 'COLLECTION',
  fields: [
    { fieldPath: 'status', order: 'ASCENDING' },
    { fieldPath: 'deadline', order: 'ASCENDING' },
  ],
};
const member = 'serviceAccount:a@p.iam.gserviceaccount.com';

const cases: { name: string; doc: unknown; e: Expectation; expected: boolean }[] = [
  { name: 'equals true', doc: { a: { b: 1 } }, e: { kind: 'equals', path: 'a.b', value: 1 }, expected: true },
  {
    name: 'equals other',
    doc: { a: { b: 2 } },
    e: { kind: 'equals', path: 'a.b', value: 1 },
    expected: false,
  },
  {
    name: 'equals on a missing field',
    doc: {},
    e: { kind: 'equals', path: 'a.b', value: 1 },
    expected: false,
  },
  {
    name: 'missing counts as null',
    doc: {},
    e: { kind: 'one-of', path: 'x', values: [false, null] },
    expected: true,
  },
  {
    name: 'one-of miss',
    doc: { x: true },
    e: { kind: 'one-of', path: 'x', values: [false, null] },
    expected: false,
  },
  {
    name: 'includes subset',
    doc: { env: { A: '1', B: '2', LOG_EXECUTION_ID: 'true' } },
    e: { kind: 'includes', path: 'env', value: { A: '1', B: '2' } },
    expected: true,
  },
  {
    name: 'includes changed value',
    doc: { env: { A: '1', B: '3' } },
    e: { kind: 'includes', path: 'env', value: { A: '1', B: '2' } },
    expected: false,
  },
  {
    name: 'includes missing object',
    doc: {},
    e: { kind: 'includes', path: 'env', value: { A: '1' } },
    expected: false,
  },
  {
    name: 'empty absent',
    doc: { indexConfig: {} },
    e: { kind: 'empty', path: 'indexConfig.indexes' },
    expected: true,
  },
  {
    name: 'empty list',
    doc: { indexConfig: { indexes: [] } },
    e: { kind: 'empty', path: 'indexConfig.indexes' },
    expected: true,
  },
  {
    name: 'not empty',
    doc: { indexConfig: { indexes: [{}] } },
    e: { kind: 'empty', path: 'indexConfig.indexes' },
    expected: false,
  },
  {
    name: 'binding present',
    doc: { bindings: [{ role: 'roles/x', members: ['user:b', member] }] },
    e: { kind: 'iam-binding', role: 'roles/x', member },
    expected: true,
  },
  {
    name: 'binding other role',
    doc: { bindings: [{ role: 'roles/y', members: [member] }] },
    e: { kind: 'iam-binding', role: 'roles/x', member },
    expected: false,
  },
  {
    name: 'binding only under a condition',
    doc: { bindings: [{ role: 'roles/x', members: [member], condition: { expression: 'false' } }] },
    e: { kind: 'iam-binding', role: 'roles/x', member },
    expected: false,
  },
  {
    name: 'empty policy',
    doc: { etag: 'ACAB' },
    e: { kind: 'iam-binding', role: 'roles/x', member },
    expected: false,
  },
  {
    name: 'services all on',
    doc: [{ config: { name: 'a.googleapis.com' } }, { name: 'projects/1/services/b.googleapis.com' }],
    e: { kind: 'services-enabled', names: ['a.googleapis.com', 'b.googleapis.com'] },
    expected: true,
  },
  {
    name: 'services one off',
    doc: [{ config: { name: 'a.googleapis.com' } }],
    e: { kind: 'services-enabled', names: ['a.googleapis.com', 'b.googleapis.com'] },
    expected: false,
  },
  {
    name: 'index present (with __name__)',
    doc: [
      index('x_states', [
        ['status', 'ASCENDING'],
        ['deadline', 'ASCENDING'],
      ]),
    ],
    e: wanted,
    expected: true,
  },
  {
    name: 'index still building counts',
    doc: [
      index(
        'x_states',
        [
          ['status', 'ASCENDING'],
          ['deadline', 'ASCENDING'],
        ],
        'CREATING',
      ),
    ],
    e: wanted,
    expected: true,
  },
  {
    name: 'index needing repair does not',
    doc: [
      index(
        'x_states',
        [
          ['status', 'ASCENDING'],
          ['deadline', 'ASCENDING'],
        ],
        'NEEDS_REPAIR',
      ),
    ],
    e: wanted,
    expected: false,
  },
  {
    name: 'index on another collection',
    doc: [
      index('y_states', [
        ['status', 'ASCENDING'],
        ['deadline', 'ASCENDING'],
      ]),
    ],
    e: wanted,
    expected: false,
  },
  {
    name: 'index with another order',
    doc: [
      index('x_states', [
        ['status', 'ASCENDING'],
        ['deadline', 'DESCENDING'],
      ]),
    ],
    e: wanted,
    expected: false,
  },
  {
    name: 'index with a field more',
    doc: [
      index('x_states', [
        ['status', 'ASCENDING'],
        ['deadline', 'ASCENDING'],
        ['z', 'ASCENDING'],
      ]),
    ],
    e: wanted,
    expected: false,
  },
  { name: 'no indexes', doc: [], e: wanted, expected: false },
];

test('isMet', () => {
  for (const c of cases) assert.equal(isMet(c.doc, c.e), c.expected, c.name);
});
