// Iceberg day() partitioning of the tables' timestamptz source column: days since 1970-01-01 (UTC) of
// epoch microseconds, and splitting rows so that every data file holds a single day.

import { StreamjoinError } from '../errors.ts';
import { dayPartitionOf, type Row, type TableDef } from '../tables.ts';

export const MICROS_PER_DAY = 86_400_000_000n;

/** Iceberg `day` transform of a timestamptz in epoch microseconds (floor division, so instants before
 *  1970 land on negative days). */
export function partitionDayOf(micros: bigint): number {
  const q = micros / MICROS_PER_DAY;
  return Number(micros < 0n && q * MICROS_PER_DAY !== micros ? q - 1n : q);
}

/** First microsecond of `day` and first microsecond of the next day. */
export function dayBoundsOf(day: number): { readonly start: bigint; readonly end: bigint } {
  const start = BigInt(day) * MICROS_PER_DAY;
  return { start, end: start + MICROS_PER_DAY };
}

/** `2024-05-01` for day 19844. */
export function formatDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** `2024-05-01T12:00:00.000001Z` for epoch micros (or the raw number if out of Date's range). */
export function formatMicros(micros: bigint): string {
  const ms = Number(micros / 1000n) - (micros % 1000n < 0n ? 1 : 0);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return `${micros} µs since epoch`;
  const sub = ((micros % 1000n) + 1000n) % 1000n;
  return `${date.toISOString().slice(0, 23)}${String(sub).padStart(3, '0')}Z`;
}

/** The partition day of a row: the table's partition source must hold bigint epoch micros. */
export function rowPartitionDay(row: Row, table: TableDef): number {
  const source = dayPartitionSource(table);
  const value = row[source];
  if (typeof value !== 'bigint') {
    throw new StreamjoinError(
      'invalid-input',
      `${table.kind} table: column "${source}" (partition source) expects a timestamptz ` +
        `as bigint epoch microseconds, but was: ${describeValue(value)}`,
      { context: { table: table.kind, column: source } },
    );
  }
  return partitionDayOf(value);
}

/** The source column of a table partitioned by day() of one column (what the day helpers need). */
export function dayPartitionSource(table: TableDef): string {
  const p = dayPartitionOf(table);
  if (p === undefined) {
    throw new StreamjoinError(
      'config',
      `${table.kind} table: expected a partition by day() of one column, but it is partitioned by ${table.partition.map((f) => `${f.transform}(${f.source})`).join(', ') || 'nothing'}`,
    );
  }
  return p.source;
}

/** Groups rows by partition day, days ascending, rows in their original order within a day. */
export function splitRowsByDay(rows: Iterable<Row>, table: TableDef): Map<number, Row[]> {
  const byDay = new Map<number, Row[]>();
  for (const row of rows) {
    const day = rowPartitionDay(row, table);
    const list = byDay.get(day);
    if (list) list.push(row);
    else byDay.set(day, [row]);
  }
  return new Map([...byDay].sort((a, b) => a[0] - b[0]));
}

/** `"12" (string)`, `12.5 (number)`, `null`, `missing`: for error messages that quote what came. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing (undefined)';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    return `${JSON.stringify(shown)} (string)`;
  }
  if (typeof value === 'bigint') return `${value}n (bigint)`;
  if (typeof value === 'number') return `${value} (number)`;
  if (value instanceof Date) return `${value.toISOString()} (Date)`;
  return `${Object.prototype.toString.call(value)} (${typeof value})`;
}
