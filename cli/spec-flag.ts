// `--spec <file>`, the join spec a command runs with (STREAMJOIN_SPEC), shared by `local up`, `demo`
// and the commands that start things.
import * as path from 'node:path';
import type { Command } from 'commander';
import { SETTINGS } from '../shared/config.ts';

/** `--spec <file>`: the join spec (STREAMJOIN_SPEC; default specs/orders-payments.json). */
export function addSpecFlag(cmd: Command): Command {
  return cmd.option(
    '--spec <file>',
    `the join spec, JSON or YAML (${SETTINGS.spec.env}; default: the shipped specs/orders-payments.json)`,
  );
}

/**
 * The join spec the command runs with, as the environment of what it starts: --spec, else the
 * caller's STREAMJOIN_SPEC; an absolute path, so processes started elsewhere read the same file.
 */
export function specEnv(
  opts: Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const file = typeof opts['spec'] === 'string' ? opts['spec'] : env[SETTINGS.spec.env];
  return file === undefined || file === '' ? {} : { [SETTINGS.spec.env]: path.resolve(file) };
}
