// firestore.indexes.json: the repository's file parses; bad files are refused with the place and value.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseFirestoreIndexes, withCollectionPrefix } from '../../../infra/gcp/indexes.ts';
import { ROOT } from './sample.ts';

// That these are exactly the indexes the code's queries need is checked from the code itself:
// indexes-queries.test.ts.
test("the repository's firestore.indexes.json parses into the four composite indexes", () => {
  const parsed = parseFirestoreIndexes(readFileSync(`${ROOT}firestore.indexes.json`, 'utf8'));
  const shape = parsed.indexes.map(
    (ix) => `${ix.collectionGroup}(${ix.fields.map((f) => `${f.fieldPath} ${f.order}`).join(', ')})`,
  );
  assert.deepEqual(shape, [
    // evict.ts: deadlineShard == s, deadline <= now, orderBy deadline
    'streamjoin_states(deadlineShard ASCENDING, deadline ASCENDING)',
    // flush.ts: table == t, shard == s, createdAt <= cutoff, orderBy createdAt, rowId
    'streamjoin_outbox(table ASCENDING, shard ASCENDING, createdAt ASCENDING, rowId ASCENDING)',
    // compact.ts (table == t, status == staged) needs none: equality filters merge single-field indexes.
    // cli/status-collect.ts: status == s, orderBy createdAt, limit 1 (the oldest claimed/staged batch)
    'streamjoin_batches(status ASCENDING, createdAt ASCENDING)',
    // cli/status-collect.ts: outcome in [ingested, quarantined], landedAt >= window start, count()
    'streamjoin_files(outcome ASCENDING, landedAt ASCENDING)',
  ]);
  assert.deepEqual(parsed.fieldOverrides, [
    { collectionGroup: 'streamjoin_states', fieldPath: 'expireAt', ttl: true, exemptFromIndexing: true },
    // Never filtered or ordered on: big maps and ids that would otherwise cost an index write per field.
    { collectionGroup: 'streamjoin_states', fieldPath: 's', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_states', fieldPath: 'orderId', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_states', fieldPath: 'updatedAt', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_outbox', fieldPath: 'row', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_outbox', fieldPath: 'orderId', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_batches', fieldPath: 'files', ttl: false, exemptFromIndexing: true },
    // Retention of bookkeeping: committed batches (TTL field, never queried).
    { collectionGroup: 'streamjoin_batches', fieldPath: 'expireAt', ttl: true, exemptFromIndexing: true },
    // The per-object ledger (and large files' progress): entries expire after the ledger retention; read
    // by id, never queried by these.
    { collectionGroup: 'streamjoin_files', fieldPath: 'expireAt', ttl: true, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_rejects', fieldPath: 'expireAt', ttl: true, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_files', fieldPath: 'file', ttl: false, exemptFromIndexing: true },
    { collectionGroup: 'streamjoin_files', fieldPath: 'object', ttl: false, exemptFromIndexing: true },
  ]);
});

test('withCollectionPrefix renames only the default-prefixed collections', () => {
  const renamed = withCollectionPrefix(
    {
      indexes: [
        { collectionGroup: 'streamjoin_states', queryScope: 'COLLECTION', fields: [] },
        { collectionGroup: 'other', queryScope: 'COLLECTION', fields: [] },
      ],
      fieldOverrides: [
        { collectionGroup: 'streamjoin_states', fieldPath: 'expireAt', ttl: true, exemptFromIndexing: false },
      ],
    },
    'acme',
  );
  assert.deepEqual(
    renamed.indexes.map((i) => i.collectionGroup),
    ['acme_states', 'other'],
  );
  assert.equal(renamed.fieldOverrides[0]!.collectionGroup, 'acme_states');
});

test('bad index files are refused with the place and the value', () => {
  const cases = [
    { name: 'not JSON', input: '{', expected: /must be JSON/ },
    {
      name: 'indexes not a list',
      input: '{"indexes": {}}',
      expected: /indexes must be a list, but was: \{\}/,
    },
    {
      name: 'bad order',
      input:
        '{"indexes":[{"collectionGroup":"a","fields":[{"fieldPath":"x","order":"UP"},{"fieldPath":"y","order":"ASCENDING"}]}]}',
      expected: /indexes\[0\]\.fields\[0\] order must be ASCENDING or DESCENDING, but was: "UP"/,
    },
    {
      name: 'one field',
      input: '{"indexes":[{"collectionGroup":"a","fields":[{"fieldPath":"x","order":"ASCENDING"}]}]}',
      expected: /at least two fields/,
    },
    {
      name: 'per-field index list',
      input: '{"fieldOverrides":[{"collectionGroup":"a","fieldPath":"f","indexes":[{"order":"ASCENDING"}]}]}',
      expected: /fieldOverrides\[0\] indexes must be \[\]/,
    },
  ];
  for (const c of cases) assert.throws(() => parseFirestoreIndexes(c.input), c.expected, c.name);
});
