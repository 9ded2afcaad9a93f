// Durations as settings and join specs write them ("15m", "1h30m", "1500ms"). Its own module so that
// shared/spec (which config.ts loads) and config.ts can both use it without importing each other.

/** Thrown by a setting's parser when the text is not a value of its kind. */
export class BadValue extends Error {}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "10s", "1500ms", "7d", "1h30m" or a bare number of milliseconds → milliseconds. */
export function parseDuration(raw: string): number {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) throw new BadValue();
  return Math.round(total);
}
