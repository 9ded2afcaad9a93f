// The function source a deploy uploads, and its hash: the hash goes into each function's spec label,
// so an unchanged source and configuration skips the multi-minute rebuild on a re-run.
import { createHash } from 'node:crypto';
import { access, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Top-level files and folders uploaded (deploy.gcloudignore says the same to gcloud). */
export const SOURCE_PATHS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'functions/',
  'shared/',
  'infra/',
  'cli/',
  'specs/',
] as const;
const SKIPPED_DIRS = new Set(['node_modules', 'dist']);

async function walk(dir: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) await walk(path, out);
    } else if (e.isFile()) {
      out.push(path);
    }
  }
}

/** Repository-relative paths (forward slashes, sorted) of the files a deploy uploads. */
export async function listSourceFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  for (const p of SOURCE_PATHS) {
    if (p.endsWith('/')) {
      await walk(join(root, p), files);
      continue;
    }
    try {
      await access(join(root, p));
      files.push(join(root, p));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return files.map((f) => relative(root, f).split(sep).join('/')).sort();
}

/** sha256 over each uploaded file's path and content. */
export async function hashSource(root: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of await listSourceFiles(root)) {
    h.update(f)
      .update('\0')
      .update(await readFile(join(root, f)))
      .update('\0');
  }
  return h.digest('hex');
}
