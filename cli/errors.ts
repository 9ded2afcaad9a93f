// How the CLI reports failure: an expected condition (no local stack, no credentials, a missing file,
// a bad setting) is one line saying what is missing and a second naming the command that fixes it —
// never a stack trace. `--debug` (or STREAMJOIN_DEBUG=1) adds the trace for any error.
import { StreamjoinError } from '../shared/errors.ts';

/** An expected condition the user can fix: `hint` names the command or flag that does. */
export class CliError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Ctrl-C (SIGINT/SIGTERM) stopped a command; `phase` is where it was. */
export class Interrupted extends Error {
  readonly phase: string;

  constructor(phase: string) {
    super(`interrupted during ${phase}`);
    this.name = 'Interrupted';
    this.phase = phase;
  }
}

export interface Explained {
  readonly message: string;
  readonly hint?: string;
  /** False for a bug or an unknown failure (the message suggests --debug). */
  readonly expected: boolean;
}

/** What the CLI knows about where it was pointed, to make hints concrete. */
export interface ExplainContext {
  /** `--data-dir X` as the user should type it again ('' for the default). */
  readonly dataDirFlag?: string;
}

const CREDENTIALS_HINT =
  'run `gcloud auth application-default login` (or use the local stack: `streamjoin local up`)';

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string')
    return (err as { message: string }).message;
  return String(err);
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** Pure: the message and the fixing command for an error (table-tested in test/unit/cli-errors.test.ts). */
export function explainError(err: unknown, ctx: ExplainContext = {}): Explained {
  const dd = ctx.dataDirFlag ?? '';
  if (err instanceof CliError)
    return { message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }), expected: true };
  if (err instanceof Interrupted) return { message: err.message, expected: true };
  if (err instanceof StreamjoinError && err.kind === 'config')
    return { message: err.message, expected: true };
  const msg = messageOf(err);
  const code = codeOf(err);
  if (
    code === 'NO_ADC_FOUND' ||
    /Could not load the default credentials|Unable to read the credential file|Could not refresh access token|invalid_grant|reauth/i.test(
      msg,
    )
  ) {
    return {
      message: `no usable Google Cloud credentials (Application Default Credentials): ${msg.split('\n')[0]}`,
      hint: CREDENTIALS_HINT,
      expected: true,
    };
  }
  if (code === 7 || code === 403 || /PERMISSION_DENIED/.test(msg)) {
    return {
      message: `permission denied by Google Cloud: ${msg.split('\n')[0]}`,
      hint: 'check the account (`gcloud auth list`) and its roles on the project',
      expected: true,
    };
  }
  if (code === 'ECONNREFUSED' || code === 14 || /ECONNREFUSED|No connection established/.test(msg)) {
    return {
      message: `a service did not answer: ${msg.split('\n')[0]}`,
      hint: `is the local stack running? \`streamjoin local status${dd}\` (restart: \`streamjoin local down${dd}\` then \`streamjoin local up${dd}\`)`,
      expected: true,
    };
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') {
    return { message: msg, expected: true };
  }
  if (err instanceof StreamjoinError && err.kind === 'not-found') {
    return {
      message: msg,
      hint: 'nothing has been committed there yet: run `streamjoin drain`, or check `--data-dir` / STREAMJOIN_WAREHOUSE',
      expected: true,
    };
  }
  if (err instanceof StreamjoinError && err.kind === 'invalid-input') return { message: msg, expected: true };
  return { message: msg, expected: false };
}

export function debugEnabled(argv: readonly string[] = process.argv): boolean {
  return argv.includes('--debug') || /^(1|true|yes)$/i.test(process.env['STREAMJOIN_DEBUG'] ?? '');
}

/** The lines printed on stderr for a failure (without the trace unless debug). */
export function formatFailure(err: unknown, ctx: ExplainContext, debug: boolean): string {
  const e = explainError(err, ctx);
  const lines = [`streamjoin: ${e.message}`];
  if (e.hint !== undefined) lines.push(`  fix: ${e.hint}`);
  if (debug) lines.push(err instanceof Error && err.stack !== undefined ? err.stack : String(err));
  else if (!e.expected) lines.push('  (run again with --debug for the stack trace)');
  return `${lines.join('\n')}\n`;
}

/** Prints a failure and exits (1, or the CliError's code, or 130 when interrupted). */
export function exitWithFailure(err: unknown, ctx: ExplainContext = {}): never {
  process.stderr.write(formatFailure(err, ctx, debugEnabled()));
  process.exit(err instanceof CliError ? err.exitCode : err instanceof Interrupted ? 130 : 1);
}
