// One behaviour suite for the storage port, run against every adapter: the local filesystem and
// GCS through the real @google-cloud/storage client talking to the local JSON-API server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startGcsServer } from '../../infra/local/gcs-server/index.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import {
  createStorageClient,
  FileObjectStore,
  GcsObjectStore,
  type ObjectStore,
} from '../../shared/storage/index.ts';

interface Adapter {
  name: string;
  setup(): Promise<{ store: ObjectStore; base: string; teardown(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'file://',
    async setup() {
      const dir = await mkdtemp(path.join(tmpdir(), 'sj-store-'));
      return {
        store: new FileObjectStore(),
        base: `file://${dir}/`,
        teardown: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'gs:// (local JSON-API server, real client)',
    async setup() {
      const dir = await mkdtemp(path.join(tmpdir(), 'sj-gcs-'));
      const server = await startGcsServer({ dataDir: dir, port: 0 });
      const storage = createStorageClient({ projectId: 'test-store', emulatorHost: server.url });
      await storage.createBucket('store-test');
      return {
        store: new GcsObjectStore(storage),
        base: 'gs://store-test/base/',
        teardown: async () => {
          await server.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const adapter of adapters) {
  describe(`ObjectStore behaviour: ${adapter.name}`, () => {
    let store: ObjectStore;
    let base: string;
    let teardown: () => Promise<void>;
    before(async () => {
      ({ store, base, teardown } = await adapter.setup());
    });
    after(() => teardown());

    it('writes and reads back whole objects and metadata', async () => {
      const uri = `${base}a/one.txt`;
      const written = await store.write(uri, 'hello world');
      assert.equal(written.size, 11);
      assert.equal((await store.read(uri)).toString(), 'hello world');
      const st = await store.stat(uri);
      assert.equal(st?.size, 11);
      assert.equal(st?.uri, uri);
      assert.ok(st!.updated.getTime() > Date.now() - 60_000);
    });

    it('overwrites by default and changes the generation', async () => {
      const uri = `${base}a/over.txt`;
      const g1 = (await store.write(uri, 'v1')).generation;
      const g2 = (await store.write(uri, 'v2')).generation;
      assert.notEqual(g1, g2);
      assert.equal((await store.read(uri)).toString(), 'v2');
    });

    it('reads a byte range [start, end)', async () => {
      const uri = `${base}a/range.bin`;
      await store.write(uri, Buffer.from('0123456789'));
      assert.equal((await store.readRange(uri, 2, 5)).toString(), '234');
      assert.equal((await store.readRange(uri, 7, 10)).toString(), '789');
      assert.equal((await store.readRange(uri, 4, 4)).length, 0);
    });

    it('streams writes and reads', async () => {
      const uri = `${base}s/stream.bin`;
      const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
      const st = await store.writeStream(uri, Readable.from(chunks));
      assert.equal(st.size, 500_000);
      const back = await collect(store.openRead(uri) as AsyncIterable<Buffer>);
      assert.deepEqual(Buffer.concat(back), Buffer.concat(chunks));
    });

    it('create-only write fails distinctly when the object exists', async () => {
      const uri = `${base}c/once.json`;
      await store.write(uri, '{"v":1}', { ifAbsent: true });
      await assert.rejects(
        store.write(uri, '{"v":2}', { ifAbsent: true }),
        (err: unknown) => err instanceof StreamjoinError && err.kind === 'already-exists' && !err.retryable,
      );
      assert.equal((await store.read(uri)).toString(), '{"v":1}');
    });

    it('of concurrent create-only writes of one name exactly one wins', async () => {
      const uri = `${base}c/race.json`;
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.write(uri, `writer-${i}`, { ifAbsent: true })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      for (const r of lost)
        assert.equal(((r as PromiseRejectedResult).reason as StreamjoinError).kind, 'already-exists');
      const winner = results.findIndex((r) => r.status === 'fulfilled');
      assert.equal((await store.read(uri)).toString(), `writer-${winner}`);
    });

    it('a replace conditional on the generation succeeds only at that generation', async () => {
      const uri = `${base}g/hint.text`;
      const first = await store.write(uri, '1');
      const second = await store.write(uri, '2', { ifGenerationMatch: first.generation });
      assert.notEqual(second.generation, first.generation);
      await assert.rejects(
        store.write(uri, '3', { ifGenerationMatch: first.generation }),
        (err: unknown) => err instanceof StreamjoinError && err.kind === 'conflict',
      );
      await assert.rejects(
        store.write(`${base}g/absent.text`, 'x', { ifGenerationMatch: first.generation }),
        (err: unknown) => err instanceof StreamjoinError && err.kind === 'conflict',
      );
      assert.equal((await store.read(uri)).toString(), '2');
      assert.deepEqual(
        (await collect(store.list(`${base}g/`))).map((o) => o.uri),
        [uri],
        'no lock or temp file is listed',
      );
    });

    it('of concurrent replaces conditional on one generation exactly one wins', async () => {
      const uri = `${base}g/race.text`;
      const start = await store.write(uri, 'start');
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.write(uri, `writer-${i}`, { ifGenerationMatch: start.generation }),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of results.filter((x) => x.status === 'rejected'))
        assert.equal(((r as PromiseRejectedResult).reason as StreamjoinError).kind, 'conflict');
      const winner = results.findIndex((r) => r.status === 'fulfilled');
      assert.equal((await store.read(uri)).toString(), `writer-${winner}`);
    });

    it('create-only streaming write fails distinctly when the object exists', async () => {
      const uri = `${base}c/stream-once.bin`;
      await store.writeStream(uri, Readable.from([Buffer.from('first')]), { ifAbsent: true });
      await assert.rejects(
        store.writeStream(uri, Readable.from([Buffer.from('second')]), { ifAbsent: true }),
        (err: unknown) => err instanceof StreamjoinError && err.kind === 'already-exists',
      );
      assert.equal((await store.read(uri)).toString(), 'first');
    });

    it('lists by prefix in lexicographic order, not by directory', async () => {
      for (const n of ['l/b.txt', 'l/a.txt', 'l/sub/c.txt', 'l2/d.txt', 'lx.txt'])
        await store.write(`${base}${n}`, n);
      const names = (await collect(store.list(`${base}l/`))).map((o) => o.uri.slice(base.length));
      assert.deepEqual(names, ['l/a.txt', 'l/b.txt', 'l/sub/c.txt']);
      const partial = (await collect(store.list(`${base}l`))).map((o) => o.uri.slice(base.length));
      assert.deepEqual(partial, ['l/a.txt', 'l/b.txt', 'l/sub/c.txt', 'l2/d.txt', 'lx.txt']);
      assert.deepEqual(await collect(store.list(`${base}nothing-here/`)), []);
    });

    it('stat of a missing object is undefined; read is not-found; delete is idempotent', async () => {
      const uri = `${base}missing/x.txt`;
      assert.equal(await store.stat(uri), undefined);
      await assert.rejects(
        store.read(uri),
        (err: unknown) => err instanceof StreamjoinError && err.kind === 'not-found',
      );
      await store.delete(uri);
      await store.write(uri, 'x');
      await store.delete(uri);
      assert.equal(await store.stat(uri), undefined);
    });

    it('reading a missing object as a stream errors', async () => {
      await assert.rejects(collect(store.openRead(`${base}missing/stream.txt`) as AsyncIterable<Buffer>));
    });
  });
}
