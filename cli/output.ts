// Small helpers for human-readable CLI output.
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
 * A value as `table rows` shows it, by its column's Iceberg type: timestamps as ISO-8601 (UTC for
 * timestamptz, no zone for timestamp), dates as YYYY-MM-DD, decimals with their scale; others as read.
 */
export function displayValue(type: string | undefined, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const asBig = (x: unknown) => (typeof x === 'bigint' ? x : typeof x === 'number' ? BigInt(x) : undefined);
  if (type === 'timestamptz' || type === 'timestamp') {
    const micros = asBig(v);
    if (micros === undefined) return v;
    const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
    const rest = ((micros % 1000n) + 1000n) % 1000n;
    const iso = new Date(Number(ms)).toISOString().slice(0, 23);
    const frac = rest === 0n ? '' : String(rest).padStart(3, '0');
    return `${iso}${frac}${type === 'timestamptz' ? 'Z' : ''}`;
  }
  if (type === 'date' && typeof v === 'number') return new Date(v * 86_400_000).toISOString().slice(0, 10);
  const dec = type === undefined ? null : /^decimal\(\d+,\s*(\d+)\)$/.exec(type);
  if (dec !== null && dec !== undefined) {
    const unscaled = asBig(v);
    if (unscaled === undefined) return v;
    const scale = Number(dec[1]);
    const neg = unscaled < 0n;
    const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
    const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return neg ? `-${text}` : text;
  }
  return v;
}
