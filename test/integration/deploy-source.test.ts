// The source hash in each function's spec label: it follows the uploaded source and nothing else.
// (That the hashed list is exactly what gcloud uploads is proven on the ZIP gcloud really builds:
// test/integration/deploy-upload.test.ts. `gcloud meta list-files-for-upload` walks the tree
// differently from the ZIP builder and once agreed with a list the ZIP did not hold.)
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashSource, SOURCE_PATHS } from '../../infra/gcp/source.ts';
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
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the hash changes with a source file and not with a test', async () => {
  const tree = join(dir, 'tree');
  const before = await hashSource(tree);
  writeFileSync(join(tree, 'test/unit/x.test.ts'), 'changed');
  assert.equal(await hashSource(tree), before);
  writeFileSync(join(tree, 'shared/extra.ts'), 'export {};');
  assert.notEqual(await hashSource(tree), before);
});
