// `streamjoin drain`: waits until the pipeline has nothing left to do — every uploaded object delivered
// and ingested, every waiting state expired (or joined), every outbox row flushed, every staged batch
// committed — with a progress line per poll. Fails with a clear message on timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { Timestamp } from '@google-cloud/firestore';
import type { Collections } from '../../shared/firestore/client.ts';

export interface Backlog {
  /** Finalize events not yet acknowledged by ingest (local GCS server only; null when unknown). */
  readonly deliveries: number | null;
  /** States still waiting for their other half or their deadline. */
  readonly waiting: number;
  readonly outbox: number;
  /** Micro-batches claimed or staged but not yet committed to Iceberg. */
  readonly uncommitted: number;
}

export const isEmpty = (b: Backlog): boolean =>
  (b.deliveries ?? 0) === 0 && b.waiting === 0 && b.outbox === 0 && b.uncommitted === 0;

export function formatBacklog(b: Backlog): string {
  return [
    b.deliveries === null ? undefined : `deliveries ${b.deliveries}`,
    `waiting states ${b.waiting}`,
    `outbox rows ${b.outbox}`,
    `uncommitted batches ${b.uncommitted}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

export async function measureBacklog(c: Collections, gcsAdminUrl?: string): Promise<Backlog> {
  const [waiting, outbox, uncommitted, deliveries] = await Promise.all([
    c.states.where('deadline', '>', Timestamp.fromMillis(0)).count().get(),
    c.outbox.count().get(),
    c.batches.where('status', 'in', ['claimed', 'staged']).count().get(),
    gcsAdminUrl === undefined
      ? Promise.resolve(null)
      : fetch(`${gcsAdminUrl}/_admin/stats`, { signal: AbortSignal.timeout(5000) })
          .then((r) => r.json() as Promise<{ pending: number }>)
          .then((s) => s.pending),
  ]);
  return {
    deliveries,
    waiting: waiting.data().count,
    outbox: outbox.data().count,
    uncommitted: uncommitted.data().count,
  };
}

export async function drain(
  c: Collections,
  options: {
    timeoutMs: number;
    gcsAdminUrl?: string;
    pollMs?: number;
    onProgress?: (b: Backlog, elapsedMs: number) => void;
    /** Aborting stops the wait at the next poll. */
    signal?: AbortSignal;
  },
): Promise<{ elapsedMs: number }> {
  const started = Date.now();
  let emptyPolls = 0;
  let last: Backlog | undefined;
  const checkAbort = () => {
    if (options.signal?.aborted === true) throw options.signal.reason ?? new Error('aborted');
  };
  while (Date.now() - started < options.timeoutMs) {
    checkAbort();
    last = await measureBacklog(c, options.gcsAdminUrl);
    checkAbort();
    options.onProgress?.(last, Date.now() - started);
    // Twice in a row: an event in flight between two stages is not missed.
    emptyPolls = isEmpty(last) ? emptyPolls + 1 : 0;
    if (emptyPolls >= 2) return { elapsedMs: Date.now() - started };
    await sleep(
      options.pollMs ?? 500,
      undefined,
      options.signal === undefined ? {} : { signal: options.signal },
    ).catch(() => {});
  }
  checkAbort();
  throw new Error(
    `drain timed out after ${Math.round(options.timeoutMs / 1000)} s with work left: ${last === undefined ? 'unknown' : formatBacklog(last)}` +
      ' (is the stack running? `streamjoin local status`; are tick and compact being called?)',
  );
}
