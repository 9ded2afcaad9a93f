// CLI commands that operate the pipeline: produce, upload, drain, verify, rejects, table, demo
// (reconcile and replay: reconcile-commands.ts).
// They act on the local stack running from --data-dir, or on a Google Cloud project named explicitly
// (--project, or GOOGLE_CLOUD_PROJECT), never silently on a real project (cli/target.ts). What a
// stopped local stack leaves (its tables, its saved rejects) stays readable.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { freeLocalPorts } from '../infra/local/ports.ts';
import { readSavedRejects, readStack, stackDown } from '../infra/local/stack.ts';
import { type DemoPhase, formatDemoSummary, runDemo } from '../infra/ops/demo.ts';
import { drain, formatBacklog } from '../infra/ops/drain.ts';
import {
  DEMO_FAULTS,
  type FaultMix,
  FILE_FORMATS,
  NO_FAULTS,
  planWorkload,
  uploadFiles,
} from '../infra/ops/produce.ts';
import { isSpecTruth } from '../infra/ops/produce-spec.ts';
import { uploadDirectory } from '../infra/ops/upload.ts';
import { compareWithTruth, formatVerify, readTableRows } from '../infra/ops/verify.ts';
import { compareSpecWithTruth, readSpecTableRows } from '../infra/ops/verify-spec.ts';
import { type Config, loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { listRejects, type RejectRecord } from '../shared/firestore/rejects.ts';
import { listDataFiles, listSnapshots, loadTable, readRows } from '../shared/iceberg/index.ts';
import { tableLocationOf } from '../shared/pipeline/compact.ts';
import { loadJoinSpec } from '../shared/spec/load.ts';
import { type JoinSpec, streamEvents } from '../shared/spec/model.ts';
import { createObjectStore, createStorageClient } from '../shared/storage/index.ts';
import type { TableKind } from '../shared/tables.ts';
import { CliError, exitWithFailure, Interrupted } from './errors.ts';
import {
  duration,
  durationText,
  examples,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  probability,
  snapshotId,
} from './options.ts';
import { displayValue, formatDuration, table } from './output.ts';
import { addSpecFlag, specEnv } from './spec-flag.ts';
import { describeTable, formatTableSummary } from './table-summary.ts';
import { dataDirFlag, projectOption, resolveTarget, type Target } from './target.ts';

export const dataDirOption = () =>
  new Option('--data-dir <dir>', 'local stack data folder (its settings are used when it runs)').default(
    '.streamjoin',
  );

let lastPlainProgress = 0;
/** One line rewritten in place on a terminal; elsewhere (CI logs) at most one line every 5 s. */
export function progressLine(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (line !== '' && Date.now() - lastPlainProgress >= 5000) {
    lastPlainProgress = Date.now();
    process.stderr.write(`${line}\n`);
  }
}

/**
 * Wraps a command's action: any failure is one clear message (and the fixing command) on stderr, with
 * the stack trace only under --debug. Commander passes the command itself as the last argument.
 */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      progressLine('');
      const cmd = args.at(-1) as Command | undefined;
      const dataDir = (cmd?.opts?.() as { dataDir?: unknown } | undefined)?.dataDir;
      exitWithFailure(err, { dataDirFlag: typeof dataDir === 'string' ? dataDirFlag(dataDir) : '' });
    }
  };
}

/** The project flag every command that may act on Google Cloud takes. */
const withProject = (c: Command) => c.option(...projectOption());

/** A Firestore client for the target, closed after `fn`. */
async function withFirestore<T>(config: Config, fn: (db: Firestore) => Promise<T>): Promise<T> {
  const db = createFirestore(config);
  try {
    return await fn(db);
  } finally {
    await db.terminate();
  }
}

function storageFor(t: Target) {
  return createStorageClient({ projectId: t.config.projectId, emulatorHost: t.config.storageEmulatorHost });
}

/** The rejects of the target: the running pipeline's, or those the stopped local stack saved. */
async function rejectsOf(
  t: Target,
  options: { sinceMs?: number; limit: number },
): Promise<{ rejects: RejectRecord[]; note?: string }> {
  if (t.kind === 'stopped-local') {
    const saved = readSavedRejects(t.dataDir);
    if (saved === undefined) {
      throw new CliError(`no local stack runs from ${t.dataDir}, and it saved no quarantined records`, {
        hint: `start it with \`streamjoin local up --data-dir ${t.dataDir}\` (a stack saves its rejects to rejects.jsonl when it stops)`,
      });
    }
    const rejects = saved.rejects
      .filter((r) => options.sinceMs === undefined || r.createdAt.getTime() >= options.sinceMs)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, options.limit);
    return { rejects, note: `the local stack is stopped: quarantined records it saved in ${saved.file}` };
  }
  return {
    rejects: await withFirestore(t.config, (db) =>
      listRejects(collections(db, t.config.collectionPrefix), options),
    ),
  };
}

export function registerOpsCommands(program: Command): void {
  const produce = program
    .command('produce')
    .description(
      "simulate the original producer: upload order and payment files (or the join spec's two streams), write the ground truth",
    )
    .addOption(dataDirOption())
    .option('--count <n>', 'orders (keys of the left stream) to simulate', positiveInt, 100)
    .option(
      '--rate <pairs/s>',
      'pairs per second (0 = as fast as possible); the original producer: one pair every 3 s',
      nonNegativeNumber,
      1 / 3,
    )
    .option('--events-per-file <n>', 'events per file', positiveInt, 1)
    .addOption(new Option('--format <format>', 'file format').choices(FILE_FORMATS).default('object'))
    .option('--gzip', 'gzip the files')
    .option('--seed <n>', 'seed for a reproducible workload', nonNegativeInt, 1)
    .option(
      '--faults',
      'inject every fault kind (duplicates, early/late/second/orphan payments, unpaid orders, malformed input)',
    )
    .option('--truth <file>', 'where to write the ground truth', 'truth.json')
    .option('--bucket <name>', 'input bucket (default: the configured one)');
  addSpecFlag(produce);
  produce.addHelpText(
    'after',
    "\nWithout --spec, the events are those of the join spec the target runs (the local stack's, or STREAMJOIN_SPEC).",
  );
  withProject(produce);
  examples(
    produce,
    'streamjoin produce --count 500 --rate 0 --faults --truth truth.json',
    'streamjoin produce --count 100 --format jsonl --events-per-file 50 --gzip',
    'streamjoin produce --spec specs/shipments-deliveries.yaml --count 200 --faults',
  );
  produce.action(
    act(async (o: Record<string, unknown>) => {
      // A named spec is read first: a bad one stops here, before anything is touched.
      const namedSpec = typeof o['spec'] === 'string' ? loadJoinSpec(o['spec']) : undefined;
      const t = await resolveTarget(
        { dataDir: String(o['dataDir']), project: o['project'] as string | undefined },
        { what: 'uploading test data' },
      );
      const { config } = t;
      const spec = namedSpec ?? config.joinSpec;
      const named = namedSpec !== undefined;
      if (named && spec.name !== config.joinSpec.name) {
        console.error(
          `streamjoin: producing events of join spec ${spec.name}, but the target runs ${config.joinSpec.name}`,
        );
      }
      const faults: FaultMix = o['faults'] === true ? DEMO_FAULTS : NO_FAULTS;
      const plan = planWorkload({
        spec,
        count: o['count'] as number,
        seed: o['seed'] as number,
        eventsPerFile: o['eventsPerFile'] as number,
        format: o['format'] as (typeof FILE_FORMATS)[number],
        gzip: o['gzip'] === true,
        faults,
        // A spec named here brings its prefixes; otherwise the target's (its spec's, or their variables).
        ordersPrefix: named ? spec.left.prefix : config.ordersPrefix,
        paymentsPrefix: named ? spec.right.prefix : config.paymentsPrefix,
        startMs: Date.now(),
      });
      writeFileSync(String(o['truth']), `${JSON.stringify(plan.truth, null, 1)}\n`);
      const bucketName = (o['bucket'] as string | undefined) ?? config.inputBucket;
      const bucket = storageFor(t).bucket(bucketName);
      const files = [
        ...plan.files.filter((f) => f.phase === 'main'),
        ...plan.files.filter((f) => f.phase === 'late'),
      ];
      const rate = o['rate'] as number;
      const filesPerSecond = rate > 0 ? (rate * files.length) / Math.max(1, plan.truth.rows.length) : 0;
      const bar = new SingleBar({
        format: 'uploading [{bar}] {value}/{total} files · {rate} files/s · eta {eta}s',
        hideCursor: true,
      });
      bar.start(files.length, 0, { rate: '0' });
      const t0 = Date.now();
      try {
        await uploadFiles((name, body) => bucket.file(name).save(body, { resumable: false }), files, {
          filesPerSecond,
          onProgress: (d) =>
            bar.update(d, { rate: (d / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1) }),
        });
      } finally {
        bar.stop();
      }
      console.log(
        `uploaded ${files.length} files to gs://${bucketName}/, ${plan.truth.events} events (${plan.truth.rows.length} expected rows, ${Object.values(plan.truth.rejects).reduce((a, b) => a + b, 0)} expected rejects) in ${formatDuration(Date.now() - t0)}; ground truth: ${o['truth']}`,
      );
      if (plan.files.some((f) => f.phase === 'late')) {
        console.log(
          `note: late ${streamEvents(spec.right.name)} were uploaded right away; they are late only if their ${spec.left.name} timed out first (\`demo\` sequences this).`,
        );
      }
    }),
  );

  const upload = program
    .command('upload <dir>')
    .description('upload every file under DIR as an object named by its relative path')
    .addOption(dataDirOption())
    .option('--bucket <name>', 'bucket (default: the configured input bucket)');
  withProject(upload);
  examples(
    upload,
    'streamjoin upload ./events            # ./events/stream/orders/… → gs://file-stream-bucket/stream/orders/…',
    'streamjoin upload ./events --project my-project',
  );
  upload.action(
    act(async (dir: string, o: { dataDir: string; bucket?: string; project?: string }) => {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        throw new CliError(`expected a folder to upload, but ${JSON.stringify(dir)} is not one`);
      }
      const t = await resolveTarget(o, { what: 'uploading objects' });
      const bucketName = o.bucket ?? t.config.inputBucket;
      const bar = new SingleBar({
        format: 'uploading [{bar}] {value}/{total} files · {mib} MiB',
        hideCursor: true,
      });
      let started = false;
      const t0 = Date.now();
      let r: { objects: number; bytes: number };
      try {
        r = await uploadDirectory(storageFor(t), bucketName, dir, {
          onProgress: (p) => {
            if (!started) {
              bar.start(p.total, 0, { mib: '0.0' });
              started = true;
            }
            bar.update(p.done, { mib: (p.bytes / 2 ** 20).toFixed(1) });
          },
        });
      } finally {
        if (started) bar.stop();
      }
      console.log(
        `uploaded ${r.objects} objects (${r.bytes} bytes) to gs://${bucketName}/ in ${formatDuration(Date.now() - t0)}`,
      );
    }),
  );

  const drainCmd = program
    .command('drain')
    .description('wait until everything uploaded is ingested, expired, flushed and committed')
    .addOption(dataDirOption())
    .option('--timeout <duration>', 'give up after this long (e.g. 90s, 5m)', duration, 5 * 60_000);
  withProject(drainCmd);
  examples(drainCmd, 'streamjoin drain --timeout 2m', 'streamjoin drain --project my-project --timeout 30m');
  drainCmd.action(
    act(async (o: { dataDir: string; timeout: number; project?: string }) => {
      const t = await resolveTarget(o, { what: 'reading the backlog' });
      const r = await withFirestore(t.config, (db) =>
        drain(collections(db, t.config.collectionPrefix), {
          timeoutMs: o.timeout,
          ...(t.kind === 'local' ? { gcsAdminUrl: t.gcsAdminUrl } : {}),
          onProgress: (b, ms) => progressLine(`draining (${Math.round(ms / 1000)} s): ${formatBacklog(b)}`),
        }),
      );
      progressLine('');
      console.log(
        `drained in ${formatDuration(r.elapsedMs)}: every object ingested, every waiting state joined or expired, every row flushed and committed`,
      );
    }),
  );

  const verify = program
    .command('verify')
    .description('compare both tables with a ground truth file; exits 1 on FAIL')
    .addOption(dataDirOption())
    .requiredOption('--truth <file>', 'ground truth written by produce or demo');
  addSpecFlag(verify);
  withProject(verify);
  examples(
    verify,
    'streamjoin verify --truth truth.json',
    'streamjoin verify --truth .streamjoin/truth.json',
    'streamjoin verify --truth truth.json --spec specs/shipments-deliveries.yaml',
  );
  verify.action(
    act(async (o: { dataDir: string; truth: string; project?: string; spec?: string }) => {
      if (!existsSync(o.truth)) {
        throw new CliError(`no ground truth file at ${o.truth}`, {
          hint: '`streamjoin produce --truth FILE` and `streamjoin demo` (in <data-dir>/truth.json) write one',
        });
      }
      const truth: unknown = JSON.parse(readFileSync(o.truth, 'utf8'));
      const namedSpec = o.spec === undefined ? undefined : loadJoinSpec(o.spec);
      const t = await resolveTarget(o, { what: 'reading the tables', allowStopped: true });
      // --spec: the tables of that spec (its namespace and names); otherwise the target's.
      const config = namedSpec === undefined ? t.config : withTablesOf(t.config, namedSpec);
      const store = createObjectStore({
        projectId: config.projectId,
        emulatorHost: config.storageEmulatorHost,
      });
      const locations = {
        joined: tableLocationOf(config, 'joined'),
        unmatched: tableLocationOf(config, 'unmatched'),
      };
      const { rejects, note } = await rejectsOf(t, { limit: 1_000_000 });
      if (note !== undefined) console.error(`streamjoin: ${note}`);
      // A spec's truth holds the records of each row: compared on every column of the spec's tables.
      const r = isSpecTruth(truth)
        ? compareSpecWithTruth(config.joinSpec, truth, await readSpecTableRows(store, locations), rejects)
        : compareWithTruth(
            truth as Parameters<typeof compareWithTruth>[0],
            await readTableRows(store, locations),
            rejects,
          );
      console.log(formatVerify(r));
      if (!r.pass) process.exitCode = 1;
    }),
  );

  const rejectsCmd = program
    .command('rejects')
    .description('list quarantined files and records with where and why')
    .addOption(dataDirOption())
    .option('--since <duration>', 'only rejects newer than this (e.g. 1h, 30m)', duration)
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .option('--json', 'JSON lines');
  withProject(rejectsCmd);
  examples(
    rejectsCmd,
    'streamjoin rejects --since 1h',
    'streamjoin rejects --json --limit 1000 > rejects.jsonl',
    'streamjoin rejects --project my-project --since 30m',
  );
  rejectsCmd.action(
    act(async (o: { dataDir: string; since?: number; limit: number; json?: boolean; project?: string }) => {
      const t = await resolveTarget(o, { what: 'reading the quarantine', allowStopped: true });
      const { rejects, note } = await rejectsOf(t, {
        limit: o.limit,
        ...(o.since === undefined ? {} : { sinceMs: Date.now() - o.since }),
      });
      if (note !== undefined) console.error(`streamjoin: ${note}`);
      if (o.json) {
        for (const r of rejects) console.log(JSON.stringify(r));
      } else if (rejects.length === 0) {
        console.log('no rejects');
      } else {
        console.log(
          table([
            ['when', 'object#generation', 'where', 'code', 'message'],
            ...rejects.map((r) => [
              r.createdAt.toISOString(),
              `gs://${r.bucket}/${r.object}#${r.generation}`,
              r.ordinal === null
                ? 'file'
                : [
                    r.line === null ? '' : `line ${r.line}`,
                    r.index === null ? '' : `index ${r.index}`,
                    r.field ?? '',
                  ]
                    .filter(Boolean)
                    .join(' '),
              r.code,
              r.message,
            ]),
          ]),
        );
      }
    }),
  );

  registerTableCommands(program);
  registerDemo(program);
}

interface TableOpts {
  dataDir: string;
  table: TableKind;
  json?: boolean;
  project?: string;
  spec?: string;
}

/**
 * The configuration that locates the tables: STREAMJOIN_WAREHOUSE=file://… needs no stack or project.
 * The tables are those of the target's join spec (namespace and table names), or of --spec when named.
 */
async function tableTarget(o: TableOpts): Promise<Config> {
  const spec = o.spec === undefined ? undefined : loadJoinSpec(o.spec);
  const wh = process.env['STREAMJOIN_WAREHOUSE'] ?? '';
  const config =
    o.project === undefined && wh.startsWith('file://') && readStack(path.resolve(o.dataDir)) === undefined
      ? loadConfig(process.env)
      : (await resolveTarget(o, { what: 'reading the tables', allowStopped: true })).config;
  return spec === undefined ? config : withTablesOf(config, spec);
}

/** `config` reading the tables of `spec`: its namespace and table names (a spec the pipeline need not run). */
export function withTablesOf(config: Config, spec: JoinSpec): Config {
  return Object.freeze({
    ...config,
    joinSpec: spec,
    namespace: spec.namespace,
    joinedTable: spec.joined.name,
    unmatchedTable: spec.unmatched.name,
  });
}

function registerTableCommands(program: Command): void {
  const tableCmd = program.command('table').description('read the Iceberg tables (local warehouse or GCS)');
  examples(tableCmd, 'streamjoin table show', 'streamjoin table rows --table unmatched --limit 5');
  const tableOpts = (c: Command) =>
    withProject(
      c
        .addOption(dataDirOption())
        .addOption(
          new Option('--table <which>', 'which table').choices(['joined', 'unmatched']).default('joined'),
        )
        .option('--json', 'JSON output')
        .option(
          '--spec <file>',
          "read the tables of this join spec (its namespace and table names; default: the target's spec)",
        ),
    );
  const openTable = async (o: TableOpts) => {
    const config = await tableTarget(o);
    const store = createObjectStore({
      projectId: config.projectId,
      emulatorHost: config.storageEmulatorHost,
    });
    return { config, table: await loadTable(store, tableLocationOf(config, o.table)) };
  };
  const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

  const show = tableOpts(
    tableCmd
      .command('show')
      .description('what the table holds: current snapshot, counts, schema, partitioning, how to read it'),
  );
  examples(show, 'streamjoin table show', 'streamjoin table show --table unmatched --json');
  show.action(
    act(async (o: TableOpts) => {
      const { config, table: t } = await openTable(o);
      const name = o.table === 'joined' ? config.joinedTable : config.unmatchedTable;
      const summary = describeTable({
        name: `${config.namespace}.${name}`,
        namespace: config.namespace,
        table: name,
        warehouse: config.warehouse,
        location: t.location,
        metadataUri: t.metadataUri,
        metadata: t.metadata,
        nowMs: Date.now(),
      });
      console.log(o.json ? JSON.stringify(summary, big, 2) : formatTableSummary(summary));
    }),
  );

  const snapshots = tableOpts(tableCmd.command('snapshots').description('the snapshot history'));
  examples(snapshots, 'streamjoin table snapshots', 'streamjoin table snapshots --table unmatched --json');
  snapshots.action(
    act(async (o: TableOpts) => {
      const { table: t } = await openTable(o);
      const snaps = listSnapshots(t);
      if (o.json) return void console.log(JSON.stringify(snaps, big, 2));
      console.log(
        table([
          ['snapshot', 'parent', 'seq', 'when', 'operation', 'added files', 'added records', 'total records'],
          ...snaps.map((s) => [
            s.snapshotId.toString(),
            s.parentSnapshotId?.toString() ?? '',
            String(s.sequenceNumber),
            new Date(s.timestampMs).toISOString(),
            s.summary['operation'] ?? '',
            s.summary['added-data-files'] ?? '',
            s.summary['added-records'] ?? '',
            s.summary['total-records'] ?? '',
          ]),
        ]),
      );
    }),
  );

  const files = tableOpts(tableCmd.command('files').description('live data files of a snapshot')).option(
    '--snapshot <id>',
    'time travel to this snapshot',
    snapshotId,
  );
  examples(files, 'streamjoin table files', 'streamjoin table files --snapshot 4242424242424242 --json');
  files.action(
    act(async (o: TableOpts & { snapshot?: bigint }) => {
      const { table: t } = await openTable(o);
      const list = await listDataFiles(t, o.snapshot);
      if (o.json) return void console.log(JSON.stringify(list, big, 2));
      console.log(
        table([
          ['file', 'partition', 'records', 'bytes'],
          ...list.map((f) => [
            f.dataFile.filePath,
            JSON.stringify(f.dataFile.partition, big),
            String(f.dataFile.recordCount),
            String(f.dataFile.fileSizeInBytes),
          ]),
        ]),
      );
    }),
  );

  const rows = tableOpts(tableCmd.command('rows').description('rows of a snapshot'))
    .option('--snapshot <id>', 'time travel to this snapshot', snapshotId)
    .option('--limit <n>', 'at most this many rows', positiveInt, 20);
  examples(rows, 'streamjoin table rows --limit 5', 'streamjoin table rows --table unmatched --json');
  rows.action(
    act(async (o: TableOpts & { snapshot?: bigint; limit: number }) => {
      const { table: t } = await openTable(o);
      const out: Record<string, unknown>[] = [];
      const md = t.metadata;
      const schema = md.schemas.find((x) => x.schemaId === md.currentSchemaId) ?? md.schemas[0];
      const types = new Map(
        schema?.fields.map((f) => [f.name, typeof f.type === 'string' ? f.type : undefined]),
      );
      for await (const r of readRows(t, {
        limit: o.limit,
        ...(o.snapshot === undefined ? {} : { snapshotId: o.snapshot }),
      })) {
        out.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, displayValue(types.get(k), v)])));
      }
      if (o.json) return void console.log(JSON.stringify(out, big, 2));
      if (out.length === 0) return void console.log('no rows');
      const cols = Object.keys(out[0]!);
      console.log(table([cols, ...out.map((r) => cols.map((c) => (r[c] === null ? 'null' : String(r[c]))))]));
    }),
  );
}

/**
 * Runs `fn` with an AbortSignal that the first Ctrl-C (SIGINT) or SIGTERM aborts with an Interrupted
 * naming the current phase; a second one stops the local stack at once and exits.
 */
export async function interruptible<T>(
  dataDir: string,
  currentPhase: () => string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    progressLine('');
    if (signals === 1) {
      console.error(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping during ${currentPhase()}…`);
      controller.abort(new Interrupted(currentPhase()));
      return;
    }
    console.error('stopping the local stack now');
    void stackDown(path.resolve(dataDir)).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** After an interrupted run: proves nothing is left and says so (exit 130). */
export function reportInterrupted(err: Interrupted, dataDir: string): never {
  const left = readStack(path.resolve(dataDir));
  progressLine('');
  if (left === undefined) {
    console.error(
      `interrupted during ${err.phase}: stopped everything it had started; no local stack is left running`,
    );
    process.exit(130);
  }
  exitWithFailure(
    new CliError(`interrupted during ${err.phase}, but a local stack is still recorded in ${dataDir}`, {
      hint: `stop it with \`streamjoin local down${dataDirFlag(dataDir)}\``,
      exitCode: 130,
    }),
  );
}

function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description(
      'the whole pipeline locally in about a minute: stack up, produce with faults, drain, verify, summary, stack down',
    )
    .addOption(dataDirOption())
    .option('--count <n>', 'orders to simulate', positiveInt, 1500)
    .option('--seed <n>', 'workload seed', nonNegativeInt, Date.now() % 100000)
    .option(
      '--timeout <duration>',
      'order and payment timeouts (short, so the demo finishes quickly)',
      durationText,
      '5s',
    )
    .option(
      '--lateness <duration>',
      'allowed lateness: how long after a deadline the tick closes a window (production default: 2m)',
      durationText,
      '5s',
    )
    .option(
      '--duplicate-delivery <p>',
      'deliver each finalize event twice with this probability',
      probability,
      0,
    )
    .addOption(new Option('--format <format>', 'file format').choices(FILE_FORMATS).default('object'))
    .option('--events-per-file <n>', 'events per file (array and jsonl formats)', positiveInt, 1)
    .option('--gzip', 'gzip the files')
    .option('--free-ports', "use free loopback ports instead of firebase.json's (beside another stack)");
  addSpecFlag(demo);
  examples(
    demo,
    'npm start',
    'streamjoin demo --count 5000 --duplicate-delivery 0.3 --format jsonl --events-per-file 100 --gzip',
  );
  demo.action(
    act(async (o: Record<string, unknown>) => {
      const dataDir = String(o['dataDir']);
      let phase: DemoPhase = 'stack start';
      console.log(
        `streamjoin demo: ${o['count']} orders with every fault kind, ${o['timeout']} timeouts (production default: 15m), ${o['lateness']} allowed lateness, seed ${o['seed']}`,
      );
      try {
        const ports = o['freePorts'] === true ? await freeLocalPorts() : undefined;
        const r = await interruptible(
          dataDir,
          () => phase,
          (signal) =>
            runDemo({
              dataDir,
              count: o['count'] as number,
              seed: o['seed'] as number,
              timeout: String(o['timeout']),
              lateness: String(o['lateness']),
              duplicateDelivery: o['duplicateDelivery'] as number,
              format: o['format'] as (typeof FILE_FORMATS)[number],
              eventsPerFile: o['eventsPerFile'] as number,
              gzip: o['gzip'] === true,
              env: specEnv(o),
              ...(ports === undefined ? {} : { ports }),
              signal,
              onPhase: (p) => {
                phase = p;
              },
              log: (l) => {
                progressLine('');
                console.log(l);
              },
              progress: progressLine,
            }),
        );
        console.log(`\n${formatDemoSummary(r, dataDir)}`);
        if (!r.pass) process.exitCode = 1;
      } catch (err) {
        if (err instanceof Interrupted) reportInterrupted(err, dataDir);
        throw err;
      }
    }),
  );
}
