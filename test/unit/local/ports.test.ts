// Port reservations of private local stacks (infra/local/ports.ts): two processes never hold the same
// port, a dead process's reservation does not block, and stacks take ports below the ephemeral range.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { freeLocalPorts, PRIVATE_PORT_RANGE, reservePorts } from '../../../infra/local/ports.ts';

const PORTS_MODULE = path.resolve(import.meta.dirname, '../../../infra/local/ports.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function freshDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sj-ports-'));
  dirs.push(d);
  return d;
}

/** Runs reservePorts in another (live) process, which then waits for a line on stdin before exiting. */
async function otherProcess(base: number, count: number, dir: string) {
  const code = `import { reservePorts } from ${JSON.stringify(PORTS_MODULE)};
    console.log(reservePorts(${base}, ${count}, ${JSON.stringify(dir)}));
    process.stdin.once('data', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve) =>
    child.stdout.once('data', (b: Buffer) => resolve(String(b))),
  );
  return {
    reserved: first.trim() === 'true',
    exit: async () => {
      child.stdin.write('\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

describe('local port reservations', () => {
  it('a range another live process holds is refused, overlapping or not; once it exits, it is free', async () => {
    const dir = freshDir();
    const other = await otherProcess(25_000, 6, dir);
    assert.equal(other.reserved, true);
    for (const [base, count, expected] of [
      [25_000, 6, false], // the same range
      [24_998, 3, false], // overlaps its first port
      [25_005, 2, false], // overlaps its last port
      [25_006, 6, true], // right after it
    ] as const) {
      assert.equal(reservePorts(base, count, dir), expected, `reservePorts(${base}, ${count})`);
    }
    // A refused attempt leaves no file of ours behind on the contested ports.
    const ours = readdirSync(dir).filter((n) => n.endsWith(`.${process.pid}`));
    assert.deepEqual(
      ours.sort(),
      ['25006', '25007', '25008', '25009', '25010', '25011'].map((p) => `${p}.${process.pid}`),
    );
    await other.exit();
    assert.equal(reservePorts(25_000, 6, dir), true, 'the exited process held nothing any more');
  });

  it("a dead process's reservation is stale: removed, and the ports reserved", () => {
    const dir = freshDir();
    const deadPid = 2 ** 22 + 12_345; // above the default pid_max: no such process
    writeFileSync(path.join(dir, `26000.${deadPid}`), '');
    assert.equal(reservePorts(26_000, 2, dir), true);
    assert.deepEqual(readdirSync(dir).sort(), [`26000.${process.pid}`, `26001.${process.pid}`]);
  });

  it('a stack takes six ports below the ephemeral range, functions first, all reserved by this process', async () => {
    const ports = await freeLocalPorts();
    assert.ok(ports.functions >= PRIVATE_PORT_RANGE.low && ports.firestore < 32_768, JSON.stringify(ports));
    assert.deepEqual([ports.storage, ports.firestore], [ports.functions + 4, ports.functions + 5]);
    const again = await freeLocalPorts();
    assert.ok(
      again.functions > ports.firestore || again.firestore < ports.functions,
      `a second stack of the same process does not overlap: ${JSON.stringify({ ports, again })}`,
    );
  });
});
