// The storage port: what the pipeline needs from an object store, addressed by URI
// (`gs://bucket/name` or `file:///absolute/path`). Adapters: gcs-store.ts and file-store.ts.
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  /** Full URI of the object. */
  readonly uri: string;
  readonly size: number;
  /** GCS generation, or a local stand-in (mtime in ns) that changes on every write. */
  readonly generation: string;
  readonly updated: Date;
}

export interface WriteOptions {
  readonly contentType?: string;
  /** Create-only: fail with StreamjoinError kind 'already-exists' if the object exists
   *  (GCS `ifGenerationMatch=0`, local `link()`/O_EXCL). Readers never see a partial object. */
  readonly ifAbsent?: boolean;
  /** Replace only if the object exists at this generation (GCS `ifGenerationMatch=<gen>`; locally checked
   *  and replaced under a lock file); otherwise StreamjoinError kind 'conflict' (re-read, then decide). */
  readonly ifGenerationMatch?: string;
}

export interface ObjectStore {
  /** Whole object. Throws StreamjoinError kind 'not-found' if missing. */
  read(uri: string): Promise<Buffer>;
  /** Bytes [start, end) of the object. */
  readRange(uri: string, start: number, end: number): Promise<Buffer>;
  /** The object as a stream (errors, including not-found, surface on the stream). */
  openRead(uri: string): Readable;
  /** Metadata, or undefined if the object does not exist. */
  stat(uri: string): Promise<ObjectInfo | undefined>;
  /** Write a whole object (overwrites unless ifAbsent). */
  write(uri: string, data: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo>;
  /** Streaming write; the object appears only when the source ends successfully. */
  writeStream(
    uri: string,
    source: AsyncIterable<Uint8Array> | Readable,
    options?: WriteOptions,
  ): Promise<ObjectInfo>;
  /** Every object whose URI starts with `prefixUri`, in lexicographic order. */
  list(prefixUri: string): AsyncIterable<ObjectInfo>;
  /** Delete; a missing object is not an error. */
  delete(uri: string): Promise<void>;
}

export interface ParsedUri {
  readonly scheme: 'gs' | 'file';
  /** Bucket for gs://, '' for file://. */
  readonly bucket: string;
  /** Object name for gs://, absolute path for file://. */
  readonly path: string;
}

export function parseUri(uri: string): ParsedUri {
  if (uri.startsWith('gs://')) {
    const rest = uri.slice(5);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (bucket === '') throw new Error(`expected gs://bucket/name, but was: ${JSON.stringify(uri)}`);
    return { scheme: 'gs', bucket, path: slash < 0 ? '' : rest.slice(slash + 1) };
  }
  if (uri.startsWith('file:///')) return { scheme: 'file', bucket: '', path: uri.slice(7) };
  throw new Error(`expected a gs:// or file:/// URI, but was: ${JSON.stringify(uri)}`);
}

/** Joins a base URI (with or without trailing slash) and a relative path. */
export function joinUri(base: string, ...parts: string[]): string {
  let out = base;
  for (const p of parts) {
    if (p === '') continue;
    out = `${out.endsWith('/') ? out : `${out}/`}${p.startsWith('/') ? p.slice(1) : p}`;
  }
  return out;
}
