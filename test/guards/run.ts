// `npm run test:guards`: proves every guard of shared/guards.ts. For each guard, its test
// (test/guards/registry.ts) must pass with every guard on, and must FAIL with that guard alone disabled
// (STREAMJOIN_DISABLED_GUARDS=<name>). Prints a table guard → test → caught; exits 1 unless every guard
// is caught. One Firestore emulator serves every run (each test file owns its project id).
//   npm run test:guards [-- name …]   only these guards
import { spawn } from 'node:child_process';
import { startFirestoreEmulator } from '../../infra/local/firestore-emulator.ts';
import { freePort } from '../../infra/local/processes.ts';
import { GUARD_NAMES, GUARDS, type GuardName } from '../../shared/guards.ts';
import { GUARD_TESTS, type GuardTest } from './registry.ts';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const w of wanted) {
  if (!(w in GUARDS)) {
    console.error(`unknown guard ${JSON.stringify(w)}: expected one of ${GUARD_NAMES.join(', ')}`);
    process.exit(2);
  }
}
const guards = (wanted.length > 0 ? wanted : GUARD_NAMES) as GuardName[];
const PARALLEL = 2;

interface RunResult {
  readonly pass: number;
  readonly fail: number;
  readonly ms: number;
  readonly output: string;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function runTest(t: GuardTest, env: Record<string, string>): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-reporter=tap',
        '--test-timeout=300000',
        `--test-name-pattern=^${escapeRegex(t.name)}$`,
        t.file,
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('exit', () => {
      const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(output)?.[1] ?? 0);
      resolve({ pass: count('pass'), fail: count('fail'), ms: Date.now() - started, output });
    });
  });
}

async function pool<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const started = Date.now();
const emulator = await startFirestoreEmulator({
  port: await freePort(),
  logFile: '.streamjoin/test-guards-firestore.log',
});
let code = 1;
try {
  const env = {
    FIRESTORE_EMULATOR_HOST: emulator.host,
    METADATA_SERVER_DETECTION: 'none',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    STREAMJOIN_DISABLED_GUARDS: '',
  };
  // Baseline: each guard's test passes with every guard on (a test that fails anyway proves nothing).
  const baseline = await pool(guards, PARALLEL, (g) => runTest(GUARD_TESTS[g], env));
  // Then each guard alone disabled: its test must fail.
  const disabled = await pool(guards, PARALLEL, (g) =>
    runTest(GUARD_TESTS[g], { ...env, STREAMJOIN_DISABLED_GUARDS: g }),
  );
  const rows = guards.map((g, i) => {
    const on = baseline[i]!;
    const off = disabled[i]!;
    const baselineOk = on.pass > 0 && on.fail === 0;
    const caught = baselineOk && off.fail > 0;
    return { guard: g, test: GUARD_TESTS[g], on, off, baselineOk, caught };
  });
  const w = Math.max(...rows.map((r) => r.guard.length));
  console.log(`\n${'guard'.padEnd(w)}  caught  with guard   without     test`);
  for (const r of rows) {
    const verdict = r.caught ? 'yes' : r.baselineOk ? 'NO' : 'BASELINE';
    const fmt = (x: RunResult) => `${x.pass}✔ ${x.fail}✖ ${(x.ms / 1000).toFixed(0)}s`.padEnd(11);
    console.log(
      `${r.guard.padEnd(w)}  ${verdict.padEnd(6)}  ${fmt(r.on)} ${fmt(r.off)} ${r.test.file} › ${r.test.name}`,
    );
  }
  for (const r of rows.filter((x) => !x.caught)) {
    const why = r.baselineOk
      ? `its test still passes with the guard disabled (${r.off.pass} passed)`
      : `its test does not pass with every guard on (${r.on.pass} passed, ${r.on.fail} failed)`;
    console.log(
      `\n✖ ${r.guard}: ${why}\n${(r.baselineOk ? r.off : r.on).output.split('\n').slice(-40).join('\n')}`,
    );
  }
  const caught = rows.filter((r) => r.caught).length;
  console.log(
    `\n${caught}/${rows.length} guards caught by their tests in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  code = caught === rows.length ? 0 : 1;
} finally {
  await emulator.stop();
}
process.exit(code);
