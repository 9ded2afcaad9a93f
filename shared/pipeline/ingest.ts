// Ingest: one finalized input object → parsed, validated records → the join state machine, with state
// changes and emitted rows committed atomically per join key (JoinStore), and bad input quarantined.
// Streams, key, identity, validation and rows follow the loaded join spec (config.joinSpec).
// Every object generation gets a ledger entry (shared/firestore/ledger.ts) with its outcome:
// - A file whose changes fit one commit (every one-event file, most small ones) is applied in ONE commit
//   that also creates its ledger entry (create-only): all of it happens once or not at all, and a file
//   seen before is recognised whole by that create failing — no extra read.
// - A larger file is applied in several commits: its ledger entry is read first and written last. A crash
//   in between leaves no entry, so the retry runs the whole file again (or resumes a large file at its
//   saved position), and the join state recognises every event already applied (the first left event
//   wins; right identities — the default's payment_ids — are remembered): nothing twice, nothing lost.
import type { Readable } from 'node:stream';
import {
  type DocumentData,
  type DocumentReference,
  type Firestore,
  Timestamp,
  type WriteBatch,
} from '@google-cloud/firestore';
import type { Config } from '../config.ts';
import { StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { type Collections, docIdFor } from '../firestore/client.ts';
import { JoinStore, type OutboxRow, type StateIndex, type TransitionFn } from '../firestore/join-store.ts';
import {
  type IngestPath,
  isFinished,
  type LedgerOutcome,
  ledgerIdentity,
  ledgerKey,
  ledgerOutcome,
  ledgerRef,
} from '../firestore/ledger.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import { stageReject } from '../firestore/rejects.ts';
import { guardOn } from '../guards.ts';
import type { Issue } from '../ingest/issues.ts';
import { type ParseSummary, parseEventFile } from '../ingest/parse-event-file.ts';
import { type JoinPlan, keyNameOf, planOf } from '../join/plan.ts';
import { type EmittedRow, type EventSource, toOutboxValues } from '../join/rows.ts';
import {
  addCounters,
  applyEvent,
  type JoinCounters,
  type JoinEvent,
  type JoinState,
  joinEventOf,
  zeroCounters,
} from '../join/state-machine.ts';
import type { Logger } from '../log.ts';
import { defaultJoinSpec } from '../spec/load.ts';
import type { Side } from '../spec/model.ts';
import { validateStreamRecord } from '../spec/records.ts';

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
    | 'ledgerRetentionMs'
    | 'rejectsRetentionMs'
  > &
    Partial<Pick<Config, 'joinSpec'>>;
  /** Opens the object at exactly this generation. */
  readonly openObject: (obj: InputObject) => Readable;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface IngestOptions {
  /** Who asks (recorded in the ledger entry). Default: 'event'. */
  readonly via?: IngestPath;
  /** Ingest again even if the ledger has an entry for this generation (replay --force of quarantined
   *  files): the entry is overwritten. The join state still recognises events applied before. */
  readonly force?: boolean;
}

export interface IngestSummary {
  readonly status: 'ingested' | 'ignored' | 'already-done' | 'rejected-file';
  /** What the ledger records for the object (undefined for 'already-done'). */
  readonly outcome?: LedgerOutcome;
  /** The stream's name (`order`, `payment` for the default spec). */
  readonly kind?: string;
  readonly records: number;
  readonly rejected: number;
  readonly emitted: number;
  readonly conflicts: number;
  readonly counters: JoinCounters;
  readonly resumedAt: number;
  /** The object disappeared while being read (404): records from this ordinal on were never read. */
  readonly unreadFrom?: number;
}

/** Records per chunk (its keys are read in bulk and committed in parallel parts). */
const CHUNK = 1000;
/** Events of one key applied in one commit: at most 2 rows each, so the commit stays within 450
 *  writes; a key with more events in a chunk is applied in successive rounds, in file order. */
const EVENTS_PER_KEY_ROUND = 200;
/** Files larger than this keep their progress in their ledger entry (resume after a timeout). */
const PROGRESS_MIN_BYTES = 1 << 20;
const ALREADY_EXISTS = 6;

/** The side of the join an object's records belong to, by its prefix (the spec's, or the variables that
 *  override them: config.ordersPrefix is the left stream's, config.paymentsPrefix the right's). */
export function eventSideOf(
  name: string,
  config: Pick<Config, 'ordersPrefix' | 'paymentsPrefix'>,
): Side | undefined {
  if (name.startsWith(config.ordersPrefix)) return 'left';
  if (name.startsWith(config.paymentsPrefix)) return 'right';
  return undefined;
}

/** The join plan of the configured spec (the shipped default when the config carries none). */
export function joinPlanOf(config: Partial<Pick<Config, 'joinSpec'>>): JoinPlan {
  return planOf(config.joinSpec ?? defaultJoinSpec());
}

export function stateIndex(s: JoinState): StateIndex {
  return { status: s.status, deadlineMs: s.deadlineMs, expireAtMs: s.purgeAtMs };
}

/** EmittedRow → outbox row: every column JSON-safe (the row's time as decimal epoch microseconds). */
export function toOutboxRow(plan: JoinPlan, r: EmittedRow): OutboxRow {
  return { id: r.id, table: r.table, values: toOutboxValues(plan, r) };
}

export function createJoinStore(
  deps: Pick<IngestDeps, 'db' | 'collections' | 'counter' | 'now'> & {
    config: Pick<Config, 'indexShards'> & Partial<Pick<Config, 'joinSpec'>>;
  },
): JoinStore<JoinState> {
  return new JoinStore<JoinState>({
    db: deps.db,
    collections: deps.collections,
    counter: deps.counter,
    index: stateIndex,
    keyName: keyNameOf(joinPlanOf(deps.config).spec),
    shards: deps.config.indexShards,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
}

export async function ingestObject(
  deps: IngestDeps,
  obj: InputObject,
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const counters = zeroCounters();
  const plan = joinPlanOf(deps.config);
  const side = eventSideOf(obj.name, deps.config);
  const stream = side === undefined ? undefined : plan[side].stream;
  const kind = stream?.name;
  const via = options.via ?? 'event';
  const force = options.force === true;
  const base = { records: 0, rejected: 0, emitted: 0, conflicts: 0, counters, resumedAt: 0 };
  const fileKey = ledgerKey(obj);
  const ledger = ledgerRef(deps.collections, obj);
  const retention = deps.config.ledgerRetentionMs;
  if (kind === undefined) {
    deps.log.warn(
      {
        bucket: obj.bucket,
        object: obj.name,
        generation: obj.generation,
        prefixes: [deps.config.ordersPrefix, deps.config.paymentsPrefix],
      },
      `ignoring an object outside the ${plan.left.stream.name} and ${plan.right.stream.name} prefixes`,
    );
    await writeFinalEntry(
      deps,
      ledger,
      ledgerOutcome(obj, 'ignored', { records: 0, rejected: 0, via }, now(), retention),
      force ? 'set' : 'create',
    );
    return { status: 'ignored', outcome: 'ignored', ...base };
  }
  const fileKind: string = kind;
  const fileSide: Side = side!;
  const fileStream = stream!;
  const tracked = (obj.size ?? 0) >= PROGRESS_MIN_BYTES;
  const alreadyDone = (): IngestSummary => {
    deps.log.info({ file: fileKey, via }, 'already ingested (ledger entry found): nothing to do');
    return { status: 'already-done', kind, ...base };
  };
  let startAt = 0;
  /** Whether the ledger entry has been read (the multi-commit path reads it before its first commit). */
  let ledgerChecked = false;
  /** An unfinished entry exists (a large file's progress, or a run that stopped): finished by a merge. */
  let entryExists = false;
  if (tracked) {
    const p = await ledger.get();
    deps.counter.reads++;
    ledgerChecked = true;
    entryExists = p.exists;
    if (!force && guardOn('ingest.ledger-create') && isFinished(p.data())) return alreadyDone();
    startAt = p.exists && !force ? ((p.get('next') as number | undefined) ?? 0) : 0;
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
  let chunks = 0;
  /** The one-commit path committed the whole file with its ledger entry. */
  let committedWhole = false;
  let foundDone = false;
  let summary: ParseSummary | undefined;
  let fileIssue: Issue | undefined;
  /** Set when the object went away (404) while it was read: the first record that could not be read. */
  let unreadFrom: number | undefined;
  let pending: {
    events: JoinEvent[];
    issues: Array<{ ordinal: number | null; issue: Issue }>;
    nextOrdinal: number;
  } = {
    events: [],
    issues: [],
    nextOrdinal: startAt,
  };
  const outcomeOf = (): LedgerOutcome =>
    records === 0 && (rejected > 0 || fileIssue !== undefined) ? 'quarantined' : 'ingested';
  const finalEntry = () => ({
    ...ledgerOutcome(
      obj,
      outcomeOf(),
      { records, rejected: rejected + (fileIssue === undefined ? 0 : 1), via },
      now(),
      retention,
    ),
    ...(unreadFrom === undefined ? {} : { unreadFrom }),
  });

  /** One round per EVENTS_PER_KEY_ROUND events of a key; counters of the last planning of each key. */
  const planRounds = (events: readonly JoinEvent[]) => {
    const byKey = new Map<string, JoinEvent[]>();
    for (const e of events) {
      const list = byKey.get(e.key);
      if (list === undefined) byKey.set(e.key, [e]);
      else list.push(e);
    }
    const planned = new Map<string, { counters: JoinCounters; late: number | null }>();
    const rounds: Array<Map<string, TransitionFn<JoinState>>> = [];
    for (const [joinKey, all] of byKey) {
      for (let r = 0; r * EVENTS_PER_KEY_ROUND < all.length; r++) {
        const slice = all.slice(r * EVENTS_PER_KEY_ROUND, (r + 1) * EVENTS_PER_KEY_ROUND);
        const key = `${r}:${joinKey}`;
        rounds[r] ??= new Map();
        rounds[r].set(joinKey, (current) => {
          let state = current;
          const rows: OutboxRow[] = [];
          const c = zeroCounters();
          let late: number | null = null;
          for (const e of slice) {
            const res = applyEvent(state, e, settings);
            addCounters(c, res.counters);
            for (const row of res.emitted) rows.push(toOutboxRow(plan, row));
            state = res.state;
            if (res.lateForWindowMs !== null) late = Math.max(late ?? 0, res.lateForWindowMs);
          }
          // The last planning wins (re-planned after a lost race).
          planned.set(key, { counters: c, late });
          return { next: state === current ? undefined : state, emitted: rows };
        });
      }
    }
    const settle = () => {
      for (const p of planned.values()) {
        addCounters(counters, p.counters);
        if (p.late !== null) lateForWindowMs = Math.max(lateForWindowMs ?? 0, p.late);
      }
    };
    return { rounds, settle };
  };
  const rejectWrites = (issues: typeof pending.issues) =>
    issues.map(
      ({ ordinal, issue }) =>
        (batch: WriteBatch) =>
          stageReject(batch, deps.collections, src, ordinal, issue, now(), deps.config.rejectsRetentionMs),
    );
  // Left files (orders) hold keys that are almost always new: their states are created without being read first.
  const assumeAbsent = fileSide === 'left';

  const flushChunk = async (final: boolean, checkBudget = true): Promise<void> => {
    const chunk = pending;
    pending = { events: [], issues: [], nextOrdinal: chunk.nextOrdinal };
    const first = chunks++ === 0;
    if (final && first && !tracked) {
      // The whole file is this chunk: one commit with its ledger entry, if it fits.
      const p = planRounds(chunk.events);
      if (p.rounds.length <= 1) {
        faultPoint('ingest.before-commit');
        const r = await store.applyAtomic(p.rounds[0] ?? new Map(), {
          assumeAbsent,
          guard: { ref: ledger, data: finalEntry() },
          guardDone: isFinished,
          overwriteGuard: force,
          extra: rejectWrites(chunk.issues),
        });
        if (r.status === 'guarded') {
          foundDone = true;
          conflicts += r.conflicts;
          return;
        }
        if (r.status === 'committed') {
          committedWhole = true;
          emitted += r.emitted;
          conflicts += r.conflicts;
          p.settle();
          faultPoint('ingest.after-commit');
          return;
        }
        // Too big for one commit, or an unfinished entry is there: the multi-commit path below.
      }
    }
    if (!ledgerChecked) {
      ledgerChecked = true;
      const snap = await ledger.get();
      deps.counter.reads++;
      entryExists = snap.exists;
      if (!force && guardOn('ingest.ledger-create') && isFinished(snap.data())) {
        foundDone = true;
        return;
      }
    }
    if (chunk.events.length > 0) {
      const p = planRounds(chunk.events);
      faultPoint('ingest.before-commit');
      for (const items of p.rounds) {
        const r = await store.apply(items, { assumeAbsent });
        emitted += r.emitted;
        conflicts += r.conflicts;
      }
      p.settle();
      faultPoint('ingest.after-commit');
    }
    if (chunk.issues.length > 0 || tracked) {
      const batch = deps.db.batch();
      for (const write of rejectWrites(chunk.issues)) write(batch);
      if (tracked) {
        // Progress only: never an outcome (a slower concurrent delivery must not undo a finished entry).
        batch.set(
          ledger,
          { ...ledgerIdentity(obj, now(), retention), next: chunk.nextOrdinal },
          { merge: true },
        );
      }
      await batch.commit();
      deps.counter.writes += chunk.issues.length + (tracked ? 1 : 0);
    }
    if (checkBudget && now() - started > deps.config.ingestTimeBudgetMs) {
      throw new StreamjoinError(
        'unavailable',
        `time budget of ${deps.config.ingestTimeBudgetMs} ms used; the retry resumes at record ${chunk.nextOrdinal}`,
        {
          context: { file: fileKey, next: chunk.nextOrdinal },
        },
      );
    }
  };

  const input = deps.openObject(obj);
  // The attempt's deadline holds even while the source stalls or the parser chews on one costly record:
  // the source is destroyed, so the attempt never runs on beside the platform's retry of it.
  const budgetMs = deps.config.ingestTimeBudgetMs;
  let overBudget = false;
  let writing = false;
  const deadline = setTimeout(() => {
    overBudget = true;
    input.destroy(new StreamjoinError('unavailable', `ingest time budget of ${budgetMs} ms used up`));
  }, budgetMs);
  deadline.unref();
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
        const v = validateStreamRecord(fileStream, item.value, item.path);
        if (v.ok) {
          records++;
          pending.events.push(joinEventOf(plan, fileSide, v.value, source));
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
      if (overBudget) break;
      if (pending.events.length + pending.issues.length >= CHUNK) {
        writing = true;
        await flushChunk(false);
        writing = false;
        if (foundDone) break;
      }
    }
  } catch (err) {
    input.destroy();
    if (overBudget && !writing) return await stopAtDeadline();
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
  } finally {
    clearTimeout(deadline);
  }
  if (foundDone) {
    input.destroy();
    return alreadyDone();
  }
  if (overBudget) return await stopAtDeadline();
  return await finish(true);

  /** Reading stopped at the deadline: resume later, wait for a second stall, or quarantine. */
  async function stopAtDeadline(): Promise<IngestSummary> {
    input.destroy();
    if (tracked) {
      await flushChunk(false, false); // what was read before the deadline, and the position after it
      if (foundDone) return alreadyDone();
      if (pending.nextOrdinal > startAt) {
        throw new StreamjoinError(
          'unavailable',
          `time budget of ${budgetMs} ms used while reading; the retry resumes at record ${pending.nextOrdinal}`,
          { context: { file: fileKey, next: pending.nextOrdinal } },
        );
      }
    }
    // No progress a retry could build on. Once may be a slow source (or a delivery waiting on another);
    // a second stop at the same record is the file itself. The mark is a meta document, never the
    // ledger entry (whose create-only write is how a file is recognised as done).
    const entry = await ledger.get();
    const mark = deps.collections.meta.doc(`stall-${docIdFor(fileKey)}`);
    const marked = await mark.get();
    deps.counter.reads += 2;
    if (!force && isFinished(entry.data())) return alreadyDone();
    if (marked.get('stalledAt') !== pending.nextOrdinal) {
      await mark.set({ file: fileKey, stalledAt: pending.nextOrdinal, at: Timestamp.fromMillis(now()) });
      deps.counter.writes++;
      throw new StreamjoinError(
        'unavailable',
        `time budget of ${budgetMs} ms used while reading, stalled at record ${pending.nextOrdinal}; the retry tries again (a second stall there quarantines the file)`,
        { context: { file: fileKey, stalledAt: pending.nextOrdinal } },
      );
    }
    // The retry would stop at the same place, forever: quarantine, at the record where reading stopped
    // (as for an object that went away while read), with the records read before it.
    unreadFrom = pending.nextOrdinal;
    fileIssue = {
      code: 'time-budget',
      path: {},
      message: `ingest must finish within STREAMJOIN_INGEST_TIME_BUDGET (${budgetMs} ms), but reading stalled at record ${unreadFrom} twice, with no progress a retry could resume from (a source too slow or a record too costly to parse); records from ${unreadFrom} on were not ingested`,
    };
    pending.issues.push({ ordinal: unreadFrom, issue: fileIssue });
    return finish(false);
  }

  async function finish(checkBudget: boolean): Promise<IngestSummary> {
    await flushChunk(true, checkBudget);
    if (foundDone) return alreadyDone();
    if (!committedWhole) {
      // Every commit of the file is done: now, and only now, the ledger records it as finished.
      await writeFinalEntry(
        deps,
        ledger,
        finalEntry(),
        force ? 'set' : tracked || entryExists ? 'merge' : 'create',
      );
    }
    if (fileIssue !== undefined) rejected++;
    if (lateForWindowMs !== null) {
      // Landed inside a window the tick had already closed: handled as the state then was (late rows).
      const closedAt = lateForWindowMs + deps.config.allowedLatenessMs;
      const lateBySeconds = Math.max(0, Math.round((now() - closedAt) / 1000));
      deps.log.warn(
        {
          file: fileKey,
          via,
          landedAt: new Date(obj.landedAtMs).toISOString(),
          windowClosedAt: new Date(closedAt).toISOString(),
          lateEvents: counters.ingestedLate,
          lateBySeconds,
        },
        `ingested late by ${lateBySeconds} s`,
      );
    }
    const outcome = outcomeOf();
    deps.log.info(
      {
        file: fileKey,
        kind,
        via,
        outcome,
        landedAt: new Date(obj.landedAtMs).toISOString(),
        // From landing to now: the ingest lag (log-based metric streamjoin_ingest_lag).
        lagMs: Math.max(0, now() - obj.landedAtMs),
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
      outcome,
      kind: fileKind,
      records,
      rejected,
      emitted,
      conflicts,
      counters,
      resumedAt: startAt,
      ...(unreadFrom === undefined ? {} : { unreadFrom }),
    };
  }
}

/** Writes a finished ledger entry on its own: create-only (a concurrent delivery that finished first is
 *  fine), a merge onto a large file's progress, or an overwrite (forced re-ingest). */
async function writeFinalEntry(
  deps: Pick<IngestDeps, 'counter'>,
  ref: DocumentReference,
  data: DocumentData,
  mode: 'create' | 'merge' | 'set',
): Promise<void> {
  try {
    if (mode === 'create' && guardOn('ingest.ledger-create')) await ref.create(data);
    else if (mode === 'merge') await ref.set(data, { merge: true });
    else await ref.set(data);
    deps.counter.writes++;
  } catch (err) {
    if ((err as { code?: unknown }).code !== ALREADY_EXISTS) throw err;
  }
}
