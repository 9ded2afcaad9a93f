// Local addresses come from firebase.json, the single source for emulator ports.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, portInUse } from './processes.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LocalPorts {
  readonly host: string;
  readonly firestore: number;
  readonly storage: number;
  /** Base port: ingest, tick, compact and reconcile listen on base, base+1, base+2, base+3. */
  readonly functions: number;
}

export function readLocalPorts(file = path.join(REPO_ROOT, 'firebase.json')): LocalPorts {
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    emulators?: Record<string, { host?: string; port?: number }>;
  };
  const e = json.emulators ?? {};
  const port = (name: string): number => {
    const p = e[name]?.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
      throw new Error(`${file}: emulators.${name}.port must be a port number, but was: ${JSON.stringify(p)}`);
    }
    return p;
  };
  return {
    host: e['firestore']?.host ?? '127.0.0.1',
    firestore: port('firestore'),
    storage: port('storage'),
    functions: port('functions'),
  };
}

/** Private stacks take their ports from here: below Linux's ephemeral range (32768–60999 by default),
 *  so no outgoing connection is given one of them while a function of the stack is down and restarting
 *  on its port (the chaos suite does that). */
export const PRIVATE_PORT_RANGE = { low: 20_000, high: 32_000 } as const;
/** A stack needs six: the four functions (consecutive), the GCS server and the Firestore emulator. */
const STACK_PORTS = 6;

/** Where reservations are kept: one file `<port>.<pid>` per reserved port, by the process that holds it. */
export function portReservationDir(): string {
  return path.join(tmpdir(), 'streamjoin-ports');
}

/**
 * Reserves `count` consecutive ports from `base` for this process, or returns false. Create-then-check:
 * a process first writes its own `<port>.<pid>` files, then looks for another live process's files on
 * the same ports; if there is one, both may back off, never both keep them (two stacks starting at the
 * same time chose the same base). Files of dead processes are stale and removed.
 */
export function reservePorts(base: number, count: number, dir = portReservationDir()): boolean {
  mkdirSync(dir, { recursive: true });
  const ports = Array.from({ length: count }, (_, i) => base + i);
  const mine = ports.map((p) => path.join(dir, `${p}.${process.pid}`));
  for (const f of mine) writeFileSync(f, '');
  const taken = new Set(ports.map(String));
  const others = readdirSync(dir).filter((name) => {
    const [port, pid] = name.split('.');
    if (!taken.has(port ?? '') || Number(pid) === process.pid) return false;
    if (isAlive(Number(pid))) return true;
    rmSync(path.join(dir, name), { force: true });
    return false;
  });
  if (others.length > 0) {
    for (const f of mine) rmSync(f, { force: true });
    return false;
  }
  if (!releaseOnExit.registered) {
    releaseOnExit.registered = true;
    process.once('exit', () => {
      for (const f of releaseOnExit.files) rmSync(f, { force: true });
    });
  }
  releaseOnExit.files.push(...mine);
  return true;
}
const releaseOnExit = { registered: false, files: [] as string[] };

/** Free loopback ports for a private stack (tests, bench, chaos: never the firebase.json ones, which a
 *  developer's stack or a demo may be using), reserved for this process (see reservePorts) and not in
 *  use: several stacks on one machine never collide, nor does a function restarting on its port. */
export async function freeLocalPorts(): Promise<LocalPorts> {
  const host = '127.0.0.1';
  const { low, high } = PRIVATE_PORT_RANGE;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low - STACK_PORTS));
    const busy = await Promise.all(Array.from({ length: STACK_PORTS }, (_, i) => portInUse(base + i, host)));
    if (busy.some((b) => b) || !reservePorts(base, STACK_PORTS)) continue;
    return { host, functions: base, storage: base + 4, firestore: base + 5 };
  }
  throw new Error(
    `found no ${STACK_PORTS} consecutive free ports in ${low}–${high} on ${host} (reservations: ${portReservationDir()})`,
  );
}
