// Duplicate keys in a JSON object: JSON.parse keeps the last value silently, so {"amount": 1,
// "amount": 900} would be ingested as 900 without a word. Detected after a successful JSON.parse, in two
// steps: a cheap count (every ':' outside strings in valid JSON separates one key from its value, so the
// text has as many key-value pairs as colons; the parsed tree has as many as its objects' keys — they
// differ exactly when some object repeated a key), and only then a scan that names the repeated key.
// Hand-written rather than a library (json-dup-key-validator, find-duplicated-property-keys): those
// re-parse every record with a full JSON grammar, doubling the parser's cost on the hot path.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Key-value separators in valid JSON text (colons outside strings). */
function countPairs(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON) n++;
    else if (c === QUOTE) i = endOfString(text, i);
  }
  return n;
}

/** Index of the closing quote of the string opening at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return text.length;
}

/** Own keys of every object in a parsed value (iterative: no recursion on hostile depth). */
function countKeys(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else {
      const keys = Object.keys(v);
      n += keys.length;
      for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return n;
}

/** The first key repeated within one object, scanning valid JSON text (the rare, slow path). */
function findRepeated(text: string): string | undefined {
  // One frame per open container: the keys seen so far for an object, null for an array.
  const frames: Array<Set<string> | null> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') frames.push(new Set());
    else if (c === '[') frames.push(null);
    else if (c === '}' || c === ']') frames.pop();
    else if (c === '"') {
      const end = endOfString(text, i);
      let j = end + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      const keys = frames[frames.length - 1];
      if (text[j] === ':' && keys !== undefined && keys !== null) {
        // Decoded, so "a" and "\u0061" are the same key, as JSON.parse sees them.
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}

/**
 * The key some object of `text` repeats, or undefined. `value` must be `JSON.parse(text)`; `text` must
 * be valid JSON (it parsed).
 */
export function duplicateKey(text: string, value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (countPairs(text) === countKeys(value)) return undefined;
  return findRepeated(text);
}
