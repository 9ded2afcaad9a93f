// Benchmark: the cost of reconciliation — list calls, seconds and Firestore reads to check N input objects
// against the ledger — on the local GCS server (the real @google-cloud/storage client over HTTP) and the
// Firestore emulator. N objects in today's folders, 1 % of them without a ledger entry (their event
// "never came"): the run must find and ingest exactly those.
//
//   npx node bench/reconcile.ts [--quick]     (starts its own emulator)
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRC32C } from '@google-cloud/storage';
import { resetFirestoreEmulator, startFirestoreEmulator } from '../infra/local/firestore-emulator.ts';
import { startGcsServer } from '../infra/local/gcs-server/index.ts';
import { ObjectStore } from '../infra/local/gcs-server/object-store.ts';
import { freePort } from '../infra/local/processes.ts';
import { loadConfig } from '../shared/config.ts';
import { collections, createFirestore } from '../shared/firestore/client.ts';
import { ledgerOutcome, ledgerRef } from '../shared/firestore/ledger.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { createLogger } from '../shared/log.ts';
import { dayFolderOf, reconcileObjects } from '../shared/pipeline/reconcile.ts';
import { createStorageClient } from '../shared/storage/index.ts';
import { createInputLister, openInputObject } from '../shared/storage/input-objects.ts';
import { type BenchFigure, round } from './support.ts';

export async function runReconcileBench(
  options: { emulatorHost?: string; quick?: boolean; log?: (line: string) => void } = {},
): Promise<{ figures: BenchFigure[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const n = options.quick === true ? 20_000 : 100_000;
  const missingEvery = 100;
  const dir = await mkdtemp(path.join(tmpdir(), 'streamjoin-bench-reconcile-'));
  let emulator: Awaited<ReturnType<typeof startFirestoreEmulator>> | undefined;
  let gcs: Awaited<ReturnType<typeof startGcsServer>> | undefined;
  const project = `bench-reconcile-${Date.now().toString(36)}`;
  try {
    let host = options.emulatorHost;
    if (host === undefined) {
      emulator = await startFirestoreEmulator({
        port: await freePort(),
        logFile: path.join(dir, 'firestore.log'),
      });
      host = emulator.host;
    }
    // The objects are put in place through the server's own store (uploading 100,000 objects over HTTP
    // would only measure uploads); the run then lists them through the real client over HTTP.
    const bucket = 'file-stream-bucket';
    const day = dayFolderOf('YYYY_MM_DD', Date.now());
    const store = await ObjectStore.open(path.join(dir, 'gcs'));
    await store.createBucket({ name: bucket, projectId: project });
    const t0 = performance.now();
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const kind = i % 2 === 0 ? 'orders' : 'payments';
      const name = `stream/${kind}/${day}/${kind.slice(0, -1)}_${i}_1764072000000.json`;
      const body = Buffer.from(
        kind === 'orders'
          ? JSON.stringify({
              order_id: `b-${i}`,
              order_date: 'd',
              created_at: 'c',
              customer_id: 'x',
              amount: 1,
            })
          : JSON.stringify({
              payment_id: `bp-${i}`,
              order_id: `b-${i - 1}`,
              payment_date: 'd',
              created_at: 'c',
              amount: 1,
            }),
      );
      const temp = store.tempPath();
      await writeFile(temp, body);
      const crc = new CRC32C();
      crc.update(body);
      await store.commitObject({
        bucket,
        name,
        tempPath: temp,
        size: body.length,
        md5Hash: createHash('md5').update(body).digest('base64'),
        crc32c: crc.toString(),
        fields: { contentType: 'application/json' },
        preconditions: {},
      });
      names.push(name);
    }
    await store.close();
    log(`placed ${n} objects in ${round((performance.now() - t0) / 1000, 1)} s`);
    gcs = await startGcsServer({ dataDir: path.join(dir, 'gcs'), port: 0, logLevel: 'silent' });
    const config = loadConfig({
      GOOGLE_CLOUD_PROJECT: project,
      FIRESTORE_EMULATOR_HOST: host,
      STORAGE_EMULATOR_HOST: gcs.url,
      STREAMJOIN_WAREHOUSE: `file://${dir}/warehouse/`,
      METADATA_SERVER_DETECTION: 'none',
    });
    const db = createFirestore(config);
    const cols = collections(db, config.collectionPrefix);
    const storage = createStorageClient({ projectId: project, emulatorHost: gcs.url });
    const lister = createInputLister(storage);
    try {
      // Every object but 1 % is in the ledger (as ingest would have left it).
      const all = [];
      for (const prefix of [`stream/orders/${day}/`, `stream/payments/${day}/`]) {
        let token: string | undefined;
        do {
          const page = await lister(bucket, prefix, token);
          all.push(...page.objects);
          token = page.nextPageToken;
        } while (token !== undefined);
      }
      const now = Date.now();
      for (let i = 0; i < all.length; i += 500) {
        const batch = db.batch();
        for (const [j, o] of all.slice(i, i + 500).entries()) {
          if ((i + j) % missingEvery === 0) continue;
          batch.set(
            ledgerRef(cols, o),
            ledgerOutcome(
              o,
              'ingested',
              { records: 1, rejected: 0, via: 'event' },
              now,
              config.ledgerRetentionMs,
            ),
          );
        }
        await batch.commit();
      }
      const expectedMissing = Math.ceil(all.length / missingEvery);
      const counter = new OpCounter();
      const r = await reconcileObjects(
        {
          db,
          collections: cols,
          counter,
          config,
          log: createLogger({ level: 'silent' }),
          listObjects: lister,
          openObject: (o) => openInputObject(storage, o),
        },
        { scope: { kind: 'recent', days: 1, graceMs: 0 }, via: 'reconcile', useWatermark: true },
      );
      if (r.missing.length !== expectedMissing || r.ingested !== expectedMissing || r.failed.length > 0) {
        throw new Error(
          `expected reconcile to find and ingest ${expectedMissing} objects, but it found ${r.missing.length}, ingested ${r.ingested}, failed ${r.failed.length}`,
        );
      }
      const per100k = 100_000 / r.listed;
      const cond = `${r.listed.toLocaleString('en')} one-event objects in today's folders of both prefixes on the local GCS server (listed through @google-cloud/storage over HTTP, 1,000 per call), ${expectedMissing} of them (1 %) without a ledger entry and ingested by the run; Firestore emulator; scaled to 100,000 objects`;
      log(
        `reconcile: ${r.listCalls} list calls, list ${round(r.listMs / 1000, 2)} s, list + ledger check ${round(r.checkedMs / 1000, 2)} s, ingest of ${r.ingested} ${round((r.elapsedMs - r.checkedMs) / 1000, 2)} s; ${counter.reads} reads`,
      );
      const listCalls = r.listCalls * per100k;
      return {
        figures: [
          {
            name: 'reconcile: list calls per 100,000 objects',
            value: round(listCalls, 1),
            unit: 'calls',
            goal: '≤ 102 (one per 1,000 objects, + a partial page per folder)',
            meets: listCalls <= 102,
            conditions: cond,
          },
          {
            name: 'reconcile: seconds to list 100,000 objects',
            value: round((r.listMs / 1000) * per100k, 2),
            unit: 's',
            conditions: cond,
          },
          {
            name: 'reconcile: seconds to list and check 100,000 objects against the ledger',
            value: round((r.checkedMs / 1000) * per100k, 2),
            unit: 's',
            conditions: cond,
          },
          {
            name: 'reconcile: Firestore reads per object checked (first check; later runs read only objects landed since)',
            value: round((counter.reads - r.ingested * 2) / r.listed, 3),
            unit: 'reads',
            conditions: `${cond}; the reads of the ${r.ingested} ingests (state + ledger, 2 each) left out`,
          },
        ],
      };
    } finally {
      await db.terminate();
      if (options.emulatorHost !== undefined)
        await resetFirestoreEmulator(options.emulatorHost, project).catch(() => undefined);
    }
  } finally {
    await gcs?.close();
    await emulator?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { figures } = await runReconcileBench({ quick: process.argv.includes('--quick') });
  for (const f of figures)
    console.log(
      `${f.name}: ${f.value} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.meets ? 'met' : 'NOT met'})` : ''}`,
    );
}
