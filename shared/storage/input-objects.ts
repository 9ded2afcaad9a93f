// The input bucket as ingest, reconciliation and replay see it, through @google-cloud/storage: one list
// call per page of up to 1,000 objects (with each generation's timeCreated: its landing time), and the
// bytes of exactly one generation.
import type { Readable } from 'node:stream';
import type { Storage } from '@google-cloud/storage';
import type { InputObject } from '../pipeline/ingest.ts';
import { readStreamOf } from './gcs-store.ts';

export interface InputPage {
  readonly objects: InputObject[];
  readonly nextPageToken: string | undefined;
}

/** One list call: a page of the current generations under `prefix`. */
export type InputLister = (bucket: string, prefix: string, pageToken?: string) => Promise<InputPage>;

export function createInputLister(storage: Storage, pageSize = 1000): InputLister {
  return async (bucket, prefix, pageToken) => {
    const [files, next] = await storage.bucket(bucket).getFiles({
      prefix,
      maxResults: pageSize,
      autoPaginate: false,
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    const objects: InputObject[] = [];
    for (const f of files) {
      const m = f.metadata;
      const landed = Date.parse(String(m.timeCreated));
      if (!Number.isFinite(landed) || m.generation === undefined) {
        throw new Error(
          `expected a generation and timeCreated for gs://${bucket}/${f.name} in the listing, but got: ${JSON.stringify({ generation: m.generation, timeCreated: m.timeCreated })}`,
        );
      }
      objects.push({
        bucket,
        name: f.name,
        generation: String(m.generation),
        landedAtMs: landed,
        size: Number(m.size ?? 0),
        ...(typeof m.contentEncoding === 'string' && m.contentEncoding !== ''
          ? { contentEncoding: m.contentEncoding }
          : {}),
      });
    }
    const token = (next as { pageToken?: unknown } | null | undefined)?.pageToken;
    return { objects, nextPageToken: typeof token === 'string' && token !== '' ? token : undefined };
  };
}

/**
 * The bytes of exactly this generation, as stored (ingest decompresses gzip itself). In a process that
 * must not die of one bad download (reconcile, replay, a test runner), give it a client made with
 * `autoRetry: false`: @google-cloud/storage 8.4 / teeny-request 11.1 throw an uncaught
 * ERR_STREAM_UNABLE_TO_PIPE when their own retry discards a response (googleapis/google-cloud-node#8670,
 * #9242); without client retries a failed read is an ingest error the caller retries (the next run).
 */
export function openInputObject(storage: Storage, o: InputObject): Readable {
  return readStreamOf(storage.bucket(o.bucket).file(o.name, { generation: Number(o.generation) }), {
    decompress: false,
  });
}
