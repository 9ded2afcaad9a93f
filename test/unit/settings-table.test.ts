import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { settingsTable } from '../../infra/settings-table.ts';

test("the README's settings table is the one generated from shared/config.ts", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| variable | default | expected |'));
  assert.notEqual(
    start,
    -1,
    'README.md has no settings table (a line starting "| variable | default | expected |")',
  );
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  const inReadme = lines.slice(start, end).join('\n');
  assert.equal(
    inReadme,
    settingsTable(),
    'README.md settings table is out of date: regenerate it with `npx node infra/settings-table.ts` and paste it under "## Settings"',
  );
});
