// `table rows` shows each value by its column's Iceberg type (the tables hold micros, days, unscaled).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayValue } from '../../../cli/output.ts';

test('displayValue: by column type', () => {
  const cases: { type: string | undefined; value: unknown; shown: unknown }[] = [
    { type: 'timestamptz', value: 1_795_608_000_000_000n, shown: '2026-11-25T12:00:00.000000Z' },
    { type: 'timestamptz', value: 1_795_608_000_000_123n, shown: '2026-11-25T12:00:00.000123Z' },
    { type: 'timestamp', value: 1_795_608_000_500_000n, shown: '2026-11-25T12:00:00.500000' },
    { type: 'timestamp', value: -1n, shown: '1969-12-31T23:59:59.999999' },
    { type: 'date', value: 20_782, shown: '2026-11-25' },
    { type: 'date', value: -1, shown: '1969-12-31' },
    { type: 'decimal(12, 2)', value: 225_107n, shown: '2251.07' },
    { type: 'decimal(12, 2)', value: -2n, shown: '-0.02' },
    { type: 'decimal(5,0)', value: 42n, shown: '42' },
    { type: 'decimal(9, 3)', value: 5, shown: '0.005' },
    { type: 'long', value: 9_007_199_254_740_993n, shown: 9_007_199_254_740_993n },
    { type: 'string', value: 'a', shown: 'a' },
    { type: 'boolean', value: true, shown: true },
    { type: 'timestamptz', value: null, shown: null },
    { type: undefined, value: 3, shown: 3 },
  ];
  for (const c of cases)
    assert.deepEqual(displayValue(c.type, c.value), c.shown, `${c.type} ${String(c.value)}`);
});
