// Small helpers for human-readable CLI output.
import { dateText, decimalText, decimalTypeOf, timestampText } from '../shared/spec/values.ts';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function fail(message: string): never {
  process.stderr.write(`streamjoin: ${message}\n`);
  process.exit(1);
}

/**
 * A value as `table rows` shows it, by its column's Iceberg type: timestamps as ISO-8601 with micros
 * (`Z` for timestamptz), dates as YYYY-MM-DD, decimals with their scale; others as read.
 */
export function displayValue(type: string | undefined, v: unknown): unknown {
  if (v === null || v === undefined || type === undefined) return v ?? null;
  const big =
    typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : undefined;
  if ((type === 'timestamptz' || type === 'timestamp') && big !== undefined)
    return timestampText(big, type === 'timestamptz');
  if (type === 'date' && typeof v === 'number') return dateText(v);
  const dec = decimalTypeOf(type);
  if (dec !== undefined && big !== undefined) return decimalText(big, dec.scale);
  return v;
}
