// The local GCS server's object store: buckets and objects on disk, generations, preconditions, and
// per-name serialised commits. Data files are plain files at `<dataDir>/<bucket>/<name>`; metadata lives
// in a sidecar tree `<dataDir>/.meta/<bucket>/` and is indexed in memory (loaded at start).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/** An error that maps to a GCS JSON-API error response. */
export class GcsHttpError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'GcsHttpError';
    this.status = status;
    this.reason = reason;
  }
}

export interface BucketRecord {
  name: string;
  projectId: string;
  timeCreated: string;
  location: string;
  storageClass: string;
}

/** Fields a client may set on an object (the writable part of the object resource). */
export interface ObjectFields {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
}

export const WRITABLE_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;

export interface StoredObject extends ObjectFields {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  /** base64 of the MD5 digest */
  md5Hash: string;
  /** base64 of the big-endian CRC32C */
  crc32c: string;
  timeCreated: string;
  updated: string;
  /** Where the bytes are, relative to the data dir. */
  dataPath: string;
}

/** GCS preconditions (query parameters); 0 for ifGenerationMatch means "must not exist". */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxResults?: number;
  pageToken?: string;
  startOffset?: string;
  endOffset?: string;
  includeTrailingDelimiter?: boolean;
}

export interface ListPage {
  items: StoredObject[];
  prefixes: string[];
  nextPageToken?: string;
}

interface BucketState {
  record: BucketRecord;
  objects: Map<string, StoredObject>;
  sorted: string[] | undefined;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const MAX_SEGMENT_BYTES = 255;

/** Checks a bucket name against the GCS naming rules (the subset that matters locally). */
export function validateBucketName(name: string): void {
  if (!BUCKET_NAME.test(name) || name.includes('..')) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Invalid bucket name: expected 3-63 of [a-z0-9._-] starting and ending with a letter or digit, but was: ${JSON.stringify(name)}`,
    );
  }
}

/** Checks an object name against the GCS rules: 1-1024 bytes of UTF-8, no CR/LF/NUL, not "." or "..". */
export function validateObjectName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > 1024 || /[\r\n\0]/.test(name) || name === '.' || name === '..') {
    throw new GcsHttpError(
      400,
      'invalid',
      `Invalid object name: expected 1-1024 bytes without CR, LF or NUL and not "." or "..", but was: ${JSON.stringify(name)}`,
    );
  }
}

/**
 * Where an object's bytes live, relative to the data dir. Names that are safe as paths keep their name
 * (`<bucket>/<name>`), so the tree can be read with any tool; the rest (empty, "." or ".." segments,
 * a trailing "/", segments longer than a file name may be) go to `.escaped/<bucket>/<sha256>-<tail>`.
 */
export function dataPathFor(bucket: string, name: string): string {
  const segments = name.split('/');
  const safe = segments.every(
    (s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s, 'utf8') <= MAX_SEGMENT_BYTES,
  );
  return safe ? path.join(bucket, ...segments) : escapedPathFor(bucket, name);
}

/** The escaped location: a hash of the name plus a readable tail of it. */
export function escapedPathFor(bucket: string, name: string): string {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 32);
  const tail = name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(-60)
    .replace(/^[._]+/, '');
  return path.join('.escaped', bucket, tail === '' ? hash : `${hash}-${tail}`);
}

function metaPathFor(bucket: string, name: string): string {
  const hash = createHash('sha256').update(name).digest('hex');
  return path.join('.meta', bucket, 'objects', hash.slice(0, 2), `${hash}.json`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && codes.includes(code);
}

/** Checks preconditions against the current object (undefined when absent); throws 412 on failure. */
export function checkPreconditions(current: StoredObject | undefined, pre: Preconditions): void {
  const generation = current?.generation ?? 0;
  const failed =
    (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== generation) ||
    (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === generation) ||
    (pre.ifMetagenerationMatch !== undefined &&
      (current === undefined || pre.ifMetagenerationMatch !== current.metageneration)) ||
    (pre.ifMetagenerationNotMatch !== undefined &&
      current !== undefined &&
      pre.ifMetagenerationNotMatch === current.metageneration);
  if (failed) {
    throw new GcsHttpError(
      412,
      'conditionNotMet',
      `At least one of the pre-conditions you specified did not hold (expected ${JSON.stringify(pre)}, ` +
        `current generation ${generation}, metageneration ${current?.metageneration ?? 0}).`,
    );
  }
}

/** Byte-wise UTF-8 order, as GCS lists. */
function compareNames(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Page tokens name the last entry returned and whether it was a prefix (whose names are all covered). */
function encodeToken(key: string, isPrefix: boolean): string {
  return Buffer.from(JSON.stringify([key, isPrefix]), 'utf8').toString('base64url');
}

function decodeToken(token: string): { key: string; isPrefix: boolean } {
  try {
    const [key, isPrefix] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      unknown,
      unknown,
    ];
    if (typeof key === 'string' && typeof isPrefix === 'boolean') return { key, isPrefix };
  } catch {
    // fall through
  }
  throw new GcsHttpError(
    400,
    'invalid',
    `Invalid pageToken: expected a token from a previous page, but was: ${JSON.stringify(token)}`,
  );
}

export class ObjectStore {
  readonly dataDir: string;
  private readonly buckets = new Map<string, BucketState>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private lastGeneration = 0;
  private tempCounter = 0;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Opens (creating if needed) a data dir and loads the metadata index; one server per data dir. */
  static async open(dataDir: string): Promise<ObjectStore> {
    const store = new ObjectStore(path.resolve(dataDir));
    await mkdir(path.join(store.dataDir, '.meta'), { recursive: true });
    await store.takeLock();
    try {
      await rm(path.join(store.dataDir, '.tmp'), { recursive: true, force: true });
      await mkdir(path.join(store.dataDir, '.tmp'), { recursive: true });
      await store.load();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Claims the data dir with a pid file; a stale one (its process gone) is taken over. */
  private async takeLock(): Promise<void> {
    const lockPath = path.join(this.dataDir, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(lockPath, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      const pid = Number(await readFile(lockPath, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new Error(
          `data dir ${this.dataDir} is in use by another GCS server (pid ${pid}); stop it or use another --data-dir`,
        );
      }
      await rm(lockPath, { force: true });
    }
    throw new Error(`could not lock data dir ${this.dataDir}`);
  }

  /** Releases the data dir. */
  async close(): Promise<void> {
    await rm(path.join(this.dataDir, '.lock'), { force: true });
  }

  private async load(): Promise<void> {
    const metaRoot = path.join(this.dataDir, '.meta');
    for (const entry of await readdir(metaRoot, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      let record: BucketRecord;
      try {
        record = JSON.parse(
          await readFile(path.join(metaRoot, entry.name, 'bucket.json'), 'utf8'),
        ) as BucketRecord;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      const state: BucketState = { record, objects: new Map(), sorted: undefined };
      this.buckets.set(record.name, state);
      const objectsDir = path.join(metaRoot, entry.name, 'objects');
      let shards: string[] = [];
      try {
        shards = await readdir(objectsDir);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      for (const shard of shards) {
        for (const file of await readdir(path.join(objectsDir, shard))) {
          if (!file.endsWith('.json')) continue;
          const obj = JSON.parse(await readFile(path.join(objectsDir, shard, file), 'utf8')) as StoredObject;
          state.objects.set(obj.name, obj);
          this.lastGeneration = Math.max(this.lastGeneration, obj.generation);
        }
      }
    }
  }

  /** A new generation: the current time in microseconds, made strictly increasing. */
  private nextGeneration(): number {
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    this.lastGeneration = Math.max(micros, this.lastGeneration + 1);
    return this.lastGeneration;
  }

  /** Runs fn after every earlier holder of the same key is done (an in-process mutex per key). */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  private bucketState(bucket: string): BucketState {
    const state = this.buckets.get(bucket);
    if (state === undefined)
      throw new GcsHttpError(404, 'notFound', `The specified bucket does not exist: ${bucket}`);
    return state;
  }

  // ---- buckets ----

  async createBucket(fields: {
    name: string;
    projectId: string;
    location?: string;
    storageClass?: string;
  }): Promise<BucketRecord> {
    validateBucketName(fields.name);
    return this.withLock(`bucket\0${fields.name}`, async () => {
      if (this.buckets.has(fields.name)) {
        throw new GcsHttpError(
          409,
          'conflict',
          `Your previous request to create the named bucket succeeded and you already own it: ${fields.name}`,
        );
      }
      const record: BucketRecord = {
        name: fields.name,
        projectId: fields.projectId,
        timeCreated: new Date().toISOString(),
        location: fields.location ?? 'US',
        storageClass: fields.storageClass ?? 'STANDARD',
      };
      await mkdir(path.join(this.dataDir, fields.name), { recursive: true });
      await this.writeJsonAtomic(path.join('.meta', fields.name, 'bucket.json'), record);
      this.buckets.set(fields.name, { record, objects: new Map(), sorted: undefined });
      return record;
    });
  }

  getBucket(bucket: string): BucketRecord {
    return this.bucketState(bucket).record;
  }

  listBuckets(): BucketRecord[] {
    return [...this.buckets.values()].map((b) => b.record).sort((a, b) => compareNames(a.name, b.name));
  }

  objectCount(bucket: string): number {
    return this.buckets.get(bucket)?.objects.size ?? 0;
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.withLock(`bucket\0${bucket}`, async () => {
      const state = this.bucketState(bucket);
      if (state.objects.size > 0) {
        throw new GcsHttpError(409, 'conflict', `The bucket you tried to delete is not empty: ${bucket}`);
      }
      this.buckets.delete(bucket);
      await rm(path.join(this.dataDir, '.meta', bucket), { recursive: true, force: true });
      await rm(path.join(this.dataDir, '.escaped', bucket), { recursive: true, force: true });
      await rm(path.join(this.dataDir, bucket), { recursive: true, force: true });
    });
  }

  // ---- objects ----

  /** A fresh path for upload bytes, on the same filesystem as the data (so the commit is a rename). */
  tempPath(): string {
    this.tempCounter += 1;
    return path.join(this.dataDir, '.tmp', `${process.pid}-${Date.now()}-${this.tempCounter}`);
  }

  getObject(bucket: string, name: string): StoredObject {
    const obj = this.bucketState(bucket).objects.get(name);
    if (obj === undefined) throw new GcsHttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
    return obj;
  }

  /** Checks that a write could proceed now (bucket exists, name valid, preconditions hold). */
  checkWrite(bucket: string, name: string, pre: Preconditions): void {
    validateObjectName(name);
    checkPreconditions(this.bucketState(bucket).objects.get(name), pre);
  }

  /**
   * Makes the bytes at tempPath the new generation of bucket/name, atomically per name: preconditions
   * are checked and the file renamed into place under the name's lock. `afterCommit` runs under the
   * lock too, before the caller acknowledges (used to persist the finalize event).
   */
  async commitObject(args: {
    bucket: string;
    name: string;
    tempPath: string;
    size: number;
    md5Hash: string;
    crc32c: string;
    fields: ObjectFields;
    preconditions: Preconditions;
    afterCommit?: (obj: StoredObject) => Promise<void>;
  }): Promise<StoredObject> {
    validateObjectName(args.name);
    try {
      return await this.withLock(`${args.bucket}\0${args.name}`, async () => {
        const state = this.bucketState(args.bucket);
        const previous = state.objects.get(args.name);
        checkPreconditions(previous, args.preconditions);
        const generation = this.nextGeneration();
        const now = new Date(Math.floor(generation / 1000)).toISOString();
        const dataPath = await this.placeData(args.bucket, args.name, args.tempPath);
        const obj: StoredObject = {
          bucket: args.bucket,
          name: args.name,
          generation,
          metageneration: 1,
          size: args.size,
          md5Hash: args.md5Hash,
          crc32c: args.crc32c,
          contentType: args.fields.contentType ?? 'application/octet-stream',
          ...pickFields(args.fields),
          timeCreated: now,
          updated: now,
          dataPath,
        };
        await this.writeJsonAtomic(metaPathFor(args.bucket, args.name), obj);
        if (previous !== undefined && previous.dataPath !== dataPath)
          await this.removeData(previous.dataPath);
        state.objects.set(args.name, obj);
        if (previous === undefined) state.sorted = undefined;
        await args.afterCommit?.(obj);
        return obj;
      });
    } finally {
      await rm(args.tempPath, { force: true });
    }
  }

  /** Renames the temp file to the object's path; falls back to the escaped path when a file/dir is in the way. */
  private async placeData(bucket: string, name: string, tempPath: string): Promise<string> {
    const natural = dataPathFor(bucket, name);
    const candidates = natural.startsWith('.escaped') ? [natural] : [natural, escapedPathFor(bucket, name)];
    for (const rel of candidates) {
      const target = path.join(this.dataDir, rel);
      // A concurrent delete may remove an empty parent between mkdir and rename: try again.
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await mkdir(path.dirname(target), { recursive: true });
          const existing = await stat(target).catch(() => undefined);
          if (existing?.isDirectory()) break; // object "a" while "a/b" exists: escape
          await rename(tempPath, target);
          return rel;
        } catch (err) {
          if (isErrno(err, 'ENOENT') && attempt < 4) continue;
          if (isErrno(err, 'EEXIST', 'ENOTDIR', 'EISDIR')) break; // "a/b" while a file "a" exists: escape
          throw err;
        }
      }
    }
    throw new GcsHttpError(500, 'internalError', `Could not place object data for ${bucket}/${name}`);
  }

  /** Opens the current generation's bytes (under the lock, so metadata and bytes agree). */
  async openObject(
    bucket: string,
    name: string,
    pre: Preconditions,
    generation?: number,
  ): Promise<{ obj: StoredObject; handle: FileHandle }> {
    return this.withLock(`${bucket}\0${name}`, async () => {
      const obj = this.getObject(bucket, name);
      if (generation !== undefined && generation !== obj.generation) {
        throw new GcsHttpError(404, 'notFound', `No such object: ${bucket}/${name}#${generation}`);
      }
      checkPreconditions(obj, pre);
      return { obj, handle: await open(path.join(this.dataDir, obj.dataPath), 'r') };
    });
  }

  /** Updates writable fields; `metadata` keys set to null are removed. Bumps the metageneration. */
  async patchObject(
    bucket: string,
    name: string,
    patch: Record<string, unknown>,
    pre: Preconditions,
  ): Promise<StoredObject> {
    return this.withLock(`${bucket}\0${name}`, async () => {
      const current = this.getObject(bucket, name);
      checkPreconditions(current, pre);
      const next: StoredObject = {
        ...current,
        metageneration: current.metageneration + 1,
        updated: new Date().toISOString(),
      };
      for (const field of WRITABLE_FIELDS) {
        if (!(field in patch)) continue;
        const value = patch[field];
        if (value === null) delete next[field];
        else if (typeof value === 'string') next[field] = value;
      }
      if ('metadata' in patch) {
        const changes = patch['metadata'];
        if (changes === null) delete next.metadata;
        else if (typeof changes === 'object') {
          const merged: Record<string, string> = { ...(current.metadata ?? {}) };
          for (const [k, v] of Object.entries(changes as Record<string, unknown>)) {
            if (v === null) delete merged[k];
            else merged[k] = String(v);
          }
          next.metadata = merged;
        }
      }
      await this.writeJsonAtomic(metaPathFor(bucket, name), next);
      this.bucketState(bucket).objects.set(name, next);
      return next;
    });
  }

  async deleteObject(bucket: string, name: string, pre: Preconditions, generation?: number): Promise<void> {
    await this.withLock(`${bucket}\0${name}`, async () => {
      const state = this.bucketState(bucket);
      const obj = this.getObject(bucket, name);
      if (generation !== undefined && generation !== obj.generation) {
        throw new GcsHttpError(404, 'notFound', `No such object: ${bucket}/${name}#${generation}`);
      }
      checkPreconditions(obj, pre);
      await rm(path.join(this.dataDir, metaPathFor(bucket, name)), { force: true });
      state.objects.delete(name);
      state.sorted = undefined;
      await this.removeData(obj.dataPath);
    });
  }

  /** Removes a data file and the parent directories it leaves empty (up to the bucket's folder). */
  private async removeData(rel: string): Promise<void> {
    await unlink(path.join(this.dataDir, rel)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
    const stopDepth = rel.startsWith('.escaped') ? 2 : 1;
    let dir = path.dirname(rel);
    while (dir.split(path.sep).length > stopDepth) {
      try {
        await rmdir(path.join(this.dataDir, dir));
      } catch {
        return; // not empty (or gone): stop
      }
      dir = path.dirname(dir);
    }
  }

  /** GCS list semantics: sorted by name; a delimiter folds names into prefixes; maxResults counts both. */
  listObjects(bucket: string, options: ListOptions): ListPage {
    const state = this.bucketState(bucket);
    if (state.sorted === undefined) state.sorted = [...state.objects.keys()].sort(compareNames);
    const prefix = options.prefix ?? '';
    const delimiter = options.delimiter ?? '';
    const maxResults = Math.max(1, Math.min(options.maxResults ?? 1000, 1000));
    const after =
      options.pageToken === undefined || options.pageToken === ''
        ? undefined
        : decodeToken(options.pageToken);
    const items: StoredObject[] = [];
    const prefixes: string[] = [];
    let lastKey = '';
    let lastIsPrefix = false;
    let lastPrefix: string | undefined;
    for (const name of state.sorted) {
      if (!name.startsWith(prefix)) continue;
      if (
        after !== undefined &&
        (compareNames(name, after.key) <= 0 || (after.isPrefix && name.startsWith(after.key)))
      ) {
        continue;
      }
      if (options.startOffset !== undefined && compareNames(name, options.startOffset) < 0) continue;
      if (
        options.endOffset !== undefined &&
        options.endOffset !== '' &&
        compareNames(name, options.endOffset) >= 0
      )
        continue;
      if (lastPrefix !== undefined && name.startsWith(lastPrefix)) {
        if (options.includeTrailingDelimiter === true && name === lastPrefix)
          items.push(state.objects.get(name)!);
        continue;
      }
      if (items.length + prefixes.length >= maxResults) {
        return { items, prefixes, nextPageToken: encodeToken(lastKey, lastIsPrefix) };
      }
      const cut = delimiter === '' ? -1 : name.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        lastPrefix = name.slice(0, cut + delimiter.length);
        prefixes.push(lastPrefix);
        lastKey = lastPrefix;
        lastIsPrefix = true;
        if (options.includeTrailingDelimiter === true && name === lastPrefix)
          items.push(state.objects.get(name)!);
      } else {
        items.push(state.objects.get(name)!);
        lastKey = name;
        lastIsPrefix = false;
      }
    }
    return { items, prefixes };
  }

  // ---- files ----

  private async writeJsonAtomic(rel: string, value: unknown): Promise<void> {
    const target = path.join(this.dataDir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = this.tempPath();
    await writeFile(temp, JSON.stringify(value, null, 2));
    await rename(temp, target);
  }
}

function pickFields(fields: ObjectFields): ObjectFields {
  const out: ObjectFields = {};
  for (const field of WRITABLE_FIELDS) {
    const value = fields[field];
    if (typeof value === 'string' && value !== '') out[field] = value;
  }
  if (fields.metadata !== undefined && Object.keys(fields.metadata).length > 0) {
    out.metadata = Object.fromEntries(Object.entries(fields.metadata).map(([k, v]) => [k, String(v)]));
  }
  return out;
}
