// `streamjoin local up | down | status`: the whole pipeline on this machine — the real Firestore
// emulator, the local GCS JSON-API server (delivering finalize events like Eventarc), one Functions
// Framework process per function, and a scheduler loop. Each runs in its own process group and is
// recorded in <data-dir>/stack.json so `down` stops exactly what `up` started.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FUNCTION_NAMES } from '../../functions/names.ts';
import { type Config, loadConfig } from '../../shared/config.ts';
import { createStorageClient } from '../../shared/storage/gcs-store.ts';
import { startFirestoreEmulator } from './firestore-emulator.ts';
import { type LocalPorts, REPO_ROOT, readLocalPorts } from './ports.ts';
import { freePort, httpOk, isAlive, portInUse, spawnManaged, stopGroup, waitUntil } from './processes.ts';

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
  readonly urls: { firestore: string; storage: string; ingest: string; tick: string; compact: string };
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
}

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

/** The environment of the local pipeline processes for a data dir and overrides. */
export function localEnv(
  dataDir: string,
  ports: LocalPorts,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    GOOGLE_CLOUD_PROJECT: 'streamjoin-local',
    STREAMJOIN_WAREHOUSE: `file://${path.resolve(dataDir, 'warehouse')}/`,
    STREAMJOIN_TICK_INTERVAL: '1s',
    STREAMJOIN_COMPACT_INTERVAL: '2s',
    ...overrides,
    FIRESTORE_EMULATOR_HOST: `${ports.host}:${ports.firestore}`,
    STORAGE_EMULATOR_HOST: `http://${ports.host}:${ports.storage}`,
    METADATA_SERVER_DETECTION: 'none',
  };
  loadConfig(env); // a bad setting stops `up` before anything starts
  return env;
}

export async function stackUp(options: UpOptions): Promise<StackRecord> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const ports = options.ports ?? readLocalPorts();
  const existing = readStack(dataDir);
  if (existing?.services.some((s) => isAlive(s.pid))) {
    throw new Error(`a local stack is already running from ${dataDir} (run \`streamjoin local down\` first)`);
  }
  const env = localEnv(dataDir, ports, options.env);
  const config = loadConfig(env);
  for (const [name, port] of [
    ['firestore', ports.firestore],
    ['storage', ports.storage],
    ['ingest', ports.functions],
    ['tick', ports.functions + 1],
    ['compact', ports.functions + 2],
  ] as const) {
    if (await portInUse(port, ports.host)) {
      throw new Error(
        `port ${port} (${name}, from firebase.json) is in use: stop what holds it or change firebase.json`,
      );
    }
  }
  if (options.fresh === true) {
    for (const sub of ['gcs', 'warehouse', 'logs'])
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
    });
    services.push({ name: 'firestore', pid: fe.pid, url: `http://${fe.host}`, logFile: fsLog });
    save();

    // 2. Functions (one Functions Framework process each, and any further instances asked for).
    const urls = record().urls;
    const fns: [name: string, target: string, port: number][] = [
      [FUNCTION_NAMES.ingest, FUNCTION_NAMES.ingest, ports.functions],
      [FUNCTION_NAMES.tick, FUNCTION_NAMES.tick, ports.functions + 1],
      [FUNCTION_NAMES.compact, FUNCTION_NAMES.compact, ports.functions + 2],
    ];
    for (const target of [FUNCTION_NAMES.tick, FUNCTION_NAMES.compact] as const) {
      const extra = options.extraInstances?.[target] ?? 0;
      for (let i = 0; i < extra; i++) fns.push([`${target}-${i + 2}`, target, await freePort()]);
    }
    if (fns.length > 3) {
      const byTarget: Record<string, string[]> = {};
      for (const [, target, port] of fns) {
        byTarget[target] = [...(byTarget[target] ?? []), `http://${ports.host}:${port}/`];
      }
      instances = byTarget;
    }
    for (const [name, target, port] of fns) {
      const logFile = path.join(dataDir, 'logs', `${name}.log`);
      log(`starting function ${name} on ${ports.host}:${port}`);
      const own = options.processEnv?.(name);
      const p = spawnFunction(target, ports.host, port, { ...env, ...own }, logFile);
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
      await waitUntil(`function ${name}`, () => portInUse(port, ports.host), {
        timeoutMs: 30_000,
        logFile: path.join(dataDir, 'logs', `${name}.log`),
      });
    }

    // 3. Local GCS server, delivering the input bucket's finalize events to ingest.
    const gcsLog = path.join(dataDir, 'logs', 'gcs.log');
    log(`starting the local GCS server on ${ports.host}:${ports.storage}`);
    const gcsArgs = [
      path.join(REPO_ROOT, 'infra/local/gcs-server-main.ts'),
      `--port=${ports.storage}`,
      `--host=${ports.host}`,
      `--data-dir=${path.join(dataDir, 'gcs')}`,
      `--sink=${config.inputBucket}=${urls.ingest}`,
      `--duplicate-delivery=${config.duplicateDelivery}`,
    ];
    const gcs = spawnManaged('gcs', NODE, gcsArgs, { env, logFile: gcsLog, detached: true, cwd: REPO_ROOT });
    services.push({ name: 'gcs', pid: gcs.pid, url: urls.storage, logFile: gcsLog });
    save();
    await waitUntil('the local GCS server', () => httpOk(`${urls.storage}/_admin/stats`), {
      timeoutMs: 20_000,
      proc: gcs,
      logFile: gcsLog,
    });
    await ensureBuckets(config, urls.storage);

    // 4. Scheduler loop.
    const schedLog = path.join(dataDir, 'logs', 'scheduler.log');
    const sched = spawnManaged(
      'scheduler',
      NODE,
      [
        path.join(REPO_ROOT, 'infra/local/scheduler-main.ts'),
        `--job=tick=${(instances?.['tick'] ?? [urls.tick]).join(',')}@${config.tickIntervalMs}`,
        `--job=compact=${(instances?.['compact'] ?? [urls.compact]).join(',')}@${config.compactIntervalMs}`,
      ],
      { env, logFile: schedLog, detached: true, cwd: REPO_ROOT },
    );
    services.push({ name: 'scheduler', pid: sched.pid, url: '', logFile: schedLog });
    save();
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
  options: { signal?: NodeJS.Signals; timeoutMs?: number } = {},
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
  const p = spawnFunction(target, url.hostname, port, { ...rec.env, ...svc.env }, svc.logFile);
  const next: ServiceRecord = { ...svc, pid: p.pid };
  const latest = readStack(dir) ?? rec;
  writeFileSync(
    stackFile(dir),
    `${JSON.stringify({ ...latest, services: latest.services.map((s) => (s.name === name ? next : s)) }, null, 2)}\n`,
  );
  await waitUntil(`function ${name}`, () => portInUse(port, url.hostname), {
    timeoutMs: options.timeoutMs ?? 30_000,
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

/** Stops every service `up` recorded (in reverse order), by process group. */
export async function stackDown(dataDir: string, log: (line: string) => void = () => {}): Promise<number> {
  const rec = readStack(path.resolve(dataDir));
  if (rec === undefined) return 0;
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
      answering = await fetch(s.name === 'gcs' ? `${s.url}/_admin/stats` : s.url, {
        signal: AbortSignal.timeout(2000),
      })
        .then(async (r) => {
          await r.arrayBuffer();
          return true;
        })
        .catch(() => false);
    }
    services.push({ ...s, running, answering: s.url === '' ? running : answering });
  }
  return { record: rec, services };
}
