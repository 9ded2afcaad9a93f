// A local copy of a table on the local GCS server, for the reference readers (they open local tables
// only): test/interop/relocate_table.py rewrites the table's gs:// locations to the copy's file:// ones
// with an independent Avro implementation (fastavro); data files are copied as they are.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../../infra/ops/check-iceberg.ts';

/**
 * Copies the table whose metadata names `location` (gs://bucket/path) from the GCS server's data
 * directory (objects are plain files at `<gcsDataDir>/<bucket>/<name>`) to `targetDir`.
 */
export function relocateGcsTable(gcsDataDir: string, location: string, targetDir: string): string {
  const script = path.join(REPO_ROOT, 'test/interop/relocate_table.py');
  const sourceDir = path.join(gcsDataDir, location.slice('gs://'.length));
  const r = spawnSync('python3', [script, sourceDir, location, targetDir], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `expected relocate_table.py to copy ${location} from ${sourceDir}, but it exited ${r.status}: ${r.stderr.trim().slice(-500)}`,
    );
  }
  return targetDir;
}
