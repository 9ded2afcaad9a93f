// Prints a plan for --dry-run: every check, every gcloud command line (shell-quoted, runnable as shown
// once the ${VARIABLES} of the lookup steps are set) and every REST request body.
import { describeExpectation } from './expect.ts';
import { type Argv, type Plan, type RetryPolicy, ref, type Step } from './plan.ts';

export const SCHEDULER_ENDPOINT = 'https://cloudscheduler.googleapis.com';
export const RULES_ENDPOINT = 'https://firebaserules.googleapis.com';
/** Fields a deploy sets on a Cloud Scheduler job; an update replaces exactly these. */
export const JOB_UPDATE_MASK = [
  'description',
  'schedule',
  'time_zone',
  'http_target',
  'retry_config',
  'attempt_deadline',
] as const;

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

const RETRY_WORDS: Record<RetryPolicy, string> = {
  propagation: 'IAM propagation errors (5, 15, 30 s), never on a failed build',
  contention: 'contention and concurrent-operation errors (2 s, doubling, 5 times)',
};

/** One argument as a POSIX shell word. `${VAR}` stays expandable (double quotes). */
export function shellQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  if (/\$\{[A-Z_][A-Z0-9_]*\}/.test(arg)) {
    // A multi-line value (a JSON body): single-quoted text with each variable in double quotes, so it
    // reads as written and still expands.
    if (arg.includes('\n')) {
      return arg
        .split(/(\$\{[A-Z_][A-Z0-9_]*\})/)
        .filter((part) => part !== '')
        .map((part) => (part.startsWith('${') ? `"${part}"` : `'${part.replace(/'/g, `'\\''`)}'`))
        .join('');
    }
    return `"${arg.replace(/(["\\`])/g, '\\$1')}"`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const WIDTH = 100;

/** A command line; a long one continues (`\\`) on lines of flags packed up to the width. */
export function formatCommand(argv: Argv, indent = '', firstIndent = indent): string {
  const words = argv.map(shellQuote);
  const lines: string[] = [];
  let line = firstIndent;
  let fresh = true;
  for (const w of words) {
    // Positional words stay on the first line; flags wrap.
    if (!fresh && w.startsWith('-') && line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = `${indent}    ${w}`;
    } else {
      line += fresh ? w : ` ${w}`;
    }
    fresh = false;
  }
  lines.push(line);
  return lines.join(' \\\n');
}

function indentBlock(text: string, indent: string): string {
  return text
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

function formatStep(step: Step, n: number, total: number): string {
  const lines = [`[${n}/${total}] ${step.title}`];
  const I = '    ';
  switch (step.kind) {
    case 'gcloud': {
      if (step.check !== undefined) {
        lines.push(`${I}check:`, formatCommand(step.check.argv, `${I}  `));
        if (step.check.select !== undefined) {
          lines.push(
            `${I}the resource: the listed element whose ${step.check.select.path} = ${JSON.stringify(step.check.select.value)}${step.action === 'remove' ? ' (each one)' : ''}`,
          );
        }
        if (step.bind !== undefined) {
          lines.push(`${I}sets ${ref(step.bind.variable)} = its ${step.bind.path}`);
        }
        if (step.action === 'ensure') {
          for (const e of step.check.expect) lines.push(`${I}done when: ${describeExpectation(e)}`);
        } else {
          lines.push(`${I}skipped when missing${step.check.expect.length > 0 ? ', or unless:' : ''}`);
          for (const e of step.check.expect) lines.push(`${I}  ${describeExpectation(e)}`);
        }
      }
      const when = step.check === undefined ? 'run' : step.action === 'ensure' ? 'if missing' : 'if present';
      lines.push(`${I}${when}:`, formatCommand(step.argv, `${I}  `));
      for (const after of step.afterCreate ?? []) {
        lines.push(`${I}then, only after creating it:`, formatCommand(after, `${I}  `));
      }
      if (step.keepUnless !== undefined)
        lines.push(`${I}kept when present but not as above: ${step.keepUnless}`);
      if (step.retry !== undefined) lines.push(`${I}retried on ${RETRY_WORDS[step.retry]}`);
      if (step.action === 'ensure' && step.check !== undefined) {
        if (step.update === undefined) lines.push(`${I}if different: the same command`);
        else if ('manual' in step.update) lines.push(`${I}if different: stop — ${step.update.manual}`);
        else lines.push(`${I}if different:`, formatCommand(step.update, `${I}  `));
      }
      break;
    }
    case 'lookup':
      lines.push(`${formatCommand(step.argv, I, `${I}${step.variable}=$(`)})`);
      break;
    case 'wait': {
      lines.push(
        `${I}every ${step.intervalMs / 1000} s, for up to ${step.timeoutMs / 60_000} min:`,
        formatCommand(step.check.argv, `${I}  `),
      );
      for (const e of step.check.expect) lines.push(`${I}until: ${describeExpectation(e)}`);
      if (step.check.expect.length === 0) lines.push(`${I}until: it answers`);
      lines.push(`${I}on timeout: ${step.onTimeout}`);
      break;
    }
    case 'scheduler-job': {
      const base = `${SCHEDULER_ENDPOINT}/v1`;
      lines.push(`${I}check: GET ${base}/${step.name}`);
      if (step.action === 'remove') {
        lines.push(`${I}if present: DELETE ${base}/${step.name}`);
        break;
      }
      // As the client sends it: field paths by their proto names.
      const mask = JOB_UPDATE_MASK.join(',');
      lines.push(
        `${I}if missing: POST ${base}/${step.parent}/jobs`,
        `${I}if different: PATCH ${base}/${step.name}?updateMask=${mask}`,
        `${I}body:`,
        indentBlock(JSON.stringify(step.job, null, 2), `${I}  `),
      );
      break;
    }
    case 'firestore-rules': {
      const base = `${RULES_ENDPOINT}/v1`;
      lines.push(
        `${I}check: GET ${base}/${step.release} and GET ${base}/\${ITS_RULESET}; done when the ruleset holds these files`,
        `${I}if missing or different: POST ${base}/projects/${step.project}/rulesets`,
        `${I}body:`,
        indentBlock(JSON.stringify({ source: { files: step.files } }, null, 2), `${I}  `),
        `${I}then: PATCH ${base}/${step.release} (POST ${base}/projects/${step.project}/releases when there is none)`,
        `${I}body:`,
        indentBlock(
          JSON.stringify(
            { release: { name: step.release, rulesetName: ref('NEW_RULESET') }, updateMask: 'rulesetName' },
            null,
            2,
          ),
          `${I}  `,
        ),
      );
      break;
    }
  }
  return lines.join('\n');
}

export function formatPlan(plan: Plan): string {
  const total = plan.steps.length;
  const head = [
    `# streamjoin ${plan.kind} plan: project ${plan.project}, region ${plan.region}, ${total} steps`,
    plan.kind === 'deploy'
      ? '# Each step runs its read-only check first and changes only what is missing or different;'
      : '# Each step runs its read-only check first and deletes only what is there;',
    `# ${ref('NAME')} values come from the lookup steps. Nothing below has been run.`,
  ];
  if (plan.preflight !== undefined) {
    head.push(
      '# Pre-flight, before any step (read-only; a dry run runs it too):',
      `#   ${plan.preflight.projectNumber.map(shellQuote).join(' ')}`,
      ...plan.preflight.buckets.map(
        (b) =>
          `#   ${b.argv.map(shellQuote).join(' ')}\n#     → gs://${b.bucket} must be free (404) or this project's; 403 = taken by another project: set ${b.setting}`,
      ),
    );
  }
  head.push('');
  const body = plan.steps.map((s, i) => formatStep(s, i + 1, total)).join('\n\n');
  const width = Math.max(...plan.summary.map(([k]) => k.length));
  const summary = ['', '', plan.kind === 'deploy' ? 'When deployed:' : 'After destroy:'];
  for (const [k, v] of plan.summary) summary.push(`  ${`${k}:`.padEnd(width + 2)}${v}`);
  return `${head.join('\n')}\n${body}${summary.join('\n')}\n`;
}
