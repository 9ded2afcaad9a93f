// String order as Iceberg and Parquet define it for bounds: unsigned lexicographic order of the UTF-8
// bytes, which equals Unicode code point order. JavaScript's `<` compares UTF-16 code units instead.

/** Maps a UTF-16 code unit ≥ 0xD800 so that surrogates (code points ≥ U+10000) sort after U+E000..U+FFFF. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` by UTF-8 bytes (well-formed strings). */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 and code point order differ only when both units are ≥ 0xD800.
      return x >= 0xd800 && y >= 0xd800 ? codePointRank(x) - codePointRank(y) : x - y;
    }
  }
  return a.length - b.length;
}
