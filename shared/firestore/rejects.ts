// Quarantine: files and records that failed parsing or validation, with where and why — so an
// operator can list them (`streamjoin rejects`). Ids are deterministic: a retried ingest rewrites
// the same documents instead of adding new ones. Kept for STREAMJOIN_REJECTS_RETENTION (Firestore TTL).
import { Timestamp, type WriteBatch } from '@google-cloud/firestore';
import type { Issue } from '../ingest/issues.ts';
import { type Collections, docIdFor } from './client.ts';

export interface RejectRecord {
  readonly bucket: string;
  readonly object: string;
  readonly generation: string;
  /** Record ordinal in the file, or null for a file-level reject. */
  readonly ordinal: number | null;
  readonly line: number | null;
  readonly index: number | null;
  readonly field: string | null;
  readonly code: string;
  readonly message: string;
  readonly createdAt: Date;
}

export function rejectDocId(
  bucket: string,
  object: string,
  generation: string,
  ordinal: number | null,
): string {
  return docIdFor(`${bucket}/${object}#${generation}:${ordinal ?? 'file'}`);
}

export function stageReject(
  batch: WriteBatch,
  c: Collections,
  src: { bucket: string; object: string; generation: string },
  ordinal: number | null,
  issue: Issue,
  nowMs: number,
  retentionMs: number,
): void {
  batch.set(c.rejects.doc(rejectDocId(src.bucket, src.object, src.generation, ordinal)), {
    bucket: src.bucket,
    object: src.object,
    generation: src.generation,
    ordinal,
    line: issue.path.line ?? null,
    index: issue.path.index ?? null,
    field: issue.path.field ?? null,
    code: issue.code,
    message: issue.message,
    createdAt: Timestamp.fromMillis(nowMs),
    // Firestore TTL deletes the record some time after this (STREAMJOIN_REJECTS_RETENTION).
    expireAt: Timestamp.fromMillis(nowMs + retentionMs),
  });
}

export async function listRejects(
  c: Collections,
  options: { sinceMs?: number; limit?: number } = {},
): Promise<RejectRecord[]> {
  let q = c.rejects.orderBy('createdAt', 'desc');
  if (options.sinceMs !== undefined) q = q.where('createdAt', '>=', Timestamp.fromMillis(options.sinceMs));
  const snap = await q.limit(options.limit ?? 1000).get();
  return snap.docs.map((d) => {
    const x = d.data();
    return {
      bucket: x['bucket'],
      object: x['object'],
      generation: x['generation'],
      ordinal: x['ordinal'] ?? null,
      line: x['line'] ?? null,
      index: x['index'] ?? null,
      field: x['field'] ?? null,
      code: x['code'],
      message: x['message'],
      createdAt: (x['createdAt'] as Timestamp).toDate(),
    } as RejectRecord;
  });
}
