// The streaming rewrite compaction runs: data files read one row group at a time (readDataFileBatches,
// columns decoded on demand) into rolling output files closed at the target size (storeRollingDataFiles).
// Every row comes out once, in order, with every value as it was; input row groups are never split; a file
// is closed once a row group takes it to the target; an input without rows writes nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { readDataFileBatches } from '../../../shared/iceberg/reader.ts';
import { schemaFromTableDef } from '../../../shared/iceberg/spec/schema.ts';
import type { FileSchema } from '../../../shared/parquet/data-file-writer.ts';
import { encodeDataFile, storeRollingDataFiles } from '../../../shared/parquet/index.ts';
import { FileObjectStore } from '../../../shared/storage/file-store.ts';
import { JOINED_TABLE, type Row } from '../../../shared/tables.ts';

const DAY_START = 1_714_521_600_000_000n;
const store = new FileObjectStore();
const schema = schemaFromTableDef(JOINED_TABLE);
const fileSchema: FileSchema = {
  tableName: 'joined',
  schemaId: schema.schemaId,
  columns: schema.fields.map((f) => ({ field: f, key: f.name })),
};
const compressors = { ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)) };

function row(i: number): Row {
  return {
    order_id: `ORD${String(i).padStart(7, '0')}`,
    order_date: '2024-05-01T10:00:00',
    created_at: `2024-05-01T10:00:00.${String(i % 1000).padStart(3, '0')}`,
    customer_id: `CUST${(i * 7919) % 5000}`,
    order_amount: 100 + ((i * 31) % 9000),
    payment_id: `PAY${i}`,
    payment_date: '2024-05-01T10:01:00',
    payment_amount: 100 + ((i * 31) % 9000),
    joined_at: DAY_START + BigInt(i) * 1_000_003n,
  };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sj-rolling-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes input files of the given row counts (row groups of `groupRows`); returns them with their rows. */
async function inputs(label: string, counts: readonly number[], groupRows: number) {
  const out: { uri: string; size: number; rows: Row[] }[] = [];
  let n = 0;
  for (const [k, count] of counts.entries()) {
    const rows = Array.from({ length: count }, () => row(n++));
    const uri = `file://${dir}/${label}-in-${k}.parquet`;
    const file = encodeDataFile(rows, JOINED_TABLE, { rowGroupRows: groupRows });
    await store.writeStream(uri, file, { ifAbsent: true });
    out.push({ uri, size: (await file.stats).fileSizeInBytes, rows });
  }
  return out;
}

async function rewrite(
  label: string,
  files: Awaited<ReturnType<typeof inputs>>,
  options: { targetFileSize: number; rowGroupRows: number },
) {
  const uris: string[] = [];
  async function* batches() {
    for (const f of files) {
      yield* readDataFileBatches(store, f.uri, f.size, schema, {
        raw: true,
        maxBatchRows: options.rowGroupRows,
      });
    }
  }
  const stats = await storeRollingDataFiles(
    store,
    () => {
      const uri = `file://${dir}/${label}-out-${uris.length}.parquet`;
      uris.push(uri);
      return uri;
    },
    batches(),
    fileSchema,
    options,
  );
  return { stats, uris };
}

/** Rows of a written file through hyparquet, and its row group sizes. */
async function readBack(uri: string) {
  const bytes = readFileSync(new URL(uri));
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const md = parquetMetadata(buf);
  const rows = (await parquetReadObjects({
    file: buf,
    compressors,
    parsers: { timestampFromMicroseconds: (m: bigint) => m },
  })) as Row[];
  return { rows, groups: md.row_groups.map((g) => Number(g.num_rows)), size: bytes.byteLength };
}

const outRowsOf = (groupRows: number) => Math.min(groupRows, 500);

describe('storeRollingDataFiles over readDataFileBatches: the streaming rewrite', () => {
  const cases = [
    {
      name: 'many small files into one (target far away)',
      counts: [300, 250, 400, 50],
      groupRows: 500,
      target: 1 << 30,
    },
    {
      name: 'outputs roll at the target size',
      counts: [900, 900, 900, 900, 900],
      groupRows: 300,
      target: 20_000,
    },
    { name: 'a tiny target: one output per row group', counts: [500, 500], groupRows: 100, target: 1024 },
    {
      name: 'input row groups larger than the output`s: read in slices of the output`s row group size',
      counts: [700, 700],
      groupRows: 700,
      target: 1 << 30,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const label = c.name.replace(/\W+/g, '-');
      const files = await inputs(label, c.counts, c.groupRows);
      const { stats, uris } = await rewrite(label, files, {
        targetFileSize: c.target,
        rowGroupRows: outRowsOf(c.groupRows),
      });
      assert.equal(stats.length, uris.length, 'nextUri is called once per file written');
      const expected = files.flatMap((f) => f.rows);
      const got: Row[] = [];
      // The batches read: each input row group, in slices of the output's row group size when larger.
      const outRows = outRowsOf(c.groupRows);
      const inputGroups = files.flatMap((f) => {
        const g: number[] = [];
        for (let r = f.rows.length; r > 0; r -= c.groupRows) {
          for (let s = Math.min(r, c.groupRows); s > 0; s -= outRows) g.push(Math.min(s, outRows));
        }
        return g;
      });
      const outputGroups: number[] = [];
      for (const [i, s] of stats.entries()) {
        const back = await readBack(s.uri);
        got.push(...back.rows);
        outputGroups.push(...back.groups);
        assert.equal(s.fileSizeInBytes, back.size);
        assert.equal(s.recordCount, back.rows.length);
        // Every file but the last reached the target; none went on past the row group that took it there.
        if (i < stats.length - 1)
          assert.ok(s.fileSizeInBytes >= c.target, `file ${i}: ${s.fileSizeInBytes} B`);
      }
      assert.deepEqual(got, expected);
      // Output row groups are whole batches (or several of them), never a part of one, and never larger
      // than the row group size.
      let k = 0;
      for (const g of outputGroups) {
        assert.ok(g <= outRows, `output row group of ${g} rows`);
        let sum = 0;
        while (sum < g) sum += inputGroups[k++]!;
        assert.equal(sum, g, `output row group of ${g} rows is made of whole input row groups`);
      }
      assert.equal(k, inputGroups.length);
      if (c.target === 1024) assert.equal(stats.length, outputGroups.length);
      if (c.target === 20_000) assert.ok(stats.length >= 2, `${stats.length} files`);
    });
  }

  it('an input without rows writes no file', async () => {
    const { stats, uris } = await rewrite('empty', [], { targetFileSize: 1024, rowGroupRows: 100 });
    assert.deepEqual(stats, []);
    assert.deepEqual(uris, []);
  });
});
