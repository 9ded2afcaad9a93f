// Small HTTP helpers for the local GCS server: JSON answers and GCS-shaped errors, body reading,
// multipart/related parsing, and the Range / Content-Range grammars the client uses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GcsHttpError } from './object-store.ts';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The JSON API error shape: {error: {code, message, errors: [{reason, message, domain}]}}. */
export function sendError(res: ServerResponse, err: GcsHttpError): void {
  sendJson(res, err.status, {
    error: {
      code: err.status,
      message: err.message,
      errors: [{ message: err.message, domain: 'global', reason: err.reason }],
    },
  });
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new GcsHttpError(
    400,
    'parseError',
    `Expected a JSON object body, but was: ${JSON.stringify(body.subarray(0, 200).toString('utf8'))}`,
  );
}

export interface MultipartPart {
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a multipart/related body (RFC 2046 framing: `--boundary` CRLF headers CRLF CRLF body CRLF ...). */
export function parseMultipart(contentType: string | undefined, body: Buffer): MultipartPart[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Expected a multipart/related content type with a boundary, but was: ${JSON.stringify(contentType)}`,
    );
  }
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new GcsHttpError(400, 'invalid', 'Multipart body has no boundary delimiter');
  pos += delimiter.length;
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--"
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new GcsHttpError(400, 'invalid', 'Multipart part has no end of headers');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const end = body.indexOf(nextDelimiter, headerEnd + 4);
    if (end < 0) throw new GcsHttpError(400, 'invalid', 'Multipart part is not terminated by the boundary');
    parts.push({ headers, body: body.subarray(headerEnd + 4, end) });
    pos = end + nextDelimiter.length;
  }
}

/** A `Range: bytes=a-b | a- | -n` header resolved against a size: inclusive [start, end], or undefined for the whole. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined; // unsupported forms: serve the whole object
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
    if (suffix === 0) throw rangeNotSatisfiable(header, size);
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw rangeNotSatisfiable(header, size);
  return { start, end };
}

function rangeNotSatisfiable(header: string, size: number): GcsHttpError {
  return new GcsHttpError(
    416,
    'requestedRangeNotSatisfiable',
    `The requested range ${header} cannot be satisfied for an object of ${size} bytes.`,
  );
}

/**
 * A resumable upload's `Content-Range`: `bytes A-B/T`, `bytes A-*\/T` (rest of the stream), `bytes *\/T`
 * (status query, or finalise at T), where T may be `*` (unknown).
 */
export interface ContentRange {
  /** undefined for the `*\/T` form (no bytes in this request) */
  start: number | undefined;
  /** undefined when open-ended (`A-*`) or absent */
  end: number | undefined;
  total: number | undefined;
}

export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined || header === '') return { start: 0, end: undefined, total: undefined };
  const m = /^bytes (?:(\*)|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(header.trim());
  if (m === null) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Expected Content-Range "bytes A-B/T", "bytes A-*/T" or "bytes */T", but was: ${JSON.stringify(header)}`,
    );
  }
  const total = m[4] === '*' ? undefined : Number(m[4]);
  if (m[1] === '*') return { start: undefined, end: undefined, total };
  return { start: Number(m[2]), end: m[3] === '*' ? undefined : Number(m[3]), total };
}

/** Parses an optional int64 query parameter (GCS generations fit a double exactly: microseconds). */
export function intParam(params: URLSearchParams, key: string): number | undefined {
  const raw = params.get(key);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw))
    throw new GcsHttpError(
      400,
      'invalid',
      `Invalid ${key}: expected an integer, but was: ${JSON.stringify(raw)}`,
    );
  return Number(raw);
}
