// Runs gcloud for real: no prompts, output captured, a clear error when the Cloud CLI is missing.
import { spawn } from 'node:child_process';
import { StreamjoinError } from '../../shared/errors.ts';
import type { CommandResult, CommandRunner } from './execute.ts';

export interface ProcessRunnerOptions {
  readonly cwd?: string;
  /** Environment of each command (default: this process's), with prompts always disabled. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Kill a command after this long (default: none; a function build takes minutes). */
  readonly timeoutMs?: number;
}

export function createProcessRunner(o: ProcessRunnerOptions = {}): CommandRunner {
  return (argv) =>
    new Promise<CommandResult>((resolve, reject) => {
      const [cmd, ...args] = argv;
      if (cmd === undefined) {
        reject(new StreamjoinError('internal', 'expected a command, but the argument list was empty'));
        return;
      }
      const child = spawn(cmd, args, {
        cwd: o.cwd,
        env: { ...(o.env ?? process.env), CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: o.timeoutMs,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'ENOENT'
            ? new StreamjoinError(
                'config',
                `expected the Google Cloud CLI (${cmd}) on PATH, but it was not found: install it from cloud.google.com/sdk`,
              )
            : e,
        );
      });
      child.on('close', (code, signal) => {
        resolve({
          exitCode: code ?? (signal === null ? 1 : 128),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8') + (signal === null ? '' : `\n(killed by ${signal})`),
        });
      });
    });
}
