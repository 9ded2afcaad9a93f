// `streamjoin status`: the verdict drawn from the collected numbers (healthy / behind / stuck, and why),
// and the text and log summaries it prints. Table-driven over snapshots built from one idle base.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudLogFilter, parseCloudEntry, parseLogLine, summarizeLogs } from '../../../cli/status-logs.ts';
import {
  formatDuration,
  formatStatus,
  judge,
  MIN_STUCK_MS,
  type StatusLevel,
  type StatusSnapshot,
  stageLimits,
} from '../../../cli/status-model.ts';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const S = 1000;
const MIN = 60 * S;

const SETTINGS = {
  tickIntervalMs: MIN,
  compactIntervalMs: 5 * MIN,
  allowedLatenessMs: 2 * MIN,
  flushLeaseMs: 2 * MIN,
  ingestTimeBudgetMs: 480 * S,
};

const IDLE: StatusSnapshot = {
  takenAtMs: NOW,
  target: { kind: 'local', where: '/tmp/sj' },
  windowMs: 60 * MIN,
  settings: SETTINGS,
  ingest: {
    deliveriesPending: 0,
    landed: 10,
    ingested: 10,
    ignored: 0,
    notIngested: 0,
    oldestNotIngestedAtMs: null,
    note: 'listed',
  },
  join: { waiting: 0, open: 0, inLateness: 0, overdue: 0, oldestDeadlineMs: null },
  outbox: { rows: 0, byTable: { joined: 0, unmatched: 0 }, oldestAtMs: null, oldestTable: null },
  batches: { claimed: 0, staged: 0, oldestClaimedAtMs: null, oldestStagedAtMs: null },
  tables: [
    {
      kind: 'joined',
      name: 'default.orders_payments',
      exists: true,
      lastCommitAtMs: NOW - 2 * MIN,
      snapshots: 3,
      dataFiles: 4,
      records: 40,
      recordsAddedInWindow: 40,
    },
    {
      kind: 'unmatched',
      name: 'default.orders_payments_unmatched',
      exists: false,
      lastCommitAtMs: null,
      snapshots: 0,
      dataFiles: null,
      records: null,
      recordsAddedInWindow: 0,
    },
  ],
  activity: {
    rejects: 0,
    rowsByReason: { joined: 40 },
    errors: {
      ingest: { count: 0, recentAtMs: [], lastMessage: null },
      tick: { count: 0, recentAtMs: [], lastMessage: null },
      compact: { count: 0, recentAtMs: [], lastMessage: null },
    },
    logsNote: 'local logs',
  },
};

type Patch = {
  [K in keyof StatusSnapshot]?: StatusSnapshot[K] extends object
    ? Partial<StatusSnapshot[K]>
    : StatusSnapshot[K];
};
function snap(p: Patch): StatusSnapshot {
  const out: Record<string, unknown> = { ...IDLE };
  for (const [k, v] of Object.entries(p)) {
    const base = (IDLE as unknown as Record<string, unknown>)[k];
    out[k] =
      typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...base, ...(v as object) } : v;
  }
  return out as unknown as StatusSnapshot;
}
const tickErrors = (times: number[], lastMessage = 'tick failed: injected failure at flush.after-claim') => ({
  ingest: { count: 0, recentAtMs: [], lastMessage: null },
  tick: { count: times.length, recentAtMs: times, lastMessage },
  compact: { count: 0, recentAtMs: [], lastMessage: null },
});

const CASES: { name: string; snap: StatusSnapshot; level: StatusLevel; why: RegExp }[] = [
  { name: 'idle: nothing waiting', snap: IDLE, level: 'healthy', why: /^HEALTHY: nothing waiting$/ },
  {
    name: 'rows in the outbox younger than two ticks',
    snap: snap({ outbox: { rows: 5, byTable: { joined: 5, unmatched: 0 }, oldestAtMs: NOW - 30 * S } }),
    level: 'healthy',
    why: /^HEALTHY: work flowing \(5 outbox rows not flushed\)/,
  },
  {
    name: 'errors without a backlog are reported but do not make it unhealthy',
    snap: snap({ activity: { ...IDLE.activity, errors: tickErrors([NOW - MIN]) } }),
    level: 'healthy',
    why: /; errors in the last 1h: tick 1$/,
  },
  {
    name: 'outbox rows older than two ticks and the slack, no errors: behind',
    snap: snap({ outbox: { rows: 50, byTable: { joined: 50, unmatched: 0 }, oldestAtMs: NOW - 3 * MIN } }),
    level: 'behind',
    why: /^BEHIND: flush behind: 50 outbox rows not flushed, the oldest for 3m \(expected within 2m 10s\)$/,
  },
  {
    name: 'outbox rows waiting and tick failing repeatedly since: stuck',
    snap: snap({
      outbox: { rows: 50, byTable: { joined: 50, unmatched: 0 }, oldestAtMs: NOW - 3 * MIN },
      activity: { ...IDLE.activity, errors: tickErrors([NOW - 10 * S, NOW - 70 * S, NOW - 130 * S]) },
    }),
    level: 'stuck',
    why: /^STUCK: flush failing: 50 outbox rows not flushed, the oldest for 3m, and tick logged 3 errors since; last: tick failed: injected failure at flush\.after-claim$/,
  },
  {
    name: 'errors from before the oldest row began to wait do not count',
    snap: snap({
      outbox: { rows: 50, byTable: { joined: 50, unmatched: 0 }, oldestAtMs: NOW - 3 * MIN },
      activity: { ...IDLE.activity, errors: tickErrors([NOW - 10 * S, NOW - 4 * MIN, NOW - 5 * MIN]) },
    }),
    level: 'behind',
    why: /^BEHIND: flush behind/,
  },
  {
    name: 'no errors but waiting past the stuck limit: stuck (no progress)',
    snap: snap({ outbox: { rows: 1, byTable: { joined: 1, unmatched: 0 }, oldestAtMs: NOW - 6 * MIN } }),
    level: 'stuck',
    why: /^STUCK: flush makes no progress: 1 outbox row not flushed, the oldest for 6m \(more than 5m\)$/,
  },
  {
    name: 'states past deadline + lateness for more than two ticks: eviction behind',
    snap: snap({
      join: { waiting: 7, open: 2, inLateness: 0, overdue: 5, oldestDeadlineMs: NOW - 2 * MIN - 3 * MIN },
    }),
    level: 'behind',
    why: /^BEHIND: evict behind: 5 waiting states past deadline \+ allowed lateness, the oldest for 3m/,
  },
  {
    name: 'states within their allowed lateness are not late',
    snap: snap({ join: { waiting: 7, open: 2, inLateness: 5, overdue: 0, oldestDeadlineMs: NOW - MIN } }),
    level: 'healthy',
    why: /^HEALTHY: nothing waiting/,
  },
  {
    name: 'objects landed and not ingested for over a minute: ingest behind',
    snap: snap({
      ingest: {
        ...IDLE.ingest,
        landed: 12,
        ingested: 10,
        notIngested: 2,
        oldestNotIngestedAtMs: NOW - 2 * MIN,
      },
    }),
    level: 'behind',
    why: /^BEHIND: ingest behind: 2 landed objects not ingested, the oldest for 2m/,
  },
  {
    name: 'staged batches older than two compact intervals: commit behind',
    snap: snap({
      batches: { claimed: 0, staged: 3, oldestClaimedAtMs: null, oldestStagedAtMs: NOW - 11 * MIN },
    }),
    level: 'behind',
    why: /^BEHIND: commit behind: 3 staged batches not committed, the oldest for 11m/,
  },
  {
    name: 'a claimed batch counts from its lease expiry (a live flush holds it up to the lease)',
    snap: snap({
      batches: { claimed: 1, staged: 0, oldestClaimedAtMs: NOW - 3 * MIN, oldestStagedAtMs: null },
    }),
    level: 'healthy',
    why: /^HEALTHY: work flowing \(1 claimed batch not staged\)/,
  },
  {
    name: 'the worst stage decides, every finding is named',
    snap: snap({
      outbox: { rows: 50, byTable: { joined: 50, unmatched: 0 }, oldestAtMs: NOW - 3 * MIN },
      batches: { claimed: 0, staged: 3, oldestClaimedAtMs: null, oldestStagedAtMs: NOW - 20 * MIN },
    }),
    level: 'stuck',
    why: /^STUCK: commit makes no progress: .*; flush behind: /,
  },
];

describe('status verdict', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const v = judge(c.snap);
      assert.equal(v.level, c.level, v.summary);
      assert.match(v.summary, c.why);
    });
  }

  it('durations read as an operator writes them', () => {
    const cases: [number, string][] = [
      [850, '850 ms'],
      [12_400, '12 s'],
      [3 * MIN, '3m'],
      [3 * MIN + 10 * S, '3m 10s'],
      [60 * MIN, '1h'],
      [125 * MIN, '2h 5m'],
      [(24 * 3 + 4) * 60 * MIN, '3d 4h'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  });

  it('the limits follow the configured intervals, never below the floor', () => {
    assert.deepEqual(stageLimits('flush', { ...SETTINGS, tickIntervalMs: S }), {
      behindMs: 12 * S,
      stuckMs: MIN_STUCK_MS,
    });
    assert.deepEqual(stageLimits('commit', SETTINGS), { behindMs: 10 * MIN + 10 * S, stuckMs: 15 * MIN });
  });

  it('the text puts the verdict first and shows every stage and table', () => {
    const s = CASES.find((c) => c.level === 'stuck')!.snap;
    const text = formatStatus(s, judge(s));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^STUCK: /);
    for (const stage of ['ingest', 'join', 'flush', 'commit'])
      assert.match(text, new RegExp(`^${stage} `, 'm'));
    assert.match(text, /^default\.orders_payments +2m ago +3 +4 +40 +40$/m);
    assert.match(text, /^default\.orders_payments_unmatched +nothing committed yet/m);
    assert.match(text, /rejects 0 · rows by reason: joined 40/);
  });
});

describe('status log figures', () => {
  const line = (o: Record<string, unknown>) =>
    JSON.stringify({ time: new Date(NOW - MIN).toISOString(), ...o });
  it('reads structured lines and skips the rest', () => {
    assert.equal(parseLogLine('Serving function...', 'tick'), undefined);
    assert.equal(parseLogLine('{"no":"time"}', 'tick'), undefined);
    assert.deepEqual(
      parseLogLine(line({ severity: 'ERROR', message: 'tick failed', err: { message: 'boom' } }), 'tick'),
      {
        fn: 'tick',
        atMs: NOW - MIN,
        severity: 'ERROR',
        message: 'tick failed',
        error: 'boom',
      },
    );
  });

  it('sums rows per reason from ingest and eviction lines, errors per function, inside the window only', () => {
    const entries = [
      line({
        severity: 'INFO',
        message: 'ingested',
        counters: { joined: 3, paymentExtra: 1, duplicateOrders: 2 },
      }),
      line({ severity: 'INFO', message: 'evicted expired states', counters: { orderTimeout: 2, joined: 0 } }),
      line({ severity: 'INFO', message: 'something else', counters: { joined: 100 } }),
      line({ severity: 'ERROR', message: 'tick failed', err: { message: 'first' } }),
      JSON.stringify({
        time: new Date(NOW - 10 * S).toISOString(),
        severity: 'ALERT',
        message: 'flush stopped',
      }),
      JSON.stringify({ time: new Date(NOW - 2 * 60 * MIN).toISOString(), severity: 'ERROR', message: 'old' }),
    ].map((l, i) => parseLogLine(l, i < 2 ? 'ingest' : 'tick')!);
    const r = summarizeLogs(entries, NOW - 60 * MIN, ['ingest', 'tick', 'compact']);
    assert.deepEqual(r.rowsByReason, { joined: 3, payment_extra: 1, order_timeout: 2 });
    assert.deepEqual(r.errors['tick'], {
      count: 2,
      recentAtMs: [NOW - 10 * S, NOW - MIN],
      lastMessage: 'flush stopped',
    });
    assert.deepEqual(r.errors['compact'], { count: 0, recentAtMs: [], lastMessage: null });
  });

  it('Cloud Logging: the filter names the functions, the window and what is summed; entries map by service', () => {
    const f = cloudLogFilter(['ingest', 'tick'], NOW - 60 * MIN);
    assert.equal(
      f,
      'resource.type="cloud_run_revision" AND resource.labels.service_name=("ingest" OR "tick") AND timestamp>="2026-12-01T11:00:00.000Z" AND (severity>=ERROR OR jsonPayload.message=("ingested" OR "evicted expired states"))',
    );
    assert.deepEqual(
      parseCloudEntry({
        timestamp: new Date(NOW).toISOString(),
        severity: 'ERROR',
        resource: { type: 'cloud_run_revision', labels: { service_name: 'tick' } },
        jsonPayload: { message: 'tick failed', err: { message: 'x' } },
      }),
      { fn: 'tick', atMs: NOW, severity: 'ERROR', message: 'tick failed', error: 'x' },
    );
    assert.equal(parseCloudEntry({ timestamp: 'x', resource: {} }), undefined);
  });
});
