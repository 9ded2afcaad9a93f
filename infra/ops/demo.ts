// `streamjoin demo` (`npm start`): the whole pipeline on this machine in about a minute — the local
// stack up with short timeouts, a produced workload with every fault kind, drain, verify against the
// ground truth, a summary, then the stack down. The tables stay under <data-dir>/warehouse.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../shared/config.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { listRejects } from '../../shared/firestore/rejects.ts';
import { listDataFiles, listSnapshots, loadTable, readDataFileRows } from '../../shared/iceberg/index.ts';
import { currentSchema } from '../../shared/iceberg/snapshot-producer.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { streamEvents } from '../../shared/spec/model.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import type { ObjectStore } from '../../shared/storage/port.ts';
import type { LocalPorts } from '../local/ports.ts';
import { stackDown, stackUp } from '../local/stack.ts';
import {
  checkPipelineTables,
  formatIcebergCheck,
  type IcebergCheck,
  requireReadersKit,
} from './check-iceberg.ts';
import { drain, formatBacklog } from './drain.ts';
import {
  DEMO_FAULTS,
  type FaultMix,
  type GroundTruth,
  type ProduceFormat,
  planWorkload,
  uploadFiles,
} from './produce.ts';
import { isSpecTruth, type SpecGroundTruth } from './produce-spec.ts';
import { compareWithTruth, formatVerify, readTableRows, type VerifyResult } from './verify.ts';
import { compareSpecWithTruth, keyColumnOf, readSpecTableRows } from './verify-spec.ts';

export interface DemoOptions {
  readonly dataDir: string;
  readonly count: number;
  readonly seed: number;
  readonly timeout: string;
  /** Allowed lateness (STREAMJOIN_ALLOWED_LATENESS): how long after a deadline the tick closes a window. */
  readonly lateness: string;
  readonly duplicateDelivery: number;
  readonly format: ProduceFormat;
  readonly eventsPerFile: number;
  readonly gzip: boolean;
  readonly faults?: FaultMix;
  readonly drainTimeoutMs?: number;
  /** Ports of the stack (default: firebase.json). */
  readonly ports?: LocalPorts;
  /** Extra environment for the stack (e.g. fault injection in chaos tests). */
  readonly env?: Record<string, string>;
  readonly log: (line: string) => void;
  /** Progress line (overwritten in place on a terminal). */
  readonly progress?: (line: string) => void;
  /** Aborting (Ctrl-C) stops at the next step of the current phase; the stack is stopped either way. */
  readonly signal?: AbortSignal;
  /** Called as each phase begins: 'stack start', 'upload', 'drain', 'verify'. */
  readonly onPhase?: (phase: DemoPhase) => void;
}

export type DemoPhase = 'stack start' | 'upload' | 'drain' | 'verify';

export interface DemoResult {
  /** The rows match the truth AND both reference readers pass on both tables. */
  readonly pass: boolean;
  readonly verify: VerifyResult;
  /** check-iceberg (pyiceberg 0.9.1 and Java Iceberg core) on each table. */
  readonly iceberg: readonly IcebergCheck[];
  readonly truth: GroundTruth | SpecGroundTruth;
  /** The join spec's name and its two tables (`namespace.table`). */
  readonly spec: string;
  readonly tables: { readonly joined: string; readonly unmatched: string };
  /** Where the two tables are (their location URIs). */
  readonly locations: { readonly joined: string; readonly unmatched: string };
  readonly latency: { p50: number; p95: number; max: number; n: number };
  readonly firestore: { reads: number; writes: number; deletes: number };
  /** Valid events the join ignored as duplicates (duplicate files and duplicate deliveries). */
  readonly duplicatesIgnored: number;
  /** Events ingested after the window they landed in was closed (0 when nothing was late). */
  readonly ingestedLate: number;
  readonly uploadedFiles: number;
  readonly snapshots: Record<string, number>;
  readonly dataFiles: Record<string, number>;
  readonly rejects: number;
  readonly duplicatesSent: number;
  readonly elapsedMs: number;
  readonly warehouse: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sums what the function invocations logged: Firestore operations, and duplicates the join ignored. */
export function sumFunctionLogs(logFiles: readonly string[]): {
  firestore: { reads: number; writes: number; deletes: number };
  duplicatesIgnored: number;
  ingestedLate: number;
} {
  const firestore = { reads: 0, writes: 0, deletes: 0 };
  let duplicatesIgnored = 0;
  let ingestedLate = 0;
  for (const f of logFiles) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.startsWith('{') || !line.includes('"firestore"')) continue;
      try {
        const j = JSON.parse(line) as {
          firestore?: { reads: number; writes: number; deletes: number };
          counters?: { duplicateOrders?: number; duplicatePayments?: number; ingestedLate?: number };
          message?: string;
        };
        if (j.firestore === undefined || !['ingested', 'tick done', 'compact done'].includes(j.message ?? ''))
          continue;
        firestore.reads += j.firestore.reads;
        firestore.writes += j.firestore.writes;
        firestore.deletes += j.firestore.deletes;
        duplicatesIgnored += (j.counters?.duplicateOrders ?? 0) + (j.counters?.duplicatePayments ?? 0);
        ingestedLate += j.counters?.ingestedLate ?? 0;
      } catch {
        // not one of ours
      }
    }
  }
  return { firestore, duplicatesIgnored, ingestedLate };
}

/** When each key's joined row was first committed (the snapshot that first made it visible); the key
 *  column is `order_id` for the default spec. */
export async function commitTimes(
  store: ObjectStore,
  location: string,
  keyColumn = 'order_id',
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const table = await loadTable(store, location);
  const schema = currentSchema(table.metadata);
  const seen = new Set<string>();
  for (const s of listSnapshots(table)) {
    for (const e of await listDataFiles(table, s.snapshotId)) {
      if (seen.has(e.dataFile.filePath)) continue;
      seen.add(e.dataFile.filePath);
      for await (const r of readDataFileRows(
        store,
        e.dataFile.filePath,
        e.dataFile.fileSizeInBytes,
        schema,
      )) {
        const id = String(r[keyColumn]);
        if (!out.has(id)) out.set(id, s.timestampMs);
      }
    }
  }
  return out;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  requireReadersKit(); // before the stack starts: no PASS is possible without the reference readers
  const dataDir = path.resolve(o.dataDir);
  const signal = o.signal;
  const checkAbort = () => {
    if (signal?.aborted === true) throw signal.reason ?? new Error('aborted');
  };
  const sig = signal === undefined ? {} : { signal };
  await stackDown(dataDir); // a stack left by a run that was killed outright
  o.onPhase?.('stack start');
  o.log(
    `starting the local stack (data in ${dataDir}) — timeouts ${o.timeout} of landing time on both sides, allowed lateness ${o.lateness}, tick 1 s`,
  );
  const rec = await stackUp({
    dataDir,
    fresh: true,
    ...sig,
    ...(o.ports === undefined ? {} : { ports: o.ports }),
    env: {
      STREAMJOIN_ORDER_TIMEOUT: o.timeout,
      STREAMJOIN_PAYMENT_TIMEOUT: o.timeout,
      STREAMJOIN_ALLOWED_LATENESS: o.lateness,
      STREAMJOIN_TICK_INTERVAL: '1s',
      STREAMJOIN_COMPACT_INTERVAL: '2s',
      STREAMJOIN_DUPLICATE_DELIVERY: String(o.duplicateDelivery),
      ...(o.env ?? {}),
    },
  });
  const config = loadConfig(rec.env);
  const spec = config.joinSpec;
  const db = createFirestore(config);
  const cols = collections(db, config.collectionPrefix);
  try {
    const plan = planWorkload({
      spec,
      count: o.count,
      seed: o.seed,
      eventsPerFile: o.eventsPerFile,
      format: o.format,
      gzip: o.gzip,
      faults: o.faults ?? DEMO_FAULTS,
      ordersPrefix: config.ordersPrefix,
      paymentsPrefix: config.paymentsPrefix,
      startMs: Date.now(),
    });
    const truthFile = path.join(dataDir, 'truth.json');
    writeFileSync(truthFile, `${JSON.stringify(plan.truth, null, 1)}\n`);
    o.log(
      `produced ${plan.truth.events} events in ${plan.files.length} files (${o.format}${o.gzip ? ', gzip' : ''}) with every fault kind; ground truth in ${truthFile}`,
    );
    const storage = createStorageClient({ projectId: config.projectId, emulatorHost: rec.urls.storage });
    const bucket = storage.bucket(config.inputBucket);
    const save = (name: string, body: Buffer) => bucket.file(name).save(body, { resumable: false });
    const progress = o.progress ?? (() => {});
    const drainOpts = {
      timeoutMs: o.drainTimeoutMs ?? 240_000,
      gcsAdminUrl: rec.urls.storage,
      onProgress: (b: Parameters<typeof formatBacklog>[0], ms: number) =>
        progress(`draining (${Math.round(ms / 1000)} s): ${formatBacklog(b)}`),
    };
    const main = plan.files.filter((f) => f.phase === 'main');
    const late = plan.files.filter((f) => f.phase === 'late');
    o.onPhase?.('upload');
    const up1 = await uploadFiles(save, main, {
      concurrency: 16,
      onProgress: (d, t) => progress(`uploading ${d}/${t} files`),
      ...sig,
    });
    o.onPhase?.('drain');
    o.log(
      `uploaded ${main.length} files; waiting for ingestion, the ${o.timeout} timeouts, flush and commit`,
    );
    await drain(cols, { ...drainOpts, ...sig });
    o.onPhase?.('upload');
    const up2 = await uploadFiles(save, late, {
      concurrency: 16,
      onProgress: (d, t) => progress(`uploading late ${d}/${t}`),
      ...sig,
    });
    o.onPhase?.('drain');
    o.log(lateFilesLine(late.length, spec.left.name, spec.right.name, isSpecTruth(plan.truth)));
    await drain(cols, { ...drainOpts, ...sig });
    progress('');
    o.onPhase?.('verify');
    o.log('verifying both tables against the ground truth');

    const store = new FileObjectStore();
    const locations = {
      joined: tableLocationOf(config, 'joined'),
      unmatched: tableLocationOf(config, 'unmatched'),
    };
    const rejects = await listRejects(cols, { limit: 100_000 });
    checkAbort();
    // The default spec's truth is compared as it always was; any other spec's on every column.
    const truth = plan.truth;
    let verify: VerifyResult;
    let counted: { reason: string }[];
    if (isSpecTruth(truth)) {
      const actual = await readSpecTableRows(store, locations);
      verify = compareSpecWithTruth(spec, truth, actual, rejects);
      counted = actual.map((r) => ({ reason: r.table === 'joined' ? 'joined' : 'unmatched' }));
    } else {
      const actual = await readTableRows(store, locations);
      verify = compareWithTruth(truth, actual, rejects);
      counted = actual;
    }
    checkAbort();
    progress('checking both tables with the reference readers (pyiceberg, Java Iceberg)');
    const keyColumn = keyColumnOf(spec) ?? 'order_id';
    const iceberg = await checkPipelineTables(locations, counted, process.env, keyColumn);
    progress('');
    checkAbort();

    const uploadedAt = { ...up1.uploadedAt, ...up2.uploadedAt };
    const completedAt = new Map<string, number>();
    for (const f of plan.files) for (const id of f.completes) completedAt.set(id, uploadedAt[f.name]!);
    // A table nothing was committed to (the run failed) has no commit times, snapshots or files.
    const committed = await commitTimes(store, locations.joined, keyColumn).catch(
      () => new Map<string, number>(),
    );
    checkAbort();
    const lat = [...completedAt]
      .flatMap(([id, t]) => (committed.has(id) ? [committed.get(id)! - t] : []))
      .sort((a, b) => a - b);
    const snapshots: Record<string, number> = {};
    const dataFiles: Record<string, number> = {};
    for (const [k, loc] of Object.entries(locations)) {
      const t = await loadTable(store, loc).catch(() => undefined);
      snapshots[k] = t?.metadata.snapshots.length ?? 0;
      dataFiles[k] = t === undefined ? 0 : (await listDataFiles(t)).length;
    }
    const stats = (await fetch(`${rec.urls.storage}/_admin/stats`).then((r) => r.json())) as {
      duplicatesSent: number;
    };
    return {
      pass: verify.pass && iceberg.every((c) => c.ok),
      verify,
      iceberg,
      truth: plan.truth,
      spec: spec.name,
      tables: {
        joined: `${config.namespace}.${config.joinedTable}`,
        unmatched: `${config.namespace}.${config.unmatchedTable}`,
      },
      locations,
      latency: { p50: percentile(lat, 50), p95: percentile(lat, 95), max: lat.at(-1) ?? 0, n: lat.length },
      ...sumFunctionLogs(['ingest', 'tick', 'compact'].map((n) => path.join(dataDir, 'logs', `${n}.log`))),
      uploadedFiles: plan.files.length,
      snapshots,
      dataFiles,
      rejects: rejects.length,
      duplicatesSent: stats.duplicatesSent,
      elapsedMs: Date.now() - started,
      warehouse: config.warehouse,
    };
  } finally {
    await db.terminate();
    await stackDown(dataDir);
  }
}

/** What the demo's late files hold, by the spec's stream names (`payment events`, `event records`).
 *  `leftAfterOrphan`: the workload also has left events landing after their right one was orphaned. */
export function lateFilesLine(files: number, left: string, right: string, leftAfterOrphan: boolean): string {
  const what = [
    `${streamEvents(right)} after their ${left} timed out`,
    `second ${streamEvents(right)}`,
    ...(leftAfterOrphan ? [`${streamEvents(left)} after their ${right} was orphaned`] : []),
  ];
  return `uploaded ${files} late files (${what.join(', ')})`;
}

export function formatDemoSummary(r: DemoResult, dataDir: string): string {
  const events = r.truth.events + r.truth.duplicates;
  const pairs = r.verify.byReason['joined'] ?? 0;
  const dir = (kind: 'joined' | 'unmatched') => r.locations[kind].replace(/^file:\/\//, '');
  const ops = r.firestore.reads + r.firestore.writes + r.firestore.deletes;
  return [
    formatVerify(r.verify),
    ...r.iceberg.map(formatIcebergCheck),
    ...(r.pass ? [] : ['', 'RESULT: FAIL']),
    '',
    'summary',
    `  rows joined                 ${pairs}`,
    `  unmatched, by reason        ${Object.entries(r.verify.byReason)
      .filter(([k]) => k !== 'joined')
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  records rejected            ${r.rejects} (kept in ${path.join(dataDir, 'rejects.jsonl')}; list them: \`npx streamjoin rejects --data-dir ${dataDir}\`)`,
    `  ingested late               ${r.ingestedLate} events (landed in a window already closed; time is landing time)`,
    `  duplicates ignored          ${r.duplicatesIgnored} events (from ${r.truth.duplicates} records in duplicate files and ${r.duplicatesSent} duplicate event deliveries)`,
    `  snapshots / data files      joined ${r.snapshots['joined']} / ${r.dataFiles['joined']}, unmatched ${r.snapshots['unmatched']} / ${r.dataFiles['unmatched']}`,
    `  Firestore operations        ${r.firestore.reads} reads, ${r.firestore.writes} writes, ${r.firestore.deletes} deletes = ${(ops / Math.max(1, events)).toFixed(2)} per event`,
    `  upload → committed latency  p50 ${(r.latency.p50 / 1000).toFixed(1)} s, p95 ${(r.latency.p95 / 1000).toFixed(1)} s, max ${(r.latency.max / 1000).toFixed(1)} s (${r.latency.n} joined rows; all ${r.uploadedFiles} files uploaded as one burst, so this includes queueing — \`npm run bench\` measures steady rates)`,
    `  wall time                   ${(r.elapsedMs / 1000).toFixed(0)} s`,
    '',
    `the tables of join spec ${r.spec} (Iceberg v2, hadoop-catalog layout) stay here:`,
    `  ${dir('joined')}`,
    `  ${dir('unmatched')}`,
    'query them, for example:',
    `  npx streamjoin table rows --data-dir ${dataDir} --limit 5`,
    `  duckdb -c "INSTALL iceberg; LOAD iceberg; SELECT count(*) FROM iceberg_scan('${dir('joined')}', version='?', allow_moved_paths=true)"`,
    `  python3 -c "from pyiceberg.table import StaticTable as T; t=T.from_metadata('${dir('joined')}/metadata/v<N>.metadata.json'); print(t.scan().to_arrow().num_rows)"`,
  ].join('\n');
}
