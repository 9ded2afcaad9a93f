// What the deployed pipeline shows in Cloud Monitoring, as data: log-based metrics drawn from the
// structured lines the functions already write (no work on the hot path), alert policies on them,
// and a dashboard. Pure: the log-metric configs and the dashboard are checked into infra/gcp/monitoring/
// (generated from this module: `UPDATE_GOLDEN=1 node --test test/unit/deploy/monitoring.test.ts`);
// the alert policies depend on the settings (tick and compact intervals) and go inline into the plan.
//
// Every line the functions log carries `component: "streamjoin"` (functions/runtime.ts), and Cloud Run
// puts a JSON line of stdout into jsonPayload (severity lifted to the entry), so each metric is a
// message plus the fields it reads.
import { createHash } from 'node:crypto';
import type { Config } from '../../shared/config.ts';

// ---------------------------------------------------------------------------------------------------
// Log-based metrics

/** Which log lines a metric counts: all conditions hold (the filter is built from this). */
export interface LogSelector {
  /** jsonPayload.message equals one of these (the logged message of the line). */
  readonly messages?: readonly string[];
  /** Only entries of at least this severity. */
  readonly minSeverity?: 'WARNING' | 'ERROR';
  /** Only entries of exactly this severity. */
  readonly severity?: 'WARNING';
  /** jsonPayload.FIELD equals the string VALUE. */
  readonly equals?: Readonly<Record<string, string>>;
  /** jsonPayload.FIELD > 0 (skips lines where the count is zero). */
  readonly positive?: string;
}

export type Buckets = 'count' | 'ms';

export interface MetricSpec {
  /** The log-based metric's name; Cloud Monitoring type logging.googleapis.com/user/NAME. */
  readonly name: string;
  readonly description: string;
  readonly select: LogSelector;
  /** A distribution of this jsonPayload field (absent: a counter of matching lines). */
  readonly value?: { readonly field: string; readonly unit: '1' | 'ms'; readonly buckets: Buckets };
  /** Metric labels: key → a field of the entry (`jsonPayload.x`, `resource.labels.x`, `severity`). */
  readonly labels?: readonly { readonly key: string; readonly from: string; readonly description: string }[];
}

/** The join outcomes that emit a row, by their counter in the logged `counters` and the table they go to. */
export const ROW_REASONS = [
  { reason: 'joined', counter: 'joined', table: 'joined' },
  { reason: 'order_timeout', counter: 'orderTimeout', table: 'unmatched' },
  { reason: 'payment_orphan', counter: 'paymentOrphan', table: 'unmatched' },
  { reason: 'payment_extra', counter: 'paymentExtra', table: 'unmatched' },
  { reason: 'payment_late', counter: 'paymentLate', table: 'unmatched' },
  { reason: 'order_late', counter: 'orderLate', table: 'unmatched' },
] as const;

/** The log messages the metrics read (written by functions/ and shared/pipeline/). */
export const MESSAGES = {
  ingested: 'ingested',
  ingestFailed: 'ingest failed; the event will be redelivered',
  evicted: 'evicted expired states',
  batchStaged: 'batch staged',
  flushFailed: 'flush of a shard failed; the other shards go on',
  committed: 'committed staged batches',
  tickDone: 'tick done',
  compactDone: 'compact done',
} as const;

type Label = NonNullable<MetricSpec['labels']>[number];

const KIND_LABEL: Label = { key: 'kind', from: 'jsonPayload.kind', description: 'order or payment' };
const TABLE_LABEL: Label = { key: 'table', from: 'jsonPayload.table', description: 'joined or unmatched' };
const VIA_LABEL: Label = { key: 'via', from: 'jsonPayload.via', description: 'event, reconcile or replay' };

/**
 * A metric as the table below writes it: the lines it reads (those of one logged message, or a
 * selector), what it takes from each (`count`: a distribution of a count the line carries, `ms`: of a
 * duration or lag in milliseconds, neither: a counter of the lines), and its labels.
 */
type MetricRow = {
  readonly name: string;
  readonly lines: string | LogSelector;
  readonly labels?: readonly Label[];
  readonly description: string;
} & (
  | { readonly count: string; readonly ms?: never }
  | { readonly ms: string; readonly count?: never }
  | { readonly count?: never; readonly ms?: never }
);

function metricOf(r: MetricRow): MetricSpec {
  const value =
    r.count !== undefined
      ? ({ field: r.count, unit: '1', buckets: 'count' } as const)
      : r.ms !== undefined
        ? ({ field: r.ms, unit: 'ms', buckets: 'ms' } as const)
        : undefined;
  return {
    name: r.name,
    description: r.description,
    select: typeof r.lines === 'string' ? { messages: [r.lines] } : r.lines,
    ...(value === undefined ? {} : { value }),
    ...(r.labels === undefined ? {} : { labels: r.labels }),
  };
}

/** One row a metric, in the order the deploy creates them. */
const METRIC_ROWS: readonly MetricRow[] = [
  {
    name: 'streamjoin_records_ingested',
    lines: MESSAGES.ingested,
    count: 'records',
    labels: [KIND_LABEL, VIA_LABEL],
    description:
      'Events (records) read from each ingested input file (a distribution per file: sum = events).',
  },
  {
    name: 'streamjoin_records_rejected',
    lines: { messages: [MESSAGES.ingested], positive: 'rejected' },
    count: 'rejected',
    labels: [KIND_LABEL],
    description: 'Records quarantined (rejects) per input file that had any (sum = rejects).',
  },
  {
    name: 'streamjoin_ingest_lag',
    lines: MESSAGES.ingested,
    ms: 'lagMs',
    labels: [VIA_LABEL],
    description: 'Per input file: from its landing (timeCreated) to the end of its ingest.',
  },
  {
    name: 'streamjoin_ingest_duration',
    lines: MESSAGES.ingested,
    ms: 'ms',
    labels: [KIND_LABEL],
    description: 'Per input file: how long its ingest took.',
  },
  {
    name: 'streamjoin_ingest_failures',
    lines: MESSAGES.ingestFailed,
    labels: [
      {
        key: 'retryable',
        from: 'jsonPayload.retryable',
        description: 'true: transient (heals by itself); false: needs an operator',
      },
    ],
    description: 'Ingest attempts that failed and will be redelivered (a 500 to Eventarc).',
  },
  ...ROW_REASONS.map(
    (r): MetricRow => ({
      name: `streamjoin_rows_${r.reason}`,
      lines: { messages: [MESSAGES.ingested, MESSAGES.evicted], positive: `counters.${r.counter}` },
      count: `counters.${r.counter}`,
      description: `Rows emitted with reason ${r.reason} (to the ${r.table} table), by ingest and eviction (sum = rows).`,
    }),
  ),
  {
    name: 'streamjoin_rows_flushed',
    lines: MESSAGES.batchStaged,
    count: 'rows',
    labels: [TABLE_LABEL],
    description: 'Rows per batch staged by the flush (count = batches staged, sum = rows).',
  },
  {
    name: 'streamjoin_flush_duration',
    lines: MESSAGES.batchStaged,
    ms: 'ms',
    labels: [TABLE_LABEL],
    description: 'Per staged batch: from its claim to its staging (reading rows, writing files).',
  },
  {
    name: 'streamjoin_flush_failures',
    lines: MESSAGES.flushFailed,
    labels: [TABLE_LABEL, { key: 'shard', from: 'jsonPayload.shard', description: 'outbox shard' }],
    description: 'Flushes of one shard that failed (the other shards go on; the rows wait).',
  },
  {
    name: 'streamjoin_commits',
    lines: MESSAGES.committed,
    count: 'rows',
    labels: [TABLE_LABEL],
    description: 'Rows per commit of staged batches into a table (count = commits, sum = rows committed).',
  },
  {
    name: 'streamjoin_commit_duration',
    lines: MESSAGES.committed,
    ms: 'ms',
    labels: [TABLE_LABEL],
    description: 'Per commit of staged batches: how long the Iceberg commit took.',
  },
  {
    name: 'streamjoin_commit_lag',
    lines: MESSAGES.committed,
    ms: 'lagMs',
    labels: [TABLE_LABEL],
    description:
      'Per commit: age of the oldest batch it committed (from the claim that took its rows from the outbox to the commit).',
  },
  {
    name: 'streamjoin_eviction_lag',
    lines: MESSAGES.evicted,
    ms: 'lagMs',
    description:
      'Per tick that evicted: how far past its window (deadline + allowed lateness) the oldest expired state was.',
  },
  {
    name: 'streamjoin_tick_duration',
    lines: MESSAGES.tickDone,
    ms: 'ms',
    description: 'Per tick call: how long eviction and flush took.',
  },
  {
    name: 'streamjoin_compact_duration',
    lines: MESSAGES.compactDone,
    ms: 'ms',
    description: 'Per compact call: how long commits and maintenance took.',
  },
  {
    name: 'streamjoin_errors',
    lines: { minSeverity: 'ERROR' },
    labels: [
      { key: 'function', from: 'resource.labels.service_name', description: 'the function' },
      { key: 'severity', from: 'severity', description: 'ERROR, CRITICAL, ALERT or EMERGENCY' },
    ],
    description:
      'Lines of ERROR or above by function (ALERT: someone must act, e.g. a table another engine changed).',
  },
  {
    // Agreed with the reconcile function (shared/pipeline/reconcile.ts): its WARNING line names the
    // count of objects without a ledger entry in `missing`, with via "reconcile" (replay says "replay").
    name: 'streamjoin_reconcile_found',
    lines: { severity: 'WARNING', equals: { via: 'reconcile' }, positive: 'missing' },
    count: 'missing',
    description: 'Objects reconciliation found without a ledger entry (their event never came or came late).',
  },
];

export const METRICS: readonly MetricSpec[] = METRIC_ROWS.map(metricOf);

const BUCKETS: Readonly<Record<Buckets, { numFiniteBuckets: number; growthFactor: number; scale: number }>> =
  {
    // 1, 2, 4 … 2^20 (a million)
    count: { numFiniteBuckets: 21, growthFactor: 2, scale: 1 },
    // 10 ms, 20 ms … about 23 h
    ms: { numFiniteBuckets: 24, growthFactor: 2, scale: 10 },
  };

const quote = (s: string): string => JSON.stringify(s);

/** The Cloud Logging query of a selector (logging query language). */
export function logFilter(s: LogSelector): string {
  const parts = ['resource.type="cloud_run_revision"', 'jsonPayload.component="streamjoin"'];
  if (s.messages !== undefined && s.messages.length > 0) {
    const each = s.messages.map((m) => `jsonPayload.message=${quote(m)}`);
    parts.push(each.length === 1 ? each[0]! : `(${each.join(' OR ')})`);
  }
  if (s.minSeverity !== undefined) parts.push(`severity>=${s.minSeverity}`);
  if (s.severity !== undefined) parts.push(`severity=${s.severity}`);
  for (const [field, value] of Object.entries(s.equals ?? {}))
    parts.push(`jsonPayload.${field}=${quote(value)}`);
  if (s.positive !== undefined) parts.push(`jsonPayload.${s.positive}>0`);
  return parts.join(' AND ');
}

const SEVERITIES = [
  'DEFAULT',
  'DEBUG',
  'INFO',
  'NOTICE',
  'WARNING',
  'ERROR',
  'CRITICAL',
  'ALERT',
  'EMERGENCY',
];

function fieldAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Whether a line as the functions print it (pino JSON: `severity` beside the payload, which Cloud
 * Logging lifts into the entry) is one `logFilter(s)` selects: the same conditions, for tests that
 * read the lines of a real run.
 */
export function selectorMatches(s: LogSelector, line: Readonly<Record<string, unknown>>): boolean {
  if (line['component'] !== 'streamjoin') return false;
  if (s.messages !== undefined && s.messages.length > 0 && !s.messages.includes(line['message'] as string))
    return false;
  const severity = SEVERITIES.indexOf(String(line['severity'] ?? 'DEFAULT'));
  if (s.minSeverity !== undefined && severity < SEVERITIES.indexOf(s.minSeverity)) return false;
  if (s.severity !== undefined && line['severity'] !== s.severity) return false;
  for (const [field, value] of Object.entries(s.equals ?? {}))
    if (fieldAt(line, field) !== value) return false;
  if (s.positive !== undefined) {
    const v = fieldAt(line, s.positive);
    if (typeof v !== 'number' || !(v > 0)) return false;
  }
  return true;
}

/** The value a distribution metric extracts from a line (undefined for a counter or a missing field). */
export function extractedValue(m: MetricSpec, line: Readonly<Record<string, unknown>>): unknown {
  return m.value === undefined ? undefined : fieldAt(line, m.value.field);
}

/** The LogMetric resource (Cloud Logging API v2) of a metric, without its name (gcloud gives it). */
export function logMetricConfig(m: MetricSpec): Record<string, unknown> {
  const labels = (m.labels ?? []).map((l) => ({
    key: l.key,
    valueType: 'STRING',
    description: l.description,
  }));
  return {
    description: m.description,
    filter: logFilter(m.select),
    metricDescriptor: {
      metricKind: 'DELTA',
      valueType: m.value === undefined ? 'INT64' : 'DISTRIBUTION',
      unit: m.value?.unit ?? '1',
      ...(labels.length === 0 ? {} : { labels }),
    },
    ...(m.value === undefined ? {} : { valueExtractor: `EXTRACT(jsonPayload.${m.value.field})` }),
    ...(labels.length === 0
      ? {}
      : { labelExtractors: Object.fromEntries((m.labels ?? []).map((l) => [l.key, `EXTRACT(${l.from})`])) }),
    ...(m.value === undefined ? {} : { bucketOptions: { exponentialBuckets: BUCKETS[m.value.buckets] } }),
  };
}

/** Where the checked-in config of a metric lives (relative to the repository root). */
export const MONITORING_DIR = 'infra/gcp/monitoring';
export const metricConfigFile = (m: MetricSpec): string => `${MONITORING_DIR}/metrics/${m.name}.json`;
export const DASHBOARD_FILE = `${MONITORING_DIR}/dashboard.json`;

/** Checked-in JSON text: two-space indent, a final newline. */
export const jsonFile = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

// ---------------------------------------------------------------------------------------------------
// PromQL over the log-based metrics (Cloud Monitoring maps logging.googleapis.com/user/NAME to
// logging_googleapis_com:user_NAME; distributions have _count, _sum and _bucket series).

const byName = new Map(METRICS.map((m) => [m.name, m]));

/** A metric's series in PromQL; `part` for a distribution. */
export function promSeries(name: string, part?: 'sum' | 'count' | 'bucket', matchers?: string): string {
  const m = byName.get(name);
  if (m === undefined) throw new Error(`no metric named ${name}`);
  if ((m.value === undefined) !== (part === undefined)) {
    throw new Error(
      `${name} is a ${m.value === undefined ? 'counter (no part)' : 'distribution (part sum, count or bucket)'}, but was asked for ${part ?? 'no part'}`,
    );
  }
  // Log-based metrics can be written for several resource types: PromQL needs the one to read.
  const where = ['monitored_resource="cloud_run_revision"', ...(matchers === undefined ? [] : [matchers])];
  return `logging_googleapis_com:user_${name}${part === undefined ? '' : `_${part}`}{${where.join(',')}}`;
}

/** A PromQL range: whole seconds. */
const range = (ms: number): string => `${Math.max(60, Math.round(ms / 1000))}s`;

// ---------------------------------------------------------------------------------------------------
// Alert policies

export interface AlertSpec {
  /** Label value of `streamjoin-alert`, which finds the policy again (its id is the server's). */
  readonly id: string;
  readonly displayName: string;
  readonly severity: 'CRITICAL' | 'ERROR' | 'WARNING';
  readonly query: string;
  /** How long the query must hold before the alert fires. */
  readonly forMs: number;
  /** Markdown sent with the notification: what it means and what to do. */
  readonly doc: string;
}

export interface AlertSettings {
  readonly tickIntervalMs: number;
  readonly compactIntervalMs: number;
  /** Rejected records per hour above which an alert fires. */
  readonly rejectsPerHour: number;
}

export const DEFAULT_REJECTS_PER_HOUR = 100;

export function alertSettings(config: Config, rejectsPerHour = DEFAULT_REJECTS_PER_HOUR): AlertSettings {
  return {
    tickIntervalMs: config.tickIntervalMs,
    compactIntervalMs: config.compactIntervalMs,
    rejectsPerHour,
  };
}

const minutes = (ms: number): string => {
  const m = ms / 60_000;
  return Number.isInteger(m) ? `${m} min` : `${Math.round(ms / 1000)} s`;
};

export function alertSpecs(s: AlertSettings): AlertSpec[] {
  const commitWindow = 3 * s.compactIntervalMs;
  const flushWindow = Math.max(5 * s.tickIntervalMs, 5 * 60_000);
  const lagLimit = 2 * s.tickIntervalMs;
  const sum = (q: string) => `sum(${q})`;
  return [
    {
      id: 'no-commit',
      displayName: 'streamjoin: no commit for 3 compact intervals while rows wait',
      severity: 'CRITICAL',
      query: `(${sum(`increase(${promSeries('streamjoin_rows_flushed', 'count')}[${range(commitWindow)}])`)} > 0) unless (${sum(`increase(${promSeries('streamjoin_commits', 'count')}[${range(commitWindow)}])`)} > 0)`,
      forMs: 0,
      doc: `Batches were staged in the last ${minutes(commitWindow)} (3 × STREAMJOIN_COMPACT_INTERVAL) but no commit reached a table: the rows wait in staged batches. Look at the compact function's logs (\`gcloud functions logs read compact --region=REGION\`), its scheduler job (\`gcloud scheduler jobs describe streamjoin-compact --location=REGION\`), and for ALERT lines (a table another engine changed). \`streamjoin status --project P\` shows the staged batches and the last commit per table.`,
    },
    {
      id: 'ingest-failures',
      displayName: 'streamjoin: ingest failing for 15 min',
      severity: 'ERROR',
      query: `${sum(`increase(${promSeries('streamjoin_ingest_failures')}[5m])`)} > 0`,
      forMs: 15 * 60_000,
      doc: 'Ingest attempts have failed in every 5 min for 15 min; Eventarc keeps redelivering the events (for up to 24 h), so nothing is lost yet. `retryable=false` failures need an operator (permissions, a bug): read `gcloud functions logs read ingest --region=REGION --min-log-level=error`.',
    },
    {
      id: 'flush-failures',
      displayName: 'streamjoin: a shard whose flush fails repeatedly',
      severity: 'ERROR',
      query: `sum by (table, shard) (increase(${promSeries('streamjoin_flush_failures')}[${range(flushWindow)}])) >= 3`,
      forMs: 0,
      doc: `One shard of a table failed to flush 3 times or more in ${minutes(flushWindow)}; its rows wait in the outbox (the other shards go on). The tick function's ERROR lines name the table, the shard and the error.`,
    },
    {
      id: 'eviction-lag',
      displayName: 'streamjoin: eviction more than 2 ticks behind',
      severity: 'WARNING',
      query: `histogram_quantile(0.99, sum by (le) (increase(${promSeries('streamjoin_eviction_lag', 'bucket')}[${range(flushWindow)}]))) > ${lagLimit}`,
      forMs: 0,
      doc: `A waiting state was evicted more than ${minutes(lagLimit)} (2 × STREAMJOIN_TICK_INTERVAL) after its window closed: timeouts and orphans reach the unmatched table late. The tick is behind (too many states per tick for STREAMJOIN_EVICT_BATCH_SIZE / STREAMJOIN_EVICT_TIME_BUDGET, or ticks failing).`,
    },
    {
      id: 'rejects',
      displayName: `streamjoin: more than ${s.rejectsPerHour} rejected records in an hour`,
      severity: 'WARNING',
      query: `${sum(`increase(${promSeries('streamjoin_records_rejected', 'sum')}[1h])`)} > ${s.rejectsPerHour}`,
      forMs: 0,
      doc: 'Producers are sending records the pipeline quarantines. `streamjoin rejects --project P` lists them with the reason.',
    },
    {
      id: 'reconcile-found',
      displayName: 'streamjoin: reconciliation found objects the events missed',
      severity: 'WARNING',
      query: `${sum(`increase(${promSeries('streamjoin_reconcile_found', 'sum')}[1h])`)} > 0`,
      forMs: 0,
      doc: 'The reconcile function found input objects with no ledger entry (their finalize event never came, or came very late) and ingested them. A few now and then are Eventarc at work; many, or every hour, mean the trigger is broken: check `gcloud eventarc triggers list` and the ingest function.',
    },
    {
      id: 'alert-logged',
      displayName: 'streamjoin: a function logged an ALERT',
      severity: 'CRITICAL',
      query: `sum by (function) (increase(${promSeries('streamjoin_errors', undefined, 'severity=~"ALERT|EMERGENCY"')}[10m])) > 0`,
      forMs: 0,
      doc: 'A function logged a line of severity ALERT: someone must act (for example a table another engine changed beyond what the pipeline writes; its rows wait). Read it: `gcloud logging read "severity>=ALERT AND jsonPayload.component=\\"streamjoin\\"" --freshness=1h`.',
    },
  ];
}

/** The AlertPolicy resource (Cloud Monitoring API v3) of an alert, labelled with the hash of its content. */
export function alertPolicy(a: AlertSpec, channels: readonly string[]): Record<string, unknown> {
  const body = {
    displayName: a.displayName,
    documentation: { content: a.doc, mimeType: 'text/markdown', subject: a.displayName },
    conditions: [
      {
        displayName: a.displayName,
        conditionPrometheusQueryLanguage: {
          query: a.query,
          duration: `${Math.round(a.forMs / 1000)}s`,
          evaluationInterval: '60s',
          // The log-based metrics have no data until the pipeline logs its first line.
          disableMetricValidation: true,
        },
      },
    ],
    combiner: 'OR',
    enabled: true,
    severity: a.severity,
    ...(channels.length === 0 ? {} : { notificationChannels: [...channels] }),
  };
  return {
    ...body,
    userLabels: { [ALERT_LABEL]: a.id, [SPEC_KEY]: contentHash(body) },
  };
}

export const ALERT_LABEL = 'streamjoin-alert';
export const CHANNEL_LABEL = 'streamjoin-channel';
export const DASHBOARD_LABEL = 'streamjoin-dashboard';
/** Hash of a resource's content, as a label: a check compares it instead of the server's rendering. */
export const SPEC_KEY = 'streamjoin-spec';

export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 20);
}

// ---------------------------------------------------------------------------------------------------
// Dashboard

interface Chart {
  readonly title: string;
  readonly y: string;
  readonly series: readonly string[];
}

const perMinute = (q: string) => `60 * ${q}`;
const rate5 = (series: string) => `rate(${series}[5m])`;
const p = (q: number, name: string, by = '') =>
  `histogram_quantile(${q}, sum by (le${by === '' ? '' : `, ${by}`}) (${rate5(promSeries(name, 'bucket'))}))`;
const named = (q: string, label: string, value: string) =>
  `label_replace(${q}, "${label}", "${value}", "", "")`;

function charts(): Chart[] {
  return [
    {
      title: 'Events ingested per minute, by kind',
      y: 'events / min',
      series: [perMinute(`sum by (kind) (${rate5(promSeries('streamjoin_records_ingested', 'sum'))})`)],
    },
    {
      title: 'Rows emitted per minute, by reason (joined → joined table; the rest → unmatched)',
      y: 'rows / min',
      series: ROW_REASONS.map((r) =>
        named(
          perMinute(`sum(${rate5(promSeries(`streamjoin_rows_${r.reason}`, 'sum'))})`),
          'reason',
          r.reason,
        ),
      ),
    },
    {
      title: 'Rows committed per minute, by table',
      y: 'rows / min',
      series: [perMinute(`sum by (table) (${rate5(promSeries('streamjoin_commits', 'sum'))})`)],
    },
    {
      title: 'Rejected records per hour, by kind',
      y: 'records / h',
      series: [`3600 * sum by (kind) (${rate5(promSeries('streamjoin_records_rejected', 'sum'))})`],
    },
    {
      title: 'End-to-end latency, p95: landing → ingested, batch claimed → committed, and their sum',
      y: 'ms',
      series: [
        named(p(0.95, 'streamjoin_ingest_lag'), 'stage', 'landing to ingested'),
        named(p(0.95, 'streamjoin_commit_lag'), 'stage', 'claimed to committed'),
        named(`${p(0.95, 'streamjoin_ingest_lag')} + ${p(0.95, 'streamjoin_commit_lag')}`, 'stage', 'sum'),
      ],
    },
    {
      title: 'Eviction lag, p99 (past the window when evicted)',
      y: 'ms',
      series: [p(0.99, 'streamjoin_eviction_lag')],
    },
    {
      title: 'Flush and commit duration, p95, by table',
      y: 'ms',
      series: [
        named(p(0.95, 'streamjoin_flush_duration', 'table'), 'step', 'flush'),
        named(p(0.95, 'streamjoin_commit_duration', 'table'), 'step', 'commit'),
      ],
    },
    {
      title: 'Commits and staged batches per minute, by table',
      y: 'per min',
      series: [
        named(
          perMinute(`sum by (table) (${rate5(promSeries('streamjoin_commits', 'count'))})`),
          'what',
          'commits',
        ),
        named(
          perMinute(`sum by (table) (${rate5(promSeries('streamjoin_rows_flushed', 'count'))})`),
          'what',
          'batches staged',
        ),
      ],
    },
    {
      title: 'Failures per minute: ingest (by retryable), flush (by table and shard)',
      y: 'per min',
      series: [
        perMinute(`sum by (retryable) (${rate5(promSeries('streamjoin_ingest_failures'))})`),
        perMinute(`sum by (table, shard) (${rate5(promSeries('streamjoin_flush_failures'))})`),
      ],
    },
    {
      title: 'Errors and alerts per minute, by function and severity',
      y: 'lines / min',
      series: [perMinute(`sum by (function, severity) (${rate5(promSeries('streamjoin_errors'))})`)],
    },
    {
      title: 'Ingest, tick and compact duration, p95',
      y: 'ms',
      series: [
        named(p(0.95, 'streamjoin_ingest_duration'), 'function', 'ingest (per file)'),
        named(p(0.95, 'streamjoin_tick_duration'), 'function', 'tick'),
        named(p(0.95, 'streamjoin_compact_duration'), 'function', 'compact'),
      ],
    },
    {
      title: 'Objects found by reconciliation, per hour',
      y: 'objects / h',
      series: [`3600 * sum(${rate5(promSeries('streamjoin_reconcile_found', 'sum'))})`],
    },
  ];
}

export const DASHBOARD_NAME = 'streamjoin pipeline';
const COLUMNS = 48;

/** The Dashboard resource (Cloud Monitoring API v1): a text tile, then two charts per row. */
export function dashboard(): Record<string, unknown> {
  const width = COLUMNS / 2;
  const height = 16;
  const textHeight = 6;
  const tiles: Record<string, unknown>[] = [
    {
      xPos: 0,
      yPos: 0,
      width: COLUMNS,
      height: textHeight,
      widget: {
        title: 'streamjoin',
        text: {
          format: 'MARKDOWN',
          content:
            'Log-based metrics of the streamjoin functions (`logging.googleapis.com/user/streamjoin_*`, defined in `infra/gcp/monitoring.ts`). Alert policies: **streamjoin: …** under Monitoring → Alerting. For what waits right now: `npx streamjoin status --project PROJECT`.',
        },
      },
    },
  ];
  charts().forEach((c, i) => {
    tiles.push({
      xPos: (i % 2) * width,
      yPos: textHeight + Math.floor(i / 2) * height,
      width,
      height,
      widget: {
        title: c.title,
        xyChart: {
          dataSets: c.series.map((q) => ({
            timeSeriesQuery: { prometheusQuery: q },
            plotType: 'LINE',
            minAlignmentPeriod: '60s',
            targetAxis: 'Y1',
          })),
          yAxis: { label: c.y, scale: 'LINEAR' },
        },
      },
    });
  });
  const body = { displayName: DASHBOARD_NAME, mosaicLayout: { columns: COLUMNS, tiles } };
  return { ...body, labels: { [DASHBOARD_LABEL]: 'pipeline', [SPEC_KEY]: contentHash(body) } };
}
