// A pipeline harness for integration tests: the real Firestore emulator (a project of the test's own),
// the local GCS server in-process (a temp data dir), the real Storage client, and the core's deps.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { type GcsServer, startGcsServer } from '../../infra/local/gcs-server/index.ts';
import { type Config, loadConfig } from '../../shared/config.ts';
import { type Collections, collections } from '../../shared/firestore/client.ts';
import { OpCounter } from '../../shared/firestore/op-counter.ts';
import type { JoinState } from '../../shared/join/state-machine.ts';
import { createLogger } from '../../shared/log.ts';
import { runCompact } from '../../shared/pipeline/compact.ts';
import { type IngestDeps, type InputObject, ingestObject } from '../../shared/pipeline/ingest.ts';
import { createFlusher, type TickDeps } from '../../shared/pipeline/tick.ts';
import { createStorageClient, readStreamOf } from '../../shared/storage/gcs-store.ts';
import type { ObjectStore } from '../../shared/storage/port.ts';
import { type TestFirestore, testFirestore } from './firestore.ts';

export interface Harness {
  readonly fs: TestFirestore;
  readonly gcs: GcsServer;
  readonly storage: Storage;
  readonly config: Config;
  readonly collections: Collections;
  readonly counter: OpCounter;
  readonly dir: string;
  /** Test clock (epoch ms) used by the core as its processing time. */
  clock: number;
  /**
   * Uploads an object and returns it as ingest sees it. Its landing time is the test clock at upload (or
   * `landedAtMs`), not the local server's real timeCreated, so a test places objects in time; tests of the
   * landing time itself read timeCreated (`realLanding: true`).
   */
  upload(
    name: string,
    content: string | Buffer,
    options?: { contentEncoding?: string; landedAtMs?: number; realLanding?: boolean },
  ): Promise<InputObject>;
  ingestDeps(): IngestDeps;
  /** The tick's and compact's deps on this harness's Firestore, with `store` and `config` (default its own). */
  tickDeps(store: ObjectStore, config?: Config): TickDeps;
  ingest(obj: InputObject): ReturnType<typeof ingestObject>;
  outbox(): Promise<Array<{ id: string; table: string; row: Record<string, unknown> }>>;
  state(orderId: string): Promise<JoinState | undefined>;
  rejects(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function createHarness(label: string, env: Record<string, string> = {}): Promise<Harness> {
  const fs = testFirestore(label);
  const dir = await mkdtemp(path.join(tmpdir(), `sj-${label}-`));
  const gcs = await startGcsServer({ dataDir: path.join(dir, 'gcs'), port: 0, logLevel: 'silent' });
  const storage = createStorageClient({ projectId: fs.projectId, emulatorHost: gcs.url });
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: fs.projectId,
    STREAMJOIN_WAREHOUSE: `file://${dir}/warehouse/`,
    FIRESTORE_EMULATOR_HOST: fs.host,
    STORAGE_EMULATOR_HOST: gcs.url,
    ...env,
  });
  await storage.createBucket(config.inputBucket);
  const cols = collections(fs.db, config.collectionPrefix);
  const counter = new OpCounter();
  const log = createLogger({ level: 'silent' });
  const h: Harness = {
    fs,
    gcs,
    storage,
    config,
    collections: cols,
    counter,
    dir,
    clock: Date.UTC(2026, 10, 25, 12, 0, 0),
    async upload(name, content, options = {}) {
      const file = storage.bucket(config.inputBucket).file(name);
      await file.save(typeof content === 'string' ? Buffer.from(content) : content, {
        resumable: false,
        ...(options.contentEncoding === undefined
          ? {}
          : { metadata: { contentEncoding: options.contentEncoding } }),
      });
      const [m] = await file.getMetadata();
      return {
        bucket: config.inputBucket,
        name,
        generation: String(m.generation),
        landedAtMs:
          options.realLanding === true ? Date.parse(String(m.timeCreated)) : (options.landedAtMs ?? h.clock),
        size: Number(m.size),
        ...(m.contentEncoding === undefined ? {} : { contentEncoding: m.contentEncoding }),
      };
    },
    ingestDeps() {
      return {
        db: fs.db,
        collections: cols,
        counter,
        config,
        log,
        now: () => h.clock,
        openObject: (o) =>
          readStreamOf(storage.bucket(o.bucket).file(o.name, { generation: Number(o.generation) }), {
            decompress: false,
          }),
      };
    },
    tickDeps(store, tickConfig = config) {
      return { db: fs.db, collections: cols, counter, store, config: tickConfig, log };
    },
    ingest(obj) {
      return ingestObject(h.ingestDeps(), obj);
    },
    async outbox() {
      const snap = await cols.outbox.get();
      return snap.docs
        .map((d) => ({
          id: d.get('rowId') as string,
          table: d.get('table') as string,
          row: d.get('row') as Record<string, unknown>,
        }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async state(orderId) {
      const { docIdFor } = await import('../../shared/firestore/client.ts');
      const snap = await cols.states.doc(docIdFor(orderId)).get();
      return snap.exists ? (snap.get('s') as JoinState) : undefined;
    },
    async rejects() {
      const snap = await cols.rejects.get();
      return snap.docs.map((d) => d.data());
    },
    async close() {
      await gcs.close();
      await fs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export const order = (id: string, extra: Record<string, unknown> = {}) => ({
  order_id: id,
  order_date: '2026-11-25T12:00:00',
  created_at: '2026-11-25T12:00:00',
  customer_id: `cust-${id}`,
  amount: 100,
  ...extra,
});

export const payment = (id: string, orderId: string, extra: Record<string, unknown> = {}) => ({
  payment_id: id,
  order_id: orderId,
  payment_date: '2026-11-25T12:01:00',
  created_at: '2026-11-25T12:01:00',
  amount: 100,
  ...extra,
});

/** Flushes the joined table's outbox (up to 20 flushes, until one writes nothing), then commits it with
 *  runCompact; the rows flushed. */
export async function flushAndCommit(deps: TickDeps): Promise<number> {
  const flusher = createFlusher(deps);
  let rows = 0;
  for (let i = 0; i < 20; i++) {
    const r = await flusher.flushAll({ tables: ['joined'] });
    rows += r.rows;
    if (r.rows === 0) break;
  }
  await runCompact(deps, { tables: ['joined'] });
  return rows;
}
