// `streamjoin status`: rows per reason and errors per function in the window, from the structured logs
// the functions write (shared/log.ts: one JSON object per line with `severity`, `message`, `time`).
// Locally the stack's log files (their tail); on Google Cloud the same lines through the Cloud Logging
// API (entries.list, bounded). Parsing and summing are pure; the readers are thin.
import { open, stat } from 'node:fs/promises';
import type { FunctionErrors } from './status-model.ts';

export interface LogEntry {
  /** The function that wrote it (ingest, tick, compact). */
  readonly fn: string;
  readonly atMs: number;
  readonly severity: string;
  readonly message: string;
  /** The join counters an `ingested` / `evicted expired states` line carries. */
  readonly counters?: Readonly<Record<string, unknown>>;
  /** The error's own message (pino's `err`), when the line has one. */
  readonly error?: string;
}

export interface LogActivity {
  readonly rowsByReason: Record<string, number>;
  readonly errors: Record<string, FunctionErrors>;
}

/** JoinCounters fields that count emitted rows → the row's reason (`joined` for the joined table). */
export const ROW_COUNTERS: Readonly<Record<string, string>> = {
  joined: 'joined',
  orderTimeout: 'order_timeout',
  paymentOrphan: 'payment_orphan',
  paymentExtra: 'payment_extra',
  paymentLate: 'payment_late',
  orderLate: 'order_late',
};
/** Log lines whose counters are rows emitted (ingest per file, the tick's eviction). */
const COUNTER_MESSAGES = new Set(['ingested', 'evicted expired states']);
const ERROR_SEVERITIES = new Set(['ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY']);
/** Error times kept per function (enough to tell "failing repeatedly" from one failure). */
const KEEP_ERROR_TIMES = 500;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One line of a local function log → an entry (undefined: not a structured line). */
export function parseLogLine(line: string, fn: string): LogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(o)) return undefined;
  const atMs = typeof o['time'] === 'string' ? Date.parse(o['time']) : Number.NaN;
  if (!Number.isFinite(atMs)) return undefined;
  return fromPayload(fn, atMs, typeof o['severity'] === 'string' ? o['severity'] : 'DEFAULT', o);
}

function fromPayload(fn: string, atMs: number, severity: string, p: Record<string, unknown>): LogEntry {
  const err = p['err'];
  const error = isRecord(err) && typeof err['message'] === 'string' ? err['message'] : undefined;
  return {
    fn,
    atMs,
    severity,
    message: typeof p['message'] === 'string' ? p['message'] : '',
    ...(isRecord(p['counters']) ? { counters: p['counters'] } : {}),
    ...(error === undefined ? {} : { error }),
  };
}

/** A Cloud Logging entry (entries.list) of a deployed function → an entry (undefined: not ours). */
export function parseCloudEntry(e: unknown): LogEntry | undefined {
  if (!isRecord(e)) return undefined;
  const resource = isRecord(e['resource']) ? e['resource'] : {};
  const labels = isRecord(resource['labels']) ? resource['labels'] : {};
  const fn = labels['service_name'] ?? labels['function_name'];
  const atMs = typeof e['timestamp'] === 'string' ? Date.parse(e['timestamp']) : Number.NaN;
  if (typeof fn !== 'string' || !Number.isFinite(atMs)) return undefined;
  const severity = typeof e['severity'] === 'string' ? e['severity'] : 'DEFAULT';
  if (isRecord(e['jsonPayload'])) return fromPayload(fn, atMs, severity, e['jsonPayload']);
  return { fn, atMs, severity, message: typeof e['textPayload'] === 'string' ? e['textPayload'] : '' };
}

/** Sums rows per reason and errors per function over the entries at or after `sinceMs`. */
export function summarizeLogs(
  entries: Iterable<LogEntry>,
  sinceMs: number,
  functions: readonly string[],
): LogActivity {
  const rowsByReason: Record<string, number> = {};
  const times: Record<string, number[]> = {};
  const last: Record<string, { atMs: number; message: string }> = {};
  for (const fn of functions) times[fn] = [];
  for (const e of entries) {
    if (e.atMs < sinceMs) continue;
    if (e.counters !== undefined && COUNTER_MESSAGES.has(e.message)) {
      for (const [k, reason] of Object.entries(ROW_COUNTERS)) {
        const n = e.counters[k];
        if (typeof n === 'number' && n > 0) rowsByReason[reason] = (rowsByReason[reason] ?? 0) + n;
      }
    }
    if (ERROR_SEVERITIES.has(e.severity)) {
      const list = times[e.fn] ?? [];
      list.push(e.atMs);
      times[e.fn] = list;
      if ((last[e.fn]?.atMs ?? -1) <= e.atMs) {
        const text = e.error === undefined ? e.message : `${e.message}: ${e.error}`;
        last[e.fn] = { atMs: e.atMs, message: text.length > 200 ? `${text.slice(0, 199)}…` : text };
      }
    }
  }
  const errors: Record<string, FunctionErrors> = {};
  for (const [fn, ts] of Object.entries(times)) {
    ts.sort((a, b) => b - a);
    errors[fn] = {
      count: ts.length,
      recentAtMs: ts.slice(0, KEEP_ERROR_TIMES),
      lastMessage: last[fn]?.message ?? null,
    };
  }
  return { rowsByReason, errors };
}

/** At most this much of the end of each local log file is read. */
export const LOG_TAIL_BYTES = 16 * 2 ** 20;

/** The entries in the tail of one local log file. */
export async function readLogTail(file: string, fn: string, maxBytes = LOG_TAIL_BYTES): Promise<LogEntry[]> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return [];
  }
  const start = Math.max(0, size - maxBytes);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    return lines.flatMap((l) => parseLogLine(l, fn) ?? []);
  } finally {
    await fh.close();
  }
}

/** Cloud Logging's filter for the functions' entries that status sums (errors and row counters). */
export function cloudLogFilter(functions: readonly string[], sinceMs: number): string {
  return [
    'resource.type="cloud_run_revision"',
    `resource.labels.service_name=(${functions.map((f) => JSON.stringify(f)).join(' OR ')})`,
    `timestamp>="${new Date(sinceMs).toISOString()}"`,
    `(severity>=ERROR OR jsonPayload.message=(${[...COUNTER_MESSAGES].map((m) => JSON.stringify(m)).join(' OR ')}))`,
  ].join(' AND ');
}

/** Pages of entries.list read at most (1000 entries each). */
export const CLOUD_LOG_PAGES = 5;

type Requester = (opts: {
  url: string;
  method: 'POST';
  data: Record<string, unknown>;
}) => Promise<{ data: unknown }>;

/**
 * The functions' entries from Cloud Logging (entries.list, newest first, at most CLOUD_LOG_PAGES pages).
 * `request` is an authorized client's request (google-auth-library). `truncated`: more entries matched.
 */
export async function readCloudLogs(
  request: Requester,
  project: string,
  functions: readonly string[],
  sinceMs: number,
): Promise<{ entries: LogEntry[]; truncated: boolean }> {
  const entries: LogEntry[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < CLOUD_LOG_PAGES; page++) {
    const r = await request({
      url: 'https://logging.googleapis.com/v2/entries:list',
      method: 'POST',
      data: {
        resourceNames: [`projects/${project}`],
        filter: cloudLogFilter(functions, sinceMs),
        orderBy: 'timestamp desc',
        pageSize: 1000,
        ...(pageToken === undefined ? {} : { pageToken }),
      },
    });
    const data = isRecord(r.data) ? r.data : {};
    for (const e of Array.isArray(data['entries']) ? data['entries'] : []) {
      const parsed = parseCloudEntry(e);
      if (parsed !== undefined) entries.push(parsed);
    }
    pageToken = typeof data['nextPageToken'] === 'string' ? data['nextPageToken'] : undefined;
    if (pageToken === undefined) return { entries, truncated: false };
  }
  return { entries, truncated: true };
}
