// The README's commands run through the system's npx (npm on the machine's own Node, 20 here), which
// must not print EBADENGINE or any other warning: the CLI itself runs on the pinned Node 24.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { REPO_ROOT } from '../../infra/local/ports.ts';

/** PATH without any node_modules/.bin (npm scripts put the pinned Node first). */
const systemPath = (process.env['PATH'] ?? '')
  .split(path.delimiter)
  .filter((d) => d !== '' && !d.includes(`node_modules${path.sep}.bin`))
  .join(path.delimiter);

function onSystemPath(name: string): string | undefined {
  for (const d of systemPath.split(path.delimiter))
    if (existsSync(path.join(d, name))) return path.join(d, name);
  return undefined;
}

// A new user's npm: an empty home and cache (with a warm npx cache the check does not run).
const home = mkdtempSync(path.join(tmpdir(), 'sj-npx-home-'));
after(() => rmSync(home, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          PATH: systemPath,
          HOME: home,
          npm_config_cache: path.join(home, '.npm'),
          npm_config_update_notifier: 'false',
        },
        timeout: 120_000,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1,
          out: stdout + stderr,
        }),
    );
  });
}

it('`npx streamjoin --help` with the system npm and Node: the help, and no EBADENGINE or other warning', async () => {
  const npx = onSystemPath('npx');
  const node = onSystemPath('node');
  assert.ok(npx !== undefined && node !== undefined, `npx and node on the system PATH (${systemPath})`);
  const version = await run(node, ['--version']);
  const r = await run(npx, ['streamjoin', '--help']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^Usage: streamjoin \[options\] \[command\]/m);
  assert.doesNotMatch(r.out, /EBADENGINE/, `system Node ${version.out.trim()}`);
  assert.doesNotMatch(r.out, /^(npm )?(warn|WARN|warning)\b/im, 'no warning lines');
});
