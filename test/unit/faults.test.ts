// Fault injection from data (shared/faults.ts): the STREAMJOIN_FAULTS grammar, table-driven, and the
// `stop:N` mode on a real child process (it stops itself with SIGSTOP and goes on after SIGCONT).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StreamjoinError } from '../../shared/errors.ts';
import { parseFaultSpec } from '../../shared/faults.ts';

const PARSE_CASES: Array<{ name: string; input: string; expected: Record<string, unknown> }> = [
  { name: 'empty', input: '', expected: {} },
  { name: 'fail:N', input: 'a.b=fail:2', expected: { 'a.b': { mode: 'fail', remaining: 2 } } },
  { name: 'exit:N', input: 'a.b=exit:3', expected: { 'a.b': { mode: 'exit', at: 3, seen: 0 } } },
  { name: 'stop:N', input: 'a.b=stop:4', expected: { 'a.b': { mode: 'stop', at: 4, seen: 0 } } },
  { name: 'p:X', input: 'a.b=p:0.25', expected: { 'a.b': { mode: 'p', p: 0.25 } } },
  {
    name: 'several, with spaces',
    input: ' a=fail:1 , b=stop:2',
    expected: { a: { mode: 'fail', remaining: 1 }, b: { mode: 'stop', at: 2, seen: 0 } },
  },
];

describe('parseFaultSpec', () => {
  for (const c of PARSE_CASES) {
    it(c.name, () => {
      assert.deepEqual(Object.fromEntries(parseFaultSpec(c.input)), c.expected);
    });
  }
  for (const bad of ['a.b=pause:1', 'a.b', 'a.b=stop:', 'A=fail:1']) {
    it(`refuses ${JSON.stringify(bad)} with a message naming the forms`, () => {
      assert.throws(
        () => parseFaultSpec(bad),
        (e: unknown) =>
          e instanceof StreamjoinError &&
          e.kind === 'config' &&
          /point=stop:N/.test(e.message) &&
          e.message.includes(bad),
      );
    });
  }
});

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

describe('stop:N', () => {
  it('stops the process on the N-th pass and lets it go on after SIGCONT', async () => {
    const faults = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/faults.ts');
    const script = `import { faultPoint } from ${JSON.stringify(faults)};
for (let i = 1; i <= 3; i++) { faultPoint('t.point'); console.log('pass ' + i); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, STREAMJOIN_FAULTS: 't.point=stop:2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && processState(child.pid!) !== 'T'; i++) await sleep(25);
      assert.equal(processState(child.pid!), 'T', 'stopped at the second pass');
      await sleep(100);
      assert.equal(out, 'pass 1\n', 'nothing after the stop');
      process.kill(child.pid!, 'SIGCONT');
      assert.equal(await exited, 0);
      assert.equal(out, 'pass 1\npass 2\npass 3\n');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
