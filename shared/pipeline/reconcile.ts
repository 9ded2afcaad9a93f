// Reconciliation and replay: list the input objects, find the generations the ledger does not have (their
// finalize event never came — Eventarc gave up after its retry window, or the object landed before the
// trigger existed), and ingest them in place exactly as ingest would (landing time = their timeCreated).
// - Scheduled (`reconcile`, hourly): the day folders of the last N days under both prefixes, objects that
//   landed more than a grace period ago. A watermark (every object that landed before it was checked)
//   keeps each run's ledger reads to the objects that landed since the last complete run.
// - Replay (`streamjoin replay`): the objects that landed in [since, until), under the prefixes or one
//   prefix; with `force`, quarantined generations are ingested again (after a validation fix).
// The ledger makes both idempotent; a run that stops (time budget, failures) is continued by the next.
import type { Readable } from 'node:stream';
import type { Firestore } from '@google-cloud/firestore';
import { Timestamp } from '@google-cloud/firestore';
import { settleAll } from '../async.ts';
import type { Config } from '../config.ts';
import type { Collections } from '../firestore/client.ts';
import { type IngestPath, type LedgerEntry, ledgerKey, readLedger } from '../firestore/ledger.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import { addCounters, type JoinCounters, zeroCounters } from '../join/state-machine.ts';
import type { Logger } from '../log.ts';
import type { InputLister } from '../storage/input-objects.ts';
import { type IngestDeps, type InputObject, ingestObject } from './ingest.ts';
import { ingestMemoryCost, type MemoryBudget, withAdmission } from './ingest-admission.ts';

export interface ReconcileDeps {
  readonly db: Firestore;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly config: Config;
  readonly log: Logger;
  readonly listObjects: InputLister;
  readonly openObject: (obj: InputObject) => Readable;
  /** Each ingest is admitted by this memory budget, as the ingest function admits its events. */
  readonly memoryBudget?: MemoryBudget;
  readonly now?: () => number;
}

export type ReconcileScope =
  /** The day folders of the last `days` days (UTC) under both prefixes; landed more than `graceMs` ago. */
  | { readonly kind: 'recent'; readonly days: number; readonly graceMs: number }
  /** Landed in [sinceMs, untilMs), under `prefixes` (default: the day folders of those days under both). */
  | {
      readonly kind: 'range';
      readonly sinceMs: number;
      readonly untilMs: number;
      readonly prefixes?: readonly string[];
    };

export interface ReconcileOptions {
  readonly scope: ReconcileScope;
  /** List and check, report what would be ingested, change nothing. */
  readonly dryRun?: boolean;
  /** Ingest quarantined generations again (replay --force). */
  readonly force?: boolean;
  /** Skip objects that landed at or before the stored watermark, and advance it after a complete run. */
  readonly useWatermark?: boolean;
  readonly via: Extract<IngestPath, 'reconcile' | 'replay'>;
  /** Objects ingested at the same time. */
  readonly concurrency?: number;
  /** Stop starting new ingests after this long (the rest is left to the next run). */
  readonly timeBudgetMs?: number;
  readonly onProgress?: (p: ReconcileProgress) => void;
}

export interface ReconcileProgress {
  readonly phase: 'listing' | 'checking' | 'ingesting' | 'done';
  readonly listed: number;
  readonly toIngest: number;
  readonly ingested: number;
  readonly failed: number;
}

export interface ReconcileReport {
  readonly dryRun: boolean;
  readonly prefixes: string[];
  /** Object list calls made (each returns up to 1,000 objects). */
  readonly listCalls: number;
  readonly listed: number;
  /** Listed objects in scope (landing time, watermark). */
  readonly considered: number;
  /** In scope and finished in the ledger. */
  readonly inLedger: number;
  /** Objects with no ledger entry (their event never came, or is still on its way), or unfinished ones. */
  readonly missing: string[];
  /** Quarantined generations ingested again (force). */
  readonly forced: string[];
  readonly ingested: number;
  /** Ingested meanwhile by someone else (their event came after all). */
  readonly alreadyDone: number;
  readonly quarantined: number;
  readonly records: number;
  readonly rejected: number;
  readonly counters: JoinCounters;
  readonly failed: Array<{ object: string; error: string }>;
  /** The time budget ran out before every missing object was ingested. */
  readonly stopped: boolean;
  readonly watermark: { readonly fromMs: number | null; readonly toMs: number | null };
  readonly listMs: number;
  /** Listing and the ledger check done (before any ingest). */
  readonly checkedMs: number;
  readonly elapsedMs: number;
}

/** `YYYY_MM_DD`-like folder of a UTC day. */
export function dayFolderOf(pattern: string, ms: number): string {
  const iso = new Date(ms).toISOString();
  return pattern
    .replace('YYYY', iso.slice(0, 4))
    .replace('MM', iso.slice(5, 7))
    .replace('DD', iso.slice(8, 10));
}

/** The prefixes to list: each kind prefix, with the day folders of [fromMs, toMs] when there are any. */
export function prefixesFor(
  config: Pick<Config, 'ordersPrefix' | 'paymentsPrefix' | 'reconcileDayFolder'>,
  fromMs: number,
  toMs: number,
): string[] {
  const kinds = [config.ordersPrefix, config.paymentsPrefix];
  if (config.reconcileDayFolder === '') return kinds;
  const out: string[] = [];
  const DAY = 86_400_000;
  for (const k of kinds) {
    for (let d = Math.floor(fromMs / DAY); d <= Math.floor(toMs / DAY); d++) {
      out.push(`${k}${dayFolderOf(config.reconcileDayFolder, d * DAY)}/`);
    }
  }
  return [...new Set(out)];
}

const WATERMARK_DOC = 'reconcile';
/** The watermark never comes closer to now than this, whatever the grace (GCS vs our clock). */
const WATERMARK_SAFETY_MS = 60_000;

export async function reconcileObjects(deps: ReconcileDeps, o: ReconcileOptions): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const dryRun = o.dryRun === true;
  const scope = o.scope;
  const DAY = 86_400_000;
  const prefixes =
    scope.kind === 'recent'
      ? prefixesFor(deps.config, started - (scope.days - 1) * DAY, started)
      : (scope.prefixes?.slice() ??
        // A producer's day folder may be a few hours off its upload time (its own clock, time zone).
        prefixesFor(deps.config, scope.sinceMs - DAY, Math.min(scope.untilMs, started) + DAY));
  const watermarkRef = deps.collections.meta.doc(WATERMARK_DOC);
  let watermarkMs: number | null = null;
  if (o.useWatermark === true) {
    const snap = await watermarkRef.get();
    deps.counter.reads++;
    const w = snap.exists ? (snap.get('checkedThroughMs') as unknown) : undefined;
    watermarkMs = typeof w === 'number' ? w : null;
  }
  const inScope = (obj: InputObject): boolean => {
    if (scope.kind === 'recent') {
      if (obj.landedAtMs > started - scope.graceMs) return false;
    } else if (obj.landedAtMs < scope.sinceMs || obj.landedAtMs >= scope.untilMs) return false;
    return watermarkMs === null || obj.landedAtMs > watermarkMs;
  };

  const progress = {
    phase: 'listing' as ReconcileProgress['phase'],
    listed: 0,
    toIngest: 0,
    ingested: 0,
    failed: 0,
  };
  const report = () => o.onProgress?.({ ...progress });
  // 1. List (bounded: one call per 1,000 objects per prefix).
  let listCalls = 0;
  const candidates: InputObject[] = [];
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = await deps.listObjects(deps.config.inputBucket, prefix, token);
      listCalls++;
      progress.listed += page.objects.length;
      for (const obj of page.objects) if (inScope(obj)) candidates.push(obj);
      token = page.nextPageToken;
      report();
    } while (token !== undefined);
  }
  const listMs = now() - started;

  // 2. Check the ledger (one document read per object in scope).
  progress.phase = 'checking';
  report();
  const entries = await readLedger(deps.db, deps.collections, candidates, deps.counter);
  const todo: Array<{ obj: InputObject; forced: boolean }> = [];
  const missing: string[] = [];
  const forced: string[] = [];
  let inLedger = 0;
  candidates.forEach((obj, i) => {
    const e: LedgerEntry | undefined = entries[i];
    if (e === undefined || e.outcome === undefined) {
      // No entry, or a large file left unfinished (its own retries still running if it was touched lately).
      if (
        e !== undefined &&
        (e.updatedAtMs ?? 0) > started - Math.max(deps.config.ingestTimeBudgetMs * 2, 60_000)
      )
        return;
      missing.push(ledgerKey(obj));
      todo.push({ obj, forced: false });
    } else if (o.force === true && e.outcome === 'quarantined') {
      forced.push(ledgerKey(obj));
      todo.push({ obj, forced: true });
    } else {
      inLedger++;
    }
  });
  progress.toIngest = todo.length;
  const checkedMs = now() - started;
  if (missing.length > 0) {
    deps.log.warn(
      {
        via: o.via,
        missing: missing.length,
        objects: missing.slice(0, 100),
        dryRun,
      },
      `${o.via} found ${missing.length} object(s) without a ledger entry (their finalize event never came, or is late)`,
    );
  }

  // 3. Ingest them in place, as ingest would.
  progress.phase = 'ingesting';
  report();
  const counters = zeroCounters();
  const failed: Array<{ object: string; error: string }> = [];
  let ingested = 0;
  let alreadyDone = 0;
  let quarantined = 0;
  let records = 0;
  let rejected = 0;
  let stopped = false;
  if (!dryRun) {
    let next = 0;
    const ingestDeps: IngestDeps = {
      db: deps.db,
      collections: deps.collections,
      counter: deps.counter,
      config: deps.config,
      log: deps.log,
      openObject: deps.openObject,
      ...(deps.now === undefined ? {} : { now: deps.now }),
    };
    await settleAll(
      Array.from({ length: Math.min(o.concurrency ?? 8, todo.length) }, async () => {
        while (next < todo.length) {
          if (o.timeBudgetMs !== undefined && now() - started > o.timeBudgetMs) {
            stopped = true;
            return;
          }
          const { obj, forced: f } = todo[next++]!;
          try {
            const ingest = (budgetMs: number) =>
              ingestObject({ ...ingestDeps, config: { ...deps.config, ingestTimeBudgetMs: budgetMs } }, obj, {
                via: o.via,
                force: f,
              });
            // An ingest gets at most what is left of the run's own time budget (the function's timeout
            // runs from the request's start); a large file that needs more saves its progress.
            const left =
              o.timeBudgetMs === undefined
                ? deps.config.ingestTimeBudgetMs
                : Math.min(
                    deps.config.ingestTimeBudgetMs,
                    Math.max(o.timeBudgetMs - (now() - started), 1000),
                  );
            const budget = deps.memoryBudget;
            const r =
              budget === undefined
                ? await ingest(left)
                : await withAdmission(budget, ingestMemoryCost(obj, deps.config), left, ingest);
            if (r.status === 'already-done') alreadyDone++;
            else ingested++;
            if (r.outcome === 'quarantined') quarantined++;
            records += r.records;
            rejected += r.rejected;
            addCounters(counters, r.counters);
          } catch (err) {
            failed.push({ object: ledgerKey(obj), error: err instanceof Error ? err.message : String(err) });
            progress.failed++;
          }
          progress.ingested++;
          report();
        }
      }),
    );
  }

  // 4. Advance the watermark after a complete run: every object that landed before it has been checked.
  let toMs: number | null = null;
  if (o.useWatermark === true && scope.kind === 'recent' && !dryRun && !stopped && failed.length === 0) {
    toMs = Math.max(watermarkMs ?? 0, started - Math.max(scope.graceMs, WATERMARK_SAFETY_MS));
    await watermarkRef.set({ checkedThroughMs: toMs, at: Timestamp.fromMillis(now()) });
    deps.counter.writes++;
  }
  progress.phase = 'done';
  report();
  const result: ReconcileReport = {
    dryRun,
    prefixes,
    listCalls,
    listed: progress.listed,
    considered: candidates.length,
    inLedger,
    missing,
    forced,
    ingested,
    alreadyDone,
    quarantined,
    records,
    rejected,
    counters,
    failed,
    stopped,
    watermark: { fromMs: watermarkMs, toMs },
    listMs,
    checkedMs,
    elapsedMs: now() - started,
  };
  deps.log.info(
    {
      ...result,
      missing: result.missing.length,
      forced: result.forced.length,
      failed: result.failed.slice(0, 20),
      firestore: deps.counter.snapshot(),
    },
    `${o.via} done`,
  );
  return result;
}
