// Admission of ingest requests by memory, not by request count. Cloud Run hands an instance up to
// `concurrency` events at once whatever their size; what one costs in memory depends on the object: a
// gzip object of up to GZIP_VERIFY_MAX_BYTES is held whole while its checksum is verified (a damaged
// file must yield no record), a JSON document is parsed whole, and every request keeps a chunk of
// records with their join states. Each request is charged its estimated cost against one budget per
// instance before it opens the object; a request that does not fit waits its turn (first come, first
// served, so a large object is not starved by small ones), and one larger than the whole budget runs
// alone. The instance memory is then the measured base plus the budget (infra/gcp/settings.ts checks the
// pair; docs/deploy.md "Sizing ingest" says how both were measured).
import { E_TIMEOUT, Semaphore, withTimeout } from 'async-mutex';
import { StreamjoinError } from '../errors.ts';
import { GZIP_VERIFY_MAX_BYTES } from '../ingest/parse-event-file.ts';

/**
 * Memory one request uses besides the object's own bytes: a chunk of 1,000 records, their join states
 * read in bulk, the commit payloads and the parser's buffers. Measured with 1 KB records
 * (`npm run bench -- --only ingest-memory`, the "per request" figure), rounded up.
 */
export const REQUEST_WORKING_SET_BYTES = 32 * 1024 ** 2;
/** A JSON document or line of maxLineLength bytes is held as bytes, as a string and as parsed values. */
export const LINE_COPIES = 4;

/** What the admission needs to know of an object before reading it (the finalize event's data). */
export interface AdmissionObject {
  /** Bytes stored in the bucket (compressed bytes for a gzip object); unknown → charged the most. */
  readonly size?: number;
}

/**
 * Estimated peak memory of ingesting `obj`: the working set, the longest record the parser may hold, and
 * the object itself when it may be buffered for gzip verification (any object up to
 * GZIP_VERIFY_MAX_BYTES: gzip is recognised by its bytes, not by its name, so a plain object of that
 * size is charged as if it were gzip).
 */
export function ingestMemoryCost(obj: AdmissionObject, config: { readonly maxLineLength: number }): number {
  const held =
    obj.size === undefined ? GZIP_VERIFY_MAX_BYTES : obj.size <= GZIP_VERIFY_MAX_BYTES ? obj.size : 0;
  return REQUEST_WORKING_SET_BYTES + LINE_COPIES * config.maxLineLength + held;
}

export interface Admission {
  /** Bytes charged against the budget (the cost, or the whole budget for an object larger than it). */
  readonly chargedBytes: number;
  /** How long the request waited for room. */
  readonly waitedMs: number;
  /** Gives the room back; safe to call more than once. */
  release(): void;
}

const KIB = 1024;

/** One instance's ingest memory budget: a weighted FIFO semaphore counted in KiB. */
export class MemoryBudget {
  readonly capacityBytes: number;
  private readonly capacityKiB: number;
  private readonly semaphore: Semaphore;
  private held = 0;
  private waiting = 0;

  constructor(capacityBytes: number) {
    if (!Number.isFinite(capacityBytes) || capacityBytes < KIB) {
      throw new StreamjoinError(
        'config',
        `an ingest memory budget must be at least 1 KiB, but was: ${capacityBytes} bytes`,
      );
    }
    this.capacityBytes = capacityBytes;
    this.capacityKiB = Math.floor(capacityBytes / KIB);
    this.semaphore = new Semaphore(this.capacityKiB);
  }

  /** Bytes charged to requests that hold room now. */
  get heldBytes(): number {
    return this.held * KIB;
  }
  /** Requests waiting for room. */
  get waitingRequests(): number {
    return this.waiting;
  }

  /**
   * Waits until `costBytes` fit (a cost above the capacity takes the whole budget: it runs alone).
   * After `timeoutMs` without room it throws a retryable error, so the platform redelivers the event
   * later instead of this request eating its own time budget.
   */
  async admit(costBytes: number, timeoutMs: number, now: () => number = Date.now): Promise<Admission> {
    const kib = Math.min(Math.max(Math.ceil(costBytes / KIB), 1), this.capacityKiB);
    const started = now();
    this.waiting++;
    let release: () => void;
    try {
      [, release] = await withTimeout(this.semaphore, Math.max(timeoutMs, 0)).acquire(kib);
    } catch (err) {
      if (err !== E_TIMEOUT) throw err;
      throw new StreamjoinError(
        'unavailable',
        `ingest memory budget busy: expected ${Math.ceil(costBytes / KIB ** 2)} MiB of the ${Math.floor(this.capacityBytes / KIB ** 2)} MiB budget to free up within ${timeoutMs} ms, but ${Math.ceil(this.heldBytes / KIB ** 2)} MiB stayed in use; the event will be redelivered`,
        { context: { costBytes, capacityBytes: this.capacityBytes, heldBytes: this.heldBytes } },
      );
    } finally {
      this.waiting--;
    }
    this.held += kib;
    let released = false;
    return {
      chargedBytes: kib * KIB,
      waitedMs: now() - started,
      release: () => {
        if (released) return;
        released = true;
        this.held -= kib;
        release();
      },
    };
  }
}

/**
 * Runs `ingest` once its object fits the budget. The wait counts against the request's time budget:
 * `ingest` gets what is left of it (the function timeout runs from the request's start), and a request
 * that would be left with less than half its budget gives up waiting and asks for a redelivery.
 */
export async function withAdmission<T>(
  budget: MemoryBudget,
  costBytes: number,
  timeBudgetMs: number,
  ingest: (remainingTimeBudgetMs: number) => Promise<T>,
  now: () => number = Date.now,
): Promise<T> {
  const admission = await budget.admit(costBytes, Math.floor(timeBudgetMs / 2), now);
  try {
    return await ingest(Math.max(timeBudgetMs - admission.waitedMs, 1));
  } finally {
    admission.release();
  }
}
