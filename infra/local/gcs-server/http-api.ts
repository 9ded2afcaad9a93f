// The Cloud Storage JSON API routes the real @google-cloud/storage client uses: buckets, objects
// (metadata, media download with x-goog-hash and Range, list, patch, delete) and multipart, media and
// resumable uploads. Paths arrive here without their `/storage/v1`, `/upload/storage/v1` or
// `/download/storage/v1` prefix (STORAGE_EMULATOR_HOST clients send none for JSON calls).
import { createHash, type Hash, randomUUID } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CRC32C } from '@google-cloud/storage';
import type { Logger } from '../../../shared/log.ts';
import type { DeliveryQueue } from './delivery-queue.ts';
import {
  intParam,
  parseContentRange,
  parseMultipart,
  parseRange,
  readBody,
  readJson,
  sendJson,
} from './http-util.ts';
import {
  type BucketRecord,
  GcsHttpError,
  type ObjectFields,
  type ObjectStore,
  type Preconditions,
  type StoredObject,
  WRITABLE_FIELDS,
} from './object-store.ts';

export interface ApiContext {
  store: ObjectStore;
  queue: DeliveryQueue;
  log: Logger;
  /** The server's base URL, for selfLink / mediaLink. */
  baseUrl(): string;
  sinksFor(bucket: string): string[];
  defaultProjectId: string;
}

/** Which API surface a request came in on. */
export type ApiSurface = 'json' | 'upload' | 'download';

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  fields: ObjectFields;
  preconditions: Preconditions;
  tempPath: string;
  received: number;
  md5: Hash;
  crc32c: CRC32C;
  createdAt: number;
  finalized?: StoredObject;
}

const SESSION_TTL_MS = 6 * 60 * 60 * 1000;

export function bucketResource(b: BucketRecord, baseUrl: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    id: b.name,
    selfLink: `${baseUrl}/storage/v1/b/${b.name}`,
    projectNumber: '0',
    name: b.name,
    timeCreated: b.timeCreated,
    updated: b.timeCreated,
    metageneration: '1',
    location: b.location,
    locationType: 'multi-region',
    storageClass: b.storageClass,
    etag: 'CAE=',
  };
}

/** The object resource as the JSON API (and the finalize event's data) carries it: int64 as strings. */
export function objectResource(
  o: StoredObject,
  baseUrl: string,
): Record<string, unknown> & { bucket: string; name: string; updated: string } {
  const encoded = encodeURIComponent(o.name);
  const resource: Record<string, unknown> & { bucket: string; name: string; updated: string } = {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${baseUrl}/storage/v1/b/${o.bucket}/o/${encoded}`,
    mediaLink: `${baseUrl}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64'),
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeCreated,
  };
  for (const field of WRITABLE_FIELDS) {
    if (field !== 'contentType' && o[field] !== undefined) resource[field] = o[field];
  }
  if (o.metadata !== undefined) resource['metadata'] = o.metadata;
  return resource;
}

function preconditionsFrom(params: URLSearchParams): Preconditions {
  const pre: Preconditions = {};
  for (const key of [
    'ifGenerationMatch',
    'ifGenerationNotMatch',
    'ifMetagenerationMatch',
    'ifMetagenerationNotMatch',
  ] as const) {
    const value = intParam(params, key);
    if (value !== undefined) pre[key] = value;
  }
  return pre;
}

/** Writable fields from an upload's JSON metadata (unknown keys are ignored, as GCS ignores read-only ones). */
function fieldsFrom(meta: Record<string, unknown>, contentTypeFallback: string | undefined): ObjectFields {
  const fields: ObjectFields = {};
  for (const field of WRITABLE_FIELDS) {
    const value = meta[field];
    if (typeof value === 'string' && value !== '') fields[field] = value;
  }
  if (fields.contentType === undefined && contentTypeFallback !== undefined && contentTypeFallback !== '') {
    fields.contentType = contentTypeFallback;
  }
  const metadata = meta['metadata'];
  if (metadata !== null && typeof metadata === 'object') {
    fields.metadata = Object.fromEntries(
      Object.entries(metadata as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
  }
  return fields;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Checks client-supplied hashes (X-Goog-Hash header or md5Hash/crc32c in the metadata) against the bytes. */
function verifyHashes(
  claimed: { md5?: string | undefined; crc32c?: string | undefined },
  actual: { md5Hash: string; crc32c: string },
): void {
  if (claimed.md5 !== undefined && claimed.md5 !== actual.md5Hash) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Provided MD5 hash ${claimed.md5} doesn't match calculated MD5 hash ${actual.md5Hash}.`,
    );
  }
  if (claimed.crc32c !== undefined && claimed.crc32c !== actual.crc32c) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Provided CRC32C ${claimed.crc32c} doesn't match calculated CRC32C ${actual.crc32c}.`,
    );
  }
}

function googHash(req: IncomingMessage): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = {};
  for (const pair of (header(req, 'x-goog-hash') ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (key === 'md5') out.md5 = value;
    if (key === 'crc32c') out.crc32c = value;
  }
  return out;
}

/** When an object landed (its `timeCreated`), epoch ms. */
function landedMs(o: StoredObject): number {
  return Date.parse(o.timeCreated);
}

export class GcsApi {
  private readonly ctx: ApiContext;
  private readonly sessions = new Map<string, UploadSession>();

  constructor(ctx: ApiContext) {
    this.ctx = ctx;
  }

  /**
   * Enqueues a finalize event for every current object under `prefix` (Eventarc-like redelivery).
   * `paced`: in landing order (`timeCreated`), each event as long after the first as its object landed
   * after the first object — the objects' own spacing, so delivery delays stay what the delivery modes
   * add (a redelivery of everything at once delays the earliest objects most). Returns when all are
   * enqueued.
   */
  async redeliver(
    bucket: string,
    prefix: string,
    options: { readonly paced?: boolean } = {},
  ): Promise<number> {
    const objects: StoredObject[] = [];
    let pageToken: string | undefined;
    do {
      const page = this.ctx.store.listObjects(bucket, {
        prefix,
        ...(pageToken === undefined ? {} : { pageToken }),
      });
      objects.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    const paced = options.paced === true;
    if (paced) objects.sort((a, b) => landedMs(a) - landedMs(b) || a.name.localeCompare(b.name));
    this.ctx.log.info(
      { bucket, prefix, events: objects.length, paced },
      'redelivering finalize events of existing objects',
    );
    const startedMs = Date.now();
    const firstLandedMs = objects.length === 0 ? 0 : landedMs(objects[0]!);
    for (const o of objects) {
      if (paced) {
        const waitMs = startedMs + (landedMs(o) - firstLandedMs) - Date.now();
        if (waitMs > 0) await sleep(waitMs);
      }
      await this.ctx.queue.enqueue(objectResource(o, this.ctx.baseUrl()), this.ctx.sinksFor(bucket));
    }
    return objects.length;
  }

  uploadsInProgress(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.finalized === undefined) n += 1;
    return n;
  }

  /** Removes temp files of unfinished upload sessions (at close). */
  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => rm(s.tempPath, { force: true })));
    this.sessions.clear();
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    surface: ApiSurface,
    path: string,
    params: URLSearchParams,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const segments = path.split('/'); // ['', 'b', bucket, 'o', ...name]
    if (segments[1] !== 'b') throw notFound(method, path);
    const bucket = segments[2] === undefined ? undefined : decodeURIComponent(segments[2]);
    const base = this.ctx.baseUrl();

    if (bucket === undefined || bucket === '') {
      if (method === 'POST') return this.createBucket(req, res, params);
      if (method === 'GET') {
        const items = this.ctx.store.listBuckets().map((b) => bucketResource(b, base));
        return sendJson(res, 200, { kind: 'storage#buckets', items });
      }
      throw notFound(method, path);
    }
    if (segments.length === 3) {
      if (method === 'GET') return sendJson(res, 200, bucketResource(this.ctx.store.getBucket(bucket), base));
      if (method === 'DELETE') {
        await this.ctx.store.deleteBucket(bucket);
        res.writeHead(204).end();
        return;
      }
      throw notFound(method, path);
    }
    if (segments[3] !== 'o') throw notFound(method, path);

    if (segments.length === 4) {
      if (surface === 'upload' && method === 'POST') return this.startUpload(req, res, bucket, params);
      if (surface === 'upload' && method === 'PUT') return this.continueResumable(req, res, params);
      if (method === 'GET') return this.list(res, bucket, params);
      throw notFound(method, path);
    }

    const name = decodeURIComponent(segments.slice(4).join('/'));
    const pre = preconditionsFrom(params);
    const generation = intParam(params, 'generation');
    if (method === 'GET' && (params.get('alt') === 'media' || surface === 'download')) {
      return this.download(req, res, bucket, name, pre, generation);
    }
    if (method === 'GET') {
      const obj = this.ctx.store.getObject(bucket, name);
      if (generation !== undefined && generation !== obj.generation) {
        throw new GcsHttpError(404, 'notFound', `No such object: ${bucket}/${name}#${generation}`);
      }
      return sendJson(res, 200, objectResource(obj, base));
    }
    if (method === 'PATCH' || method === 'PUT') {
      const patch = await readJson(req);
      const obj = await this.ctx.store.patchObject(bucket, name, patch, pre);
      return sendJson(res, 200, objectResource(obj, base));
    }
    if (method === 'DELETE') {
      await this.ctx.store.deleteObject(bucket, name, pre, generation);
      this.ctx.log.info({ bucket, name }, 'object deleted');
      res.writeHead(204).end();
      return;
    }
    throw notFound(method, path);
  }

  private async createBucket(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const body = await readJson(req);
    const name = body['name'];
    if (typeof name !== 'string')
      throw new GcsHttpError(400, 'required', 'Required: a bucket name in the JSON body ("name").');
    const record = await this.ctx.store.createBucket({
      name,
      projectId: params.get('project') ?? this.ctx.defaultProjectId,
      ...(typeof body['location'] === 'string' ? { location: body['location'].toUpperCase() } : {}),
      ...(typeof body['storageClass'] === 'string' ? { storageClass: body['storageClass'] } : {}),
    });
    this.ctx.log.info({ bucket: name }, 'bucket created');
    sendJson(res, 200, bucketResource(record, this.ctx.baseUrl()));
  }

  private list(res: ServerResponse, bucket: string, params: URLSearchParams): void {
    const maxResults = intParam(params, 'maxResults');
    const page = this.ctx.store.listObjects(bucket, {
      ...optional('prefix', params.get('prefix')),
      ...optional('delimiter', params.get('delimiter')),
      ...optional('pageToken', params.get('pageToken')),
      ...optional('startOffset', params.get('startOffset')),
      ...optional('endOffset', params.get('endOffset')),
      ...(maxResults === undefined ? {} : { maxResults }),
      includeTrailingDelimiter: params.get('includeTrailingDelimiter') === 'true',
    });
    const base = this.ctx.baseUrl();
    sendJson(res, 200, {
      kind: 'storage#objects',
      items: page.items.map((o) => objectResource(o, base)),
      ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
      ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
    });
  }

  private async download(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    name: string,
    pre: Preconditions,
    generation: number | undefined,
  ): Promise<void> {
    const { obj, handle } = await this.ctx.store.openObject(bucket, name, pre, generation);
    let range: { start: number; end: number } | undefined;
    try {
      range = parseRange(header(req, 'range'), obj.size);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const headers: Record<string, string | number> = {
      'content-type': obj.contentType ?? 'application/octet-stream',
      'x-goog-hash': `crc32c=${obj.crc32c},md5=${obj.md5Hash}`,
      'x-goog-generation': String(obj.generation),
      'x-goog-metageneration': String(obj.metageneration),
      'x-goog-stored-content-encoding': obj.contentEncoding ?? 'identity',
      'x-goog-stored-content-length': String(obj.size),
      'accept-ranges': 'bytes',
      etag: Buffer.from(`${obj.generation}/${obj.metageneration}`).toString('base64'),
      'last-modified': new Date(obj.updated).toUTCString(),
    };
    // Bytes are served as stored (no decompressive transcoding): the client asks for gzip and inflates.
    if (obj.contentEncoding !== undefined) headers['content-encoding'] = obj.contentEncoding;
    if (obj.size === 0) {
      await handle.close();
      res.writeHead(200, { ...headers, 'content-length': 0 }).end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? obj.size - 1;
    headers['content-length'] = end - start + 1;
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${obj.size}`;
    res.writeHead(range === undefined ? 200 : 206, headers);
    const stream = handle.createReadStream({ start, end });
    await new Promise<void>((resolve) => {
      stream.on('error', (err) => {
        this.ctx.log.error({ err, bucket, name }, 'download failed while streaming');
        res.destroy(err);
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  }

  // ---- uploads ----

  private async startUpload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    params: URLSearchParams,
  ): Promise<void> {
    const uploadType = params.get('uploadType') ?? 'media';
    const pre = preconditionsFrom(params);
    if (uploadType === 'multipart') {
      const parts = parseMultipart(header(req, 'content-type'), await readBody(req));
      if (parts.length < 2)
        throw new GcsHttpError(
          400,
          'invalid',
          `Expected 2 multipart parts (metadata, media), but got ${parts.length}`,
        );
      const meta = JSON.parse(parts[0]!.body.toString('utf8') || '{}') as Record<string, unknown>;
      const name = params.get('name') ?? (typeof meta['name'] === 'string' ? meta['name'] : undefined);
      const fields = fieldsFrom(meta, parts[1]!.headers['content-type']);
      const claimed = {
        md5: typeof meta['md5Hash'] === 'string' ? meta['md5Hash'] : undefined,
        crc32c: typeof meta['crc32c'] === 'string' ? meta['crc32c'] : undefined,
      };
      return this.storeBuffer(res, bucket, requireName(name), parts[1]!.body, fields, pre, claimed);
    }
    if (uploadType === 'media') {
      const body = await readBody(req);
      const fields = fieldsFrom({}, header(req, 'content-type'));
      return this.storeBuffer(
        res,
        bucket,
        requireName(params.get('name') ?? undefined),
        body,
        fields,
        pre,
        googHash(req),
      );
    }
    if (uploadType !== 'resumable') {
      throw new GcsHttpError(
        400,
        'invalid',
        `Expected uploadType multipart, media or resumable, but was: ${JSON.stringify(uploadType)}`,
      );
    }
    const meta = await readJson(req);
    const name = requireName(
      params.get('name') ?? (typeof meta['name'] === 'string' ? meta['name'] : undefined),
    );
    this.ctx.store.checkWrite(bucket, name, pre); // fail fast; checked again when the upload completes
    this.sweepSessions();
    const session: UploadSession = {
      id: randomUUID(),
      bucket,
      name,
      fields: fieldsFrom(meta, header(req, 'x-upload-content-type')),
      preconditions: pre,
      tempPath: this.ctx.store.tempPath(),
      received: 0,
      md5: createHash('md5'),
      crc32c: new CRC32C(),
      createdAt: Date.now(),
    };
    await writeFile(session.tempPath, Buffer.alloc(0));
    this.sessions.set(session.id, session);
    const host = header(req, 'host');
    const base = host === undefined ? this.ctx.baseUrl() : `http://${host}`;
    const location = `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
    this.ctx.log.debug({ bucket, name, uploadId: session.id }, 'resumable upload started');
    res.writeHead(200, { location, 'content-length': 0 }).end();
  }

  private async storeBuffer(
    res: ServerResponse,
    bucket: string,
    name: string,
    body: Buffer,
    fields: ObjectFields,
    pre: Preconditions,
    claimed: { md5?: string | undefined; crc32c?: string | undefined },
  ): Promise<void> {
    this.ctx.store.checkWrite(bucket, name, pre);
    const crc = new CRC32C();
    crc.update(body);
    const hashes = { md5Hash: createHash('md5').update(body).digest('base64'), crc32c: crc.toString() };
    verifyHashes(claimed, hashes);
    const tempPath = this.ctx.store.tempPath();
    await writeFile(tempPath, body);
    const obj = await this.commit(bucket, name, tempPath, body.length, hashes, fields, pre);
    sendJson(res, 200, objectResource(obj, this.ctx.baseUrl()));
  }

  private async commit(
    bucket: string,
    name: string,
    tempPath: string,
    size: number,
    hashes: { md5Hash: string; crc32c: string },
    fields: ObjectFields,
    pre: Preconditions,
  ): Promise<StoredObject> {
    const obj = await this.ctx.store.commitObject({
      bucket,
      name,
      tempPath,
      size,
      ...hashes,
      fields,
      preconditions: pre,
      afterCommit: (o) =>
        this.ctx.queue.enqueue(objectResource(o, this.ctx.baseUrl()), this.ctx.sinksFor(bucket)),
    });
    this.ctx.log.info({ bucket, name, generation: String(obj.generation), size }, 'object finalized');
    return obj;
  }

  /** A PUT to a resumable session: append bytes (from the offset named by Content-Range), finalise when complete. */
  private async continueResumable(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const id = params.get('upload_id') ?? '';
    const session = this.sessions.get(id);
    if (session === undefined)
      throw new GcsHttpError(404, 'notFound', `No such resumable upload session: ${JSON.stringify(id)}`);
    const range = parseContentRange(header(req, 'content-range'));
    await this.ctx.store.withLock(`upload\0${id}`, async () => {
      if (session.finalized !== undefined) {
        req.resume();
        return sendJson(res, 200, objectResource(session.finalized, this.ctx.baseUrl()));
      }
      if (range.start === undefined) {
        req.resume(); // status query (`*/T`): nothing to append
      } else {
        if (range.start > session.received) {
          req.resume();
          throw new GcsHttpError(
            400,
            'invalid',
            `Resumable upload expected bytes from offset ${session.received}, but the request starts at ${range.start}`,
          );
        }
        await this.append(req, session, session.received - range.start);
      }
      const complete =
        (range.start !== undefined && range.end === undefined) ||
        (range.total !== undefined && session.received === range.total);
      if (!complete) {
        const headers: Record<string, string | number> = { 'content-length': 0 };
        if (session.received > 0) headers['range'] = `bytes=0-${session.received - 1}`;
        res.writeHead(308, headers).end();
        return;
      }
      const hashes = { md5Hash: session.md5.digest('base64'), crc32c: session.crc32c.toString() };
      try {
        verifyHashes(googHash(req), hashes);
        session.finalized = await this.commit(
          session.bucket,
          session.name,
          session.tempPath,
          session.received,
          hashes,
          session.fields,
          session.preconditions,
        );
      } catch (err) {
        this.sessions.delete(id);
        await rm(session.tempPath, { force: true });
        throw err;
      }
      sendJson(res, 200, objectResource(session.finalized, this.ctx.baseUrl()));
    });
  }

  /** Appends the request body to the session file, skipping `skip` bytes the session already has. */
  private async append(req: IncomingMessage, session: UploadSession, skip: number): Promise<void> {
    const handle = await open(session.tempPath, 'a');
    let toSkip = skip;
    try {
      for await (const chunk of req) {
        let buf = chunk as Buffer;
        if (toSkip > 0) {
          const n = Math.min(toSkip, buf.length);
          buf = buf.subarray(n);
          toSkip -= n;
        }
        if (buf.length === 0) continue;
        await handle.write(buf);
        session.md5.update(buf);
        session.crc32c.update(buf);
        session.received += buf.length;
      }
    } finally {
      await handle.close();
    }
  }

  /** Forgets sessions older than the TTL (finished ones are kept a while so a retried final PUT gets 200). */
  private sweepSessions(): void {
    const cutoff = Date.now() - SESSION_TTL_MS;
    for (const [id, s] of this.sessions) {
      if (s.createdAt < cutoff) {
        this.sessions.delete(id);
        void rm(s.tempPath, { force: true });
      }
    }
  }
}

function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: string };
}

function requireName(name: string | undefined): string {
  if (name === undefined || name === '') {
    throw new GcsHttpError(
      400,
      'required',
      'Required: the object name (query parameter "name" or metadata "name").',
    );
  }
  return name;
}

function notFound(method: string, path: string): GcsHttpError {
  return new GcsHttpError(
    404,
    'notFound',
    `Not found: ${method} ${path} is not served by the local GCS server`,
  );
}
