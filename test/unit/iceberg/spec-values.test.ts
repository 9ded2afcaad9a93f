// Pure Iceberg rules: single-value bound encoding, the day transform, schema/spec from the table defs,
// sequence-number inheritance, manifest counts and partition summaries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeManifest,
  manifestFileFor,
  resolveEntry,
  summarizePartitions,
} from '../../../shared/iceberg/spec/manifests.ts';
import {
  dayFromMicros,
  partitionSpecFromTableDef,
  partitionType,
  schemaFromTableDef,
} from '../../../shared/iceberg/spec/schema.ts';
import {
  decodeSingleValue,
  encodeSingleValue,
  type SingleValue,
} from '../../../shared/iceberg/spec/single-value.ts';
import type {
  DataFile,
  ManifestEntry,
  ManifestFile,
  PrimitiveType,
} from '../../../shared/iceberg/spec/types.ts';
import { JOINED_TABLE, UNMATCHED_TABLE } from '../../../shared/tables.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('single-value binary serialization (Appendix D)', () => {
  const cases: { name: string; type: PrimitiveType; value: SingleValue; hex: string }[] = [
    { name: 'int 1 is 4-byte little-endian', type: 'int', value: 1, hex: '01000000' },
    { name: 'int -1', type: 'int', value: -1, hex: 'ffffffff' },
    { name: 'int max', type: 'int', value: 2147483647, hex: 'ffffff7f' },
    { name: 'date is days as 4-byte LE', type: 'date', value: 19844, hex: '844d0000' },
    { name: 'long is 8-byte LE', type: 'long', value: 1n, hex: '0100000000000000' },
    { name: 'long from a safe number', type: 'long', value: 256, hex: '0001000000000000' },
    {
      name: 'timestamptz micros 8-byte LE',
      type: 'timestamptz',
      value: 1_714_521_600_000_000n,
      hex: '0080ed2a59170600',
    },
    { name: 'negative timestamptz', type: 'timestamptz', value: -1n, hex: 'ffffffffffffffff' },
    { name: 'string is UTF-8 without length', type: 'string', value: 'iceberg', hex: '69636562657267' },
    { name: 'non-ASCII string', type: 'string', value: 'é', hex: 'c3a9' },
    { name: 'empty string', type: 'string', value: '', hex: '' },
    { name: 'boolean true', type: 'boolean', value: true, hex: '01' },
    { name: 'boolean false', type: 'boolean', value: false, hex: '00' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const bytes = encodeSingleValue(c.type, c.value);
      assert.equal(hex(bytes), c.hex);
      const back = decodeSingleValue(c.type, bytes);
      assert.deepEqual(back, c.type === 'long' && typeof c.value === 'number' ? BigInt(c.value) : c.value);
    });
  }

  const bad: { name: string; type: PrimitiveType; value: SingleValue; message: RegExp }[] = [
    { name: 'string for int', type: 'int', value: '1', message: /expected a int value.*"1"/ },
    { name: 'int out of range', type: 'int', value: 2 ** 31, message: /expected a int value/ },
    { name: 'fraction for long', type: 'long', value: 1.5, message: /expected a long value/ },
    { name: 'number for string', type: 'string', value: 3, message: /expected a string value/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => assert.throws(() => encodeSingleValue(c.type, c.value), c.message));
  }

  it('rejects a wrong-length int on decode', () => {
    assert.throws(() => decodeSingleValue('int', Uint8Array.of(1, 2)), /expected 4 bytes/);
  });
});

describe('day transform', () => {
  const cases: { name: string; micros: bigint; day: number }[] = [
    { name: 'epoch', micros: 0n, day: 0 },
    { name: 'last microsecond of day 0', micros: 86_399_999_999n, day: 0 },
    { name: 'first microsecond of day 1', micros: 86_400_000_000n, day: 1 },
    { name: 'one microsecond before epoch is day -1', micros: -1n, day: -1 },
    { name: 'exactly day -1', micros: -86_400_000_000n, day: -1 },
    { name: '2024-05-01T00:00:00Z', micros: 1_714_521_600_000_000n, day: 19844 },
    { name: '2024-05-01T23:59:59Z', micros: 1_714_607_999_000_000n, day: 19844 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(dayFromMicros(c.micros), c.day));
});

describe('schema and partition spec from the table definitions', () => {
  const cases = [
    { name: 'joined', def: JOINED_TABLE, source: 9, partitionName: 'joined_at_day', fields: 9 },
    { name: 'unmatched', def: UNMATCHED_TABLE, source: 10, partitionName: 'emitted_at_day', fields: 10 },
  ];
  for (const c of cases) {
    it(`${c.name}: field ids, required flags and day(source) at field id 1000`, () => {
      const schema = schemaFromTableDef(c.def);
      assert.equal(schema.fields.length, c.fields);
      assert.deepEqual(
        schema.fields.map((f) => [f.id, f.name, f.type, f.required]),
        c.def.columns.map((col) => [col.id, col.name, col.type, col.required]),
      );
      const spec = partitionSpecFromTableDef(c.def, schema);
      assert.deepEqual(spec, {
        specId: 0,
        fields: [{ sourceId: c.source, fieldId: 1000, name: c.partitionName, transform: 'day' }],
      });
      assert.deepEqual(
        partitionType(spec, schema).map((p) => p.type),
        ['date'],
      );
    });
  }
});

function file(path: string, rows: number, day: number | null): DataFile {
  return {
    content: 0,
    filePath: path,
    fileFormat: 'parquet',
    partition: { joined_at_day: day },
    recordCount: rows,
    fileSizeInBytes: rows * 10,
  };
}

const manifest: ManifestFile = {
  manifestPath: 'file:///t/metadata/m.avro',
  manifestLength: 100,
  partitionSpecId: 0,
  content: 0,
  sequenceNumber: 7,
  minSequenceNumber: 3,
  addedSnapshotId: 42n,
  addedFilesCount: 1,
  existingFilesCount: 1,
  deletedFilesCount: 0,
  addedRowsCount: 1,
  existingRowsCount: 1,
  deletedRowsCount: 0,
};

describe('sequence-number inheritance', () => {
  const cases: {
    name: string;
    entry: ManifestEntry;
    expected: { snapshotId: bigint; sequenceNumber: number; fileSequenceNumber: number } | RegExp;
  }[] = [
    {
      name: 'ADDED with nulls inherits the manifest sequence number and snapshot id',
      entry: { status: 1, dataFile: file('a', 1, 1) },
      expected: { snapshotId: 42n, sequenceNumber: 7, fileSequenceNumber: 7 },
    },
    {
      name: 'ADDED with explicit values keeps them',
      entry: {
        status: 1,
        snapshotId: 5n,
        sequenceNumber: 2,
        fileSequenceNumber: 6,
        dataFile: file('a', 1, 1),
      },
      expected: { snapshotId: 5n, sequenceNumber: 2, fileSequenceNumber: 6 },
    },
    {
      name: 'EXISTING keeps its explicit values',
      entry: {
        status: 0,
        snapshotId: 9n,
        sequenceNumber: 3,
        fileSequenceNumber: 3,
        dataFile: file('a', 1, 1),
      },
      expected: { snapshotId: 9n, sequenceNumber: 3, fileSequenceNumber: 3 },
    },
    {
      name: 'EXISTING without sequence numbers is invalid',
      entry: { status: 0, snapshotId: 9n, dataFile: file('a', 1, 1) },
      expected: /expected explicit sequence numbers on an entry with status 0/,
    },
    {
      name: 'DELETED without sequence numbers is invalid',
      entry: { status: 2, dataFile: file('a', 1, 1) },
      expected: /expected explicit sequence numbers on an entry with status 2/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.expected instanceof RegExp) {
        assert.throws(() => resolveEntry(c.entry, manifest), c.expected);
        return;
      }
      const r = resolveEntry(c.entry, manifest);
      assert.deepEqual(
        {
          snapshotId: r.snapshotId,
          sequenceNumber: r.sequenceNumber,
          fileSequenceNumber: r.fileSequenceNumber,
        },
        c.expected,
      );
    });
  }
});

describe('manifest counts and partition summaries', () => {
  const schema = schemaFromTableDef(JOINED_TABLE);
  const spec = partitionSpecFromTableDef(JOINED_TABLE, schema);
  const type = partitionType(spec, schema);

  const cases: {
    name: string;
    entries: ManifestEntry[];
    counts: number[];
    summary: { containsNull: boolean; lower?: string; upper?: string };
    minSeq: number;
  }[] = [
    {
      name: 'only ADDED: min sequence number is the new one',
      entries: [
        { status: 1, dataFile: file('a', 10, 19844) },
        { status: 1, dataFile: file('b', 5, 19846) },
      ],
      counts: [2, 0, 0, 15, 0, 0],
      summary: { containsNull: false, lower: '844d0000', upper: '864d0000' },
      minSeq: 11,
    },
    {
      name: 'EXISTING with older sequence numbers lowers the minimum',
      entries: [
        {
          status: 0,
          snapshotId: 1n,
          sequenceNumber: 4,
          fileSequenceNumber: 4,
          dataFile: file('a', 10, 19845),
        },
        {
          status: 2,
          snapshotId: 2n,
          sequenceNumber: 2,
          fileSequenceNumber: 2,
          dataFile: file('b', 3, 19845),
        },
      ],
      counts: [0, 1, 1, 0, 10, 3],
      summary: { containsNull: false, lower: '854d0000', upper: '854d0000' },
      minSeq: 4,
    },
    {
      name: 'a null partition value sets contains_null and leaves bounds to the rest',
      entries: [
        { status: 1, dataFile: file('a', 1, null) },
        { status: 1, dataFile: file('b', 1, 19844) },
      ],
      counts: [2, 0, 0, 2, 0, 0],
      summary: { containsNull: true, lower: '844d0000', upper: '844d0000' },
      minSeq: 11,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const w = describeManifest('file:///m.avro', 123, spec, schema, c.entries);
      assert.deepEqual(
        [
          w.addedFilesCount,
          w.existingFilesCount,
          w.deletedFilesCount,
          w.addedRowsCount,
          w.existingRowsCount,
          w.deletedRowsCount,
        ],
        c.counts,
      );
      const [s] = summarizePartitions(c.entries, type);
      assert.equal(s?.containsNull, c.summary.containsNull);
      assert.equal(s?.lowerBound === undefined ? undefined : hex(s.lowerBound), c.summary.lower);
      assert.equal(s?.upperBound === undefined ? undefined : hex(s.upperBound), c.summary.upper);
      const row = manifestFileFor(w, 99n, 11);
      assert.equal(row.sequenceNumber, 11);
      assert.equal(row.addedSnapshotId, 99n);
      assert.equal(row.minSequenceNumber, c.minSeq);
    });
  }
});
