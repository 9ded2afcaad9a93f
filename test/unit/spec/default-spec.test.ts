// The shipped default spec (specs/orders-payments.json) is today's pipeline bit for bit: the tables of
// shared/tables.ts (names, columns, field ids, types, nullability, docs, partitioning) and their Iceberg
// schemas, the reasons, the prefixes, timeouts and lateness of shared/config.ts, and the record contract
// of shared/ingest/validate.ts. Derived here from the spec and compared with what the code defines now.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../shared/config.ts';
import { partitionSpecFromTableDef, schemaFromTableDef } from '../../../shared/iceberg/spec/schema.ts';
import { validateOrder, validatePayment } from '../../../shared/ingest/validate.ts';
import { joinSpecJsonSchema } from '../../../shared/spec/json-schema.ts';
import { defaultJoinSpec, loadJoinSpec } from '../../../shared/spec/load.ts';
import { reasonList } from '../../../shared/spec/model.ts';
import { newPartitionSpec, newTableDef, newTableSchema, tableDefsOf } from '../../../shared/spec/tables.ts';
import { validateJoinSpec } from '../../../shared/spec/validate.ts';
import { TABLE_KINDS, TABLES, UNMATCHED_REASONS } from '../../../shared/tables.ts';

const spec = defaultJoinSpec();

describe('default spec: the tables of shared/tables.ts', () => {
  for (const kind of TABLE_KINDS) {
    it(`${kind}: columns, field ids, types, nullability and docs`, () => {
      const def = newTableDef(spec, kind);
      const derived = def.columns.map((c) => ({
        id: c.id,
        name: c.name,
        type: c.type,
        required: c.required,
        ...(c.doc === undefined ? {} : { doc: c.doc }),
      }));
      assert.deepEqual(derived, TABLES[kind].columns);
    });
    it(`${kind}: partitioned by day() of the same column, partition field id and name`, () => {
      const def = newTableDef(spec, kind);
      assert.equal(def.partition.length, 1);
      const p = def.partition[0]!;
      assert.deepEqual(
        { source: p.sourceName, fieldId: p.fieldId, name: p.name, transform: p.transform },
        TABLES[kind].partition[0],
      );
    });
    it(`${kind}: the same Iceberg schema and partition spec as a table created today`, () => {
      const today = schemaFromTableDef(TABLES[kind]);
      assert.deepEqual(newTableSchema(spec, kind), today);
      assert.deepEqual(newPartitionSpec(spec, kind), partitionSpecFromTableDef(TABLES[kind], today));
    });
  }

  it('the table definitions the pipeline writes with (tableDefsOf) are TABLES, exactly', () => {
    assert.deepEqual(tableDefsOf(spec), TABLES);
    assert.deepEqual(tableDefsOf(loadConfig({}).joinSpec), TABLES);
  });

  it('tableDefsOf takes any column type and partition of another spec (the example spec)', () => {
    const other = tableDefsOf(loadJoinSpec('specs/shipments-deliveries.yaml'));
    assert.deepEqual(
      other.joined.columns.map((c) => [c.id, c.name, c.type, c.required]),
      [
        [1, 'shipment_id', 'string', true],
        [2, 'carrier', 'string', true],
        [3, 'weight_kg', 'double', true],
        [4, 'declared_value', 'decimal(12, 2)', true],
        [5, 'shipped_at', 'timestamp', true],
        [6, 'fragile', 'boolean', false],
        [7, 'scan_id', 'string', true],
        [8, 'delivered_at', 'timestamptz', true],
        [9, 'delivery_date', 'date', true],
        [10, 'attempts', 'long', true],
        [11, 'signed_by', 'string', false],
        [12, 'matched_at', 'timestamptz', true],
      ],
    );
    assert.deepEqual(other.joined.partition, [
      { source: 'delivered_at', fieldId: 1000, name: 'delivered_at_day', transform: 'day' },
    ]);
    assert.deepEqual(other.unmatched.partition, [
      { source: 'emitted_at', fieldId: 1000, name: 'emitted_at_day', transform: 'day' },
    ]);
  });

  it('the table names and namespace are the configured defaults', () => {
    const c = loadConfig({});
    assert.equal(spec.namespace, c.namespace);
    assert.equal(spec.joined.name, c.joinedTable);
    assert.equal(spec.unmatched.name, c.unmatchedTable);
  });
});

describe('default spec: the join', () => {
  it('reasons follow from the stream names and are DESIGN §3 in order', () => {
    assert.deepEqual(reasonList(spec.reasons), [...UNMATCHED_REASONS]);
  });
  it('prefixes, timeouts and the allowed lateness are the configured defaults', () => {
    const c = loadConfig({});
    assert.deepEqual(
      [
        spec.left.prefix,
        spec.right.prefix,
        spec.left.timeoutMs,
        spec.right.timeoutMs,
        spec.allowedLatenessMs,
      ],
      [c.ordersPrefix, c.paymentsPrefix, c.orderTimeoutMs, c.paymentTimeoutMs, c.allowedLatenessMs],
    );
  });
  it('orders are unique per order_id; payments are told apart by payment_id', () => {
    assert.deepEqual(
      [spec.left.name, spec.left.key, spec.left.identity],
      ['order', 'order_id', ['order_id']],
    );
    assert.deepEqual(
      [spec.right.name, spec.right.key, spec.right.identity],
      ['payment', 'order_id', ['payment_id']],
    );
  });

  // The stream fields are exactly what validate.ts requires: a record of them passes, and removing any one
  // of them makes it fail on that field (so no field is missing from the spec and none is extra).
  const samples = {
    left: { record: (t: string) => (t === 'int' ? 1250 : 'x1'), validate: validateOrder },
    right: { record: (t: string) => (t === 'int' ? 1250 : 'x1'), validate: validatePayment },
  } as const;
  for (const side of ['left', 'right'] as const) {
    it(`${side} fields are the record contract of shared/ingest/validate.ts`, () => {
      const s = spec[side];
      const record = Object.fromEntries(s.fields.map((f) => [f.name, samples[side].record(f.type)]));
      assert.equal(samples[side].validate(record).ok, true);
      for (const f of s.fields) {
        assert.equal(f.nullable, false, `${f.name} is required today`);
        const { [f.name]: _gone, ...rest } = record;
        const r = samples[side].validate(rest);
        assert.equal(r.ok, false);
        if (!r.ok)
          assert.deepEqual(
            r.issues.map((i) => [i.code, i.path.field]),
            [['missing-field', f.name]],
          );
        // The type: a string where an int is expected (and the reverse) is refused.
        const wrong = { ...record, [f.name]: f.type === 'int' ? '12' : 12 };
        assert.equal(samples[side].validate(wrong).ok, false, `${f.name} must be ${f.type}`);
      }
    });
  }
});

describe('default spec: the file', () => {
  it('loadJoinSpec() without a file is the shipped file', () => {
    const file = JSON.parse(readFileSync('specs/orders-payments.json', 'utf8'));
    const r = validateJoinSpec(file);
    assert.equal(r.ok, true);
    if (r.ok) assert.deepEqual(r.spec, loadJoinSpec(undefined));
    assert.deepEqual(loadJoinSpec('specs/orders-payments.json'), spec);
  });
});

describe('specs/join-spec.schema.json', () => {
  it('is the JSON Schema generated from the spec format (regenerate: node shared/spec/json-schema.ts)', () => {
    const shipped = JSON.parse(readFileSync('specs/join-spec.schema.json', 'utf8'));
    assert.deepEqual(shipped, JSON.parse(joinSpecJsonSchema()));
  });
});
