// Codecs: table metadata JSON (kebab wire names, 64-bit ids, issues on bad input) and the Avro files
// (manifest lists and manifests: field ids in the embedded schema, header keys, round trips).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAvroFile, encodeAvroFile } from '../../../shared/iceberg/spec/avro-file.ts';
import {
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
} from '../../../shared/iceberg/spec/manifest-codec.ts';
import {
  decodeTableMetadata,
  encodeTableMetadata,
  parseJsonWithLongs,
  stringifyJsonWithLongs,
  tableMetadataToJson,
} from '../../../shared/iceberg/spec/metadata-codec.ts';
import { partitionSpecFromTableDef, schemaFromTableDef } from '../../../shared/iceberg/spec/schema.ts';
import type { ManifestEntry, ManifestFile, TableMetadata } from '../../../shared/iceberg/spec/types.ts';
import { applyUpdates, newTableMetadata } from '../../../shared/iceberg/spec/updates.ts';
import { JOINED_TABLE } from '../../../shared/tables.ts';

const BIG_ID = 9_007_199_254_740_993n; // 2^53 + 1: not representable as a JS number

function sampleMetadata(): TableMetadata {
  const base = newTableMetadata(JOINED_TABLE, 'file:///wh/default/orders_payments', 1_000);
  return applyUpdates(
    base,
    [
      {
        action: 'add-snapshot',
        snapshot: {
          snapshotId: BIG_ID,
          sequenceNumber: 1,
          timestampMs: 2_000,
          manifestList: 'file:///wh/default/orders_payments/metadata/snap-1.avro',
          summary: { operation: 'append', 'added-records': '3', 'streamjoin.batch-ids': 'a,b' },
          schemaId: 0,
        },
      },
      { action: 'set-snapshot-ref', refName: 'main', snapshotId: BIG_ID, type: 'branch' },
    ],
    { nowMs: 2_000, baseMetadataFile: 'file:///wh/default/orders_payments/metadata/v1.metadata.json' },
  );
}

describe('table metadata JSON', () => {
  it('round-trips, keeping a snapshot id above 2^53 exact', () => {
    const md = sampleMetadata();
    const text = encodeTableMetadata(md);
    assert.match(text, /"current-snapshot-id":9007199254740993/);
    assert.match(text, /"snapshot-id":9007199254740993/);
    const back = decodeTableMetadata(text);
    assert.ok(back.ok);
    assert.deepEqual(back.value, md);
  });

  it('encodes from cached snapshot fragments exactly what the wire object holds, version after version', () => {
    const md = sampleMetadata();
    const first = encodeTableMetadata(md);
    const next = applyUpdates(md, [{ action: 'set-properties', updates: { k: 'v' } }], {
      nowMs: 3_000,
      baseMetadataFile: 'file:///wh/default/orders_payments/metadata/v2.metadata.json',
    });
    assert.equal(encodeTableMetadata(md), first);
    for (const m of [md, next]) {
      assert.deepEqual(
        parseJsonWithLongs(encodeTableMetadata(m)),
        parseJsonWithLongs(stringifyJsonWithLongs(tableMetadataToJson(m))),
      );
    }
    assert.equal(
      (parseJsonWithLongs(encodeTableMetadata(next)) as { 'metadata-log': unknown[] })['metadata-log'].length,
      2,
    );
  });

  it('writes current-snapshot-id -1 for a table without snapshots (Java 1.1-1.3 require the key)', () => {
    const md = newTableMetadata(JOINED_TABLE, 'file:///wh/default/orders_payments', 1_000);
    const wire = parseJsonWithLongs(encodeTableMetadata(md)) as Record<string, unknown>;
    assert.equal(wire['current-snapshot-id'], -1);
    const back = decodeTableMetadata(encodeTableMetadata(md));
    assert.ok(back.ok);
    assert.equal(back.value.currentSnapshotId, undefined);
  });

  it('keeps statistics and partition-statistics as they came', () => {
    const stats = {
      'snapshot-id': BIG_ID,
      'statistics-path': 'file:///wh/default/orders_payments/metadata/stats-1.puffin',
      'file-size-in-bytes': 413,
      'file-footer-size-in-bytes': 42,
      'blob-metadata': [
        { type: 'apache-datasketches-theta-v1', 'snapshot-id': BIG_ID, 'sequence-number': 1, fields: [1] },
      ],
    };
    const partStats = {
      'snapshot-id': BIG_ID,
      'statistics-path': 'file:///wh/default/orders_payments/metadata/partition-stats-1.parquet',
      'file-size-in-bytes': 99,
    };
    const wire = parseJsonWithLongs(encodeTableMetadata(sampleMetadata())) as Record<string, unknown>;
    wire['statistics'] = [stats];
    wire['partition-statistics'] = [partStats];
    const decoded = decodeTableMetadata(stringifyJsonWithLongs(wire));
    assert.ok(decoded.ok);
    const again = parseJsonWithLongs(encodeTableMetadata(decoded.value)) as Record<string, unknown>;
    assert.deepEqual(again['statistics'], [stats]);
    assert.deepEqual(again['partition-statistics'], [partStats]);
  });

  it('writes the v2 wire names (kebab-case) and no domain names', () => {
    const wire = parseJsonWithLongs(encodeTableMetadata(sampleMetadata())) as Record<string, unknown>;
    for (const key of [
      'format-version',
      'table-uuid',
      'location',
      'last-sequence-number',
      'last-updated-ms',
      'last-column-id',
      'schemas',
      'current-schema-id',
      'partition-specs',
      'default-spec-id',
      'last-partition-id',
      'sort-orders',
      'default-sort-order-id',
      'refs',
      'snapshots',
      'snapshot-log',
      'metadata-log',
    ]) {
      assert.ok(key in wire, `missing ${key}`);
    }
    assert.equal(wire['format-version'], 2);
    assert.equal(wire['last-partition-id'], 1000);
    assert.deepEqual(wire['sort-orders'], [{ 'order-id': 0, fields: [] }]);
    assert.deepEqual(wire['partition-specs'], [
      {
        'spec-id': 0,
        fields: [{ name: 'joined_at_day', transform: 'day', 'source-id': 9, 'field-id': 1000 }],
      },
    ]);
    assert.deepEqual((wire['refs'] as Record<string, unknown>)['main'], {
      'snapshot-id': BIG_ID,
      type: 'branch',
    });
    assert.ok(!('currentSnapshotId' in wire));
  });

  const bad: { name: string; mutate: (o: Record<string, unknown>) => void; code: string; path: RegExp }[] = [
    {
      name: 'format version 1',
      mutate: (o) => (o['format-version'] = 1),
      code: 'unsupported',
      path: /format-version/,
    },
    {
      name: 'missing table-uuid',
      mutate: (o) => delete o['table-uuid'],
      code: 'missing',
      path: /\$\.table-uuid/,
    },
    {
      name: 'a string sequence number',
      mutate: (o) => (o['last-sequence-number'] = '1'),
      code: 'wrong-type',
      path: /last-sequence-number/,
    },
    {
      name: 'an unknown operation',
      mutate: (o) => {
        ((o['snapshots'] as Record<string, unknown>[])[0]!['summary'] as Record<string, string>)[
          'operation'
        ] = 'merge';
      },
      code: 'unsupported',
      path: /snapshots\[0\]\.summary\.operation/,
    },
    {
      name: 'an unknown column type',
      mutate: (o) => {
        ((o['schemas'] as Record<string, unknown>[])[0]!['fields'] as Record<string, unknown>[])[0]!['type'] =
          'variant'; // a v3 type
      },
      code: 'unsupported',
      path: /schemas\[0\]\.fields\[0\]\.type/,
    },
  ];
  for (const c of bad) {
    it(`reports ${c.name} as an issue with its path`, () => {
      const wire = parseJsonWithLongs(encodeTableMetadata(sampleMetadata())) as Record<string, unknown>;
      c.mutate(wire);
      const r = decodeTableMetadata(stringifyJsonWithLongs(wire));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.issues[0]?.code, c.code);
      assert.match(r.issues[0]?.path ?? '', c.path);
    });
  }

  it('reads Java`s -1 as "no current snapshot" and derives main from current-snapshot-id when refs is absent', () => {
    const wire = parseJsonWithLongs(
      encodeTableMetadata(newTableMetadata(JOINED_TABLE, 'file:///t', 1)),
    ) as Record<string, unknown>;
    wire['current-snapshot-id'] = -1;
    const r = decodeTableMetadata(JSON.stringify(wire));
    assert.ok(r.ok);
    assert.equal(r.value.currentSnapshotId, undefined);
    const withSnap = parseJsonWithLongs(encodeTableMetadata(sampleMetadata())) as Record<string, unknown>;
    delete withSnap['refs'];
    const r2 = decodeTableMetadata(stringifyJsonWithLongs(withSnap));
    assert.ok(r2.ok);
    assert.deepEqual(r2.value.refs['main'], { snapshotId: BIG_ID, type: 'branch' });
  });

  it('reports invalid JSON', () => {
    const r = decodeTableMetadata('{"format-version": 2');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.issues[0]?.code, 'invalid-json');
  });
});

type AvroField = { name: string; type: unknown; 'field-id'?: number };
type AvroRecord = { name: string; fields: AvroField[] };

function fieldIds(record: AvroRecord): Record<string, number | undefined> {
  return Object.fromEntries(record.fields.map((f) => [f.name, f['field-id']]));
}
function nonNull(t: unknown): Record<string, unknown> {
  const v = Array.isArray(t) ? t.find((x) => x !== 'null') : t;
  return v as Record<string, unknown>;
}

const manifestRow: ManifestFile = {
  manifestPath: 'file:///t/metadata/x-m0.avro',
  manifestLength: 4321,
  partitionSpecId: 0,
  content: 0,
  sequenceNumber: 5,
  minSequenceNumber: 2,
  addedSnapshotId: BIG_ID,
  addedFilesCount: 2,
  existingFilesCount: 1,
  deletedFilesCount: 0,
  addedRowsCount: 20,
  existingRowsCount: 7,
  deletedRowsCount: 0,
  partitions: [
    {
      containsNull: false,
      containsNan: false,
      lowerBound: Uint8Array.of(1, 0, 0, 0),
      upperBound: Uint8Array.of(2, 0, 0, 0),
    },
  ],
};

describe('manifest list Avro file', () => {
  const bytes = encodeManifestList({ snapshotId: BIG_ID, parentSnapshotId: 7n, sequenceNumber: 5 }, [
    manifestRow,
  ]);
  const file = decodeAvroFile(bytes);

  it('carries the v2 manifest_file field ids in the embedded schema', () => {
    const schema = file.schema as unknown as AvroRecord;
    assert.equal(schema.name, 'manifest_file');
    assert.deepEqual(fieldIds(schema), {
      manifest_path: 500,
      manifest_length: 501,
      partition_spec_id: 502,
      content: 517,
      sequence_number: 515,
      min_sequence_number: 516,
      added_snapshot_id: 503,
      added_files_count: 504,
      existing_files_count: 505,
      deleted_files_count: 506,
      added_rows_count: 512,
      existing_rows_count: 513,
      deleted_rows_count: 514,
      partitions: 507,
      key_metadata: 519,
    });
    const partitions = nonNull(schema.fields.find((f) => f.name === 'partitions')?.type);
    assert.equal(partitions['element-id'], 508);
    assert.deepEqual(fieldIds(partitions['items'] as AvroRecord), {
      contains_null: 509,
      contains_nan: 518,
      lower_bound: 510,
      upper_bound: 511,
    });
  });

  it('has the header keys readers require', () => {
    assert.deepEqual(
      { ...file.metadata, 'avro.codec': undefined },
      {
        'avro.codec': undefined,
        'snapshot-id': '9007199254740993',
        'parent-snapshot-id': '7',
        'sequence-number': '5',
        'format-version': '2',
      },
    );
  });

  it('round-trips rows', () => {
    assert.deepEqual(decodeManifestList(bytes), [manifestRow]);
  });
});

describe('manifest Avro file', () => {
  const schema = schemaFromTableDef(JOINED_TABLE);
  const spec = partitionSpecFromTableDef(JOINED_TABLE, schema);
  const entries: ManifestEntry[] = [
    {
      status: 1,
      snapshotId: BIG_ID,
      dataFile: {
        content: 0,
        filePath: 'file:///t/data/a.parquet',
        fileFormat: 'parquet',
        partition: { joined_at_day: 19844 },
        recordCount: 20,
        fileSizeInBytes: 2048,
        columnSizes: { 1: 100, 9: 80 },
        valueCounts: { 1: 20, 9: 20 },
        nullValueCounts: { 1: 0, 9: 0 },
        lowerBounds: { 1: new TextEncoder().encode('o-1'), 9: Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7) },
        upperBounds: { 1: new TextEncoder().encode('o-9'), 9: Uint8Array.of(7, 6, 5, 4, 3, 2, 1, 0) },
        sortOrderId: 0,
      },
    },
    {
      status: 0,
      snapshotId: 3n,
      sequenceNumber: 2,
      fileSequenceNumber: 2,
      dataFile: {
        content: 0,
        filePath: 'file:///t/data/b.parquet',
        fileFormat: 'parquet',
        partition: { joined_at_day: null },
        recordCount: 7,
        fileSizeInBytes: 900,
      },
    },
  ];
  const bytes = encodeManifest(schema, spec, entries);
  const file = decodeAvroFile(bytes);
  const record = file.schema as unknown as AvroRecord;

  it('carries manifest_entry and data_file field ids', () => {
    assert.equal(record.name, 'manifest_entry');
    assert.deepEqual(fieldIds(record), {
      status: 0,
      snapshot_id: 1,
      sequence_number: 3,
      file_sequence_number: 4,
      data_file: 2,
    });
    const dataFile = record.fields.find((f) => f.name === 'data_file')?.type as AvroRecord;
    assert.deepEqual(fieldIds(dataFile), {
      content: 134,
      file_path: 100,
      file_format: 101,
      partition: 102,
      record_count: 103,
      file_size_in_bytes: 104,
      column_sizes: 108,
      value_counts: 109,
      null_value_counts: 110,
      nan_value_counts: 137,
      lower_bounds: 125,
      upper_bounds: 128,
      key_metadata: 131,
      split_offsets: 132,
      equality_ids: 135,
      sort_order_id: 140,
      referenced_data_file: 143,
    });
    const maps: [string, number, number][] = [
      ['column_sizes', 117, 118],
      ['value_counts', 119, 120],
      ['null_value_counts', 121, 122],
      ['nan_value_counts', 138, 139],
      ['lower_bounds', 126, 127],
      ['upper_bounds', 129, 130],
    ];
    for (const [name, k, v] of maps) {
      const t = nonNull(dataFile.fields.find((f) => f.name === name)?.type);
      assert.equal(t['type'], 'array', name);
      assert.equal(t['logicalType'], 'map', name);
      assert.deepEqual(fieldIds(t['items'] as AvroRecord), { key: k, value: v }, name);
    }
    const partition = dataFile.fields.find((f) => f.name === 'partition')?.type as AvroRecord;
    assert.deepEqual(fieldIds(partition), { joined_at_day: 1000 });
  });

  it('has the header keys v2 readers require', () => {
    assert.equal(file.metadata['format-version'], '2');
    assert.equal(file.metadata['content'], 'data');
    assert.equal(file.metadata['schema-id'], '0');
    assert.equal(file.metadata['partition-spec-id'], '0');
    assert.deepEqual(JSON.parse(file.metadata['partition-spec'] ?? ''), [
      { name: 'joined_at_day', transform: 'day', 'source-id': 9, 'field-id': 1000 },
    ]);
    const tableSchema = JSON.parse(file.metadata['schema'] ?? '');
    assert.equal(tableSchema.type, 'struct');
    assert.equal(tableSchema.fields.length, 9);
  });

  it('round-trips entries (ADDED with null sequence numbers stays null)', () => {
    const back = decodeManifest(bytes);
    assert.deepEqual(back, entries);
    assert.equal(back[0]?.sequenceNumber, undefined);
  });
});

describe('Avro container framing', () => {
  const schema = { type: 'record', name: 'r', fields: [{ name: 'n', type: 'long' }] };
  const cases = [
    { name: 'deflate, several blocks', codec: 'deflate' as const, count: 25, blockRecords: 10 },
    { name: 'null codec, one block', codec: 'null' as const, count: 3, blockRecords: 100 },
    { name: 'no records', codec: 'deflate' as const, count: 0, blockRecords: 10 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const records = Array.from({ length: c.count }, (_, i) => ({
        n: i % 2 === 0 ? i : 2n ** 62n + BigInt(i),
      }));
      const out = decodeAvroFile(
        encodeAvroFile(schema, records, { codec: c.codec, blockRecords: c.blockRecords }),
      );
      assert.deepEqual(
        out.records.map((r) => ({ ...(r as object) })),
        records,
      );
      assert.equal(out.metadata['avro.codec'], c.codec);
    });
  }

  it('rejects bytes that are not an Avro file', () => {
    assert.throws(() => decodeAvroFile(Buffer.from('PAR1....')), /expected an Avro container file/);
  });
});
