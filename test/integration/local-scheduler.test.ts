// The local scheduler (infra/local/scheduler-main.ts) with several instances of one function: each run
// goes to an instance with no call in flight, so one that hangs (a paused process) gets no other call
// while the rest keep the schedule; with one instance, runs never overlap.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../infra/local/ports.ts';
import { spawnManaged, stopGroup } from '../../infra/local/processes.ts';

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** An HTTP target counting its calls; `hang` never answers, else answers after `ms`. */
async function target(behaviour: { hang?: boolean; ms?: number }) {
  const calls = { started: 0, inFlight: 0, maxInFlight: 0 };
  const server = createServer((req, res) => {
    calls.started++;
    calls.inFlight++;
    calls.maxInFlight = Math.max(calls.maxInFlight, calls.inFlight);
    req.resume();
    if (behaviour.hang === true) return;
    setTimeout(() => {
      calls.inFlight--;
      res.end('{}');
    }, behaviour.ms ?? 0);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, calls };
}

/** Runs the scheduler with one job until `done()` holds (or 60 s pass), then stops it. */
async function runScheduler(job: string, done: () => boolean): Promise<void> {
  const p = spawnManaged(
    'scheduler',
    process.execPath,
    [path.join(REPO_ROOT, 'infra/local/scheduler-main.ts'), `--job=${job}`],
    { env: { LOG_LEVEL: 'silent' }, cwd: REPO_ROOT },
  );
  try {
    for (let i = 0; i < 600 && !done(); i++) await sleep(100);
  } finally {
    await stopGroup(p.pid, 1000);
  }
}

describe('local scheduler', () => {
  it('spreads runs over instances and skips one whose call hangs', async () => {
    const hung = await target({ hang: true });
    const live = await target({});
    await runScheduler(`tick=${hung.url},${live.url}@100`, () => live.calls.started >= 10);
    assert.ok(live.calls.started >= 10, `the other instance kept the schedule: ${live.calls.started} calls`);
    assert.equal(hung.calls.started, 1, 'the hanging instance got one call, no more');
  });

  it('with one instance, a slow run delays the next instead of overlapping it', async () => {
    const slow = await target({ ms: 400 });
    await runScheduler(`compact=${slow.url}@100`, () => slow.calls.started >= 4);
    assert.ok(slow.calls.started >= 4, `${slow.calls.started} calls`);
    assert.equal(slow.calls.maxInFlight, 1);
  });
});
