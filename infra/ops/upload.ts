// `streamjoin upload DIR`: every file under DIR becomes an object named by its path relative to DIR,
// through the real Storage client (local server or GCS with Application Default Credentials).
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Storage } from '@google-cloud/storage';

export async function listFilesRecursive(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

export interface UploadProgress {
  readonly done: number;
  readonly total: number;
  readonly bytes: number;
}

export async function uploadDirectory(
  storage: Storage,
  bucket: string,
  dir: string,
  options: { concurrency?: number; prefix?: string; onProgress?: (p: UploadProgress) => void } = {},
): Promise<{ objects: number; bytes: number }> {
  const files = await listFilesRecursive(dir);
  let next = 0;
  let done = 0;
  let bytes = 0;
  const b = storage.bucket(bucket);
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 8, Math.max(1, files.length)) }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        const name = (options.prefix ?? '') + path.relative(dir, file).split(path.sep).join('/');
        const data = await readFile(file);
        await b.file(name).save(data, {
          resumable: false,
          contentType: name.endsWith('.gz') ? 'application/gzip' : 'application/json',
        });
        done++;
        bytes += data.length;
        options.onProgress?.({ done, total: files.length, bytes });
      }
    }),
  );
  return { objects: files.length, bytes };
}
