// `streamjoin deploy` and `streamjoin destroy`: read the configuration and the Firestore sources, plan,
// then print the plan (--dry-run) or carry it out with gcloud and the Scheduler and Rules APIs.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, loadConfig, SETTINGS } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import { cachedToken, createTokenAuth } from './auth.ts';
import {
  type CommandRunner,
  type ExecutionReport,
  executePlan,
  formatPreflight,
  type PreflightFinding,
  type RulesApi,
  runPreflight,
  type SchedulerApi,
  substitute,
} from './execute.ts';
import { formatPlan } from './format.ts';
import { parseFirestoreIndexes } from './indexes.ts';
import { type Plan, planDeploy, planDestroy } from './plan.ts';
import { createRulesApi } from './rules.ts';
import { createProcessRunner } from './runner.ts';
import { createSchedulerApi, createSchedulerClient } from './scheduler.ts';
import { loadDeploySettings } from './settings.ts';
import { hashSource, SOURCE_PATHS } from './source.ts';

export interface RunOptions {
  readonly project: string;
  readonly region: string;
  readonly dryRun?: boolean;
  /** Where the configuration comes from (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Repository root (default: two folders above this file). */
  readonly root?: string;
  /** Receives the plan (dry run) or the progress and the result. Default: stdout. */
  readonly out?: (text: string) => void;
  readonly runner?: CommandRunner;
  readonly scheduler?: SchedulerApi;
  readonly rules?: RulesApi;
  /** `deploy --alert-email`: the alert policies notify this address. */
  readonly alertEmail?: string | undefined;
  /** Stand-in endpoints (tests). */
  readonly schedulerEndpoint?: string;
  readonly rulesEndpoint?: string;
}

export interface RunResult {
  readonly plan: Plan;
  /** The pre-flight findings (a dry run that could not reach gcloud has none, and says why). */
  readonly preflight: readonly PreflightFinding[];
  /** Absent on a dry run. */
  readonly report?: ExecutionReport;
}

const DEFAULT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+\d+$/;

function validateTarget(project: string, region: string): void {
  const problems: string[] = [];
  if (!PROJECT.test(project))
    problems.push(
      `--project must be a Google Cloud project id (6-30 of a-z, 0-9, -), but was: ${JSON.stringify(project)}`,
    );
  if (!REGION.test(region))
    problems.push(
      `--region must be a Cloud Run region such as europe-west1, but was: ${JSON.stringify(region)}`,
    );
  if (problems.length > 0) throw new StreamjoinError('config', problems.join('\n'));
}

function resolveConfig(o: RunOptions): Config {
  validateTarget(o.project, o.region);
  return resolveDeployConfig(
    { ...(o.env ?? process.env), GOOGLE_CLOUD_PROJECT: o.project },
    o.root ?? DEFAULT_ROOT,
  );
}

/**
 * The configuration a deploy hands to the functions. A join spec (STREAMJOIN_SPEC) is checked for what
 * it says first, then for being in the upload: the functions get its path in the repository.
 */
export function resolveDeployConfig(env: Readonly<Record<string, string | undefined>>, root: string): Config {
  const spec = env[SETTINGS.spec.env];
  if (spec === undefined || spec === '') return loadConfig(env);
  const config = loadConfig({ ...env, [SETTINGS.spec.env]: path.resolve(spec) });
  return Object.freeze({ ...config, spec: deployedSpecPath(spec, root) });
}

/**
 * The repository-relative path a join spec has in the function upload (what the deployed functions get
 * as STREAMJOIN_SPEC), or a config error when the upload would not hold it (infra/gcp/source.ts).
 */
export function deployedSpecPath(spec: string, root: string): string {
  const abs = path.resolve(spec);
  const rel = path.relative(root, abs).split(path.sep).join('/');
  const uploaded =
    !rel.startsWith('../') &&
    !path.isAbsolute(rel) &&
    !rel.split('/').some((part) => part === 'node_modules' || part === 'dist') &&
    SOURCE_PATHS.some((p) => (p.endsWith('/') ? rel.startsWith(p) : rel === p));
  if (!uploaded) {
    throw new StreamjoinError(
      'config',
      `${SETTINGS.spec.env} (--spec) must name a file the deploy uploads, under ${SOURCE_PATHS.filter((p) => p.endsWith('/')).join(', ')} of ${root.replace(/\/$/, '')}, so the functions can read it; but ${JSON.stringify(spec)} is ${rel.startsWith('../') || path.isAbsolute(rel) ? 'outside the repository' : `not uploaded (${rel})`}: copy it into specs/`,
    );
  }
  return rel;
}

function defaultApis(o: RunOptions, runner: CommandRunner): { scheduler: SchedulerApi; rules: RulesApi } {
  const token = cachedToken(async () => {
    const r = await runner(['gcloud', 'auth', 'print-access-token']);
    if (r.exitCode !== 0 || r.stdout.trim() === '') {
      throw new StreamjoinError(
        'config',
        `expected an access token from \`gcloud auth print-access-token\` (run \`gcloud auth login\`), but it failed: ${r.stderr.trim()}`,
      );
    }
    return r.stdout.trim();
  });
  const auth = createTokenAuth(token, o.project);
  const client = createSchedulerClient(
    o.schedulerEndpoint === undefined
      ? { authClient: auth }
      : { authClient: auth, apiEndpoint: o.schedulerEndpoint },
  );
  return {
    scheduler: o.scheduler ?? createSchedulerApi(client),
    rules:
      o.rules ??
      createRulesApi(o.rulesEndpoint === undefined ? { auth } : { auth, endpoint: o.rulesEndpoint }),
  };
}

function formatSummary(plan: Plan, report: ExecutionReport): string {
  const counts = new Map<string, number>();
  for (const s of report.steps) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  const width = Math.max(...plan.summary.map(([k]) => k.length));
  const lines = [
    '',
    `${plan.kind === 'deploy' ? 'Deployed' : 'Destroyed'} in project ${plan.project}, region ${plan.region}: ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}`,
  ];
  for (const [k, v] of plan.summary) {
    let value = v;
    try {
      value = substitute(v, report.variables);
    } catch {
      // a value whose lookup did not run stays as written
    }
    lines.push(`  ${`${k}:`.padEnd(width + 2)}${value}`);
  }
  return `${lines.join('\n')}\n`;
}

async function carryOut(plan: Plan, o: RunOptions, root: string): Promise<RunResult> {
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const runner = o.runner ?? createProcessRunner({ cwd: root });
  if (o.dryRun === true) {
    out(formatPlan(plan));
    // The dry run changes nothing, but it does read: a taken bucket name is said before any deploy.
    let preflight: PreflightFinding[] = [];
    try {
      preflight = await runPreflight(plan, runner);
      out(`\n${formatPreflight(preflight)}`);
    } catch (err) {
      out(
        `\n# pre-flight not run (${err instanceof Error ? err.message : String(err)}); the deploy runs it first\n`,
      );
    }
    return { plan, preflight };
  }
  out(
    `streamjoin ${plan.kind}: project ${plan.project}, region ${plan.region}, ${plan.steps.length} steps\n`,
  );
  const preflight = await runPreflight(plan, runner);
  if (preflight.length > 0) out(formatPreflight(preflight));
  const errors = preflight.filter((f) => f.level === 'error');
  if (errors.length > 0) {
    throw new StreamjoinError(
      'config',
      `pre-flight found ${errors.length} problem(s); nothing was changed:\n  ${errors.map((e) => e.message).join('\n  ')}`,
      { context: { preflight: errors } },
    );
  }
  const apis = defaultApis(o, runner);
  const report = await executePlan(plan, runner, { ...apis, log: (line) => out(`${line}\n`) });
  out(formatSummary(plan, report));
  return { plan, preflight, report };
}

/** Reads what the deploy needs from the repository and plans it (no cloud calls). */
export async function prepareDeploy(o: RunOptions): Promise<Plan> {
  const root = o.root ?? DEFAULT_ROOT;
  const config = resolveConfig(o);
  const settings = loadDeploySettings(o.env ?? process.env);
  const [indexesText, rulesText, sourceHash] = await Promise.all([
    readFile(`${root}/firestore.indexes.json`, 'utf8'),
    readFile(`${root}/firestore.rules`, 'utf8'),
    hashSource(root),
  ]);
  return planDeploy(config, {
    project: o.project,
    region: o.region,
    indexes: parseFirestoreIndexes(indexesText),
    rules: { name: 'firestore.rules', content: rulesText },
    sourceHash,
    settings,
    alertEmail: o.alertEmail,
  });
}

/** `streamjoin deploy --project P --region R [--dry-run]` */
export async function runDeploy(o: RunOptions): Promise<RunResult> {
  return carryOut(await prepareDeploy(o), o, o.root ?? DEFAULT_ROOT);
}

/** `streamjoin destroy --project P --region R [--delete-data] [--dry-run]` */
export async function runDestroy(o: RunOptions & { readonly deleteData?: boolean }): Promise<RunResult> {
  const config = resolveConfig(o);
  const settings = loadDeploySettings(o.env ?? process.env);
  const plan = planDestroy(config, {
    project: o.project,
    region: o.region,
    deleteData: o.deleteData === true,
    settings,
  });
  return carryOut(plan, o, o.root ?? DEFAULT_ROOT);
}
