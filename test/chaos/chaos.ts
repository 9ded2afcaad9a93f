// One chaos run: the real local stack (Firestore emulator, GCS server, one Functions Framework process per
// function, scheduler) processes a produced workload with ground truth while faults happen at random —
// duplicate/concurrent and reordered event delivery, 503s from the GCS server (inputs and the gs://
// warehouse), SIGKILLed and restarted function processes, in-process failures and crashes at the named
// fault points, extra overlapping tick and compact calls — then drains and verifies: every expected row
// exactly once, nothing else, every bad record quarantined with a reason.
import { readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Storage } from '@google-cloud/storage';
import { FUNCTION_NAMES } from '../../functions/names.ts';
import { freeLocalPorts } from '../../infra/local/ports.ts';
import { isAlive } from '../../infra/local/processes.ts';
import { readStack, restartFunction, type StackRecord, stackDown, stackUp } from '../../infra/local/stack.ts';
import { checkPipelineTables, type IcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { drain, formatBacklog, measureBacklog } from '../../infra/ops/drain.ts';
import {
  DEMO_FAULTS,
  type GroundTruth,
  type ProduceFormat,
  planWorkload,
  prng,
  type WorkloadFile,
} from '../../infra/ops/produce.ts';
import { compareWithTruth, readTableRows, type VerifyResult } from '../../infra/ops/verify.ts';
import { loadConfig } from '../../shared/config.ts';
import { collections, createFirestore, docIdFor } from '../../shared/firestore/client.ts';
import { listRejects } from '../../shared/firestore/rejects.ts';
import { COMMIT_FAULT_POINTS } from '../../shared/iceberg/commit.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { createObjectStore } from '../../shared/storage/index.ts';
import { relocateGcsTable } from '../support/relocate-table.ts';
import { type DelayVerdict, eventFiles, explainByDelay, firstIngested } from './delay-proof.ts';

export interface ChaosOptions {
  readonly seed: number;
  /** Orders in the workload (pairs, plus the fault mix's extras). */
  readonly count: number;
  /** Order and payment timeout (a duration setting, e.g. "20s"): must exceed the worst delivery delay. */
  readonly timeout: string;
  /** Iceberg warehouse on the local GCS server (gs://, faulted too) or a plain folder (file://). */
  readonly warehouse: 'gs' | 'file';
  /** Flush lease (STREAMJOIN_FLUSH_LEASE): short, so crashed flushes are taken over — and live ones raced — often. */
  readonly flushLease: string;
  /** Keep the data dir (logs, tables) even when the run passes. */
  readonly keep: boolean;
  /** An empty folder for the stack's data (the caller stops the stack there on Ctrl-C). */
  readonly dataDir: string;
  /** Aborting stops the fault agents (the killer could otherwise restart a function after a stack down). */
  readonly signal?: AbortSignal;
  /** Receives a promise that settles when every fault agent has stopped. */
  readonly onAgents?: (settled: Promise<unknown>) => void;
  readonly drainTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** Counts of every fault injected, by kind. */
export interface FaultCounts {
  duplicateDeliveries: number;
  shuffledDeliveries: number;
  gcs503: number;
  uploadRetries: number;
  failedDeliveryAttempts: number;
  sigkills: Record<string, number>;
  faultPointCrashes: Record<string, number>;
  injectedFailures: Record<string, number>;
  overlappingCalls: { tick: number; compact: number; failed: number };
}

export interface ChaosResult {
  readonly seed: number;
  readonly pass: boolean;
  readonly verify: VerifyResult | undefined;
  /** check-iceberg (pyiceberg 0.9.1 and Java Iceberg core) on both tables after the drain. */
  readonly iceberg: readonly IcebergCheck[];
  readonly error: string | undefined;
  readonly rejectsWithoutReason: number;
  /** When the strict comparison failed: which differences are proven timeout classifications. */
  readonly delays: DelayVerdict | undefined;
  readonly truth: Pick<GroundTruth, 'events' | 'files' | 'duplicates'> & { rows: number; rejects: number };
  readonly setup: string;
  readonly faults: FaultCounts;
  readonly elapsedMs: number;
  readonly dataDir: string;
}

/** Fault points in the pipeline (shared/faults.ts), by the function whose process passes them. */
const FAULT_POINTS: Record<'ingest' | 'tick' | 'compact', readonly string[]> = {
  ingest: ['ingest.before-read', 'ingest.before-commit', 'ingest.after-commit'],
  tick: [
    'flush.after-claim',
    'flush.after-write',
    'flush.after-stage',
    'flush.during-delete',
    'flush.after-delete',
  ],
  compact: ['compact.after-commit', 'compact.rewrite-after-write', ...Object.values(COMMIT_FAULT_POINTS)],
};

/**
 * A STREAMJOIN_FAULTS spec: every point fails at random (p:X); a few points instead crash their process
 * on every N-th pass (exit:N — the process is SIGKILLed there, and restarted by the supervisor).
 * Ingest passes its points once per file, tick/compact once per run, so N is scaled to keep progress.
 */
export function planFaultSpec(rnd: () => number): string {
  const parts: string[] = [];
  for (const [fn, points] of Object.entries(FAULT_POINTS)) {
    for (const point of points) {
      if (rnd() < 0.2) {
        const n = fn === 'ingest' ? 40 + Math.floor(rnd() * 80) : 6 + Math.floor(rnd() * 10);
        parts.push(`${point}=exit:${n}`);
      } else {
        parts.push(`${point}=p:${(0.02 + rnd() * 0.06).toFixed(3)}`);
      }
    }
  }
  return parts.join(',');
}

/** A lock: the killer and the supervisor never restart the same stack at once. */
function mutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

async function sleepUnless(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Uploads create-only (ifGenerationMatch=0) with our own retries on 503 and network errors: a retry of an
 *  upload that did land answers 412, which means done — never a second generation of the same file. */
async function uploadWithRetries(
  storage: Storage,
  bucket: string,
  files: readonly WorkloadFile[],
  faults: FaultCounts,
  concurrency = 12,
): Promise<void> {
  let next = 0;
  const one = async (f: WorkloadFile) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await storage
          .bucket(bucket)
          .file(f.name)
          .save(f.body, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
        return;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 412) return;
        if (attempt >= 30) throw err;
        faults.uploadRetries++;
        await sleep(Math.min(2000, 50 * 2 ** attempt));
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, files.length) }, async () => {
      while (next < files.length) await one(files[next++]!);
    }),
  );
}

/** The GCS server's own counters of what it injected (read before the faults are turned off). */
async function readGcsStats(stack: StackRecord, faults: FaultCounts): Promise<void> {
  const stats = (await (await fetch(`${stack.urls.storage}/_admin/stats`)).json()) as {
    duplicatesSent: number;
    faultsInjected: number;
    failedAttempts: number;
    enqueued: number;
  };
  faults.duplicateDeliveries = stats.duplicatesSent;
  faults.gcs503 = stats.faultsInjected;
  faults.failedDeliveryAttempts = stats.failedAttempts;
  faults.shuffledDeliveries = stats.enqueued;
}

/** Counts lines matching `re` by its first group (one per line: a JSON log line quotes the error twice). */
function countMatches(text: string, re: RegExp, into: Record<string, number>): void {
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m !== null) into[m[1]!] = (into[m[1]!] ?? 0) + 1;
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const rnd = prng(o.seed);
  // The file format rotates with the seed (so consecutive seeds cover all of them); the rest is random.
  const format: ProduceFormat = (['object', 'jsonl', 'array'] as const)[o.seed % 3]!;
  const gzip = format !== 'object' && Math.floor(o.seed / 3) % 2 === 1;
  const eventsPerFile = format === 'object' ? 1 : 5 + Math.floor(rnd() * 20);
  const faultSpec = planFaultSpec(rnd);
  const gcsOptions = {
    duplicateProbability: Number((0.1 + rnd() * 0.2).toFixed(2)),
    shuffleDelayMs: 200 + Math.floor(rnd() * 1300),
    failProbability: Number((0.02 + rnd() * 0.05).toFixed(3)),
    retryMaxMs: 2000,
  };
  const killEveryMs: [number, number] = [1500, 5000];
  const faults: FaultCounts = {
    duplicateDeliveries: 0,
    shuffledDeliveries: 0,
    gcs503: 0,
    uploadRetries: 0,
    failedDeliveryAttempts: 0,
    sigkills: {},
    faultPointCrashes: {},
    injectedFailures: {},
    overlappingCalls: { tick: 0, compact: 0, failed: 0 },
  };
  const dataDir = o.dataDir;
  const setup = [
    `${o.count} orders as ${format}${format === 'object' ? '' : ` (${eventsPerFile} events/file)`}${gzip ? ', gzip' : ''}`,
    `timeouts ${o.timeout}, flush lease ${o.flushLease}, tick 1 s, compact 2 s, warehouse ${o.warehouse}://`,
    `GCS server: duplicate p=${gcsOptions.duplicateProbability}, shuffle 0–${gcsOptions.shuffleDelayMs} ms, 503 p=${gcsOptions.failProbability}`,
    `SIGKILL a random function every ${killEveryMs[0] / 1000}–${killEveryMs[1] / 1000} s; extra tick/compact calls, 2–4 at once, every 0.3–1.5 s`,
    `STREAMJOIN_FAULTS=${faultSpec}`,
  ].join('\n    ');
  o.log(`chaos seed ${o.seed}: data in ${dataDir}\n    ${setup}`);

  const stop = new AbortController();
  o.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const agents: Promise<void>[] = [];
  const exclusive = mutex();
  let verify: VerifyResult | undefined;
  let iceberg: IcebergCheck[] = [];
  let error: string | undefined;
  let rejectsWithoutReason = 0;
  let delays: DelayVerdict | undefined;
  let truth: GroundTruth | undefined;
  let rec: StackRecord | undefined;
  let db: ReturnType<typeof createFirestore> | undefined;
  try {
    const ports = await freeLocalPorts();
    const warehouse =
      o.warehouse === 'gs' ? 'gs://chaos-warehouse/' : `file://${path.join(dataDir, 'warehouse')}/`;
    rec = await stackUp({
      dataDir,
      fresh: true,
      ports,
      env: {
        STREAMJOIN_ORDER_TIMEOUT: o.timeout,
        STREAMJOIN_PAYMENT_TIMEOUT: o.timeout,
        STREAMJOIN_TICK_INTERVAL: '1s',
        STREAMJOIN_COMPACT_INTERVAL: '2s',
        STREAMJOIN_WAREHOUSE: warehouse,
        STREAMJOIN_FLUSH_LEASE: o.flushLease,
        STREAMJOIN_FAULTS: faultSpec,
      },
    });
    const stack = rec;
    const config = loadConfig(stack.env);
    db = createFirestore(config);
    const cols = collections(db, config.collectionPrefix);
    const admin = async (body: Record<string, number>) => {
      const res = await fetch(`${stack.urls.storage}/_admin/options`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`PATCH /_admin/options answered ${res.status}: ${await res.text()}`);
    };
    await admin(gcsOptions);

    // Agents: the killer, the supervisor (restarts what died on its own: fault-point exits), and the
    // extra overlapping tick/compact calls. All stop on `stop`.
    const fnNames = Object.values(FUNCTION_NAMES);
    agents.push(
      (async () => {
        const r = prng(o.seed ^ 0x5eed);
        while (await sleepUnless(killEveryMs[0] + r() * (killEveryMs[1] - killEveryMs[0]), stop.signal)) {
          const fn = fnNames[Math.floor(r() * fnNames.length)]!;
          await exclusive(async () => {
            faults.sigkills[fn] = (faults.sigkills[fn] ?? 0) + 1;
            await restartFunction(dataDir, fn);
          });
        }
      })(),
      (async () => {
        while (await sleepUnless(200, stop.signal)) {
          await exclusive(async () => {
            for (const s of readStack(dataDir)?.services ?? []) {
              if ((fnNames as string[]).includes(s.name) && !isAlive(s.pid)) {
                faults.faultPointCrashes[s.name] = (faults.faultPointCrashes[s.name] ?? 0) + 1;
                await restartFunction(dataDir, s.name);
              }
            }
          });
        }
      })(),
      (async () => {
        const r = prng(o.seed ^ 0x0be1);
        while (await sleepUnless(300 + r() * 1200, stop.signal)) {
          const calls: Promise<void>[] = [];
          const n = 2 + Math.floor(r() * 3);
          for (let i = 0; i < n; i++) {
            const kind = r() < 0.5 ? 'tick' : 'compact';
            faults.overlappingCalls[kind]++;
            calls.push(
              fetch(stack.urls[kind], {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: '{}',
                signal: AbortSignal.timeout(120_000),
              }).then(
                async (res) => {
                  await res.arrayBuffer();
                  if (!res.ok) faults.overlappingCalls.failed++;
                },
                () => {
                  faults.overlappingCalls.failed++;
                },
              ),
            );
          }
          await Promise.all(calls);
        }
      })(),
    );

    o.onAgents?.(Promise.allSettled(agents));

    const plan = planWorkload({
      count: o.count,
      seed: o.seed,
      eventsPerFile,
      format,
      gzip,
      faults: DEMO_FAULTS,
      ordersPrefix: config.ordersPrefix,
      paymentsPrefix: config.paymentsPrefix,
      startMs: Date.now(),
    });
    truth = plan.truth;
    // Our own client: no automatic retries, so every 503 the uploader meets is counted and retried here.
    const storage = new Storage({
      projectId: config.projectId,
      apiEndpoint: stack.urls.storage,
      retryOptions: { autoRetry: false },
    });
    const drainOpts = {
      timeoutMs: o.drainTimeoutMs,
      gcsAdminUrl: stack.urls.storage,
      pollMs: 1000,
    };
    const main = plan.files.filter((f) => f.phase === 'main');
    const late = plan.files.filter((f) => f.phase === 'late');
    const t0 = Date.now();
    await uploadWithRetries(storage, config.inputBucket, main, faults);
    o.log(`  uploaded ${main.length} files in ${Date.now() - t0} ms; draining under faults`);
    let d = await drain(cols, drainOpts);
    o.log(`  drained in ${Math.round(d.elapsedMs / 1000)} s; uploading ${late.length} late files`);
    await uploadWithRetries(storage, config.inputBucket, late, faults);
    d = await drain(cols, drainOpts);
    o.log(`  drained in ${Math.round(d.elapsedMs / 1000)} s; stopping the faults`);

    stop.abort();
    await Promise.allSettled(agents);
    await readGcsStats(stack, faults);
    await admin({ duplicateProbability: 0, shuffleDelayMs: 0, failProbability: 0 });
    // Anything that died after the supervisor stopped comes back before the final drain.
    for (const s of readStack(dataDir)?.services ?? []) {
      if ((fnNames as string[]).includes(s.name) && !isAlive(s.pid)) {
        faults.faultPointCrashes[s.name] = (faults.faultPointCrashes[s.name] ?? 0) + 1;
        await restartFunction(dataDir, s.name);
      }
    }
    const last = await drain(cols, { ...drainOpts, timeoutMs: 120_000 });
    o.log(`  settled in ${Math.round(last.elapsedMs / 1000)} s; verifying`);

    const store = createObjectStore({ projectId: config.projectId, emulatorHost: stack.urls.storage });
    const actual = await readTableRows(store, {
      joined: tableLocationOf(config, 'joined'),
      unmatched: tableLocationOf(config, 'unmatched'),
    });
    const rejects = await listRejects(cols, { limit: 100_000 });
    verify = compareWithTruth(plan.truth, actual, rejects);
    // The reference readers open local tables only: a table on the GCS server is checked through a
    // copy whose locations are rewritten by an independent tool (fastavro), data files as they are.
    const local = async (kind: 'joined' | 'unmatched') => {
      const location = tableLocationOf(config, kind);
      if (!location.startsWith('gs://')) return location;
      const copy = path.join(dataDir, 'readers-copy', kind);
      return relocateGcsTable(path.join(dataDir, 'gcs'), location, copy);
    };
    iceberg = await checkPipelineTables(
      { joined: await local('joined'), unmatched: await local('unmatched') },
      actual,
    );
    rejectsWithoutReason = rejects.filter((r) => r.code === '' || r.message.trim() === '').length;
    if (!verify.pass) {
      const log = await readFile(path.join(dataDir, 'logs', 'ingest.log'), 'utf8').catch(() => '');
      // When each suspect pair's state began (its first event's processing time), read before the stack stops.
      const epochs = new Map<string, number>();
      const suspects = new Set([...verify.missing, ...verify.unexpected].map((k) => k.split('|')[1]!));
      for (const id of suspects) {
        const snap = await cols.states.doc(docIdFor(id)).get();
        const epoch = snap.exists ? (snap.get('s.epochMs') as number | undefined) : undefined;
        if (typeof epoch === 'number') epochs.set(id, epoch);
      }
      delays = explainByDelay(
        plan.truth,
        verify,
        actual,
        firstIngested(log),
        eventFiles(plan.files),
        config.orderTimeoutMs,
        epochs,
      );
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    if (rec !== undefined && db !== undefined) {
      try {
        const cols = collections(db, loadConfig(rec.env).collectionPrefix);
        error += ` [backlog: ${formatBacklog(await measureBacklog(cols, rec.urls.storage))}]`;
      } catch {
        // the stack may be gone
      }
    }
  } finally {
    stop.abort();
    await Promise.allSettled(agents);
    if (rec !== undefined && faults.shuffledDeliveries === 0)
      await readGcsStats(rec, faults).catch(() => undefined);
    for (const fn of ['ingest', 'tick', 'compact']) {
      try {
        const text = await readFile(path.join(dataDir, 'logs', `${fn}.log`), 'utf8');
        countMatches(text, /injected failure at ([a-z0-9.-]+)/, faults.injectedFailures);
      } catch {
        // no log
      }
    }
    await db?.terminate().catch(() => undefined);
    await stackDown(dataDir);
  }
  // Exact, or exact but for pairs proven delayed past the timeout (processing-time semantics), with the
  // quarantine exactly as expected either way.
  const exact = verify?.pass === true;
  const explained =
    verify !== undefined &&
    delays !== undefined &&
    delays.unexplained.length === 0 &&
    verify.rejectProblems.length === 0;
  const readersPass = iceberg.length === 2 && iceberg.every((c) => c.ok);
  const pass = error === undefined && (exact || explained) && rejectsWithoutReason === 0 && readersPass;
  if (pass && !o.keep) await rm(dataDir, { recursive: true, force: true });
  return {
    seed: o.seed,
    pass,
    verify,
    iceberg,
    error,
    rejectsWithoutReason,
    delays,
    truth: {
      events: truth?.events ?? 0,
      files: truth?.files ?? 0,
      duplicates: truth?.duplicates ?? 0,
      rows: truth?.rows.length ?? 0,
      rejects: Object.values(truth?.rejects ?? {}).reduce((a, b) => a + b, 0),
    },
    setup,
    faults,
    elapsedMs: Date.now() - started,
    dataDir,
  };
}

const fmt = (r: Record<string, number>) =>
  Object.keys(r).length === 0
    ? '0'
    : `${Object.values(r).reduce((a, b) => a + b, 0)} (${Object.entries(r)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`;

export function formatFaults(f: FaultCounts): string {
  return [
    `duplicate (concurrent) deliveries   ${f.duplicateDeliveries}`,
    `reordered deliveries (random delay) ${f.shuffledDeliveries}`,
    `GCS 503 answers                     ${f.gcs503} (uploader retries ${f.uploadRetries}, failed delivery attempts ${f.failedDeliveryAttempts})`,
    `SIGKILL + restart                   ${fmt(f.sigkills)}`,
    `crashes at fault points (exit:N)    ${fmt(f.faultPointCrashes)}`,
    `injected failures at fault points   ${fmt(f.injectedFailures)}`,
    `extra overlapping calls             tick ${f.overlappingCalls.tick}, compact ${f.overlappingCalls.compact} (${f.overlappingCalls.failed} answered non-2xx or were cut by a kill)`,
  ].join('\n    ');
}
