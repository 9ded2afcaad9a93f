// Reading a table: snapshots, the live data and delete files of any snapshot (time travel), and rows
// with position and equality deletes applied. Parquet is read with hyparquet; columns are matched to the
// table schema BY FIELD ID, as Iceberg readers do, so a renamed Parquet column still lands in the right
// place and a column another engine added later reads as null in older files. Timestamps stay epoch
// microseconds (bigint).
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from 'node:zlib';
import {
  type AsyncBuffer,
  type ColumnData,
  type Compressors,
  type FileMetaData,
  parquetMetadataAsync,
  parquetRead,
} from 'hyparquet';
import { StreamjoinError } from '../errors.ts';
import type { ObjectStore } from '../storage/port.ts';
import type { Row, RowValue } from '../tables.ts';
import { readPositionDeletes } from './deletes-io.ts';
import { readManifestEntries, readManifestList, snapshotById } from './snapshot-producer.ts';
import { DeleteIndex, type SpecEntry } from './spec/deletes.ts';
import { isLive } from './spec/manifests.ts';
import { bytesToDecimal } from './spec/single-value.ts';
import { parsePrimitive } from './spec/type-info.ts';
import {
  type IcebergType,
  MANIFEST_CONTENT,
  type ResolvedEntry,
  type Schema,
  type Snapshot,
  type SnapshotId,
  type TableMetadata,
} from './spec/types.ts';
import type { Table } from './table.ts';

/** Snapshots in commit order (sequence number ascending). */
export function listSnapshots(table: Table): Snapshot[] {
  return [...table.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
}

function pickSnapshot(
  md: TableMetadata,
  snapshotId: SnapshotId | undefined,
  location: string,
): Snapshot | undefined {
  const id = snapshotId ?? md.currentSnapshotId;
  if (id === undefined) return undefined;
  const s = snapshotById(md, id);
  if (s === undefined) {
    throw new StreamjoinError(
      'not-found',
      `expected snapshot ${id} in ${location}, but it is not there (expired?)`,
      {
        context: { snapshotId: id.toString(), location },
      },
    );
  }
  return s;
}

/** A snapshot's live entries: data files and delete files, each with its manifest's partition spec. */
export interface LiveFiles {
  readonly data: SpecEntry[];
  readonly deletes: SpecEntry[];
}

/** The live (ADDED or EXISTING) data and delete files of a snapshot (default: the current one). */
export async function listLiveFiles(table: Table, snapshotId?: SnapshotId): Promise<LiveFiles> {
  const snapshot = pickSnapshot(table.metadata, snapshotId, table.location);
  if (snapshot === undefined) return { data: [], deletes: [] };
  const manifests = await readManifestList(table.store, snapshot.manifestList);
  const data: SpecEntry[] = [];
  const deletes: SpecEntry[] = [];
  const seen = new Set<string>();
  for (const m of manifests) {
    if (m.addedFilesCount + m.existingFilesCount === 0) continue;
    for (const e of await readManifestEntries(table.store, m)) {
      if (!isLive(e)) continue;
      if (seen.has(e.dataFile.filePath)) {
        throw new StreamjoinError(
          'internal',
          `expected each live file once in snapshot ${snapshot.snapshotId}, but ${e.dataFile.filePath} appears twice`,
        );
      }
      seen.add(e.dataFile.filePath);
      (m.content === MANIFEST_CONTENT.deletes ? deletes : data).push({ entry: e, specId: m.partitionSpecId });
    }
  }
  return { data, deletes };
}

/** The live (ADDED or EXISTING) data files of a snapshot (default: the current one), with inherited sequence numbers. */
export async function listDataFiles(table: Table, snapshotId?: SnapshotId): Promise<ResolvedEntry[]> {
  return (await listLiveFiles(table, snapshotId)).data.map((d) => d.entry);
}

/** The live delete files (position and equality) of a snapshot (default: the current one). */
export async function listDeleteFiles(table: Table, snapshotId?: SnapshotId): Promise<SpecEntry[]> {
  return (await listLiveFiles(table, snapshotId)).deletes;
}

const COMPRESSORS: Compressors = {
  ZSTD: (input) => new Uint8Array(zstdDecompressSync(input)),
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

function asyncBuffer(store: ObjectStore, uri: string, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      return ownArrayBuffer(await store.readRange(uri, start, end ?? byteLength));
    },
  };
}

/** The bytes as an ArrayBuffer of their own (no copy when the Buffer already is one). */
function ownArrayBuffer(buf: Uint8Array): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer)
    return buf.buffer;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * An AsyncBuffer that serves reads inside [start, end) from one prefetched range (a row group's column
 * chunks: one request instead of one per column) and anything else from the store.
 */
function prefetchedBuffer(file: AsyncBuffer, range: Uint8Array, rangeStart: number): AsyncBuffer {
  const rangeEnd = rangeStart + range.byteLength;
  return {
    byteLength: file.byteLength,
    slice(start: number, end?: number) {
      const e = end ?? file.byteLength;
      if (start >= rangeStart && e <= rangeEnd) {
        return range.buffer.slice(
          range.byteOffset + start - rangeStart,
          range.byteOffset + e - rangeStart,
        ) as ArrayBuffer;
      }
      return file.slice(start, e);
    },
  };
}

/**
 * A decoded Parquet value as the table value of its Iceberg type (shared/spec/values.ts): long,
 * timestamp(tz) and decimal (unscaled) as bigint, int/float/double/date (days) as numbers, booleans;
 * a type the pipeline does not write (uuid, binary, nested) as text.
 */
function toRowValue(type: IcebergType, v: unknown): RowValue {
  if (v === undefined || v === null) return null;
  const p = typeof type === 'string' ? parsePrimitive(type) : undefined;
  switch (p?.kind) {
    case 'long':
    case 'timestamp':
    case 'timestamptz':
    case 'time':
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
      break;
    case 'decimal':
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
      if (v instanceof Uint8Array) return bytesToDecimal(v);
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      break;
    case 'date':
    case 'int':
    case 'float':
    case 'double':
      if (typeof v === 'number') return v;
      break;
    case 'string':
      if (typeof v === 'string') return v;
      break;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
    return v;
  return String(v);
}

/** Top-level Parquet columns by Iceberg field id (the footer's schema is flat, depth first). */
function topLevelColumnsById(metadata: FileMetaData): Map<number, string> {
  const out = new Map<number, string>();
  const els = metadata.schema;
  let i = 1;
  const skip = (): void => {
    const el = els[i++]!;
    for (let c = 0; c < (el.num_children ?? 0); c++) skip();
  };
  const rootChildren = els[0]?.num_children ?? 0;
  for (let c = 0; c < rootChildren && i < els.length; c++) {
    const el = els[i]!;
    if (el.field_id !== undefined) out.set(el.field_id, el.name);
    skip();
  }
  return out;
}

/**
 * The footer with decimal annotations removed, so hyparquet hands over a decimal's unscaled value (an
 * int32/int64 number or bigint, or its big-endian bytes) instead of a rounded float.
 */
function withRawDecimals(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((el) =>
      el.converted_type === 'DECIMAL' || el.logical_type?.type === 'DECIMAL'
        ? { ...el, converted_type: undefined, logical_type: undefined }
        : el,
    ) as FileMetaData['schema'],
  };
}

/** Parsers that keep values as Iceberg writers hold them: micros as bigint, days as a number, bytes. */
const RAW_PARSERS = {
  timestampFromMicroseconds: (micros: bigint) => micros,
  timestampFromMilliseconds: (millis: bigint) => BigInt(millis) * 1000n,
  dateFromDays: (days: number) => days,
  uuidFromBytes: (bytes: Uint8Array) => bytes,
};

/** Display values: timestamps as micros, dates as days (table values); strings decoded. */
const DISPLAY_PARSERS = {
  timestampFromMicroseconds: (micros: bigint) => micros,
  timestampFromMilliseconds: (millis: bigint) => BigInt(millis) * 1000n,
  dateFromDays: (days: number) => days,
};

export interface ReadFileOptions {
  /**
   * Values as the writer takes them back (compaction): decimals as unscaled values, uuid/fixed/binary
   * as bytes, dates as day numbers, nested values as hyparquet assembles them. Default: display values
   * (string, number, bigint, null).
   */
  readonly raw?: boolean;
  /** Row positions (0-based, in the file) to leave out: the file's position deletes. */
  readonly deletedPositions?: ReadonlySet<number>;
}

/** Rows of one Parquet data file, keyed by the table schema's column names (matched by field id). */
export async function* readDataFileRows(
  store: ObjectStore,
  uri: string,
  byteLength: number,
  schema: Schema,
  options: ReadFileOptions = {},
): AsyncGenerator<Row> {
  for await (const { row } of readDataFileRecords(store, uri, byteLength, schema, options)) yield row as Row;
}

/** Rows of a data file with their position in the file (what position deletes name). */
export async function* readDataFileRecords(
  store: ObjectStore,
  uri: string,
  byteLength: number,
  schema: Schema,
  options: ReadFileOptions = {},
): AsyncGenerator<{ readonly pos: number; readonly row: Readonly<Record<string, unknown>> }> {
  const deleted = options.deletedPositions;
  const raw = options.raw === true;
  const names = schema.fields.map((f) => f.name);
  const types = schema.fields.map((f) => f.type);
  for await (const batch of readDataFileBatches(store, uri, byteLength, schema, options)) {
    const columns: (ArrayLike<unknown> | undefined)[] = [];
    for (let c = 0; c < names.length; c++) columns.push(await batch.column(c));
    for (let i = 0; i < batch.length; i++) {
      const pos = batch.start + i;
      if (deleted?.has(pos)) continue;
      const out: Record<string, unknown> = {};
      for (let c = 0; c < names.length; c++) {
        const col = columns[c];
        const v = col === undefined ? null : col[i];
        out[names[c]!] = raw ? (v === undefined ? null : v) : toRowValue(types[c]!, v);
      }
      yield { pos, row: out };
    }
  }
}

/**
 * Consecutive rows of a data file, column by column and decoded only when asked for: what compaction
 * streams (no row objects, and one decoded column at a time).
 */
export interface RowBatch {
  /** Position in the file of the batch's first row. */
  readonly start: number;
  readonly length: number;
  /**
   * The values of the schema's field `index` for these rows (hyparquet's decoded values: null or
   * undefined for a null), decoded on each call; undefined when the file has no column with that
   * field id (another engine added it later): null in every row. Valid until the next batch is taken.
   */
  column(index: number): Promise<ArrayLike<unknown> | undefined>;
}

/** Rows per batch at most (a larger row group is read in slices). Our writer's row groups are 50,000 rows. */
export const DEFAULT_BATCH_ROWS = 65_536;

/** Row groups whose column chunks take at most this many bytes are fetched in one request. */
const PREFETCH_MAX_BYTES = 32 * 1024 * 1024;

/**
 * A data file as consecutive batches of rows, one row group at a time (row groups over `maxBatchRows`
 * rows in slices of it), columns matched to the schema by field id: memory holds the row group's
 * compressed column chunks and the column being decoded, whatever the size of the file. Deletes are not
 * applied here (see readDataFileRecords' deletedPositions).
 */
export async function* readDataFileBatches(
  store: ObjectStore,
  uri: string,
  byteLength: number,
  schema: Schema,
  options: ReadFileOptions & { readonly maxBatchRows?: number } = {},
): AsyncGenerator<RowBatch> {
  const file = asyncBuffer(store, uri, byteLength);
  const footer = await parquetMetadataAsync(file);
  // Decimals undecorated in both modes: their unscaled values, never a rounded float.
  const metadata = withRawDecimals(footer);
  const raw = options.raw === true;
  const byId = topLevelColumnsById(metadata);
  const parquetNames = schema.fields.map((f) => byId.get(f.id));
  const wanted = new Set(parquetNames.filter((n): n is string => n !== undefined));
  const maxRows = options.maxBatchRows ?? DEFAULT_BATCH_ROWS;
  let groupStart = 0;
  for (const rg of metadata.row_groups) {
    const groupRows = Number(rg.num_rows);
    // The wanted column chunks of this row group, fetched in one request when they are not too large.
    let lo = Infinity;
    let hi = 0;
    for (const chunk of rg.columns) {
      const meta = chunk.meta_data;
      if (meta === undefined || !wanted.has(meta.path_in_schema[0]!)) continue;
      const from = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      lo = Math.min(lo, from);
      hi = Math.max(hi, from + Number(meta.total_compressed_size));
    }
    const source =
      hi > lo && hi - lo <= PREFETCH_MAX_BYTES
        ? prefetchedBuffer(file, await store.readRange(uri, lo, hi), lo)
        : file;
    for (let s = 0; s < groupRows; s += maxRows) {
      const start = groupStart + s;
      const end = groupStart + Math.min(groupRows, s + maxRows);
      yield {
        start,
        length: end - start,
        column: async (index) => {
          const name = parquetNames[index];
          return name === undefined ? undefined : readColumnRange(source, metadata, name, start, end, raw);
        },
      };
    }
    groupStart += groupRows;
  }
}

/** Rows [start, end) of one top-level column, as one array of end - start values. */
async function readColumnRange(
  file: AsyncBuffer,
  metadata: FileMetaData,
  column: string,
  start: number,
  end: number,
  raw: boolean,
): Promise<ArrayLike<unknown>> {
  const list: ColumnData[] = [];
  await parquetRead({
    file,
    metadata,
    columns: [column],
    rowStart: start,
    rowEnd: end,
    compressors: COMPRESSORS,
    ...(raw ? { parsers: RAW_PARSERS, utf8: false } : { parsers: DISPLAY_PARSERS }),
    onChunk: (chunk) => {
      if (chunk.columnName === column) list.push(chunk);
    },
  });
  // Chunks are pages or runs of pages; they may begin before `start` or run past `end`.
  list.sort((a, b) => a.rowStart - b.rowStart);
  const only = list.length === 1 ? list[0]! : undefined;
  if (only !== undefined && only.rowStart === start && only.rowEnd === end) {
    return only.columnData as ArrayLike<unknown>;
  }
  const n = end - start;
  const values = new Array<unknown>(n).fill(null);
  let filled = 0;
  for (const c of list) {
    const from = Math.max(start, c.rowStart);
    const to = Math.min(end, c.rowEnd);
    const data = c.columnData as ArrayLike<unknown>;
    for (let r = from; r < to; r++) values[r - start] = data[r - c.rowStart];
    filled += Math.max(0, to - from);
  }
  if (filled !== n) {
    throw new StreamjoinError(
      'invalid-input',
      `expected ${n} values of column ${column} for rows [${start}, ${end}), but the file's pages held ${filled}`,
    );
  }
  return values;
}

export interface ReadRowsOptions {
  readonly snapshotId?: SnapshotId;
  readonly limit?: number;
}

/** Position deletes of a data file from the delete files that apply to it: the positions it loses. */
async function deletedPositionsOf(
  store: ObjectStore,
  dataFile: string,
  deletes: readonly SpecEntry[],
  cache: Map<string, Map<string, number[]>>,
): Promise<Set<number>> {
  const out = new Set<number>();
  for (const d of deletes) {
    let byFile = cache.get(d.entry.dataFile.filePath);
    if (byFile === undefined) {
      byFile = await readPositionDeletes(store, d.entry);
      cache.set(d.entry.dataFile.filePath, byFile);
    }
    for (const pos of byFile.get(dataFile) ?? []) out.add(pos);
  }
  return out;
}

/** A value as an equality key part (bytes and bigints made comparable). */
function keyPart(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString('hex')}`;
  return JSON.stringify(v);
}

/** The equality keys an equality delete file deletes (its equality_ids columns, null equal to null). */
async function equalityKeysOf(
  store: ObjectStore,
  d: SpecEntry,
  schema: Schema,
  cache: Map<string, Set<string>>,
): Promise<Set<string>> {
  const path = d.entry.dataFile.filePath;
  const cached = cache.get(path);
  if (cached !== undefined) return cached;
  const ids = d.entry.dataFile.equalityIds ?? [];
  const fields = ids.map((id) => {
    const f = schema.fields.find((x) => x.id === id);
    if (f === undefined)
      throw new StreamjoinError(
        'invalid-input',
        `expected equality delete ${path} to delete by top-level columns of schema ${schema.schemaId}, but field id ${id} is not one`,
      );
    return f;
  });
  const keys = new Set<string>();
  const deleteSchema: Schema = { schemaId: -1, fields };
  for await (const { row } of readDataFileRecords(
    store,
    path,
    d.entry.dataFile.fileSizeInBytes,
    deleteSchema,
    { raw: true },
  )) {
    keys.add(fields.map((f) => keyPart(row[f.name])).join('|'));
  }
  cache.set(path, keys);
  return keys;
}

/** Rows of a snapshot (default: current), file by file, stopping after `limit`; deletes applied. */
export async function* readRows(table: Table, options: ReadRowsOptions = {}): AsyncGenerator<Row> {
  const snapshot = pickSnapshot(table.metadata, options.snapshotId, table.location);
  if (snapshot === undefined) return;
  const md = table.metadata;
  const schemaId = snapshot.schemaId ?? md.currentSchemaId;
  const schema = md.schemas.find((s) => s.schemaId === schemaId) ?? md.schemas[0]!;
  const limit = options.limit ?? Infinity;
  let n = 0;
  if (n >= limit) return;
  const live = await listLiveFiles(table, snapshot.snapshotId);
  const index = new DeleteIndex(live.deletes, md.partitionSpecs);
  const positionCache = new Map<string, Map<string, number[]>>();
  const equalityCache = new Map<string, Set<string>>();
  for (const data of live.data) {
    const applicable = index.forDataFile(data);
    const deletedPositions =
      applicable.position.length === 0
        ? undefined
        : await deletedPositionsOf(
            table.store,
            data.entry.dataFile.filePath,
            applicable.position,
            positionCache,
          );
    const equality: { names: string[]; keys: Set<string> }[] = [];
    for (const d of applicable.equality) {
      const names = (d.entry.dataFile.equalityIds ?? []).map(
        (id) => schema.fields.find((f) => f.id === id)?.name ?? `#${id}`,
      );
      equality.push({ names, keys: await equalityKeysOf(table.store, d, schema, equalityCache) });
    }
    const f = data.entry.dataFile;
    const typeOf = new Map(schema.fields.map((x) => [x.name, x.type]));
    const read = readDataFileRecords(table.store, f.filePath, f.fileSizeInBytes, schema, {
      ...(deletedPositions === undefined ? {} : { deletedPositions }),
      raw: equality.length > 0,
    });
    for await (const { row } of read) {
      if (equality.some((e) => e.keys.has(e.names.map((name) => keyPart(row[name])).join('|')))) continue;
      const out: Record<string, RowValue> = {};
      for (const [k, v] of Object.entries(row)) out[k] = toRowValue(typeOf.get(k) ?? 'string', v);
      yield out;
      if (++n >= limit) return;
    }
  }
}
