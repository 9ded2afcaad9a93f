// Local addresses come from firebase.json, the single source for emulator ports.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, portInUse } from './processes.ts';

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

/** Free loopback ports for a private stack (tests, bench, chaos: never the firebase.json ones, which a
 *  developer's stack or a demo may be using). The functions need four consecutive ports. */
export async function freeLocalPorts(): Promise<LocalPorts> {
  const host = '127.0.0.1';
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const busy = await Promise.all([0, 1, 2, 3].map((i) => portInUse(base + i, host)));
    if (busy.every((b) => !b)) {
      const firestore = await freePort();
      let storage = await freePort();
      while (storage === firestore) storage = await freePort();
      return { host, firestore, storage, functions: base };
    }
  }
  throw new Error('found no 4 consecutive free ports on 127.0.0.1 for the functions');
}
