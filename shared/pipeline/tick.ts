// The tick (Cloud Scheduler, every minute): evict expired waiting states, then flush outbox rows into
// staged Parquet micro-batches. Idempotent and safe to overlap (see evict.ts and flush.ts).
import type { Firestore } from '@google-cloud/firestore';
import type { Config } from '../config.ts';
import { tablePath } from '../config.ts';
import { StreamjoinError } from '../errors.ts';
import type { Collections } from '../firestore/client.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import type { Logger } from '../log.ts';
import { encodeDataFile } from '../parquet/data-file-writer.ts';
import type { ObjectStore } from '../storage/port.ts';
import type { TableKind } from '../tables.ts';
import { type EvictResult, evictExpired } from './evict.ts';
import { type DataFileWriter, Flusher, type FlushResult } from './flush.ts';

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

/**
 * Streams rows into a Parquet file at `uri` through the ObjectStore, create-only. A flush batch's file
 * name and rows are fixed, so a file that already exists was written completely by an earlier attempt
 * of the same batch: it is kept, and its stats are recomputed from the rows (the encoding is
 * deterministic; a size mismatch means this attempt saw other rows — a taker-over racing the holder's
 * deletes — and fails as a retryable conflict instead of overwriting a complete file with fewer rows).
 */
export function storeDataFileWriter(
  store: ObjectStore,
  config: Pick<Config, 'rowGroupRows'>,
): DataFileWriter {
  return async (uri, table, rows) => {
    const existing = await store.stat(uri);
    const file = encodeDataFile(rows, table, { rowGroupRows: config.rowGroupRows });
    if (existing !== undefined) {
      let size = 0;
      for await (const chunk of file) size += chunk.byteLength;
      const stats = await file.stats;
      if (size !== existing.size) {
        throw new StreamjoinError(
          'conflict',
          `data file ${uri} exists with ${existing.size} bytes, but this attempt's rows encode to ${size} bytes`,
          {
            context: { uri },
          },
        );
      }
      return { uri, ...stats };
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

export function createFlusher(deps: TickDeps): Flusher {
  return new Flusher({
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
