// The local GCS JSON-API server, driven by the real @google-cloud/storage client (apiEndpoint and
// STORAGE_EMULATOR_HOST styles), plus its Eventarc-like event delivery to tiny node:http sinks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Storage } from '@google-cloud/storage';
import { backoffMs, encodeHeaderValue } from '../../infra/local/gcs-server/delivery-queue.ts';
import { type GcsServer, type GcsServerOptions, startGcsServer } from '../../infra/local/gcs-server/index.ts';
import { dataPathFor } from '../../infra/local/gcs-server/object-store.ts';
import { downloadOf } from '../../shared/storage/gcs-store.ts';

const PROJECT = 'gcs-server-test';

interface Harness {
  dir: string;
  server: GcsServer;
  storage: Storage;
  restart(options?: Partial<GcsServerOptions>): Promise<void>;
}

/** A server on its own temp dir plus a client (no retries, so faults are visible); closed after the test. */
async function setup(t: TestContext, options: Partial<GcsServerOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sj-gcs-server-'));
  const start = (extra: Partial<GcsServerOptions>) =>
    startGcsServer({
      dataDir: dir,
      logLevel: 'silent',
      retryBaseMs: 20,
      closeGraceMs: 200,
      ...options,
      ...extra,
    });
  const h: Harness = {
    dir,
    server: await start({}),
    storage: undefined as unknown as Storage,
    async restart(extra = {}) {
      await h.server.close();
      h.server = await start(extra);
      h.storage = client(h.server.url);
    },
  };
  h.storage = client(h.server.url);
  t.after(async () => {
    await h.server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return h;
}

function client(url: string): Storage {
  return new Storage({ projectId: PROJECT, apiEndpoint: url, retryOptions: { autoRetry: false } });
}

interface SinkRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Sink {
  url: string;
  requests: SinkRequest[];
  close(): Promise<void>;
}

/** A tiny CloudEvent sink; `answer(n)` gives the status for the n-th request (1-based). */
async function startSink(
  t: TestContext,
  answer: (n: number) => number | Promise<number> = () => 204,
  port = 0,
): Promise<Sink> {
  const requests: SinkRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(await answer(requests.length)).end();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  t.after(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests, close };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** file.download(), as the pipeline reads objects (shared/storage/gcs-store.ts): same requests. */
const download = async (
  file: Parameters<typeof downloadOf>[0],
  options: Parameters<typeof downloadOf>[1] = {},
): Promise<[Buffer]> => [await downloadOf(file, options)];

async function errorCode(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return 'no error';
}

describe('local GCS server: JSON API through the real client', () => {
  it('creates a bucket, gets it, answers 409 on a second create and 404 for a missing one', async (t) => {
    const { storage } = await setup(t);
    const [bucket] = await storage.createBucket('created');
    assert.equal(bucket.name, 'created');
    const [meta] = await storage.bucket('created').getMetadata();
    assert.equal(meta.name, 'created');
    assert.equal(meta.kind, 'storage#bucket');
    assert.equal(await errorCode(storage.createBucket('created')), 409);
    assert.deepEqual(await storage.bucket('missing').exists(), [false]);
    assert.deepEqual(await storage.bucket('created').exists(), [true]);
    assert.equal(await errorCode(storage.bucket('missing').file('x').save('x', { resumable: false })), 404);
  });

  it('stores with multipart and resumable uploads and returns the object JSON with int64 as strings', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    const bucket = storage.bucket('bkt');
    const simple = bucket.file('dir/simple.json');
    await simple.save('{"a":1}', {
      resumable: false,
      contentType: 'application/json',
      metadata: { metadata: { k: 'v' } },
    });
    await bucket.file('dir/resumable.bin').save(Buffer.from([0, 1, 2, 255]));

    const res = await fetch(`${server.url}/storage/v1/b/bkt/o/${encodeURIComponent('dir/simple.json')}`);
    const json = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200);
    for (const key of ['generation', 'metageneration', 'size']) assert.equal(typeof json[key], 'string', key);
    assert.equal(json['kind'], 'storage#object');
    assert.equal(json['id'], `bkt/dir/simple.json/${json['generation']}`);
    assert.equal(json['size'], '7');
    assert.equal(json['contentType'], 'application/json');
    assert.deepEqual(json['metadata'], { k: 'v' });
    assert.equal(json['md5Hash'], createHash('md5').update('{"a":1}').digest('base64'));
    assert.equal(json['crc32c'], await crc32cOf('{"a":1}'));
    const [resumed] = await download(bucket.file('dir/resumable.bin'));
    assert.deepEqual([...resumed], [0, 1, 2, 255]);
  });

  it('accepts a resumable upload in several chunks (308 with Range between them)', async (t) => {
    const { storage } = await setup(t);
    await storage.createBucket('bkt');
    const data = Buffer.alloc(256 * 1024 * 3 + 1000, 7);
    data.write('start', 0);
    data.write('end', data.length - 3);
    const file = storage.bucket('bkt').file('chunked');
    await file.save(data, { chunkSize: 256 * 1024 });
    assert.ok((await download(file))[0].equals(data));
    assert.equal((await file.getMetadata())[0].size, String(data.length));
  });

  it('downloads whole objects with validated hashes, and corrupted bytes fail validation', async (t) => {
    const { storage, dir } = await setup(t);
    await storage.createBucket('bkt');
    const file = storage.bucket('bkt').file('data.txt');
    const content = 'the quick brown fox jumps over the lazy dog\n'.repeat(1000);
    await file.save(content);
    const [crcChecked] = await download(file, { validation: 'crc32c' });
    assert.equal(crcChecked.toString(), content);
    const [md5Checked] = await download(file, { validation: 'md5' });
    assert.equal(md5Checked.toString(), content);
    // Same length, different bytes, behind the server's back: the client must notice.
    const onDisk = path.join(dir, 'bkt', 'data.txt');
    await writeFile(onDisk, content.replace('quick', 'QUICK'));
    assert.equal(await errorCode(download(file)), 'CONTENT_DOWNLOAD_MISMATCH');
  });

  it('serves byte ranges with 206 (start-end, open end, suffix) and 416 past the end', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    const file = storage.bucket('bkt').file('r');
    await file.save('0123456789');
    assert.equal((await download(file, { start: 2, end: 5 }))[0].toString(), '2345');
    assert.equal((await download(file, { start: 7 }))[0].toString(), '789');
    const url = `${server.url}/storage/v1/b/bkt/o/r?alt=media`;
    const suffix = await fetch(url, { headers: { Range: 'bytes=-3' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers.get('content-range'), 'bytes 7-9/10');
    assert.equal(await suffix.text(), '789');
    const whole = await fetch(url);
    assert.match(whole.headers.get('x-goog-hash') ?? '', /^crc32c=[A-Za-z0-9+/=]{8},md5=[A-Za-z0-9+/=]{24}$/);
    assert.equal((await fetch(url, { headers: { Range: 'bytes=10-' } })).status, 416);
  });

  it('gets metadata, and exists() follows creation and deletion; deleting answers 204, then 404', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    const file = storage.bucket('bkt').file('m');
    assert.deepEqual(await file.exists(), [false]);
    await file.save('abc', { resumable: false });
    assert.deepEqual(await file.exists(), [true]);
    const [meta] = await file.getMetadata();
    assert.equal(meta.size, '3');
    assert.equal(meta.bucket, 'bkt');
    const res = await fetch(`${server.url}/storage/v1/b/bkt/o/m`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.deepEqual(await file.exists(), [false]);
    assert.equal(await errorCode(file.delete()), 404);
    const missing = await fetch(`${server.url}/storage/v1/b/bkt/o/m`);
    const body = (await missing.json()) as { error: { code: number; errors: Array<{ reason: string }> } };
    assert.equal(missing.status, 404);
    assert.equal(body.error.code, 404);
    assert.equal(body.error.errors[0]?.reason, 'notFound');
  });

  it('lists with prefix, delimiter (prefixes) and pagination', async (t) => {
    const { storage } = await setup(t);
    await storage.createBucket('bkt');
    const bucket = storage.bucket('bkt');
    const names = ['a/1', 'a/2', 'a/sub/3', 'a/sub/4', 'a/tub/5', 'b/1', 'a0'];
    for (const n of names) await bucket.file(n).save(n, { resumable: false });

    const [all] = await bucket.getFiles();
    assert.deepEqual(
      all.map((f) => f.name),
      [...names].sort(),
    );
    const [underA] = await bucket.getFiles({ prefix: 'a/' });
    assert.deepEqual(
      underA.map((f) => f.name),
      ['a/1', 'a/2', 'a/sub/3', 'a/sub/4', 'a/tub/5'],
    );
    const [direct, , response] = await bucket.getFiles({ prefix: 'a/', delimiter: '/', autoPaginate: false });
    assert.deepEqual(
      direct.map((f) => f.name),
      ['a/1', 'a/2'],
    );
    assert.deepEqual((response as { prefixes?: string[] }).prefixes, ['a/sub/', 'a/tub/']);

    // Pages of 2 entries (items and prefixes both count), following nextPageToken.
    const seen: string[] = [];
    const prefixes: string[] = [];
    let query: { pageToken?: string } | null = {};
    let pages = 0;
    while (query !== null) {
      const [files, next, raw]: [Array<{ name: string }>, { pageToken?: string } | null, unknown] =
        await bucket.getFiles({
          ...query,
          delimiter: '/',
          maxResults: 2,
          autoPaginate: false,
        });
      seen.push(...files.map((f) => f.name));
      prefixes.push(...((raw as { prefixes?: string[] }).prefixes ?? []));
      pages += 1;
      query = next;
    }
    assert.deepEqual(seen, ['a0']);
    assert.deepEqual(prefixes, ['a/', 'b/']);
    assert.equal(pages, 2);
    const flat: string[] = [];
    let token: string | undefined;
    do {
      const [files, next] = await bucket.getFiles({
        maxResults: 3,
        autoPaginate: false,
        ...(token ? { pageToken: token } : {}),
      });
      flat.push(...files.map((f) => f.name));
      token = (next as { pageToken?: string } | null)?.pageToken;
    } while (token !== undefined);
    assert.deepEqual(flat, [...names].sort());
  });

  it('gives every write a larger generation and every metadata update a larger metageneration', async (t) => {
    const { storage } = await setup(t);
    await storage.createBucket('bkt');
    const file = storage.bucket('bkt').file('g');
    const generations: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      await file.save(`v${i}`, { resumable: i % 2 === 0 });
      generations.push(BigInt((await file.getMetadata())[0].generation as string));
    }
    for (let i = 1; i < generations.length; i++)
      assert.ok(generations[i]! > generations[i - 1]!, `${generations}`);
    const [patched] = await file.setMetadata({ metadata: { x: '1' } });
    assert.equal(patched.metageneration, '2');
    assert.equal(patched.generation, String(generations.at(-1)));
    assert.deepEqual(patched.metadata, { x: '1' });
    assert.equal(
      await errorCode(file.setMetadata({ metadata: { y: '2' } }, { ifMetagenerationMatch: 1 })),
      412,
    );
  });

  it('enforces ifGenerationMatch / ifGenerationNotMatch with 412 on both upload kinds', async (t) => {
    const { storage } = await setup(t);
    await storage.createBucket('bkt');
    const file = storage.bucket('bkt').file('p');
    await file.save('first', { preconditionOpts: { ifGenerationMatch: 0 } });
    const generation = Number((await file.getMetadata())[0].generation);
    for (const resumable of [false, true]) {
      assert.equal(
        await errorCode(file.save('again', { resumable, preconditionOpts: { ifGenerationMatch: 0 } })),
        412,
      );
      assert.equal(
        await errorCode(
          file.save('again', { resumable, preconditionOpts: { ifGenerationMatch: generation + 1 } }),
        ),
        412,
      );
    }
    assert.equal((await download(file))[0].toString(), 'first');
    await file.save('second', { resumable: false, preconditionOpts: { ifGenerationMatch: generation } });
    assert.equal((await download(file))[0].toString(), 'second');
    const now = Number((await file.getMetadata())[0].generation);
    assert.equal(await errorCode(file.delete({ ifGenerationNotMatch: now })), 412);
    await file.delete({ ifGenerationMatch: now });
    assert.deepEqual(await file.exists(), [false]);
  });

  it('of two concurrent create-only writes of one name, exactly one succeeds and the other gets 412', async (t) => {
    const { storage } = await setup(t);
    await storage.createBucket('bkt');
    const bucket = storage.bucket('bkt');
    for (const [round, resumable] of [false, true, false, true, false, true].entries()) {
      const file = (writer: string) =>
        bucket.file(`race-${round}`).save(writer, { resumable, preconditionOpts: { ifGenerationMatch: 0 } });
      const results = await Promise.allSettled([file('A'), file('B')]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i === 0 ? 'A' : 'B'] : []));
      const codes = results.flatMap((r) =>
        r.status === 'rejected' ? [(r.reason as { code?: unknown }).code] : [],
      );
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.deepEqual(codes, [412]);
      assert.equal((await download(bucket.file(`race-${round}`)))[0].toString(), won[0]);
    }
  });

  it('stores Content-Encoding and custom metadata, and serves the bytes as stored', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    const text = '{"order_id":"1"}\n'.repeat(100);
    const file = storage.bucket('bkt').file('x.json.gz');
    await file.save(gzipSync(text), {
      resumable: false,
      metadata: { contentType: 'application/json', contentEncoding: 'gzip', metadata: { source: 'test' } },
    });
    const [meta] = await file.getMetadata();
    assert.equal(meta.contentEncoding, 'gzip');
    assert.deepEqual(meta.metadata, { source: 'test' });
    assert.equal((await download(file))[0].toString(), text); // the client inflates, after validating the stored bytes
    const raw = (await download(file, { decompress: false }))[0];
    assert.equal(gunzipSync(raw).toString(), text);
    const res = await fetch(`${server.url}/storage/v1/b/bkt/o/x.json.gz?alt=media`, {
      headers: { 'accept-encoding': 'identity' },
    });
    assert.equal(res.headers.get('x-goog-stored-content-encoding'), 'gzip');
    assert.equal(Number(res.headers.get('content-length')), Number(meta.size));
  });

  it('works with STORAGE_EMULATOR_HOST (JSON calls without the /storage/v1 prefix)', async (t) => {
    const { server } = await setup(t);
    const saved = process.env['STORAGE_EMULATOR_HOST'];
    process.env['STORAGE_EMULATOR_HOST'] = server.url;
    t.after(() => {
      if (saved === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
      else process.env['STORAGE_EMULATOR_HOST'] = saved;
    });
    const storage = new Storage({ projectId: PROJECT, retryOptions: { autoRetry: false } });
    await storage.createBucket('emu');
    const bucket = storage.bucket('emu');
    await bucket.file('one').save('1', { resumable: false });
    await bucket.file('two').save('22');
    assert.equal((await download(bucket.file('two')))[0].toString(), '22');
    assert.equal((await bucket.file('one').getMetadata())[0].size, '1');
    assert.deepEqual(
      (await bucket.getFiles())[0].map((f) => f.name),
      ['one', 'two'],
    );
    await bucket.file('one').delete();
    assert.deepEqual(await bucket.file('one').exists(), [false]);
    assert.equal(await errorCode(storage.createBucket('emu')), 409);
  });
});

describe('local GCS server: files on disk', () => {
  it('keeps plain files at <dir>/<bucket>/<name>, escapes unsafe names, and survives a restart', async (t) => {
    const h = await setup(t);
    await h.storage.createBucket('bkt');
    const unsafe = ['a//b', 'x/../y', 'x/./y', 'trailing/', '/leading', `${'L'.repeat(300)}/z`];
    const colliding = ['a', 'a/b', 'c/d', 'c']; // a file and a folder of the same name, both orders
    const names = ['stream/orders/2024_01_01/order_1_1.json', ...unsafe, ...colliding];
    for (const n of names)
      await h.storage.bucket('bkt').file(n).save(`content of ${n}`, { resumable: false });
    assert.equal(
      await readFile(path.join(h.dir, 'bkt/stream/orders/2024_01_01/order_1_1.json'), 'utf8'),
      `content of ${names[0]}`,
    );
    // "a" came first, so "a/b" is escaped; "c/d" came first, so "c" is.
    assert.equal(await readFile(path.join(h.dir, 'bkt/a'), 'utf8'), 'content of a');
    assert.equal(await readFile(path.join(h.dir, 'bkt/c/d'), 'utf8'), 'content of c/d');
    for (const n of unsafe) assert.ok(dataPathFor('bkt', n).startsWith('.escaped'), n);
    await assert.rejects(stat(path.join(h.dir, 'x/y')));
    const generation = (await h.storage.bucket('bkt').file('a').getMetadata())[0].generation;

    await h.restart();
    for (const n of names)
      assert.equal((await download(h.storage.bucket('bkt').file(n)))[0].toString(), `content of ${n}`, n);
    const [listed] = await h.storage.bucket('bkt').getFiles();
    assert.deepEqual(listed.map((f) => f.name).sort(), [...names].sort());
    assert.equal((await h.storage.bucket('bkt').file('a').getMetadata())[0].generation, generation);
    await h.storage.bucket('bkt').file('a/b').save('newer', { resumable: false });
    const after = (await h.storage.bucket('bkt').file('a/b').getMetadata())[0].generation as string;
    assert.ok(BigInt(after) > BigInt(generation as string), 'generations keep increasing after a restart');
    // Deleting removes the file and the folders it leaves empty.
    await h.storage.bucket('bkt').file('stream/orders/2024_01_01/order_1_1.json').delete();
    await assert.rejects(stat(path.join(h.dir, 'bkt/stream')));
  });

  it('refuses a second server on the same data dir, and creates the configured buckets at start', async (t) => {
    const h = await setup(t, { buckets: ['pre-made'] });
    assert.deepEqual(await h.storage.bucket('pre-made').exists(), [true]);
    await assert.rejects(
      startGcsServer({ dataDir: h.dir, logLevel: 'silent' }),
      /in use by another GCS server/,
    );
    await h.restart(); // the lock is released by close
    assert.deepEqual(await h.storage.bucket('pre-made').exists(), [true]);
  });
});

describe('local GCS server: finalize events', () => {
  it('posts a binary-mode CloudEvent with the object JSON to the sink of the bucket', async (t) => {
    const sink = await startSink(t);
    const other = await startSink(t);
    const { storage } = await setup(t, { sinks: { bkt: [sink.url], elsewhere: [other.url] } });
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('stream/orders/o 1.json').save('{"x":1}', { resumable: false });
    await storage.bucket('bkt').file('second').save('2');
    await waitFor('two events', () => sink.requests.length === 2);
    const [first, second] = sink.requests as [SinkRequest, SinkRequest];
    const [meta] = await storage.bucket('bkt').file('stream/orders/o 1.json').getMetadata();
    assert.equal(first.headers['ce-specversion'], '1.0');
    assert.equal(first.headers['ce-type'], 'google.cloud.storage.object.v1.finalized');
    assert.equal(first.headers['ce-source'], '//storage.googleapis.com/projects/_/buckets/bkt');
    assert.equal(first.headers['ce-subject'], 'objects/stream/orders/o%201.json'); // percent-encoded per the HTTP binding
    assert.equal(first.headers['ce-time'], meta.updated);
    assert.match(first.headers['content-type'] ?? '', /^application\/json/);
    assert.ok(first.headers['ce-id'] !== undefined && first.headers['ce-id'] !== second.headers['ce-id']);
    const data = JSON.parse(first.body) as Record<string, unknown>;
    assert.equal(data['name'], 'stream/orders/o 1.json');
    assert.equal(data['bucket'], 'bkt');
    assert.equal(data['generation'], meta.generation);
    assert.equal(data['size'], '7');
    assert.equal(data['metageneration'], '1');
    assert.equal(other.requests.length, 0);
  });

  it('counts a delivery as pending from the upload acknowledgement until the sink answers', async (t) => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sink = await startSink(t, async () => {
      await gate;
      return 204;
    });
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] } });
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('slow').save('x', { resumable: false });
    assert.equal(server.stats().pending, 1);
    await waitFor('the request to reach the sink', () => sink.requests.length === 1);
    assert.equal(server.stats().pending, 1);
    assert.equal(server.stats().inFlight, 1);
    release();
    await waitFor('delivery', () => server.stats().pending === 0);
    assert.equal(server.stats().delivered, 1);
  });

  it('redelivers after the sink fails: 500, 500, 204 → three attempts, one delivery', async (t) => {
    const sink = await startSink(t, (n) => (n <= 2 ? 500 : 204));
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] } });
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('retried').save('r');
    await waitFor('delivery', () => server.stats().delivered === 1);
    assert.equal(sink.requests.length, 3);
    assert.equal(new Set(sink.requests.map((r) => r.headers['ce-id'])).size, 1, 'retries keep the event id');
    const stats = server.stats();
    assert.equal(stats.failedAttempts, 2);
    assert.equal(stats.pending, 0);
    await sleep(100);
    assert.equal(sink.requests.length, 3, 'no attempt after the success');
  });

  it('keeps retrying while the sink is down and delivers once it is up', async (t) => {
    const probe = await startSink(t);
    const port = Number(new URL(probe.url).port);
    await probe.close(); // a port that refuses connections now
    const { storage, server } = await setup(t, {
      sinks: { bkt: [`http://127.0.0.1:${port}/`] },
      retryMaxMs: 50,
    });
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('waiting').save('w', { resumable: false });
    await waitFor('two failed attempts', () => server.stats().failedAttempts >= 2);
    assert.equal(server.stats().pending, 1);
    const sink = await startSink(t, () => 204, port);
    await waitFor('delivery', () => server.stats().delivered === 1);
    assert.equal(sink.requests.length, 1);
  });

  it('delivers pending events after a restart', async (t) => {
    const failing = await startSink(t, () => 503);
    const h = await setup(t, { sinks: { bkt: [failing.url] } });
    await h.storage.createBucket('bkt');
    await h.storage.bucket('bkt').file('kept-1').save('1', { resumable: false });
    await h.storage.bucket('bkt').file('kept-2').save('2');
    await waitFor('failed attempts for both', () => failing.requests.length >= 2);
    assert.equal(h.server.stats().pending, 2);
    await h.server.close();
    await failing.close();
    // Pending deliveries keep the URL they were accepted for: bring a healthy sink up on that port.
    const revived = await startSink(t, () => 204, Number(new URL(failing.url).port));
    await h.restart({ sinks: {} });
    await waitFor('delivery after restart', () => h.server.stats().delivered === 2);
    assert.deepEqual(revived.requests.map((r) => JSON.parse(r.body).name).sort(), ['kept-1', 'kept-2']);
    assert.equal(h.server.stats().pending, 0);
  });

  it('delivers twice, concurrently, in duplicate-delivery mode with probability 1', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] }, duplicateProbability: 1 });
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('twice').save('t', { resumable: false });
    await waitFor('delivery', () => server.stats().pending === 0);
    assert.equal(sink.requests.length, 2);
    assert.equal(sink.requests[0]?.headers['ce-id'], sink.requests[1]?.headers['ce-id']);
    assert.equal(sink.requests[0]?.body, sink.requests[1]?.body);
    assert.equal(server.stats().duplicatesSent, 1);
    assert.equal(server.stats().delivered, 1);
  });

  it('reorders deliveries with a shuffle delay and still delivers every event', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] }, shuffleDelayMs: 300 });
    await storage.createBucket('bkt');
    const names = Array.from({ length: 20 }, (_, i) => `o-${String(i).padStart(2, '0')}`);
    for (const n of names) await storage.bucket('bkt').file(n).save(n, { resumable: false });
    await waitFor('all deliveries', () => server.stats().delivered === names.length);
    const received = sink.requests.map((r) => JSON.parse(r.body).name as string);
    assert.deepEqual([...received].sort(), names);
    assert.notDeepEqual(
      received,
      names,
      'a 300 ms shuffle of 20 events keeps upload order only by extreme chance',
    );
  });

  it('drops a share of the events in drop-delivery mode (never delivered), and counts them', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] }, dropProbability: 0.5 });
    await storage.createBucket('bkt');
    const names = Array.from({ length: 40 }, (_, i) => `d-${i}`);
    for (const n of names) await storage.bucket('bkt').file(n).save(n, { resumable: false });
    await waitFor('deliveries', () => server.stats().pending === 0);
    const { dropped, delivered } = server.stats();
    assert.ok(dropped > 0 && dropped < names.length, `dropped ${dropped} of ${names.length}`);
    assert.equal(delivered + dropped, names.length);
    assert.equal(sink.requests.length, delivered);
  });

  it('redelivers the current generation of every object under a prefix (POST /_admin/redeliver)', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] } });
    await storage.createBucket('bkt');
    for (const n of ['a/1', 'a/2', 'b/1']) await storage.bucket('bkt').file(n).save(n, { resumable: false });
    await waitFor('first deliveries', () => server.stats().delivered === 3);
    const first = new Map(sink.requests.map((r) => [JSON.parse(r.body).name as string, JSON.parse(r.body)]));
    const res = await fetch(`${server.url}/_admin/redeliver`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bucket: 'bkt', prefix: 'a/' }),
    });
    assert.deepEqual(await res.json(), { events: 2 });
    await waitFor('redeliveries', () => server.stats().delivered === 5);
    const again = sink.requests.slice(3).map((r) => JSON.parse(r.body) as Record<string, unknown>);
    assert.deepEqual(again.map((o) => o['name']).sort(), ['a/1', 'a/2']);
    for (const o of again) {
      // The same generation and landing time as when it was finalized, in a new event.
      assert.equal(o['generation'], first.get(String(o['name']))['generation']);
      assert.equal(o['timeCreated'], first.get(String(o['name']))['timeCreated']);
    }
    const bad = await fetch(`${server.url}/_admin/redeliver`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: 'a/' }),
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Expected \{\\"bucket\\"/);
  });

  it('paced redelivery keeps the landing order and spacing of the objects, not their name order', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t, { sinks: { bkt: [sink.url] } });
    await storage.createBucket('bkt');
    // Landing order z, m, a (names sort the other way), 700 ms then 300 ms apart.
    for (const [n, gapMs] of [
      ['z', 700],
      ['m', 300],
      ['a', 0],
    ] as const) {
      await storage.bucket('bkt').file(n).save(n, { resumable: false });
      await sleep(gapMs);
    }
    await waitFor('first deliveries', () => server.stats().delivered === 3);
    const redeliver = async (paced: boolean) => {
      const before = sink.requests.length;
      const started = Date.now();
      const res = await fetch(`${server.url}/_admin/redeliver`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bucket: 'bkt', paced }),
      });
      assert.deepEqual(await res.json(), { events: 3 });
      const tookMs = Date.now() - started;
      await waitFor('redeliveries', () => sink.requests.length === before + 3);
      return { tookMs, names: sink.requests.slice(before).map((r) => JSON.parse(r.body).name as string) };
    };
    const all = await redeliver(false);
    assert.deepEqual([...all.names].sort(), ['a', 'm', 'z'], 'unpaced: everything at once');
    const paced = await redeliver(true);
    assert.deepEqual(paced.names, ['z', 'm', 'a'], 'paced: in landing order');
    assert.ok(paced.tookMs >= 900, `paced: the objects' own spacing (≥ 1 s in all), took ${paced.tookMs} ms`);
    const bad = await fetch(`${server.url}/_admin/redeliver`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bucket: 'bkt', paced: 'yes' }),
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /paced\\"\?: true\|false/);
  });

  it('takes sinks and options at runtime through the admin endpoints', async (t) => {
    const sink = await startSink(t);
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('before').save('0', { resumable: false });
    const put = await fetch(`${server.url}/_admin/sinks`, {
      method: 'PUT',
      body: JSON.stringify({ '*': [sink.url] }),
    });
    assert.equal(put.status, 200);
    assert.deepEqual(server.getSinks(), { '*': [sink.url] });
    await storage.bucket('bkt').file('after').save('1', { resumable: false });
    await waitFor('delivery', () => server.stats().delivered === 1);
    assert.equal(sink.requests.length, 1);
    assert.equal(JSON.parse(sink.requests[0]!.body).name, 'after');
    const stats = (await (await fetch(`${server.url}/_admin/stats`)).json()) as Record<string, number>;
    assert.equal(stats['delivered'], 1);
    assert.equal(stats['objects'], 2);
    const bad = await fetch(`${server.url}/_admin/options`, {
      method: 'PATCH',
      body: JSON.stringify({ duplicateProbability: 2 }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /in \[0, 1\].*2/);
  });
});

describe('local GCS server: fault injection', () => {
  it('answers 503 to client requests (not admin ones) while failProbability is 1', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    await storage.bucket('bkt').file('f').save('ok', { resumable: false });
    const patch = await fetch(`${server.url}/_admin/options`, {
      method: 'PATCH',
      body: JSON.stringify({ failProbability: 1 }),
    });
    assert.equal(patch.status, 200);
    assert.equal(await errorCode(download(storage.bucket('bkt').file('f'))), 503);
    assert.equal(await errorCode(storage.bucket('bkt').file('g').save('x', { resumable: false })), 503);
    assert.equal((await fetch(`${server.url}/_admin/stats`)).status, 200);
    assert.ok(server.stats().faultsInjected >= 2);
    server.setOptions({ failProbability: 0 });
    assert.equal((await download(storage.bucket('bkt').file('f')))[0].toString(), 'ok');
    assert.deepEqual(
      await storage.bucket('bkt').file('g').exists(),
      [false],
      'a faulted upload stores nothing',
    );
  });

  it('answers 503 to about the configured fraction of requests', async (t) => {
    const { storage, server } = await setup(t);
    await storage.createBucket('bkt');
    server.setOptions({ failProbability: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push((await fetch(`${server.url}/storage/v1/b/bkt/o`)).status);
    const faults = statuses.filter((s) => s === 503).length;
    assert.deepEqual(new Set(statuses), new Set([200, 503]));
    assert.ok(faults > 60 && faults < 140, `${faults} of 200 faulted (binomial mean 100, sd 7)`);
    assert.equal(server.stats().faultsInjected, faults);
  });
});

describe('local GCS server: pure helpers', () => {
  const cases = [
    {
      name: 'plain name keeps its path',
      input: 'stream/a.json',
      expected: path.join('b', 'stream', 'a.json'),
    },
    { name: 'empty segment escapes', input: 'a//b', expected: 'escaped' },
    { name: 'dot-dot segment escapes', input: '../up', expected: 'escaped' },
    { name: 'trailing slash escapes', input: 'dir/', expected: 'escaped' },
    { name: '255-byte segment is fine', input: 'x'.repeat(255), expected: path.join('b', 'x'.repeat(255)) },
    { name: '256-byte segment escapes', input: 'x'.repeat(256), expected: 'escaped' },
  ];
  for (const c of cases) {
    it(`dataPathFor: ${c.name}`, () => {
      const got = dataPathFor('b', c.input);
      if (c.expected === 'escaped') assert.match(got, /^\.escaped\/b\/[0-9a-f]{32}/);
      else assert.equal(got, c.expected);
    });
  }
  it('encodeHeaderValue percent-encodes space, quote, percent and non-ASCII only', () => {
    assert.equal(encodeHeaderValue('objects/a b"%é/c.json'), 'objects/a%20b%22%25%C3%A9/c.json');
  });
  it('backoffMs doubles from the base up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((n) => backoffMs(n, 100, 1000)),
      [100, 200, 400, 800, 1000],
    );
  });
});

async function crc32cOf(text: string): Promise<string> {
  const { CRC32C } = await import('@google-cloud/storage');
  const c = new CRC32C();
  c.update(Buffer.from(text));
  return c.toString();
}
