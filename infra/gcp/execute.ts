// Carries out a plan: for each step, run its read-only check, then only the command that brings the
// project to the planned state. Commands go through an injected runner (tests fake it); Cloud Scheduler
// and Firebase Rules calls go through small ports (scheduler.ts, rules.ts).
import { StreamjoinError } from '../../shared/errors.ts';
import { describeExpectation, includes, type Json, unmetExpectations } from './expect.ts';
import { formatCommand } from './format.ts';
import type { Argv, GcloudStep, Plan, RulesStep, SchedulerJob, SchedulerJobStep, Step } from './plan.ts';

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

export type Outcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent' | 'resolved' | 'ran';

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
  /** Waits before retrying a step marked `retry` (IAM and new accounts take a while to propagate). */
  readonly retryDelaysMs?: readonly number[];
  /** Values for `${VARIABLES}` known before the run. */
  readonly variables?: Readonly<Record<string, string>>;
}

const NOT_FOUND = /NOT_FOUND|not found|does not exist|\b404\b/i;
/** Failures that go away once IAM or a new service account has propagated. */
const EVENTUALLY_CONSISTENT =
  /does not exist|not found|PERMISSION_DENIED|permission|propagat|try again|ABORTED|concurrent policy changes|\b409\b/i;

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

export async function executePlan(
  plan: Plan,
  run: CommandRunner,
  options: ExecuteOptions = {},
): Promise<ExecutionReport> {
  const log = options.log ?? (() => {});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const delays = options.retryDelaysMs ?? [5_000, 15_000, 30_000];
  const vars: Record<string, string> = { ...(options.variables ?? {}) };
  const checks = new Map<string, CheckResult>();
  const reports: StepReport[] = [];

  const runCheck = async (step: GcloudStep, argv: Argv): Promise<CheckResult> => {
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
      const delay = delays[attempt];
      if (step.retry !== true || delay === undefined || !EVENTUALLY_CONSISTENT.test(r.stderr))
        throw commandFailed(step, argv, r);
      log(`  failed (${lastLines(r.stderr, 1)}); retrying in ${delay / 1000} s`);
      await sleep(delay);
    }
    if (step.check !== undefined) checks.delete(JSON.stringify(substitute(step.check.argv, vars)));
  };

  const gcloudStep = async (step: GcloudStep): Promise<StepReport> => {
    const argv = substitute(step.argv, vars);
    if (step.check === undefined) {
      await apply(step, argv);
      return { id: step.id, title: step.title, outcome: 'ran' };
    }
    const check = await runCheck(step, substitute(step.check.argv, vars));
    const unmet = check.found ? unmetExpectations(check.doc, substitute(step.check.expect, vars)) : [];
    if (step.action === 'remove') {
      if (!check.found || unmet.length > 0) return { id: step.id, title: step.title, outcome: 'absent' };
      await apply(step, argv);
      return { id: step.id, title: step.title, outcome: 'deleted' };
    }
    if (!check.found) {
      await apply(step, argv);
      return { id: step.id, title: step.title, outcome: 'created' };
    }
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
