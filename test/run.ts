// The README's test command (`npm test`): starts the real Firestore emulator once, runs the unit and
// integration tests with node's test runner (each integration file owns its own project id and its
// own in-process GCS server), then stops the emulator. `npm test -- unit` / `-- integration` picks a tier.
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import { startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { freePort } from '../infra/local/processes.ts';

const tiers = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const wanted = tiers.length === 0 ? ['unit', 'integration'] : tiers;
for (const t of wanted) {
  if (!['unit', 'integration'].includes(t)) {
    console.error(`unknown test tier ${JSON.stringify(t)}: expected unit or integration`);
    process.exit(2);
  }
}
const files = wanted.flatMap((t) => globSync(`test/${t}/**/*.test.ts`)).sort();
if (files.length === 0) {
  console.error(`no test files found for ${wanted.join(', ')}`);
  process.exit(1);
}

let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
if (wanted.includes('integration')) {
  emulator = await startFirestoreEmulator({
    port: await freePort(),
    logFile: '.streamjoin/test-firestore.log',
  });
}

const stop = async () => {
  await emulator?.stop();
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void stop().then(() => process.exit(130));
  });
}

const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=3', '--test-timeout=600000', ...extra, ...files],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      ...(emulator === undefined ? {} : { FIRESTORE_EMULATOR_HOST: emulator.host }),
      METADATA_SERVER_DETECTION: 'none',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    },
  },
);
const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
await stop();
process.exit(code);
