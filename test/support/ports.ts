// Free loopback ports for tests that run a whole local stack (so they never collide with a developer's
// stack on the firebase.json ports). The functions need three consecutive ports.
import type { LocalPorts } from '../../infra/local/ports.ts';
import { portInUse } from '../../infra/local/processes.ts';

export async function freeStackPorts(): Promise<LocalPorts> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = [base, base + 1, base + 2, base + 3, base + 4];
    const busy = await Promise.all(ports.map((p) => portInUse(p)));
    if (!busy.some(Boolean))
      return { host: '127.0.0.1', firestore: base, storage: base + 1, functions: base + 2 };
  }
  throw new Error('no five consecutive free ports found on 127.0.0.1');
}
