// Carries out a plan: for each step, run its read-only check, then only the command that brings the
// project to the planned state. Commands go through an injected runner (tests fake it); Cloud Scheduler
// and Firebase Rules calls go through small ports (scheduler.ts, rules.ts).
import { StreamjoinError } from '../../shared/errors.ts';
import { describeExpectation, includes, type Json, unmetExpectations, valueAt } from './expect.ts';
import { formatCommand } from './format.ts';
import type {
  Argv,
  BucketPreflight,
  Check,
  GcloudStep,
  Plan,
  RetryPolicy,
  RulesStep,
  SchedulerJob,
  SchedulerJobStep,
  Step,
  WaitStep,
} from './plan.ts';

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}
export type CommandRunner = (argv: Argv) => Promise<CommandResult>;

/** Cloud Scheduler, in the REST form of jobs (see scheduler.ts for the client adapter). */
export interface SchedulerApi {
  /** The job as the API returns it, or undefined when there is none. */
  getJob(name: string): Promise<Record<string, unknown> | undefined>;
  createJob(parent: string, job: SchedulerJob): Promise<void>;
  updateJob(job: SchedulerJob): Promise<void>;
  deleteJob(name: string): Promise<void>;
}

/** Firebase Rules API (see rules.ts). */
export interface RulesApi {
  getRelease(name: string): Promise<{ rulesetName: string } | undefined>;
  getRulesetFiles(rulesetName: string): Promise<{ name: string; content: string }[]>;
  createRuleset(project: string, files: readonly { name: string; content: string }[]): Promise<string>;
  createRelease(project: string, name: string, rulesetName: string): Promise<void>;
  updateRelease(name: string, rulesetName: string): Promise<void>;
}

export type Outcome =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'deleted'
  | 'absent'
  | 'kept'
  | 'resolved'
  | 'ran'
  | 'ready';

export interface StepReport {
  readonly id: string;
  readonly title: string;
  readonly outcome: Outcome;
  readonly detail?: string;
}

export interface ExecutionReport {
  readonly steps: readonly StepReport[];
  readonly variables: Readonly<Record<string, string>>;
}

export interface ExecuteOptions {
  readonly scheduler?: SchedulerApi;
  readonly rules?: RulesApi;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Waits before each retry of a step, by its retry policy (default RETRY_DELAYS_MS). */
  readonly retryDelaysMs?: Partial<Record<RetryPolicy, readonly number[]>>;
  /** Current time, for wait steps (default Date.now). */
  readonly now?: () => number;
  /** Values for `${VARIABLES}` known before the run. */
  readonly variables?: Readonly<Record<string, string>>;
}

const NOT_FOUND = /NOT_FOUND|not found|does not exist|\b404\b/i;

/** Failures that go away by themselves, by retry policy (the waits grow: propagation and contention both clear in seconds to a minute). */
export const RETRYABLE: Readonly<Record<RetryPolicy, RegExp>> = {
  propagation:
    /does not exist|not found|PERMISSION_DENIED|permission|propagat|try again|ABORTED|concurrent policy changes|\b409\b/i,
  contention:
    /ABORTED|\b409\b|contention|concurrent|FAILED_PRECONDITION|in progress|try again|UNAVAILABLE|\b429\b|RESOURCE_EXHAUSTED|\b503\b/i,
};
export const RETRY_DELAYS_MS: Readonly<Record<RetryPolicy, readonly number[]>> = {
  propagation: [5_000, 15_000, 30_000],
  contention: [2_000, 5_000, 10_000, 20_000, 40_000],
};
/**
 * Failures that fail the same way however often they are retried, whatever else they say: a function
 * build that failed on the code or its dependencies. gcloud reports the build's own log lines, which
 * may well contain "not found" or "permission" (a missing module, a package that could not be read).
 * (INVALID_ARGUMENT is not among them: IAM answers it for a service account it cannot see yet.)
 */
export const DETERMINISTIC = /Build failed|build failed|BUILD_FAILED|npm ERR!|npm error|error TS\d+/;

/** Whether a failed command of a step with this retry policy is worth another try. */
export function isRetryableFailure(policy: RetryPolicy | undefined, stderr: string): boolean {
  if (policy === undefined || DETERMINISTIC.test(stderr)) return false;
  return RETRYABLE[policy].test(stderr);
}

const VARIABLE = /\$\{([A-Z_][A-Z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string of `value`; an unknown name is a bug in the plan. */
export function substitute<T>(value: T, vars: Readonly<Record<string, string>>): T {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (_, name: string) => {
      const v = vars[name];
      if (v === undefined) {
        throw new StreamjoinError(
          'internal',
          `plan uses \${${name}} but no earlier step set it; set: ${Object.keys(vars).join(', ') || 'none'}`,
        );
      }
      return v;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)])) as T;
  }
  return value;
}

function lastLines(text: string, n = 8): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function commandFailed(step: Step, argv: Argv, r: CommandResult): StreamjoinError {
  return new StreamjoinError(
    'internal',
    `step "${step.title}" failed: expected exit code 0 from\n  ${formatCommand(argv)}\nbut it exited ${r.exitCode}:\n${lastLines(r.stderr || r.stdout)}`,
    { context: { step: step.id, argv, exitCode: r.exitCode, stderr: r.stderr } },
  );
}

type CheckResult = { found: false } | { found: true; doc: unknown };

/**
 * The step's resource in a check's answer: the answer itself, or with `select` the list elements whose
 * value at the path is the value (the first is the resource; a removal takes them all).
 */
export function selectResources(check: Check, result: CheckResult): unknown[] {
  if (!result.found) return [];
  if (check.select === undefined) return [result.doc];
  const { path, value } = check.select;
  if (!Array.isArray(result.doc)) {
    throw new StreamjoinError(
      'internal',
      `expected a JSON list from ${formatCommand(check.argv)} (to find the element with ${path} = ${JSON.stringify(value)}), but got: ${JSON.stringify(result.doc)?.slice(0, 200)}`,
    );
  }
  return result.doc.filter((e) => valueAt(e, path) === value);
}

export async function executePlan(
  plan: Plan,
  run: CommandRunner,
  options: ExecuteOptions = {},
): Promise<ExecutionReport> {
  const log = options.log ?? (() => {});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const delays = { ...RETRY_DELAYS_MS, ...(options.retryDelaysMs ?? {}) };
  const vars: Record<string, string> = { ...(options.variables ?? {}) };
  const checks = new Map<string, CheckResult>();
  const reports: StepReport[] = [];

  const runCheck = async (step: GcloudStep | WaitStep, argv: Argv): Promise<CheckResult> => {
    const key = JSON.stringify(argv);
    const cached = checks.get(key);
    if (cached !== undefined) return cached;
    const r = await run(argv);
    let result: CheckResult;
    if (r.exitCode === 0) {
      let doc: unknown = null;
      if (r.stdout.trim() !== '') {
        try {
          doc = JSON.parse(r.stdout);
        } catch {
          throw new StreamjoinError(
            'internal',
            `step "${step.title}": expected JSON from ${formatCommand(argv)}, but got: ${r.stdout.slice(0, 200)}`,
          );
        }
      }
      result = { found: true, doc };
    } else if (NOT_FOUND.test(r.stderr)) {
      result = { found: false };
    } else {
      throw commandFailed(step, argv, r);
    }
    checks.set(key, result);
    return result;
  };

  const apply = async (step: GcloudStep, argv: Argv): Promise<void> => {
    log(`  running: ${formatCommand(argv)}`);
    for (let attempt = 0; ; attempt++) {
      const r = await run(argv);
      if (r.exitCode === 0) break;
      const delay = step.retry === undefined ? undefined : delays[step.retry][attempt];
      if (delay === undefined || !isRetryableFailure(step.retry, r.stderr))
        throw commandFailed(step, argv, r);
      log(`  failed (${lastLines(r.stderr, 1)}); retrying in ${delay / 1000} s`);
      await sleep(delay);
    }
    if (step.check !== undefined) checks.delete(JSON.stringify(substitute(step.check.argv, vars)));
  };

  /** Binds the step's variable from a resource; a resource without the value is a bug in the plan. */
  const bindFrom = (step: GcloudStep, resource: unknown): void => {
    if (step.bind === undefined) return;
    const v = valueAt(resource, step.bind.path);
    if (typeof v !== 'string' || v === '') {
      throw new StreamjoinError(
        'internal',
        `step "${step.title}": expected a string at ${step.bind.path} of the resource (for \${${step.bind.variable}}), but got: ${JSON.stringify(v)}`,
      );
    }
    vars[step.bind.variable] = v;
  };

  const gcloudStep = async (step: GcloudStep): Promise<StepReport> => {
    if (step.check === undefined) {
      await apply(step, substitute(step.argv, vars));
      return { id: step.id, title: step.title, outcome: 'ran' };
    }
    const checkArgv = substitute(step.check.argv, vars);
    const resources = selectResources(step.check, await runCheck(step, checkArgv));
    const found = resources.length > 0;
    const expect = substitute(step.check.expect, vars);
    const unmet = found ? unmetExpectations(resources[0], expect) : [];
    if (step.action === 'remove') {
      if (found && unmet.length > 0 && step.keepUnless !== undefined)
        return { id: step.id, title: step.title, outcome: 'kept', detail: step.keepUnless };
      if (!found || unmet.length > 0) return { id: step.id, title: step.title, outcome: 'absent' };
      // A listed resource found by its label may be there more than once (a deploy interrupted
      // between a create and its check): every one goes.
      const each = step.check.select === undefined ? resources.slice(0, 1) : resources;
      for (const r of each) {
        bindFrom(step, r);
        await apply(step, substitute(step.argv, vars));
      }
      return {
        id: step.id,
        title: step.title,
        outcome: 'deleted',
        ...(each.length > 1 ? { detail: `${each.length} of them` } : {}),
      };
    }
    if (!found) {
      await apply(step, substitute(step.argv, vars));
      for (const after of step.afterCreate ?? []) await apply(step, substitute(after, vars));
      if (step.bind !== undefined) {
        const fresh = selectResources(step.check, await runCheck(step, checkArgv));
        if (fresh.length === 0) {
          throw new StreamjoinError(
            'unavailable',
            `step "${step.title}": created, but ${formatCommand(checkArgv)} does not show it yet; run the deploy again`,
          );
        }
        bindFrom(step, fresh[0]);
      }
      return { id: step.id, title: step.title, outcome: 'created' };
    }
    bindFrom(step, resources[0]);
    if (unmet.length === 0) return { id: step.id, title: step.title, outcome: 'unchanged' };
    const detail = `differs: ${unmet.map(describeExpectation).join('; ')}`;
    if (step.update !== undefined && 'manual' in step.update) {
      throw new StreamjoinError('config', `step "${step.title}": ${step.update.manual} (${detail})`, {
        context: { step: step.id },
      });
    }
    await apply(step, substitute(step.update ?? step.argv, vars));
    return { id: step.id, title: step.title, outcome: 'updated', detail };
  };

  const waitStep = async (step: WaitStep): Promise<StepReport> => {
    const argv = substitute(step.check.argv, vars);
    const expect = substitute(step.check.expect, vars);
    const deadline = now() + step.timeoutMs;
    for (let polls = 1; ; polls++) {
      checks.delete(JSON.stringify(argv)); // always a fresh answer
      const check = await runCheck(step, argv);
      const unmet = check.found ? unmetExpectations(check.doc, expect) : expect;
      if (check.found && unmet.length === 0) {
        return { id: step.id, title: step.title, outcome: 'ready', detail: `after ${polls} check(s)` };
      }
      if (now() + step.intervalMs > deadline) {
        throw new StreamjoinError(
          'unavailable',
          `step "${step.title}": still waiting after ${Math.round(step.timeoutMs / 1000)} s for ${check.found ? unmet.map(describeExpectation).join('; ') : 'it to exist'}: ${step.onTimeout}`,
          { context: { step: step.id } },
        );
      }
      log(`  waiting: ${check.found ? unmet.map(describeExpectation).join('; ') : 'not there yet'}`);
      await sleep(step.intervalMs);
    }
  };

  const schedulerStep = async (step: SchedulerJobStep): Promise<StepReport> => {
    const api = options.scheduler;
    if (api === undefined)
      throw new StreamjoinError('internal', 'plan has Cloud Scheduler steps but no scheduler API was given');
    const existing = await api.getJob(step.name);
    if (step.action === 'remove') {
      if (existing === undefined) return { id: step.id, title: step.title, outcome: 'absent' };
      await api.deleteJob(step.name);
      return { id: step.id, title: step.title, outcome: 'deleted' };
    }
    if (step.job === undefined)
      throw new StreamjoinError('internal', `scheduler step ${step.id} has no job to create`);
    const job = substitute(step.job, vars);
    if (existing === undefined) {
      await api.createJob(step.parent, job);
      return { id: step.id, title: step.title, outcome: 'created' };
    }
    if (includes(existing, job as unknown as Json))
      return { id: step.id, title: step.title, outcome: 'unchanged' };
    await api.updateJob(job);
    return { id: step.id, title: step.title, outcome: 'updated' };
  };

  const rulesStep = async (step: RulesStep): Promise<StepReport> => {
    const api = options.rules;
    if (api === undefined)
      throw new StreamjoinError('internal', 'plan has a Firestore rules step but no rules API was given');
    const release = await api.getRelease(step.release);
    if (release !== undefined) {
      const current = await api.getRulesetFiles(release.rulesetName);
      const same =
        current.length === step.files.length &&
        step.files.every((f) => current.some((c) => c.name === f.name && c.content === f.content));
      if (same) return { id: step.id, title: step.title, outcome: 'unchanged' };
    }
    const ruleset = await api.createRuleset(step.project, step.files);
    if (release === undefined) {
      await api.createRelease(step.project, step.release, ruleset);
      return { id: step.id, title: step.title, outcome: 'created', detail: ruleset };
    }
    await api.updateRelease(step.release, ruleset);
    return { id: step.id, title: step.title, outcome: 'updated', detail: ruleset };
  };

  for (const step of plan.steps) {
    let report: StepReport;
    switch (step.kind) {
      case 'gcloud':
        report = await gcloudStep(step);
        break;
      case 'lookup': {
        const argv = substitute(step.argv, vars);
        const r = await run(argv);
        if (r.exitCode !== 0 || r.stdout.trim() === '') throw commandFailed(step, argv, r);
        vars[step.variable] = r.stdout.trim();
        report = {
          id: step.id,
          title: step.title,
          outcome: 'resolved',
          detail: `${step.variable}=${vars[step.variable]}`,
        };
        break;
      }
      case 'wait':
        report = await waitStep(step);
        break;
      case 'scheduler-job':
        report = await schedulerStep(step);
        break;
      case 'firestore-rules':
        report = await rulesStep(step);
        break;
    }
    log(
      `${report.outcome.padEnd(9)} ${report.title}${report.detail === undefined ? '' : ` (${report.detail})`}`,
    );
    reports.push(report);
  }
  return { steps: reports, variables: vars };
}

// ---------------------------------------------------------------------------------------------------
// Pre-flight: read-only checks before anything changes (and in --dry-run)

export interface PreflightFinding {
  readonly id: string;
  readonly level: 'ok' | 'error';
  readonly message: string;
}

/** Cloud Storage's answer when a bucket exists but the caller may not see it: another project owns it. */
const DENIED =
  /\b403\b|PERMISSION_DENIED|does not have (storage\.buckets\.get|permission)|AccessDenied|Forbidden/i;

/** Classifies the answer of `gcloud storage buckets describe gs://B --raw` for a bucket the deploy needs. */
export function judgeBucket(
  b: BucketPreflight,
  project: string,
  projectNumber: string | undefined,
  r: CommandResult,
): PreflightFinding {
  const id = `bucket:${b.bucket}`;
  const fix = `bucket names are global: set ${b.setting} to a name of your own (for example ${project}-${b.what === 'input bucket' ? 'orders-in' : 'lake'}${b.setting.endsWith('WAREHOUSE') ? ', as gs://NAME/' : ''}) and run again`;
  if (r.exitCode === 0) {
    let owner: unknown;
    try {
      owner = (JSON.parse(r.stdout) as { projectNumber?: unknown }).projectNumber;
    } catch {
      owner = undefined;
    }
    if (projectNumber !== undefined && owner !== undefined && String(owner) !== projectNumber) {
      return {
        id,
        level: 'error',
        message: `gs://${b.bucket} (${b.what}) belongs to project number ${String(owner)}, not to ${project} (${projectNumber}): the deploy would change another project's bucket, and an ingest trigger needs its bucket in its own project; ${fix}`,
      };
    }
    return {
      id,
      level: 'ok',
      message: `gs://${b.bucket} (${b.what}) exists in ${project}: kept and adopted (destroy never deletes it)`,
    };
  }
  if (NOT_FOUND.test(r.stderr) && !DENIED.test(r.stderr)) {
    return { id, level: 'ok', message: `gs://${b.bucket} (${b.what}) is free: the deploy creates it` };
  }
  if (DENIED.test(r.stderr)) {
    return {
      id,
      level: 'error',
      message: `gs://${b.bucket} (${b.what}) is taken: Cloud Storage answered 403 (it exists and belongs to another project, or you lack storage.buckets.get in ${project}); ${fix}`,
    };
  }
  return {
    id,
    level: 'error',
    message: `could not check gs://${b.bucket} (${b.what}): ${lastLines(r.stderr || r.stdout, 3)}`,
  };
}

/** Runs the plan's pre-flight checks (read-only). Empty when the plan has none. */
export async function runPreflight(plan: Plan, run: CommandRunner): Promise<PreflightFinding[]> {
  const pre = plan.preflight;
  if (pre === undefined) return [];
  const findings: PreflightFinding[] = [];
  const n = await run(pre.projectNumber);
  const projectNumber = n.exitCode === 0 && /^\d+$/.test(n.stdout.trim()) ? n.stdout.trim() : undefined;
  if (projectNumber === undefined) {
    findings.push({
      id: 'project',
      level: 'error',
      message: `expected the number of project ${plan.project} from \`${formatCommand(pre.projectNumber)}\`, but it failed (does the project exist, and are you logged in with \`gcloud auth login\`?): ${lastLines(n.stderr || n.stdout, 2)}`,
    });
  }
  for (const b of pre.buckets) findings.push(judgeBucket(b, plan.project, projectNumber, await run(b.argv)));
  return findings;
}

export function formatPreflight(findings: readonly PreflightFinding[]): string {
  if (findings.length === 0) return '';
  const lines = ['# pre-flight (read-only checks, run now):'];
  for (const f of findings) lines.push(`#   ${f.level === 'ok' ? 'ok   ' : 'ERROR'} ${f.message}`);
  return `${lines.join('\n')}\n`;
}
