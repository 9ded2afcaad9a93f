// Value parsers for command-line flags, in Commander's custom-option form: a bad value throws
// InvalidArgumentError, which Commander reports as one line naming the flag, what was expected and
// what came ("option '--limit <n>' argument '-5' is invalid. expected ...") — no stack trace.
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../shared/config.ts';

const bad = (expected: string, raw: string): never => {
  throw new InvalidArgumentError(`expected ${expected}, but was: ${JSON.stringify(raw)}`);
};

export function positiveInt(raw: string): number {
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) bad('a positive integer', raw);
  return n;
}

export function nonNegativeInt(raw: string): number {
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) bad('an integer ≥ 0', raw);
  return n;
}

export function nonNegativeNumber(raw: string): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0) bad('a number ≥ 0', raw);
  return n;
}

export function probability(raw: string): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) bad('a probability in [0, 1] such as 0.3', raw);
  return n;
}

/** A duration such as 90s, 5m, 1h30m → milliseconds (> 0). */
export function duration(raw: string): number {
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch {
    return bad('a duration such as 30s, 5m or 1h30m', raw);
  }
  if (ms <= 0) bad('a duration longer than 0 such as 30s, 5m or 1h30m', raw);
  return ms;
}

/** A duration kept as the text the user typed (passed on as a setting), validated now. */
export function durationText(raw: string): string {
  duration(raw);
  return raw;
}

/** An Iceberg snapshot id (a 64-bit integer). */
export function snapshotId(raw: string): bigint {
  if (!/^-?\d{1,20}$/.test(raw.trim()))
    bad('a snapshot id (an integer, see `streamjoin table snapshots`)', raw);
  return BigInt(raw.trim());
}

/** Appends "Examples:" to a command's --help. */
export function examples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
