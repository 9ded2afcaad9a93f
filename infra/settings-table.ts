// Prints the settings table of the README from shared/config.ts (the single source):
//   npx node infra/settings-table.ts
// test/unit/settings-table.test.ts fails when the README's table differs from this output.
import { pathToFileURL } from 'node:url';
import { SETTINGS } from '../shared/config.ts';

export function settingsTable(): string {
  const rows = Object.values(SETTINGS).map(
    (s) =>
      `| \`${s.env}\` | ${s.default === undefined ? '—' : `\`${s.default}\``} | ${s.expected} | ${s.description} |`,
  );
  return ['| variable | default | expected | what it does |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(settingsTable());
