// The pure parts of reconciliation and replay: which prefixes are listed (day folders of a range), how a
// day folder is named, the day-folder setting, and the CLI's instants — table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstant } from '../../../cli/reconcile-commands.ts';
import { loadConfig } from '../../../shared/config.ts';
import { dayFolderOf, prefixesFor } from '../../../shared/pipeline/reconcile.ts';

const DAY = 86_400_000;
const T = Date.UTC(2026, 2, 14, 10, 30); // 2026-03-14T10:30Z

describe('dayFolderOf', () => {
  const cases: Array<[string, number, string]> = [
    ['YYYY_MM_DD', T, '2026_03_14'],
    ['YYYY/MM/DD', T, '2026/03/14'],
    ['dt=YYYY-MM-DD', T, 'dt=2026-03-14'],
    ['YYYY_MM_DD', Date.UTC(2026, 0, 1, 0, 0), '2026_01_01'],
    ['YYYY_MM_DD', Date.UTC(2025, 11, 31, 23, 59, 59, 999), '2025_12_31'],
  ];
  for (const [pattern, ms, expected] of cases)
    it(`${pattern} at ${new Date(ms).toISOString()} → ${expected}`, () =>
      assert.equal(dayFolderOf(pattern, ms), expected));
});

describe('prefixesFor', () => {
  const config = (folder: string) =>
    loadConfig({ STREAMJOIN_RECONCILE_DAY_FOLDER: folder, STREAMJOIN_ORDERS_PREFIX: 'stream/orders/' });
  const cases: Array<{ name: string; folder: string; from: number; to: number; expected: string[] }> = [
    {
      name: 'one day: both prefixes, that day',
      folder: 'YYYY_MM_DD',
      from: T,
      to: T,
      expected: ['stream/orders/2026_03_14/', 'stream/payments/2026_03_14/'],
    },
    {
      name: 'the last 2 days (reconcile default)',
      folder: 'YYYY_MM_DD',
      from: T - DAY,
      to: T,
      expected: [
        'stream/orders/2026_03_13/',
        'stream/orders/2026_03_14/',
        'stream/payments/2026_03_13/',
        'stream/payments/2026_03_14/',
      ],
    },
    {
      name: 'a range across midnight lists both days',
      folder: 'YYYY_MM_DD',
      from: Date.UTC(2026, 2, 14, 23, 50),
      to: Date.UTC(2026, 2, 15, 0, 10),
      expected: [
        'stream/orders/2026_03_14/',
        'stream/orders/2026_03_15/',
        'stream/payments/2026_03_14/',
        'stream/payments/2026_03_15/',
      ],
    },
    {
      name: '"none": the whole prefixes, whatever the range',
      folder: 'none',
      from: T - 30 * DAY,
      to: T,
      expected: ['stream/orders/', 'stream/payments/'],
    },
  ];
  for (const c of cases)
    it(c.name, () => assert.deepEqual(prefixesFor(config(c.folder), c.from, c.to), c.expected));
});

describe('STREAMJOIN_RECONCILE_DAY_FOLDER', () => {
  for (const good of ['YYYY_MM_DD', 'YYYY/MM/DD', 'dt=YYYY-MM-DD', 'none'])
    it(`accepts ${good}`, () =>
      assert.doesNotThrow(() => loadConfig({ STREAMJOIN_RECONCILE_DAY_FOLDER: good })));
  for (const bad of ['MM_DD', 'YYYY_YYYY', 'YYYY MM', 'YYYY/../DD', '/YYYY', 'YYYY/'])
    it(`refuses ${JSON.stringify(bad)}, naming the variable`, () =>
      assert.throws(
        () => loadConfig({ STREAMJOIN_RECONCILE_DAY_FOLDER: bad }),
        /STREAMJOIN_RECONCILE_DAY_FOLDER must be/,
      ));
});

describe('parseInstant (replay --since/--until)', () => {
  const now = T;
  const cases: Array<[string, number]> = [
    ['2026-03-14T10:00:00Z', Date.UTC(2026, 2, 14, 10)],
    ['2026-03-14', Date.UTC(2026, 2, 14)],
    ['2h', now - 2 * 3_600_000],
    ['30m', now - 30 * 60_000],
  ];
  for (const [raw, expected] of cases)
    it(`${raw} → ${new Date(expected).toISOString()}`, () => assert.equal(parseInstant(raw, now), expected));
  it('refuses anything else, saying what it expects', () =>
    assert.throws(
      () => parseInstant('yesterday', now),
      /expected an ISO-8601 time .* or a duration ago .* but was: "yesterday"/,
    ));
});
