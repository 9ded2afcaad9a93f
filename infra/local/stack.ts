// `streamjoin local up | down | status`: the whole pipeline on this machine — the real Firestore
// emulator, the local GCS JSON-API server (delivering finalize events like Eventarc), one Functions
// Framework process per function, and a scheduler loop. Each runs in its own process group and is
// recorded in <data-dir>/stack.json so `down` stops exactly what `up` started.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FUNCTION_NAMES } from '../../functions/names.ts';
import { type Config, loadConfig, SETTINGS } from '../../shared/config.ts';
import { parseFaultSpec } from '../../shared/faults.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { listRejects, type RejectRecord } from '../../shared/firestore/rejects.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import { startFirestoreEmulator } from './firestore-emulator.ts';
import { type LocalPorts, REPO_ROOT, readLocalPorts } from './ports.ts';
import {
  freePort,
  httpOk,
  isAlive,
  type ManagedProcess,
  portInUse,
  spawnManaged,
  stopGroup,
  waitUntil,
} from './processes.ts';

/** How long a starting function may take to listen on its port. */
const FUNCTION_READY_TIMEOUT_MS = 90_000;
export interface ServiceRecord {
  /** Unique per process: the function's name, or `<function>-<n>` for a further instance of it. */
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  /** The function a further instance serves (absent: `name`). */
  readonly target?: string;
  /** Environment of this process only, on top of the stack's (chaos: a clock-skew preload). */
  readonly env?: Record<string, string>;
}

export interface StackRecord {
  readonly startedAt: string;
  readonly dataDir: string;
  /** Environment every pipeline process gets (settings + emulator hosts). */
  readonly env: Record<string, string>;
  readonly services: ServiceRecord[];
  readonly urls: {
    firestore: string;
    storage: string;
    ingest: string;
    tick: string;
    compact: string;
    reconcile: string;
  };
  /** Every instance of each scheduled function (the first is `urls[name]`), when there are several. */
  readonly instances?: Record<string, string[]>;
}

export interface UpOptions {
  readonly dataDir: string;
  /** Setting overrides as environment variables (STREAMJOIN_ORDER_TIMEOUT=20s, ...). */
  readonly env?: Record<string, string>;
  readonly ports?: LocalPorts;
  /** Start from empty Firestore/GCS/warehouse data. */
  readonly fresh?: boolean;
  readonly log?: (line: string) => void;
  /**
   * Chaos: further processes of the scheduled functions, each on a free port; the scheduler spreads its
   * calls over every instance and skips one that is busy (as Cloud Run routes to another instance).
   */
  readonly extraInstances?: { readonly tick?: number; readonly compact?: number };
  /** Chaos: extra environment for one function process, by its service name (`tick`, `tick-2`, ...). */
  readonly processEnv?: (service: string) => Record<string, string> | undefined;
  /** Aborting (Ctrl-C) stops whatever was started so far and rejects. */
  readonly signal?: AbortSignal;
}

/** Where `down` keeps the quarantined records of the run (the emulator's data goes with it). */
const REJECTS_FILE = 'rejects.jsonl';
const stackFile = (dataDir: string) => path.join(dataDir, 'stack.json');
const NODE = process.execPath;
const FF_MAIN = path.join(REPO_ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

/** The settings of the last stack started from dataDir (kept after `down`), if any. */
export function readLastSettings(dataDir: string): Record<string, string> | undefined {
  const f = path.join(dataDir, 'settings.json');
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>;
}

export function readStack(dataDir: string): StackRecord | undefined {
  const f = stackFile(dataDir);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as StackRecord;
}

/** Settings variables of this process's environment that the local stack adopts (not the project or
 *  the emulator hosts, which the stack sets itself). */
function settingsFromEnvironment(processEnv: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const own = new Set(['GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST']);
  for (const s of Object.values(SETTINGS)) {
    const v = processEnv[s.env];
    if (v !== undefined && v !== '' && !own.has(s.env)) out[s.env] = v;
  }
  const faults = processEnv['STREAMJOIN_FAULTS'];
  if (faults !== undefined && faults !== '') out['STREAMJOIN_FAULTS'] = faults;
  return out;
}

/**
 * The environment of the local pipeline processes for a data dir and overrides: the settings of this
 * process's environment (every child inherits them, so they are validated and recorded here too), then
 * the overrides. A bad value anywhere stops `up` before anything starts, naming the variable.
 */
export function localEnv(
  dataDir: string,
  ports: LocalPorts,
  overrides: Record<string, string> = {},
  processEnv: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {
    GOOGLE_CLOUD_PROJECT: 'streamjoin-local',
    STREAMJOIN_WAREHOUSE: `file://${path.resolve(dataDir, 'warehouse')}/`,
    STREAMJOIN_TICK_INTERVAL: '1s',
    STREAMJOIN_COMPACT_INTERVAL: '2s',
    STREAMJOIN_RECONCILE_INTERVAL: '1m',
    ...settingsFromEnvironment(processEnv),
    ...overrides,
    FIRESTORE_EMULATOR_HOST: `${ports.host}:${ports.firestore}`,
    STORAGE_EMULATOR_HOST: `http://${ports.host}:${ports.storage}`,
    METADATA_SERVER_DETECTION: 'none',
  };
  loadConfig(env);
  parseFaultSpec(env['STREAMJOIN_FAULTS'] ?? '');
  return env;
}

export async function stackUp(options: UpOptions): Promise<StackRecord> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const ports = options.ports ?? readLocalPorts();
  const existing = readStack(dataDir);
  if (existing?.services.some((s) => isAlive(s.pid))) {
    throw new Error(
      `a local stack is already running from ${dataDir} (run \`streamjoin local down --data-dir ${options.dataDir}\` first)`,
    );
  }
  const env = localEnv(dataDir, ports, options.env);
  const signal = options.signal;
  const checkAbort = () => {
    if (signal?.aborted === true) throw signal.reason ?? new Error('aborted');
  };
  const config = loadConfig(env);
  for (const [name, port] of [
    ['firestore', ports.firestore],
    ['storage', ports.storage],
    ['ingest', ports.functions],
    ['tick', ports.functions + 1],
    ['compact', ports.functions + 2],
    ['reconcile', ports.functions + 3],
  ] as const) {
    if (await portInUse(port, ports.host)) {
      throw new Error(
        `port ${port} (${name}, from firebase.json) is in use: stop what holds it or change firebase.json`,
      );
    }
  }
  checkAbort();
  if (options.fresh === true) {
    for (const sub of ['gcs', 'warehouse', 'logs', REJECTS_FILE])
      rmSync(path.join(dataDir, sub), { recursive: true, force: true });
  }
  mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
  const services: ServiceRecord[] = [];
  let instances: Record<string, string[]> | undefined;
  const record = (): StackRecord => ({
    startedAt: new Date().toISOString(),
    dataDir,
    env,
    services,
    urls: {
      firestore: `http://${ports.host}:${ports.firestore}`,
      storage: `http://${ports.host}:${ports.storage}`,
      ingest: `http://${ports.host}:${ports.functions}/`,
      tick: `http://${ports.host}:${ports.functions + 1}/`,
      compact: `http://${ports.host}:${ports.functions + 2}/`,
      reconcile: `http://${ports.host}:${ports.functions + 3}/`,
    },
    ...(instances === undefined ? {} : { instances }),
  });
  const save = () => writeFileSync(stackFile(dataDir), `${JSON.stringify(record(), null, 2)}\n`);
  // The settings outlive the stack, so the tables can still be read after `down` (`streamjoin table`).
  writeFileSync(path.join(dataDir, 'settings.json'), `${JSON.stringify(env, null, 2)}\n`);
  try {
    // 1. Firestore emulator.
    const fsLog = path.join(dataDir, 'logs', 'firestore.log');
    log(`starting the Firestore emulator on ${ports.host}:${ports.firestore}`);
    const fe = await startFirestoreEmulator({
      port: ports.firestore,
      host: ports.host,
      logFile: fsLog,
      detached: true,
      // The emulator keeps everything in memory; 512 MiB ran out after a few hundred thousand states.
      heap: '2g',
      ...(signal === undefined ? {} : { signal }),
    });
    services.push({ name: 'firestore', pid: fe.pid, url: `http://${fe.host}`, logFile: fsLog });
    save();

    // 2. Functions (one Functions Framework process each, and any further instances asked for).
    const urls = record().urls;
    const fns: [name: string, target: string, port: number][] = [
      [FUNCTION_NAMES.ingest, FUNCTION_NAMES.ingest, ports.functions],
      [FUNCTION_NAMES.tick, FUNCTION_NAMES.tick, ports.functions + 1],
      [FUNCTION_NAMES.compact, FUNCTION_NAMES.compact, ports.functions + 2],
      [FUNCTION_NAMES.reconcile, FUNCTION_NAMES.reconcile, ports.functions + 3],
    ];
    for (const target of [FUNCTION_NAMES.tick, FUNCTION_NAMES.compact] as const) {
      const extra = options.extraInstances?.[target] ?? 0;
      for (let i = 0; i < extra; i++) fns.push([`${target}-${i + 2}`, target, await freePort()]);
    }
    if (fns.length > 4) {
      const byTarget: Record<string, string[]> = {};
      for (const [, target, port] of fns) {
        byTarget[target] = [...(byTarget[target] ?? []), `http://${ports.host}:${port}/`];
      }
      instances = byTarget;
    }
    const started = new Map<string, ManagedProcess>();
    for (const [name, target, port] of fns) {
      checkAbort();
      const logFile = path.join(dataDir, 'logs', `${name}.log`);
      log(`starting function ${name} on ${ports.host}:${port}`);
      const own = options.processEnv?.(name);
      const p = spawnFunction(target, ports.host, port, { ...env, ...own }, logFile);
      started.set(name, p);
      services.push({
        name,
        pid: p.pid,
        url: `http://${ports.host}:${port}/`,
        logFile,
        ...(target === name ? {} : { target }),
        ...(own === undefined ? {} : { env: own }),
      });
      save();
    }
    for (const [name, , port] of fns) {
      // GET / on a CloudEvent target answers 500 with a stack trace in the log: probe the port instead.
      // The functions start together: on a loaded 2-core machine loading the Google libraries takes
      // tens of seconds each (30 s was too little at load 45); a function that exits fails at once.
      await waitUntil(`function ${name}`, () => portInUse(port, ports.host), {
        timeoutMs: FUNCTION_READY_TIMEOUT_MS,
        proc: started.get(name)!,
        logFile: path.join(dataDir, 'logs', `${name}.log`),
        ...(signal === undefined ? {} : { signal }),
      });
    }

    // 3. Local GCS server, delivering the input bucket's finalize events to ingest.
    checkAbort();
    const gcsLog = path.join(dataDir, 'logs', 'gcs.log');
    log(`starting the local GCS server on ${ports.host}:${ports.storage}`);
    const gcsArgs = [
      path.join(REPO_ROOT, 'infra/local/gcs-server-main.ts'),
      `--port=${ports.storage}`,
      `--host=${ports.host}`,
      `--data-dir=${path.join(dataDir, 'gcs')}`,
      `--sink=${config.inputBucket}=${urls.ingest}`,
      `--duplicate-delivery=${config.duplicateDelivery}`,
      `--drop-delivery=${config.dropDelivery}`,
      // Like the platform's function timeout above the ingest budget (540 s vs 480 s): an attempt
      // stops at its budget before the delivery gives up on it, never running beside its retry.
      `--delivery-timeout-ms=${config.ingestTimeBudgetMs + 30_000}`,
    ];
    const gcs = spawnManaged('gcs', NODE, gcsArgs, { env, logFile: gcsLog, detached: true, cwd: REPO_ROOT });
    services.push({ name: 'gcs', pid: gcs.pid, url: urls.storage, logFile: gcsLog });
    save();
    await waitUntil('the local GCS server', () => httpOk(`${urls.storage}/_admin/stats`), {
      timeoutMs: 20_000,
      proc: gcs,
      logFile: gcsLog,
      ...(signal === undefined ? {} : { signal }),
    });
    await ensureBuckets(config, urls.storage);
    checkAbort();

    // 4. Scheduler loop.
    const schedLog = path.join(dataDir, 'logs', 'scheduler.log');
    const sched = spawnManaged(
      'scheduler',
      NODE,
      [
        path.join(REPO_ROOT, 'infra/local/scheduler-main.ts'),
        `--job=tick=${(instances?.['tick'] ?? [urls.tick]).join(',')}@${config.tickIntervalMs}`,
        `--job=compact=${(instances?.['compact'] ?? [urls.compact]).join(',')}@${config.compactIntervalMs}`,
        `--job=reconcile=${urls.reconcile}@${config.reconcileIntervalMs}`,
      ],
      { env, logFile: schedLog, detached: true, cwd: REPO_ROOT },
    );
    services.push({ name: 'scheduler', pid: sched.pid, url: '', logFile: schedLog });
    save();
    checkAbort();
    return record();
  } catch (err) {
    for (const s of [...services].reverse()) await stopGroup(s.pid);
    rmSync(stackFile(dataDir), { force: true });
    throw err;
  }
}

/** One Functions Framework process serving `name` (its own process group, detached). */
function spawnFunction(
  name: string,
  host: string,
  port: number,
  env: Record<string, string>,
  logFile: string,
) {
  return spawnManaged(
    name,
    NODE,
    [FF_MAIN, `--target=${name}`, `--port=${port}`, `--source=${path.join(REPO_ROOT, 'functions/index.ts')}`],
    { env: { ...env, HOST: host }, logFile, detached: true, cwd: REPO_ROOT },
  );
}

/**
 * Chaos tests: kills one function's process group (SIGKILL by default: a crash, no clean-up) if it is
 * still running, starts it again exactly as `up` did, waits until it listens, and records the new pid
 * in stack.json. Returns the new record.
 */
export async function restartFunction(
  dataDir: string,
  name: string,
  options: {
    signal?: NodeJS.Signals;
    timeoutMs?: number;
    /** This process's own environment from now on (replaces the recorded one; e.g. a fault point). */
    env?: Record<string, string>;
    /** Stay down this long first (an outage). */
    downMs?: number;
  } = {},
): Promise<ServiceRecord> {
  const dir = path.resolve(dataDir);
  const rec = readStack(dir);
  const svc = rec?.services.find((s) => s.name === name);
  const target = svc?.target ?? name;
  if (
    rec === undefined ||
    svc === undefined ||
    !(Object.values(FUNCTION_NAMES) as string[]).includes(target)
  ) {
    throw new Error(`expected a running local stack in ${dir} with function ${JSON.stringify(name)}`);
  }
  const url = new URL(svc.url);
  const port = Number(url.port);
  try {
    process.kill(-svc.pid, options.signal ?? 'SIGKILL');
  } catch {
    // already gone
  }
  await stopGroup(svc.pid, 2000);
  await waitUntil(
    `port ${port} of ${name} to be released`,
    async () => !(await portInUse(port, url.hostname)),
    {
      timeoutMs: 10_000,
    },
  );
  if (options.downMs !== undefined) await new Promise((r) => setTimeout(r, options.downMs));
  const own = options.env ?? svc.env;
  const p = spawnFunction(target, url.hostname, port, { ...rec.env, ...own }, svc.logFile);
  const { env: _recorded, ...rest } = svc;
  const next: ServiceRecord = { ...rest, pid: p.pid, ...(own === undefined ? {} : { env: own }) };
  const latest = readStack(dir) ?? rec;
  writeFileSync(
    stackFile(dir),
    `${JSON.stringify({ ...latest, services: latest.services.map((s) => (s.name === name ? next : s)) }, null, 2)}\n`,
  );
  await waitUntil(`function ${name}`, () => portInUse(port, url.hostname), {
    timeoutMs: options.timeoutMs ?? FUNCTION_READY_TIMEOUT_MS,
    proc: p,
    logFile: svc.logFile,
  });
  return next;
}

async function ensureBuckets(config: Config, storageUrl: string): Promise<void> {
  const storage = createStorageClient({ projectId: config.projectId, emulatorHost: storageUrl });
  const buckets = [config.inputBucket];
  if (config.warehouse.startsWith('gs://')) buckets.push(config.warehouse.slice(5).split('/')[0]!);
  for (const b of buckets) {
    const [exists] = await storage.bucket(b).exists();
    if (!exists) await storage.createBucket(b);
  }
}

/** The rejects saved when the local stack in dataDir last stopped, newest first. */
export function readSavedRejects(dataDir: string): { rejects: RejectRecord[]; file: string } | undefined {
  const file = path.join(path.resolve(dataDir), REJECTS_FILE);
  if (!existsSync(file)) return undefined;
  const rejects = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const r = JSON.parse(l) as RejectRecord & { createdAt: string };
      return { ...r, createdAt: new Date(r.createdAt) };
    });
  return { rejects, file };
}

/** Copies the quarantined records out of the emulator before it stops (best effort, bounded). */
async function saveRejects(rec: StackRecord, log: (line: string) => void): Promise<void> {
  const fs = rec.services.find((s) => s.name === 'firestore');
  if (fs === undefined || !isAlive(fs.pid)) return;
  const config = loadConfig(rec.env);
  const db = createFirestore(config);
  try {
    const rejects = await Promise.race([
      listRejects(collections(db, config.collectionPrefix), { limit: 1_000_000 }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer within 15 s')), 15_000).unref(),
      ),
    ]);
    const file = path.join(rec.dataDir, REJECTS_FILE);
    writeFileSync(`${file}.tmp`, rejects.map((r) => `${JSON.stringify(r)}\n`).join(''));
    renameSync(`${file}.tmp`, file);
    if (rejects.length > 0) log(`saved ${rejects.length} quarantined records to ${file}`);
  } catch (err) {
    log(`could not save the quarantined records: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await db.terminate().catch(() => {});
  }
}

/** Stops every service `up` recorded (in reverse order), by process group, after saving the rejects. */
export async function stackDown(dataDir: string, log: (line: string) => void = () => {}): Promise<number> {
  const rec = readStack(path.resolve(dataDir));
  if (rec === undefined) return 0;
  await saveRejects(rec, log);
  let stopped = 0;
  for (const s of [...rec.services].reverse()) {
    if (isAlive(s.pid)) {
      log(`stopping ${s.name} (pid ${s.pid})`);
      stopped++;
    }
    await stopGroup(s.pid);
  }
  rmSync(stackFile(path.resolve(dataDir)), { force: true });
  return stopped;
}

export interface ServiceStatus extends ServiceRecord {
  readonly running: boolean;
  readonly answering: boolean;
}

export async function stackStatus(
  dataDir: string,
): Promise<{ record: StackRecord; services: ServiceStatus[] } | undefined> {
  const rec = readStack(path.resolve(dataDir));
  if (rec === undefined) return undefined;
  const services: ServiceStatus[] = [];
  for (const s of rec.services) {
    const running = isAlive(s.pid);
    let answering = false;
    if (running && s.url !== '') {
      // Functions are probed by a TCP connection only: a GET would run tick or compact, and on the
      // CloudEvent target (ingest) log a TypeError stack for the request without an event.
      const u = new URL(s.url);
      answering =
        s.name === 'gcs'
          ? await httpOk(`${s.url}/_admin/stats`).catch(() => false)
          : s.name === 'firestore'
            ? await httpOk(s.url).catch(() => false)
            : await portInUse(Number(u.port), u.hostname);
    }
    services.push({ ...s, running, answering: s.url === '' ? running : answering });
  }
  return { record: rec, services };
}
