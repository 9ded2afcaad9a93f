// Ingest: one finalized input object → parsed, validated records → the join state machine, with state
// changes and emitted rows committed atomically per order_id (JoinStore), and bad input quarantined.
// Idempotent: the state machine ignores an event it has seen (first order wins; payment_ids are
// remembered), so re-running a whole file — a redelivery, or a retry after a crash at any point —
// changes nothing twice. Large files record their progress and resume after a timeout.
import type { Readable } from 'node:stream';
import type { Firestore } from '@google-cloud/firestore';
import { Timestamp } from '@google-cloud/firestore';
import type { Config } from '../config.ts';
import { StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { type Collections, docIdFor } from '../firestore/client.ts';
import { JoinStore, type OutboxRow, type StateIndex, type TransitionFn } from '../firestore/join-store.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import { stageReject } from '../firestore/rejects.ts';
import type { Issue } from '../ingest/issues.ts';
import { type ParseSummary, parseEventFile } from '../ingest/parse-event-file.ts';
import { type EventKind, validateEvent } from '../ingest/validate.ts';
import type { EmittedRow, EventSource } from '../join/rows.ts';
import {
  addCounters,
  applyEvent,
  type JoinCounters,
  type JoinEvent,
  type JoinState,
  zeroCounters,
} from '../join/state-machine.ts';
import type { Logger } from '../log.ts';

export interface InputObject {
  readonly bucket: string;
  readonly name: string;
  /** GCS generation (decimal string). */
  readonly generation: string;
  /** When this generation landed (its `timeCreated`), epoch ms: the time of every event in it. */
  readonly landedAtMs: number;
  readonly size?: number;
  readonly contentEncoding?: string;
}

export interface IngestDeps {
  readonly db: Firestore;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly config: Pick<
    Config,
    | 'ordersPrefix'
    | 'paymentsPrefix'
    | 'orderTimeoutMs'
    | 'paymentTimeoutMs'
    | 'tombstoneRetentionMs'
    | 'allowedLatenessMs'
    | 'maxObjectSize'
    | 'maxDecompressedSize'
    | 'maxInflationRatio'
    | 'maxLineLength'
    | 'indexShards'
    | 'ingestTimeBudgetMs'
  >;
  /** Opens the object at exactly this generation. */
  readonly openObject: (obj: InputObject) => Readable;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface IngestSummary {
  readonly status: 'ingested' | 'ignored' | 'already-done' | 'rejected-file';
  readonly kind?: EventKind;
  readonly records: number;
  readonly rejected: number;
  readonly emitted: number;
  readonly conflicts: number;
  readonly counters: JoinCounters;
  readonly resumedAt: number;
  /** The object disappeared while being read (404): records from this ordinal on were never read. */
  readonly unreadFrom?: number;
}

/** Records per chunk (its order_ids are read in bulk and committed in parallel parts). */
const CHUNK = 1000;
/** Events of one order_id applied in one commit: at most 2 rows each, so the commit stays within 450
 *  writes; an order_id with more events in a chunk is applied in successive rounds, in file order. */
const EVENTS_PER_KEY_ROUND = 200;
/** Files larger than this keep a progress document (resume after a timeout). */
const PROGRESS_MIN_BYTES = 1 << 20;

export function eventKindOf(
  name: string,
  config: Pick<Config, 'ordersPrefix' | 'paymentsPrefix'>,
): EventKind | undefined {
  if (name.startsWith(config.ordersPrefix)) return 'order';
  if (name.startsWith(config.paymentsPrefix)) return 'payment';
  return undefined;
}

export function stateIndex(s: JoinState): StateIndex {
  return { status: s.status, deadlineMs: s.deadlineMs, expireAtMs: s.purgeAtMs };
}

/** EmittedRow → outbox row (timestamp column as epoch micros, a JSON/Firestore-safe number). */
export function toOutboxRow(r: EmittedRow): OutboxRow {
  const ts = r.table === 'joined' ? 'joined_at' : 'emitted_at';
  return { id: r.id, table: r.table, values: { ...r.values, [ts]: r.atMs * 1000 } };
}

export function createJoinStore(
  deps: Pick<IngestDeps, 'db' | 'collections' | 'counter' | 'now'> & { config: Pick<Config, 'indexShards'> },
): JoinStore<JoinState> {
  return new JoinStore<JoinState>({
    db: deps.db,
    collections: deps.collections,
    counter: deps.counter,
    index: stateIndex,
    shards: deps.config.indexShards,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
}

export async function ingestObject(deps: IngestDeps, obj: InputObject): Promise<IngestSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const counters = zeroCounters();
  const kind = eventKindOf(obj.name, deps.config);
  const base = { records: 0, rejected: 0, emitted: 0, conflicts: 0, counters, resumedAt: 0 };
  if (kind === undefined) {
    deps.log.info(
      { bucket: obj.bucket, object: obj.name },
      'ignoring an object outside the order and payment prefixes',
    );
    return { status: 'ignored', ...base };
  }
  const fileKey = `${obj.bucket}/${obj.name}#${obj.generation}`;
  // Every progress write carries the Firestore TTL field: a progress document is removed a tombstone
  // retention after its last write (deliveries of one generation stop within a day).
  const progressStamp = (ms: number) => ({
    updatedAt: Timestamp.fromMillis(ms),
    expireAt: Timestamp.fromMillis(ms + deps.config.tombstoneRetentionMs),
  });
  const progressRef = deps.collections.files.doc(docIdFor(fileKey));
  const tracked = (obj.size ?? 0) >= PROGRESS_MIN_BYTES;
  let startAt = 0;
  if (tracked) {
    const p = await progressRef.get();
    deps.counter.reads++;
    if (p.exists && p.get('done') === true) return { status: 'already-done', kind, ...base };
    startAt = p.exists ? ((p.get('next') as number) ?? 0) : 0;
  }
  faultPoint('ingest.before-read');

  const store = createJoinStore(deps);
  const settings = deps.config;
  const src = { bucket: obj.bucket, object: obj.name, generation: obj.generation };
  /** The latest deadline of a window the tick had closed before an event of this file that landed in it. */
  let lateForWindowMs: number | null = null;
  let records = 0;
  let rejected = 0;
  let emitted = 0;
  let conflicts = 0;
  let pending: {
    events: JoinEvent[];
    issues: Array<{ ordinal: number | null; issue: Issue }>;
    nextOrdinal: number;
  } = {
    events: [],
    issues: [],
    nextOrdinal: startAt,
  };

  const flushChunk = async (): Promise<void> => {
    const chunk = pending;
    pending = { events: [], issues: [], nextOrdinal: chunk.nextOrdinal };
    if (chunk.events.length > 0) {
      const byOrder = new Map<string, JoinEvent[]>();
      for (const e of chunk.events) {
        const id = e.kind === 'order' ? e.order.orderId : e.payment.orderId;
        const list = byOrder.get(id);
        if (list === undefined) byOrder.set(id, [e]);
        else list.push(e);
      }
      const chunkCounters = new Map<string, JoinCounters>();
      const chunkLate = new Map<string, number | null>();
      const rounds: Array<Map<string, TransitionFn<JoinState>>> = [];
      for (const [orderId, all] of byOrder) {
        for (let r = 0; r * EVENTS_PER_KEY_ROUND < all.length; r++) {
          const events = all.slice(r * EVENTS_PER_KEY_ROUND, (r + 1) * EVENTS_PER_KEY_ROUND);
          const counterKey = `${r}:${orderId}`;
          rounds[r] ??= new Map();
          rounds[r].set(orderId, (current) => {
            let state = current;
            const rows: OutboxRow[] = [];
            const c = zeroCounters();
            let late: number | null = null;
            for (const e of events) {
              const res = applyEvent(state, e, settings);
              addCounters(c, res.counters);
              for (const row of res.emitted) rows.push(toOutboxRow(row));
              state = res.state;
              if (res.lateForWindowMs !== null) late = Math.max(late ?? 0, res.lateForWindowMs);
            }
            // The last planning wins (re-planned after a lost race).
            chunkCounters.set(counterKey, c);
            chunkLate.set(counterKey, late);
            return { next: state === current ? undefined : state, emitted: rows };
          });
        }
      }
      faultPoint('ingest.before-commit');
      for (const items of rounds) {
        const r = await store.apply(items);
        emitted += r.emitted;
        conflicts += r.conflicts;
      }
      for (const c of chunkCounters.values()) addCounters(counters, c);
      for (const l of chunkLate.values()) if (l !== null) lateForWindowMs = Math.max(lateForWindowMs ?? 0, l);
      faultPoint('ingest.after-commit');
    }
    if (chunk.issues.length > 0 || tracked) {
      const batch = deps.db.batch();
      for (const { ordinal, issue } of chunk.issues)
        stageReject(batch, deps.collections, src, ordinal, issue, now());
      if (tracked) {
        // No `done` here: only the end of the file sets it, and nothing ever clears it (a slower
        // concurrent delivery writing its progress must not reopen a file another one finished).
        batch.set(
          progressRef,
          { file: fileKey, next: chunk.nextOrdinal, ...progressStamp(now()) },
          { merge: true },
        );
      }
      await batch.commit();
      deps.counter.writes += chunk.issues.length + (tracked ? 1 : 0);
    }
    if (now() - started > deps.config.ingestTimeBudgetMs) {
      throw new StreamjoinError(
        'unavailable',
        `time budget of ${deps.config.ingestTimeBudgetMs} ms used; the retry resumes at record ${chunk.nextOrdinal}`,
        {
          context: { file: fileKey, next: chunk.nextOrdinal },
        },
      );
    }
  };

  let summary: ParseSummary | undefined;
  let fileIssue: Issue | undefined;
  let unreadFrom: number | undefined;
  const input = deps.openObject(obj);
  try {
    for await (const item of parseEventFile(input as AsyncIterable<Uint8Array>, {
      name: obj.name,
      ...(obj.contentEncoding === undefined ? {} : { contentEncoding: obj.contentEncoding }),
      ...(obj.size === undefined ? {} : { size: obj.size }),
      maxObjectSize: deps.config.maxObjectSize,
      maxDecompressedSize: deps.config.maxDecompressedSize,
      maxInflationRatio: deps.config.maxInflationRatio,
      maxLineLength: deps.config.maxLineLength,
      startAt,
    })) {
      if (item.kind === 'record') {
        const source: EventSource = { ...src, ordinal: item.ordinal, landedAtMs: obj.landedAtMs };
        const v = validateEvent(kind, item.value, item.path);
        if (v.ok) {
          records++;
          pending.events.push(
            v.value.kind === 'order'
              ? { kind: 'order', order: v.value.order, source }
              : { kind: 'payment', payment: v.value.payment, source },
          );
        } else {
          rejected++;
          // One reject per record, naming every issue it has.
          const first = v.issues[0]!;
          const message = v.issues.map((i) => i.message).join('; ');
          pending.issues.push({ ordinal: item.ordinal, issue: { ...first, message } });
        }
        pending.nextOrdinal = item.ordinal + 1;
      } else if (item.kind === 'record-issue') {
        rejected++;
        pending.issues.push({ ordinal: item.ordinal, issue: item.issue });
        pending.nextOrdinal = item.ordinal + 1;
      } else if (item.kind === 'file-issue') {
        fileIssue = item.issue;
        summary = item.summary;
        pending.issues.push({ ordinal: null, issue: item.issue });
      } else {
        summary = item.summary;
      }
      if (pending.events.length + pending.issues.length >= CHUNK) await flushChunk();
    }
  } catch (err) {
    input.destroy();
    if ((err as { code?: unknown }).code !== 404) throw err;
    // The generation is gone (deleted or overwritten, before or while we read it) and can never be
    // read again: not retryable. The records read before it went are ingested (the pending chunk is
    // committed below); the quarantine says exactly which, at the record where reading stopped.
    unreadFrom = pending.nextOrdinal;
    fileIssue = {
      code: 'object-gone',
      path: {},
      message:
        unreadFrom === startAt
          ? `object ${fileKey} no longer exists (404) when record ${unreadFrom} was to be read: this delivery ingested nothing${startAt > 0 ? `; records 0–${startAt - 1} were ingested by earlier attempts` : ''}`
          : `object ${fileKey} was deleted or overwritten while being read (404 before record ${unreadFrom}): records 0–${unreadFrom - 1} were ingested${startAt > 0 ? ` (0–${startAt - 1} by earlier attempts)` : ''}, bad ones quarantined; records from ${unreadFrom} on can no longer be read`,
    };
    pending.issues.push({ ordinal: unreadFrom, issue: fileIssue });
  }
  await flushChunk();
  if (tracked) {
    await progressRef.set(
      { done: true, ...(unreadFrom === undefined ? {} : { unreadFrom }), ...progressStamp(now()) },
      { merge: true },
    );
    deps.counter.writes++;
  }
  if (fileIssue !== undefined) rejected++;
  if (lateForWindowMs !== null) {
    // Landed inside a window the tick had already closed: handled as the state then was (late rows).
    const lateBySeconds = Math.max(
      0,
      Math.round((now() - (lateForWindowMs + deps.config.allowedLatenessMs)) / 1000),
    );
    deps.log.warn(
      {
        file: fileKey,
        landedAt: new Date(obj.landedAtMs).toISOString(),
        windowClosedAt: new Date(lateForWindowMs + deps.config.allowedLatenessMs).toISOString(),
        lateEvents: counters.ingestedLate,
        lateBySeconds,
      },
      `ingested late by ${lateBySeconds} s`,
    );
  }
  deps.log.info(
    {
      file: fileKey,
      kind,
      landedAt: new Date(obj.landedAtMs).toISOString(),
      records,
      rejected,
      emitted,
      conflicts,
      resumedAt: startAt,
      fileIssue: fileIssue?.message,
      bytes: summary?.bytesRead,
      counters,
      firestore: deps.counter.snapshot(),
      ms: now() - started,
    },
    'ingested',
  );
  return {
    status: fileIssue !== undefined && records === 0 ? 'rejected-file' : 'ingested',
    kind,
    records,
    rejected,
    emitted,
    conflicts,
    counters,
    resumedAt: startAt,
    ...(unreadFrom === undefined ? {} : { unreadFrom }),
  };
}
