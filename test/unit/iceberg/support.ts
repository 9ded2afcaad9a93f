// Test helpers for the Iceberg tests (not a test file): a temp file:// warehouse, Parquet data files
// written by the project's writer, joined rows, and an ObjectStore wrapper that injects failures.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { StreamjoinError } from '../../../shared/errors.ts';
import { encodeDataFile } from '../../../shared/parquet/index.ts';
import { FileObjectStore } from '../../../shared/storage/file-store.ts';
import type { ObjectInfo, ObjectStore, WriteOptions } from '../../../shared/storage/port.ts';
import { joinUri } from '../../../shared/storage/port.ts';
import type { DataFileStats, Row, TableDef } from '../../../shared/tables.ts';

export const MICROS_PER_DAY = 86_400_000_000n;
/** 2024-05-01T00:00:00Z in epoch microseconds. */
export const DAY0_MICROS = 1_714_521_600_000_000n;

export interface TempWarehouse {
  readonly dir: string;
  readonly uri: string;
  cleanup(): Promise<void>;
}

export async function tempWarehouse(): Promise<TempWarehouse> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iceberg-test-'));
  return { dir, uri: `file://${dir}`, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function joinedRow(n: number, joinedAtMicros: bigint): Row {
  return {
    order_id: `o-${n}`,
    order_date: '2024-05-01',
    created_at: '2024-05-01T10:00:00',
    customer_id: `c-${n % 7}`,
    order_amount: n,
    payment_id: `p-${n}`,
    payment_date: '2024-05-01',
    payment_amount: n * 2,
    joined_at: joinedAtMicros,
  };
}

/** `count` joined rows numbered from `first`, all on day `day` (days after DAY0). */
export function joinedRows(first: number, count: number, day = 0): Row[] {
  return Array.from({ length: count }, (_, i) =>
    joinedRow(first + i, DAY0_MICROS + BigInt(day) * MICROS_PER_DAY + BigInt(i) * 1_000_000n),
  );
}

/** Writes rows as one Parquet data file under `<table>/data/` and returns its stats. */
export async function writeDataFileOf(
  store: ObjectStore,
  tableLocation: string,
  def: TableDef,
  rows: readonly Row[],
): Promise<DataFileStats> {
  const uri = joinUri(tableLocation, 'data', `${randomUUID()}.parquet`);
  const file = encodeDataFile(rows, def);
  await store.writeStream(uri, file, { ifAbsent: true });
  const { rowGroupCount: _, ...stats } = await file.stats;
  return { uri, ...stats };
}

export type WriteFault = 'fail-before' | 'fail-after';

/** An ObjectStore that fails chosen writes: before the write (nothing stored) or after it (stored, but the caller sees an error). */
export class FaultyStore implements ObjectStore {
  readonly inner: ObjectStore;
  readonly writes: string[] = [];
  private rules: { match: RegExp; fault: WriteFault; remaining: number }[] = [];

  constructor(inner: ObjectStore = new FileObjectStore()) {
    this.inner = inner;
  }

  failWrites(match: RegExp, fault: WriteFault, times = 1): void {
    this.rules.push({ match, fault, remaining: times });
  }

  private pick(uri: string): WriteFault | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && r.match.test(uri));
    if (rule === undefined) return undefined;
    rule.remaining--;
    return rule.fault;
  }

  private static error(uri: string): StreamjoinError {
    return new StreamjoinError('unavailable', `injected write failure for ${uri}`, { context: { uri } });
  }

  read = (uri: string) => this.inner.read(uri);
  readRange = (uri: string, s: number, e: number) => this.inner.readRange(uri, s, e);
  openRead = (uri: string) => this.inner.openRead(uri);
  stat = (uri: string) => this.inner.stat(uri);
  list = (prefix: string) => this.inner.list(prefix);
  delete = (uri: string) => this.inner.delete(uri);

  async write(uri: string, data: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> {
    const fault = this.pick(uri);
    if (fault === 'fail-before') throw FaultyStore.error(uri);
    const info = await this.inner.write(uri, data, options);
    this.writes.push(uri);
    if (fault === 'fail-after') throw FaultyStore.error(uri);
    return info;
  }

  async writeStream(
    uri: string,
    source: AsyncIterable<Uint8Array> | import('node:stream').Readable,
    options?: WriteOptions,
  ): Promise<ObjectInfo> {
    const fault = this.pick(uri);
    if (fault === 'fail-before') throw FaultyStore.error(uri);
    const info = await this.inner.writeStream(uri, source, options);
    this.writes.push(uri);
    if (fault === 'fail-after') throw FaultyStore.error(uri);
    return info;
  }
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** URIs the table reaches that do not exist (must be none). */
export async function missingReachableFiles(
  table: import('../../../shared/iceberg/table.ts').Table,
): Promise<string[]> {
  const { reachableFiles } = await import('../../../shared/iceberg/maintenance.ts');
  const missing: string[] = [];
  for (const uri of await reachableFiles(table)) {
    if (uri.endsWith('version-hint.text')) continue;
    if ((await table.store.stat(uri)) === undefined) missing.push(uri);
  }
  return missing;
}

/** How many snapshots of the table's history list each batch id. */
export function batchIdCounts(table: import('../../../shared/iceberg/table.ts').Table): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of table.metadata.snapshots) {
    const v = s.summary['streamjoin.batch-ids'];
    for (const id of v === undefined ? [] : v.split(',')) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** The table's history is one chain: every snapshot but the first has the previous as parent, sequence numbers strictly increase. */
export function assertLinearHistory(table: import('../../../shared/iceberg/table.ts').Table): void {
  const snaps = [...table.metadata.snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
  for (let i = 1; i < snaps.length; i++) {
    const prev = snaps[i - 1]!;
    const cur = snaps[i]!;
    if (cur.parentSnapshotId !== prev.snapshotId) {
      throw new Error(
        `expected snapshot ${cur.snapshotId} to have parent ${prev.snapshotId}, but was ${cur.parentSnapshotId}`,
      );
    }
    if (!(cur.sequenceNumber > prev.sequenceNumber))
      throw new Error('expected strictly increasing sequence numbers');
  }
  const last = snaps.at(-1);
  if (last !== undefined && table.metadata.currentSnapshotId !== last.snapshotId) {
    throw new Error('expected main to point at the newest snapshot');
  }
}
