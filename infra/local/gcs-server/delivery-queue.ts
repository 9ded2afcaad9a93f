// Eventarc-like delivery of `google.cloud.storage.object.v1.finalized` CloudEvents (binary mode) to sink
// URLs: persisted before the upload is acknowledged, retried with capped exponential backoff until a 2xx,
// deleted after it, resumed after a restart; optionally duplicated, shuffled (a random delay before the
// first attempt) and dropped (never delivered, as Eventarc drops an event after its retry window).
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../shared/log.ts';

export const FINALIZED_EVENT_TYPE = 'google.cloud.storage.object.v1.finalized';

export interface DeliveryTuning {
  /** Probability that an event's first attempt is sent twice, concurrently. */
  duplicateProbability: number;
  /** Probability that an event is never delivered at all (decided when it is enqueued). */
  dropProbability: number;
  /** Each delivery waits a random 0..N ms before its first attempt, so deliveries reorder. */
  shuffleDelayMs: number;
  maxConcurrentDeliveries: number;
  /** Backoff before retry n (1-based) is min(retryMaxMs, retryBaseMs * 2^(n-1)). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A sink that does not answer within this time counts as a failed attempt. */
  deliveryTimeoutMs: number;
  /** On close, in-flight deliveries get this long to finish before they are aborted (and kept on disk). */
  closeGraceMs: number;
}

export interface DeliveryStats {
  /** Deliveries not yet acknowledged by their sink: queued, waiting to retry, or in flight. */
  pending: number;
  inFlight: number;
  /** Deliveries a sink acknowledged with 2xx. */
  delivered: number;
  /** Attempts that got a non-2xx answer, a network error or a timeout. */
  failedAttempts: number;
  /** Extra concurrent copies sent by the duplicate-delivery mode. */
  duplicatesSent: number;
  /** Deliveries accepted (one per event and sink) since start, including those resumed from disk. */
  enqueued: number;
  /** Events dropped by the drop-delivery mode (never delivered). */
  dropped: number;
}

/** One event for one sink, as persisted under `<dataDir>/.queue/`. */
interface Delivery {
  id: string;
  eventId: string;
  sink: string;
  source: string;
  subject: string;
  time: string;
  data: Record<string, unknown>;
}

/** Percent-encodes what the CloudEvents HTTP binding requires in header values (space, ", %, non-printable ASCII). */
export function encodeHeaderValue(value: string): string {
  return value.replace(/[^\x21-\x7e]|["%]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** Capped exponential backoff before retry `failures` (1-based). */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

export class DeliveryQueue {
  private readonly dir: string;
  private readonly log: Logger;
  private tuning: DeliveryTuning;
  private readonly counters = { delivered: 0, failedAttempts: 0, duplicatesSent: 0, enqueued: 0, dropped: 0 };
  private readonly tasks = new Set<Promise<void>>();
  private inFlight = 0;
  private sequence = 0;
  /** Aborts sleeps and slot waits at close. */
  private readonly stopWaiting = new AbortController();
  /** Aborts in-flight requests once the close grace period is over. */
  private readonly stopRequests = new AbortController();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly secureAgent = new https.Agent({ keepAlive: true });
  private readonly slotWaiters: Array<() => void> = [];
  private slotsUsed = 0;
  private closed = false;

  private constructor(dataDir: string, tuning: DeliveryTuning, log: Logger) {
    this.dir = path.join(dataDir, '.queue');
    this.tuning = tuning;
    this.log = log;
  }

  /** Opens the queue and resumes every delivery left pending by an earlier run. */
  static async open(dataDir: string, tuning: DeliveryTuning, log: Logger): Promise<DeliveryQueue> {
    const queue = new DeliveryQueue(dataDir, tuning, log);
    await mkdir(queue.dir, { recursive: true });
    const files = (await readdir(queue.dir)).sort();
    let resumed = 0;
    for (const file of files) {
      const full = path.join(queue.dir, file);
      if (!file.endsWith('.json')) {
        await unlink(full); // a write interrupted before its rename: never acknowledged
        continue;
      }
      const delivery = JSON.parse(await readFile(full, 'utf8')) as Delivery;
      queue.start(delivery);
      resumed += 1;
    }
    if (resumed > 0) log.info({ resumed }, 'resuming pending event deliveries from disk');
    return queue;
  }

  setTuning(changes: Partial<DeliveryTuning>): void {
    this.tuning = { ...this.tuning, ...changes };
  }

  getTuning(): DeliveryTuning {
    return { ...this.tuning };
  }

  stats(): DeliveryStats {
    return { pending: this.tasks.size, inFlight: this.inFlight, ...this.counters };
  }

  /**
   * Persists one finalize event per sink, then starts delivering; resolves once it is on disk, so the
   * upload can be acknowledged without risk of losing the event.
   */
  async enqueue(
    object: Record<string, unknown> & { bucket: string; name: string; updated: string },
    sinks: string[],
  ): Promise<void> {
    if (sinks.length === 0) return;
    if (this.closed) throw new Error('delivery queue is closed');
    if (this.tuning.dropProbability > 0 && Math.random() < this.tuning.dropProbability) {
      this.counters.dropped += 1;
      this.log.info(
        { bucket: object.bucket, object: object.name, generation: object['generation'] },
        'dropping the finalize event (drop-delivery mode): it will never be delivered',
      );
      return;
    }
    const eventId = randomUUID();
    const deliveries: Delivery[] = sinks.map((sink, i) => {
      this.sequence += 1;
      return {
        id: `${Date.now().toString().padStart(15, '0')}-${String(this.sequence).padStart(9, '0')}-${eventId}-${i}`,
        eventId,
        sink,
        source: `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
        subject: `objects/${object.name}`,
        time: object.updated,
        data: object,
      };
    });
    for (const d of deliveries) {
      const file = path.join(this.dir, `${d.id}.json`);
      await writeFile(`${file}.tmp`, JSON.stringify(d));
      await rename(`${file}.tmp`, file);
    }
    for (const d of deliveries) this.start(d);
  }

  private start(delivery: Delivery): void {
    this.counters.enqueued += 1;
    const task = this.deliver(delivery).finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private async deliver(d: Delivery): Promise<void> {
    const signal = this.stopWaiting.signal;
    const log = this.log.child({ eventId: d.eventId, sink: d.sink, subject: d.subject });
    let failures = 0;
    try {
      if (this.tuning.shuffleDelayMs > 0)
        await sleep(Math.random() * this.tuning.shuffleDelayMs, undefined, { signal });
      for (;;) {
        await this.acquireSlot(signal);
        let primary: { ok: boolean; detail: string };
        this.inFlight += 1;
        try {
          const duplicate = failures === 0 && Math.random() < this.tuning.duplicateProbability;
          const attempts = [this.post(d)];
          if (duplicate) {
            this.counters.duplicatesSent += 1;
            attempts.push(this.post(d));
            log.info('delivering event twice (duplicate-delivery mode)');
          }
          [primary] = (await Promise.all(attempts)) as [{ ok: boolean; detail: string }];
        } finally {
          this.inFlight -= 1;
          this.releaseSlot();
        }
        if (primary.ok) {
          await unlink(path.join(this.dir, `${d.id}.json`));
          this.counters.delivered += 1;
          log.info({ attempts: failures + 1, result: primary.detail }, 'event delivered');
          return;
        }
        if (this.stopRequests.signal.aborted) return; // aborted by close: stays on disk for the next run
        failures += 1;
        this.counters.failedAttempts += 1;
        const delay = backoffMs(failures, this.tuning.retryBaseMs, this.tuning.retryMaxMs);
        log.warn(
          { attempt: failures, result: primary.detail, retryInMs: delay },
          'event delivery failed; will retry',
        );
        await sleep(delay, undefined, { signal });
      }
    } catch (err) {
      if (signal.aborted) return; // closing: the delivery stays on disk
      log.error({ err }, 'event delivery stopped by an unexpected error; it stays on disk for the next run');
    }
  }

  private async acquireSlot(signal: AbortSignal): Promise<void> {
    while (this.slotsUsed >= this.tuning.maxConcurrentDeliveries) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.slotWaiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    signal.throwIfAborted();
    this.slotsUsed += 1;
  }

  private releaseSlot(): void {
    this.slotsUsed -= 1;
    this.slotWaiters.shift()?.();
  }

  /** One POST of the event in binary content mode; never throws. */
  private post(d: Delivery): Promise<{ ok: boolean; detail: string }> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(d.sink);
      } catch {
        resolve({ ok: false, detail: `invalid sink URL ${JSON.stringify(d.sink)}` });
        return;
      }
      const body = Buffer.from(JSON.stringify(d.data));
      const secure = url.protocol === 'https:';
      const req = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? this.secureAgent : this.agent,
          signal: this.stopRequests.signal,
          timeout: this.tuning.deliveryTimeoutMs,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'ce-id': d.eventId,
            'ce-specversion': '1.0',
            'ce-type': FINALIZED_EVENT_TYPE,
            'ce-source': encodeHeaderValue(d.source),
            'ce-subject': encodeHeaderValue(d.subject),
            'ce-time': d.time,
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on('end', () => resolve({ ok: status >= 200 && status < 300, detail: `HTTP ${status}` }));
          res.on('error', (err) => resolve({ ok: false, detail: `HTTP ${status}, then ${err.message}` }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.tuning.deliveryTimeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, detail: err.message }));
      req.end(body);
    });
  }

  /** Stops delivering: waits up to closeGraceMs for in-flight attempts, aborts the rest (kept on disk). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWaiting.abort(new Error('closing'));
    if (this.tasks.size > 0 && this.inFlight > 0) {
      const grace = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.tasks]),
        sleep(this.tuning.closeGraceMs, undefined, { signal: grace.signal }).catch(() => undefined),
      ]);
      grace.abort();
    }
    this.stopRequests.abort(new Error('closing'));
    await Promise.allSettled([...this.tasks]);
    this.agent.destroy();
    this.secureAgent.destroy();
  }
}
