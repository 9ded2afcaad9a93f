// Ingest bookkeeping against the real emulator and the local GCS server: a large file's `done` flag is
// never cleared by a slower concurrent delivery; an object deleted while it is being read is reported
// with exactly what was ingested, and is not retried; the bookkeeping documents that would otherwise
// grow without bound (file progress, committed batches) carry the Firestore TTL field that deploy
// enables for their collections.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Timestamp } from '@google-cloud/firestore';
import { parseFirestoreIndexes } from '../../infra/gcp/indexes.ts';
import { docIdFor } from '../../shared/firestore/client.ts';
import { runCompact } from '../../shared/pipeline/compact.ts';
import { type IngestDeps, type InputObject, ingestObject } from '../../shared/pipeline/ingest.ts';
import { createFlusher, type TickDeps } from '../../shared/pipeline/tick.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

let h: Harness;
before(async () => {
  h = await createHarness('ingest-progress');
});
after(() => h.close());
afterEach(() => h.fs.reset());

const fileKey = (o: InputObject) => `${o.bucket}/${o.name}#${o.generation}`;
const progress = async (o: InputObject) => (await h.collections.files.doc(docIdFor(fileKey(o))).get()).data();
const stateCount = async () => (await h.collections.states.count().get()).data().count;

/** A JSON Lines file of n orders above 1 MiB (large files keep a progress document). */
function bigOrders(prefix: string, n: number): string {
  const body = Array.from({ length: n }, (_, i) =>
    JSON.stringify(order(`${prefix}${i}`, { customer_id: `customer-${'x'.repeat(160)}` })),
  ).join('\n');
  assert.ok(body.length > 1 << 20, 'large enough for a progress document');
  return body;
}

describe('ingest: progress of a large file', () => {
  it('a slower concurrent delivery does not clear the done flag of a file another delivery finished', async () => {
    const obj = await h.upload('stream/orders/big/o.jsonl', bigOrders('D', 5000));
    const first = Promise.withResolvers<void>();
    // Delivery B reads the progress (not done yet), then its bytes arrive only after delivery A is done;
    // B's time budget runs out after its first chunk (each reading of its clock advances it 600 ms).
    let calls = 0;
    const gated: IngestDeps = {
      ...h.ingestDeps(),
      config: { ...h.config, ingestTimeBudgetMs: 1000 },
      now: () => h.clock + 600 * calls++,
      openObject: (o) => {
        const out = new PassThrough();
        void first.promise.then(() => h.ingestDeps().openObject(o).pipe(out));
        return out;
      },
    };
    // B stops at its deadline: on the budget check after a chunk, or — its bytes still held back when its
    // time budget ran out — asking for a retry (or finding that A finished the file); never quarantined.
    const b = ingestObject(gated, obj).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    const a = await h.ingest(obj);
    assert.equal(a.records, 5000);
    assert.equal((await progress(obj))?.['done'], true);
    first.resolve();
    assert.match(await b, /time budget|^already-done$/);
    assert.deepEqual(await h.rejects(), []);
    assert.equal((await progress(obj))?.['done'], true, 'still done after the slower delivery');
    const again = await h.ingest(obj);
    assert.equal(again.status, 'already-done', 'a redelivery reads nothing again');
    assert.equal(await stateCount(), 5000);
    // Every write of the file's entry (progress, then the ledger's outcome) carries the TTL field: one
    // ledger retention after the write.
    const p = (await progress(obj))!;
    assert.equal(p['outcome'], 'ingested');
    assert.equal(
      (p['expireAt'] as Timestamp | undefined)?.toMillis(),
      (p['updatedAt'] as Timestamp).toMillis() + h.config.ledgerRetentionMs,
    );
  });
});

describe('ingest: an object deleted while it is being read', () => {
  const n = 3000;
  const body = Array.from({ length: n }, (_, i) => JSON.stringify(order(`G${i}`))).join('\n');
  // The first 1,800 whole lines arrive, then the object is deleted and the rest of the read fails (404).
  const cut = body.split('\n').slice(0, 1800).join('\n').length + 1;

  /** Reads bytes [0, cut) of the object, deletes it, then asks for the rest: the real client's 404. */
  function deletedMidRead(): IngestDeps {
    return {
      ...h.ingestDeps(),
      openObject: (o) =>
        Readable.from(
          (async function* () {
            const file = h.storage.bucket(o.bucket).file(o.name, { generation: Number(o.generation) });
            yield* file.createReadStream({ start: 0, end: cut - 1, decompress: false });
            await file.delete();
            yield* file.createReadStream({ start: cut, decompress: false });
          })(),
        ),
    };
  }

  it('reports exactly which records were ingested, and succeeds (the generation can never be read again)', async () => {
    const obj = await h.upload('stream/orders/gone/o.jsonl', body);
    const r = await ingestObject(deletedMidRead(), obj);
    const rejects = await h.rejects();
    assert.equal(rejects.length, 1);
    assert.match(
      String(rejects[0]!['message']),
      /deleted or overwritten while being read \(404 before record 1800\): records 0–1799 were ingested/,
    );
    assert.equal(rejects[0]!['code'], 'object-gone');
    assert.equal(rejects[0]!['ordinal'], 1800);
    assert.equal(r.status, 'ingested');
    assert.equal(r.records, 1800);
    assert.equal(r.unreadFrom, 1800);
    assert.equal(await stateCount(), 1800, 'every record read before the 404 is ingested');
    // The ledger records the generation as ingested, up to the record where reading stopped.
    const entry = (await progress(obj))!;
    assert.equal(entry['outcome'], 'ingested');
    assert.equal(entry['records'], 1800);
    assert.equal(entry['unreadFrom'], 1800);
    // A redelivery is recognised whole by the ledger: it changes nothing, and the first delivery's account
    // (one quarantine entry, at the record where it stopped) stands.
    const again = await h.ingest(obj);
    assert.equal(again.status, 'already-done');
    assert.equal((await h.rejects()).length, 1);
  });

  it('a generation gone before anything was read is quarantined as ingesting nothing', async () => {
    const obj = await h.upload('stream/orders/gone/never.jsonl', body);
    await h.storage.bucket(obj.bucket).file(obj.name).delete();
    const r = await h.ingest(obj);
    assert.equal(r.status, 'rejected-file');
    assert.equal(r.records, 0);
    const [rej] = await h.rejects();
    assert.match(
      String(rej!['message']),
      /no longer exists \(404\) when record 0 was to be read: this delivery ingested nothing$/,
    );
    assert.equal((await progress(obj))?.['outcome'], 'quarantined');
  });
});

describe('ingest: committed batches are kept for a retention, not forever', () => {
  it('a committed batch carries the TTL field, and deploy enables TTL on it and on file progress', async () => {
    const put = async (name: string, lines: unknown[]) =>
      h.ingest(await h.upload(name, lines.map((l) => JSON.stringify(l)).join('\n')));
    await put('stream/orders/c/o.jsonl', [order('C1'), order('C2')]);
    await put('stream/payments/c/p.jsonl', [payment('c1', 'C1'), payment('c2', 'C2')]);
    const deps: TickDeps = {
      ...h.tickDeps(new FileObjectStore()),
      now: () => h.clock,
    };
    await createFlusher(deps).flushAll();
    await runCompact(deps, { maintenance: false });
    const batches = (await h.collections.batches.get()).docs.map((d) => d.data());
    assert.ok(batches.length > 0);
    for (const b of batches) {
      assert.equal(b['status'], 'committed');
      assert.equal(
        (b['expireAt'] as Timestamp | undefined)?.toMillis(),
        h.clock + h.config.tombstoneRetentionMs,
      );
    }
    const indexes = parseFirestoreIndexes(await readFile('firestore.indexes.json', 'utf8'));
    const ttl = indexes.fieldOverrides.filter((f) => f.ttl).map((f) => `${f.collectionGroup}.${f.fieldPath}`);
    for (const c of [h.collections.batches, h.collections.files, h.collections.states]) {
      assert.ok(ttl.includes(`${c.id}.expireAt`), `deploy enables TTL on ${c.id}.expireAt`);
    }
  });
});
