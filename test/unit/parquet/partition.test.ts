// Partition day of epoch micros (Iceberg day transform), splitting rows by day, and UTF-8 string order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareUtf8, formatMicros, partitionDayOf, splitRowsByDay } from '../../../shared/parquet/index.ts';
import { JOINED_TABLE, type Row, UNMATCHED_TABLE } from '../../../shared/tables.ts';

describe('partitionDayOf', () => {
  const cases = [
    { name: 'epoch', input: 0n, expected: 0 },
    { name: 'last micro of day 0', input: 86_399_999_999n, expected: 0 },
    { name: 'first micro of day 1', input: 86_400_000_000n, expected: 1 },
    { name: '2024-05-01T00:00:00Z', input: 1_714_521_600_000_000n, expected: 19844 },
    { name: '2024-05-01T23:59:59.999999Z', input: 1_714_607_999_999_999n, expected: 19844 },
    { name: 'one micro before epoch (floor, not truncation)', input: -1n, expected: -1 },
    { name: 'exactly one day before epoch', input: -86_400_000_000n, expected: -1 },
    { name: 'one micro further back', input: -86_400_000_001n, expected: -2 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(partitionDayOf(c.input), c.expected));

  it('agrees with Date for any millisecond instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e14, max: 8.64e14 }), fc.integer({ min: 0, max: 999 }), (ms, us) => {
        const micros = BigInt(ms) * 1000n + BigInt(us);
        assert.equal(partitionDayOf(micros), Math.floor(ms / 86_400_000));
      }),
    );
  });
});

describe('formatMicros', () => {
  const cases = [
    { name: 'microsecond precision', input: 1_714_521_600_000_001n, expected: '2024-05-01T00:00:00.000001Z' },
    { name: 'before epoch', input: -1n, expected: '1969-12-31T23:59:59.999999Z' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(formatMicros(c.input), c.expected));
});

describe('splitRowsByDay', () => {
  const row = (id: string, micros: bigint): Row => ({ order_id: id, joined_at: micros });
  it('groups by day, days ascending, rows in input order', () => {
    const rows = [row('a', 86_400_000_000n), row('b', 5n), row('c', 86_400_000_001n), row('d', -1n)];
    const days = splitRowsByDay(rows, JOINED_TABLE);
    assert.deepEqual(
      [...days].map(([day, list]) => [day, list.map((r) => r['order_id'])]),
      [
        [-1, ['d']],
        [0, ['b']],
        [1, ['a', 'c']],
      ],
    );
  });
  it('names the partition source when it is not bigint micros', () => {
    assert.throws(
      () => splitRowsByDay([{ emitted_at: 1714521600000 }], UNMATCHED_TABLE),
      /unmatched table: column "emitted_at" \(partition source\) expects a timestamptz as bigint epoch microseconds, but was: 1714521600000 \(number\)/,
    );
  });
});

describe('compareUtf8', () => {
  const cases = [
    { name: 'equal', a: 'abc', b: 'abc', expected: 0 },
    { name: 'prefix sorts first', a: 'ab', b: 'abc', expected: -1 },
    { name: 'ASCII', a: 'b', b: 'a', expected: 1 },
    { name: 'U+FFFF before U+1F600 (UTF-16 says the opposite)', a: '\uffff', b: '😀', expected: -1 },
    { name: 'U+E000 before U+10000', a: '\ue000', b: '\u{10000}', expected: -1 },
    { name: 'two supplementary characters', a: '😀', b: '😁', expected: -1 },
    { name: 'U+00E9 after z', a: 'é', b: 'z', expected: 1 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(Math.sign(compareUtf8(c.a, c.b)), c.expected));

  it('matches unsigned comparison of the UTF-8 bytes for any well-formed strings', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 8 });
    fc.assert(
      fc.property(text, text, (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        assert.equal(Math.sign(compareUtf8(a, b)), bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
