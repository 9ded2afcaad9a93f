// Reading a table: snapshots, the live data files of any snapshot (time travel), and rows. Parquet is
// read with hyparquet; columns are matched to the table schema BY FIELD ID, as Iceberg readers do, so a
// renamed Parquet column still lands in the right place. Timestamps stay epoch microseconds (bigint).
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from 'node:zlib';
import { type AsyncBuffer, type Compressors, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { StreamjoinError } from '../errors.ts';
import type { ObjectStore } from '../storage/port.ts';
import type { Row, RowValue } from '../tables.ts';
import { readManifestEntries, readManifestList, snapshotById } from './snapshot-producer.ts';
import { isLive } from './spec/manifests.ts';
import type { ResolvedEntry, Schema, Snapshot, SnapshotId, TableMetadata } from './spec/types.ts';
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

/** The live (ADDED or EXISTING) data files of a snapshot (default: the current one), with inherited sequence numbers. */
export async function listDataFiles(table: Table, snapshotId?: SnapshotId): Promise<ResolvedEntry[]> {
  const snapshot = pickSnapshot(table.metadata, snapshotId, table.location);
  if (snapshot === undefined) return [];
  const manifests = await readManifestList(table.store, snapshot.manifestList);
  const out: ResolvedEntry[] = [];
  const seen = new Set<string>();
  for (const m of manifests) {
    if (m.content !== 0 || m.addedFilesCount + m.existingFilesCount === 0) continue;
    for (const e of await readManifestEntries(table.store, m)) {
      if (!isLive(e)) continue;
      if (seen.has(e.dataFile.filePath)) {
        throw new StreamjoinError(
          'internal',
          `expected each live file once in snapshot ${snapshot.snapshotId}, but ${e.dataFile.filePath} appears twice`,
        );
      }
      seen.add(e.dataFile.filePath);
      out.push(e);
    }
  }
  return out;
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
      const buf = await store.readRange(uri, start, end ?? byteLength);
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    },
  };
}

function toRowValue(v: unknown): RowValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return v;
  return String(v);
}

/** Rows of one Parquet data file, keyed by the table schema's column names (matched by field id). */
export async function* readDataFileRows(
  store: ObjectStore,
  uri: string,
  byteLength: number,
  schema: Schema,
): AsyncGenerator<Row> {
  const file = asyncBuffer(store, uri, byteLength);
  const metadata = await parquetMetadataAsync(file);
  const byId = new Map<number, string>();
  for (const el of metadata.schema.slice(1)) if (el.field_id !== undefined) byId.set(el.field_id, el.name);
  const columns = schema.fields.map((f) => ({ name: f.name, parquet: byId.get(f.id) }));
  const wanted = columns.flatMap((c) => (c.parquet === undefined ? [] : [c.parquet]));
  let start = 0;
  for (const rg of metadata.row_groups) {
    const end = start + Number(rg.num_rows);
    const rows = await parquetReadObjects({
      file,
      metadata,
      columns: wanted,
      rowStart: start,
      rowEnd: end,
      compressors: COMPRESSORS,
      parsers: { timestampFromMicroseconds: (micros: bigint) => micros },
    });
    for (const r of rows) {
      const out: Record<string, RowValue> = {};
      for (const c of columns) out[c.name] = c.parquet === undefined ? null : toRowValue(r[c.parquet]);
      yield out;
    }
    start = end;
  }
}

export interface ReadRowsOptions {
  readonly snapshotId?: SnapshotId;
  readonly limit?: number;
}

/** Rows of a snapshot (default: current), file by file, stopping after `limit`. */
export async function* readRows(table: Table, options: ReadRowsOptions = {}): AsyncGenerator<Row> {
  const snapshot = pickSnapshot(table.metadata, options.snapshotId, table.location);
  if (snapshot === undefined) return;
  const md = table.metadata;
  const schemaId = snapshot.schemaId ?? md.currentSchemaId;
  const schema = md.schemas.find((s) => s.schemaId === schemaId) ?? md.schemas[0]!;
  const limit = options.limit ?? Infinity;
  let n = 0;
  if (n >= limit) return;
  for (const entry of await listDataFiles(table, snapshot.snapshotId)) {
    for await (const row of readDataFileRows(
      table.store,
      entry.dataFile.filePath,
      entry.dataFile.fileSizeInBytes,
      schema,
    )) {
      yield row;
      if (++n >= limit) return;
    }
  }
}
