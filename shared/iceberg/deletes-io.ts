// Reading position delete files: which rows of which data files they delete (spec "Position Delete
// Files": columns file_path (id 2147483546) and pos (id 2147483545)). Compaction and the replace-commit
// validation need only the data file paths a delete file names; the reader needs the positions too.

import type { ObjectStore } from '../storage/port.ts';
import { readDataFileRows } from './reader.ts';
import type { SpecEntry } from './spec/deletes.ts';
import { DATA_FILE_CONTENT, type ResolvedEntry, type Schema } from './spec/types.ts';

/** Reserved field ids of a position delete file's columns. */
export const DELETE_FILE_PATH_ID = 2147483546;
export const DELETE_POS_ID = 2147483545;

const POSITION_DELETE_SCHEMA: Schema = {
  schemaId: -1,
  fields: [
    { id: DELETE_FILE_PATH_ID, name: 'file_path', required: true, type: 'string' },
    { id: DELETE_POS_ID, name: 'pos', required: true, type: 'long' },
  ],
};

/** The positions a position delete file deletes, by data file path. */
export async function readPositionDeletes(
  store: ObjectStore,
  entry: ResolvedEntry,
): Promise<Map<string, number[]>> {
  const byFile = new Map<string, number[]>();
  const f = entry.dataFile;
  for await (const r of readDataFileRows(store, f.filePath, f.fileSizeInBytes, POSITION_DELETE_SCHEMA)) {
    const path = String(r['file_path']);
    const list = byFile.get(path);
    if (list === undefined) byFile.set(path, [Number(r['pos'])]);
    else list.push(Number(r['pos']));
  }
  return byFile;
}

/** For each position delete file of `deletes`: the data file paths it names (read from its content). */
export async function positionDeleteTargets(
  store: ObjectStore,
  deletes: readonly SpecEntry[],
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const d of deletes) {
    if (d.entry.dataFile.content !== DATA_FILE_CONTENT.positionDeletes) continue;
    out.set(d.entry.dataFile.filePath, new Set((await readPositionDeletes(store, d.entry)).keys()));
  }
  return out;
}
