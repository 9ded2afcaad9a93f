// `streamjoin reconcile` and `streamjoin replay`: ingest input objects that have no ledger entry, in this
// process, against the local stack running from --data-dir or a Google Cloud project named explicitly
// (--project, or GOOGLE_CLOUD_PROJECT; cli/target.ts) — the same core as the scheduled reconcile function.
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../shared/log.ts';
import { MemoryBudget } from '../shared/pipeline/ingest-admission.ts';
import {
  type ReconcileOptions,
  type ReconcileProgress,
  type ReconcileReport,
  reconcileObjects,
} from '../shared/pipeline/reconcile.ts';
import { createStorageClient } from '../shared/storage/index.ts';
import { createInputLister, openInputObject } from '../shared/storage/input-objects.ts';
import { CliError } from './errors.ts';
import { act, dataDirOption } from './ops-commands.ts';
import { examples, positiveInt } from './options.ts';
import { formatDuration } from './output.ts';
import { projectOption, resolveTarget, type Target } from './target.ts';

/** An instant: ISO-8601 (`2026-03-14T10:00Z`, `2026-03-14`) or a duration ago (`2h`, `30m`). */
export function parseInstant(raw: string, nowMs: number): number {
  const iso = Date.parse(raw);
  if (/^\d{4}-\d{2}-\d{2}/.test(raw) && Number.isFinite(iso)) return iso;
  try {
    return nowMs - parseDuration(raw);
  } catch {
    throw new Error(
      `expected an ISO-8601 time (2026-03-14T10:00:00Z) or a duration ago (2h, 30m), but was: ${JSON.stringify(raw)}`,
    );
  }
}

/** This process's LOG_LEVEL when it names a level, else 'warn'. */
function cliLogLevel(): LogLevel {
  const v = process.env['LOG_LEVEL'];
  return (LOG_LEVELS as readonly string[]).includes(v ?? '') ? (v as LogLevel) : 'warn';
}

async function run(
  t: Target,
  options: Omit<ReconcileOptions, 'onProgress'>,
  json: boolean,
): Promise<ReconcileReport> {
  const { config } = t;
  const db = createFirestore(config);
  const storage = createStorageClient({
    projectId: config.projectId,
    emulatorHost: config.storageEmulatorHost,
  });
  // Object reads without the client's own retries (see openInputObject): a failed one is reported, and
  // the next run ingests it.
  const reads = createStorageClient({
    projectId: config.projectId,
    emulatorHost: config.storageEmulatorHost,
    autoRetry: false,
  });
  const bar = new SingleBar({
    format: `${options.via} [{bar}] {value}/{total} objects ingested · {failed} failed · eta {eta}s`,
    hideCursor: true,
  });
  let barStarted = false;
  const tty = process.stderr.isTTY && !json;
  const onProgress = (p: ReconcileProgress) => {
    if (!tty) return;
    if (p.phase === 'listing') process.stderr.write(`\r\x1b[Klisting: ${p.listed} objects`);
    if (p.phase === 'ingesting' && !barStarted && p.toIngest > 0) {
      process.stderr.write('\r\x1b[K');
      bar.start(p.toIngest, 0, { failed: 0 });
      barStarted = true;
    }
    if (barStarted) bar.update(p.ingested, { failed: p.failed });
    if (p.phase === 'done') {
      if (barStarted) bar.stop();
      else process.stderr.write('\r\x1b[K');
    }
  };
  try {
    return await reconcileObjects(
      {
        db,
        collections: collections(db, config.collectionPrefix),
        counter: new OpCounter(),
        config,
        // The report goes to stdout (JSON with --json); the core's log lines (what it found, files ingested
        // late) go to stderr, warnings and up unless this process's LOG_LEVEL says otherwise (not the
        // stack's: its functions may log nothing).
        log: createLogger({ level: cliLogLevel(), destination: process.stderr }),
        listObjects: createInputLister(storage),
        openObject: (o) => openInputObject(reads, o),
        memoryBudget: new MemoryBudget(config.ingestMemoryBudget),
      },
      { ...options, onProgress },
    );
  } finally {
    if (barStarted) bar.stop();
    await db.terminate();
  }
}

export function formatReport(r: ReconcileReport, what: string): string {
  const c = r.counters;
  const rows = [
    c.joined > 0 ? `joined ${c.joined}` : '',
    c.orderTimeout > 0 ? `order_timeout ${c.orderTimeout}` : '',
    c.paymentOrphan > 0 ? `payment_orphan ${c.paymentOrphan}` : '',
    c.paymentExtra > 0 ? `payment_extra ${c.paymentExtra}` : '',
    c.paymentLate > 0 ? `payment_late ${c.paymentLate}` : '',
    c.orderLate > 0 ? `order_late ${c.orderLate}` : '',
  ].filter(Boolean);
  const lines = [
    `${what}${r.dryRun ? ' (dry run: nothing ingested)' : ''}`,
    `  listed        ${r.listed} objects under ${r.prefixes.length} prefixes in ${r.listCalls} list calls (${formatDuration(r.listMs)})`,
    `  in scope      ${r.considered}${r.watermark.fromMs === null ? '' : ` (landed after ${new Date(r.watermark.fromMs).toISOString()}, the last complete check)`}`,
    `  in the ledger ${r.inLedger}`,
    `  no entry      ${r.missing.length}${r.missing.length > 0 ? ` (their finalize event never came, or is still on its way): ${r.missing.slice(0, 5).join(', ')}${r.missing.length > 5 ? ', …' : ''}` : ''}`,
  ];
  if (r.forced.length > 0)
    lines.push(`  forced        ${r.forced.length} quarantined generation(s) evaluated again`);
  if (!r.dryRun) {
    lines.push(
      `  ingested      ${r.ingested} (${r.quarantined} quarantined; ${r.alreadyDone} found done meanwhile); ${r.records} records, ${r.rejected} rejected`,
      `  join          ${rows.length === 0 ? 'no rows' : rows.join(', ')}; duplicates ${c.duplicateOrders + c.duplicatePayments}; ingested late ${c.ingestedLate}`,
    );
    if (r.stopped) lines.push('  stopped       the time budget ran out; run it again for the rest');
    for (const f of r.failed.slice(0, 10)) lines.push(`  FAILED        ${f.object}: ${f.error}`);
    if (r.failed.length > 10) lines.push(`  FAILED        … and ${r.failed.length - 10} more`);
  }
  lines.push(`  took          ${formatDuration(r.elapsedMs)}`);
  return lines.join('\n');
}

const report = (r: ReconcileReport, what: string, json: boolean) => {
  if (json) console.log(JSON.stringify(r, null, 2));
  else console.log(formatReport(r, what));
  if (r.failed.length > 0) process.exitCode = 1;
};

/** `--grace 0s`: a duration that may be zero (ingest everything with no entry, however recent). */
function graceDuration(raw: string): number {
  try {
    return parseDuration(raw);
  } catch {
    throw new InvalidArgumentError(
      `expected a duration ≥ 0 such as 0s, 10m or 1h, but was: ${JSON.stringify(raw)}`,
    );
  }
}

/** `--since` / `--until`: an ISO-8601 time or a duration ago, as epoch milliseconds. */
function instant(raw: string): number {
  try {
    return parseInstant(raw, Date.now());
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

export function registerReconcileCommands(program: Command): void {
  const reconcile = program
    .command('reconcile')
    .description(
      'run the reconciliation once: ingest the input objects of the last days that have no ledger entry (their event never came)',
    )
    .addOption(dataDirOption())
    .option('--dry-run', 'list and check, ingest nothing')
    .option(
      '--grace <duration>',
      'leave alone objects that landed less than this ago (default: STREAMJOIN_RECONCILE_GRACE)',
      graceDuration,
    )
    .option(
      '--days <n>',
      'the day folders of the last N days (default: STREAMJOIN_RECONCILE_DAYS)',
      positiveInt,
    )
    .option('--json', 'print the report as JSON')
    .option(...projectOption());
  examples(
    reconcile,
    'streamjoin reconcile --dry-run',
    'streamjoin reconcile --grace 0s          # right away: every object with no ledger entry',
    'streamjoin reconcile --project my-project --days 3',
  );
  reconcile.action(
    act(
      async (o: {
        dataDir: string;
        dryRun?: boolean;
        grace?: number;
        days?: number;
        json?: boolean;
        project?: string;
      }) => {
        const t = await resolveTarget(o, { what: 'reconciling the input bucket' });
        const { config } = t;
        const days = o.days ?? config.reconcileDays;
        const graceMs = o.grace ?? config.reconcileGraceMs;
        const r = await run(
          t,
          {
            scope: { kind: 'recent', days, graceMs },
            dryRun: o.dryRun === true,
            // A run by hand with its own grace never moves the scheduled run's watermark.
            useWatermark: o.grace === undefined && o.days === undefined,
            via: 'reconcile',
          },
          o.json === true,
        );
        report(
          r,
          `reconcile of gs://${config.inputBucket}/ (last ${days} day(s), grace ${formatDuration(graceMs)})`,
          o.json === true,
        );
      },
    ),
  );

  const replay = program
    .command('replay')
    .description(
      'ingest the existing generations of the objects that landed in [--since, --until) — only those the ledger does not have (idempotent)',
    )
    .addOption(dataDirOption())
    .requiredOption('--since <time>', 'ISO-8601 time, or a duration ago (2h)', instant)
    .option('--until <time>', 'ISO-8601 time, or a duration ago (default: now)', instant)
    .option(
      '--prefix <prefix>',
      'only objects under this prefix (default: the day folders of the range under both prefixes)',
    )
    .option('--dry-run', 'list and check, ingest nothing')
    .option(
      '--force',
      'also ingest again the generations the ledger has as quarantined (after a validation fix)',
    )
    .option('--concurrency <n>', 'objects ingested at the same time', positiveInt, 8)
    .option('--json', 'print the report as JSON')
    .option(...projectOption());
  examples(
    replay,
    'streamjoin replay --since 2h --dry-run',
    'streamjoin replay --since 2026-03-14 --until 2026-03-15 --prefix stream/payments/2026_03_14/',
    'streamjoin replay --since 2026-03-14T10:00Z --force --project my-project',
  );
  replay.action(
    act(
      async (o: {
        dataDir: string;
        since: number;
        until?: number;
        prefix?: string;
        dryRun?: boolean;
        force?: boolean;
        concurrency: number;
        json?: boolean;
        project?: string;
      }) => {
        const sinceMs = o.since;
        const untilMs = o.until ?? Date.now();
        if (!(sinceMs < untilMs)) {
          throw new CliError(
            `--since must be before --until, but was ${new Date(sinceMs).toISOString()} ≥ ${new Date(untilMs).toISOString()}`,
          );
        }
        const t = await resolveTarget(o, { what: 'replaying input objects' });
        const r = await run(
          t,
          {
            scope: {
              kind: 'range',
              sinceMs,
              untilMs,
              ...(o.prefix === undefined ? {} : { prefixes: [o.prefix] }),
            },
            dryRun: o.dryRun === true,
            force: o.force === true,
            via: 'replay',
            concurrency: o.concurrency,
          },
          o.json === true,
        );
        report(
          r,
          `replay of gs://${t.config.inputBucket}/${o.prefix ?? ''} for objects landed in [${new Date(sinceMs).toISOString()}, ${new Date(untilMs).toISOString()})`,
          o.json === true,
        );
      },
    ),
  );
}
