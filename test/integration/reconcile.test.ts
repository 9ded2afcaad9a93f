// Reconciliation and replay (shared/pipeline/reconcile.ts) against the real Firestore emulator and the local
// GCS server through the real Storage client: objects whose event never came are found by listing and
// ingested in place, with their timeCreated as landing time; dry runs, the grace period, the watermark,
// unfinished large files, replay ranges and --force.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Timestamp } from '@google-cloud/firestore';
import { ledgerRef, readLedger } from '../../shared/firestore/ledger.ts';
import { OpCounter } from '../../shared/firestore/op-counter.ts';
import { createLogger } from '../../shared/log.ts';
import type { InputObject } from '../../shared/pipeline/ingest.ts';
import { dayFolderOf, type ReconcileOptions, reconcileObjects } from '../../shared/pipeline/reconcile.ts';
import { createInputLister, openInputObject } from '../../shared/storage/input-objects.ts';
import { createHarness, type Harness, order, payment } from '../support/harness.ts';

let h: Harness;
before(async () => {
  h = await createHarness('reconcile');
});
after(() => h.close());
afterEach(async () => {
  await h.fs.reset();
  const [files] = await h.storage.bucket(h.config.inputBucket).getFiles();
  for (const f of files) await f.delete();
});

const day = () => dayFolderOf('YYYY_MM_DD', Date.now());
const O = (n: string) => `stream/orders/${day()}/order_${n}_1764072000000.json`;
const P = (n: string) => `stream/payments/${day()}/payment_${n}_1764072000000.json`;

/** Uploads objects as the producer would; returns them as listed (real timeCreated). */
async function put(files: Array<[string, unknown]>): Promise<InputObject[]> {
  const out: InputObject[] = [];
  for (const [name, body] of files)
    out.push(
      await h.upload(name, typeof body === 'string' ? body : JSON.stringify(body), { realLanding: true }),
    );
  return out;
}

function run(options: Partial<ReconcileOptions> = {}, now?: () => number) {
  const counter = new OpCounter();
  const promise = reconcileObjects(
    {
      db: h.fs.db,
      collections: h.collections,
      counter,
      config: h.config,
      log: createLogger({ level: 'silent' }),
      listObjects: createInputLister(h.storage),
      openObject: (o) => openInputObject(h.storage, o),
      ...(now === undefined ? {} : { now }),
    },
    // Two days (today and yesterday, as the default STREAMJOIN_RECONCILE_DAYS): objects are put in
    // today's folder, and a run "later" (the watermark test: +10 min) may fall on the next day.
    { scope: { kind: 'recent', days: 2, graceMs: 0 }, via: 'reconcile', ...options },
  );
  return promise.then((report) => ({ report, counter }));
}

describe('reconcile', () => {
  it('ingests, as ingest would, exactly the objects without a ledger entry', async () => {
    h.clock = Date.now();
    const objs = await put([
      [O('1'), order('R1')],
      [P('1'), payment('rp1', 'R1')],
      [O('2'), order('R2')],
      [P('2'), payment('rp2', 'R2')],
      [O('3'), order('R3')],
    ]);
    // The events of R1's order and payment and of R3's order came; the others never did.
    for (const i of [0, 1, 4]) await h.ingest(objs[i]!);
    const { report } = await run();
    assert.deepEqual(
      report.missing.sort(),
      [objs[2]!, objs[3]!].map((o) => `${o.bucket}/${o.name}#${o.generation}`).sort(),
    );
    assert.equal(report.ingested, 2);
    assert.equal(report.inLedger, 3);
    assert.equal(report.listCalls, 4, 'one list call per prefix and day (fewer than 1,000 objects each)');
    assert.equal(report.counters.joined, 1);
    assert.equal((await h.state('R2'))?.status, 'JOINED');
    const entries = await readLedger(h.fs.db, h.collections, objs);
    assert.ok(entries.every((e) => e?.outcome === 'ingested'));
    // The joined row's time is the landing time of the completing object, from its timeCreated.
    const joined = (await h.outbox()).find((r) => r.row['order_id'] === 'R2')!;
    assert.equal(joined.row['joined_at'], String(Math.max(objs[2]!.landedAtMs, objs[3]!.landedAtMs) * 1000));
    const again = await run();
    assert.deepEqual(again.report.missing, [], 'a second run finds nothing');
  });

  it('a dry run reports what it would ingest and changes nothing', async () => {
    const objs = await put([[O('d'), order('D1')]]);
    const { report } = await run({ dryRun: true, useWatermark: true });
    assert.equal(report.missing.length, 1);
    assert.equal(report.ingested, 0);
    assert.equal((await readLedger(h.fs.db, h.collections, objs))[0], undefined);
    assert.equal((await h.collections.meta.doc('reconcile').get()).exists, false, 'no watermark moved');
  });

  it('leaves alone objects that landed less than the grace period ago', async () => {
    await put([[O('g'), order('G1')]]);
    const { report } = await run({ scope: { kind: 'recent', days: 2, graceMs: 3_600_000 } });
    assert.equal(report.listed, 1);
    assert.equal(report.considered, 0);
    assert.equal(report.ingested, 0);
  });

  it('the watermark: a run after a complete one reads the ledger only for objects that landed since', async () => {
    await put([
      [O('w1'), order('W1')],
      [O('w2'), order('W2')],
    ]);
    const later = () => Date.now() + 10 * 60_000; // both objects are now older than the watermark's margin
    const first = await run({ useWatermark: true }, later);
    assert.equal(first.report.considered, 2);
    assert.ok(first.report.watermark.toMs !== null);
    const second = await run({ useWatermark: true }, later);
    assert.equal(second.report.listed, 2);
    assert.equal(second.report.considered, 0, 'nothing landed since the last complete check');
    assert.equal(second.counter.reads, 1, 'only the watermark was read');
  });

  it('resumes a large file whose unfinished entry nobody touched lately; leaves a fresh one to its own retries', async () => {
    const [a, b] = await put([
      [O('u1'), order('U1')],
      [O('u2'), order('U2')],
    ]);
    const stale = Date.now() - 3_600_000;
    for (const [o, at] of [
      [a!, stale],
      [b!, Date.now()],
    ] as const) {
      await ledgerRef(h.collections, o).set({
        file: `${o.bucket}/${o.name}#${o.generation}`,
        bucket: o.bucket,
        object: o.name,
        generation: o.generation,
        next: 0,
        updatedAt: Timestamp.fromMillis(at),
      });
    }
    const { report } = await run();
    assert.deepEqual(report.missing, [`${a!.bucket}/${a!.name}#${a!.generation}`]);
    assert.equal((await readLedger(h.fs.db, h.collections, [a!]))[0]?.outcome, 'ingested');
  });
});

describe('replay', () => {
  it('ingests only the objects that landed in [since, until), and the ledger skips those already in', async () => {
    const early = await put([[O('e'), order('E1')]]);
    await new Promise((r) => setTimeout(r, 30));
    const since = Date.now();
    const inRange = await put([
      [O('i1'), order('I1')],
      [O('i2'), order('I2')],
    ]);
    await new Promise((r) => setTimeout(r, 30));
    const until = Date.now();
    await put([[O('l'), order('L1')]]);
    h.clock = Date.now();
    await h.ingest(inRange[0]!);
    const { report } = await run({ scope: { kind: 'range', sinceMs: since, untilMs: until }, via: 'replay' });
    assert.equal(report.considered, 2);
    assert.equal(report.inLedger, 1);
    assert.deepEqual(report.missing, [`${inRange[1]!.bucket}/${inRange[1]!.name}#${inRange[1]!.generation}`]);
    assert.equal(
      (await readLedger(h.fs.db, h.collections, early))[0],
      undefined,
      'before the range: untouched',
    );
  });

  it('--force evaluates a quarantined generation again; an ingested one is left alone', async () => {
    const [bad, good] = await put([
      [O('q'), '{"order_id": "Q1", "amount": '],
      [O('ok'), order('OK1')],
    ]);
    h.clock = Date.now();
    assert.equal((await h.ingest(bad!)).outcome, 'quarantined');
    await h.ingest(good!);
    const range = { kind: 'range' as const, sinceMs: Date.now() - 60_000, untilMs: Date.now() + 1 };
    const plain = await run({ scope: range, via: 'replay' });
    assert.equal(plain.report.ingested, 0);
    const forced = await run({ scope: range, via: 'replay', force: true });
    assert.deepEqual(forced.report.forced, [`${bad!.bucket}/${bad!.name}#${bad!.generation}`]);
    assert.equal(forced.report.ingested, 1);
    assert.equal(forced.report.quarantined, 1, 'still malformed: quarantined again, with its reason');
  });
});
