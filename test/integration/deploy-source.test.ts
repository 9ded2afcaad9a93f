// What the deploy hashes is what gcloud uploads: the file list of infra/gcp/source.ts against
// `gcloud meta list-files-for-upload` reading infra/gcp/deploy.gcloudignore, on a copy of the tree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashSource, listSourceFiles, SOURCE_PATHS } from '../../infra/gcp/source.ts';
import { ROOT } from '../unit/deploy/sample.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'streamjoin-upload-'));
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  for (const p of SOURCE_PATHS) {
    const from = join(ROOT, p);
    try {
      cpSync(from, join(tree, p), {
        recursive: true,
        filter: (src) => !/\/(node_modules|dist)(\/|$)/.test(src),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // Things that must stay behind: tests, docs, build output, dependencies, local state.
  for (const f of [
    'test/unit/x.test.ts',
    'docs/deploy.md',
    'dist/functions/index.js',
    'node_modules/a/index.js',
    'shared/node_modules/b.js',
    '.streamjoin/state.json',
    'README.md',
  ]) {
    mkdirSync(join(tree, f, '..'), { recursive: true });
    writeFileSync(join(tree, f), 'x');
  }
  copyFileSync(join(ROOT, 'infra/gcp/deploy.gcloudignore'), join(tree, '.gcloudignore'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the hashed file list equals the files gcloud would upload', async () => {
  const tree = join(dir, 'tree');
  const r = spawnSync('gcloud', ['meta', 'list-files-for-upload', '.'], {
    cwd: tree,
    env: {
      PATH: process.env['PATH'],
      HOME: dir,
      CLOUDSDK_CONFIG: join(dir, 'gcloud'),
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const uploaded = r.stdout
    .split('\n')
    .filter((l) => l !== '' && l !== '.gcloudignore')
    .sort();
  const hashed = await listSourceFiles(tree);
  assert.deepEqual(uploaded, hashed);
  assert.ok(hashed.includes('package.json') && hashed.some((f) => f.startsWith('functions/')));
  assert.ok(!hashed.some((f) => /^(test|docs|dist|node_modules)\/|node_modules/.test(f)));
});

test('the hash changes with a source file and not with a test', async () => {
  const tree = join(dir, 'tree');
  const before = await hashSource(tree);
  writeFileSync(join(tree, 'test/unit/x.test.ts'), 'changed');
  assert.equal(await hashSource(tree), before);
  writeFileSync(join(tree, 'shared/extra.ts'), 'export {};');
  assert.notEqual(await hashSource(tree), before);
});
