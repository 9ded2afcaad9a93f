// Issues: what went wrong with an input file or record, where, and what was expected versus what came
// (zod-style `{code, path, message}`; messages quote both sides, after nodejs-firestore `validate.ts`).

/** File-level codes: the rest of the file could not be read. Records yielded before one are still valid. */
export const FILE_ISSUE_CODES = [
  'object-too-large',
  'decompressed-too-large',
  'inflation-ratio',
  'gzip-invalid',
  'gzip-truncated',
  'empty-file',
  'not-json',
  'invalid-json',
  'truncated-json',
  'document-too-large',
  'too-deep',
  'invalid-utf8',
  'trailing-content',
  'object-gone',
  /** Ingest could not read the file within its time budget and made no progress a retry could use. */
  'time-budget',
] as const;

/** Record-level codes: one line / array element / field is bad; the other records still count. */
export const RECORD_ISSUE_CODES = [
  'invalid-json',
  'invalid-utf8',
  'record-too-large',
  'too-deep',
  'duplicate-key',
  'not-an-object',
  'missing-field',
  'null-field',
  'wrong-type',
  'not-an-integer',
  'out-of-range',
  'empty-string',
  'blank-string',
  'string-too-long',
  'invalid-string',
] as const;

export type FileIssueCode = (typeof FILE_ISSUE_CODES)[number];
export type RecordIssueCode = (typeof RECORD_ISSUE_CODES)[number];
export type IssueCode = FileIssueCode | RecordIssueCode;

/** Where an issue is: 1-based physical line, 0-based array index, field name — whichever apply. */
export interface IssuePath {
  readonly line?: number;
  readonly index?: number;
  readonly field?: string;
}

export interface Issue {
  readonly code: IssueCode;
  readonly path: IssuePath;
  readonly message: string;
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: Issue[] };

const QUOTE_MAX = 80;

/** A short, unambiguous rendering of a value for "but was: …" (strings quoted and cut, containers named). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value.length > QUOTE_MAX ? value.slice(0, QUOTE_MAX) : value);
    return value.length > QUOTE_MAX ? `${quoted.slice(0, -1)}…" (${value.length} characters)` : quoted;
  }
  if (typeof value === 'number') {
    // JSON.parse turns 1e400 into Infinity: the original digits are gone, so say what happened.
    if (!Number.isFinite(value)) return `${value} (a number beyond double precision, e.g. 1e400)`;
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length} element${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** "0x1f" style rendering of a byte, with the character when printable. */
export function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16).padStart(2, '0')}`;
  return byte >= 0x20 && byte < 0x7f ? `${JSON.stringify(String.fromCharCode(byte))} (${hex})` : hex;
}

/** A path with only the defined parts (exactOptionalPropertyTypes forbids `line: undefined`). */
export function issuePath(line?: number, index?: number, field?: string): IssuePath {
  const p: { line?: number; index?: number; field?: string } = {};
  if (line !== undefined) p.line = line;
  if (index !== undefined) p.index = index;
  if (field !== undefined) p.field = field;
  return p;
}

/** "line 3", "index 7, field amount", "file" — for log lines and quarantine listings. */
export function formatPath(path: IssuePath): string {
  const parts: string[] = [];
  if (path.line !== undefined) parts.push(`line ${path.line}`);
  if (path.index !== undefined) parts.push(`index ${path.index}`);
  if (path.field !== undefined) parts.push(`field ${path.field}`);
  return parts.length === 0 ? 'file' : parts.join(', ');
}
