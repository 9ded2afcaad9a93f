// Snapshot summaries (spec Appendix F "Optional Snapshot Summary Fields") and the pipeline's batch ids,
// recorded in the summary so a commit retried after it succeeded is recognised (the Kafka Connect /
// Flink sink pattern). Pure.
import { STREAMJOIN_NAME, STREAMJOIN_VERSION } from '../../version.ts';
import { partitionKey } from './manifests.ts';
import type { DataFile, Operation, Snapshot, SnapshotId, SnapshotSummary, TableMetadata } from './types.ts';

/** Summary property holding the comma-separated ids of the staged batches a snapshot commits. */
export const BATCH_IDS_PROPERTY = 'streamjoin.batch-ids';
/** Summary property identifying the writer (spec "Other Fields": engine-name). */
export const ENGINE_NAME = STREAMJOIN_NAME;

const TOTAL_KEYS = [
  'total-records',
  'total-files-size',
  'total-data-files',
  'total-delete-files',
  'total-position-deletes',
  'total-equality-deletes',
] as const;

export interface SummaryInput {
  readonly operation: Operation;
  readonly added: readonly DataFile[];
  readonly removed: readonly DataFile[];
  /** The summary of the parent snapshot (totals carry forward); undefined for the first snapshot. */
  readonly previous: SnapshotSummary | undefined;
  readonly batchIds?: readonly string[];
  readonly extra?: Readonly<Record<string, string>>;
}

function sum(files: readonly DataFile[], f: (d: DataFile) => number): number {
  let n = 0;
  for (const d of files) n += f(d);
  return n;
}

/** Builds a summary with the spec's keys; totals are the parent's totals plus added minus removed. */
export function buildSummary(input: SummaryInput): SnapshotSummary {
  const addedRecords = sum(input.added, (d) => d.recordCount);
  const addedSize = sum(input.added, (d) => d.fileSizeInBytes);
  const removedRecords = sum(input.removed, (d) => d.recordCount);
  const removedSize = sum(input.removed, (d) => d.fileSizeInBytes);
  const partitions = new Set([...input.added, ...input.removed].map((d) => partitionKey(d.partition)));
  const out: Record<string, string> = { operation: input.operation };
  if (input.added.length > 0) {
    out['added-data-files'] = String(input.added.length);
    out['added-records'] = String(addedRecords);
    out['added-files-size'] = String(addedSize);
  }
  if (input.removed.length > 0) {
    out['deleted-data-files'] = String(input.removed.length);
    out['deleted-records'] = String(removedRecords);
    out['removed-files-size'] = String(removedSize);
  }
  out['changed-partition-count'] = String(partitions.size);
  const prev = (key: (typeof TOTAL_KEYS)[number]): number | undefined => {
    if (input.previous === undefined) return 0;
    const v = input.previous[key];
    return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
  };
  const totals: Record<(typeof TOTAL_KEYS)[number], [number | undefined, number]> = {
    'total-records': [prev('total-records'), addedRecords - removedRecords],
    'total-files-size': [prev('total-files-size'), addedSize - removedSize],
    'total-data-files': [prev('total-data-files'), input.added.length - input.removed.length],
    'total-delete-files': [prev('total-delete-files'), 0],
    'total-position-deletes': [prev('total-position-deletes'), 0],
    'total-equality-deletes': [prev('total-equality-deletes'), 0],
  };
  // Like Java: a total is written only when the parent's is known (a foreign writer may have omitted it).
  for (const key of TOTAL_KEYS) {
    const [before, delta] = totals[key];
    if (before !== undefined) out[key] = String(before + delta);
  }
  if (input.batchIds !== undefined && input.batchIds.length > 0)
    out[BATCH_IDS_PROPERTY] = input.batchIds.join(',');
  out['engine-name'] = ENGINE_NAME;
  out['engine-version'] = STREAMJOIN_VERSION;
  Object.assign(out, input.extra ?? {});
  return out as SnapshotSummary;
}

export function batchIdsOf(summary: SnapshotSummary): string[] {
  const v = summary[BATCH_IDS_PROPERTY];
  return v === undefined || v === '' ? [] : v.split(',');
}

/** Batch ids must survive the comma-separated summary encoding. */
export function checkBatchId(id: string): string | undefined {
  if (id === '' || id.includes(','))
    return `batch ids must be non-empty and contain no comma, but was: ${JSON.stringify(id)}`;
  return undefined;
}

/** The snapshots of the branch's history, newest first (walks parent ids from the ref's snapshot). */
export function ancestorsOf(md: TableMetadata, snapshotId: SnapshotId | undefined): Snapshot[] {
  const byId = new Map(md.snapshots.map((s) => [s.snapshotId, s]));
  const out: Snapshot[] = [];
  let id = snapshotId;
  while (id !== undefined) {
    const s = byId.get(id);
    if (s === undefined) break; // parent expired
    out.push(s);
    id = s.parentSnapshotId;
  }
  return out;
}

/** Which of these batch ids some snapshot in the current history already committed. */
export function committedBatchIds(md: TableMetadata, batchIds: readonly string[]): Set<string> {
  const wanted = new Set(batchIds);
  const found = new Set<string>();
  if (wanted.size === 0) return found;
  for (const s of ancestorsOf(md, md.currentSnapshotId)) {
    for (const id of batchIdsOf(s.summary)) if (wanted.has(id)) found.add(id);
    if (found.size === wanted.size) break;
  }
  return found;
}
