// ObjectStore on Google Cloud Storage through @google-cloud/storage (real GCS, or the local JSON-API
// server when STORAGE_EMULATOR_HOST is set — the client decides, as it does in production).
// Create-only writes use the precondition ifGenerationMatch=0, conditional replaces ifGenerationMatch=<gen>.
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CreateReadStreamOptions, type File, Storage } from '@google-cloud/storage';
import { StreamjoinError } from '../errors.ts';
import { type ObjectInfo, type ObjectStore, parseUri, type WriteOptions } from './port.ts';

/** A Storage client for the project; against an emulator no credentials are looked up. */
export function createStorageClient(options: {
  projectId: string;
  emulatorHost?: string | undefined;
  /** Off: a failed request is the caller's to retry (see input-objects.ts openInputObject). */
  autoRetry?: boolean;
}): Storage {
  const emulator = options.emulatorHost ?? process.env['STORAGE_EMULATOR_HOST'];
  const retry = options.autoRetry === false ? { retryOptions: { autoRetry: false } } : {};
  if (emulator !== undefined && emulator !== '') {
    const endpoint = emulator.startsWith('http') ? emulator : `http://${emulator}`;
    return new Storage({ projectId: options.projectId, apiEndpoint: endpoint.replace(/\/$/, ''), ...retry });
  }
  return new Storage({ projectId: options.projectId, ...retry });
}

/**
 * `file.createReadStream()` without a false MaxListenersExceededWarning: with teeny-request 11
 * (@google-cloud/storage 8) every download's response body carries 11 error and close listeners, one
 * over Node's default limit (googleapis/google-cloud-node#9185). The limit is raised on that one body
 * stream only, as it arrives, so a real listener leak anywhere else still warns.
 */
export function readStreamOf(file: File, options: CreateReadStreamOptions = {}): Readable {
  const stream = file.createReadStream(options);
  stream.once('response', (body: unknown) => {
    if (body instanceof EventEmitter) body.setMaxListeners(Math.max(body.getMaxListeners(), 16));
  });
  return stream;
}

/** `file.download()` through readStreamOf (download() streams the same way, with the same warning). */
export async function downloadOf(file: File, options: CreateReadStreamOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readStreamOf(file, options)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function metaToInfo(uri: string, m: File['metadata']): ObjectInfo {
  return {
    uri,
    size: Number(m.size ?? 0),
    generation: String(m.generation ?? '0'),
    updated: new Date(String(m.updated ?? m.timeCreated ?? 0)),
  };
}

function preconditionOf(options: WriteOptions): { preconditionOpts?: { ifGenerationMatch: number } } {
  if (options.ifAbsent === true) return { preconditionOpts: { ifGenerationMatch: 0 } };
  if (options.ifGenerationMatch !== undefined) {
    return { preconditionOpts: { ifGenerationMatch: Number(options.ifGenerationMatch) } };
  }
  return {};
}

export class GcsObjectStore implements ObjectStore {
  readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  private file(uri: string): File {
    const p = parseUri(uri);
    if (p.scheme !== 'gs' || p.path === '') {
      throw new Error(`expected a gs://bucket/object URI, but was: ${JSON.stringify(uri)}`);
    }
    return this.storage.bucket(p.bucket).file(p.path);
  }

  private mapError(uri: string, err: unknown, options: WriteOptions = {}): unknown {
    const code = httpCode(err);
    if (code === 404)
      return new StreamjoinError('not-found', `object not found: ${uri}`, { context: { uri }, cause: err });
    if (code === 412 && options.ifAbsent === true) {
      return new StreamjoinError('already-exists', `object already exists: ${uri}`, {
        context: { uri },
        cause: err,
        retryable: false,
      });
    }
    if (code === 412 && options.ifGenerationMatch !== undefined) {
      return new StreamjoinError(
        'conflict',
        `expected ${uri} at generation ${options.ifGenerationMatch}, but it has changed`,
        { context: { uri, expected: options.ifGenerationMatch }, cause: err },
      );
    }
    return err;
  }

  async read(uri: string): Promise<Buffer> {
    try {
      return await downloadOf(this.file(uri));
    } catch (err) {
      throw this.mapError(uri, err);
    }
  }

  async readRange(uri: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    try {
      // The client's range end is inclusive.
      return await downloadOf(this.file(uri), { start, end: end - 1, validation: false });
    } catch (err) {
      throw this.mapError(uri, err);
    }
  }

  openRead(uri: string): Readable {
    return readStreamOf(this.file(uri));
  }

  async stat(uri: string): Promise<ObjectInfo | undefined> {
    try {
      const [m] = await this.file(uri).getMetadata();
      return metaToInfo(uri, m);
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  async write(uri: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    const file = this.file(uri);
    try {
      await file.save(
        typeof data === 'string'
          ? Buffer.from(data)
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        {
          resumable: false,
          ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
          ...preconditionOf(options),
        },
      );
    } catch (err) {
      throw this.mapError(uri, err, options);
    }
    return metaToInfo(uri, file.metadata);
  }

  async writeStream(
    uri: string,
    source: AsyncIterable<Uint8Array> | Readable,
    options: WriteOptions = {},
  ): Promise<ObjectInfo> {
    const file = this.file(uri);
    const sink = file.createWriteStream({
      resumable: true,
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...preconditionOf(options),
    });
    try {
      await pipeline(source, sink);
    } catch (err) {
      throw this.mapError(uri, err, options);
    }
    return metaToInfo(uri, file.metadata);
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const p = parseUri(prefixUri);
    const bucket = this.storage.bucket(p.bucket);
    let pageToken: string | undefined;
    do {
      const [files, next] = await bucket.getFiles({
        prefix: p.path,
        autoPaginate: false,
        maxResults: 1000,
        ...(pageToken === undefined ? {} : { pageToken }),
      });
      for (const f of files) yield metaToInfo(`gs://${p.bucket}/${f.name}`, f.metadata);
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken !== undefined);
  }

  async delete(uri: string): Promise<void> {
    try {
      await this.file(uri).delete();
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
    }
  }
}
