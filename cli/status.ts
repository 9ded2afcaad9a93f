// `streamjoin status [--watch] [--json]`: is the pipeline healthy, behind or stuck, and why — per stage
// what waits and for how long, the tables' last commits, and the window's rows, rejects and errors.
// Acts where every command acts (cli/target.ts): the running local stack, or a project named explicitly.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Firestore } from '@google-cloud/firestore';
import type { Command } from 'commander';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { createObjectStore, createStorageClient } from '../shared/storage/index.ts';
import { CliError } from './errors.ts';
import { act } from './ops-commands.ts';
import { duration, examples, positiveInt } from './options.ts';
import {
  collectActivity,
  collectBatches,
  collectJoin,
  collectOutbox,
  collectTables,
  countIgnored,
  countIngested,
  findNotIngested,
  listLanded,
} from './status-collect.ts';
import { formatStatus, judge, type StatusSnapshot, VERDICT_EXIT, type Verdict } from './status-model.ts';
import { projectOption, resolveTarget, type Target } from './target.ts';

export interface StatusOptions {
  readonly windowMs: number;
  /** Input objects listed at most per refresh to count the landed ones. */
  readonly maxObjects: number;
}

/** Pending finalize deliveries of the local GCS server (null when it does not answer). */
async function pendingDeliveries(gcsAdminUrl: string): Promise<number | null> {
  try {
    const r = await fetch(`${gcsAdminUrl}/_admin/stats`, { signal: AbortSignal.timeout(5000) });
    return ((await r.json()) as { pending: number }).pending;
  } catch {
    return null;
  }
}

/** Collects one snapshot of the target's pipeline. */
export async function collectStatus(
  t: Extract<Target, { kind: 'local' | 'cloud' }>,
  db: Firestore,
  options: StatusOptions,
): Promise<StatusSnapshot> {
  const config = t.config;
  const c = collections(db, config.collectionPrefix);
  const now = Date.now();
  const since = now - options.windowMs;
  const storage = createStorageClient({
    projectId: config.projectId,
    emulatorHost: config.storageEmulatorHost,
  });
  const store = createObjectStore({ projectId: config.projectId, emulatorHost: config.storageEmulatorHost });
  const [join, outbox, batches, ingested, ignored, landed, deliveries, tables, activity] = await Promise.all([
    collectJoin(c, now, config.allowedLatenessMs),
    collectOutbox(c),
    collectBatches(c),
    countIngested(c, since),
    countIgnored(c, since),
    listLanded(storage, config, since, now, options.maxObjects),
    t.kind === 'local' ? pendingDeliveries(t.gcsAdminUrl) : Promise.resolve(null),
    collectTables(store, config, since),
    collectActivity(
      t.kind === 'local'
        ? { kind: 'local', services: t.record.services, logLevel: config.logLevel }
        : { kind: 'cloud', storage, project: t.project },
      c,
      since,
    ),
  ]);
  const where = `gs://${config.inputBucket}/{${config.ordersPrefix},${config.paymentsPrefix}}<YYYY_MM_DD>/`;
  let ingest: StatusSnapshot['ingest'];
  if (landed === undefined) {
    ingest = {
      deliveriesPending: deliveries,
      landed: null,
      ingested,
      ignored,
      notIngested: null,
      oldestNotIngestedAtMs: null,
      note: `landed objects not counted: more than ${options.maxObjects} objects under ${where} in the window (--max-objects, or a shorter --window)`,
    };
  } else {
    const missing = await findNotIngested(db, c, landed, landed.length - ingested);
    ingest = {
      deliveriesPending: deliveries,
      landed: landed.length,
      ingested,
      ignored,
      notIngested: missing.found,
      oldestNotIngestedAtMs: missing.oldestAtMs,
      note: `objects landed: listed under ${where}; ingested: the per-object ledger${missing.complete ? '' : ' (the oldest not ingested is a lower bound: ledger reads capped)'}`,
    };
  }
  return {
    takenAtMs: now,
    target: t.kind === 'local' ? { kind: 'local', where: t.dataDir } : { kind: 'cloud', where: t.project },
    windowMs: options.windowMs,
    settings: {
      tickIntervalMs: config.tickIntervalMs,
      compactIntervalMs: config.compactIntervalMs,
      allowedLatenessMs: config.allowedLatenessMs,
      flushLeaseMs: config.flushLeaseMs,
      ingestTimeBudgetMs: config.ingestTimeBudgetMs,
    },
    ingest,
    join,
    outbox,
    batches,
    tables,
    activity,
  };
}

/** The JSON `--json` prints: the verdict and every number it was drawn from. */
export function statusJson(snap: StatusSnapshot, verdict: Verdict): string {
  return JSON.stringify({
    verdict: verdict.level,
    summary: verdict.summary,
    findings: verdict.findings,
    ...snap,
  });
}

export function registerStatusCommand(program: Command): void {
  const cmd = program
    .command('status')
    .description(
      'is the pipeline healthy, behind or stuck, and why: what waits in each stage and how old it is, last commits, rows, rejects and errors (exit 0 healthy, 2 behind, 3 stuck)',
    )
    .option('--data-dir <dir>', 'local stack data folder', '.streamjoin')
    .option(...projectOption())
    .option('--watch', 'redraw every --interval until Ctrl-C')
    .option('--interval <duration>', 'how often --watch redraws', duration, 5000)
    .option(
      '--window <duration>',
      'how far back rows, rejects, errors and landed objects are counted',
      duration,
      3_600_000,
    )
    .option(
      '--max-objects <n>',
      'input objects listed at most to count those landed in the window',
      positiveInt,
      20_000,
    )
    .option('--json', 'one JSON object per refresh (the verdict and every number)');
  examples(
    cmd,
    'streamjoin status',
    'streamjoin status --watch --interval 10s',
    'streamjoin status --json | jq .verdict',
    'streamjoin status --project my-project --window 6h',
  );
  cmd.action(
    act(
      async (o: {
        dataDir: string;
        project?: string;
        watch?: boolean;
        interval: number;
        window: number;
        maxObjects: number;
        json?: boolean;
      }) => {
        const t = await resolveTarget(o, { what: 'reading the pipeline status' });
        if (t.kind === 'stopped-local') throw new CliError('status needs a running pipeline'); // not allowed above
        const db = createFirestore(t.config);
        const options: StatusOptions = { windowMs: o.window, maxObjects: o.maxObjects };
        try {
          if (o.watch !== true) {
            const snap = await collectStatus(t, db, options);
            const verdict = judge(snap);
            console.log(o.json ? statusJson(snap, verdict) : formatStatus(snap, verdict));
            process.exitCode = VERDICT_EXIT[verdict.level];
            return;
          }
          const stop = new AbortController();
          const onSignal = () => stop.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const tty = process.stdout.isTTY === true && o.json !== true;
          try {
            while (!stop.signal.aborted) {
              const snap = await collectStatus(t, db, options);
              const verdict = judge(snap);
              if (o.json) console.log(statusJson(snap, verdict));
              else if (tty)
                process.stdout.write(
                  `\x1b[H\x1b[2J${formatStatus(snap, verdict)}\n\n(every ${o.interval / 1000} s; Ctrl-C to stop)\n`,
                );
              else console.log(`${formatStatus(snap, verdict)}\n`);
              await sleep(o.interval, undefined, { signal: stop.signal }).catch(() => {});
            }
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        } finally {
          await db.terminate();
        }
      },
    ),
  );
}
