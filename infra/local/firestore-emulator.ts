// The real Google Firestore emulator (Java, from the Cloud CLI): start on a port, wait for
// readiness, reset a project's data, stop by process group.
import { existsSync } from 'node:fs';
import { httpOk, type ManagedProcess, spawnManaged, stopGroup, waitUntil } from './processes.ts';

const SDK_ROOTS = [
  process.env['CLOUDSDK_ROOT_DIR'],
  '/usr/lib/google-cloud-sdk',
  '/usr/share/google-cloud-sdk',
  '/opt/google-cloud-sdk',
];

/** Path of the emulator launcher, or a clear error saying how to get it. */
export function findFirestoreEmulator(): string {
  for (const root of SDK_ROOTS) {
    if (root === undefined) continue;
    const launcher = `${root}/platform/cloud-firestore-emulator/cloud_firestore_emulator`;
    if (
      existsSync(launcher) &&
      existsSync(`${root}/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar`)
    ) {
      return launcher;
    }
  }
  throw new Error(
    'the Firestore emulator is not installed: expected platform/cloud-firestore-emulator/cloud_firestore_emulator ' +
      `under one of ${SDK_ROOTS.filter(Boolean).join(', ')}. Install it with ` +
      '`gcloud components install cloud-firestore-emulator` or the Debian package google-cloud-cli-firestore-emulator.',
  );
}

export interface FirestoreEmulator {
  /** host:port, the value of FIRESTORE_EMULATOR_HOST. */
  readonly host: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startFirestoreEmulator(options: {
  port: number;
  /** Java heap, e.g. '2g' (default 512m; JAVA_TOOL_OPTIONS overrides). */
  heap?: string;
  host?: string;
  logFile?: string;
  detached?: boolean;
  timeoutMs?: number;
  /** Aborting while it starts stops it. */
  signal?: AbortSignal;
}): Promise<FirestoreEmulator> {
  const launcher = findFirestoreEmulator();
  const host = options.host ?? '127.0.0.1';
  const proc = spawnManaged(
    'firestore-emulator',
    launcher,
    ['start', `--host=${host}`, `--port=${options.port}`],
    {
      env: { JAVA_TOOL_OPTIONS: process.env['JAVA_TOOL_OPTIONS'] ?? `-Xmx${options.heap ?? '512m'}` },
      ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
      ...(options.detached === undefined ? {} : { detached: options.detached }),
    },
  );
  const address = `${host}:${options.port}`;
  try {
    await waitUntil('the Firestore emulator', () => httpOk(`http://${address}/`), {
      timeoutMs: options.timeoutMs ?? 30_000,
      proc,
      ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (err) {
    await stopGroup(proc.pid);
    throw err;
  }
  return { host: address, pid: proc.pid, process: proc, stop: () => stopGroup(proc.pid) };
}

/** Deletes every document of one project and database in the emulator. */
export async function resetFirestoreEmulator(
  host: string,
  projectId: string,
  database = '(default)',
): Promise<void> {
  const res = await fetch(
    `http://${host}/emulator/v1/projects/${projectId}/databases/${database}/documents`,
    {
      method: 'DELETE',
    },
  );
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`resetting the Firestore emulator failed: HTTP ${res.status}`);
}

/** Refuses to go on unless the emulator variables point at loopback (tests must never touch a real project). */
export function assertLoopbackEmulators(env: Record<string, string | undefined> = process.env): void {
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST']) {
    const v = env[name];
    if (v === undefined || v === '')
      throw new Error(`${name} must be set to a loopback address for tests, but is unset`);
    const hostPart = v.replace(/^https?:\/\//, '').replace(/:\d+\/?$/, '');
    if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/.test(hostPart)) {
      throw new Error(
        `${name} must point at loopback (127.0.0.1, localhost or [::1]) for tests, but was: ${JSON.stringify(v)}`,
      );
    }
  }
}
