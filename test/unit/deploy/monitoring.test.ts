// The monitoring the deploy creates, checked against the documented shapes of the APIs it goes to
// (Cloud Logging v2 LogMetric, Cloud Monitoring v3 AlertPolicy, v1 Dashboard), table-driven; the
// checked-in configs (infra/gcp/monitoring/) against what monitoring.ts generates. After an intended
// change: UPDATE_GOLDEN=1 node --test test/unit/deploy/monitoring.test.ts and review the diff.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type AlertSettings,
  alertPolicy,
  alertSpecs,
  DASHBOARD_FILE,
  dashboard,
  jsonFile,
  logFilter,
  logMetricConfig,
  MESSAGES,
  METRICS,
  MONITORING_DIR,
  metricConfigFile,
  promSeries,
  ROW_REASONS,
  selectorMatches,
} from '../../../infra/gcp/monitoring.ts';
import { ROOT } from './sample.ts';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
/** The plan's reference to the e-mail channel (a variable the deploy sets). */
const CHANNEL = ['$', '{ALERT_CHANNEL}'].join('');

test('the checked-in metric configs and dashboard are what monitoring.ts generates', () => {
  const want = new Map<string, string>(
    METRICS.map((m) => [metricConfigFile(m), jsonFile(logMetricConfig(m))]),
  );
  want.set(DASHBOARD_FILE, jsonFile(dashboard()));
  if (UPDATE) {
    mkdirSync(`${ROOT}${MONITORING_DIR}/metrics`, { recursive: true });
    for (const [file, text] of want) writeFileSync(`${ROOT}${file}`, text);
  }
  for (const [file, text] of want) {
    let have: string;
    try {
      have = readFileSync(`${ROOT}${file}`, 'utf8');
    } catch {
      assert.fail(
        `${file} is missing; generate it with UPDATE_GOLDEN=1 node --test test/unit/deploy/monitoring.test.ts`,
      );
    }
    assert.equal(
      have,
      text,
      `${file} differs from monitoring.ts; regenerate with UPDATE_GOLDEN=1 and review`,
    );
  }
  const stale = readdirSync(`${ROOT}${MONITORING_DIR}/metrics`)
    .map((f) => `${MONITORING_DIR}/metrics/${f}`)
    .filter((f) => !want.has(f));
  assert.deepEqual(stale, [], 'config files of metrics monitoring.ts no longer defines');
});

test('log filters: one line per selector, in the logging query language', () => {
  const cases: [Parameters<typeof logFilter>[0], string][] = [
    [
      { messages: ['ingested'] },
      'resource.type="cloud_run_revision" AND jsonPayload.component="streamjoin" AND jsonPayload.message="ingested"',
    ],
    [
      { messages: ['ingested', 'evicted expired states'], positive: 'counters.joined' },
      'resource.type="cloud_run_revision" AND jsonPayload.component="streamjoin" AND (jsonPayload.message="ingested" OR jsonPayload.message="evicted expired states") AND jsonPayload.counters.joined>0',
    ],
    [
      { minSeverity: 'ERROR' },
      'resource.type="cloud_run_revision" AND jsonPayload.component="streamjoin" AND severity>=ERROR',
    ],
    [
      { severity: 'WARNING', equals: { via: 'reconcile' }, positive: 'missing' },
      'resource.type="cloud_run_revision" AND jsonPayload.component="streamjoin" AND severity=WARNING AND jsonPayload.via="reconcile" AND jsonPayload.missing>0',
    ],
    [
      { messages: ['say "hi"'] },
      'resource.type="cloud_run_revision" AND jsonPayload.component="streamjoin" AND jsonPayload.message="say \\"hi\\""',
    ],
  ];
  for (const [selector, want] of cases) assert.equal(logFilter(selector), want);
});

/** LogMetric fields (Cloud Logging API v2, projects.metrics). */
const LOG_METRIC_FIELDS = new Set([
  'name',
  'description',
  'filter',
  'bucketName',
  'disabled',
  'metricDescriptor',
  'valueExtractor',
  'labelExtractors',
  'bucketOptions',
  'version',
]);
const LABEL_KEY = /^[a-z][a-z0-9_]{0,99}$/;
const EXTRACTOR = /^EXTRACT\((jsonPayload\.[A-Za-z][\w.]*|resource\.labels\.[a-z_]+|severity)\)$/;

test('every log-based metric is a valid LogMetric: counter or distribution, labels with extractors', () => {
  const names = new Set<string>();
  for (const m of METRICS) {
    assert.match(m.name, /^streamjoin_[a-z0-9_]+$/, m.name);
    assert.ok(!names.has(m.name), `duplicate metric ${m.name}`);
    names.add(m.name);
    const c = logMetricConfig(m) as Record<string, unknown> & {
      metricDescriptor: {
        metricKind: string;
        valueType: string;
        unit: string;
        labels?: { key: string; valueType: string }[];
      };
      labelExtractors?: Record<string, string>;
      valueExtractor?: string;
      bucketOptions?: {
        exponentialBuckets: { numFiniteBuckets: number; growthFactor: number; scale: number };
      };
    };
    for (const k of Object.keys(c))
      assert.ok(LOG_METRIC_FIELDS.has(k), `${m.name}: ${k} is no LogMetric field`);
    assert.ok((c['description'] as string).length > 0 && (c['description'] as string).length <= 8000);
    assert.ok((c['filter'] as string).length <= 20_000);
    assert.equal(c.metricDescriptor.metricKind, 'DELTA', `${m.name}: log-based metrics are DELTA`);
    if (m.value === undefined) {
      assert.equal(c.metricDescriptor.valueType, 'INT64', m.name);
      assert.equal(c.valueExtractor, undefined, `${m.name}: a counter has no value extractor`);
      assert.equal(c.bucketOptions, undefined, m.name);
    } else {
      assert.equal(c.metricDescriptor.valueType, 'DISTRIBUTION', m.name);
      assert.match(c.valueExtractor!, EXTRACTOR, m.name);
      const b = c.bucketOptions!.exponentialBuckets;
      assert.ok(
        b.numFiniteBuckets > 0 && b.growthFactor > 1 && b.scale > 0,
        `${m.name}: exponential buckets`,
      );
    }
    assert.ok(['1', 'ms'].includes(c.metricDescriptor.unit), m.name);
    const keys = (c.metricDescriptor.labels ?? []).map((l) => l.key);
    assert.deepEqual(Object.keys(c.labelExtractors ?? {}), keys, `${m.name}: one extractor per label`);
    for (const l of c.metricDescriptor.labels ?? []) {
      assert.match(l.key, LABEL_KEY, m.name);
      assert.equal(l.valueType, 'STRING');
    }
    for (const e of Object.values(c.labelExtractors ?? {})) assert.match(e, EXTRACTOR, m.name);
    assert.ok(keys.length <= 10, `${m.name}: at most 10 labels`);
  }
  // Rows per reason: one metric per reason that emits a row.
  for (const r of ROW_REASONS) assert.ok(names.has(`streamjoin_rows_${r.reason}`));
});

test('every message a metric reads is logged by the functions or the pipeline, with the fields it extracts', () => {
  const sources = [
    'functions/ingest.ts',
    'functions/tick.ts',
    'functions/compact.ts',
    'shared/pipeline/ingest.ts',
    'shared/pipeline/evict.ts',
    'shared/pipeline/flush.ts',
    'shared/pipeline/compact.ts',
  ].map((f) => ({ f, text: readFileSync(`${ROOT}${f}`, 'utf8') }));
  for (const m of METRICS) {
    for (const message of m.select.messages ?? []) {
      const at = sources.filter((s) => s.text.includes(`'${message}'`));
      assert.ok(at.length > 0, `${m.name}: no source logs the message ${JSON.stringify(message)}`);
      // The value and the labels it extracts: named in one of those files (ingest's counters are
      // JoinCounters fields, logged as a whole object).
      const fields = [
        ...(m.value === undefined ? [] : [m.value.field]),
        ...(m.labels ?? []).filter((l) => l.from.startsWith('jsonPayload.')).map((l) => l.from.slice(12)),
      ].map((f) => f.split('.')[0]!);
      for (const field of fields) {
        assert.ok(
          at.some((s) => new RegExp(`\\b${field}\\b`).test(s.text)),
          `${m.name}: field ${field} is not in the files that log ${JSON.stringify(message)}`,
        );
      }
    }
  }
  assert.ok(Object.values(MESSAGES).length >= 8);
});

/** AlertPolicy fields (Cloud Monitoring API v3, projects.alertPolicies). */
const POLICY_FIELDS = new Set([
  'name',
  'displayName',
  'documentation',
  'userLabels',
  'conditions',
  'combiner',
  'enabled',
  'validity',
  'notificationChannels',
  'creationRecord',
  'mutationRecord',
  'alertStrategy',
  'severity',
]);
const PROMQL_CONDITION_FIELDS = new Set([
  'query',
  'duration',
  'evaluationInterval',
  'labels',
  'ruleGroup',
  'alertRule',
  'disableMetricValidation',
]);
const USER_LABEL = /^[a-z][a-z0-9_-]{0,62}$/;
const USER_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/** Every log-based metric series a PromQL query reads, checked against the metric's kind. */
function checkSeries(query: string, where: string): number {
  const refs = [
    ...query.matchAll(/logging_googleapis_com:user_(streamjoin_[a-z0-9_]+?)(?:_(sum|count|bucket))?\{/g),
  ];
  for (const [, name, part] of refs) {
    const m = METRICS.find((x) => x.name === name);
    assert.ok(m !== undefined, `${where}: reads ${name}, which is no metric`);
    assert.equal(
      part !== undefined,
      m.value !== undefined,
      `${where}: ${name} is a ${m.value === undefined ? 'counter' : 'distribution'} but is read as ${part ?? 'a counter'}`,
    );
  }
  // Balanced parentheses and braces (a typo in a hand-built query).
  for (const [open, close] of [
    ['(', ')'],
    ['{', '}'],
    ['[', ']'],
  ] as const) {
    assert.equal(query.split(open).length, query.split(close).length, `${where}: unbalanced ${open}${close}`);
  }
  return refs.length;
}

test('alert policies are valid AlertPolicy resources with one PromQL condition on the metrics', () => {
  const settings: AlertSettings = { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 };
  const specs = alertSpecs(settings);
  assert.deepEqual(
    specs.map((s) => s.id),
    [
      'no-commit',
      'ingest-failures',
      'flush-failures',
      'eviction-lag',
      'rejects',
      'reconcile-found',
      'alert-logged',
    ],
  );
  for (const channels of [[], [CHANNEL]]) {
    for (const a of specs) {
      const policy = alertPolicy(a, channels) as Record<string, unknown> & {
        conditions: Record<string, unknown>[];
        userLabels: Record<string, string>;
      };
      for (const k of Object.keys(policy))
        assert.ok(POLICY_FIELDS.has(k), `${a.id}: ${k} is no AlertPolicy field`);
      assert.ok((policy['displayName'] as string).length <= 512);
      assert.equal(policy.conditions.length, 1);
      const c = policy.conditions[0]!;
      assert.deepEqual(Object.keys(c).sort(), ['conditionPrometheusQueryLanguage', 'displayName']);
      const q = c['conditionPrometheusQueryLanguage'] as Record<string, unknown>;
      for (const k of Object.keys(q)) assert.ok(PROMQL_CONDITION_FIELDS.has(k), `${a.id}: ${k}`);
      assert.match(q['duration'] as string, /^\d+s$/);
      assert.match(q['evaluationInterval'] as string, /^\d+s$/);
      assert.ok(checkSeries(q['query'] as string, a.id) >= 1, `${a.id} reads a metric`);
      assert.ok(['CRITICAL', 'ERROR', 'WARNING'].includes(policy['severity'] as string));
      for (const [k, v] of Object.entries(policy.userLabels)) {
        assert.match(k, USER_LABEL);
        assert.match(v, USER_LABEL_VALUE);
      }
      assert.deepEqual(policy['notificationChannels'] ?? [], channels);
      const doc = policy['documentation'] as { content: string; mimeType: string };
      assert.equal(doc.mimeType, 'text/markdown');
      assert.ok(doc.content.length > 0 && doc.content.length <= 10_240);
    }
  }
  // The content hash changes with the content, and only with it.
  const a = specs[0]!;
  assert.equal(
    (alertPolicy(a, []) as { userLabels: Record<string, string> }).userLabels['streamjoin-spec'],
    (alertPolicy(a, []) as { userLabels: Record<string, string> }).userLabels['streamjoin-spec'],
  );
  assert.notEqual(
    (alertPolicy(a, []) as { userLabels: Record<string, string> }).userLabels['streamjoin-spec'],
    (alertPolicy(a, [CHANNEL]) as { userLabels: Record<string, string> }).userLabels['streamjoin-spec'],
  );
});

test('alert thresholds follow the tick and compact intervals and the rejects rate', () => {
  const cases: { s: AlertSettings; id: string; has: string[]; forS: number }[] = [
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'no-commit',
      has: ['_rows_flushed_count', '[900s]', '_commits_count', 'unless'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 600_000, rejectsPerHour: 100 },
      id: 'no-commit',
      has: ['[1800s]'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'eviction-lag',
      has: ['> 120000'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 120_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'eviction-lag',
      has: ['> 240000', '[600s]'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'flush-failures',
      has: ['by (table, shard)', '[300s]', '>= 3'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'ingest-failures',
      has: ['_ingest_failures{', '> 0'],
      forS: 900,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 250 },
      id: 'rejects',
      has: ['_records_rejected_sum', '[1h]', '> 250'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'reconcile-found',
      has: ['_reconcile_found_sum', '> 0'],
      forS: 0,
    },
    {
      s: { tickIntervalMs: 60_000, compactIntervalMs: 300_000, rejectsPerHour: 100 },
      id: 'alert-logged',
      has: ['severity=~"ALERT|EMERGENCY"'],
      forS: 0,
    },
  ];
  for (const c of cases) {
    const a = alertSpecs(c.s).find((x) => x.id === c.id)!;
    for (const h of c.has)
      assert.ok(a.query.includes(h), `${c.id} (${JSON.stringify(c.s)}): expected ${h} in ${a.query}`);
    assert.equal(a.forMs / 1000, c.forS, c.id);
  }
});

test('the dashboard is a valid mosaic layout whose charts read the metrics', () => {
  const d = dashboard() as {
    displayName: string;
    labels: Record<string, string>;
    mosaicLayout: {
      columns: number;
      tiles: { xPos: number; yPos: number; width: number; height: number; widget: Record<string, unknown> }[];
    };
  };
  assert.deepEqual(Object.keys(d).sort(), ['displayName', 'labels', 'mosaicLayout']);
  const { columns, tiles } = d.mosaicLayout;
  assert.ok(columns >= 1 && columns <= 48);
  const cells = new Set<string>();
  let charts = 0;
  for (const t of tiles) {
    assert.ok(t.xPos >= 0 && t.width > 0 && t.xPos + t.width <= columns, `tile inside ${columns} columns`);
    for (let x = t.xPos; x < t.xPos + t.width; x++) {
      for (let y = t.yPos; y < t.yPos + t.height; y++) {
        assert.ok(!cells.has(`${x},${y}`), `tiles overlap at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
    const kinds = Object.keys(t.widget).filter((k) => k !== 'title');
    assert.equal(kinds.length, 1, 'one widget kind per tile');
    if (kinds[0] === 'xyChart') {
      charts++;
      const chart = t.widget['xyChart'] as {
        dataSets: { timeSeriesQuery: { prometheusQuery: string }; plotType: string }[];
      };
      assert.ok(chart.dataSets.length >= 1);
      for (const ds of chart.dataSets) {
        assert.ok(['LINE', 'STACKED_AREA', 'STACKED_BAR', 'HEATMAP'].includes(ds.plotType));
        assert.ok(checkSeries(ds.timeSeriesQuery.prometheusQuery, t.widget['title'] as string) >= 1);
      }
    } else {
      assert.equal(kinds[0], 'text');
    }
  }
  assert.ok(charts >= 10, `expected the pipeline's charts, got ${charts}`);
  // Every metric is on the dashboard.
  const queries = JSON.stringify(d);
  for (const m of METRICS) assert.ok(queries.includes(`user_${m.name}`), `${m.name} has no chart`);
  for (const [k, v] of Object.entries(d.labels)) {
    assert.match(k, USER_LABEL);
    assert.match(v, USER_LABEL_VALUE);
  }
});

test('promSeries refuses a counter read as a distribution and the reverse', () => {
  assert.throws(() => promSeries('streamjoin_errors', 'sum'), /counter/);
  assert.throws(() => promSeries('streamjoin_commits'), /distribution/);
  assert.throws(() => promSeries('streamjoin_nothing'), /no metric/);
  assert.equal(
    promSeries('streamjoin_commits', 'count'),
    'logging_googleapis_com:user_streamjoin_commits_count{monitored_resource="cloud_run_revision"}',
  );
});

test('selectorMatches reads a printed line as the filter reads the entry', () => {
  const line = (extra: Record<string, unknown>) => ({ component: 'streamjoin', severity: 'INFO', ...extra });
  const cases: [Parameters<typeof selectorMatches>[0], Record<string, unknown>, boolean][] = [
    [{ messages: ['ingested'] }, line({ message: 'ingested' }), true],
    [{ messages: ['ingested'] }, line({ message: 'ingested late' }), false],
    [{ messages: ['ingested'] }, { message: 'ingested', severity: 'INFO' }, false], // not ours
    [{ messages: ['a', 'b'] }, line({ message: 'b' }), true],
    [{ minSeverity: 'ERROR' }, line({ severity: 'ERROR' }), true],
    [{ minSeverity: 'ERROR' }, line({ severity: 'ALERT' }), true],
    [{ minSeverity: 'ERROR' }, line({ severity: 'WARNING' }), false],
    [{ severity: 'WARNING' }, line({ severity: 'ERROR' }), false],
    [{ equals: { via: 'reconcile' } }, line({ via: 'reconcile' }), true],
    [{ equals: { via: 'reconcile' } }, line({ via: 'replay' }), false],
    [{ positive: 'counters.joined' }, line({ counters: { joined: 2 } }), true],
    [{ positive: 'counters.joined' }, line({ counters: { joined: 0 } }), false],
    [{ positive: 'counters.joined' }, line({}), false],
  ];
  for (const [s, l, want] of cases)
    assert.equal(selectorMatches(s, l), want, `${JSON.stringify(s)} on ${JSON.stringify(l)}`);
});
