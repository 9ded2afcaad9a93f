// `streamjoin status`, the pure part: what status collects (StatusSnapshot), the verdict drawn from it
// (healthy / behind / stuck, and why) and the text it prints. No I/O here: cli/status-collect.ts
// gathers the numbers; the verdict is table-tested in test/unit/cli/status-model.test.ts.
import { table } from './output.ts';

/** A duration as an operator reads it: 850 ms, 12 s, 3m 10s, 1h, 2h 5m, 3d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (s < 60) return `${s} s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${small}${smallUnit}`;
  if (s < 3600) return two(Math.floor(s / 60), 'm', s % 60, 's');
  if (s < 86_400) return two(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'm');
  return two(Math.floor(s / 86_400), 'd', Math.floor((s % 86_400) / 3600), 'h');
}

export const STATUS_LEVELS = ['healthy', 'behind', 'stuck'] as const;
export type StatusLevel = (typeof STATUS_LEVELS)[number];

/** The pipeline's stages, in the order work flows through them, and the function that does each. */
export const STAGES = ['ingest', 'evict', 'flush', 'commit'] as const;
export type Stage = (typeof STAGES)[number];
export const STAGE_FUNCTION: Readonly<Record<Stage, 'ingest' | 'tick' | 'compact'>> = {
  ingest: 'ingest',
  evict: 'tick',
  flush: 'tick',
  commit: 'compact',
};

/** The settings the verdict measures ages against (from the target's configuration). */
export interface StatusSettings {
  readonly tickIntervalMs: number;
  readonly compactIntervalMs: number;
  readonly allowedLatenessMs: number;
  readonly flushLeaseMs: number;
  readonly ingestTimeBudgetMs: number;
}

export interface FunctionErrors {
  /** ERROR and above in the window. */
  readonly count: number;
  /** Times of the most recent errors (newest first, at most a few hundred). */
  readonly recentAtMs: readonly number[];
  readonly lastMessage: string | null;
}

export interface TableStatus {
  readonly kind: string;
  readonly name: string;
  /** False: nothing committed yet (no metadata). */
  readonly exists: boolean;
  readonly lastCommitAtMs: number | null;
  readonly snapshots: number;
  readonly dataFiles: number | null;
  readonly records: number | null;
  /** Records added by snapshots committed in the window (any writer). */
  readonly recordsAddedInWindow: number;
  readonly error?: string;
}

/** Everything `status` collected, at one moment (`takenAtMs`). Times are epoch ms; null = none/unknown. */
export interface StatusSnapshot {
  readonly takenAtMs: number;
  readonly target: { readonly kind: 'local' | 'cloud'; readonly where: string };
  readonly windowMs: number;
  readonly settings: StatusSettings;
  readonly ingest: {
    /** Finalize events the local GCS server has not had acknowledged (local stack only). */
    readonly deliveriesPending: number | null;
    /** Objects under the input prefixes that landed in the window (null: not counted, see note). */
    readonly landed: number | null;
    /** Ledger entries (ingested or quarantined) of objects that landed in the window. */
    readonly ingested: number;
    /** Objects outside the order/payment prefixes that landed in the window (ignored, with a warning). */
    readonly ignored: number;
    /** Landed objects without a finished ledger entry (null: not counted). */
    readonly notIngested: number | null;
    readonly oldestNotIngestedAtMs: number | null;
    /** Where objects were looked for, or why they were not counted. */
    readonly note: string;
  };
  readonly join: {
    /** States waiting for their other half or their deadline. */
    readonly waiting: number;
    /** …of which the deadline is still ahead. */
    readonly open: number;
    /** …of which the deadline passed, but not yet deadline + allowed lateness. */
    readonly inLateness: number;
    /** …of which deadline + allowed lateness passed: the tick should have closed them. */
    readonly overdue: number;
    /** The earliest stored deadline of a waiting state. */
    readonly oldestDeadlineMs: number | null;
  };
  readonly outbox: {
    readonly rows: number;
    readonly byTable: Readonly<Record<string, number>>;
    readonly oldestAtMs: number | null;
    readonly oldestTable: string | null;
  };
  readonly batches: {
    readonly claimed: number;
    readonly staged: number;
    readonly oldestClaimedAtMs: number | null;
    readonly oldestStagedAtMs: number | null;
  };
  readonly tables: readonly TableStatus[];
  readonly activity: {
    readonly rejects: number;
    /** Rows per reason emitted in the window (joined, order_timeout, …), from the function logs. */
    readonly rowsByReason: Readonly<Record<string, number>> | null;
    /** Errors per function in the window, from the function logs; null when the logs were unreadable. */
    readonly errors: Readonly<Record<string, FunctionErrors>> | null;
    /** Where the log figures come from, or why they are unavailable. */
    readonly logsNote: string;
  };
}

export interface Finding {
  readonly level: Exclude<StatusLevel, 'healthy'>;
  readonly stage: Stage;
  readonly reason: string;
}

export interface Verdict {
  readonly level: StatusLevel;
  /** One line: the level and why. */
  readonly summary: string;
  readonly findings: readonly Finding[];
}

/** Errors of a function at or after `sinceMs` that make a waiting stage "stuck" rather than "behind". */
export const STUCK_ERRORS = 3;
/** Extra time every stage gets over its own cycle before it counts as behind. */
export const SLACK_MS = 10_000;
/** No stage is stuck by age alone sooner than this. */
export const MIN_STUCK_MS = 5 * 60_000;
/** Objects are normally ingested within seconds of landing (event delivery). */
export const INGEST_GRACE_MS = 60_000;

/** How long work may wait in a stage before the stage is behind, and before it is stuck by age alone. */
export function stageLimits(stage: Stage, s: StatusSettings): { behindMs: number; stuckMs: number } {
  switch (stage) {
    case 'ingest':
      // Two full attempts of a large file may pass before an object is late.
      return {
        behindMs: INGEST_GRACE_MS,
        stuckMs: Math.max(MIN_STUCK_MS, 2 * s.ingestTimeBudgetMs + 60_000),
      };
    case 'evict':
    case 'flush':
      return {
        behindMs: 2 * s.tickIntervalMs + SLACK_MS,
        stuckMs: Math.max(MIN_STUCK_MS, 5 * s.tickIntervalMs),
      };
    case 'commit':
      return {
        behindMs: 2 * s.compactIntervalMs + SLACK_MS,
        stuckMs: Math.max(MIN_STUCK_MS, 3 * s.compactIntervalMs),
      };
  }
}

/** What waits in each stage, and since when (the oldest item's time; null when unknown). */
export function waitingWork(
  snap: StatusSnapshot,
): Array<{ stage: Stage; what: string; sinceMs: number | null }> {
  const out: Array<{ stage: Stage; what: string; sinceMs: number | null }> = [];
  const { ingest, join, outbox, batches } = snap;
  if ((ingest.notIngested ?? 0) > 0) {
    out.push({
      stage: 'ingest',
      what: `${ingest.notIngested} landed object${ingest.notIngested === 1 ? '' : 's'} not ingested`,
      sinceMs: ingest.oldestNotIngestedAtMs,
    });
  }
  if (join.overdue > 0 && join.oldestDeadlineMs !== null) {
    out.push({
      stage: 'evict',
      what: `${join.overdue} waiting state${join.overdue === 1 ? '' : 's'} past deadline + allowed lateness`,
      // Due for eviction since deadline + lateness.
      sinceMs: join.oldestDeadlineMs + snap.settings.allowedLatenessMs,
    });
  }
  if (outbox.rows > 0) {
    out.push({
      stage: 'flush',
      what: `${outbox.rows} outbox row${outbox.rows === 1 ? '' : 's'} not flushed`,
      sinceMs: outbox.oldestAtMs,
    });
  }
  if (batches.claimed > 0 && batches.oldestClaimedAtMs !== null) {
    // A claimed batch is normally staged within one tick; one older than the lease was abandoned.
    out.push({
      stage: 'flush',
      what: `${batches.claimed} claimed batch${batches.claimed === 1 ? '' : 'es'} not staged`,
      sinceMs: batches.oldestClaimedAtMs + snap.settings.flushLeaseMs,
    });
  }
  if (batches.staged > 0) {
    out.push({
      stage: 'commit',
      what: `${batches.staged} staged batch${batches.staged === 1 ? '' : 'es'} not committed`,
      sinceMs: batches.oldestStagedAtMs,
    });
  }
  return out;
}

/**
 * The verdict. A stage is behind when its oldest waiting item is older than the stage's cycle allows
 * (stageLimits), and stuck when it is also failing (its function logged STUCK_ERRORS errors or more
 * since that item began to wait) or the item has waited past the stuck limit. The worst stage decides.
 */
export function judge(snap: StatusSnapshot): Verdict {
  const now = snap.takenAtMs;
  const findings: Finding[] = [];
  for (const w of waitingWork(snap)) {
    if (w.sinceMs === null) continue;
    const age = Math.max(0, now - w.sinceMs);
    const limits = stageLimits(w.stage, snap.settings);
    if (age <= limits.behindMs) continue;
    const fn = STAGE_FUNCTION[w.stage];
    const errs = snap.activity.errors?.[fn];
    const failing = errs === undefined ? 0 : errs.recentAtMs.filter((t) => t >= w.sinceMs!).length;
    const lastError =
      errs?.lastMessage === null || errs?.lastMessage === undefined ? '' : `; last: ${errs.lastMessage}`;
    if (failing >= STUCK_ERRORS) {
      findings.push({
        level: 'stuck',
        stage: w.stage,
        reason: `${w.stage} failing: ${w.what}, the oldest for ${formatDuration(age)}, and ${fn} logged ${failing} errors since${lastError}`,
      });
    } else if (age > limits.stuckMs) {
      findings.push({
        level: 'stuck',
        stage: w.stage,
        reason: `${w.stage} makes no progress: ${w.what}, the oldest for ${formatDuration(age)} (more than ${formatDuration(limits.stuckMs)})${failing > 0 ? `; ${fn} logged ${failing} errors since${lastError}` : ''}`,
      });
    } else {
      findings.push({
        level: 'behind',
        stage: w.stage,
        reason: `${w.stage} behind: ${w.what}, the oldest for ${formatDuration(age)} (expected within ${formatDuration(limits.behindMs)})`,
      });
    }
  }
  const level: StatusLevel = findings.some((f) => f.level === 'stuck')
    ? 'stuck'
    : findings.length > 0
      ? 'behind'
      : 'healthy';
  const worst = [
    ...findings.filter((f) => f.level === 'stuck'),
    ...findings.filter((f) => f.level === 'behind'),
  ];
  let summary: string;
  if (level !== 'healthy') {
    summary = `${level.toUpperCase()}: ${worst.map((f) => f.reason).join('; ')}`;
  } else {
    const waiting = waitingWork(snap);
    const errors = Object.entries(snap.activity.errors ?? {}).filter(([, e]) => e.count > 0);
    summary = `HEALTHY: ${waiting.length === 0 ? 'nothing waiting' : `work flowing (${waiting.map((w) => w.what).join(', ')}), none older than its stage allows`}${
      errors.length === 0
        ? ''
        : `; errors in the last ${formatDuration(snap.windowMs)}: ${errors.map(([fn, e]) => `${fn} ${e.count}`).join(', ')}`
    }`;
  }
  return { level, summary, findings };
}

/** Exit code of `status` (without --watch): scripts can tell the verdict without parsing. */
export const VERDICT_EXIT: Readonly<Record<StatusLevel, number>> = { healthy: 0, behind: 2, stuck: 3 };

const ago = (now: number, t: number | null): string =>
  t === null ? '-' : t > now ? `in ${formatDuration(t - now)}` : `${formatDuration(now - t)} ago`;
const age = (now: number, t: number | null): string =>
  t === null ? '-' : formatDuration(Math.max(0, now - t));

/** The human-readable status: the verdict line first, then each stage, the tables and the window. */
export function formatStatus(snap: StatusSnapshot, verdict: Verdict): string {
  const now = snap.takenAtMs;
  const { ingest, join, outbox, batches } = snap;
  const win = formatDuration(snap.windowMs);
  const lines: string[] = [verdict.summary, ''];
  lines.push(
    `streamjoin status · ${snap.target.kind === 'local' ? 'local stack' : 'Google Cloud project'} ${snap.target.where} · ${new Date(now).toISOString()}`,
    '',
  );
  const byTable = Object.entries(outbox.byTable)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const stageRows: string[][] = [
    ['stage', 'waiting', 'oldest'],
    [
      'ingest',
      ingest.landed === null
        ? `${ingest.ingested} ingested in the last ${win}; landed objects not counted`
        : `${ingest.notIngested ?? 0} of ${ingest.landed} objects landed in the last ${win} not ingested (ledger: ${ingest.ingested})`,
      age(now, ingest.oldestNotIngestedAtMs),
    ],
    ...(ingest.deliveriesPending === null
      ? []
      : [['', `${ingest.deliveriesPending} finalize events not yet acknowledged by ingest`, '']]),
    ...(ingest.ignored === 0
      ? []
      : [['', `${ingest.ignored} objects outside the order/payment prefixes ignored`, '']]),
    [
      'join',
      `${join.waiting} waiting states: ${join.open} before their deadline, ${join.inLateness} within the allowed lateness, ${join.overdue} past deadline + lateness`,
      join.overdue > 0 && join.oldestDeadlineMs !== null
        ? `${formatDuration(now - join.oldestDeadlineMs - snap.settings.allowedLatenessMs)} past`
        : join.oldestDeadlineMs === null
          ? '-'
          : `deadline ${ago(now, join.oldestDeadlineMs)}`,
    ],
    [
      'flush',
      `${outbox.rows} outbox rows${outbox.rows > 0 ? ` (${byTable})` : ''}; ${batches.claimed} claimed batches`,
      outbox.oldestAtMs === null
        ? '-'
        : `${age(now, outbox.oldestAtMs)}${outbox.oldestTable === null ? '' : ` (${outbox.oldestTable})`}`,
    ],
    ['commit', `${batches.staged} staged batches`, age(now, batches.oldestStagedAtMs)],
  ];
  lines.push(table(stageRows), `  (${ingest.note})`, '');
  lines.push(
    table([
      ['table', 'last commit', 'snapshots', 'data files', 'records', `added (${win})`],
      ...snap.tables.map((t) =>
        t.error !== undefined
          ? [t.name, `unreadable: ${t.error}`, '', '', '', '']
          : !t.exists
            ? [t.name, 'nothing committed yet', '0', '0', '0', '0']
            : [
                t.name,
                t.lastCommitAtMs === null ? 'no snapshot yet' : ago(now, t.lastCommitAtMs),
                String(t.snapshots),
                t.dataFiles === null ? '?' : String(t.dataFiles),
                t.records === null ? '?' : String(t.records),
                String(t.recordsAddedInWindow),
              ],
      ),
    ]),
    '',
  );
  const a = snap.activity;
  const reasons =
    a.rowsByReason === null
      ? 'unavailable'
      : Object.keys(a.rowsByReason).length === 0
        ? 'none'
        : Object.entries(a.rowsByReason)
            .map(([r, n]) => `${r} ${n}`)
            .join(', ');
  const errors =
    a.errors === null
      ? 'unavailable'
      : Object.entries(a.errors)
          .map(
            ([fn, e]) =>
              `${fn} ${e.count}${e.count > 0 && e.lastMessage !== null ? ` (last: ${e.lastMessage})` : ''}`,
          )
          .join(', ') || 'none';
  lines.push(
    `last ${win}: rejects ${a.rejects} · rows by reason: ${reasons}`,
    `last ${win}: errors by function: ${errors}`,
    `  (${a.logsNote})`,
  );
  return lines.join('\n');
}
