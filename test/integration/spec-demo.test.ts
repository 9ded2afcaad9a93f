// `npm start -- --spec FILE` end to end, as a user runs it (the CLI in its own process): the local stack
// up with the spec (every function gets it), events of the spec's streams with every fault kind,
// duplicate deliveries, gzip JSON Lines, drain, verify against the ground truth on every column, both
// tables through the reference readers (pyiceberg 0.9.1, Java Iceberg core), the stack down; then
// `table rows --spec` reads the spec's tables the stopped stack left.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readStack } from '../../infra/local/stack.ts';
import { loadJoinSpec } from '../../shared/spec/load.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'cli/main.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cli(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The specs the demo must pass with, named explicitly, and how their files are written: the default;
 *  the example of another pipeline (a double, a decimal, timestamps with and without zone, a date, a
 *  long, nullable fields); a spec with every field type on both sides and an int key. */
const SPECS = [
  { file: 'specs/orders-payments.json', format: ['--format', 'jsonl', '--events-per-file', '6', '--gzip'] },
  {
    file: 'specs/shipments-deliveries.yaml',
    format: ['--format', 'jsonl', '--events-per-file', '6', '--gzip'],
  },
  { file: 'test/fixtures/specs/every-type.json', format: ['--format', 'array', '--events-per-file', '4'] },
];

describe('npm start -- --spec FILE', () => {
  for (const { file, format } of SPECS) {
    test(`${file}: PASS, both tables through both reference readers, the spec's tables`, async () => {
      const spec = loadJoinSpec(path.join(ROOT, file));
      const dataDir = mkdtempSync(path.join(tmpdir(), 'sj-spec-demo-'));
      dirs.push(dataDir);
      const r = await cli(
        [
          'demo',
          '--spec',
          file,
          '--data-dir',
          dataDir,
          '--free-ports',
          '--count',
          '150',
          '--seed',
          '1717',
          '--timeout',
          '5s',
          '--lateness',
          '15s',
          '--duplicate-delivery',
          '0.3',
          ...format,
        ],
        900_000,
      );
      const out = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.code, 0, out.slice(-4000));
      assert.match(r.stdout, /^PASS: \d+ rows in the tables, \d+ expected$/m, out.slice(-4000));
      const checks = r.stdout.match(/^check-iceberg .*: PASS \(pyiceberg 0\.9\.1 and Java Iceberg core\)$/gm);
      assert.equal(checks?.length, 2, out.slice(-4000));
      for (const t of [spec.joined.name, spec.unmatched.name]) {
        assert.match(r.stdout, new RegExp(`^check-iceberg .*/${spec.namespace}/${t}: PASS`, 'm'));
        assert.match(r.stdout, new RegExp(`^  .*/${spec.namespace}/${t}$`, 'm'), `the summary names ${t}`);
      }
      // Every outcome of the spec was exercised, and the malformed and invalid records quarantined.
      const byReason = /^ {2}by reason: (.*)$/m.exec(r.stdout)?.[1] ?? '';
      // (The default workload has never made a late left event: its seeds keep their files.)
      const R = spec.reasons;
      const reasons =
        spec.name === 'orders-payments'
          ? ['joined', R.leftTimeout, R.rightOrphan, R.rightLate, R.rightExtra]
          : ['joined', R.leftTimeout, R.rightOrphan, R.rightLate, R.rightExtra, R.leftLate];
      for (const reason of reasons)
        assert.match(byReason, new RegExp(`\\b${reason} [1-9]`), `${reason} in "${byReason}"`);
      assert.match(r.stdout, /records rejected +[1-9]/);
      assert.equal(readStack(dataDir), undefined, 'the stack was stopped');

      // The tables the stopped stack left, by the spec's names, every column of the spec.
      for (const kind of ['joined', 'unmatched'] as const) {
        const rows = await cli(
          ['table', 'rows', '--data-dir', dataDir, '--table', kind, '--spec', file, '--json', '--limit', '5'],
          120_000,
        );
        assert.equal(rows.code, 0, rows.stderr);
        const got = JSON.parse(rows.stdout) as Record<string, unknown>[];
        assert.ok(got.length > 0, `${kind}: rows`);
        const columns = (kind === 'joined' ? spec.joined : spec.unmatched).columns.map((c) => c.name);
        assert.deepEqual(Object.keys(got[0]!), columns);
      }
    });
  }
});
