// Where a command acts: the local stack running from --data-dir, or a Google Cloud project named
// explicitly (`--project P`, or GOOGLE_CLOUD_PROJECT as the deployed functions have it). Never a silent
// fall-through: with no running stack and no project named, a command stops and says how to get one;
// a command that acts on a real project says so on stderr, after credentials were found (so nothing is
// sent to a project without them).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { isAlive } from '../infra/local/processes.ts';
import { readLastSettings, readStack, type StackRecord } from '../infra/local/stack.ts';
import { type Config, loadConfig } from '../shared/config.ts';
import { createStorageClient } from '../shared/storage/index.ts';
import { CliError } from './errors.ts';

export type Target =
  | {
      readonly kind: 'local';
      readonly config: Config;
      readonly dataDir: string;
      readonly record: StackRecord;
      /** The local GCS server (its /_admin/stats tells pending deliveries). */
      readonly gcsAdminUrl: string;
    }
  | { readonly kind: 'cloud'; readonly config: Config; readonly project: string; readonly source: string }
  | {
      /** A local stack that has stopped: its settings (warehouse) and saved rejects remain readable. */
      readonly kind: 'stopped-local';
      readonly config: Config;
      readonly dataDir: string;
    };

export interface TargetFlags {
  readonly dataDir: string;
  readonly project?: string | undefined;
  /** --data-dir was typed (not its default): a stopped stack there wins over GOOGLE_CLOUD_PROJECT. */
  readonly dataDirGiven?: boolean;
}

let dataDirGivenOnCommandLine = false;
/** Set by the CLI before each action (Commander knows whether --data-dir came from the command line). */
export function noteDataDirGiven(given: boolean): void {
  dataDirGivenOnCommandLine = given;
}

/** `--data-dir X` as the user typed it, for hints ('' when it is the default). */
export function dataDirFlag(dataDir: string): string {
  return dataDir === '.streamjoin' ? '' : ` --data-dir ${dataDir}`;
}

export function projectOption(): [string, string] {
  return [
    '--project <id>',
    'act on this Google Cloud project (the deployed pipeline) instead of the local stack',
  ];
}

/** True while every service of the recorded stack is alive. */
export function stackRunning(rec: StackRecord | undefined): rec is StackRecord {
  return rec !== undefined && rec.services.length > 0 && rec.services.every((s) => isAlive(s.pid));
}

/**
 * Resolves where to act, in this order: `--project` (Google Cloud); the local stack running from
 * --data-dir; what a stopped local stack left (`allowStopped`: its tables and saved rejects) when
 * --data-dir was typed; GOOGLE_CLOUD_PROJECT (Google Cloud); what a stopped stack in the default
 * --data-dir left. Otherwise a CliError naming the commands that fix it. `env`: tests pass their own.
 */
export async function resolveTarget(
  flags: TargetFlags,
  options: {
    readonly what: string;
    readonly allowStopped?: boolean;
    readonly env?: Record<string, string | undefined>;
    readonly announce?: (line: string) => void;
  },
): Promise<Target> {
  const env = options.env ?? process.env;
  const dir = path.resolve(flags.dataDir);
  const dd = dataDirFlag(flags.dataDir);
  const explicit =
    flags.project !== undefined
      ? { project: flags.project, source: '--project' }
      : env['GOOGLE_CLOUD_PROJECT'] !== undefined && env['GOOGLE_CLOUD_PROJECT'] !== ''
        ? { project: env['GOOGLE_CLOUD_PROJECT'], source: 'GOOGLE_CLOUD_PROJECT' }
        : undefined;
  const rec = readStack(dir);
  if (flags.project === undefined && stackRunning(rec)) {
    return {
      kind: 'local',
      config: loadConfig(rec.env),
      dataDir: dir,
      record: rec,
      gcsAdminUrl: rec.urls.storage,
    };
  }
  const last = readLastSettings(dir);
  const stopped =
    options.allowStopped === true && last !== undefined && (env['STREAMJOIN_WAREHOUSE'] ?? '') === ''
      ? ({ kind: 'stopped-local', config: loadConfig(last), dataDir: dir } as const)
      : undefined;
  const dataDirGiven = flags.dataDirGiven ?? dataDirGivenOnCommandLine;
  if (flags.project === undefined && stopped !== undefined && (dataDirGiven || explicit === undefined))
    return stopped;
  if (explicit !== undefined) {
    const config = loadConfig({ ...env, GOOGLE_CLOUD_PROJECT: explicit.project });
    await requireCredentials(config, options.what);
    (options.announce ?? ((l) => process.stderr.write(`${l}\n`)))(
      `streamjoin: ${options.what} in Google Cloud project ${config.projectId} (named by ${explicit.source}${rec === undefined ? '' : `; the local stack in ${dir} is not running`})`,
    );
    return { kind: 'cloud', config, project: config.projectId, source: explicit.source };
  }
  const stale = rec !== undefined;
  throw new CliError(
    stale
      ? `the local stack recorded in ${dir} is not running (it stopped without \`local down\`), and no Google Cloud project was named`
      : `no local stack runs from ${dir}${existsSync(dir) ? '' : ' (no such folder)'}, and no Google Cloud project was named`,
    {
      hint: `start the local stack with \`streamjoin local ${stale ? `down${dd} && streamjoin local ` : ''}up${dd}\`, point at another one with \`--data-dir\`, or name the deployed project with \`--project P\``,
    },
  );
}

/**
 * Fails with the fixing command unless Application Default Credentials are found — before any request
 * to the project. Skipped when both emulator hosts are set (the clients then use no credentials).
 */
export async function requireCredentials(config: Config, what: string): Promise<void> {
  if (config.firestoreEmulatorHost !== undefined && config.storageEmulatorHost !== undefined) return;
  const storage = createStorageClient({ projectId: config.projectId });
  try {
    await storage.authClient.getClient();
  } catch (err) {
    throw new CliError(
      `${what} in Google Cloud project ${config.projectId} needs credentials, and none were found: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      { hint: 'run `gcloud auth application-default login` (or use the local stack: `streamjoin local up`)' },
    );
  }
}

/**
 * `deploy` and `destroy` run gcloud: fail with the fixing command unless the Cloud CLI has an active
 * account (a local check: `gcloud config get-value account` reads the CLI's configuration only).
 */
export async function requireGcloudAccount(what: string): Promise<void> {
  const { createProcessRunner } = await import('../infra/gcp/runner.ts');
  const r = await createProcessRunner()(['gcloud', 'config', 'get-value', 'account']);
  if (r.exitCode !== 0 || r.stdout.trim() === '' || r.stdout.trim() === '(unset)') {
    throw new CliError(`${what} runs gcloud, and the Google Cloud CLI has no active account`, {
      hint: 'run `gcloud auth login` (and `gcloud auth application-default login`), or add `--dry-run` to see the plan',
    });
  }
}
