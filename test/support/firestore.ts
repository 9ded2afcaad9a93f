// Firestore for integration tests: the real emulator started by test/run.ts, a project id of the
// test's own (so files run in parallel without sharing data), and a refusal to run anywhere else.
import { randomBytes } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { resetFirestoreEmulator } from '../../infra/local/firestore-emulator.ts';

export function requireLoopback(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') {
    throw new Error(
      `${name} is not set: run the integration tests with \`npm test\`, which starts the emulator`,
    );
  }
  const host = v.replace(/^https?:\/\//, '').replace(/:\d+\/?$/, '');
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host)) {
    throw new Error(`${name} must point at loopback for tests, but was: ${JSON.stringify(v)}`);
  }
  return v;
}

export interface TestFirestore {
  readonly db: Firestore;
  readonly projectId: string;
  readonly host: string;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export function testFirestore(label: string): TestFirestore {
  const host = requireLoopback('FIRESTORE_EMULATOR_HOST');
  const projectId = `test-${label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .slice(0, 20)}-${randomBytes(3).toString('hex')}`;
  const db = new Firestore({ projectId, host, ssl: false, preferRest: false });
  return {
    db,
    projectId,
    host,
    reset: () => resetFirestoreEmulator(host, projectId),
    close: async () => {
      await resetFirestoreEmulator(host, projectId).catch(() => {});
      await db.terminate();
    },
  };
}
