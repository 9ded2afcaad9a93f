// The tick (Cloud Scheduler, every minute): evict expired waiting states, then flush outbox rows into
// staged Parquet micro-batches. Idempotent and safe to overlap (see evict.ts and flush.ts).
import type { Firestore } from '@google-cloud/firestore';
import { parquetMetadataAsync } from 'hyparquet';
import type { Config } from '../config.ts';
import { tablePath } from '../config.ts';
import { StreamjoinError } from '../errors.ts';
import type { Collections } from '../firestore/client.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import { guardOn } from '../guards.ts';
import { loadOrCreateTable, type Table } from '../iceberg/table.ts';
import {
  blockedTableError,
  planTableWrite,
  TABLE_PROPERTIES,
  type TableLayout,
} from '../iceberg/write-layout.ts';
import type { Logger } from '../log.ts';
import { encodeDataFile } from '../parquet/data-file-writer.ts';
import { tableDefsOf } from '../spec/tables.ts';
import type { ObjectStore } from '../storage/port.ts';
import type { TableKind } from '../tables.ts';
import { type EvictResult, evictExpired } from './evict.ts';
import {
  FIELD_IDS_PROPERTY,
  fieldIdsProperty,
  JOIN_SPEC_PROPERTY,
  joinSpecProperty,
  prepareTableForSpec,
} from './evolve.ts';
import { type DataFileWriter, type FlushDeps, Flusher, type FlushResult, ROW_IDS_KEY } from './flush.ts';

export interface TickDeps {
  readonly db: Firestore;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly store: ObjectStore;
  readonly config: Config;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface TickResult {
  readonly evict: EvictResult;
  readonly flush: FlushResult;
}

export function tableUris(
  config: Pick<Config, 'warehouse' | 'namespace' | 'joinedTable' | 'unmatchedTable'>,
): Record<TableKind, string> {
  return {
    joined: tablePath(config, config.joinedTable),
    unmatched: tablePath(config, config.unmatchedTable),
  };
}

/** The content identity a Parquet data file records (ROW_IDS_KEY in its footer), or undefined when it
 *  records none or is not a Parquet file. */
export async function readDataFileIdentity(
  store: ObjectStore,
  uri: string,
  size: number,
): Promise<string | undefined> {
  try {
    const md = await parquetMetadataAsync({
      byteLength: size,
      async slice(start: number, end?: number): Promise<ArrayBuffer> {
        const buf = await store.readRange(uri, start, end ?? size);
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      },
    });
    return md.key_value_metadata?.find((kv) => kv.key === ROW_IDS_KEY)?.value ?? undefined;
  } catch (err) {
    if (err instanceof StreamjoinError) throw err; // storage errors: retry
    return undefined; // not a Parquet file
  }
}

/**
 * Streams rows into a Parquet file at `uri` through the ObjectStore, create-only. A flush batch's file
 * name and rows are fixed, so a file that already exists was normally written by an earlier attempt of
 * the same batch: it is kept when it records the same content identity (the digest of its row ids) as
 * this attempt's rows, and its stats are recomputed from those rows (size from the object itself). A
 * file whose identity differs — or that records none — is never accepted nor overwritten: a retryable
 * conflict naming both identities.
 */
export function storeDataFileWriter(
  store: ObjectStore,
  config: Pick<Config, 'rowGroupRows'>,
): DataFileWriter {
  return async (uri, table, rows, identity, settings) => {
    const existing = await store.stat(uri);
    const file = encodeDataFile(rows, table, {
      rowGroupRows: config.rowGroupRows,
      ...(settings === undefined ? {} : { codec: settings.codec }),
      ...(settings?.level === undefined ? {} : { level: settings.level }),
      ...(identity === undefined ? {} : { keyValueMetadata: () => ({ [ROW_IDS_KEY]: identity() }) }),
    });
    if (existing !== undefined) {
      for await (const _ of file); // this attempt's rows: their stats and identity
      const stats = await file.stats;
      const ours = identity?.();
      const theirs = await readDataFileIdentity(store, uri, existing.size);
      // Guard flush.reused-file-content: another attempt's rows (or a foreign file) are never staged as ours.
      if (guardOn('flush.reused-file-content') && (ours === undefined || theirs !== ours)) {
        throw new StreamjoinError(
          'conflict',
          `data file ${uri} exists with content identity ${theirs ?? '(none recorded)'}, but this attempt's rows are ${ours ?? '(no identity)'}: not reused, not overwritten`,
          { context: { uri, existing: theirs ?? null, ours: ours ?? null } },
        );
      }
      return { uri, ...stats, fileSizeInBytes: existing.size };
    }
    try {
      await store.writeStream(uri, file, { contentType: 'application/vnd.apache.parquet', ifAbsent: true });
    } catch (err) {
      if (err instanceof StreamjoinError && err.kind === 'already-exists') {
        throw new StreamjoinError(
          'conflict',
          `data file ${uri} was written concurrently by another attempt`,
          {
            context: { uri },
            cause: err,
          },
        );
      }
      throw err;
    }
    return { uri, ...(await file.stats) };
  };
}

/** Properties a table is created with: the codec the pipeline writes, so other engines' appends match. */
export const TABLE_CREATE_PROPERTIES: Readonly<Record<string, string>> = {
  [TABLE_PROPERTIES.compressionCodec]: 'zstd',
};

/** Loads (or creates) a pipeline table. */
export function openTable(deps: Pick<TickDeps, 'store' | 'config' | 'now'>, kind: TableKind): Promise<Table> {
  const location = tableUris(deps.config)[kind].replace(/\/+$/, '');
  return loadOrCreateTable(deps.store, location, tableDefsOf(deps.config.joinSpec)[kind], {
    // The spec it is created with: what the next spec's evolution starts from (renames keep their ids).
    properties: {
      ...TABLE_CREATE_PROPERTIES,
      [JOIN_SPEC_PROPERTY]: joinSpecProperty(deps.config.joinSpec),
      [FIELD_IDS_PROPERTY]: fieldIdsProperty(
        new Map(tableDefsOf(deps.config.joinSpec)[kind].columns.map((c) => [c.name, c.id])),
      ),
    },
    nowMs: (deps.now ?? Date.now)(),
  });
}

/**
 * How to write each table as it is now (its current schema, spec and properties), for the flush; a
 * table another engine changed beyond what the pipeline writes throws 'incompatible-table' naming each
 * change and what to do.
 */
export function tableLayoutProvider(deps: TickDeps): (kind: TableKind) => Promise<TableLayout> {
  return async (kind) => {
    // Before any row of the configured spec: the table evolved to it (a schema update commit with the
    // spec recorded), or the change refused — StreamjoinError 'config', so the tick fails loudly and
    // nothing is written; the table stays as it was.
    const { table, def } = await prepareTableForSpec(await openTable(deps, kind), kind, deps.config.joinSpec);
    const plan = planTableWrite(def, table.metadata, kind);
    if (!plan.ok) throw blockedTableError(table.location, plan.problems);
    for (const warning of plan.layout.warnings) deps.log.warn({ table: kind }, warning);
    return plan.layout;
  };
}

export function createFlusher(deps: TickDeps, extra: Pick<FlushDeps, 'pause'> = {}): Flusher {
  return new Flusher({
    ...extra,
    layoutOf: tableLayoutProvider(deps),
    tables: tableDefsOf(deps.config.joinSpec),
    db: deps.db,
    collections: deps.collections,
    counter: deps.counter,
    log: deps.log,
    writeDataFile: storeDataFileWriter(deps.store, deps.config),
    tableUris: tableUris(deps.config),
    shards: deps.config.indexShards,
    maxRows: deps.config.flushMaxRows,
    leaseMs: deps.config.flushLeaseMs,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
}

export async function runTick(deps: TickDeps): Promise<TickResult> {
  const evict = await evictExpired(deps);
  const flush = await createFlusher(deps).flushAll();
  return { evict, flush };
}
