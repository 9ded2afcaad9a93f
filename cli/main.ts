// The streamjoin CLI: operates the pipeline locally and on Google Cloud.
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { freeLocalPorts } from '../infra/local/ports.ts';
import { stackDown, stackStatus, stackUp } from '../infra/local/stack.ts';
import { SETTINGS } from '../shared/config.ts';
import { exitWithFailure, Interrupted } from './errors.ts';
import { act, interruptible, registerOpsCommands, reportInterrupted } from './ops-commands.ts';
import { examples } from './options.ts';
import { table } from './output.ts';
import { registerReconcileCommands } from './reconcile-commands.ts';
import { addSpecFlag, specEnv } from './spec-flag.ts';
import { registerStatusCommand } from './status.ts';
import { dataDirFlag, noteDataDirGiven, requireGcloudAccount } from './target.ts';

// Anything that escapes a command (a library's stray rejection) is still one message, trace on --debug.
process.on('uncaughtException', (err) => exitWithFailure(err));
process.on('unhandledRejection', (err) => exitWithFailure(err));

const program = new Command('streamjoin')
  .description('Join order and payment events into Apache Iceberg, serverless on Google Cloud.')
  .option('--debug', 'print the stack trace of an error')
  .showHelpAfterError('(add --help for usage and examples)')
  .hook('preAction', (_program, action) =>
    noteDataDirGiven(action.getOptionValueSource('dataDir') === 'cli'),
  );
examples(
  program,
  'npm start                                   # the whole pipeline locally: streamjoin demo',
  'streamjoin local up && streamjoin produce --count 50 --rate 0 && streamjoin drain && streamjoin table show',
  'streamjoin rejects --since 1h',
  'streamjoin deploy --project my-project --region europe-west1 --dry-run',
);

/** Setting flags shared by `local up` and `demo`: each maps to one variable of shared/config.ts. */
export const SETTING_FLAGS = {
  '--order-timeout <duration>': 'orderTimeoutMs',
  '--payment-timeout <duration>': 'paymentTimeoutMs',
  '--allowed-lateness <duration>': 'allowedLatenessMs',
  '--tick <duration>': 'tickIntervalMs',
  '--compact-every <duration>': 'compactIntervalMs',
  '--warehouse <uri>': 'warehouse',
  '--duplicate-delivery <p>': 'duplicateDelivery',
  '--drop-delivery <p>': 'dropDelivery',
  '--input-bucket <name>': 'inputBucket',
  '--project <id>': 'projectId',
} as const satisfies Record<string, keyof typeof SETTINGS>;

export function addSettingFlags(cmd: Command): Command {
  for (const [flag, key] of Object.entries(SETTING_FLAGS)) {
    const s = SETTINGS[key];
    cmd.addOption(
      new Option(flag, `${s.description} (${s.env})`).argParser((raw: string) => {
        try {
          (s.parse as (v: string) => unknown)(raw);
        } catch {
          throw new InvalidArgumentError(`expected ${s.expected}, but was: ${JSON.stringify(raw)}`);
        }
        return raw;
      }),
    );
  }
  return addSpecFlag(cmd).option('--data-dir <dir>', 'where local data and logs live', '.streamjoin');
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
  return { ...env, ...specEnv(opts) };
}

const local = program.command('local').description('the local stack: emulators, functions, scheduler');
examples(
  local,
  'streamjoin local up --order-timeout 20s',
  'streamjoin local status',
  'streamjoin local down',
);

const up = addSettingFlags(
  local.command('up').description('start the whole pipeline locally in the background'),
)
  .option('--fresh', 'start from empty local data')
  .option('--free-ports', "use free loopback ports instead of firebase.json's (beside another stack)");
examples(
  up,
  'streamjoin local up',
  'streamjoin local up --data-dir /tmp/sj --order-timeout 20s --tick 1s --duplicate-delivery 0.3 --free-ports',
);
up.action(
  act(async (opts: Record<string, unknown>) => {
    const dataDir = String(opts['dataDir']);
    try {
      const ports = opts['freePorts'] === true ? await freeLocalPorts() : undefined;
      const rec = await interruptible(
        dataDir,
        () => 'stack start',
        (signal) =>
          stackUp({
            dataDir,
            env: settingEnv(opts),
            fresh: opts['fresh'] === true,
            log: (l) => console.log(l),
            signal,
            ...(ports === undefined ? {} : { ports }),
          }),
      );
      console.log(`\nlocal stack is up (data in ${rec.dataDir}):`);
      console.log(table(rec.services.map((s) => [s.name, `pid ${s.pid}`, s.url, s.logFile])));
      console.log(`\nwarehouse: ${rec.env['STREAMJOIN_WAREHOUSE']}`);
      console.log(`stop it with: npx streamjoin local down${dataDirFlag(dataDir)}`);
    } catch (err) {
      if (err instanceof Interrupted) reportInterrupted(err, dataDir);
      throw err;
    }
  }),
);

const down = local
  .command('down')
  .description('stop everything `local up` started (the rejects are saved to <data-dir>/rejects.jsonl)')
  .option('--data-dir <dir>', 'where local data and logs live', '.streamjoin');
examples(down, 'streamjoin local down', 'streamjoin local down --data-dir /tmp/sj');
down.action(
  act(async (opts: { dataDir: string }) => {
    const n = await stackDown(opts.dataDir, (l) => console.log(l));
    console.log(
      n === 0 ? `no local stack was running from ${path.resolve(opts.dataDir)}` : `stopped ${n} services`,
    );
  }),
);

const localStatus = local
  .command('status')
  .description('show each part of the local stack and its address')
  .option('--data-dir <dir>', 'where local data and logs live', '.streamjoin')
  .option('--json', 'machine-readable output');
examples(localStatus, 'streamjoin local status', 'streamjoin local status --json');
localStatus.action(
  act(async (opts: { dataDir: string; json?: boolean }) => {
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
  }),
);

registerOpsCommands(program);
registerStatusCommand(program);
registerReconcileCommands(program);

const deploy = program
  .command('deploy')
  .description(
    'deploy to Google Cloud: APIs, buckets, Firestore, service accounts, functions, scheduler jobs (idempotent)',
  )
  .requiredOption('--project <id>', 'Google Cloud project id')
  .requiredOption('--region <region>', 'region of the functions and buckets, e.g. europe-west1')
  .option(
    '--alert-email <address>',
    'e-mail the alerts (no commit, ingest failing, flush failing, eviction lag, rejects, reconciliation) to this address',
  )
  .option(
    '--dry-run',
    'print every gcloud command and Scheduler request body, and run the read-only pre-flight checks; change nothing',
  )
  .option(
    '--spec <file>',
    `the join spec the functions run with, a file under specs/ (${SETTINGS.spec.env}; default: specs/orders-payments.json)`,
  );
examples(
  deploy,
  'streamjoin deploy --project my-project --region europe-west1 --dry-run',
  'streamjoin deploy --project my-project --region europe-west1',
  'streamjoin deploy --project my-project --region europe-west1 --dry-run --spec specs/orders-payments.json',
  'streamjoin deploy --project my-project --region europe-west1 --alert-email oncall@example.com',
);
deploy.action(
  act(
    async (o: { project: string; region: string; dryRun?: boolean; spec?: string; alertEmail?: string }) => {
      if (o.dryRun !== true) await requireGcloudAccount(`deploy to project ${o.project}`);
      const { runDeploy } = await import('../infra/gcp/deploy.ts');
      const r = await runDeploy({
        project: o.project,
        region: o.region,
        dryRun: o.dryRun === true,
        ...(o.spec === undefined ? {} : { env: { ...process.env, [SETTINGS.spec.env]: o.spec } }),
        alertEmail: o.alertEmail,
      });
      // A dry run whose pre-flight found a problem (a taken bucket name) fails, as the deploy would.
      if (r.preflight.some((f) => f.level === 'error')) process.exitCode = 1;
    },
  ),
);

const destroy = program
  .command('destroy')
  .description('remove what deploy created (buckets and Firestore data only with --delete-data)')
  .requiredOption('--project <id>', 'Google Cloud project id')
  .requiredOption('--region <region>', 'region used by deploy')
  .option('--delete-data', 'also delete the buckets and the Firestore collections')
  .option('--dry-run', 'print the plan; touch nothing');
examples(
  destroy,
  'streamjoin destroy --project my-project --region europe-west1 --dry-run',
  'streamjoin destroy --project my-project --region europe-west1 --delete-data',
);
destroy.action(
  act(async (o: { project: string; region: string; deleteData?: boolean; dryRun?: boolean }) => {
    if (o.dryRun !== true) await requireGcloudAccount(`destroy in project ${o.project}`);
    const { runDestroy } = await import('../infra/gcp/deploy.ts');
    await runDestroy({
      project: o.project,
      region: o.region,
      dryRun: o.dryRun === true,
      deleteData: o.deleteData === true,
    });
  }),
);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  exitWithFailure(err);
}
