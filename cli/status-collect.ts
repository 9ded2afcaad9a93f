// `streamjoin status`, the collecting part: the numbers behind the verdict, read cheaply — Firestore
// count() aggregations and `orderBy(...).limit(1)` queries for "oldest" (each on an index of
// firestore.indexes.json), the tables' current metadata, a bounded listing of the input prefixes'
// date folders in the window, and the function logs (local files or Cloud Logging).
import type { Firestore } from '@google-cloud/firestore';
import { Timestamp } from '@google-cloud/firestore';
import type { Storage } from '@google-cloud/storage';
import type { Config } from '../shared/config.ts';
import type { Collections } from '../shared/firestore/client.ts';
import { isFinished, ledgerRef, type ObjectId } from '../shared/firestore/ledger.ts';
import { loadTable } from '../shared/iceberg/index.ts';
import type { LogLevel } from '../shared/log.ts';
import { tableLocationOf } from '../shared/pipeline/compact.ts';
import type { ObjectStore } from '../shared/storage/port.ts';
import { TABLE_KINDS } from '../shared/tables.ts';
import { type LogEntry, readCloudLogs, readLogTail, summarizeLogs } from './status-logs.ts';
import type { StatusSnapshot, TableStatus } from './status-model.ts';

/** The functions whose errors status counts. */
export const STATUS_FUNCTIONS = ['ingest', 'tick', 'compact'] as const;

const ms = (v: unknown): number | null => (v instanceof Timestamp ? v.toMillis() : null);

/** Waiting join states: total, by where their deadline stands, and the earliest deadline. */
export async function collectJoin(
  c: Collections,
  nowMs: number,
  allowedLatenessMs: number,
): Promise<StatusSnapshot['join']> {
  const zero = Timestamp.fromMillis(0);
  const [waiting, open, overdue, oldest] = await Promise.all([
    c.states.where('deadline', '>', zero).count().get(),
    c.states.where('deadline', '>', Timestamp.fromMillis(nowMs)).count().get(),
    c.states
      .where('deadline', '>', zero)
      .where('deadline', '<=', Timestamp.fromMillis(nowMs - allowedLatenessMs))
      .count()
      .get(),
    c.states.where('deadline', '>', zero).orderBy('deadline').limit(1).select('deadline').get(),
  ]);
  const w = waiting.data().count;
  const o = open.data().count;
  const d = overdue.data().count;
  return {
    waiting: w,
    open: o,
    inLateness: Math.max(0, w - o - d),
    overdue: d,
    oldestDeadlineMs: oldest.empty ? null : ms(oldest.docs[0]!.get('deadline')),
  };
}

/** Outbox rows (per table) and the oldest row. */
export async function collectOutbox(c: Collections): Promise<StatusSnapshot['outbox']> {
  const [rows, oldest, ...perTable] = await Promise.all([
    c.outbox.count().get(),
    c.outbox.orderBy('createdAt').limit(1).select('createdAt', 'table').get(),
    ...TABLE_KINDS.map((t) => c.outbox.where('table', '==', t).count().get()),
  ]);
  const first = oldest.docs[0];
  return {
    rows: rows.data().count,
    byTable: Object.fromEntries(TABLE_KINDS.map((t, i) => [t, perTable[i]!.data().count])),
    oldestAtMs: first === undefined ? null : ms(first.get('createdAt')),
    oldestTable: first === undefined ? null : String(first.get('table') ?? ''),
  };
}

/** Micro-batches claimed (being written) and staged (waiting for compact), with the oldest of each. */
export async function collectBatches(c: Collections): Promise<StatusSnapshot['batches']> {
  const count = (status: string) => c.batches.where('status', '==', status).count().get();
  const oldest = (status: string) =>
    c.batches.where('status', '==', status).orderBy('createdAt').limit(1).select('createdAt').get();
  const [claimed, staged, oldClaimed, oldStaged] = await Promise.all([
    count('claimed'),
    count('staged'),
    oldest('claimed'),
    oldest('staged'),
  ]);
  return {
    claimed: claimed.data().count,
    staged: staged.data().count,
    oldestClaimedAtMs: oldClaimed.empty ? null : ms(oldClaimed.docs[0]!.get('createdAt')),
    oldestStagedAtMs: oldStaged.empty ? null : ms(oldStaged.docs[0]!.get('createdAt')),
  };
}

/** Ledger entries of objects that landed since `sinceMs` and finished (ingested or quarantined). */
export async function countIngested(c: Collections, sinceMs: number): Promise<number> {
  const r = await c.files
    .where('outcome', 'in', ['ingested', 'quarantined'])
    .where('landedAt', '>=', Timestamp.fromMillis(sinceMs))
    .count()
    .get();
  return r.data().count;
}

/** Ledger entries of objects outside the order/payment prefixes (ignored, with a warning) since `sinceMs`. */
export async function countIgnored(c: Collections, sinceMs: number): Promise<number> {
  const r = await c.files
    .where('outcome', '==', 'ignored')
    .where('landedAt', '>=', Timestamp.fromMillis(sinceMs))
    .count()
    .get();
  return r.data().count;
}

export async function countRejects(c: Collections, sinceMs: number): Promise<number> {
  const r = await c.rejects.where('createdAt', '>=', Timestamp.fromMillis(sinceMs)).count().get();
  return r.data().count;
}

/** `YYYY_MM_DD` date folders (UTC) from `sinceMs` to `nowMs`: the producer's layout (DESIGN §1). */
export function dayFolders(sinceMs: number, nowMs: number): string[] {
  const out: string[] = [];
  const day = 86_400_000;
  for (let t = Math.floor(sinceMs / day) * day; t <= nowMs; t += day) {
    out.push(new Date(t).toISOString().slice(0, 10).replaceAll('-', '_'));
  }
  return out;
}

export interface LandedObject extends ObjectId {
  readonly landedAtMs: number;
}

/**
 * Objects under the input prefixes' date folders of the window that landed since `sinceMs`, at most
 * `maxObjects` listed (undefined: more than that).
 */
export async function listLanded(
  storage: Storage,
  config: Pick<Config, 'inputBucket' | 'ordersPrefix' | 'paymentsPrefix'>,
  sinceMs: number,
  nowMs: number,
  maxObjects: number,
): Promise<LandedObject[] | undefined> {
  const out: LandedObject[] = [];
  let listed = 0;
  const bucket = storage.bucket(config.inputBucket);
  for (const prefix of [config.ordersPrefix, config.paymentsPrefix]) {
    for (const day of dayFolders(sinceMs, nowMs)) {
      let pageToken: string | undefined;
      do {
        const [files, next] = await bucket.getFiles({
          prefix: `${prefix}${day}/`,
          autoPaginate: false,
          maxResults: 1000,
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        listed += files.length;
        if (listed > maxObjects) return undefined;
        for (const f of files) {
          const landed = Date.parse(String(f.metadata.timeCreated));
          if (!Number.isFinite(landed) || landed < sinceMs) continue;
          out.push({
            bucket: config.inputBucket,
            name: f.name,
            generation: String(f.metadata.generation),
            landedAtMs: landed,
          });
        }
        pageToken = (next as { pageToken?: string } | null)?.pageToken;
      } while (pageToken !== undefined);
    }
  }
  return out;
}

/** Per-object ledger reads status allows itself to find the oldest object not ingested. */
export const MAX_LEDGER_READS = 2000;

/**
 * The oldest landed objects without a finished ledger entry: only looked for when the counts say some
 * are missing (`missing` > 0), newest first (a backlog is usually the newest objects), stopping once
 * `missing` are found or after MAX_LEDGER_READS reads. Returns how many were found and the oldest.
 */
export async function findNotIngested(
  db: Firestore,
  c: Collections,
  landed: readonly LandedObject[],
  missing: number,
): Promise<{ found: number; oldestAtMs: number | null; complete: boolean }> {
  if (missing <= 0) return { found: 0, oldestAtMs: null, complete: true };
  const newestFirst = [...landed].sort((a, b) => b.landedAtMs - a.landedAtMs);
  let found = 0;
  let oldest: number | null = null;
  let read = 0;
  for (let i = 0; i < newestFirst.length && found < missing; i += 500) {
    if (read >= MAX_LEDGER_READS) return { found, oldestAtMs: oldest, complete: false };
    const part = newestFirst.slice(i, i + 500);
    const snaps = await db.getAll(...part.map((o) => ledgerRef(c, o)));
    read += snaps.length;
    snaps.forEach((s, j) => {
      if (!isFinished(s.exists ? s.data() : undefined)) {
        found++;
        oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, part[j]!.landedAtMs);
      }
    });
  }
  return { found, oldestAtMs: oldest, complete: true };
}

/** Current snapshot, counts and the records added in the window, per pipeline table. */
export async function collectTables(
  store: ObjectStore,
  config: Config,
  sinceMs: number,
): Promise<TableStatus[]> {
  return Promise.all(
    TABLE_KINDS.map(async (kind): Promise<TableStatus> => {
      const name = `${config.namespace}.${kind === 'joined' ? config.joinedTable : config.unmatchedTable}`;
      const empty = {
        kind,
        name,
        lastCommitAtMs: null,
        snapshots: 0,
        dataFiles: null,
        records: null,
        recordsAddedInWindow: 0,
      };
      let t: Awaited<ReturnType<typeof loadTable>>;
      try {
        t = await loadTable(store, tableLocationOf(config, kind));
      } catch (err) {
        const notFound = (err as { kind?: unknown }).kind === 'not-found';
        return notFound
          ? { ...empty, exists: false }
          : { ...empty, exists: true, error: err instanceof Error ? err.message : String(err) };
      }
      const md = t.metadata;
      const snaps = md.snapshots ?? [];
      const current = snaps.find((s) => s.snapshotId === md.currentSnapshotId);
      const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
      return {
        ...empty,
        exists: true,
        lastCommitAtMs: current?.timestampMs ?? null,
        snapshots: snaps.length,
        dataFiles: current === undefined ? 0 : num(current.summary['total-data-files']),
        records: current === undefined ? 0 : num(current.summary['total-records']),
        recordsAddedInWindow: snaps
          .filter((s) => s.timestampMs >= sinceMs && s.summary.operation === 'append')
          .reduce((n, s) => n + (num(s.summary['added-records']) ?? 0), 0),
      };
    }),
  );
}

/** Local stack: entries of each function's log file (every instance of it). */
export async function localLogEntries(
  services: readonly { name: string; target?: string; logFile: string }[],
): Promise<LogEntry[]> {
  const fns = new Set<string>(STATUS_FUNCTIONS);
  const parts = await Promise.all(
    services
      .filter((s) => fns.has(s.target ?? s.name))
      .map((s) => readLogTail(s.logFile, s.target ?? s.name)),
  );
  return parts.flat();
}

export type LogSource =
  | {
      readonly kind: 'local';
      readonly services: readonly { name: string; target?: string; logFile: string }[];
      /** The stack's LOG_LEVEL: rows are counted from info lines, errors from error lines. */
      readonly logLevel: LogLevel;
    }
  | { readonly kind: 'cloud'; readonly storage: Storage; readonly project: string };

export async function collectActivity(
  source: LogSource,
  c: Collections,
  sinceMs: number,
): Promise<StatusSnapshot['activity']> {
  const rejects = await countRejects(c, sinceMs);
  try {
    if (source.kind === 'local') {
      if (source.logLevel === 'silent' || source.logLevel === 'error' || source.logLevel === 'warn') {
        const errorsLogged = source.logLevel !== 'silent';
        const entries = errorsLogged ? await localLogEntries(source.services) : [];
        return {
          rejects,
          rowsByReason: null,
          errors: errorsLogged ? summarizeLogs(entries, sinceMs, STATUS_FUNCTIONS).errors : null,
          logsNote: `the local stack logs at LOG_LEVEL=${source.logLevel}: ${errorsLogged ? 'rows unavailable (info lines are not written); errors from the local function logs' : 'rows and errors unavailable'}`,
        };
      }
      const entries = await localLogEntries(source.services);
      return {
        rejects,
        ...summarizeLogs(entries, sinceMs, STATUS_FUNCTIONS),
        logsNote: 'rows and errors from the local function logs',
      };
    }
    const client = await source.storage.authClient.getClient();
    const r = await readCloudLogs(
      (o) => client.request(o) as Promise<{ data: unknown }>,
      source.project,
      STATUS_FUNCTIONS,
      sinceMs,
    );
    return {
      rejects,
      ...summarizeLogs(r.entries, sinceMs, STATUS_FUNCTIONS),
      logsNote: `rows and errors from Cloud Logging${r.truncated ? ` (the newest ${r.entries.length} entries only)` : ''}`,
    };
  } catch (err) {
    return {
      rejects,
      rowsByReason: null,
      errors: null,
      logsNote: `rows and errors unavailable: the function logs could not be read (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    };
  }
}
