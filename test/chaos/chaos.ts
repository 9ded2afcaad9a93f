// One chaos run: the real local stack (Firestore emulator, GCS server, Functions Framework processes —
// two instances of tick and of compact —, scheduler) processes a produced workload with ground truth while
// faults happen at random — duplicate/concurrent and reordered event delivery, dropped events (recovered
// by reconciliation run right after each upload), 503s from the GCS server (inputs and the gs://
// warehouse), SIGKILLed and restarted function processes, function processes paused (SIGSTOP/SIGCONT)
// longer than the flush lease while the other instance serves the scheduler, compact processes paused
// until their base metadata is deleted (stale compactors), per-process clock skew, backlogs larger than
// one flush batch, in-process failures and crashes at the named fault points, extra overlapping tick and
// compact calls — then drains and verifies strictly: every expected row exactly once, nothing else, every
// bad record quarantined with a reason. Time is landing time, so delays the faults cause (shorter than the
// allowed lateness) change no row. The pipeline runs the default join spec, or the one `spec` names: the
// workload is then that spec's producer's (produce-spec.ts) and the rows are compared on every column
// (verify-spec.ts).
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { FUNCTION_NAMES } from '../../functions/names.ts';
import { freeLocalPorts } from '../../infra/local/ports.ts';
import { isAlive } from '../../infra/local/processes.ts';
import {
  readStack,
  restartFunction,
  type ServiceRecord,
  type StackRecord,
  stackDown,
  stackUp,
} from '../../infra/local/stack.ts';
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
import { isSpecTruth, type SpecGroundTruth } from '../../infra/ops/produce-spec.ts';
import { compareWithTruth, readTableRows, type VerifyResult } from '../../infra/ops/verify.ts';
import { compareSpecWithTruth, keyColumnOf, readSpecTableRows } from '../../infra/ops/verify-spec.ts';
import { type Config, loadConfig } from '../../shared/config.ts';
import { type Collections, collections, createFirestore } from '../../shared/firestore/client.ts';
import { OpCounter } from '../../shared/firestore/op-counter.ts';
import { listRejects } from '../../shared/firestore/rejects.ts';
import { COMMIT_FAULT_POINTS, commitWithRetry, METADATA_PROPERTIES } from '../../shared/iceberg/commit.ts';
import {
  findLatestVersion,
  loadOrCreateTable,
  loadTable,
  metadataUriFor,
} from '../../shared/iceberg/table.ts';
import { createLogger } from '../../shared/log.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { reconcileObjects } from '../../shared/pipeline/reconcile.ts';
import { openTable } from '../../shared/pipeline/tick.ts';
import { loadJoinSpec } from '../../shared/spec/load.ts';
import {
  createObjectStore,
  createStorageClient,
  GcsObjectStore,
  type ObjectStore,
} from '../../shared/storage/index.ts';
import { createInputLister, openInputObject } from '../../shared/storage/input-objects.ts';
import { TABLES } from '../../shared/tables.ts';
import { relocateGcsTable } from '../support/relocate-table.ts';
import {
  eventFiles,
  explainByLateIngest,
  explainSpecByLateIngest,
  filesIngestedLate,
  type LateVerdict,
  specEventFiles,
} from './late-proof.ts';

export interface ChaosOptions {
  readonly seed: number;
  /** Orders (left events, one per key) in the workload (pairs, plus the fault mix's extras). */
  readonly count: number;
  /** A join spec file (STREAMJOIN_SPEC) the pipeline runs with; absent: the shipped default spec. */
  readonly spec?: string;
  /** Order and payment timeout (a duration setting, e.g. "10s"), of landing time. */
  readonly timeout: string;
  /** Allowed lateness (STREAMJOIN_ALLOWED_LATENESS): must exceed the worst delay the faults cause. */
  readonly lateness: string;
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
  /** Events the GCS server never delivered (drop-delivery mode). */
  droppedDeliveries: number;
  /** Objects reconciliation found without a ledger entry and ingested (dropped ones, and some in flight). */
  reconciled: number;
  sigkills: Record<string, number>;
  faultPointCrashes: Record<string, number>;
  injectedFailures: Record<string, number>;
  overlappingCalls: { tick: number; compact: number; failed: number };
  /** SIGSTOP/SIGCONT of a function process (while another instance of it serves), by process. */
  pauses: Record<string, number>;
  /** Stops of a process by itself at a `stop:N` fault point (then held and continued), by process. */
  selfStops: Record<string, number>;
  /** Compact pauses during which a table moved beyond the paused process's base's metadata-log. */
  staleCompactors: number;
  /** ... and the base's metadata file was deleted meanwhile (delete-after-commit). */
  staleBasesDeleted: number;
  /** Commits found based on a stale base after such a pause and refused (from the compact logs). */
  staleCommitsRefused: number;
  /** Commits by another writer (the suite, as an engine setting properties) moving the tables on. */
  otherWriterCommits: number;
  /** Wall-clock offset of each function process, ms. */
  clockSkewMs: Record<string, number>;
  /** Rows per flush batch (backlogs are larger than one batch). */
  flushMaxRows: number;
}

export interface ChaosResult {
  readonly seed: number;
  readonly pass: boolean;
  readonly verify: VerifyResult | undefined;
  /** When the rows differ: the pairs split by ingest after their window, proven from the ingest log. */
  readonly late: LateVerdict | undefined;
  /** check-iceberg (pyiceberg 0.9.1 and Java Iceberg core) on both tables after the drain. */
  readonly iceberg: readonly IcebergCheck[];
  readonly error: string | undefined;
  readonly rejectsWithoutReason: number;
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
 * Points where a process stops itself (SIGSTOP) on its N-th pass, N in [from, to), and is held by the
 * chaos suite before it continues: a compact process between planning a commit and writing its metadata
 * (it resumes as a stale committer), a tick between writing a batch's file and staging it (it resumes as
 * a holder past its lease).
 */
const STOP_POINTS: Record<string, [number, number]> = {
  [COMMIT_FAULT_POINTS.beforeMetadata]: [2, 6],
  'flush.after-write': [3, 8],
};

/**
 * A STREAMJOIN_FAULTS spec: every point fails at random (p:X); a few points instead crash their process
 * on every N-th pass (exit:N — the process is SIGKILLed there, and restarted by the supervisor); the
 * STOP_POINTS stop it there (stop:N — held by the watcher, then continued).
 * Ingest passes its points once per file, tick/compact once per run, so N is scaled to keep progress.
 */
export function planFaultSpec(rnd: () => number): string {
  const parts: string[] = [];
  for (const [fn, points] of Object.entries(FAULT_POINTS)) {
    for (const point of points) {
      const stopAt = STOP_POINTS[point];
      if (stopAt !== undefined) {
        parts.push(`${point}=stop:${stopAt[0] + Math.floor(rnd() * (stopAt[1] - stopAt[0]))}`);
      } else if (rnd() < 0.2) {
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
    dropped: number;
  };
  faults.droppedDeliveries = stats.dropped;
  faults.duplicateDeliveries = stats.duplicatesSent;
  faults.gcs503 = stats.faultsInjected;
  faults.failedDeliveryAttempts = stats.failedAttempts;
  faults.shuffledDeliveries = stats.enqueued;
}

/**
 * `streamjoin reconcile --grace 0s`, in-process, right after an upload: ingests every object without a
 * ledger entry (the dropped ones; others may be in flight). The GCS server may answer 503 and functions
 * die meanwhile, so it is repeated until a run has no failure.
 */
async function reconcileNow(
  config: Config,
  cols: Collections,
  db: ReturnType<typeof createFirestore>,
  storageUrl: string,
  faults: FaultCounts,
): Promise<void> {
  const storage = createStorageClient({ projectId: config.projectId, emulatorHost: storageUrl });
  // Reads without the client's own retries (see openInputObject): a 503 fails that object, retried below.
  const reads = createStorageClient({
    projectId: config.projectId,
    emulatorHost: storageUrl,
    autoRetry: false,
  });
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await reconcileObjects(
        {
          db,
          collections: cols,
          counter: new OpCounter(),
          config,
          log: createLogger({ level: 'silent' }),
          listObjects: createInputLister(storage),
          openObject: (o) => openInputObject(reads, o),
        },
        { scope: { kind: 'recent', days: 2, graceMs: 0 }, via: 'reconcile' },
      );
      faults.reconciled += r.ingested;
      if (r.failed.length === 0) return;
    } catch (err) {
      if (attempt >= 20) throw err;
    }
    if (attempt >= 20) throw new Error('reconciliation kept failing under the faults');
    await sleep(500);
  }
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
    dropProbability: Number((0.05 + rnd() * 0.1).toFixed(2)),
    retryMaxMs: 2000,
  };
  const killEveryMs: [number, number] = [1500, 5000];
  // A flush lease of this many ms (the chaos option is a duration like "5s").
  const leaseMs = parseDurationMs(o.flushLease);
  const flushMaxRows = 10 + Math.floor(rnd() * 40);
  const previousVersionsMax = 2 + Math.floor(rnd() * 3);
  // Rewrites of a few small files at a time: more commits (and stale rewrites) while a compactor is paused.
  const minFilesToCompact = 2 + Math.floor(rnd() * 3);
  // Per process: tick clocks within ±4 s (two ticks disagree about leases: one takes a batch over early,
  // the other holds on late), compact clocks within ±30 s. A tick clock ahead closes windows early by its
  // skew, which the allowed lateness absorbs: deadlines are landing times, and no row depends on it.
  const skewRnd = prng(o.seed ^ 0xc10c);
  const clockSkewMs: Record<string, number> = {};
  for (const name of ['tick', 'tick-2', 'compact', 'compact-2']) {
    clockSkewMs[name] = Math.round((skewRnd() * 2 - 1) * (name.startsWith('tick') ? 4000 : 30_000));
  }
  const faults: FaultCounts = {
    duplicateDeliveries: 0,
    shuffledDeliveries: 0,
    gcs503: 0,
    uploadRetries: 0,
    failedDeliveryAttempts: 0,
    droppedDeliveries: 0,
    reconciled: 0,
    sigkills: {},
    faultPointCrashes: {},
    injectedFailures: {},
    overlappingCalls: { tick: 0, compact: 0, failed: 0 },
    pauses: {},
    selfStops: {},
    staleCompactors: 0,
    staleBasesDeleted: 0,
    otherWriterCommits: 0,
    staleCommitsRefused: 0,
    clockSkewMs,
    flushMaxRows,
  };
  const dataDir = o.dataDir;
  // A spec file is read (and refused with its problems) before anything starts; the stack reads it again.
  const specFile = o.spec === undefined ? undefined : path.resolve(o.spec);
  const spec = specFile === undefined ? undefined : loadJoinSpec(specFile);
  const setup = [
    ...(spec === undefined
      ? []
      : [
          `join spec ${spec.name} (${specFile}): ${spec.left.name} ⋈ ${spec.right.name} by ${spec.left.key}, tables ${spec.namespace}.${spec.joined.name} and ${spec.namespace}.${spec.unmatched.name}`,
        ]),
    `${o.count} ${spec === undefined ? 'order' : spec.left.name}s as ${format}${format === 'object' ? '' : ` (${eventsPerFile} events/file)`}${gzip ? ', gzip' : ''}`,
    `timeouts ${o.timeout}, allowed lateness ${o.lateness}, flush lease ${o.flushLease}, tick 1 s, compact 2 s, warehouse ${o.warehouse}://`,
    `GCS server: duplicate p=${gcsOptions.duplicateProbability}, drop p=${gcsOptions.dropProbability} (reconcile --grace 0s after each upload), shuffle 0–${gcsOptions.shuffleDelayMs} ms, 503 p=${gcsOptions.failProbability}`,
    `SIGKILL a random function every ${killEveryMs[0] / 1000}–${killEveryMs[1] / 1000} s; extra tick/compact calls, 2–4 at once, every 0.3–1.5 s`,
    `two instances of tick and of compact; one paused (SIGSTOP) every 2–6 s for ${Math.round(leaseMs / 1000) + 1}–${Math.round(leaseMs / 1000) + 7} s (compact: half the time until the table moves beyond its base metadata, at most 30 s: a stale compactor)`,
    `clock skew ms: ${Object.entries(clockSkewMs)
      .map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`)
      .join(
        ', ',
      )}; flush batches of ${flushMaxRows} rows; metadata-log of ${previousVersionsMax}, deleted after each commit; rewrites from ${minFilesToCompact} small files`,
    `STREAMJOIN_FAULTS=${faultSpec}`,
  ].join('\n    ');
  o.log(`chaos seed ${o.seed}: data in ${dataDir}\n    ${setup}`);

  const stop = new AbortController();
  /** Ends the stopped-process watcher, which outlives the other agents (see below). */
  const quiet = new AbortController();
  let watcher: Promise<void> = Promise.resolve();
  o.signal?.addEventListener(
    'abort',
    () => {
      stop.abort();
      quiet.abort();
    },
    { once: true },
  );
  const agents: Promise<void>[] = [];
  const exclusive = mutex();
  let verify: VerifyResult | undefined;
  let lateVerdict: LateVerdict | undefined;
  let iceberg: IcebergCheck[] = [];
  let error: string | undefined;
  let rejectsWithoutReason = 0;
  let truth: GroundTruth | SpecGroundTruth | undefined;
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
        STREAMJOIN_ALLOWED_LATENESS: o.lateness,
        STREAMJOIN_TICK_INTERVAL: '1s',
        STREAMJOIN_COMPACT_INTERVAL: '2s',
        STREAMJOIN_WAREHOUSE: warehouse,
        STREAMJOIN_FLUSH_LEASE: o.flushLease,
        STREAMJOIN_FLUSH_MAX_ROWS: String(flushMaxRows),
        STREAMJOIN_MIN_FILES_TO_COMPACT: String(minFilesToCompact),
        STREAMJOIN_FAULTS: faultSpec,
        ...(specFile === undefined ? {} : { STREAMJOIN_SPEC: specFile }),
      },
      extraInstances: { tick: 1, compact: 1 },
      processEnv: (name) => {
        const skew = clockSkewMs[name];
        return skew === undefined
          ? undefined
          : { NODE_OPTIONS: `--import=${CLOCK_SKEW_PRELOAD}`, STREAMJOIN_CHAOS_CLOCK_SKEW_MS: String(skew) };
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
    const store = createObjectStore({ projectId: config.projectId, emulatorHost: stack.urls.storage });
    // The suite's own reads of the warehouse while the GCS server injects 503s: no automatic retries
    // (retry-request discarding a 503 makes teeny-request 11 throw ERR_STREAM_UNABLE_TO_PIPE outside any
    // promise, googleapis/google-cloud-node#8670); a failed read just counts as "unknown" there.
    const monitor = new GcsObjectStore(
      new Storage({
        projectId: config.projectId,
        apiEndpoint: stack.urls.storage,
        retryOptions: { autoRetry: false },
      }),
    );
    const tableLocations = [tableLocationOf(config, 'joined'), tableLocationOf(config, 'unmatched')];
    // Another writer (as an operator or engine would) keeps a short metadata-log and deletes what falls off
    // it after each commit (Java's table properties): a paused compactor's base metadata soon disappears.
    for (const kind of ['joined', 'unmatched'] as const) {
      // The default spec's tables as these runs always created them (no spec recorded: read as the
      // default's); another spec's as the pipeline creates them (recording that spec, else the pipeline
      // would take them for the default's tables and refuse the change of key).
      const t =
        specFile === undefined
          ? await loadOrCreateTable(store, tableLocationOf(config, kind), TABLES[kind])
          : await openTable({ store, config }, kind);
      await commitWithRetry(
        t,
        async () => ({
          kind: 'commit',
          updates: [
            {
              action: 'set-properties',
              updates: {
                [METADATA_PROPERTIES.previousVersionsMax]: String(previousVersionsMax),
                [METADATA_PROPERTIES.deleteAfterCommit]: 'true',
              },
            },
          ],
          requirements: [],
          attemptFiles: [],
        }),
        (md) => md.properties[METADATA_PROPERTIES.previousVersionsMax] === String(previousVersionsMax),
        { maxAttempts: 30 },
      );
    }

    await admin(gcsOptions);

    // Agents: the killer, the supervisor (restarts what died on its own: fault-point exits), and the
    // extra overlapping tick/compact calls. All stop on `stop`.
    const fnNames = (readStack(dataDir)?.services ?? []).filter(isFunction).map((s) => s.name);
    /** Instances paused right now (their URLs get no extra calls: they would only hang). */
    const pausedUrls = new Set<string>();
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
              if (isFunction(s) && !isAlive(s.pid)) {
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
            const urls = (stack.instances?.[kind] ?? [stack.urls[kind]]).filter((u) => !pausedUrls.has(u));
            const url = urls[Math.floor(r() * urls.length)];
            if (url === undefined) continue;
            faults.overlappingCalls[kind]++;
            calls.push(
              fetch(url, {
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

    // Pauses. A stopped process (SIGSTOP, by the pauser below or by itself at a `stop:N` fault point) is
    // held, then continued (SIGCONT): a tick longer than the flush lease (its batch is taken over; it must
    // not stage or delete on resuming), a compact process until the table has moved beyond its base's
    // metadata-log (a stale compactor: its base metadata is deleted), at most 30 s.
    const held = new Set<number>();
    /** Functions with a held process: at most one per function, so the other instance serves. */
    const heldFunctions = new Set<string>();
    const hold = async (svc: ServiceRecord, r: () => number, stale: boolean): Promise<void> => {
      heldFunctions.add(svc.target ?? svc.name);
      pausedUrls.add(svc.url);
      const heads = stale ? await headVersions(monitor, tableLocations) : [];
      const started = Date.now();
      // Meanwhile another writer (an engine setting a property) moves both tables on, so the held
      // compactor's base falls off the metadata-log even when the pipeline has little to commit.
      const mover = stale
        ? moveTablesOn(monitor, tableLocations, previousVersionsMax + 2, faults)
        : undefined;
      const until = started + (stale ? 30_000 : leaseMs + 1000 + r() * 6000);
      let fell = false;
      while (
        !fell &&
        Date.now() < until &&
        (await sleepUnless(stale ? 1000 : until - Date.now(), stop.signal))
      ) {
        if (stale) fell = await fellOffLog(monitor, tableLocations, heads, previousVersionsMax);
      }
      await mover;
      await exclusive(async () => signalGroup(svc.pid, 'SIGCONT'));
      pausedUrls.delete(svc.url);
      held.delete(svc.pid);
      heldFunctions.delete(svc.target ?? svc.name);
      if (stale) {
        const deleted = await baseDeleted(monitor, tableLocations, heads);
        if (fell) faults.staleCompactors++;
        if (deleted) faults.staleBasesDeleted++;
        o.log(
          `  held ${svc.name} ${Math.round((Date.now() - started) / 1000)} s: heads ${heads.join('/')} → ${(await headVersions(monitor, tableLocations)).join('/')}${fell ? ', its base off the metadata-log' : ''}${deleted ? ', base metadata deleted' : ''}`,
        );
      }
    };
    // The pauser: SIGSTOP one tick or compact process while the other instance serves (the first pause
    // is a stale compactor, while the workload's commits flow), most often just after sending it a call.
    agents.push(
      (async () => {
        const r = prng(o.seed ^ 0x57a1e);
        let first = true;
        while (await sleepUnless(first ? 3000 : 2000 + r() * 4000, stop.signal)) {
          const fn = first || r() < 0.5 ? 'compact' : 'tick';
          if (heldFunctions.has(fn)) continue;
          const live = (readStack(dataDir)?.services ?? []).filter(
            (s) => (s.target ?? s.name) === fn && isAlive(s.pid) && !held.has(s.pid),
          );
          if (live.length < 2) continue; // another instance must serve meanwhile
          const svc = live[Math.floor(r() * live.length)]!;
          const stale = fn === 'compact' && (first || r() < 0.5);
          first = false;
          if (r() < 0.7) {
            faults.overlappingCalls[fn]++;
            void fetch(svc.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{}',
              signal: AbortSignal.timeout(120_000),
            }).then(
              async (res) => {
                await res.arrayBuffer().catch(() => undefined);
                if (!res.ok) faults.overlappingCalls.failed++;
              },
              () => {
                faults.overlappingCalls.failed++;
              },
            );
            await sleep(20 + r() * 400);
          }
          if (heldFunctions.has(fn)) continue; // the watcher took one meanwhile
          held.add(svc.pid);
          heldFunctions.add(fn);
          if (!(await exclusive(async () => signalGroup(svc.pid, 'SIGSTOP')))) {
            heldFunctions.delete(fn);
            held.delete(svc.pid);
            continue;
          }
          faults.pauses[svc.name] = (faults.pauses[svc.name] ?? 0) + 1;
          await hold(svc, r, stale);
        }
      })(),
    );
    // The watcher: a process that stopped itself at a `stop:N` fault point (a compact process between
    // planning a commit and writing its metadata, a tick between writing a batch's file and staging it)
    // is held the same way, then continued; once the faults stop, and until the very end (the final
    // drain still passes fault points), it is continued at once.
    const holding: Promise<void>[] = [];
    watcher = (async () => {
      const r = prng(o.seed ^ 0x5e1f);
      while (await sleepUnless(250, quiet.signal)) {
        for (const svc of readStack(dataDir)?.services ?? []) {
          if (!isFunction(svc) || held.has(svc.pid) || processState(svc.pid) !== 'T') continue;
          faults.selfStops[svc.name] = (faults.selfStops[svc.name] ?? 0) + 1;
          // Held only while the function's other instance serves; else (or once the faults stop) at once.
          if (stop.signal.aborted || heldFunctions.has(svc.target ?? svc.name)) {
            signalGroup(svc.pid, 'SIGCONT');
            continue;
          }
          held.add(svc.pid);
          holding.push(hold(svc, r, (svc.target ?? svc.name) === 'compact'));
        }
      }
      await Promise.allSettled(holding);
    })();

    o.onAgents?.(Promise.allSettled([...agents, watcher]));

    const plan = planWorkload({
      spec: config.joinSpec,
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
    await reconcileNow(config, cols, db, stack.urls.storage, faults);
    o.log(`  uploaded ${main.length} files and reconciled in ${Date.now() - t0} ms; draining under faults`);
    let d = await drain(cols, drainOpts);
    o.log(`  drained in ${Math.round(d.elapsedMs / 1000)} s; uploading ${late.length} late files`);
    await uploadWithRetries(storage, config.inputBucket, late, faults);
    await reconcileNow(config, cols, db, stack.urls.storage, faults);
    d = await drain(cols, drainOpts);
    o.log(`  drained in ${Math.round(d.elapsedMs / 1000)} s; stopping the faults`);

    stop.abort();
    await Promise.allSettled(agents);
    await readGcsStats(stack, faults);
    await admin({ duplicateProbability: 0, shuffleDelayMs: 0, failProbability: 0, dropProbability: 0 });
    // Anything that died after the supervisor stopped comes back before the final drain.
    for (const s of readStack(dataDir)?.services ?? []) {
      if (isFunction(s) && !isAlive(s.pid)) {
        faults.faultPointCrashes[s.name] = (faults.faultPointCrashes[s.name] ?? 0) + 1;
        await restartFunction(dataDir, s.name);
      }
    }
    const last = await drain(cols, { ...drainOpts, timeoutMs: 120_000 });
    o.log(`  settled in ${Math.round(last.elapsedMs / 1000)} s; verifying`);

    const locations = {
      joined: tableLocationOf(config, 'joined'),
      unmatched: tableLocationOf(config, 'unmatched'),
    };
    const rejects = await listRejects(cols, { limit: 100_000 });
    // The default spec's truth is compared as it always was; another spec's on every column. The readers
    // get each table's row count and the joined table's key column as a unique key.
    const planTruth = plan.truth;
    let counted: readonly { readonly reason: string }[];
    let explainLate: (lateFiles: ReadonlySet<string>) => LateVerdict;
    if (isSpecTruth(planTruth)) {
      const joinSpec = config.joinSpec;
      const actual = await readSpecTableRows(store, locations);
      const v = compareSpecWithTruth(joinSpec, planTruth, actual, rejects);
      verify = v;
      counted = actual.map((r) => ({ reason: r.table === 'joined' ? 'joined' : 'unmatched' }));
      explainLate = (late) =>
        explainSpecByLateIngest(joinSpec, planTruth, v, actual, late, specEventFiles(joinSpec, plan.files));
    } else {
      const actual = await readTableRows(store, locations);
      const v = compareWithTruth(planTruth, actual, rejects);
      verify = v;
      counted = actual;
      explainLate = (late) => explainByLateIngest(planTruth, v, actual, late, eventFiles(plan.files));
    }
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
      counted,
      process.env,
      keyColumnOf(config.joinSpec) ?? 'order_id',
    );
    rejectsWithoutReason = rejects.filter((r) => r.code === '' || r.message.trim() === '').length;
    if (!verify.pass) {
      const log = await readFile(path.join(dataDir, 'logs', 'ingest.log'), 'utf8').catch(() => '');
      lateVerdict = explainLate(filesIngestedLate(log));
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
    quiet.abort();
    await Promise.allSettled([...agents, watcher]);
    if (rec !== undefined && faults.shuffledDeliveries === 0)
      await readGcsStats(rec, faults).catch(() => undefined);
    const logs = await readdir(path.join(dataDir, 'logs')).catch(() => [] as string[]);
    for (const name of logs.filter((n) => /^(ingest|tick|compact)(-\d+)?\.log$/.test(n))) {
      try {
        const text = await readFile(path.join(dataDir, 'logs', name), 'utf8');
        countMatches(text, /injected failure at ([a-z0-9.-]+)/, faults.injectedFailures);
        if (name.startsWith('compact')) {
          const refused: Record<string, number> = {};
          countMatches(text, /(table head does not descend from)/, refused);
          faults.staleCommitsRefused += refused['table head does not descend from'] ?? 0;
        }
      } catch {
        // no log
      }
    }
    await db?.terminate().catch(() => undefined);
    await stackDown(dataDir);
  }
  // Strict: exactly the truth's rows and rejects (landing time: delays shorter than the allowed lateness
  // change no row), or exact but for pairs whose late half the pipeline itself logged as ingested after
  // its window (a machine too loaded to ingest within deadline + lateness; each event still exactly
  // once), with the quarantine exactly as expected; and both tables read correctly by the reference readers.
  const readersPass = iceberg.length === 2 && iceberg.every((c) => c.ok);
  const rowsPass =
    verify?.pass === true ||
    (verify !== undefined &&
      lateVerdict !== undefined &&
      lateVerdict.unexplained.length === 0 &&
      verify.rejectProblems.length === 0);
  const pass = error === undefined && rowsPass && rejectsWithoutReason === 0 && readersPass;
  if (pass && !o.keep) await rm(dataDir, { recursive: true, force: true });
  return {
    seed: o.seed,
    pass,
    verify,
    late: lateVerdict,
    iceberg,
    error,
    rejectsWithoutReason,
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

/** test/chaos/clock-skew.ts, preloaded into the function processes given a skew. */
const CLOCK_SKEW_PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clock-skew.ts');

function isFunction(s: { name: string; target?: string }): boolean {
  return (Object.values(FUNCTION_NAMES) as string[]).includes(s.target ?? s.name);
}

/** Sends a signal to a process group; false when it is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function parseDurationMs(text: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  if (m === null)
    throw new Error(`expected a duration like 5s, 500ms or 1m, but was: ${JSON.stringify(text)}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** Each table's current version (readers' rule), or 0 when it cannot be read right now. */
async function headVersions(store: ObjectStore, locations: readonly string[]): Promise<number[]> {
  const one = async (l: string): Promise<number> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return (await findLatestVersion(store, l)) ?? 0;
      } catch {
        await sleep(50);
      }
    }
    return 0;
  };
  return Promise.all(locations.map(one));
}

/**
 * Another writer's commits (a property each, as an engine sharing the table would make): `n` on each
 * table, through a store without automatic retries (see `monitor`), retried here on errors.
 */
async function moveTablesOn(
  store: ObjectStore,
  locations: readonly string[],
  n: number,
  faults: FaultCounts,
): Promise<void> {
  for (const location of locations) {
    for (let i = 0, failures = 0; i < n && failures < 20; ) {
      try {
        const table = await loadTable(store, location);
        await commitWithRetry(
          table,
          async () => ({
            kind: 'commit',
            updates: [{ action: 'set-properties', updates: { 'chaos.other-writer': String(Date.now()) } }],
            requirements: [],
            attemptFiles: [],
          }),
          () => false,
          { maxAttempts: 4, baseDelayMs: 10 },
        );
        faults.otherWriterCommits++;
        i++;
      } catch {
        failures++;
        await sleep(50);
      }
    }
  }
}

/** True when a table has moved more versions beyond `heads` than its metadata-log keeps. */
async function fellOffLog(
  store: ObjectStore,
  locations: readonly string[],
  heads: readonly number[],
  logSize: number,
): Promise<boolean> {
  const now = await headVersions(store, locations);
  return now.some((v, i) => heads[i]! > 0 && v - heads[i]! > logSize);
}

/** A process's state letter from /proc (Linux): 'T' when stopped. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** True when a table's metadata file at the version it had before a pause is gone (a stale base). */
async function baseDeleted(
  store: ObjectStore,
  locations: readonly string[],
  heads: readonly number[],
): Promise<boolean> {
  for (let i = 0; i < locations.length; i++) {
    if (
      heads[i]! > 0 &&
      (await store.stat(metadataUriFor(locations[i]!, heads[i]!)).catch(() => ({}))) === undefined
    )
      return true;
  }
  return false;
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
    `dropped deliveries                  ${f.droppedDeliveries} (reconcile found and ingested ${f.reconciled} objects without a ledger entry)`,
    `GCS 503 answers                     ${f.gcs503} (uploader retries ${f.uploadRetries}, failed delivery attempts ${f.failedDeliveryAttempts})`,
    `SIGKILL + restart                   ${fmt(f.sigkills)}`,
    `crashes at fault points (exit:N)    ${fmt(f.faultPointCrashes)}`,
    `injected failures at fault points   ${fmt(f.injectedFailures)}`,
    `extra overlapping calls             tick ${f.overlappingCalls.tick}, compact ${f.overlappingCalls.compact} (${f.overlappingCalls.failed} answered non-2xx or were cut by a kill)`,
    `paused processes (SIGSTOP/SIGCONT)  ${fmt(f.pauses)}`,
    `stops at fault points (stop:N)      ${fmt(f.selfStops)}`,
    `stale compactors                    ${f.staleCompactors} (table moved beyond the base's metadata-log while paused; base metadata deleted: ${f.staleBasesDeleted}; stale commits refused: ${f.staleCommitsRefused}; commits by another writer meanwhile: ${f.otherWriterCommits})`,
    `clock skew (ms)                     ${Object.entries(f.clockSkewMs)
      .map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`)
      .join(', ')}`,
    `flush batch size (rows)             ${f.flushMaxRows}`,
  ].join('\n    ');
}
