// Writing into a table other engines changed: transforms computed as the spec (and Java) compute them,
// partition paths as Java names them, and the layout of the pipeline's rows in the table's current
// schema and spec — or the problems that stop it, each saying what to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyTransform, bucketHash, partitionPath } from '../../../shared/iceberg/spec/transforms.ts';
import { parseTransform } from '../../../shared/iceberg/spec/type-info.ts';
import type { NestedField, PartitionSpec, TableMetadata } from '../../../shared/iceberg/spec/types.ts';
import { newTableMetadata } from '../../../shared/iceberg/spec/updates.ts';
import { planTableWrite, writerSettingsOf } from '../../../shared/iceberg/write-layout.ts';
import { JOINED_TABLE, UNMATCHED_TABLE } from '../../../shared/tables.ts';

describe('bucket hashing (spec Appendix B test vectors)', () => {
  const uuid = new Uint8Array(Buffer.from('f79c3e09677c4bbda4793f349cb785e7', 'hex'));
  const cases: { type: string; value: unknown; hash: number }[] = [
    { type: 'int', value: 34, hash: 2017239379 },
    { type: 'long', value: 34n, hash: 2017239379 },
    { type: 'decimal(4, 2)', value: 1420n, hash: -500754589 },
    { type: 'date', value: 17486, hash: -653330422 },
    { type: 'time', value: 81068000000n, hash: -662762989 },
    { type: 'timestamp', value: 1510871468000000n, hash: -2047944441 },
    { type: 'timestamptz', value: 1510871468000000n, hash: -2047944441 },
    { type: 'string', value: 'iceberg', hash: 1210000089 },
    { type: 'uuid', value: uuid, hash: 1488055340 },
    { type: 'uuid', value: 'f79c3e09-677c-4bbd-a479-3f349cb785e7', hash: 1488055340 },
    { type: 'fixed[4]', value: Uint8Array.of(0, 1, 2, 3), hash: -188683207 },
    { type: 'binary', value: Uint8Array.of(0, 1, 2, 3), hash: -188683207 },
  ];
  for (const c of cases) {
    it(`${c.type} ${String(c.value)} hashes to ${c.hash}`, () =>
      assert.equal(bucketHash(c.type, c.value), c.hash));
  }
  it('bucket[N] is (hash & Integer.MAX_VALUE) % N', () => {
    assert.equal(
      applyTransform(parseTransform('bucket[16]'), 'string', 'iceberg'),
      (1210000089 & 0x7fffffff) % 16,
    );
    assert.equal(
      applyTransform(parseTransform('bucket[100]'), 'long', -188683207n),
      (bucketHash('long', -188683207n) & 0x7fffffff) % 100,
    );
  });
});

describe('transforms', () => {
  const ts = 1_714_567_890_123_456n; // 2024-05-01T12:51:30.123456Z
  const cases: { name: string; transform: string; type: string; value: unknown; expected: unknown }[] = [
    { name: 'identity string', transform: 'identity', type: 'string', value: 'a b', expected: 'a b' },
    { name: 'identity timestamptz', transform: 'identity', type: 'timestamptz', value: ts, expected: ts },
    { name: 'null stays null', transform: 'bucket[4]', type: 'string', value: null, expected: null },
    { name: 'void is null', transform: 'void', type: 'string', value: 'x', expected: null },
    { name: 'truncate int', transform: 'truncate[10]', type: 'int', value: 1, expected: 0 },
    { name: 'truncate negative int', transform: 'truncate[10]', type: 'int', value: -1, expected: -10 },
    { name: 'truncate long', transform: 'truncate[10]', type: 'long', value: -1n, expected: -10n },
    // Java's int/long arithmetic wraps near the minimum (TruncateInteger): the result stays an int/long.
    {
      name: 'truncate int at its minimum',
      transform: 'truncate[10]',
      type: 'int',
      value: -2147483648,
      expected: 2147483646,
    },
    {
      name: 'truncate long at its minimum',
      transform: 'truncate[10]',
      type: 'long',
      value: -(2n ** 63n),
      expected: 2n ** 63n - 2n,
    },
    {
      name: 'truncate string by code points',
      transform: 'truncate[3]',
      type: 'string',
      value: 'a😀bc',
      expected: 'a😀b',
    },
    { name: 'year of a timestamp', transform: 'year', type: 'timestamptz', value: ts, expected: 54 },
    {
      name: 'month of a timestamp',
      transform: 'month',
      type: 'timestamptz',
      value: ts,
      expected: 54 * 12 + 4,
    },
    { name: 'day of a timestamp', transform: 'day', type: 'timestamptz', value: ts, expected: 19844 },
    { name: 'day before 1970', transform: 'day', type: 'timestamp', value: -1n, expected: -1 },
    {
      name: 'hour of a timestamp',
      transform: 'hour',
      type: 'timestamptz',
      value: ts,
      expected: 19844 * 24 + 12,
    },
    { name: 'month of a date', transform: 'month', type: 'date', value: 19844, expected: 54 * 12 + 4 },
  ];
  for (const c of cases) {
    it(c.name, () =>
      assert.deepEqual(applyTransform(parseTransform(c.transform), c.type, c.value), c.expected),
    );
  }
  it('truncates a decimal`s unscaled value into fixed bytes of the precision`s size', () => {
    const v = applyTransform(parseTransform('truncate[50]'), 'decimal(9, 2)', 1065n); // 10.65 -> 10.50
    assert.deepEqual(v, Uint8Array.of(0, 0, 0x04, 0x1a));
  });
  it('names partition directories as Java does', () => {
    const f = (name: string, t: string, resultType: string) => ({
      name,
      transform: parseTransform(t),
      resultType,
    });
    assert.equal(
      partitionPath(
        [
          f('joined_at_day', 'day', 'date'),
          f('h', 'hour', 'int'),
          f('m', 'month', 'int'),
          f('s', 'identity', 'string'),
          f('b', 'bucket[8]', 'int'),
        ],
        [19844, 19844 * 24 + 12, 54 * 12 + 4, 'a b/c', null],
      ),
      'joined_at_day=2024-05-01/h=2024-05-01-12/m=2024-05/s=a+b%2Fc/b=null',
    );
  });
});

function withSchema(md: TableMetadata, fields: readonly NestedField[], spec?: PartitionSpec): TableMetadata {
  return {
    ...md,
    schemas: [...md.schemas, { schemaId: 1, fields }],
    currentSchemaId: 1,
    ...(spec === undefined
      ? {}
      : { partitionSpecs: [...md.partitionSpecs, spec], defaultSpecId: spec.specId }),
  };
}

describe('the layout of the pipeline`s rows in a table another engine changed', () => {
  const base = newTableMetadata(JOINED_TABLE, 'file:///wh/t', 1);
  const ours = base.schemas[0]!.fields;

  it('as created: every column ours, day(joined_at)', () => {
    const plan = planTableWrite(JOINED_TABLE, base, 'joined');
    assert.ok(plan.ok);
    assert.equal(plan.layout.id, 's0-p0');
    assert.deepEqual(
      plan.layout.fileSchema.columns.map((c) => c.key),
      ours.map((f) => f.name),
    );
  });

  it('a column another engine added is written as null; a renamed column keeps its id and our value', () => {
    const fields: NestedField[] = [
      ...ours.map((f) => (f.id === 4 ? { ...f, name: 'customer' } : f)),
      { id: 10, name: 'discount', required: false, type: 'decimal(10, 2)' },
      {
        id: 11,
        name: 'tags',
        required: false,
        type: { type: 'list', elementId: 12, element: 'string', elementRequired: false },
      },
    ];
    const plan = planTableWrite(JOINED_TABLE, withSchema(base, fields), 'joined');
    assert.ok(plan.ok);
    const cols = plan.layout.fileSchema.columns;
    assert.deepEqual(
      cols.map((c) => [c.field.name, c.key ?? null]),
      [
        ['order_id', 'order_id'],
        ['order_date', 'order_date'],
        ['created_at', 'created_at'],
        ['customer', 'customer_id'],
        ['order_amount', 'order_amount'],
        ['payment_id', 'payment_id'],
        ['payment_date', 'payment_date'],
        ['payment_amount', 'payment_amount'],
        ['joined_at', 'joined_at'],
        ['discount', null],
        ['tags', null],
      ],
    );
    assert.equal(plan.layout.id, 's1-p0');
  });

  const blocked: { name: string; md: () => TableMetadata; change: RegExp }[] = [
    {
      name: 'a column we write dropped',
      md: () =>
        withSchema(
          base,
          ours.filter((f) => f.id !== 5),
        ),
      change: /column "order_amount" \(field id 5\), which the pipeline writes, was dropped/,
    },
    {
      name: 'a column we write retyped',
      md: () =>
        withSchema(
          base,
          ours.map((f) => (f.id === 5 ? { ...f, type: 'long' } : f)),
        ),
      change: /column "order_amount" \(field id 5\) is long in the table, but the pipeline writes int/,
    },
    {
      name: 'a required column we have no value for',
      md: () => withSchema(base, [...ours, { id: 10, name: 'region', required: true, type: 'string' }]),
      change: /column "region" \(field id 10\) is required, but the pipeline has no value for it/,
    },
    {
      name: 'a transform this writer cannot compute',
      md: () =>
        withSchema(base, ours, {
          specId: 1,
          fields: [{ sourceId: 9, fieldId: 1001, name: 'z', transform: 'zorder' }],
        }),
      change:
        /partition field "z" \(spec 1\) is zorder of timestamptz: a transform this writer cannot compute/,
    },
  ];
  for (const c of blocked) {
    it(`stops on ${c.name}, saying what to do`, () => {
      const plan = planTableWrite(JOINED_TABLE, c.md(), 'joined');
      assert.equal(plan.ok, false);
      if (plan.ok) return;
      assert.match(plan.problems[0]!.change, c.change);
      assert.match(plan.problems[0]!.action, /rows wait in the outbox/);
    });
  }

  it('an optional column of ours made required stops the unmatched table (it writes nulls there)', () => {
    const md = newTableMetadata(UNMATCHED_TABLE, 'file:///wh/u', 1);
    const plan = planTableWrite(
      UNMATCHED_TABLE,
      withSchema(
        md,
        md.schemas[0]!.fields.map((f) => (f.id === 2 ? { ...f, required: true } : f)),
      ),
      'unmatched',
    );
    assert.equal(plan.ok, false);
    if (!plan.ok) assert.match(plan.problems[0]!.change, /"order_date" \(field id 2\) was made required/);
  });

  it('computes a bucket/identity partition of another engine`s spec for each row', () => {
    const md = withSchema(base, ours, {
      specId: 1,
      fields: [
        { sourceId: 1, fieldId: 1001, name: 'order_id_bucket', transform: 'bucket[16]' },
        { sourceId: 4, fieldId: 1002, name: 'customer_id', transform: 'identity' },
      ],
    });
    const plan = planTableWrite(JOINED_TABLE, md, 'joined');
    assert.ok(plan.ok);
    const tuple = plan.layout.fileSchema.partition.of({ order_id: 'iceberg', customer_id: 'c-1' });
    assert.deepEqual(tuple.values, { order_id_bucket: (1210000089 & 0x7fffffff) % 16, customer_id: 'c-1' });
    assert.equal(
      plan.layout.pathOf(tuple),
      `order_id_bucket=${(1210000089 & 0x7fffffff) % 16}/customer_id=c-1`,
    );
  });

  const codecs: { props: Record<string, string>; codec: string; level?: number; warn: boolean }[] = [
    { props: {}, codec: 'ZSTD', warn: false },
    { props: { 'write.parquet.compression-codec': 'gzip' }, codec: 'GZIP', warn: false },
    { props: { 'write.parquet.compression-codec': 'SNAPPY' }, codec: 'SNAPPY', warn: false },
    {
      props: { 'write.parquet.compression-codec': 'zstd', 'write.parquet.compression-level': '9' },
      codec: 'ZSTD',
      level: 9,
      warn: false,
    },
    { props: { 'write.parquet.compression-codec': 'lz4' }, codec: 'ZSTD', warn: true },
    {
      props: { 'write.parquet.compression-codec': 'gzip', 'write.parquet.compression-level': '42' },
      codec: 'GZIP',
      warn: true,
    },
  ];
  for (const c of codecs) {
    it(`compression from table properties ${JSON.stringify(c.props)}`, () => {
      const r = writerSettingsOf(c.props);
      assert.equal(r.settings.codec, c.codec);
      assert.equal(r.settings.level, c.level);
      assert.equal(r.warnings.length > 0, c.warn);
    });
  }
});
