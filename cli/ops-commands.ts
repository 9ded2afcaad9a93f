// CLI commands that operate the pipeline: produce, upload, drain, verify, rejects, table, demo.
// Against the local stack when one is recorded in --data-dir (its settings and emulators), otherwise
// against Google Cloud with the environment's settings and Application Default Credentials.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { readLastSettings, readStack } from '../infra/local/stack.ts';
import { formatDemoSummary, runDemo } from '../infra/ops/demo.ts';
import { drain, formatBacklog } from '../infra/ops/drain.ts';
import {
  DEMO_FAULTS,
  type FaultMix,
  FILE_FORMATS,
  NO_FAULTS,
  planWorkload,
  uploadFiles,
} from '../infra/ops/produce.ts';
import { uploadDirectory } from '../infra/ops/upload.ts';
import { compareWithTruth, formatVerify, readTableRows } from '../infra/ops/verify.ts';
import { type Config, loadConfig, parseDuration } from '../shared/config.ts';
import { describeError } from '../shared/errors.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { listRejects } from '../shared/firestore/rejects.ts';
import { listDataFiles, listSnapshots, loadTable, readRows } from '../shared/iceberg/index.ts';
import { tableLocationOf } from '../shared/pipeline/compact.ts';
import { createObjectStore, createStorageClient } from '../shared/storage/index.ts';
import type { TableKind } from '../shared/tables.ts';
import { fail, formatDuration, table } from './output.ts';

const dataDirOption = () =>
  new Option('--data-dir <dir>', 'local stack data folder (its settings are used when it runs)').default(
    '.streamjoin',
  );

/** Settings of the local stack recorded in dataDir, else this process's environment (Google Cloud). */
function resolveConfig(dataDir: string): { config: Config; gcsAdminUrl?: string; local: boolean } {
  const rec = readStack(path.resolve(dataDir));
  if (rec !== undefined) return { config: loadConfig(rec.env), gcsAdminUrl: rec.urls.storage, local: true };
  return { config: loadConfig(), local: false };
}

let lastPlainProgress = 0;
/** One line rewritten in place on a terminal; elsewhere (CI logs) at most one line every 5 s. */
function progressLine(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (line !== '' && Date.now() - lastPlainProgress >= 5000) {
    lastPlainProgress = Date.now();
    process.stderr.write(`${line}\n`);
  }
}

function probability(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1)
      throw new Error(`${name} must be a probability in [0, 1], but was: ${JSON.stringify(v)}`);
    return n;
  };
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${name} must be a positive integer, but was: ${JSON.stringify(v)}`);
    return n;
  };
}

export function registerOpsCommands(program: Command): void {
  program
    .command('produce')
    .description('simulate the original producer: upload order and payment files, write the ground truth')
    .addOption(dataDirOption())
    .option('--count <n>', 'orders to simulate', positiveInt('--count'), 100)
    .option(
      '--rate <pairs/s>',
      'pairs per second (0 = as fast as possible); the original producer: one pair every 3 s',
      Number,
      1 / 3,
    )
    .option('--events-per-file <n>', 'events per file', positiveInt('--events-per-file'), 1)
    .addOption(new Option('--format <format>', 'file format').choices(FILE_FORMATS).default('object'))
    .option('--gzip', 'gzip the files')
    .option('--seed <n>', 'seed for a reproducible workload', Number, 1)
    .option(
      '--faults',
      'inject every fault kind (duplicates, early/late/second/orphan payments, unpaid orders, malformed input)',
    )
    .option('--truth <file>', 'where to write the ground truth', 'truth.json')
    .option('--bucket <name>', 'input bucket (default: the configured one)')
    .action(async (o: Record<string, unknown>) => {
      try {
        const { config } = resolveConfig(String(o['dataDir']));
        const faults: FaultMix = o['faults'] === true ? DEMO_FAULTS : NO_FAULTS;
        const plan = planWorkload({
          count: o['count'] as number,
          seed: o['seed'] as number,
          eventsPerFile: o['eventsPerFile'] as number,
          format: o['format'] as (typeof FILE_FORMATS)[number],
          gzip: o['gzip'] === true,
          faults,
          ordersPrefix: config.ordersPrefix,
          paymentsPrefix: config.paymentsPrefix,
          startMs: Date.now(),
        });
        writeFileSync(String(o['truth']), `${JSON.stringify(plan.truth, null, 1)}\n`);
        const storage = createStorageClient({
          projectId: config.projectId,
          emulatorHost: config.storageEmulatorHost,
        });
        const bucket = storage.bucket((o['bucket'] as string | undefined) ?? config.inputBucket);
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
        await uploadFiles((name, body) => bucket.file(name).save(body, { resumable: false }), files, {
          filesPerSecond,
          onProgress: (d) =>
            bar.update(d, { rate: (d / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(1) }),
        });
        bar.stop();
        console.log(
          `uploaded ${files.length} files, ${plan.truth.events} events (${plan.truth.rows.length} expected rows, ${Object.values(plan.truth.rejects).reduce((a, b) => a + b, 0)} expected rejects) in ${formatDuration(Date.now() - t0)}; ground truth: ${o['truth']}`,
        );
        if (plan.files.some((f) => f.phase === 'late')) {
          console.log(
            'note: late payments were uploaded right away; they are late only if their orders timed out first (`demo` sequences this).',
          );
        }
      } catch (err) {
        fail(describeError(err));
      }
    });

  program
    .command('upload <dir>')
    .description('upload every file under DIR as an object named by its relative path')
    .addOption(dataDirOption())
    .option('--bucket <name>', 'bucket (default: the configured input bucket)')
    .action(async (dir: string, o: { dataDir: string; bucket?: string }) => {
      try {
        const { config } = resolveConfig(o.dataDir);
        const storage = createStorageClient({
          projectId: config.projectId,
          emulatorHost: config.storageEmulatorHost,
        });
        const bar = new SingleBar({ format: 'uploading [{bar}] {value}/{total} files', hideCursor: true });
        let started = false;
        const r = await uploadDirectory(storage, o.bucket ?? config.inputBucket, dir, {
          onProgress: (p) => {
            if (!started) {
              bar.start(p.total, 0);
              started = true;
            }
            bar.update(p.done);
          },
        });
        if (started) bar.stop();
        console.log(
          `uploaded ${r.objects} objects (${r.bytes} bytes) to gs://${o.bucket ?? config.inputBucket}/`,
        );
      } catch (err) {
        fail(describeError(err));
      }
    });

  program
    .command('drain')
    .description('wait until everything uploaded is ingested, expired, flushed and committed')
    .addOption(dataDirOption())
    .option('--timeout <duration>', 'give up after this long', '5m')
    .action(async (o: { dataDir: string; timeout: string }) => {
      const { config, gcsAdminUrl } = resolveConfig(o.dataDir);
      const db = createFirestore(config);
      try {
        const r = await drain(collections(db, config.collectionPrefix), {
          timeoutMs: parseDuration(o.timeout),
          ...(gcsAdminUrl === undefined ? {} : { gcsAdminUrl }),
          onProgress: (b, ms) => progressLine(`draining (${Math.round(ms / 1000)} s): ${formatBacklog(b)}`),
        });
        progressLine('');
        console.log(`drained in ${formatDuration(r.elapsedMs)}`);
      } catch (err) {
        progressLine('');
        fail(describeError(err));
      } finally {
        await db.terminate();
      }
    });

  program
    .command('verify')
    .description('compare both tables with a ground truth file; exits 1 on FAIL')
    .addOption(dataDirOption())
    .requiredOption('--truth <file>', 'ground truth written by produce or demo')
    .action(async (o: { dataDir: string; truth: string }) => {
      const { config } = resolveConfig(o.dataDir);
      const db = createFirestore(config);
      try {
        const truth = JSON.parse(readFileSync(o.truth, 'utf8'));
        const store = createObjectStore({
          projectId: config.projectId,
          emulatorHost: config.storageEmulatorHost,
        });
        const rows = await readTableRows(store, {
          joined: tableLocationOf(config, 'joined'),
          unmatched: tableLocationOf(config, 'unmatched'),
        });
        const rejects = await listRejects(collections(db, config.collectionPrefix), { limit: 1_000_000 });
        const r = compareWithTruth(truth, rows, rejects);
        console.log(formatVerify(r));
        if (!r.pass) process.exitCode = 1;
      } catch (err) {
        fail(describeError(err));
      } finally {
        await db.terminate();
      }
    });

  program
    .command('rejects')
    .description('list quarantined files and records with where and why')
    .addOption(dataDirOption())
    .option('--since <duration>', 'only rejects newer than this (e.g. 1h)')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
    .option('--json', 'JSON lines')
    .action(async (o: { dataDir: string; since?: string; limit: number; json?: boolean }) => {
      const { config } = resolveConfig(o.dataDir);
      const db = createFirestore(config);
      try {
        const rejects = await listRejects(collections(db, config.collectionPrefix), {
          limit: o.limit,
          ...(o.since === undefined ? {} : { sinceMs: Date.now() - parseDuration(o.since) }),
        });
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
      } catch (err) {
        fail(describeError(err));
      } finally {
        await db.terminate();
      }
    });

  const tableCmd = program.command('table').description('read the Iceberg tables (local warehouse or GCS)');
  const tableOpts = (c: Command) =>
    c
      .addOption(dataDirOption())
      .addOption(
        new Option('--table <which>', 'which table').choices(['joined', 'unmatched']).default('joined'),
      )
      .option('--json', 'JSON output');
  const openTable = async (o: { dataDir: string; table: TableKind }) => {
    // The tables of a local run stay readable after the stack is down (its settings are kept).
    const last =
      readStack(path.resolve(o.dataDir)) === undefined
        ? readLastSettings(path.resolve(o.dataDir))
        : undefined;
    const { config } =
      last !== undefined && process.env['STREAMJOIN_WAREHOUSE'] === undefined
        ? { config: loadConfig(last) }
        : resolveConfig(o.dataDir);
    const store = createObjectStore({
      projectId: config.projectId,
      emulatorHost: config.storageEmulatorHost,
    });
    return loadTable(store, tableLocationOf(config, o.table));
  };
  const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  tableOpts(tableCmd.command('show').description('location, current snapshot, schema, partitioning')).action(
    async (o) => {
      try {
        const t = await openTable(o);
        const md = t.metadata;
        const cur = md.snapshots.find((s) => s.snapshotId === md.currentSnapshotId);
        const info = {
          location: t.location,
          metadata: t.metadataUri,
          formatVersion: md.formatVersion,
          currentSnapshot:
            cur === undefined
              ? null
              : { id: cur.snapshotId, at: new Date(cur.timestampMs).toISOString(), summary: cur.summary },
          snapshots: md.snapshots.length,
          schema: md.schemas.find((s) => s.schemaId === md.currentSchemaId),
          partitionSpec: md.partitionSpecs.find((s) => s.specId === md.defaultSpecId),
        };
        console.log(JSON.stringify(info, big, 2));
      } catch (err) {
        fail(describeError(err));
      }
    },
  );
  tableOpts(tableCmd.command('snapshots').description('the snapshot history')).action(async (o) => {
    try {
      const t = await openTable(o);
      const snaps = listSnapshots(t);
      if (o.json) return console.log(JSON.stringify(snaps, big, 2));
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
    } catch (err) {
      fail(describeError(err));
    }
  });
  tableOpts(tableCmd.command('files').description('live data files of a snapshot'))
    .option('--snapshot <id>', 'time travel to this snapshot')
    .action(async (o) => {
      try {
        const t = await openTable(o);
        const files = await listDataFiles(t, o.snapshot === undefined ? undefined : BigInt(o.snapshot));
        if (o.json) return console.log(JSON.stringify(files, big, 2));
        console.log(
          table([
            ['file', 'partition', 'records', 'bytes'],
            ...files.map((f) => [
              f.dataFile.filePath,
              JSON.stringify(f.dataFile.partition),
              String(f.dataFile.recordCount),
              String(f.dataFile.fileSizeInBytes),
            ]),
          ]),
        );
      } catch (err) {
        fail(describeError(err));
      }
    });
  tableOpts(tableCmd.command('rows').description('rows of a snapshot'))
    .option('--snapshot <id>', 'time travel to this snapshot')
    .option('--limit <n>', 'at most this many rows', positiveInt('--limit'), 20)
    .action(async (o) => {
      try {
        const t = await openTable(o);
        const rows: Record<string, unknown>[] = [];
        for await (const r of readRows(t, {
          limit: o.limit,
          ...(o.snapshot === undefined ? {} : { snapshotId: BigInt(o.snapshot) }),
        })) {
          rows.push(
            Object.fromEntries(
              Object.entries(r).map(([k, v]) => [
                k,
                typeof v === 'bigint' && /_at$/.test(k) ? new Date(Number(v / 1000n)).toISOString() : v,
              ]),
            ),
          );
        }
        if (o.json) return console.log(JSON.stringify(rows, big, 2));
        if (rows.length === 0) return console.log('no rows');
        const cols = Object.keys(rows[0]!);
        console.log(
          table([cols, ...rows.map((r) => cols.map((c) => (r[c] === null ? 'null' : String(r[c]))))]),
        );
      } catch (err) {
        fail(describeError(err));
      }
    });

  program
    .command('demo')
    .description(
      'the whole pipeline locally in about a minute: stack up, produce with faults, drain, verify, summary, stack down',
    )
    .addOption(dataDirOption())
    .option('--count <n>', 'orders to simulate', positiveInt('--count'), 1500)
    .option('--seed <n>', 'workload seed', Number, Date.now() % 100000)
    .option('--timeout <duration>', 'order and payment timeouts (short, so the demo finishes quickly)', '5s')
    .option(
      '--lateness <duration>',
      'allowed lateness: how long after a deadline the tick closes a window (production default: 2m)',
      '5s',
    )
    .option(
      '--duplicate-delivery <p>',
      'deliver each finalize event twice with this probability',
      probability('--duplicate-delivery'),
      0,
    )
    .addOption(new Option('--format <format>', 'file format').choices(FILE_FORMATS).default('object'))
    .option(
      '--events-per-file <n>',
      'events per file (array and jsonl formats)',
      positiveInt('--events-per-file'),
      1,
    )
    .option('--gzip', 'gzip the files')
    .action(async (o: Record<string, unknown>) => {
      const dataDir = String(o['dataDir']);
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        progressLine('');
        console.error('interrupted: stopping the local stack…');
        void import('../infra/local/stack.ts')
          .then(({ stackDown }) => stackDown(path.resolve(dataDir)))
          .finally(() => process.exit(130));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        console.log(
          `streamjoin demo: ${o['count']} orders with every fault kind, ${o['timeout']} timeouts (production default: 15m), ${o['lateness']} allowed lateness, seed ${o['seed']}`,
        );
        const r = await runDemo({
          dataDir,
          count: o['count'] as number,
          seed: o['seed'] as number,
          timeout: String(o['timeout']),
          lateness: String(o['lateness']),
          duplicateDelivery: o['duplicateDelivery'] as number,
          format: o['format'] as (typeof FILE_FORMATS)[number],
          eventsPerFile: o['eventsPerFile'] as number,
          gzip: o['gzip'] === true,
          log: (l) => {
            progressLine('');
            console.log(l);
          },
          progress: progressLine,
        });
        console.log(`\n${formatDemoSummary(r, dataDir)}`);
        if (!r.pass) process.exitCode = 1;
      } catch (err) {
        progressLine('');
        fail(describeError(err));
      }
    });
}
