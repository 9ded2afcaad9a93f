// Tick, part 2: flush outbox rows into Parquet data files, one micro-batch per (table, shard), exactly
// once. Protocol, per (table, shard), guarded by a lease document that names the batch in progress and
// the token of the attempt holding it:
//   1. claim   (transaction) lease free → new batch {id, cutoff}, lease {batchId, owner: our token}. The
//              batch's rows are the first `maxRows` outbox rows of the shard with createdAt ≤ cutoff, in
//              (createdAt, rowId) order. createdAt is the row's commit time and the cutoff is the read
//              time of a query Firestore answered before the claim (Firestore's clock, not ours): every
//              row committed at or before it was visible then, no row can appear inside the range later,
//              and rows leave the outbox only through step 3 of their own batch — the set is fixed at
//              claim time, whatever the clocks of the ticks say.
//   2. write   stream those rows into one Parquet file per partition day, at names derived from the
//              batch id, each carrying a digest of its row ids (a retry reuses a file only when the
//              digest is its own); renew the lease while writing; then record the batch as `staged` with
//              the files' stats, the last row and a digest of the ids — in a transaction that commits
//              only while the lease still names this batch AND our token.
//   3. delete  delete the rows this attempt staged, then free the lease (only if it is still ours).
// A crash anywhere is finished by the next tick: a lease older than `leaseMs` is taken over (a new token)
// and the batch resumes at its recorded status (claimed → read the same set again; staged → delete
// exactly the staged range, never a new read). An attempt that finds its lease taken over stops without
// staging or deleting anything: "same batch" is decided by the lease token and by content, never by
// which attempt happens to be faster.
import { createHash, randomBytes } from 'node:crypto';
import { type DocumentSnapshot, type Firestore, type Query, Timestamp } from '@google-cloud/firestore';
import { StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import type { Collections } from '../firestore/client.ts';
import type { OpCounter } from '../firestore/op-counter.ts';
import { guardOn } from '../guards.ts';
import type { TableLayout, WriterSettings } from '../iceberg/write-layout.ts';
import type { Logger } from '../log.ts';
import type { FileSchema, PartitionTuple } from '../parquet/data-file-writer.ts';
import { dayPartitionSource, partitionDayOf } from '../parquet/partition.ts';
import { decodeValue } from '../spec/values.ts';
import { joinUri } from '../storage/port.ts';
import {
  type DataFileStats,
  dayPartitionOf,
  type Row,
  type RowValue,
  TABLES,
  type TableDef,
  type TableKind,
} from '../tables.ts';
import { Channel } from './channel.ts';
import { deserializeStats, type SerializedStats, serializeStats } from './stats-codec.ts';

/** Parquet footer key of a flush data file's content identity: SHA-256 over its rows' outbox ids, in
 *  file order (see RowIdDigest). */
export const ROW_IDS_KEY = 'streamjoin.row-ids-sha256';

/** Writes one Parquet file for `table` at `uri` from `rows` (all of one day); returns its stats.
 *  `identity`, when given, is the file's content identity (called once the rows have ended): it is
 *  recorded in the file (ROW_IDS_KEY), and a file already at `uri` is reused only if it records the same. */
export type DataFileWriter = (
  uri: string,
  table: TableDef | FileSchema,
  rows: AsyncIterable<Row>,
  identity?: () => string,
  settings?: WriterSettings,
) => Promise<DataFileStats>;

/** Named points of a batch, in order (fault injection and the test hook `pause`). */
export const FLUSH_POINTS = [
  'flush.after-claim',
  'flush.after-page',
  'flush.after-write',
  'flush.after-stage',
  'flush.during-delete',
  'flush.after-delete',
] as const;
export type FlushPoint = (typeof FLUSH_POINTS)[number];

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
  /** Clock of lease expiry and renewal (epoch ms). Safety never depends on it, only liveness. */
  readonly now?: () => number;
  /** Test hook, awaited at each named point of a batch (deterministic interleavings); absent in production. */
  readonly pause?: (point: FlushPoint, batchId: string) => Promise<void>;
  /**
   * How to write into each table as it is now (its current schema, partition spec and Parquet
   * properties); throws StreamjoinError 'incompatible-table' when another engine changed it beyond
   * what the pipeline writes. Absent: the pipeline's own table definition (day partitions).
   */
  readonly layoutOf?: (table: TableKind) => Promise<TableLayout>;
  /** The tables as the join spec defines them (shared/spec/tables.ts tableDefsOf). Absent: TABLES. */
  readonly tables?: Readonly<Record<TableKind, TableDef>>;
}

/** A table whose rows were not flushed: another engine changed it beyond what the pipeline writes. */
export interface BlockedTable {
  readonly table: TableKind;
  readonly reason: string;
}

export interface StagedBatch {
  readonly batchId: string;
  readonly table: TableKind;
  readonly files: readonly DataFileStats[];
  readonly rowCount: number;
}

/** A shard job that failed in flushAll (the others still ran). */
export interface ShardFailure {
  readonly table: TableKind;
  readonly shard: number;
  readonly error: unknown;
}

export interface FlushResult {
  readonly batches: StagedBatch[];
  readonly rows: number;
  readonly busyShards: number;
  /** Attempts that found their lease taken over and stopped (their batch is finished by its new holder). */
  readonly lostLeases: number;
  /** Tables left alone this run (their rows stay in the outbox), with why. */
  readonly blocked: readonly BlockedTable[];
}

const PAGE = 2000;
const MAX_DELETE_BATCH = 400;
/** Shard jobs of one flushAll running at the same time (Firestore round trips and object writes). */
const CONCURRENT_JOBS = 4;

/**
 * The batch cutoff from the read time of a query (Firestore's clock). The emulator stores server
 * timestamps truncated to milliseconds while read times have microseconds: a row committed just after
 * the read could carry a createdAt equal to the read time's millisecond. One millisecond below that
 * millisecond, every row at or before the cutoff was committed before the read, so the set is fixed.
 */
export function cutoffFromReadTime(readTime: Timestamp): Timestamp {
  return Timestamp.fromMillis(readTime.toMillis() - 1);
}

/** Incremental SHA-256 over row ids in order (each id length-prefixed, so no two lists collide). */
export class RowIdDigest {
  private readonly hash = createHash('sha256');
  private digestHex: string | undefined;
  count = 0;

  add(id: string): void {
    if (this.digestHex !== undefined)
      throw new StreamjoinError('internal', 'RowIdDigest used after digest()');
    this.hash.update(`${Buffer.byteLength(id)}:${id}\n`);
    this.count++;
  }

  /** `<count>:<sha256 hex>`; the digest is final after the first call. */
  digest(): string {
    this.digestHex ??= this.hash.digest('hex');
    return `${this.count}:${this.digestHex}`;
  }
}

/**
 * Outbox row → table row, by column type (shared/spec/values.ts decodeValue: bigints as their digits).
 * Rows stored before that held timestamps as epoch micros in a number: those are taken as they are.
 */
export function outboxToRow(table: TableDef, stored: Record<string, unknown>): Row {
  const row: Record<string, RowValue> = {};
  for (const c of table.columns) {
    const v = stored[c.name];
    if (v === undefined || v === null) row[c.name] = null;
    else if (typeof v === 'number' && Number.isSafeInteger(v) && BIGINT_TYPES.test(c.type))
      row[c.name] = BigInt(v);
    else row[c.name] = decodeValue(c.type, v);
  }
  return row;
}
/** Types whose table values are bigints. */
const BIGINT_TYPES = /^(long|timestamp|timestamptz|decimal\(.*\))$/;

function dayOf(table: TableDef, stored: Record<string, unknown>): number {
  const source = dayPartitionSource(table);
  const raw = stored[source];
  // Epoch micros: a number (rows written before values.ts) or its digits (encodeValue).
  const micros =
    typeof raw === 'number' && Number.isSafeInteger(raw)
      ? BigInt(raw)
      : typeof raw === 'string' && /^-?\d+$/.test(raw)
        ? BigInt(raw)
        : undefined;
  if (micros === undefined) {
    throw new StreamjoinError('internal', `outbox row has no ${source}`, {
      context: { stored },
    });
  }
  return partitionDayOf(micros);
}

function isoDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Deterministic data file URI of a batch's rows of one partition under a table layout. The layout's
 * schema and spec ids are part of the name (except for the table's first ones, whose files keep the
 * earlier names): a retry after another engine changed the table writes a new file, never one that an
 * attempt under the old layout may have left.
 */
export function layoutFileUri(
  tableUri: string,
  layout: TableLayout,
  batchId: string,
  tuple: PartitionTuple,
): string {
  const suffix = layout.id === 's0-p0' ? '' : `-${layout.id}`;
  const dir = layout.spec.fields.length === 0 ? 'data' : `data/${layout.pathOf(tuple)}`;
  return joinUri(tableUri, `${dir}/${batchId}${suffix}.parquet`);
}

/** Deterministic data file URI of a batch's rows of one day. */
export function dataFileUri(tableUri: string, table: TableDef, batchId: string, day: number): string {
  const name = dayPartitionOf(table)?.name ?? dayPartitionSource(table);
  return joinUri(tableUri, `data/${name}=${isoDay(day)}/${batchId}.parquet`);
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
  /** RowIdDigest of every row of the batch, in order (set when staged). */
  rowIds?: string;
}

/** A batch as held by one attempt: the lease names `batch.batchId` and `token` while it is ours. */
interface Held {
  readonly batch: BatchDoc;
  readonly token: string;
  /** When this attempt last set the lease's expiry (lease clock). */
  renewedAt: number;
}

/** The lease was taken over: this attempt stops (no stage, no delete). */
class LeaseLost extends Error {}

export { deserializeStats, type SerializedStats, serializeStats } from './stats-codec.ts';

export class Flusher {
  private readonly d: FlushDeps;
  private readonly layouts = new Map<TableKind, Promise<TableLayout>>();

  constructor(deps: FlushDeps) {
    this.d = deps;
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  private async point(point: FlushPoint, batchId: string): Promise<void> {
    faultPoint(point);
    if (this.d.pause !== undefined) await this.d.pause(point, batchId);
  }

  private leaseRef(table: TableKind, shard: number) {
    return this.d.collections.flush.doc(`${table}-${shard}`);
  }

  private shardQuery(table: TableKind, shard: number): Query {
    return this.d.collections.outbox
      .where('table', '==', table)
      .where('shard', '==', shard)
      .orderBy('createdAt')
      .orderBy('rowId');
  }

  /**
   * Flushes every shard of both tables once (bounded: at most one batch per shard per call). A shard job
   * that fails does not stop the others: every job runs, each failure is logged with its shard, and the
   * call then throws one error naming every failed shard (so the tick answers 500 and is retried).
   */
  async flushAll(options: { tables?: readonly TableKind[] } = {}): Promise<FlushResult> {
    const batches: StagedBatch[] = [];
    let busyShards = 0;
    let lostLeases = 0;
    this.layouts.clear();
    const blocked: BlockedTable[] = [];
    const tables: TableKind[] = [];
    for (const table of options.tables ?? (['joined', 'unmatched'] as const)) {
      // A table another engine changed beyond what we write is skipped (its rows stay in the outbox),
      // said at alert level; the other table goes on.
      const problem = await this.layoutFor(table).then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof StreamjoinError && err.kind === 'incompatible-table') return err;
          throw err;
        },
      );
      if (problem === undefined) tables.push(table);
      else {
        blocked.push({ table, reason: problem.message });
        this.d.log.alert(
          { table, ...problem.context },
          `flush stopped for table ${table}: ${problem.message}`,
        );
      }
    }
    // Leases past their expiry (one read when there are none). A shard job takes its own over when its
    // shard still has rows; this finds the others too — a holder that died after its rows were gone
    // (crash during or after the delete step), or a shard outside the configured range.
    const stale = await this.d.collections.flush
      .where('leaseUntil', '<', Timestamp.fromMillis(this.now()))
      .get();
    this.d.counter.reads += Math.max(1, stale.size);
    const staleShards = new Set<string>();
    const jobs: Array<{ table: TableKind; shard: number; run: () => Promise<void> }> = [];
    const record = (r: StagedBatch | 'busy' | 'lost' | undefined) => {
      if (r === 'busy') busyShards++;
      else if (r === 'lost') lostLeases++;
      else if (r !== undefined) batches.push(r);
    };
    for (const doc of stale.docs) {
      const table = doc.get('table') as TableKind | undefined;
      const shard = doc.get('shard') as number | undefined;
      if (table === undefined || shard === undefined) continue;
      staleShards.add(`${table}-${shard}`);
      if (!tables.includes(table)) continue; // blocked, or not asked for
      if (shard < this.d.shards) continue; // its shard job handles it
      jobs.push({ table, shard, run: async () => record(await this.takeOverStale(table, shard)) });
    }
    for (const table of tables) {
      for (let shard = 0; shard < this.d.shards; shard++) {
        const stale = staleShards.has(`${table}-${shard}`);
        jobs.push({ table, shard, run: async () => record(await this.flushShard(table, shard, { stale })) });
      }
    }
    // A few jobs at a time; the call returns only when every job has stopped (no work may go on in the
    // background after the function has answered).
    let next = 0;
    const failures: ShardFailure[] = [];
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENT_JOBS, jobs.length) }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!;
          try {
            await job.run();
          } catch (error) {
            failures.push({ table: job.table, shard: job.shard, error });
            this.d.log.error(
              { table: job.table, shard: job.shard, err: error },
              'flush of a shard failed; the other shards go on',
            );
          }
        }
      }),
    );
    if (failures.length > 0) throw flushFailure(failures, jobs.length);
    return { batches, rows: batches.reduce((n, b) => n + b.rowCount, 0), busyShards, lostLeases, blocked };
  }

  /** The layout of a table for this run (loaded once per flushAll), or undefined without layoutOf. */
  private layoutFor(table: TableKind): Promise<TableLayout | undefined> {
    if (this.d.layoutOf === undefined) return Promise.resolve(undefined);
    let p = this.layouts.get(table);
    if (p === undefined) {
      p = this.d.layoutOf(table);
      this.layouts.set(table, p);
      p.catch(() => {});
    }
    return p;
  }

  /** One batch of one shard: claim (or take over), write, stage, delete, release. */
  async flushShard(
    table: TableKind,
    shard: number,
    options: { stale?: boolean } = {},
  ): Promise<StagedBatch | 'busy' | 'lost' | undefined> {
    // Anything to flush? (An empty query costs one read; an idle tick costs one per shard.) A batch
    // abandoned by a crash still has its rows here, so it is found and taken over by this path too.
    const probe = await this.shardQuery(table, shard).limit(1).select().get();
    this.d.counter.reads += Math.max(1, probe.size);
    if (probe.empty) return options.stale === true ? this.takeOverStale(table, shard) : undefined;
    const held = await this.claim(table, shard, cutoffFromReadTime(probe.readTime));
    if (held === undefined) return 'busy';
    return this.run(held);
  }

  /** Finishes a batch whose lease has expired, without starting a new one. */
  private async takeOverStale(table: TableKind, shard: number): Promise<StagedBatch | 'lost' | undefined> {
    const held = await this.claim(table, shard, undefined);
    return held === undefined ? undefined : this.run(held);
  }

  private async run(held: Held): Promise<StagedBatch | 'lost'> {
    try {
      await this.point('flush.after-claim', held.batch.batchId);
      return await this.finish(held);
    } catch (err) {
      // Let the next tick take the batch over at once instead of after the whole lease.
      await this.expireLease(held).catch(() => {});
      throw err;
    }
  }

  /**
   * Claims the shard's lease: takes over a batch whose lease has expired, or (given a cutoff, and the
   * lease free) starts a new batch. Each claim gets a fresh token: the lease is "ours" only while it
   * names our batch and our token.
   */
  private async claim(
    table: TableKind,
    shard: number,
    cutoff: Timestamp | undefined,
  ): Promise<Held | undefined> {
    const leaseRef = this.leaseRef(table, shard);
    const token = randomBytes(8).toString('hex');
    const r = await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      const now = this.now();
      const until = Timestamp.fromMillis(now + this.d.leaseMs);
      const current = lease.exists ? (lease.get('batchId') as string | null) : null;
      if (current !== null) {
        const leaseUntil = lease.get('leaseUntil') as Timestamp | null;
        if (leaseUntil !== null && leaseUntil.toMillis() > now) return undefined;
        // Take over a batch whose holder is presumed dead (or slow): same batch, same rows, same file
        // names — under a new token, so the previous holder can no longer stage or free it.
        const b = await tx.get(this.d.collections.batches.doc(current));
        if (!b.exists) throw new StreamjoinError('internal', `flush lease names missing batch ${current}`);
        tx.set(
          leaseRef,
          { table, shard, batchId: current, leaseUntil: until, owner: token },
          { merge: true },
        );
        this.d.log.warn(
          { table, shard, batchId: current, previousOwner: lease.get('owner') },
          'taking over an abandoned flush batch',
        );
        return { batch: b.data() as BatchDoc, now, created: false };
      }
      if (cutoff === undefined) return undefined;
      const seq = ((lease.exists ? (lease.get('seq') as number) : 0) ?? 0) + 1;
      const batchId = `${table}-s${shard}-${String(seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
      const doc: BatchDoc = {
        batchId,
        table,
        shard,
        status: 'claimed',
        cutoff,
        maxRows: this.d.maxRows,
        last: null,
      };
      tx.set(this.d.collections.batches.doc(batchId), { ...doc, createdAt: Timestamp.fromMillis(now) });
      tx.set(leaseRef, { table, shard, batchId, seq, leaseUntil: until, owner: token });
      return { batch: doc, now, created: true };
    });
    this.d.counter.reads++;
    if (r === undefined) return undefined;
    // A new batch writes the batch and the lease; a takeover reads the batch and writes the lease.
    if (r.created) this.d.counter.writes += 2;
    else {
      this.d.counter.reads++;
      this.d.counter.writes++;
    }
    return { batch: r.batch, token, renewedAt: r.now };
  }

  private rangeQuery(b: BatchDoc): Query {
    let q = this.shardQuery(b.table, b.shard).where('createdAt', '<=', b.cutoff);
    if (b.last !== null && b.last !== undefined) q = q.endAt(b.last.createdAt, b.last.id);
    return q;
  }

  private async finish(held: Held): Promise<StagedBatch | 'lost'> {
    const started = this.now();
    const b = held.batch;
    let files: DataFileStats[];
    let rowCount: number;
    let lost = false;
    // Guard flush.stage-status: a batch already staged (by an attempt that has since died) is finished
    // from its record — exactly its staged range is deleted — never read again: its rows are partly
    // deleted, and a new read would return rows of no batch.
    if (b.status === 'claimed' || !guardOn('flush.stage-status')) {
      let written: Awaited<ReturnType<Flusher['writeFiles']>> | undefined;
      try {
        written = await this.writeFiles(held);
      } catch (err) {
        if (!(err instanceof LeaseLost)) throw err;
      }
      if (written === undefined) {
        lost = true;
        files = [];
        rowCount = 0;
      } else {
        files = written.files;
        rowCount = written.rowCount;
        await this.point('flush.after-write', b.batchId);
        const outcome = await this.stage(held, written);
        if (outcome === 'lost') lost = true;
        else {
          await this.point('flush.after-stage', b.batchId);
          await this.deleteIds(held, written.ids);
        }
      }
    } else {
      files = ((b.files ?? []) as SerializedStats[]).map(deserializeStats);
      rowCount = b.rowCount ?? 0;
      if (b.last !== null && b.last !== undefined) await this.deleteRange(held, { ...b, last: b.last });
    }
    if (!lost) await this.point('flush.after-delete', b.batchId);
    // Every attempt that ends without an error comes here; only one that still holds the lease frees it.
    await this.release(held);
    if (lost) {
      this.d.log.warn(
        { batchId: b.batchId, table: b.table, shard: b.shard },
        'flush lease taken over by another attempt: stopped without staging or deleting',
      );
      return 'lost';
    }
    this.d.log.info(
      { batchId: b.batchId, table: b.table, rows: rowCount, files: files.length, ms: this.now() - started },
      'batch staged',
    );
    return { batchId: b.batchId, table: b.table, files, rowCount };
  }

  /** True when the lease document names this attempt's batch and token. */
  private holds(lease: DocumentSnapshot, held: Held): boolean {
    return lease.exists && lease.get('batchId') === held.batch.batchId && lease.get('owner') === held.token;
  }

  /**
   * Records the batch as staged — only while the lease is ours. Returns 'lost' when it is not (nothing
   * is written; the attempt must not delete anything), 'staged', or 'already' when the batch was staged
   * before: with the lease ours that was this attempt's own commit (a transaction retried after its
   * commit landed), so its rows are the ones read here.
   */
  private async stage(
    held: Held,
    w: { files: DataFileStats[]; last: BatchDoc['last']; rowCount: number; rowIds: string },
  ): Promise<'staged' | 'already' | 'lost'> {
    const b = held.batch;
    const batchRef = this.d.collections.batches.doc(b.batchId);
    const leaseRef = this.leaseRef(b.table, b.shard);
    const outcome = await this.d.db.runTransaction(async (tx) => {
      const [lease, cur] = await tx.getAll(leaseRef, batchRef);
      // Guard flush.lease-owner: a holder whose lease was taken over stages nothing (its read may be of
      // other rows: the taker-over may have staged and deleted this batch's rows already).
      if (guardOn('flush.lease-owner') && !this.holds(lease!, held)) return 'lost' as const;
      if (!cur!.exists)
        throw new StreamjoinError('internal', `batch ${b.batchId} is gone while its lease is held`);
      if ((cur!.get('status') as string) !== 'claimed') return 'already' as const;
      const now = this.now();
      tx.update(batchRef, {
        status: 'staged',
        files: w.files.map(serializeStats),
        rowCount: w.rowCount,
        last: w.last,
        rowIds: w.rowIds,
        stagedAt: Timestamp.fromMillis(now),
      });
      tx.update(leaseRef, { leaseUntil: Timestamp.fromMillis(now + this.d.leaseMs) });
      held.renewedAt = now;
      return 'staged' as const;
    });
    this.d.counter.reads += 2;
    if (outcome === 'staged') this.d.counter.writes += 2;
    return outcome;
  }

  /**
   * Extends our lease when a third of it has passed (a long batch keeps its lease); throws LeaseLost when
   * the lease is no longer ours — the taker-over owns the batch now.
   */
  private async keepLease(held: Held): Promise<void> {
    const now = this.now();
    if (now - held.renewedAt < this.d.leaseMs / 3) return;
    const b = held.batch;
    const leaseRef = this.leaseRef(b.table, b.shard);
    const mine = await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      const ours = this.holds(lease, held);
      if (ours) tx.update(leaseRef, { leaseUntil: Timestamp.fromMillis(now + this.d.leaseMs) });
      return ours;
    });
    this.d.counter.reads++;
    if (mine) this.d.counter.writes++;
    // Guard flush.lease-owner (as in stage): a holder that lost its lease stops before writing more.
    else if (guardOn('flush.lease-owner')) throw new LeaseLost(`lease of ${b.batchId} taken over`);
    held.renewedAt = now;
  }

  /** Streams the batch's rows from Firestore into one Parquet writer per partition day. */
  private async writeFiles(held: Held): Promise<{
    files: DataFileStats[];
    last: { createdAt: Timestamp; id: string } | null;
    rowCount: number;
    ids: string[];
    rowIds: string;
  }> {
    const b = held.batch;
    // Document ids only (not snapshots or references): a 200,000-row batch keeps ~15 MB here.
    const ids: string[] = [];
    const all = new RowIdDigest();
    const def = (this.d.tables ?? TABLES)[b.table];
    const layout = await this.layoutFor(b.table);
    const writers = new Map<
      string,
      { channel: Channel<Row>; digest: RowIdDigest; done: Promise<DataFileStats> }
    >();
    let last: { createdAt: Timestamp; id: string } | null = null;
    let rowCount = 0;
    let cursor: DocumentSnapshot | undefined;
    try {
      while (rowCount < b.maxRows) {
        await this.keepLease(held);
        let q = this.rangeQuery(b).limit(Math.min(PAGE, b.maxRows - rowCount));
        if (cursor !== undefined) q = q.startAfter(cursor);
        const page = await q.get();
        this.d.counter.reads += Math.max(1, page.size);
        if (page.empty) break;
        for (const doc of page.docs) {
          const stored = doc.get('row') as Record<string, unknown>;
          const rowId = doc.get('rowId') as string;
          const row = outboxToRow(def, stored);
          // One file per partition of the table's spec (by default: per day of the partition source).
          const tuple = layout?.fileSchema.partition.of(row);
          const key = tuple === undefined ? String(dayOf(def, stored)) : tuple.key;
          let w = writers.get(key);
          if (w === undefined) {
            const channel = new Channel<Row>(2048);
            const digest = new RowIdDigest();
            const tableUri = this.d.tableUris[b.table];
            const uri =
              layout === undefined || tuple === undefined
                ? dataFileUri(tableUri, def, b.batchId, dayOf(def, stored))
                : layoutFileUri(tableUri, layout, b.batchId, tuple);
            w = {
              channel,
              digest,
              done: this.d.writeDataFile(
                uri,
                layout?.fileSchema ?? def,
                channel,
                () => digest.digest(),
                layout?.writer,
              ),
            };
            w.done.catch(() => {}); // observed below
            writers.set(key, w);
          }
          w.digest.add(rowId);
          all.add(rowId);
          await w.channel.push(row);
          last = { createdAt: doc.get('createdAt') as Timestamp, id: rowId };
          ids.push(doc.id);
          rowCount++;
        }
        cursor = page.docs[page.docs.length - 1];
        if (page.size < PAGE) break;
        await this.point('flush.after-page', b.batchId);
      }
    } catch (err) {
      for (const w of writers.values()) w.channel.close(err);
      await Promise.allSettled([...writers.values()].map((w) => w.done));
      throw err;
    }
    for (const w of writers.values()) w.channel.close();
    const files = await Promise.all([...writers.values()].map((w) => w.done));
    return {
      files: files.sort((x, y) => (x.uri < y.uri ? -1 : 1)),
      last,
      rowCount,
      ids,
      rowIds: all.digest(),
    };
  }

  /** Deletes the rows this attempt staged (no second read). */
  private async deleteIds(held: Held, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_DELETE_BATCH) {
      const batch = this.d.db.batch();
      const part = ids.slice(i, i + MAX_DELETE_BATCH);
      for (const id of part) batch.delete(this.d.collections.outbox.doc(id));
      await batch.commit();
      this.d.counter.deletes += part.length;
      await this.point('flush.during-delete', held.batch.batchId);
      // These rows are staged, so deleting them stays right even if the lease is taken over meanwhile.
      await this.keepLease(held).catch((err) => {
        if (!(err instanceof LeaseLost)) throw err;
      });
    }
  }

  /** After a takeover of a staged batch: delete what is left of its staged range. */
  private async deleteRange(
    held: Held,
    b: BatchDoc & { last: { createdAt: Timestamp; id: string } },
  ): Promise<void> {
    for (;;) {
      const page = await this.rangeQuery(b).limit(MAX_DELETE_BATCH).select().get();
      this.d.counter.reads += Math.max(1, page.size);
      if (page.empty) return;
      const batch = this.d.db.batch();
      for (const doc of page.docs) batch.delete(doc.ref);
      await batch.commit();
      this.d.counter.deletes += page.size;
      await this.point('flush.during-delete', b.batchId);
      await this.keepLease(held).catch((err) => {
        if (!(err instanceof LeaseLost)) throw err;
      });
      if (page.size < MAX_DELETE_BATCH) return;
    }
  }

  /** Marks our lease as lapsed (the batch stays; the next tick takes it over). */
  private async expireLease(held: Held): Promise<void> {
    const b = held.batch;
    const leaseRef = this.leaseRef(b.table, b.shard);
    await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      if (this.holds(lease, held)) tx.update(leaseRef, { leaseUntil: Timestamp.fromMillis(0) });
    });
  }

  /** Frees the lease for the next batch of the shard — only if this attempt still holds it. */
  private async release(held: Held): Promise<void> {
    const b = held.batch;
    const leaseRef = this.leaseRef(b.table, b.shard);
    await this.d.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      // Guard flush.release-owner: freeing a lease another attempt holds would let a new batch of the
      // shard claim rows that attempt has staged but not deleted yet (rows in two batches).
      const ours = guardOn('flush.release-owner')
        ? this.holds(lease, held)
        : lease.exists && lease.get('batchId') === b.batchId;
      if (ours) tx.update(leaseRef, { batchId: null, leaseUntil: null, owner: null });
    });
    this.d.counter.reads++;
    this.d.counter.writes++;
  }
}

/** One error for the failed shard jobs of a flushAll, naming each; retryable if any failure is. */
function flushFailure(failures: readonly ShardFailure[], jobs: number): StreamjoinError {
  const first = failures[0]!.error;
  const retryable = failures.some((f) => !(f.error instanceof StreamjoinError) || f.error.retryable);
  const kind = first instanceof StreamjoinError ? first.kind : 'unavailable';
  const what = failures
    .map((f) => `${f.table}/${f.shard}: ${f.error instanceof Error ? f.error.message : String(f.error)}`)
    .join('; ');
  return new StreamjoinError(kind, `flush failed for ${failures.length} of ${jobs} shard jobs: ${what}`, {
    context: { failedShards: failures.map((f) => `${f.table}/${f.shard}`) },
    cause: first,
    retryable,
  });
}
