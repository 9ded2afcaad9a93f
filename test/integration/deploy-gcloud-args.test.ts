// Every gcloud command line of the deploy and destroy plans goes through the INSTALLED gcloud: with no
// credentials (an empty config dir) each must fail on authentication, which gcloud checks only after
// its argument parser accepted the line. An argument error (exit 2, "unrecognized arguments", "argument
// --x: ...") fails the test with the command and gcloud's message.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { substitute } from '../../infra/gcp/execute.ts';
import { formatCommand } from '../../infra/gcp/format.ts';
import { alertSpecs, DEFAULT_REJECTS_PER_HOUR } from '../../infra/gcp/monitoring.ts';
import { policyVariable } from '../../infra/gcp/monitoring-plan.ts';
import { type Argv, type Plan, planDeploy, planDestroy } from '../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../infra/gcp/settings.ts';
import { loadConfig } from '../../shared/config.ts';
import { SAMPLE_ENV, sampleDeployOptions } from '../unit/deploy/sample.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAKE_VARIABLES = {
  PROJECT_NUMBER: '123456789012',
  INPUT_BUCKET_LOCATION: 'eu',
  GCS_SERVICE_AGENT: 'service-123456789012@gs-project-accounts.iam.gserviceaccount.com',
  TICK_URL: 'https://tick-123456789012.europe-west1.run.app',
  COMPACT_URL: 'https://compact-123456789012.europe-west1.run.app',
  ALERT_CHANNEL: 'projects/sample-project/notificationChannels/1234567890',
  DASHBOARD: 'projects/123456789012/dashboards/0b5d8a3c-1f2e-4c6d-9a7b-123456789abc',
  ...Object.fromEntries(
    alertSpecs({
      tickIntervalMs: 60_000,
      compactIntervalMs: 300_000,
      rejectsPerHour: DEFAULT_REJECTS_PER_HOUR,
    }).map((a) => [policyVariable(a.id), 'projects/sample-project/alertPolicies/9876543210']),
  ),
};
/** gcloud's answer once parsing succeeded and it needs an account: `ERROR: (gcloud.group.command) You do not ...`. */
const AUTH_FAILURE = /ERROR: \(([\w.-]+)\) You do not currently have an active account selected/;
const ARGUMENT_ERROR =
  /unrecognized arguments|argument [^ ]+: |invalid choice|Invalid value for|must be specified|is required|not a valid|Bad value|expected one argument/i;

let home: string;

before(() => {
  home = mkdtempSync(join(tmpdir(), 'streamjoin-gcloud-'));
});
after(() => {
  rmSync(home, { recursive: true, force: true });
});

/**
 * Lines that differ only in an account, a role, a bucket, a function, a condition or a Firestore field
 * parse alike: one of each shape is run (gcloud starts in ~1 s; the test stays around a minute on two
 * otherwise idle cores).
 */
function shape(argv: Argv): string {
  const words = argv.map((a) =>
    a
      .replace(/[\w.-]+@[\w.-]+/g, 'EMAIL')
      .replace(/roles\/[\w.]+/g, 'ROLE')
      .replace(/gs:\/\/[\w.-]+/g, 'BUCKET')
      .replace(/^(ingest|tick|compact|streamjoin-functions)$/, 'FUNCTION')
      .replace(/^--condition=(?!None$).*/, '--condition=CONDITION')
      .replace(/^--collection-group=.*/, '--collection-group=GROUP')
      .replace(/^--field-config=.*/, '--field-config=FIELD')
      // Log-based metrics: one name and one config file of each kind; alert policies: one JSON body.
      .replace(/^streamjoin_[a-z0-9_]+$/, 'METRIC')
      .replace(/^--config-from-file=infra\/gcp\/monitoring\/metrics\/.*/, '--config-from-file=METRIC_FILE')
      .replace(/^--policy=[\s\S]*/, '--policy=POLICY'),
  );
  // `firestore indexes fields describe|update NAME`: the field name is a plain word.
  const i = words.findIndex((w, k) => w === 'fields' && words[k - 1] === 'indexes');
  if (i >= 0 && words[i + 2] !== undefined && !words[i + 2]!.startsWith('-')) words[i + 2] = 'FIELD';
  const j = words.findIndex((w, k) => w === 'ttls' && words[k - 1] === 'fields');
  if (j >= 0 && words[j + 2] !== undefined && !words[j + 2]!.startsWith('-')) words[j + 2] = 'FIELD';
  return JSON.stringify(words);
}

function gcloudCommands(plans: readonly Plan[]): Argv[] {
  const seen = new Map<string, Argv>();
  for (const plan of plans) {
    for (const step of plan.steps) {
      const lines: Argv[] = [];
      if (step.kind === 'gcloud') {
        lines.push(step.argv);
        if (step.check !== undefined) lines.push(step.check.argv);
        if (step.update !== undefined && !('manual' in step.update)) lines.push(step.update);
      } else if (step.kind === 'lookup') {
        lines.push(step.argv);
      }
      for (const l of lines) {
        const argv = substitute(l, FAKE_VARIABLES);
        seen.set(shape(argv), argv);
      }
    }
  }
  return [...seen.values()];
}

function runGcloud(argv: Argv): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      // Nothing of the caller's environment: no account, no ADC, no metadata server probe, no prompts.
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: home,
        CLOUDSDK_CONFIG: join(home, 'gcloud'),
        CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      // Generous: on a loaded machine one gcloud start can take many seconds; a kill is reported as a failure.
      timeout: 180_000,
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}

async function inPool<T, R>(items: readonly T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

async function planLines(): Promise<Argv[]> {
  const config = loadConfig(SAMPLE_ENV);
  const settings = loadDeploySettings(SAMPLE_ENV);
  const plans = [
    planDeploy(config, await sampleDeployOptions()),
    // A non-default database and delimiter-escaped env values exercise the other quoting paths.
    planDeploy(
      loadConfig({
        ...SAMPLE_ENV,
        STREAMJOIN_FIRESTORE_DATABASE: 'streamjoin-db',
        STREAMJOIN_ORDERS_PREFIX: 'in,orders/',
      }),
      // … and the alerts' e-mail channel.
      { ...(await sampleDeployOptions()), alertEmail: 'ops@example.com' },
    ),
    planDestroy(config, { project: 'sample-project', region: 'europe-west1', deleteData: true, settings }),
  ];
  return gcloudCommands(plans);
}

/** The monitoring lines (log-based metrics, alert policies, channels, dashboards). */
const isMonitoring = (argv: Argv): boolean =>
  argv[1] === 'logging' || argv[1] === 'monitoring' || argv[2] === 'monitoring';

/** Runs the lines through gcloud; each must fail on authentication only (its arguments parsed). */
async function assertParsed(
  t: { diagnostic(message: string): void },
  commands: readonly Argv[],
): Promise<void> {
  const started = Date.now();
  const results = await inPool(commands, 4, runGcloud);
  const elapsed = Date.now() - started;
  t.diagnostic(
    `${commands.length} gcloud lines in ${(elapsed / 1000).toFixed(1)} s (slowest ${Math.max(...results.map((r) => r.ms))} ms)`,
  );
  const bad: string[] = [];
  commands.forEach((argv, i) => {
    const r = results[i]!;
    const firstError =
      r.stderr.split('\n').find((l) => l.startsWith('ERROR')) ?? r.stderr.trim().split('\n')[0];
    // The command path gcloud names must be the command we ran (the group and verb exist).
    const path = AUTH_FAILURE.exec(r.stderr)?.[1];
    const ranPath = argv.slice(0, path?.split('.').length ?? 0).join('.');
    if (r.code !== 1 || ARGUMENT_ERROR.test(r.stderr) || path === undefined || path !== ranPath) {
      bad.push(`${formatCommand(argv)}\n  → exit ${r.code}: ${firstError}`);
    }
  });
  assert.deepEqual(bad, [], `gcloud rejected these lines (expected an auth failure):\n${bad.join('\n')}`);
}

// Two tests, so that on a loaded machine neither runs into the per-test timeout; each gcloud start
// costs about 0.6 CPU-seconds, which is minutes of wall time when others load the machine (63 lines
// took 400 s at load 45; about a minute on two idle cores), hence their own generous timeout.
const SLOW = { timeout: 20 * 60_000 };
test(
  'every gcloud command line of the plans passes the installed gcloud parser and stops at auth',
  SLOW,
  async (t) => {
    const commands = (await planLines()).filter((a) => !isMonitoring(a));
    assert.ok(
      commands.length >= 40,
      `expected the plans to hold at least 40 distinct gcloud lines, got ${commands.length}`,
    );
    await assertParsed(t, commands);
  },
);

test(
  'every monitoring line of the plans (metrics, alert policies, channel, dashboard) passes the parser',
  SLOW,
  async (t) => {
    const commands = (await planLines()).filter(isMonitoring);
    // describe/create/update/delete of a metric; list/create/update/delete of a policy, a channel, a dashboard.
    assert.equal(commands.length, 16, commands.map((a) => a.slice(0, 5).join(' ')).join('\n'));
    await assertParsed(t, commands);
  },
);

test('the parser check itself catches a bad flag', async () => {
  const r = await runGcloud([
    'gcloud',
    'functions',
    'deploy',
    'ingest',
    '--gen2',
    '--retries',
    '--project=sample-project',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unrecognized arguments: --retries/);
  assert.doesNotMatch(r.stderr, /active account/);
});
