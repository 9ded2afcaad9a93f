// Prints the settings table of the README from shared/config.ts (the single source):
//   npx node infra/settings-table.ts
import { SETTINGS } from '../shared/config.ts';

const rows = Object.values(SETTINGS).map(
  (s) =>
    `| \`${s.env}\` | ${s.default === undefined ? '—' : `\`${s.default}\``} | ${s.expected} | ${s.description} |`,
);
console.log(
  ['| variable | default | expected | what it does |', '| --- | --- | --- | --- |', ...rows].join('\n'),
);
