// Other engines' metadata survives our commits: a v2 table with every type (nested too), every transform,
// several schemas and specs, tags and branches with retention, statistics, partition statistics and keys
// the model does not know decodes, and encodes back to the same JSON; our updates keep all of it. A v3
// (or v1) table is refused with an issue that says why. Manifests of any partition type round-trip.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeManifestFile, encodeManifest } from '../../../shared/iceberg/spec/manifest-codec.ts';
import { summarizePartitions } from '../../../shared/iceberg/spec/manifests.ts';
import {
  decodeTableMetadata,
  encodeTableMetadata,
  parseJsonWithLongs,
  stringifyJsonWithLongs,
} from '../../../shared/iceberg/spec/metadata-codec.ts';
import { partitionType } from '../../../shared/iceberg/spec/schema.ts';
import { bytesToDecimal, decimalToBytes } from '../../../shared/iceberg/spec/single-value.ts';
import { describeType, parseTransform, transformResultType } from '../../../shared/iceberg/spec/type-info.ts';
import type { ManifestEntry, PartitionSpec, Schema } from '../../../shared/iceberg/spec/types.ts';
import { applyUpdates } from '../../../shared/iceberg/spec/updates.ts';

const BIG = 8_123_456_789_012_345_678n;

/** A v2 table as Spark/Trino/pyiceberg leave it: what our decoder must take and give back verbatim. */
function foreignMetadata(): Record<string, unknown> {
  // As a JSON parser gives it (longs below 2^53 as numbers, above as bigints).
  return parseJsonWithLongs(stringifyJsonWithLongs(foreignMetadataLiteral())) as Record<string, unknown>;
}

function foreignMetadataLiteral(): Record<string, unknown> {
  const allTypes = [
    { id: 1, name: 'order_id', required: true, type: 'string' },
    { id: 2, name: 'flag', required: false, type: 'boolean' },
    { id: 3, name: 'i', required: false, type: 'int' },
    { id: 4, name: 'l', required: false, type: 'long', doc: 'a long' },
    { id: 5, name: 'f', required: false, type: 'float' },
    { id: 6, name: 'd', required: false, type: 'double' },
    { id: 7, name: 'dec', required: false, type: 'decimal(10, 2)' },
    { id: 8, name: 'dec_pyiceberg', required: false, type: 'decimal(38,0)' },
    { id: 9, name: 'day', required: false, type: 'date' },
    { id: 10, name: 't', required: false, type: 'time' },
    { id: 11, name: 'ts', required: false, type: 'timestamp' },
    { id: 12, name: 'tstz', required: true, type: 'timestamptz', 'write-default': null },
    { id: 13, name: 'u', required: false, type: 'uuid' },
    { id: 14, name: 'fx', required: false, type: 'fixed[16]' },
    { id: 15, name: 'b', required: false, type: 'binary' },
    {
      id: 16,
      name: 'tags',
      required: false,
      type: { type: 'list', 'element-id': 17, element: 'string', 'element-required': false },
    },
    {
      id: 18,
      name: 'attrs',
      required: false,
      type: {
        type: 'map',
        'key-id': 19,
        key: 'string',
        'value-id': 20,
        value: {
          type: 'struct',
          fields: [
            { id: 21, name: 'x', required: true, type: 'double' },
            {
              id: 22,
              name: 'ys',
              required: false,
              type: { type: 'list', 'element-id': 23, element: 'decimal(38, 10)', 'element-required': true },
            },
          ],
        },
        'value-required': false,
      },
    },
    {
      id: 24,
      name: 'addr',
      required: false,
      type: { type: 'struct', fields: [{ id: 25, name: 'city', required: false, type: 'string' }] },
    },
  ];
  const snap = (id: bigint, parent: bigint | undefined, seq: number, ts: number, extra = {}) => ({
    'snapshot-id': id,
    ...(parent === undefined ? {} : { 'parent-snapshot-id': parent }),
    'sequence-number': seq,
    'timestamp-ms': ts,
    summary: {
      operation: seq === 1 ? 'append' : 'overwrite',
      'spark.app.id': 'local-1',
      'total-records': '7',
    },
    'manifest-list': `file:///wh/t/metadata/snap-${id}.avro`,
    'schema-id': 1,
    ...extra,
  });
  return {
    'format-version': 2,
    'table-uuid': '9f1c5a58-8a3e-4a57-9d39-3a0f8d3e9b11',
    location: 'file:///wh/t',
    'last-sequence-number': 2,
    'last-updated-ms': 1_700_000_002_000,
    'last-column-id': 25,
    'current-schema-id': 1,
    schemas: [
      { type: 'struct', 'schema-id': 0, fields: allTypes.slice(0, 1) },
      { type: 'struct', 'schema-id': 1, 'identifier-field-ids': [1], fields: allTypes },
    ],
    'default-spec-id': 1,
    'partition-specs': [
      { 'spec-id': 0, fields: [{ name: 'tstz_day', transform: 'day', 'source-id': 12, 'field-id': 1000 }] },
      {
        'spec-id': 1,
        fields: [
          { name: 'order_id_bucket', transform: 'bucket[16]', 'source-id': 1, 'field-id': 1001 },
          { name: 'dec_trunc', transform: 'truncate[10]', 'source-id': 7, 'field-id': 1002 },
          { name: 'tstz_hour', transform: 'hour', 'source-id': 12, 'field-id': 1003 },
          { name: 'ts_month', transform: 'month', 'source-id': 11, 'field-id': 1004 },
          { name: 'day_year', transform: 'year', 'source-id': 9, 'field-id': 1005 },
          { name: 'u', transform: 'identity', 'source-id': 13, 'field-id': 1006 },
          { name: 'l_void', transform: 'void', 'source-id': 4, 'field-id': 1007 },
          { name: 'l_zorder', transform: 'zorder', 'source-id': 4, 'field-id': 1008 },
        ],
      },
    ],
    'last-partition-id': 1008,
    'default-sort-order-id': 1,
    'sort-orders': [
      { 'order-id': 0, fields: [] },
      {
        'order-id': 1,
        fields: [
          { transform: 'bucket[4]', 'source-id': 1, direction: 'asc', 'null-order': 'nulls-first' },
          { transform: 'identity', 'source-id': 12, direction: 'desc', 'null-order': 'nulls-last' },
        ],
      },
    ],
    properties: { 'write.parquet.compression-codec': 'zstd', owner: 'spark' },
    'current-snapshot-id': BIG,
    refs: {
      main: { 'snapshot-id': BIG, type: 'branch' },
      'audit-2026': { 'snapshot-id': 5n, type: 'tag', 'max-ref-age-ms': 86_400_000 },
      experiment: {
        'snapshot-id': 5n,
        type: 'branch',
        'min-snapshots-to-keep': 3,
        'max-snapshot-age-ms': 3_600_000,
      },
    },
    snapshots: [
      snap(5n, undefined, 1, 1_700_000_001_000),
      snap(BIG, 5n, 2, 1_700_000_002_000, { 'x-lineage': 'job-9' }),
    ],
    statistics: [
      {
        'snapshot-id': BIG,
        'statistics-path': 'file:///wh/t/metadata/stats.puffin',
        'file-size-in-bytes': 413,
        'file-footer-size-in-bytes': 42,
        'blob-metadata': [
          {
            type: 'apache-datasketches-theta-v1',
            'snapshot-id': BIG,
            'sequence-number': 2,
            fields: [1],
            properties: { ndv: '7' },
          },
        ],
      },
    ],
    'partition-statistics': [
      {
        'snapshot-id': 5n,
        'statistics-path': 'file:///wh/t/metadata/partition-stats.parquet',
        'file-size-in-bytes': 99,
      },
    ],
    'snapshot-log': [
      { 'timestamp-ms': 1_700_000_001_000, 'snapshot-id': 5n },
      { 'timestamp-ms': 1_700_000_002_000, 'snapshot-id': BIG },
    ],
    'metadata-log': [
      { 'timestamp-ms': 1_700_000_000_000, 'metadata-file': 'file:///wh/t/metadata/v1.metadata.json' },
    ],
    // Keys this model does not know: a legacy v1 key Java used to write, an engine's extension.
    schema: { type: 'struct', 'schema-id': 0, fields: allTypes.slice(0, 1) },
    'x-trino-extension': { nested: [1, 2, { deep: true }] },
  };
}

/** JSON with keys sorted at every level, so two objects compare regardless of key order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

function decode(wire: Record<string, unknown>) {
  const r = decodeTableMetadata(stringifyJsonWithLongs(wire));
  if (!r.ok) assert.fail(JSON.stringify(r.issues));
  return r.value;
}

describe('another engine`s v2 metadata round-trips', () => {
  it('decodes every type, transform, ref, statistics file and unknown key, and encodes the same JSON', () => {
    const wire = foreignMetadata();
    const back = parseJsonWithLongs(encodeTableMetadata(decode(wire)));
    assert.deepEqual(canonical(back), canonical(wire));
  });

  it('keeps all of it through our own commit (a new snapshot on main)', () => {
    const wire = foreignMetadata();
    const md = decode(wire);
    const next = applyUpdates(
      md,
      [
        {
          action: 'add-snapshot',
          snapshot: {
            snapshotId: 77n,
            parentSnapshotId: BIG,
            sequenceNumber: 3,
            timestampMs: 1_700_000_003_000,
            manifestList: 'file:///wh/t/metadata/snap-77.avro',
            summary: { operation: 'append' },
            schemaId: 1,
          },
        },
        { action: 'set-snapshot-ref', refName: 'main', snapshotId: 77n, type: 'branch' },
      ],
      { nowMs: 1_700_000_003_001, baseMetadataFile: 'file:///wh/t/metadata/v2.metadata.json' },
    );
    const out = parseJsonWithLongs(encodeTableMetadata(next)) as Record<string, unknown>;
    const unchanged = [
      'schemas',
      'partition-specs',
      'sort-orders',
      'properties',
      'statistics',
      'partition-statistics',
      'schema',
      'x-trino-extension',
      'last-column-id',
      'last-partition-id',
      'default-sort-order-id',
    ];
    for (const k of unchanged) assert.deepEqual(canonical(out[k]), canonical(wire[k]), k);
    const refs = out['refs'] as Record<string, unknown>;
    const wireRefs = wire['refs'] as Record<string, unknown>;
    assert.deepEqual(canonical(refs['audit-2026']), canonical(wireRefs['audit-2026']));
    assert.deepEqual(canonical(refs['experiment']), canonical(wireRefs['experiment']));
    assert.deepEqual(
      (out['snapshots'] as unknown[]).slice(0, 2).map(canonical),
      (wire['snapshots'] as unknown[]).map(canonical),
    );
    assert.equal(out['current-snapshot-id'], 77);
  });

  const refused: { name: string; version: number; message: RegExp }[] = [
    { name: 'format v3', version: 3, message: /format version 3, which this pipeline cannot write/ },
    { name: 'format v1', version: 1, message: /format version 1 \(upgrade it to v2/ },
  ];
  for (const c of refused) {
    it(`refuses a ${c.name} table with an issue that says why`, () => {
      const r = decodeTableMetadata(
        stringifyJsonWithLongs({ ...foreignMetadata(), 'format-version': c.version }),
      );
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.issues[0]?.code, 'unsupported');
      assert.equal(r.issues[0]?.path, '$.format-version');
      assert.match(r.issues[0]?.message ?? '', c.message);
    });
  }

  it('refuses a type format v2 does not have, naming where it is', () => {
    const wire = foreignMetadata();
    (wire['schemas'] as { fields: { type: unknown }[] }[])[1]!.fields[1]!.type = 'timestamp_ns';
    const r = decodeTableMetadata(stringifyJsonWithLongs(wire));
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.match(r.issues[0]!.message, /\$\.schemas\[1\]\.fields\[1\]\.type: expected an Iceberg v2 type/);
  });
});

describe('types and transforms', () => {
  const results: { transform: string; source: string; result: string | undefined }[] = [
    { transform: 'identity', source: 'decimal(10, 2)', result: 'decimal(10, 2)' },
    { transform: 'bucket[16]', source: 'string', result: 'int' },
    { transform: 'bucket[16]', source: 'uuid', result: 'int' },
    { transform: 'bucket[16]', source: 'double', result: undefined },
    { transform: 'truncate[4]', source: 'string', result: 'string' },
    { transform: 'truncate[4]', source: 'date', result: undefined },
    { transform: 'year', source: 'date', result: 'int' },
    { transform: 'month', source: 'timestamp', result: 'int' },
    { transform: 'day', source: 'timestamptz', result: 'date' },
    { transform: 'hour', source: 'date', result: undefined },
    { transform: 'void', source: 'long', result: 'long' },
    { transform: 'zorder', source: 'long', result: undefined },
  ];
  for (const c of results) {
    it(`${c.transform}(${c.source}) yields ${c.result ?? 'nothing this writer can compute'}`, () => {
      assert.equal(transformResultType(c.transform, c.source), c.result);
    });
  }
  it('parses transform parameters and keeps unknown names', () => {
    assert.deepEqual(parseTransform('bucket[ 8 ]'), { kind: 'bucket', n: 8 });
    assert.deepEqual(parseTransform('truncate[10]'), { kind: 'truncate', width: 10 });
    assert.deepEqual(parseTransform('zorder'), { kind: 'unknown', name: 'zorder' });
  });
  it('describes decimal(P,S) as Java does, whatever the spacing', () => {
    assert.equal(describeType('decimal(38,0)'), 'decimal(38, 0)');
  });
  const decimals: { unscaled: bigint; hex: string }[] = [
    { unscaled: 0n, hex: '00' },
    { unscaled: 1420n, hex: '058c' },
    { unscaled: -1n, hex: 'ff' },
    { unscaled: 127n, hex: '7f' },
    { unscaled: 128n, hex: '0080' },
    { unscaled: -128n, hex: '80' },
    { unscaled: -129n, hex: 'ff7f' },
    { unscaled: 10n ** 37n, hex: '0785ee10d5da46d900f436a000000000' },
  ];
  for (const c of decimals) {
    it(`decimal unscaled ${c.unscaled} is ${c.hex} (two's complement, fewest bytes) and back`, () => {
      assert.equal(Buffer.from(decimalToBytes(c.unscaled)).toString('hex'), c.hex);
      assert.equal(bytesToDecimal(Buffer.from(c.hex, 'hex')), c.unscaled);
    });
  }
});

describe('manifests of any partition type', () => {
  const schema: Schema = {
    schemaId: 1,
    fields: [
      { id: 1, name: 'order_id', required: true, type: 'string' },
      { id: 7, name: 'dec', required: false, type: 'decimal(10, 2)' },
      { id: 12, name: 'tstz', required: true, type: 'timestamptz' },
      { id: 13, name: 'u', required: false, type: 'uuid' },
      { id: 4, name: 'l', required: false, type: 'long' },
    ],
  };
  const spec: PartitionSpec = {
    specId: 1,
    fields: [
      { name: 'order_id_bucket', transform: 'bucket[16]', sourceId: 1, fieldId: 1001 },
      { name: 'dec_trunc', transform: 'truncate[10]', sourceId: 7, fieldId: 1002 },
      { name: 'tstz-hour', transform: 'hour', sourceId: 12, fieldId: 1003 },
      { name: 'u', transform: 'identity', sourceId: 13, fieldId: 1006 },
      { name: 'l', transform: 'identity', sourceId: 4, fieldId: 1007 },
    ],
  };
  const uuid = new Uint8Array(Buffer.from('f79c3e09677c4bbda4793f349cb785e7', 'hex'));
  const entry = (path: string, dec: Uint8Array | null, l: bigint | number): ManifestEntry => ({
    status: 1,
    snapshotId: 3n,
    dataFile: {
      content: 0,
      filePath: path,
      fileFormat: 'parquet',
      // Keys are the Avro field names: "tstz-hour" is not one, Java and we write it as tstz_x2Dhour.
      partition: { order_id_bucket: 5, dec_trunc: dec, tstz_x2Dhour: 470_000, u: uuid, l },
      recordCount: 3,
      fileSizeInBytes: 100,
      keyMetadata: Uint8Array.of(1, 2),
      equalityIds: [1, 4],
      referencedDataFile: 'file:///wh/t/data/x.parquet',
    },
  });
  const entries = [
    entry('file:///a', new Uint8Array(Buffer.from('0000000590', 'hex')), 9_007_199_254_740_993n),
    entry('file:///b', null, -5),
  ];

  it('writes and reads back every partition value type and data file field', () => {
    const decoded = decodeManifestFile(encodeManifest(schema, spec, entries));
    assert.equal(decoded.content, 'data');
    assert.deepEqual(decoded.entries, entries);
    assert.deepEqual(
      decoded.partitionFields.map((f) => [f['name'], f['field-id']]),
      [
        ['order_id_bucket', 1001],
        ['dec_trunc', 1002],
        ['tstz_x2Dhour', 1003],
        ['u', 1006],
        ['l', 1007],
      ],
    );
  });

  it('rewrites a manifest with its own partition record, whatever the transform', () => {
    const first = decodeManifestFile(encodeManifest(schema, spec, entries, 'deletes'));
    // An unknown transform: no type can be derived, the manifest's own partition fields still work.
    const unknown: PartitionSpec = {
      ...spec,
      fields: spec.fields.map((f) => ({ ...f, transform: f.fieldId === 1001 ? 'zorder' : f.transform })),
    };
    const again = decodeManifestFile(
      encodeManifest(schema, unknown, first.entries, 'deletes', first.partitionFields),
    );
    assert.equal(again.content, 'deletes');
    assert.deepEqual(again.entries, entries);
  });

  it('summarizes decimal partition values by their unscaled value', () => {
    const [, dec] = summarizePartitions(entries, partitionType(spec, schema));
    assert.equal(dec?.containsNull, true);
    assert.equal(Buffer.from(dec!.lowerBound!).toString('hex'), '0590');
  });
});
