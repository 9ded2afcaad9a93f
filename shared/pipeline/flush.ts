// Tick, part 2: flush outbox rows into Parquet data files, one micro-batch per (table, shard), exactly
// once. Protocol, per (table, shard), guarded by a lease document:
//   1. claim   (transaction) lease free → new batch {id, cutoff}; the batch's rows are the first
//              `maxRows` outbox rows of the shard with createdAt ≤ cutoff, ordered by (createdAt, id).
//              createdAt is the commit time, so no row can later appear inside that range, and rows
//              leave the outbox only through step 3 of their own batch: the set is fixed.
//   2. write   stream those rows into one Parquet file per partition day, at names derived from the
//              batch id (a retry rewrites the same names), then record the batch as `staged` with the
//              files' stats and the last row of the range (transaction: only while the batch is ours).
//   3. delete  delete the outbox rows up to that last row, then free the lease.
// A crash anywhere is finished by the next tick: a lease older than `leaseMs` is taken over and the
// batch resumes at its recorded status (claimed → rewrite; staged → delete only).
import { randomBytes } from 'node:crypto';
import { type DocumentSnapshot, type Firestore, type Query, Timestamp } from '@google-cloud/firestore';
import { StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import type { Collections } from '../firestore/client.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import type { Logger } from '../log.ts';
import { joinUri } from '../storage/port.ts';
import { type DataFileStats, type Row, TABLES, type TableDef, type TableKind } from '../tables.ts';
import { Channel } from './channel.ts';

/** Writes one Parquet file for `table` at `uri` from `rows` (all of one day); returns its stats. */
export type DataFileWriter = (
  uri: string,
  table: TableDef,
  rows: AsyncIterable<Row>,
) => Promise<DataFileStats>;

export interface FlushDeps {
  readonly db: Firestore;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly writeDataFile: DataFileWriter;
  readonly log: Logger;
  /** Table root URIs (…/namespace/table/) per kind. */
  readonly tableUris: Readonly<Record<TableKind, string>>;
  readonly shards: number;
  readonly maxRows: number;
  readonly leaseMs: number;
  readonly now?: () => number;
}

export interface StagedBatch {
  readonly batchId: string;
  readonly table: TableKind;
  readonly files: readonly DataFileStats[];
  readonly rowCount: number;
}

export interface FlushResult {
  readonly batches: StagedBatch[];
  readonly rows: number;
  readonly busyShards: number;
}

const PAGE = 2000;
/** The cutoff is compared with commit timestamps (createdAt), so it is wall-clock time — not the
 *  injectable processing clock — a little in the past. Client clock skew cannot lose or duplicate a
 *  row: the batch's set is fixed by what its read returned (`last`), see the module comment. */
const CUTOFF_LAG_MS = 0;
const MAX_DELETE_BATCH = 400;

/** Outbox row → table row: timestamps are stored as epoch micros (number) and become bigint. */
export function outboxToRow(table: TableDef, stored: Record<string, unknown>): Row {
  const row: Record<string, string | number | bigint | null> = {};
  for (const c of table.columns) {
    const v = stored[c.name];
    if (v === undefined || v === null) row[c.name] = null;
    else if (c.type === 'timestamptz') row[c.name] = BigInt(v as number);
    else row[c.name] = v as string | number;
  }
  return row;
}

function dayOf(table: TableDef, stored: Record<string, unknown>): number {
  const micros = stored[table.partitionSource];
  if (typeof micros !== 'number') {
    throw new StreamjoinError('internal', `outbox row has no ${table.partitionSource}`, {
      context: { stored },
    });
  }
  return Math.floor(micros / 86_400_000_000);
}

function isoDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Deterministic data file URI of a batch's rows of one day. */
export function dataFileUri(tableUri: string, table: TableDef, batchId: string, day: number): string {
  return joinUri(tableUri, `data/${table.partitionName}=${isoDay(day)}/${batchId}.parquet`);
}

interface BatchDoc {
  batchId: string;
  table: TableKind;
  shard: number;
  status: 'claimed' | 'staged' | 'committed';
  cutoff: Timestamp;
  maxRows: number;
  last?: { createdAt: Timestamp; id: string } | null;
  files?: SerializedStats[];
  rowCount?: number;
}

/** DataFileStats as a Firestore map (bigint bounds as strings tagged with their type). */
export type SerializedStats = Omit<DataFileStats, 'lowerBounds' | 'upperBounds'> & {
  lowerBounds: Record<string, string | number>;
  upperBounds: Record<string, string | number>;
  bigintBounds: number[];
};

export function serializeStats(s: DataFileStats): SerializedStats {
  const big = new Set<number>();
  const conv = (b: Readonly<Record<number, string | number | bigint>>) => {
    const out: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(b)) {
      if (typeof v === 'bigint') {
        big.add(Number(k));
        out[k] = v.toString();
      } else out[k] = v;
    }
    return out;
  };
  const lowerBounds = conv(s.lowerBounds);
  const upperBounds = conv(s.upperBounds);
  return { ...s, lowerBounds, upperBounds, bigintBounds: [...big] };
}

export function deserializeStats(s: SerializedStats): DataFileStats {
  const big = new Set(s.bigintBounds);
  const conv = (b: Record<string, string | number>) => {
    const out: Record<number, string | number | bigint> = {};
    for (const [k, v] of Object.entries(b)) out[Number(k)] = big.has(Number(k)) ? BigInt(v) : v;
    return out;
  };
  const { bigintBounds: _, ...rest } = s;
  return { ...rest, lowerBounds: conv(s.lowerBounds), upperBounds: conv(s.upperBounds) };
}

export class Flusher {
  private readonly d: FlushDeps;
  private readonly owner = randomBytes(6).toString('hex');

  constructor(deps: FlushDeps) {
    this.d = deps;
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  private shardQuery(table: TableKind, shard: number): Query {
    return this.d.collections.outbox
      .where('table', '==', table)
      .where('shard', '==', shard)
      .orderBy('createdAt')
      .orderBy('rowId');
  }

  /** Flushes every shard of both tables once (bounded: at most one batch per shard per call). */
  async flushAll(options: { tables?: readonly TableKind[] } = {}): Promise<FlushResult> {
    const batches: StagedBatch[] = [];
    let busyShards = 0;
    const jobs: Array<() => Promise<void>> = [];
    // Leases whose holder died after its rows were gone (crash during or after the delete step): the
    // shard probe cannot see them, so finish and release them here (one read when there are none).
    const stale = await this.d.collections.flush
      .where('leaseUntil', '<', Timestamp.fromMillis(this.now()))
      .get();
    this.d.counter.reads += Math.max(1, stale.size);
    for (const doc of stale.docs) {
      const [table, shard] = [
        doc.get('table') as TableKind | undefined,
        doc.get('shard') as number | undefined,
      ];
      if (table === undefined || shard === undefined) continue;
      jobs.push(async () => {
        const b = await this.claim(table, shard, { takeoverOnly: true });
        if (b !== undefined) batches.push(await this.finish(b));
      });
    }
    for (const table of options.tables ?? (['joined', 'unmatched'] as const)) {
      for (let shard = 0; shard < this.d.shards; shard++) {
        jobs.push(async () => {
          const r = await this.flushShard(table, shard);
          if (r === 'busy') busyShards++;
          else if (r !== undefined) batches.push(r);
        });
      }
    }
    // A few shards at a time: the work is Firestore round trips and object writes. After a failure no
    // new shard starts, and the call returns only when the running ones have stopped (no work may go
    // on in the background after the function has answered).
    let next = 0;
    let failure: { error: unknown } | undefined;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (failure === undefined && next < jobs.length) {
          try {
            await jobs[next++]!();
          } catch (error) {
            failure ??= { error };
          }
        }
      }),
    );
    if (failure !== undefined) throw failure.error;
    return { batches, rows: batches.reduce((n, b) => n + b.rowCount, 0), busyShards };
  }

  /** One batch of one shard: claim (or take over), write, stage, delete, release. */
  async flushShard(table: TableKind, shard: number): Promise<StagedBatch | 'busy' | undefined> {
    // Anything to flush? (An empty query costs one read; an idle tick costs one per shard.) A batch
    // abandoned by a crash still has its rows here, so it is found and taken over by this path too.
    const cutoff = Timestamp.fromMillis(Date.now() - CUTOFF_LAG_MS);
    const probe = await this.shardQuery(table, shard)
      .where('createdAt', '<=', cutoff)
      .limit(1)
      .select()
      .get();
    this.d.counter.reads += Math.max(1, probe.size);
    if (probe.empty) return undefined;
    const batch = await this.claim(table, shard);
    if (batch === undefined) return 'busy';
    try {
      faultPoint('flush.after-claim');
      return await this.finish(batch);
    } catch (err) {
      // Let the next tick take the batch over at once instead of after the whole lease.
      await this.expireLease(batch).catch(() => {});
      throw err;
    }
  }

  private async claim(
    table: TableKind,
    shard: number,
    options: { takeoverOnly?: boolean } = {},
  ): Promise<BatchDoc | undefined> {
    const leaseRef = this.d.collections.flush.doc(`${table}-${shard}`);
    return this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      const now = this.now();
      const until = Timestamp.fromMillis(now + this.d.leaseMs);
      const current = lease.exists ? (lease.get('batchId') as string | null) : null;
      if (current !== null) {
        const leaseUntil = lease.get('leaseUntil') as Timestamp | null;
        if (leaseUntil !== null && leaseUntil.toMillis() > now) return undefined;
        // Take over a batch whose holder is presumed dead: same batch, same rows, same file names.
        const b = await tx.get(this.d.collections.batches.doc(current));
        tx.set(
          leaseRef,
          { table, shard, batchId: current, leaseUntil: until, owner: this.owner },
          { merge: true },
        );
        if (!b.exists) throw new StreamjoinError('internal', `flush lease names missing batch ${current}`);
        this.d.log.warn({ table, shard, batchId: current }, 'taking over an abandoned flush batch');
        return b.data() as BatchDoc;
      }
      if (options.takeoverOnly === true) return undefined;
      const seq = ((lease.exists ? (lease.get('seq') as number) : 0) ?? 0) + 1;
      const batchId = `${table}-s${shard}-${String(seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
      const doc: BatchDoc = {
        batchId,
        table,
        shard,
        status: 'claimed',
        cutoff: Timestamp.fromMillis(Date.now() - CUTOFF_LAG_MS),
        maxRows: this.d.maxRows,
        last: null,
      };
      tx.set(this.d.collections.batches.doc(batchId), { ...doc, createdAt: Timestamp.fromMillis(now) });
      tx.set(leaseRef, { table, shard, batchId, seq, leaseUntil: until, owner: this.owner });
      return doc;
    });
  }

  private rangeQuery(b: BatchDoc): Query {
    let q = this.shardQuery(b.table, b.shard).where('createdAt', '<=', b.cutoff);
    if (b.last !== null && b.last !== undefined) q = q.endAt(b.last.createdAt, b.last.id);
    return q;
  }

  private async finish(b: BatchDoc): Promise<StagedBatch> {
    let files: DataFileStats[];
    let last: { createdAt: Timestamp; id: string } | null;
    let rowCount: number;
    let ids: string[] | undefined;
    if (b.status === 'claimed') {
      ({ files, last, rowCount, ids } = await this.writeFiles(b));
      faultPoint('flush.after-write');
      await this.d.db.runTransaction(async (tx) => {
        const ref = this.d.collections.batches.doc(b.batchId);
        const cur = await tx.get(ref);
        if ((cur.get('status') as string) !== 'claimed') return; // a taker-over got here first: same content
        tx.update(ref, {
          status: 'staged',
          files: files.map(serializeStats),
          rowCount,
          last,
          stagedAt: Timestamp.fromMillis(this.now()),
        });
      });
      this.d.counter.writes++;
      faultPoint('flush.after-stage');
    } else {
      files = ((b.files ?? []) as SerializedStats[]).map(deserializeStats);
      last = b.last ?? null;
      rowCount = b.rowCount ?? 0;
    }
    if (ids !== undefined) await this.deleteIds(ids);
    else if (last !== null) await this.deleteRange({ ...b, last });
    faultPoint('flush.after-delete');
    await this.release(b);
    this.d.log.info(
      { batchId: b.batchId, table: b.table, rows: rowCount, files: files.length },
      'batch staged',
    );
    return { batchId: b.batchId, table: b.table, files, rowCount };
  }

  /** Streams the batch's rows from Firestore into one Parquet writer per partition day. */
  private async writeFiles(b: BatchDoc): Promise<{
    files: DataFileStats[];
    last: { createdAt: Timestamp; id: string } | null;
    rowCount: number;
    ids: string[];
  }> {
    // Document ids only (not snapshots or references): a 200,000-row batch keeps ~15 MB here.
    const ids: string[] = [];
    const def = TABLES[b.table];
    const writers = new Map<number, { channel: Channel<Row>; done: Promise<DataFileStats> }>();
    let last: { createdAt: Timestamp; id: string } | null = null;
    let rowCount = 0;
    let cursor: DocumentSnapshot | undefined;
    try {
      while (rowCount < b.maxRows) {
        let q = this.rangeQuery(b).limit(Math.min(PAGE, b.maxRows - rowCount));
        if (cursor !== undefined) q = q.startAfter(cursor);
        const page = await q.get();
        this.d.counter.reads += Math.max(1, page.size);
        if (page.empty) break;
        for (const doc of page.docs) {
          const stored = doc.get('row') as Record<string, unknown>;
          const day = dayOf(def, stored);
          let w = writers.get(day);
          if (w === undefined) {
            const channel = new Channel<Row>(2048);
            const uri = dataFileUri(this.d.tableUris[b.table], def, b.batchId, day);
            w = { channel, done: this.d.writeDataFile(uri, def, channel) };
            w.done.catch(() => {}); // observed below
            writers.set(day, w);
          }
          await w.channel.push(outboxToRow(def, stored));
          last = { createdAt: doc.get('createdAt') as Timestamp, id: doc.get('rowId') as string };
          ids.push(doc.id);
          rowCount++;
        }
        cursor = page.docs[page.docs.length - 1];
        if (page.size < PAGE) break;
      }
    } catch (err) {
      for (const w of writers.values()) w.channel.close(err);
      await Promise.allSettled([...writers.values()].map((w) => w.done));
      throw err;
    }
    for (const w of writers.values()) w.channel.close();
    const files = await Promise.all([...writers.values()].map((w) => w.done));
    return { files: files.sort((x, y) => (x.uri < y.uri ? -1 : 1)), last, rowCount, ids };
  }

  /** Deletes the rows this run wrote (no second read). */
  private async deleteIds(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_DELETE_BATCH) {
      const batch = this.d.db.batch();
      const part = ids.slice(i, i + MAX_DELETE_BATCH);
      for (const id of part) batch.delete(this.d.collections.outbox.doc(id));
      await batch.commit();
      this.d.counter.deletes += part.length;
      faultPoint('flush.during-delete');
    }
  }

  /** After a takeover of a staged batch: delete what is left of its range. */
  private async deleteRange(b: BatchDoc & { last: { createdAt: Timestamp; id: string } }): Promise<void> {
    for (;;) {
      const page = await this.rangeQuery(b).limit(MAX_DELETE_BATCH).select().get();
      this.d.counter.reads += Math.max(1, page.size);
      if (page.empty) return;
      const batch = this.d.db.batch();
      for (const doc of page.docs) batch.delete(doc.ref);
      await batch.commit();
      this.d.counter.deletes += page.size;
      faultPoint('flush.during-delete');
      if (page.size < MAX_DELETE_BATCH) return;
    }
  }

  /** Marks our lease as lapsed (the batch stays; the next tick takes it over). */
  private async expireLease(b: BatchDoc): Promise<void> {
    const leaseRef = this.d.collections.flush.doc(`${b.table}-${b.shard}`);
    await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      if (lease.exists && lease.get('batchId') === b.batchId && lease.get('owner') === this.owner) {
        tx.update(leaseRef, { leaseUntil: Timestamp.fromMillis(0) });
      }
    });
  }

  private async release(b: BatchDoc): Promise<void> {
    const leaseRef = this.d.collections.flush.doc(`${b.table}-${b.shard}`);
    await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      if (lease.exists && lease.get('batchId') === b.batchId)
        tx.update(leaseRef, { batchId: null, leaseUntil: null });
    });
    this.d.counter.reads++;
    this.d.counter.writes++;
  }
}
