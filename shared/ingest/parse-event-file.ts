// Streams an input file (DESIGN §1) into JSON records in bounded memory: gzip or plain, a single JSON
// document, a JSON array (streamed element by element) or JSON Lines; every problem becomes an issue item.
//
// Formats, decided from the first bytes (after an optional UTF-8 BOM and leading whitespace):
// - `[` → JSON array. Elements are split by a byte scanner and parsed one at a time, so an array of a
//   million events streams like JSON Lines. Each element must fit in maxLineLength.
// - `{` whose value closes on its first line (or a `.jsonl`/`.ndjson` name) → JSON Lines: one record per
//   non-blank line; a bad line is a record issue and the other lines still count.
// - `{` whose value spans lines → JSON document (what the original producer writes, possibly pretty-
//   printed), parsed whole, so it must fit in maxLineLength; several documents may follow one another.
//   If the document cannot be read but later lines parse as standalone objects, the file is re-read as
//   JSON Lines whose first line is bad (a truncated first line must not sink a whole JSONL file).
// - anything else → file issue `not-json`.
// Gzip is decided by the magic bytes 1f 8b. A `.gz` name or `Content-Encoding: gzip` only enriches error
// messages: GCS decompressive transcoding can serve such an object already inflated.
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import {
  describeByte,
  type FileIssueCode,
  type Issue,
  type IssuePath,
  issuePath,
  type RecordIssueCode,
} from './issues.ts';
import { duplicateKey } from './json-keys.ts';

export const FILE_FORMATS = ['json-document', 'json-array', 'json-lines'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_INFLATION_RATIO = 200;
/** Inflated bytes below which the ratio is not judged (a tiny file of repeated records may inflate more). */
export const INFLATION_CHECK_FLOOR = 1024 * 1024;
/** Compressed bytes handed to the inflater at a time, so its consumption (bytesWritten) is fine-grained. */
const INFLATE_SLICE = 16 * 1024;

export interface ParseOptions {
  /** Object name: a `.jsonl` / `.ndjson` suffix (before an optional `.gz`) forces JSON Lines. */
  readonly name?: string;
  /** The object's Content-Encoding (used in messages only; gzip is detected from the bytes). */
  readonly contentEncoding?: string;
  /** Declared object size in bytes, if known: larger than maxObjectSize → rejected before reading. */
  readonly size?: number;
  /** Most bytes read from the source (compressed size for gzip). */
  readonly maxObjectSize: number;
  /** Most bytes after gunzip; inflation stops there (gzip bombs). Also applies to plain files. */
  readonly maxDecompressedSize: number;
  /** Most inflated bytes per compressed byte (gzip bombs are ~1000:1), checked once INFLATION_CHECK_FLOOR
   *  bytes are inflated, so a bomb is refused after a few MiB of work instead of maxDecompressedSize.
   *  Default DEFAULT_MAX_INFLATION_RATIO. */
  readonly maxInflationRatio?: number;
  /** Compressed files up to this size are verified whole before any record is released (default
   *  GZIP_VERIFY_MAX_BYTES; tests lower it to exercise the streaming path). */
  readonly gzipVerifyMaxBytes?: number;
  /** Longest JSON Lines line, array element or JSON document, in bytes. */
  readonly maxLineLength: number;
  /** Deepest nesting of objects/arrays accepted (the top-level object counts 1). Default 64. */
  readonly maxDepth?: number;
  /** Resume: records (and record issues) with an ordinal below this are counted but not parsed or yielded. */
  readonly startAt?: number;
}

export interface ParseSummary {
  /** Undefined when the file failed before its format was known. */
  readonly format: FileFormat | undefined;
  readonly gzip: boolean;
  /** Bytes read from the source. */
  readonly bytesRead: number;
  /** Bytes after gunzip (equal to bytesRead for plain files). */
  readonly bytesDecoded: number;
  readonly records: number;
  readonly recordIssues: number;
  /** Ordinals below startAt that were passed over. */
  readonly skipped: number;
}

/** Where a record is: `line` (1-based, where it starts) always; `index` for array elements. */
export type RecordPath = Pick<IssuePath, 'line' | 'index'>;

export type ParseItem =
  /** A parsed JSON value (not yet validated). `ordinal` is its 0-based position among the file's
   *  records and record issues, stable across reads: resume with `startAt: ordinal + 1`. */
  | { readonly kind: 'record'; readonly ordinal: number; readonly path: RecordPath; readonly value: unknown }
  | { readonly kind: 'record-issue'; readonly ordinal: number; readonly issue: Issue }
  /** Terminal: the rest of the file cannot be read. Items before it were yielded and stay valid. */
  | { readonly kind: 'file-issue'; readonly issue: Issue; readonly summary: ParseSummary }
  /** Terminal: the whole file was read. */
  | { readonly kind: 'end'; readonly summary: ParseSummary };

/** Thrown inside this module only; the generator turns it into a `file-issue` item. */
class FileProblem extends Error {
  readonly issue: Issue;
  constructor(code: FileIssueCode, message: string, path: IssuePath = {}) {
    super(message);
    this.issue = { code, path, message };
  }
}

interface Context {
  readonly opts: ParseOptions;
  readonly maxDepth: number;
  readonly startAt: number;
  readonly gzipHinted: boolean;
  format: FileFormat | undefined;
  gzip: boolean;
  bytesRead: number;
  bytesDecoded: number;
  /** Current physical line (1-based) at the cursor. */
  line: number;
  nextOrdinal: number;
  records: number;
  recordIssues: number;
  skipped: number;
}

const EMPTY = Buffer.alloc(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
/** Bytes a JSON value can start with: { [ " - 0-9 t f n. */
const JSON_VALUE_START = new Set([...'{["-0123456789tfn'].map((c) => c.charCodeAt(0)));
const CLOSE_BRACKET = 0x5d;

const isWhitespace = (b: number) => b === SPACE || b === LF || b === CR || b === TAB;

/**
 * Parses an event file from a byte stream. Never throws for bad content — every problem is an item —
 * but an error of the source itself (e.g. a network failure while reading GCS) is rethrown unchanged,
 * because it is transient and the platform should retry. Stopping the iteration early releases the source.
 */
export async function* parseEventFile(
  source: AsyncIterable<Uint8Array | string>,
  options: ParseOptions,
): AsyncGenerator<ParseItem, void, undefined> {
  const ctx: Context = {
    opts: options,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    startAt: Math.max(0, options.startAt ?? 0),
    gzipHinted: /\.gz$/i.test(options.name ?? '') || /gzip/i.test(options.contentEncoding ?? ''),
    format: undefined,
    gzip: false,
    bytesRead: 0,
    bytesDecoded: 0,
    line: 1,
    nextOrdinal: 0,
    records: 0,
    recordIssues: 0,
    skipped: 0,
  };
  try {
    if (options.size !== undefined && options.size > options.maxObjectSize) {
      throw new FileProblem(
        'object-too-large',
        `object size must be at most maxObjectSize (${options.maxObjectSize} bytes), but was: ${options.size} bytes`,
      );
    }
    const raw = countSourceBytes(source, ctx);
    const head = await readHead(raw, 2);
    ctx.gzip = head.bytes.length >= 2 && head.bytes[0] === 0x1f && head.bytes[1] === 0x8b;
    const decoded = ctx.gzip ? gunzip(await verifyGzip(head.stream, ctx), ctx) : limitPlain(head.stream, ctx);
    try {
      yield* parseText(new Cursor(decoded), ctx);
    } finally {
      // Stopped early (the caller broke out, or a file issue): release the inflater and the source.
      await decoded.return(undefined);
    }
    yield { kind: 'end', summary: summarize(ctx) };
  } catch (err) {
    if (!(err instanceof FileProblem)) throw err;
    yield { kind: 'file-issue', issue: err.issue, summary: summarize(ctx) };
  }
}

function summarize(ctx: Context): ParseSummary {
  return {
    format: ctx.format,
    gzip: ctx.gzip,
    bytesRead: ctx.bytesRead,
    bytesDecoded: ctx.bytesDecoded,
    records: ctx.records,
    recordIssues: ctx.recordIssues,
    skipped: ctx.skipped,
  };
}

// ---------------------------------------------------------------------------------------------------
// Bytes: counting, gzip sniffing, bounded inflation

async function* countSourceBytes(
  source: AsyncIterable<Uint8Array | string>,
  ctx: Context,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    ctx.bytesRead += buf.length;
    if (ctx.bytesRead > ctx.opts.maxObjectSize) {
      throw new FileProblem(
        'object-too-large',
        `object size must be at most maxObjectSize (${ctx.opts.maxObjectSize} bytes), but more than that was read (${ctx.bytesRead} bytes so far)`,
      );
    }
    if (buf.length > 0) yield buf;
  }
}

/** Reads at least `n` bytes (or all, if fewer) and returns them with a stream that starts over from byte 0. */
async function readHead(
  source: AsyncGenerator<Buffer>,
  n: number,
): Promise<{ bytes: Buffer; stream: AsyncGenerator<Buffer> }> {
  const taken: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const r = await source.next();
    if (r.done) break;
    taken.push(r.value);
    length += r.value.length;
  }
  const bytes = Buffer.concat(taken);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (bytes.length > 0) yield bytes;
      yield* { [Symbol.asyncIterator]: () => source };
    } finally {
      await source.return(undefined);
    }
  }
  return { bytes, stream: replay() };
}

/** The bomb check: `inflated` bytes out of `consumed` compressed bytes (what the inflater has taken in). */
function inflationProblem(ctx: Context, inflated: number, consumed: number): FileProblem | undefined {
  const ratio = ctx.opts.maxInflationRatio ?? DEFAULT_MAX_INFLATION_RATIO;
  if (inflated <= INFLATION_CHECK_FLOOR || inflated <= ratio * consumed) return undefined;
  return new FileProblem(
    'inflation-ratio',
    `gzip data must inflate to at most ${ratio} times its compressed size (maxInflationRatio), but ` +
      `${consumed} compressed bytes inflated to ${inflated} bytes (${Math.floor(inflated / Math.max(1, consumed))}:1, a gzip bomb?); inflation stopped`,
  );
}

/** Feeds `buf` to the inflater in small slices, waiting for drain; false when the inflater stopped. */
async function feed(
  inflater: ReturnType<typeof createGunzip>,
  buf: Buffer,
  until: Promise<unknown>,
  signal?: AbortSignal,
): Promise<boolean> {
  for (let i = 0; i < buf.length; i += INFLATE_SLICE) {
    if (inflater.destroyed || signal?.aborted === true) return false;
    if (!inflater.write(buf.subarray(i, i + INFLATE_SLICE))) {
      await Promise.race([once(inflater, 'drain', signal === undefined ? {} : { signal }), until]);
    }
  }
  return !inflater.destroyed;
}

/** A zlib failure as the file issue it stands for. */
function gzipProblem(err: unknown, compressed: number, inflated: number): FileProblem {
  const e = err as { code?: unknown; message?: unknown };
  const detail = `${String(e.code ?? 'error')}: ${String(e.message ?? err)}`;
  if (e.code === 'Z_BUF_ERROR') {
    return new FileProblem(
      'gzip-truncated',
      `gzip data must end with a complete stream, but it ended early after ${compressed} compressed bytes ` +
        `(${inflated} bytes inflated; zlib ${detail})`,
    );
  }
  return new FileProblem(
    'gzip-invalid',
    `gzip data must be a valid gzip stream, but zlib failed after ${compressed} compressed bytes ` +
      `(${inflated} bytes inflated): ${detail}`,
  );
}

/** Compressed files up to this size are checked whole (CRC-32 and length trailers) before any record
 *  is released, so a damaged file (cut or corrupted) yields no record at all; larger ones stream
 *  unchecked (the CRC fails at the end, after the records before it were yielded). */
export const GZIP_VERIFY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Buffers a gzip file (up to GZIP_VERIFY_MAX_BYTES compressed) and inflates it once into nothing to
 * check its trailers; returns a stream of the same compressed bytes for the real pass. Inflation for
 * the check also stops at maxDecompressedSize (a bomb is then reported by the real pass).
 */
async function verifyGzip(source: AsyncGenerator<Buffer>, ctx: Context): Promise<AsyncGenerator<Buffer>> {
  const held: Buffer[] = [];
  let size = 0;
  let ended = false;
  const verifyMax = ctx.opts.gzipVerifyMaxBytes ?? GZIP_VERIFY_MAX_BYTES;
  while (size <= verifyMax) {
    const r = await source.next();
    if (r.done) {
      ended = true;
      break;
    }
    held.push(r.value);
    size += r.value.length;
  }
  if (ended) {
    const inflater = createGunzip({ chunkSize: 64 * 1024 });
    let inflated = 0;
    let tooLarge = false;
    let bomb: FileProblem | undefined;
    const checked = new Promise<void>((resolve, reject) => {
      inflater.on('data', (out: Buffer) => {
        inflated += out.length;
        bomb ??= inflationProblem(ctx, inflated, inflater.bytesWritten);
        if (bomb !== undefined || inflated > ctx.opts.maxDecompressedSize) {
          tooLarge = true;
          inflater.destroy();
          resolve();
        }
      });
      inflater.on('end', () => resolve());
      inflater.on('error', (err) => (tooLarge ? resolve() : reject(err)));
    });
    try {
      for (const b of held) {
        if (tooLarge || !(await feed(inflater, b, checked))) break;
      }
      if (!tooLarge && !inflater.destroyed) inflater.end();
      await checked;
    } catch (err) {
      if (tooLarge) return replayHeld();
      // A damaged file yields no record: a flipped bit can surface as bad data, a wrong CRC or an
      // early end (zlib cannot tell a cut from a corruption), and records before it may be altered.
      throw gzipProblem(err, size, inflated);
    }
    // A bomb is refused here, before the real pass inflates it again.
    if (bomb !== undefined) throw bomb;
  }
  return replayHeld();

  async function* replayHeld(): AsyncGenerator<Buffer> {
    try {
      yield* held.splice(0);
      if (!ended) yield* { [Symbol.asyncIterator]: () => source };
    } finally {
      await source.return(undefined);
    }
  }
}

async function* limitPlain(source: AsyncGenerator<Buffer>, ctx: Context): AsyncGenerator<Buffer> {
  for await (const buf of source) {
    ctx.bytesDecoded += buf.length;
    if (ctx.bytesDecoded > ctx.opts.maxDecompressedSize) {
      throw new FileProblem(
        'decompressed-too-large',
        `file size must be at most maxDecompressedSize (${ctx.opts.maxDecompressedSize} bytes), but more was read (${ctx.bytesDecoded} bytes so far)`,
      );
    }
    yield buf;
  }
}

/**
 * Inflates with node:zlib's streaming Gunzip: the pump writes compressed chunks with backpressure, the
 * consumer pulls inflated chunks one at a time and stops (destroying the inflater) as soon as the total
 * passes maxDecompressedSize — so a bomb costs one chunk of memory, not its inflated size.
 */
async function* gunzip(source: AsyncGenerator<Buffer>, ctx: Context): AsyncGenerator<Buffer> {
  const inflater = createGunzip({ chunkSize: 64 * 1024 });
  const abort = new AbortController();
  let sourceFailure: { error: unknown } | undefined;
  const pump = (async () => {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await source.next();
      } catch (error) {
        sourceFailure = { error };
        inflater.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (abort.signal.aborted || inflater.destroyed) break;
      if (r.done) {
        inflater.end();
        return;
      }
      try {
        if (!(await feed(inflater, r.value, new Promise(() => {}), abort.signal))) break;
      } catch {
        break; // aborted, or the inflater failed: the consumer reports it
      }
    }
    await source.return(undefined);
  })();
  try {
    for await (const out of inflater as AsyncIterable<Buffer>) {
      ctx.bytesDecoded += out.length;
      const bomb = inflationProblem(ctx, ctx.bytesDecoded, inflater.bytesWritten);
      if (bomb !== undefined) throw bomb;
      if (ctx.bytesDecoded > ctx.opts.maxDecompressedSize) {
        throw new FileProblem(
          'decompressed-too-large',
          `gzip data must inflate to at most maxDecompressedSize (${ctx.opts.maxDecompressedSize} bytes), ` +
            `but inflated past it after ${ctx.bytesRead} compressed bytes (ratio over ` +
            `${Math.floor(ctx.bytesDecoded / Math.max(1, ctx.bytesRead))}:1); inflation stopped`,
        );
      }
      yield out;
    }
  } catch (err) {
    if (sourceFailure !== undefined) throw sourceFailure.error;
    if (err instanceof FileProblem) throw err;
    throw gzipProblem(err, ctx.bytesRead, ctx.bytesDecoded);
  } finally {
    abort.abort();
    inflater.destroy();
    await pump.catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------
// Text: a cursor over chunks, a bracket/string scanner, and the three formats

class Cursor {
  buf: Buffer = EMPTY;
  pos = 0;
  private readonly source: AsyncGenerator<Buffer>;
  /** Pushed-back buffers, read last-in first. */
  private readonly pushed: Buffer[] = [];

  constructor(source: AsyncGenerator<Buffer>) {
    this.source = source;
  }

  /** Makes `buf[pos]` readable; false at the end of the input. */
  async fill(): Promise<boolean> {
    while (this.pos >= this.buf.length) {
      const back = this.pushed.pop();
      if (back !== undefined) {
        this.buf = back;
      } else {
        const r = await this.source.next();
        if (r.done) return false;
        this.buf = r.value;
      }
      this.pos = 0;
    }
    return true;
  }

  /** Makes at least n bytes readable at `pos` (fewer only at the end of input). */
  async ensure(n: number): Promise<void> {
    if (!(await this.fill())) return;
    while (this.buf.length - this.pos < n) {
      const rest = this.buf.subarray(this.pos);
      this.buf = EMPTY;
      this.pos = 0;
      if (!(await this.fill())) {
        this.buf = rest;
        return;
      }
      this.buf = Buffer.concat([rest, this.buf.subarray(this.pos)]);
      this.pos = 0;
    }
  }

  /** Puts bytes back in front of the unread input (used to re-read a file's head in another mode). */
  unshift(bytes: Buffer): void {
    if (this.pos < this.buf.length) this.pushed.push(this.buf.subarray(this.pos));
    if (bytes.length > 0) this.pushed.push(bytes);
    this.buf = EMPTY;
    this.pos = 0;
  }
}

/** Bracket depth and string state across chunk boundaries. Bytes ≥ 0x80 only occur inside strings in
 *  valid JSON, and UTF-8 continuation bytes never equal an ASCII delimiter, so scanning bytes is safe. */
interface ScanState {
  depth: number;
  maxDepth: number;
  inString: boolean;
  escape: boolean;
  newlines: number;
}

const newScan = (): ScanState => ({ depth: 0, maxDepth: 0, inString: false, escape: false, newlines: 0 });

const STOP_AT_CLOSE = 0;
const STOP_AT_ELEMENT_END = 1;

/**
 * Scans buf[from..). STOP_AT_CLOSE: returns the index just after the bracket that brings depth back to 0.
 * STOP_AT_ELEMENT_END: returns the index of a `,` or `]` at depth 0 outside strings (not consumed).
 * With stopAtNewline, also returns the index of a line feed. Returns -1 if the chunk ends first.
 */
function scan(s: ScanState, buf: Buffer, from: number, mode: number, stopAtNewline: boolean): number {
  const n = buf.length;
  for (let i = from; i < n; i++) {
    const b = buf[i]!;
    if (s.inString) {
      if (s.escape) s.escape = false;
      else if (b === BACKSLASH) s.escape = true;
      else if (b === QUOTE) s.inString = false;
      else if (b === LF) {
        s.newlines++;
        if (stopAtNewline) return i;
      }
      continue;
    }
    switch (b) {
      case QUOTE:
        s.inString = true;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        s.depth++;
        if (s.depth > s.maxDepth) s.maxDepth = s.depth;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        if (s.depth === 0) {
          if (mode === STOP_AT_ELEMENT_END && b === CLOSE_BRACKET) return i;
          break; // unbalanced: left for JSON.parse to report
        }
        s.depth--;
        if (s.depth === 0 && mode === STOP_AT_CLOSE) return i + 1;
        break;
      case COMMA:
        if (s.depth === 0 && mode === STOP_AT_ELEMENT_END) return i;
        break;
      case LF:
        s.newlines++;
        if (stopAtNewline) return i;
        break;
    }
  }
  return -1;
}

/** Skips whitespace (counting lines); returns the next byte without consuming it, or -1 at the end. */
async function skipWhitespace(cur: Cursor, ctx: Context): Promise<number> {
  for (;;) {
    if (!(await cur.fill())) return -1;
    const { buf } = cur;
    let p = cur.pos;
    while (p < buf.length) {
      const b = buf[p]!;
      if (!isWhitespace(b)) {
        cur.pos = p;
        return b;
      }
      if (b === LF) ctx.line++;
      p++;
    }
    cur.pos = p;
  }
}

async function* parseText(cur: Cursor, ctx: Context): AsyncGenerator<ParseItem> {
  await cur.ensure(3);
  if (
    cur.buf.length - cur.pos >= 3 &&
    cur.buf[cur.pos] === 0xef &&
    cur.buf[cur.pos + 1] === 0xbb &&
    cur.buf[cur.pos + 2] === 0xbf
  ) {
    cur.pos += 3; // UTF-8 BOM: allowed, ignored
  }
  const first = await skipWhitespace(cur, ctx);
  if (first === -1) {
    const what = ctx.gzip
      ? `the gzip data inflates to ${ctx.bytesDecoded} bytes`
      : `the object has ${ctx.bytesRead} bytes`;
    throw new FileProblem(
      'empty-file',
      `a file must hold at least one JSON object, but it is empty (${what}${ctx.bytesDecoded > 0 ? ', all whitespace or BOM' : ''})`,
    );
  }
  // A .jsonl/.ndjson name forces JSON Lines when the file starts like JSON at all, whatever value the
  // first line holds (a bad first line is one record issue; the lines after it still count).
  if (/\.(jsonl|ndjson)(\.gz)?$/i.test(ctx.opts.name ?? '') && JSON_VALUE_START.has(first)) {
    ctx.format = 'json-lines';
    yield* readJsonLines(cur, ctx);
    return;
  }
  if (first === OPEN_BRACKET) {
    ctx.format = 'json-array';
    yield* readArray(cur, ctx);
    return;
  }
  if (first !== OPEN_BRACE) throw notJson(cur, ctx, first);
  ctx.format = (await firstValueClosesOnItsLine(cur, ctx)) ? 'json-lines' : 'json-document';
  yield* ctx.format === 'json-lines' ? readJsonLines(cur, ctx) : readDocuments(cur, ctx);
}

function notJson(cur: Cursor, ctx: Context, first: number): FileProblem {
  const b0 = first;
  const b1 = cur.buf[cur.pos + 1];
  let hint = '';
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff))
    hint = ' (a UTF-16 byte order mark: the file must be UTF-8)';
  else if (!ctx.gzip && ctx.gzipHinted)
    hint =
      ' (the name or Content-Encoding says gzip, but the data does not start with the gzip magic bytes 1f 8b)';
  return new FileProblem(
    'not-json',
    `expected JSON objects (a file starting with '{' or '['), but line ${ctx.line} starts with byte ${describeByte(first)}${hint}`,
    issuePath(ctx.line),
  );
}

/** Looks at the first line from its `{` and puts it back: does the value close before the line ends?
 *  A line longer than maxLineLength counts as JSON Lines (that line is then a record issue). */
async function firstValueClosesOnItsLine(cur: Cursor, ctx: Context): Promise<boolean> {
  const s = newScan();
  const seen: Buffer[] = [];
  let length = 0;
  let closes = true;
  for (;;) {
    if (!(await cur.fill())) {
      closes = false; // the file ends inside the first value: a (truncated) document
      break;
    }
    const stop = scan(s, cur.buf, cur.pos, STOP_AT_CLOSE, true);
    const end = stop < 0 ? cur.buf.length : stop;
    seen.push(cur.buf.subarray(cur.pos, end));
    length += end - cur.pos;
    cur.pos = end;
    if (stop >= 0) {
      closes = s.depth === 0;
      break;
    }
    if (length > ctx.opts.maxLineLength) break;
  }
  cur.unshift(Buffer.concat(seen));
  return closes;
}

// ---- JSON Lines

async function* readJsonLines(cur: Cursor, ctx: Context): AsyncGenerator<ParseItem> {
  const max = ctx.opts.maxLineLength;
  let parts: Buffer[] = [];
  let length = 0;
  let blank = true;
  while (await cur.fill()) {
    const { buf } = cur;
    let p = cur.pos;
    while (p < buf.length) {
      const nl = buf.indexOf(LF, p);
      const end = nl < 0 ? buf.length : nl;
      if (blank) {
        for (let i = p; i < end; i++) {
          if (!isWhitespace(buf[i]!)) {
            blank = false;
            break;
          }
        }
      }
      if (length <= max) {
        if (length + (end - p) > max) parts = [];
        else parts.push(buf.subarray(p, end));
      }
      length += end - p;
      if (nl < 0) {
        p = buf.length;
        break;
      }
      p = nl + 1;
      cur.pos = p;
      const item = blank ? undefined : lineItem(parts, length, ctx);
      parts = [];
      length = 0;
      blank = true;
      ctx.line++;
      if (item !== undefined) yield item;
    }
    cur.pos = p;
  }
  if (!blank) {
    const item = lineItem(parts, length, ctx);
    if (item !== undefined) yield item;
  }
}

function lineItem(parts: Buffer[], length: number, ctx: Context): ParseItem | undefined {
  const ordinal = ctx.nextOrdinal++;
  if (ordinal < ctx.startAt) {
    ctx.skipped++;
    return undefined;
  }
  const at = issuePath(ctx.line);
  const where = `line ${ctx.line}`;
  if (length > ctx.opts.maxLineLength) {
    return recordIssue(
      ctx,
      ordinal,
      'record-too-large',
      at,
      `${where} must be at most maxLineLength (${ctx.opts.maxLineLength} bytes), but was ${length} bytes`,
    );
  }
  return decodeRecord(parts.length === 1 ? parts[0]! : Buffer.concat(parts), ordinal, at, where, ctx, 0);
}

// ---- JSON documents (one, or several one after another)

async function* readDocuments(cur: Cursor, ctx: Context): AsyncGenerator<ParseItem> {
  for (let index = 0; ; index++) {
    const next = await skipWhitespace(cur, ctx);
    if (next === -1) return;
    if (next !== OPEN_BRACE) {
      throw new FileProblem(
        'trailing-content',
        `expected the end of the file or another JSON object after the JSON document, but line ${ctx.line} has byte ${describeByte(next)}`,
        issuePath(ctx.line),
      );
    }
    const startLine = ctx.line;
    const s = newScan();
    const parts: Buffer[] = [];
    let length = 0;
    let failure: FileProblem | undefined;
    let closed = false;
    for (;;) {
      if (!(await cur.fill())) break;
      const stop = scan(s, cur.buf, cur.pos, STOP_AT_CLOSE, false);
      const end = stop < 0 ? cur.buf.length : stop;
      parts.push(cur.buf.subarray(cur.pos, end));
      length += end - cur.pos;
      cur.pos = end;
      if (length > ctx.opts.maxLineLength) {
        failure = new FileProblem(
          'document-too-large',
          `a JSON document is parsed whole, so it must be at most maxLineLength (${ctx.opts.maxLineLength} bytes), ` +
            `but the one starting at line ${startLine} is larger; big inputs must be JSON Lines or a JSON array, which are streamed`,
          issuePath(startLine),
        );
        break;
      }
      if (stop >= 0) {
        closed = true;
        break;
      }
    }
    const bytes = Buffer.concat(parts);
    if (failure === undefined && !closed) {
      failure = new FileProblem(
        'truncated-json',
        `expected a complete JSON document, but the file ends inside the one starting at line ${startLine} ` +
          `(${s.depth} unclosed bracket${s.depth === 1 ? '' : 's'}${s.inString ? ', inside a string' : ''}, after ${length} bytes)`,
        issuePath(startLine),
      );
    }
    let value: unknown;
    let repeated: string | undefined;
    if (failure === undefined) {
      const parsed = parseDocument(bytes, s, startLine, ctx.maxDepth);
      if (parsed instanceof FileProblem) failure = parsed;
      else {
        value = parsed.value;
        repeated = duplicateKey(parsed.text, value);
      }
    }
    if (failure !== undefined) {
      if (index === 0 && looksLikeJsonLines(bytes)) {
        // Re-read from this document's first byte as JSON Lines: its first line is then the bad record.
        cur.unshift(bytes);
        ctx.line = startLine;
        ctx.format = 'json-lines';
        yield* readJsonLines(cur, ctx);
        return;
      }
      throw failure;
    }
    ctx.line += s.newlines;
    const ordinal = ctx.nextOrdinal++;
    if (ordinal < ctx.startAt) {
      ctx.skipped++;
      continue;
    }
    if (repeated !== undefined) {
      yield duplicateKeyIssue(
        ctx,
        ordinal,
        issuePath(startLine),
        `the JSON document starting at line ${startLine}`,
        repeated,
      );
      continue;
    }
    ctx.records++;
    yield { kind: 'record', ordinal, path: issuePath(startLine), value };
  }
}

function parseDocument(
  bytes: Buffer,
  s: ScanState,
  line: number,
  maxDepth: number,
): { value: unknown; text: string } | FileProblem {
  const at = issuePath(line);
  // Checked on the scanner's count before JSON.parse, so a hostile document is never materialised.
  if (s.maxDepth > maxDepth) {
    return new FileProblem(
      'too-deep',
      `JSON nesting must be at most ${maxDepth} levels deep, but the document starting at line ${line} is ${s.maxDepth} deep`,
      at,
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return new FileProblem(
      'invalid-utf8',
      `the JSON document starting at line ${line} must be UTF-8 text, but holds invalid UTF-8 bytes`,
      at,
    );
  }
  try {
    return { value: JSON.parse(text), text };
  } catch (err) {
    return new FileProblem(
      'invalid-json',
      `the JSON document starting at line ${line} is not valid JSON: ${jsonError(err, line)}`,
      at,
    );
  }
}

/** Does a buffer that failed as one document read like JSON Lines (some later line is an object alone)? */
function looksLikeJsonLines(bytes: Buffer): boolean {
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(t);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return true;
    } catch {
      // not a standalone object
    }
  }
  return false;
}

// ---- JSON array, streamed element by element

async function* readArray(cur: Cursor, ctx: Context): AsyncGenerator<ParseItem> {
  cur.pos++; // the '['
  let index = 0;
  let afterComma = false;
  for (;;) {
    const next = await skipWhitespace(cur, ctx);
    if (next === -1) {
      throw new FileProblem(
        'truncated-json',
        `expected ']' to close the JSON array, but the file ends after ${index} element${index === 1 ? '' : 's'}`,
        issuePath(ctx.line, index),
      );
    }
    if (next === CLOSE_BRACKET || next === COMMA) {
      cur.pos++;
      if (next === COMMA || afterComma) {
        const item = arrayIssue(
          ctx,
          index,
          'invalid-json',
          `array element ${index} (line ${ctx.line}) must be a JSON value, but ${next === COMMA ? "found ','" : "found ']' after ','"}`,
        );
        index++;
        if (item !== undefined) yield item;
      }
      if (next === CLOSE_BRACKET) break;
      afterComma = true;
      continue;
    }
    const startLine = ctx.line;
    const s = newScan();
    const parts: Buffer[] = [];
    let length = 0;
    let stop = -1;
    while (stop < 0) {
      if (!(await cur.fill())) {
        throw new FileProblem(
          'truncated-json',
          `expected ']' to close the JSON array, but the file ends inside element ${index} (starting at line ${startLine})`,
          issuePath(startLine, index),
        );
      }
      stop = scan(s, cur.buf, cur.pos, STOP_AT_ELEMENT_END, false);
      const end = stop < 0 ? cur.buf.length : stop;
      if (length <= ctx.opts.maxLineLength) {
        if (length + (end - cur.pos) > ctx.opts.maxLineLength) parts.length = 0;
        else parts.push(cur.buf.subarray(cur.pos, end));
      }
      length += end - cur.pos;
      cur.pos = end;
    }
    const closer = cur.buf[cur.pos]!;
    cur.pos++; // ',' or ']'
    const ordinal = index;
    ctx.nextOrdinal = index + 1;
    const item = elementItem(parts, length, s, ordinal, startLine, ctx);
    ctx.line += s.newlines;
    index++;
    if (item !== undefined) yield item;
    if (closer === CLOSE_BRACKET) break;
    afterComma = true;
  }
  const rest = await skipWhitespace(cur, ctx);
  if (rest !== -1) {
    throw new FileProblem(
      'trailing-content',
      `expected the end of the file after the JSON array, but line ${ctx.line} has byte ${describeByte(rest)}`,
      issuePath(ctx.line),
    );
  }
}

function arrayIssue(
  ctx: Context,
  index: number,
  code: RecordIssueCode,
  message: string,
): ParseItem | undefined {
  ctx.nextOrdinal = index + 1;
  if (index < ctx.startAt) {
    ctx.skipped++;
    return undefined;
  }
  return recordIssue(ctx, index, code, issuePath(ctx.line, index), message);
}

function elementItem(
  parts: Buffer[],
  length: number,
  s: ScanState,
  ordinal: number,
  line: number,
  ctx: Context,
): ParseItem | undefined {
  if (ordinal < ctx.startAt) {
    ctx.skipped++;
    return undefined;
  }
  const at = issuePath(line, ordinal);
  const where = `array element ${ordinal} (line ${line})`;
  if (length > ctx.opts.maxLineLength) {
    return recordIssue(
      ctx,
      ordinal,
      'record-too-large',
      at,
      `${where} must be at most maxLineLength (${ctx.opts.maxLineLength} bytes), but was ${length} bytes`,
    );
  }
  // The array itself is one level: an element of depth d sits at depth d + 1.
  if (s.maxDepth + 1 > ctx.maxDepth) {
    return recordIssue(
      ctx,
      ordinal,
      'too-deep',
      at,
      `${where} must be nested at most ${ctx.maxDepth} levels deep (the array counts 1), but was ${s.maxDepth + 1}`,
    );
  }
  return decodeRecord(parts.length === 1 ? parts[0]! : Buffer.concat(parts), ordinal, at, where, ctx, 1);
}

// ---- shared record decoding

/** JSON.parse's message with its "(line L column C)" made absolute in the file (it counts from the slice). */
function jsonError(err: unknown, startLine: number | undefined): string {
  const message = err instanceof Error ? err.message : String(err);
  if (startLine === undefined) return message;
  return message.replace(
    /\(line (\d+) column (\d+)\)/,
    (_, l: string, c: string) => `(line ${startLine + Number(l) - 1} column ${c})`,
  );
}

function recordIssue(
  ctx: Context,
  ordinal: number,
  code: RecordIssueCode,
  path: IssuePath,
  message: string,
): ParseItem {
  ctx.recordIssues++;
  return { kind: 'record-issue', ordinal, issue: { code, path, message } };
}

/** UTF-8 decode, JSON.parse and the depth limit (`outer` levels already enclose the value). */
function decodeRecord(
  bytes: Buffer,
  ordinal: number,
  at: IssuePath,
  where: string,
  ctx: Context,
  outer: number,
): ParseItem {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return recordIssue(
      ctx,
      ordinal,
      'invalid-utf8',
      at,
      `${where} must be UTF-8 text, but holds invalid UTF-8 bytes`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return recordIssue(
      ctx,
      ordinal,
      'invalid-json',
      at,
      `${where} must be valid JSON, but: ${jsonError(err, at.line)}`,
    );
  }
  const depth = depthBeyond(value, ctx.maxDepth - outer);
  if (depth !== undefined) {
    return recordIssue(
      ctx,
      ordinal,
      'too-deep',
      at,
      `${where} must be nested at most ${ctx.maxDepth} levels deep, but was deeper than ${ctx.maxDepth} (at least ${depth + outer})`,
    );
  }
  const repeated = duplicateKey(text, value);
  if (repeated !== undefined) return duplicateKeyIssue(ctx, ordinal, at, where, repeated);
  ctx.records++;
  return { kind: 'record', ordinal, path: at, value };
}

/** JSON.parse keeps the last of repeated keys; which value the producer meant is unknown, so refuse. */
function duplicateKeyIssue(
  ctx: Context,
  ordinal: number,
  at: IssuePath,
  where: string,
  key: string,
): ParseItem {
  return recordIssue(
    ctx,
    ordinal,
    'duplicate-key',
    { ...at, field: key },
    `${where} must not repeat a key within one object, but has ${JSON.stringify(key)} more than once (which value was meant is unknown)`,
  );
}

/** Iterative (no recursion, so no stack overflow on hostile input): the first depth found beyond `max`. */
function depthBeyond(value: unknown, max: number): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) return d;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
    }
  }
  return undefined;
}
