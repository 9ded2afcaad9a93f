// Round trips through the hyparquet reader: values, nulls, footer schema (field ids, repetition, types),
// codec, Parquet statistics, the Iceberg stats the writer computes, streaming, and rejected rows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import { type FileMetaData, parquetMetadata, parquetReadObjects } from 'hyparquet';
import { StreamjoinError } from '../../../shared/errors.ts';
import {
  type DataFileResult,
  encodeDataFile,
  PARQUET_CONTENT_TYPE,
  partitionDayOf,
  splitRowsByDay,
  storeDataFile,
  writeDataFile,
} from '../../../shared/parquet/index.ts';
import { JOINED_TABLE, type Row, type TableDef, UNMATCHED_TABLE } from '../../../shared/tables.ts';
import { STREAMJOIN_VERSION } from '../../../shared/version.ts';

const DAY_START = 1_714_521_600_000_000n; // 2024-05-01T00:00:00Z in micros, day 19844
const parsers = { timestampFromMicroseconds: (micros: bigint) => micros };
const compressors = { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) };

function joinedRow(i: number, overrides: Partial<Record<string, Row[string]>> = {}): Row {
  return {
    order_id: `ORD${String(i).padStart(6, '0')}`,
    order_date: '2024-05-01T10:00:00',
    created_at: `2024-05-01T10:00:00.${String(i % 1000).padStart(3, '0')}`,
    customer_id: `CUST${i % 7}`,
    order_amount: 100 + i,
    payment_id: `PAY${i}`,
    payment_date: '2024-05-01T10:01:00',
    payment_amount: 100 + i,
    joined_at: DAY_START + BigInt(i) * 1_000_003n,
    ...overrides,
  };
}

function unmatchedRow(i: number, overrides: Partial<Record<string, Row[string]>> = {}): Row {
  const hasOrder = i % 3 !== 0;
  const hasPayment = i % 2 === 0;
  return {
    order_id: `ORD${i}`,
    order_date: hasOrder ? '2024-05-01T09:00:00' : null,
    created_at: hasOrder ? `2024-05-01T09:00:0${i % 10}` : null,
    customer_id: hasOrder ? `CUST${i}` : null,
    order_amount: hasOrder ? -i : null,
    payment_id: hasPayment ? `PAY${i}` : null,
    payment_date: hasPayment ? '2024-05-01T09:30:00' : null,
    payment_amount: hasPayment ? i * 1000 : null,
    reason: hasOrder ? 'order_timeout' : 'payment_orphan',
    emitted_at: DAY_START + 86_399_999_999n - BigInt(i),
    ...overrides,
  };
}

async function writeToBuffer(
  rows: Iterable<Row> | AsyncIterable<Row>,
  table: TableDef,
  options: Parameters<typeof writeDataFile>[3] = {},
): Promise<{ bytes: Buffer; result: DataFileResult; chunks: number }> {
  const chunks: Uint8Array[] = [];
  const result = await writeDataFile(rows, table, (chunk) => void chunks.push(chunk), options);
  return { bytes: Buffer.concat(chunks), result, chunks: chunks.length };
}

function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function readBack(bytes: Buffer): Promise<{ rows: Record<string, unknown>[]; meta: FileMetaData }> {
  const file = arrayBufferOf(bytes);
  const meta = parquetMetadata(file, { parsers });
  const rows = await parquetReadObjects({ file, compressors, parsers });
  return { rows, meta };
}

/** The rows the reader should return: bigint micros stay bigint, the rest as given. */
function plain(rows: readonly Row[]): Record<string, unknown>[] {
  return rows.map((r) => ({ ...r }));
}

describe('writeDataFile round trip', () => {
  const cases = [
    {
      name: 'joined, 10 rows in row groups of 4',
      table: JOINED_TABLE,
      rows: range(10).map((i) => joinedRow(i)),
      rowGroupRows: 4,
    },
    { name: 'joined, one row', table: JOINED_TABLE, rows: [joinedRow(7)], rowGroupRows: 50_000 },
    {
      name: 'unmatched with nulls, 25 rows in row groups of 10',
      table: UNMATCHED_TABLE,
      rows: range(25).map((i) => unmatchedRow(i)),
      rowGroupRows: 10,
    },
    {
      name: 'joined with non-ASCII and long strings, small pages',
      table: JOINED_TABLE,
      rows: range(300).map((i) => joinedRow(i, { customer_id: `клиент-${i}-😀-${'x'.repeat(i % 50)}` })),
      rowGroupRows: 120,
      pageBytes: 1024,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { bytes, result } = await writeToBuffer(c.rows, c.table, {
        rowGroupRows: c.rowGroupRows,
        ...(c.pageBytes ? { pageBytes: c.pageBytes } : {}),
      });
      const { rows, meta } = await readBack(bytes);
      assert.deepEqual(rows, plain(c.rows));
      assert.equal(Number(meta.num_rows), c.rows.length);
      assert.equal(meta.row_groups.length, Math.ceil(c.rows.length / c.rowGroupRows));
      assert.equal(result.rowGroupCount, meta.row_groups.length);
      assert.equal(result.recordCount, c.rows.length);
      assert.equal(result.fileSizeInBytes, bytes.length);
    });
  }
});

describe('footer schema', () => {
  it('created_by is `streamjoin version <package.json version>` (parquet-mr VersionParser form)', async () => {
    const { meta } = await readBack((await writeToBuffer([joinedRow(1)], JOINED_TABLE)).bytes);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(meta.created_by, `streamjoin version ${pkg.version}`);
    assert.equal(STREAMJOIN_VERSION, pkg.version);
    // The pattern parquet-mr's VersionParser applies: application, then "version", then a semver.
    const m = /^(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?$/.exec(
      meta.created_by ?? '',
    );
    assert.deepEqual([m?.[1], m?.[2]], ['streamjoin', pkg.version]);
    assert.match(m?.[2] ?? '', /^\d+\.\d+\.\d+$/);
  });

  for (const table of [JOINED_TABLE, UNMATCHED_TABLE]) {
    it(`${table.kind}: field ids, repetition, physical and logical types per column`, async () => {
      const rows = table === JOINED_TABLE ? [joinedRow(1)] : [unmatchedRow(1)];
      const { meta } = await readBack((await writeToBuffer(rows, table)).bytes);
      const [root, ...leaves] = meta.schema;
      assert.equal(root.num_children, table.columns.length);
      const expected = {
        string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
        int: { type: 'INT32', converted_type: undefined, logical_type: undefined },
        timestamptz: {
          type: 'INT64',
          converted_type: 'TIMESTAMP_MICROS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        },
      } as const;
      assert.deepEqual(
        leaves.map((e) => ({
          name: e.name,
          field_id: e.field_id,
          repetition_type: e.repetition_type,
          type: e.type,
          converted_type: e.converted_type,
          logical_type: e.logical_type,
        })),
        table.columns.map((c) => ({
          name: c.name,
          field_id: c.id,
          repetition_type: c.required ? 'REQUIRED' : 'OPTIONAL',
          ...expected[c.type as keyof typeof expected],
        })),
      );
    });
  }
});

describe('column chunks: codec and Parquet statistics', () => {
  it('every chunk is ZSTD with exact, untruncated min/max and null counts', async () => {
    const long = 'a-customer-id-much-longer-than-sixteen-bytes';
    const rows = [
      unmatchedRow(1, { customer_id: `${long}-b`, order_amount: -5 }),
      unmatchedRow(2, { customer_id: `${long}-a`, order_amount: 2147483647 }),
      unmatchedRow(3, { customer_id: null, order_amount: null, payment_date: null }),
    ];
    const { bytes } = await writeToBuffer(rows, UNMATCHED_TABLE);
    const { meta } = await readBack(bytes);
    const chunks = meta.row_groups[0].columns;
    for (const chunk of chunks) assert.equal(chunk.meta_data?.codec, 'ZSTD');
    const stats = (name: string) =>
      chunks.find((c) => c.meta_data?.path_in_schema[0] === name)?.meta_data?.statistics;
    assert.deepEqual(pick(stats('customer_id')), {
      min_value: `${long}-a`,
      max_value: `${long}-b`,
      null_count: 1n,
    });
    assert.deepEqual(pick(stats('order_amount')), { min_value: -5, max_value: 2147483647, null_count: 1n });
    assert.deepEqual(pick(stats('emitted_at')), {
      min_value: DAY_START + 86_399_999_996n,
      max_value: DAY_START + 86_399_999_998n,
      null_count: 0n,
    });
    // Every row has a payment_date null or the same value: one non-null value, two nulls.
    assert.deepEqual(pick(stats('payment_date')), {
      min_value: '2024-05-01T09:30:00',
      max_value: '2024-05-01T09:30:00',
      null_count: 2n,
    });
  });

  it('a chunk whose values are all null has a null count and no bounds', async () => {
    const rows = [unmatchedRow(3), unmatchedRow(9)]; // i % 2 !== 0: no payment side
    const { meta } = await readBack((await writeToBuffer(rows, UNMATCHED_TABLE)).bytes);
    const stats = meta.row_groups[0].columns[5].meta_data?.statistics;
    assert.deepEqual(pick(stats), { min_value: undefined, max_value: undefined, null_count: 2n });
  });
});

describe('Iceberg data file stats', () => {
  it('counts, bounds by UTF-8 bytes, column sizes from the footer, partition day', async () => {
    // U+FFFF sorts before U+1F600 in UTF-8 (EF.. < F0..) though not in UTF-16 (FFFF > D83D).
    const rows = [
      unmatchedRow(0, { customer_id: '\uffff', order_amount: 7 }),
      unmatchedRow(1, { customer_id: '😀', order_amount: -7 }),
      unmatchedRow(2, { customer_id: 'zz', order_amount: null }),
      unmatchedRow(3, { payment_id: null, payment_date: null, payment_amount: null }),
    ];
    const { bytes, result } = await writeToBuffer(rows, UNMATCHED_TABLE, { rowGroupRows: 3 });
    const { meta } = await readBack(bytes);
    const ids = UNMATCHED_TABLE.columns.map((c) => c.id);
    assert.equal(result.recordCount, 4);
    assert.equal(result.partitionDay, 19844);
    assert.equal(result.fileSizeInBytes, bytes.length);
    assert.deepEqual(result.valueCounts, Object.fromEntries(ids.map((id) => [id, 4])));
    // rows 0 and 3 have no order side, rows 1 and 3 no payment side (see unmatchedRow)
    assert.deepEqual(result.nullValueCounts, { 1: 0, 2: 2, 3: 2, 4: 1, 5: 2, 6: 2, 7: 2, 8: 2, 9: 0, 10: 0 });
    assert.equal(result.lowerBounds[4], 'zz');
    assert.equal(result.upperBounds[4], '😀');
    assert.equal(result.lowerBounds[5], -7);
    assert.equal(result.upperBounds[5], 7);
    assert.equal(result.lowerBounds[6], 'PAY0');
    assert.equal(result.upperBounds[6], 'PAY2');
    assert.equal(result.lowerBounds[10], DAY_START + 86_399_999_996n);
    assert.equal(result.upperBounds[10], DAY_START + 86_399_999_999n);
    const sizes: Record<number, number> = {};
    for (const rg of meta.row_groups) {
      rg.columns.forEach((c, j) => {
        sizes[ids[j]] = (sizes[ids[j]] ?? 0) + Number(c.meta_data?.total_compressed_size);
      });
    }
    assert.deepEqual(result.columnSizes, sizes);
  });

  it('string bounds are the min and max by UTF-8 bytes, in the file and in each row group', async () => {
    const text = fc.oneof(fc.string({ maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 12 }), async (ids) => {
        const rows = ids.map((id, i) => joinedRow(i, { customer_id: id }));
        const { bytes, result } = await writeToBuffer(rows, JOINED_TABLE, { rowGroupRows: 5 });
        const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
        const sorted = [...ids].sort(byBytes);
        assert.equal(result.lowerBounds[4], sorted[0]);
        assert.equal(result.upperBounds[4], sorted.at(-1));
        const { meta } = await readBack(bytes);
        meta.row_groups.forEach((rg, g) => {
          const group = ids.slice(g * 5, g * 5 + 5).sort(byBytes);
          assert.equal(rg.columns[3].meta_data?.statistics?.min_value, group[0]);
          assert.equal(rg.columns[3].meta_data?.statistics?.max_value, group.at(-1));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('a column that is null in every row has counts but no bounds', async () => {
    const rows = [unmatchedRow(1), unmatchedRow(3)]; // odd: no payment side
    const { result } = await writeToBuffer(rows, UNMATCHED_TABLE);
    assert.equal(result.nullValueCounts[6], 2);
    assert.equal(6 in result.lowerBounds, false);
    assert.equal(6 in result.upperBounds, false);
  });
});

describe('streaming', () => {
  it('pulls rows lazily: the first row group is yielded before later rows are generated', async () => {
    let pulled = 0;
    function* rows() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield joinedRow(i);
      }
    }
    const file = encodeDataFile(rows(), JOINED_TABLE, { rowGroupRows: 100 });
    const it = file[Symbol.asyncIterator]();
    assert.equal(pulled, 0);
    await it.next(); // magic
    const first = await it.next(); // first row group
    assert.equal(first.done, false);
    assert.equal(pulled, 100);
    let rest = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) rest++;
    assert.equal(rest, 10); // 9 more row groups + the footer
    assert.equal((await file.stats).recordCount, 1000);
  });

  it('accepts an async iterable and a Writable sink, which it ends', async () => {
    async function* rows() {
      for (let i = 0; i < 50; i++) yield unmatchedRow(i);
    }
    const parts: Buffer[] = [];
    let finished = false;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        setImmediate(done); // a slow consumer
      },
      final(done) {
        finished = true;
        done();
      },
    });
    const result = await writeDataFile(rows(), UNMATCHED_TABLE, sink, { rowGroupRows: 20 });
    assert.equal(finished, true);
    const bytes = Buffer.concat(parts);
    assert.equal(result.fileSizeInBytes, bytes.length);
    const { rows: back } = await readBack(bytes);
    assert.deepEqual(back, plain(range(50).map((i) => unmatchedRow(i))));
  });

  it('rejects stats when the consumer stops early, and refuses a second iteration', async () => {
    const file = encodeDataFile(
      range(100).map((i) => joinedRow(i)),
      JOINED_TABLE,
      { rowGroupRows: 10 },
    );
    for await (const _ of file) break;
    await assert.rejects(file.stats, /abandoned after 4 bytes/);
    assert.throws(() => file[Symbol.asyncIterator](), /only once/);
  });

  it('surfaces a sink error', async () => {
    const sink = async () => {
      throw new Error('disk full');
    };
    await assert.rejects(writeDataFile([joinedRow(1)], JOINED_TABLE, sink), /disk full/);
  });
});

describe('storeDataFile', () => {
  /** A store stub whose writeStream drains the source like the real adapters and reports a size. */
  function stubStore(reportSize?: (bytes: number) => number) {
    const calls: {
      uri: string;
      contentType: string | undefined;
      ifAbsent: boolean | undefined;
      bytes: Buffer;
    }[] = [];
    return {
      calls,
      async writeStream(
        uri: string,
        source: AsyncIterable<Uint8Array>,
        options: { contentType?: string; ifAbsent?: boolean } = {},
      ) {
        const parts: Uint8Array[] = [];
        for await (const chunk of source) parts.push(chunk);
        const bytes = Buffer.concat(parts);
        calls.push({ uri, contentType: options.contentType, ifAbsent: options.ifAbsent, bytes });
        const size = reportSize ? reportSize(bytes.length) : bytes.length;
        return { uri, size, generation: '1', updated: new Date() };
      },
    };
  }

  it('streams the file to the store and returns DataFileStats with the URI', async () => {
    const store = stubStore();
    const uri = 'gs://warehouse/default/orders_payments/data/joined_at_day=2024-05-01/b-1.parquet';
    const stats = await storeDataFile(store, uri, [joinedRow(1), joinedRow(2)], JOINED_TABLE, {
      ifAbsent: true,
    });
    assert.equal(stats.uri, uri);
    assert.equal(stats.recordCount, 2);
    assert.equal(store.calls.length, 1);
    assert.deepEqual(
      {
        contentType: store.calls[0].contentType,
        ifAbsent: store.calls[0].ifAbsent,
        size: store.calls[0].bytes.length,
      },
      { contentType: PARQUET_CONTENT_TYPE, ifAbsent: true, size: stats.fileSizeInBytes },
    );
    assert.deepEqual((await readBack(store.calls[0].bytes)).rows, plain([joinedRow(1), joinedRow(2)]));
  });

  it('fails as state-unknown when the store reports another size than was written', async () => {
    const store = stubStore((n) => n - 1);
    await assert.rejects(storeDataFile(store, 'file:///tmp/x.parquet', [joinedRow(1)], JOINED_TABLE), {
      kind: 'state-unknown',
      message:
        /file:\/\/\/tmp\/x.parquet: expected \d+ bytes in the stored data file, but the store reports \d+/,
    });
  });
});

describe('rejected rows', () => {
  const cases: { name: string; table: TableDef; rows: unknown[]; message: RegExp }[] = [
    {
      name: 'null in a required string column',
      table: JOINED_TABLE,
      rows: [joinedRow(0), joinedRow(1, { customer_id: null })],
      message:
        /joined table, row 1: column "customer_id" expects a string \(required: never null\), but was: null/,
    },
    {
      name: 'null in a required column of the unmatched table',
      table: UNMATCHED_TABLE,
      rows: [unmatchedRow(0, { reason: null })],
      message:
        /unmatched table, row 0: column "reason" expects a string \(required: never null\), but was: null/,
    },
    {
      name: 'missing column (undefined), even an optional one',
      table: UNMATCHED_TABLE,
      rows: [{ ...unmatchedRow(0), order_date: undefined }],
      message: /column "order_date" expects a string or null, but was: missing \(undefined\)/,
    },
    {
      name: 'number in a string column',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { order_id: 42 })],
      message: /column "order_id" expects a string \(required: never null\), but was: 42 \(number\)/,
    },
    {
      name: 'string in an int column',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { order_amount: '12' })],
      message:
        /column "order_amount" expects an int \(32-bit integer in \[-2147483648, 2147483647\]\) \(required: never null\), but was: "12" \(string\)/,
    },
    {
      name: 'fraction in an int column',
      table: UNMATCHED_TABLE,
      rows: [unmatchedRow(1, { order_amount: 12.5 })],
      message: /column "order_amount" expects an int .* or null, but was: 12.5 \(number\)/,
    },
    {
      name: 'int beyond int32',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { payment_amount: 2147483648 })],
      message: /column "payment_amount" expects an int .*, but was: 2147483648 \(number\)/,
    },
    {
      name: 'milliseconds number for a timestamptz',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { joined_at: 1714521600000 })],
      message:
        /column "joined_at" expects a timestamptz as bigint epoch microseconds .*, but was: 1714521600000 \(number\)/,
    },
    {
      name: 'Date for a timestamptz',
      table: UNMATCHED_TABLE,
      rows: [{ ...unmatchedRow(0), emitted_at: new Date(0) }],
      message:
        /column "emitted_at" expects a timestamptz as bigint epoch microseconds .*, but was: 1970-01-01T00:00:00.000Z \(Date\)/,
    },
    {
      name: 'bigint for an int column',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { order_amount: 5n })],
      message: /column "order_amount" expects an int .*, but was: 5n \(bigint\)/,
    },
    {
      name: 'a lone surrogate is not valid UTF-8',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { payment_id: 'PAY\ud800' })],
      message:
        /column "payment_id" expects a string .* \(it holds a lone UTF-16 surrogate, which is not valid UTF-8\)/,
    },
    {
      name: 'rows on two partition days',
      table: JOINED_TABLE,
      rows: [joinedRow(0), joinedRow(1), joinedRow(2, { joined_at: DAY_START + 86_400_000_000n })],
      message:
        /joined table, row 2: column "joined_at" \(partition source\) is 2024-05-02T00:00:00.000000Z, on day 19845 \(2024-05-02\), but this data file holds day 19844 \(2024-05-01\): one file per partition day; split the rows with splitRowsByDay\(\) first/,
    },
    {
      name: 'a row before the partition day given in the options',
      table: JOINED_TABLE,
      rows: [joinedRow(0, { joined_at: DAY_START - 1n })],
      message:
        /row 0: column "joined_at" \(partition source\) is 2024-04-30T23:59:59.999999Z, on day 19843 .* holds day 19844/,
    },
    {
      name: 'not an object',
      table: JOINED_TABLE,
      rows: [joinedRow(0), null],
      message: /joined table, row 1: expected a row object, but was: null/,
    },
    {
      name: 'no rows at all',
      table: JOINED_TABLE,
      rows: [],
      message: /joined table: expected at least one row for a data file, but got none/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const options = c.name.includes('options') ? { partitionDay: 19844 } : {};
      await assert.rejects(writeToBuffer(c.rows as Row[], c.table, options), (err: unknown) => {
        assert.ok(err instanceof StreamjoinError, `expected a StreamjoinError, got ${err}`);
        assert.equal(err.kind, 'invalid-input');
        assert.match(err.message, c.message);
        return true;
      });
    });
  }

  it('bad options fail fast', () => {
    assert.throws(
      () => encodeDataFile([], JOINED_TABLE, { rowGroupRows: 0 }),
      /rowGroupRows must be an integer in \[1, 10000000\], but was: 0/,
    );
    assert.throws(
      () => encodeDataFile([], JOINED_TABLE, { zstdLevel: 30 }),
      /zstdLevel must be an integer in \[1, 22\], but was: 30/,
    );
  });
});

describe('splitting by day feeds one file per day', () => {
  it('writes each day of a mixed batch to its own file with that partition day', async () => {
    const rows = [
      joinedRow(1, { joined_at: DAY_START + 5n }),
      joinedRow(2, { joined_at: DAY_START - 5n }),
      joinedRow(3, { joined_at: DAY_START + 6n }),
    ];
    const days = splitRowsByDay(rows, JOINED_TABLE);
    assert.deepEqual([...days.keys()], [19843, 19844]);
    for (const [day, dayRows] of days) {
      const { result } = await writeToBuffer(dayRows, JOINED_TABLE);
      assert.equal(result.partitionDay, day);
      assert.equal(result.recordCount, dayRows.length);
      assert.equal(partitionDayOf(result.lowerBounds[9] as bigint), day);
    }
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function pick(stats: { min_value?: unknown; max_value?: unknown; null_count?: bigint } | undefined) {
  return { min_value: stats?.min_value, max_value: stats?.max_value, null_count: stats?.null_count };
}
