// The per-object ledger (DESIGN §3): one document per ingested object generation, keyed by
// `bucket/name#generation`, recording its outcome (ingested, quarantined, ignored). Ingest creates it
// create-only in the same commit as the file's state changes, so a file seen once is recognised whole the
// next time (redelivery, replay, reconciliation) — for the ledger's retention (Firestore TTL on
// `expireAt`), longer than the join state's tombstones. The same document holds the progress of a large
// file (`next`) while it is being ingested; an entry without an outcome is unfinished.
import {
  type DocumentData,
  type DocumentReference,
  type Firestore,
  Timestamp,
} from '@google-cloud/firestore';
import { type Collections, docIdFor } from './client.ts';
import type { OpCounter } from './op-counter.ts';

export const LEDGER_OUTCOMES = ['ingested', 'quarantined', 'ignored'] as const;
export type LedgerOutcome = (typeof LEDGER_OUTCOMES)[number];

/** Who ingested the object: its finalize event, the scheduled reconciliation, or a replay. */
export const INGEST_PATHS = ['event', 'reconcile', 'replay'] as const;
export type IngestPath = (typeof INGEST_PATHS)[number];

export interface ObjectId {
  readonly bucket: string;
  readonly name: string;
  /** GCS generation (decimal string). */
  readonly generation: string;
}

export interface LedgerEntry extends ObjectId {
  /** Undefined while a large file is being ingested (or after a crash in the middle of one). */
  readonly outcome: LedgerOutcome | undefined;
  readonly landedAtMs: number | undefined;
  readonly records: number | undefined;
  readonly rejected: number | undefined;
  /** Last write of the entry (epoch ms of the writer's clock). */
  readonly updatedAtMs: number | undefined;
  /** Large files: the next record to ingest. */
  readonly next: number | undefined;
}

/** The ledger key of an object generation. */
export function ledgerKey(o: ObjectId): string {
  return `${o.bucket}/${o.name}#${o.generation}`;
}

export function ledgerRef(c: Collections, o: ObjectId): DocumentReference {
  return c.files.doc(docIdFor(ledgerKey(o)));
}

/** The fields every ledger write carries (identity, landing time, retention). */
export function ledgerIdentity(
  o: ObjectId & { readonly landedAtMs: number },
  nowMs: number,
  retentionMs: number,
): DocumentData {
  return {
    file: ledgerKey(o),
    bucket: o.bucket,
    object: o.name,
    generation: o.generation,
    landedAt: Timestamp.fromMillis(o.landedAtMs),
    updatedAt: Timestamp.fromMillis(nowMs),
    // Firestore TTL deletes the entry some time after this (typically within a day).
    expireAt: Timestamp.fromMillis(nowMs + retentionMs),
  };
}

/** A finished entry: the object's outcome and counts. */
export function ledgerOutcome(
  o: ObjectId & { readonly landedAtMs: number },
  outcome: LedgerOutcome,
  counts: { records: number; rejected: number; via: IngestPath },
  nowMs: number,
  retentionMs: number,
): DocumentData {
  return {
    ...ledgerIdentity(o, nowMs, retentionMs),
    outcome,
    done: true,
    records: counts.records,
    rejected: counts.rejected,
    via: counts.via,
  };
}

/** Whether a stored entry is finished (`done` alone: entries written before outcomes were recorded). */
export function isFinished(data: DocumentData | undefined): boolean {
  return data !== undefined && (typeof data['outcome'] === 'string' || data['done'] === true);
}

export function toLedgerEntry(data: DocumentData): LedgerEntry {
  const ms = (v: unknown) => (v instanceof Timestamp ? v.toMillis() : undefined);
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const outcome = data['outcome'];
  return {
    bucket: String(data['bucket'] ?? ''),
    name: String(data['object'] ?? ''),
    generation: String(data['generation'] ?? ''),
    outcome: (LEDGER_OUTCOMES as readonly unknown[]).includes(outcome)
      ? (outcome as LedgerOutcome)
      : data['done'] === true
        ? 'ingested'
        : undefined,
    landedAtMs: ms(data['landedAt']),
    records: num(data['records']),
    rejected: num(data['rejected']),
    updatedAtMs: ms(data['updatedAt']),
    next: num(data['next']),
  };
}

/** The entries of many objects (undefined: none), read in bulk; one document read per object. */
export async function readLedger(
  db: Firestore,
  c: Collections,
  objects: readonly ObjectId[],
  counter?: OpCounter,
): Promise<Array<LedgerEntry | undefined>> {
  const out: Array<LedgerEntry | undefined> = [];
  for (let i = 0; i < objects.length; i += 500) {
    const part = objects.slice(i, i + 500);
    if (part.length === 0) continue;
    const snaps = await db.getAll(...part.map((o) => ledgerRef(c, o)));
    if (counter !== undefined) counter.reads += snaps.length;
    for (const s of snaps) out.push(s.exists ? toLedgerEntry(s.data()!) : undefined);
  }
  return out;
}
