// The streamjoin CLI: operates the pipeline locally and on Google Cloud.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { stackDown, stackStatus, stackUp } from '../infra/local/stack.ts';
import { SETTINGS } from '../shared/config.ts';
import { describeError } from '../shared/errors.ts';
import { registerOpsCommands } from './ops-commands.ts';
import { fail, table } from './output.ts';

const program = new Command('streamjoin')
  .description('Join order and payment events into Apache Iceberg, serverless on Google Cloud.')
  .showHelpAfterError();

/** Setting flags shared by `local up` and `demo`: each maps to one variable of shared/config.ts. */
export const SETTING_FLAGS = {
  '--order-timeout <duration>': 'orderTimeoutMs',
  '--payment-timeout <duration>': 'paymentTimeoutMs',
  '--allowed-lateness <duration>': 'allowedLatenessMs',
  '--tick <duration>': 'tickIntervalMs',
  '--compact-every <duration>': 'compactIntervalMs',
  '--warehouse <uri>': 'warehouse',
  '--duplicate-delivery <p>': 'duplicateDelivery',
  '--input-bucket <name>': 'inputBucket',
  '--project <id>': 'projectId',
} as const satisfies Record<string, keyof typeof SETTINGS>;

export function addSettingFlags(cmd: Command): Command {
  for (const [flag, key] of Object.entries(SETTING_FLAGS)) {
    const s = SETTINGS[key];
    cmd.addOption(new Option(flag, `${s.description} (${s.env})`));
  }
  return cmd.option('--data-dir <dir>', 'where local data and logs live', '.streamjoin');
}

/** Flag values → environment overrides, validated by loadConfig later. */
export function settingEnv(opts: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [flag, key] of Object.entries(SETTING_FLAGS)) {
    const name = flag
      .split(' ')[0]!
      .slice(2)
      .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = opts[name];
    if (typeof v === 'string') env[SETTINGS[key].env] = v;
  }
  return env;
}

const local = program.command('local').description('the local stack: emulators, functions, scheduler');

addSettingFlags(local.command('up').description('start the whole pipeline locally in the background'))
  .option('--fresh', 'start from empty local data')
  .action(async (opts: Record<string, unknown>) => {
    const dataDir = String(opts['dataDir']);
    try {
      const rec = await stackUp({
        dataDir,
        env: settingEnv(opts),
        fresh: opts['fresh'] === true,
        log: (l) => console.log(l),
      });
      console.log(`\nlocal stack is up (data in ${rec.dataDir}):`);
      console.log(table(rec.services.map((s) => [s.name, `pid ${s.pid}`, s.url, s.logFile])));
      console.log(`\nwarehouse: ${rec.env['STREAMJOIN_WAREHOUSE']}`);
      console.log('stop it with: npx streamjoin local down');
    } catch (err) {
      fail(describeError(err));
    }
  });

local
  .command('down')
  .description('stop everything `local up` started')
  .option('--data-dir <dir>', 'where local data and logs live', '.streamjoin')
  .action(async (opts: { dataDir: string }) => {
    const n = await stackDown(opts.dataDir, (l) => console.log(l));
    console.log(n === 0 ? 'no local stack was running' : `stopped ${n} services`);
  });

local
  .command('status')
  .description('show each part of the local stack and its address')
  .option('--data-dir <dir>', 'where local data and logs live', '.streamjoin')
  .option('--json', 'machine-readable output')
  .action(async (opts: { dataDir: string; json?: boolean }) => {
    const st = await stackStatus(opts.dataDir);
    if (st === undefined) {
      if (opts.json) console.log(JSON.stringify({ running: false }));
      else console.log(`no local stack recorded in ${path.resolve(opts.dataDir)}`);
      process.exitCode = 3;
      return;
    }
    if (opts.json) {
      console.log(JSON.stringify({ running: st.services.every((s) => s.running), ...st }, null, 2));
      return;
    }
    console.log(
      table([
        ['service', 'state', 'pid', 'address', 'log'],
        ...st.services.map((s) => [
          s.name,
          !s.running ? 'STOPPED' : s.answering ? 'up' : 'NOT ANSWERING',
          String(s.pid),
          s.url,
          s.logFile,
        ]),
      ]),
    );
    if (!st.services.every((s) => s.running && s.answering)) process.exitCode = 1;
  });

registerOpsCommands(program);

program
  .command('deploy')
  .description(
    'deploy to Google Cloud: APIs, buckets, Firestore, service accounts, functions, scheduler jobs (idempotent)',
  )
  .requiredOption('--project <id>', 'Google Cloud project id')
  .requiredOption('--region <region>', 'region of the functions and buckets, e.g. europe-west1')
  .option(
    '--dry-run',
    'print every gcloud command and Scheduler request body, and run the read-only pre-flight checks; change nothing',
  )
  .action(async (o: { project: string; region: string; dryRun?: boolean }) => {
    try {
      const { runDeploy } = await import('../infra/gcp/deploy.ts');
      const r = await runDeploy({ project: o.project, region: o.region, dryRun: o.dryRun === true });
      // A dry run whose pre-flight found a problem (a taken bucket name) fails, as the deploy would.
      if (r.preflight.some((f) => f.level === 'error')) process.exitCode = 1;
    } catch (err) {
      fail(describeError(err));
    }
  });

program
  .command('destroy')
  .description('remove what deploy created (buckets and Firestore data only with --delete-data)')
  .requiredOption('--project <id>', 'Google Cloud project id')
  .requiredOption('--region <region>', 'region used by deploy')
  .option('--delete-data', 'also delete the buckets and the Firestore collections')
  .option('--dry-run', 'print the plan; touch nothing')
  .action(async (o: { project: string; region: string; deleteData?: boolean; dryRun?: boolean }) => {
    try {
      const { runDestroy } = await import('../infra/gcp/deploy.ts');
      await runDestroy({
        project: o.project,
        region: o.region,
        dryRun: o.dryRun === true,
        deleteData: o.deleteData === true,
      });
    } catch (err) {
      fail(describeError(err));
    }
  });

await program.parseAsync(process.argv);
