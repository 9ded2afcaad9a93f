// ObjectStore on the local filesystem (file:///abs/path URIs). Writes go to a temp file first and
// appear atomically: rename() to overwrite, link() to create-only (fails with EEXIST — the local
// equivalent of GCS ifGenerationMatch=0), so readers never see a partial object. A replace conditional
// on the generation (GCS ifGenerationMatch=<gen>) compares and renames under a lock file: POSIX has no
// compare-and-swap on a path, so writers that honour the lock are serialized (see withLock).
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { StreamjoinError } from '../errors.ts';
import { type ObjectInfo, type ObjectStore, parseUri, type WriteOptions } from './port.ts';

const TMP_MARK = '.streamjoin-tmp-';
/** A lock held this long without change (measured on the monotonic clock) is presumed abandoned. */
const LOCK_STALE_MS = 10_000;

function toPath(uri: string): string {
  const p = parseUri(uri);
  if (p.scheme !== 'file') throw new Error(`expected a file:/// URI, but was: ${JSON.stringify(uri)}`);
  return p.path;
}

function info(uri: string, st: { size: number; mtimeNs: bigint; mtime: Date }): ObjectInfo {
  return { uri, size: st.size, generation: st.mtimeNs.toString(), updated: st.mtime };
}

function notFound(uri: string, cause?: unknown): StreamjoinError {
  return new StreamjoinError('not-found', `object not found: ${uri}`, { context: { uri }, cause });
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export class FileObjectStore implements ObjectStore {
  async read(uri: string): Promise<Buffer> {
    try {
      return await fs.readFile(toPath(uri));
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw notFound(uri, err);
      throw err;
    }
  }

  async readRange(uri: string, start: number, end: number): Promise<Buffer> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(toPath(uri), 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw notFound(uri, err);
      throw err;
    }
    try {
      const length = Math.max(0, end - start);
      const buf = Buffer.alloc(length);
      let off = 0;
      while (off < length) {
        const { bytesRead } = await fh.read(buf, off, length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  openRead(uri: string): Readable {
    const stream = createReadStream(toPath(uri));
    stream.on('error', () => {}); // surfaced to the consumer by the stream itself
    return stream;
  }

  async stat(uri: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.stat(toPath(uri), { bigint: true });
      if (!st.isFile()) return undefined;
      return info(uri, { size: Number(st.size), mtimeNs: st.mtimeNs, mtime: st.mtime });
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  write(uri: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<ObjectInfo> {
    return this.commitTemp(uri, options, (tmp) => fs.writeFile(tmp, data, { flag: 'wx' }));
  }

  writeStream(
    uri: string,
    source: AsyncIterable<Uint8Array> | Readable,
    options: WriteOptions = {},
  ): Promise<ObjectInfo> {
    return this.commitTemp(uri, options, (tmp) => pipeline(source, createWriteStream(tmp, { flags: 'wx' })));
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const prefix = toPath(prefixUri);
    // Walk from the deepest existing directory that contains the prefix.
    const dir = prefix.endsWith('/') ? prefix : path.dirname(prefix);
    const found: string[] = [];
    await walk(dir, found);
    found.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));
    for (const p of found) {
      if (!p.startsWith(prefix) || path.basename(p).startsWith(TMP_MARK)) continue;
      const st = await this.stat(`file://${p}`);
      if (st !== undefined) yield st;
    }
  }

  async delete(uri: string): Promise<void> {
    try {
      await fs.unlink(toPath(uri));
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  }

  private async commitTemp(
    uri: string,
    options: WriteOptions,
    fill: (tmp: string) => Promise<unknown>,
  ): Promise<ObjectInfo> {
    const target = toPath(uri);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `${TMP_MARK}${randomBytes(8).toString('hex')}`);
    try {
      await fill(tmp);
      if (options.ifGenerationMatch !== undefined) {
        const expected = options.ifGenerationMatch;
        await withLock(target, async () => {
          const current = await this.stat(uri);
          if (current?.generation !== expected) {
            throw new StreamjoinError(
              'conflict',
              `expected ${uri} at generation ${expected}, but it is ${current === undefined ? 'absent' : `at generation ${current.generation}`}`,
              { context: { uri, expected, actual: current?.generation ?? null } },
            );
          }
          await fs.rename(tmp, target);
        });
      } else if (options.ifAbsent === true) {
        try {
          await fs.link(tmp, target);
        } catch (err) {
          if (isCode(err, 'EEXIST')) {
            throw new StreamjoinError('already-exists', `object already exists: ${uri}`, {
              context: { uri },
              cause: err,
              retryable: false,
            });
          }
          throw err;
        }
      } else {
        await fs.rename(tmp, target);
      }
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const st = await this.stat(uri);
    if (st === undefined) throw notFound(uri);
    return st;
  }
}

/**
 * Runs `fn` holding `<dir>/<tmp mark>lock-<name>` (created exclusively; listings skip it). A lock whose
 * token stays the same for LOCK_STALE_MS of our own waiting (monotonic clock: a process's skewed
 * wall clock cannot make a live lock look old) belonged to a crashed holder and is broken. A holder
 * paused inside `fn` for longer than that can overlap with the next one: the window is a stat and a
 * rename, and GCS (the production store) has a real precondition instead.
 */
async function withLock<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(path.dirname(target), `${TMP_MARK}lock-${path.basename(target)}`);
  const token = randomBytes(8).toString('hex');
  let seen: string | undefined;
  let seenSince = performance.now();
  for (;;) {
    try {
      await fs.writeFile(lock, token, { flag: 'wx' });
      break;
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
    }
    const holder = await fs.readFile(lock, 'utf8').catch(() => undefined);
    if (holder !== seen) {
      seen = holder;
      seenSince = performance.now();
    } else if (holder !== undefined && performance.now() - seenSince > LOCK_STALE_MS) {
      // Break it by moving it away (only one breaker gets this file), then check it was the stale one.
      const moved = `${lock}-broken-${token}`;
      try {
        await fs.rename(lock, moved);
        const content = await fs.readFile(moved, 'utf8');
        if (content !== holder) await fs.link(moved, lock).catch(() => {}); // a fresh lock: put it back
        await fs.rm(moved, { force: true });
      } catch {
        /* another breaker won */
      }
      seen = undefined;
    }
    await sleep(1 + Math.random() * 4);
  }
  try {
    return await fn();
  } finally {
    // Release only our own lock (a breaker may have replaced it while we were paused).
    if ((await fs.readFile(lock, 'utf8').catch(() => undefined)) === token)
      await fs.rm(lock, { force: true });
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
    throw err;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}
