// Schema updates as data (shared/iceberg/spec/updates.ts): `add-schema` + `set-current-schema` and the
// requirements a schema change is planned with, table-driven; the metadata round-trips through the codec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeTableMetadata,
  encodeTableMetadataBytes,
} from '../../../shared/iceberg/spec/metadata-codec.ts';
import type { Schema, TableMetadata } from '../../../shared/iceberg/spec/types.ts';
import {
  applyUpdates,
  checkRequirements,
  newTableMetadata,
  type TableRequirement,
  type TableUpdate,
} from '../../../shared/iceberg/spec/updates.ts';
import { JOINED_TABLE } from '../../../shared/tables.ts';

const base = newTableMetadata(JOINED_TABLE, 'file:///wh/default/orders_payments', 1_000);
const ctx = {
  nowMs: 2_000,
  baseMetadataFile: 'file:///wh/default/orders_payments/metadata/v1.metadata.json',
};
const current = base.schemas[0]!;
const withCurrency: Schema = {
  schemaId: 1,
  fields: [...current.fields, { id: 10, name: 'currency', required: false, type: 'string' }],
};

describe('schema updates', () => {
  it('add-schema + set-current-schema: the new schema is current, last-column-id raised, the old one kept', () => {
    const next = applyUpdates(
      base,
      [
        { action: 'add-schema', schema: withCurrency, lastColumnId: 10 },
        { action: 'set-current-schema', schemaId: 1 },
      ],
      ctx,
    );
    assert.equal(next.currentSchemaId, 1);
    assert.equal(next.lastColumnId, 10);
    assert.deepEqual(
      next.schemas.map((s) => s.schemaId),
      [0, 1],
    );
    assert.equal(next.currentSnapshotId, base.currentSnapshotId);
    const r = decodeTableMetadata(new TextDecoder().decode(encodeTableMetadataBytes(next)));
    assert.ok(r.ok, JSON.stringify(r));
    const decoded: TableMetadata = r.value;
    assert.equal(decoded.currentSchemaId, 1);
    assert.equal(decoded.lastColumnId, 10);
    assert.deepEqual(decoded.schemas[1]!.fields.at(-1), {
      id: 10,
      name: 'currency',
      required: false,
      type: 'string',
    });
  });

  const refused: Array<{ name: string; updates: TableUpdate[]; message: RegExp }> = [
    {
      name: 'a schema id the table has',
      updates: [{ action: 'add-schema', schema: { ...withCurrency, schemaId: 0 }, lastColumnId: 10 }],
      message: /expected a new schema id, but 0 is already in the table/,
    },
    {
      name: 'a field id above the last column id it brings',
      updates: [{ action: 'add-schema', schema: withCurrency, lastColumnId: 9 }],
      message: /expected the schema's field ids to be at most its last column id 9, but it has 10/,
    },
    {
      name: 'a current schema the table does not have',
      updates: [{ action: 'set-current-schema', schemaId: 7 }],
      message: /expected schema 7 to be in the table, but it is not/,
    },
  ];
  for (const c of refused) {
    it(`refused: ${c.name}`, () => {
      assert.throws(() => applyUpdates(base, c.updates, ctx), c.message);
    });
  }

  const requirements: Array<{ name: string; req: TableRequirement; problem: RegExp | undefined }> = [
    {
      name: 'current schema as planned',
      req: { type: 'assert-current-schema-id', currentSchemaId: 0 },
      problem: undefined,
    },
    {
      name: 'current schema changed since',
      req: { type: 'assert-current-schema-id', currentSchemaId: 3 },
      problem: /expected current schema 3, but the table's is 0/,
    },
    {
      name: 'last assigned field id as planned',
      req: { type: 'assert-last-assigned-field-id', lastAssignedFieldId: 9 },
      problem: undefined,
    },
    {
      name: 'a field id assigned since',
      req: { type: 'assert-last-assigned-field-id', lastAssignedFieldId: 8 },
      problem: /expected last assigned field id 8, but the table's is 9/,
    },
  ];
  for (const c of requirements) {
    it(`requirement: ${c.name}`, () => {
      const problem = checkRequirements(base, [c.req]);
      if (c.problem === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', c.problem);
    });
  }
});
