// Comparing two specs (or any JSON-like values): where they first differ, as a path for messages.
// (Until issue 17's data path followed a spec, this also refused every spec whose streams or columns
// differed from the default's; the pipeline now follows all of a spec.)

/** The first place two JSON-like values differ, as a path (`left.fields[2].type`), or undefined. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        at === '' ? k : `${at}.${k}`,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return at === '' ? '(the whole spec)' : at;
}
