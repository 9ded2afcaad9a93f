// The rows of an Iceberg table as a reference reader sees them: both readers of the kit must pass
// (check-iceberg: pyiceberg 0.9.1 and Java Iceberg core), then pyiceberg's current rows (deletes applied)
// as CSV cells, '' for null.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';

export async function readersRows(
  location: string,
  options: { readonly key?: string; readonly expectRows?: number } = {},
): Promise<Record<string, string>[]> {
  const csv = path.join(await mkdtemp(path.join(tmpdir(), 'rows-')), 'rows.csv');
  const c = await checkIceberg(location, { rowsCsv: csv, ...options });
  assert.ok(c.ok, formatIcebergCheck(c));
  const [header, ...rest] = parseCsv(readFileSync(csv, 'utf8'));
  return rest.map((cells) => Object.fromEntries((header ?? []).map((n, i) => [n, cells[i] ?? ''])));
}

export /** RFC 4180 CSV (pyarrow's: quoted strings with doubled quotes; nested values as JSON text). */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      out.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length > 0) out.push([...row, cell]);
  return out;
}
