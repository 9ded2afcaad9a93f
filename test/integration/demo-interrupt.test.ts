// Ctrl-C at any phase of `npm start` (stack start, upload, drain, verify) stops everything the demo
// started and says so: no process of it is left (found by a marker every descendant inherits in its
// environment, and by the stack's ports), no stack.json; and the next `npm start` passes.
// The interrupt is what a terminal sends: SIGINT to the whole foreground process group (npm and node).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../infra/local/ports.ts';
import { portInUse } from '../../infra/local/processes.ts';

const dataDir = await mkdtemp(path.join(tmpdir(), 'sj-interrupt-'));
const MARK = `sj-interrupt-${process.pid}-${Date.now()}`;

after(async () => {
  // Whatever a failed assertion left: stop it by process group, then remove the folder.
  for (const pid of markedProcesses()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

/** Pids of every live process that inherited this test's marker (the demo and all it started). */
function markedProcesses(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'latin1').includes(`STREAMJOIN_TEST_MARK=${MARK}`))
        out.push(Number(e));
    } catch {
      // exited meanwhile, or not ours
    }
  }
  return out;
}

/** The stack's ports, from the settings the demo recorded (written before anything starts). */
function stackPorts(): number[] {
  const f = path.join(dataDir, 'settings.json');
  if (!existsSync(f)) return [];
  const env = JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>;
  const ports = [env['FIRESTORE_EMULATOR_HOST'], env['STORAGE_EMULATOR_HOST']].map((h) =>
    Number(/:(\d+)\/?$/.exec(h ?? '')?.[1]),
  );
  return ports.filter((p) => Number.isInteger(p) && p > 0);
}

interface Run {
  readonly child: ChildProcess;
  output: string;
  /** The exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** `npm start -- …` (the README's command, through the system npm) in its own process group. */
function npmStart(...args: string[]): Run {
  const child = spawn('npm', ['start', '--', '--data-dir', dataDir, '--free-ports', ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, STREAMJOIN_TEST_MARK: MARK },
  });
  const run: Run = {
    child,
    output: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 1))),
  };
  child.stdout!.on('data', (d: Buffer) => {
    run.output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    run.output += d.toString();
  });
  return run;
}

async function waitFor(run: Run, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.output)) {
    if (Date.now() > deadline) assert.fail(`no ${pattern} within ${timeoutMs} ms; output:\n${run.output}`);
    if (run.child.exitCode !== null)
      assert.fail(`npm start exited before ${pattern}; output:\n${run.output}`);
    await sleep(20);
  }
}

const PHASES: Array<{ phase: string; after: RegExp; delayMs: number }> = [
  // The emulator is still starting (not yet recorded in stack.json): the hardest moment.
  { phase: 'stack start', after: /starting the local stack/, delayMs: 800 },
  { phase: 'upload', after: /^produced \d+ events/m, delayMs: 0 },
  { phase: 'drain', after: /waiting for ingestion/, delayMs: 500 },
  { phase: 'verify', after: /verifying both tables/, delayMs: 0 },
];

describe('Ctrl-C during npm start', { concurrency: false }, () => {
  for (const p of PHASES) {
    it(`during ${p.phase}: everything it started stops, it says so, nothing stale is left`, async () => {
      const run = npmStart('--count', '150', '--timeout', '4s');
      await waitFor(run, p.after, 240_000);
      await sleep(p.delayMs);
      const ports = stackPorts();
      process.kill(-run.child.pid!, 'SIGINT');
      const code = await Promise.race([run.exited, sleep(90_000).then(() => 'hung' as const)]);
      assert.notEqual(code, 'hung', `npm start did not stop within 90 s of Ctrl-C; output:\n${run.output}`);
      // npm, interrupted too, ends itself with the signal once its script exited (130): what a shell shows as 130.
      assert.ok(code === 'SIGINT' || code === 130, `ended by Ctrl-C (${code}); output:\n${run.output}`);
      assert.match(
        run.output,
        new RegExp(
          `interrupted during ${p.phase}: stopped everything it had started; no local stack is left running`,
        ),
      );
      assert.doesNotMatch(run.output, /^\s+at .*\(.*:\d+:\d+\)$/m, 'no stack trace');
      assert.doesNotMatch(run.output, /already been terminated/);
      assert.deepEqual(markedProcesses(), [], 'no process of the demo is left');
      assert.equal(existsSync(path.join(dataDir, 'stack.json')), false, 'no stale stack.json');
      for (const port of ports) assert.equal(await portInUse(port), false, `port ${port} is free again`);
    });
  }

  it('the next npm start passes', async () => {
    const run = npmStart('--count', '100', '--timeout', '20s');
    const code = await Promise.race([run.exited, sleep(300_000).then(() => 'hung' as const)]);
    assert.equal(code, 0, `npm start passes after the interrupted runs; output:\n${run.output}`);
    assert.match(run.output, /^PASS: /m);
    assert.deepEqual(markedProcesses(), []);
    assert.equal(existsSync(path.join(dataDir, 'stack.json')), false);
  });
});
