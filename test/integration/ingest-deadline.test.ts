// An ingest attempt stops at its time budget even while its source stalls (or the parser chews on one
// record): what was read before is committed, the source is destroyed, and a file that cannot finish
// in budget is quarantined ('time-budget') instead of being retried forever. A large file that did
// make progress asks for a retry that resumes there. And an object outside the order/payment prefixes
// is ignored with a log line and counted once (for `streamjoin status`).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { ingestObject } from '../../shared/pipeline/ingest.ts';
import { createHarness, type Harness, order } from '../support/harness.ts';

let h: Harness;
before(async () => {
  h = await createHarness('ingest-deadline');
});
after(() => h.close());
afterEach(() => h.fs.reset());

/** A source that yields these lines, then neither ends nor fails: a stalled read. */
function stallingSource(lines: string[]): Readable {
  const body = Buffer.from(`${lines.join('\n')}\n`);
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(body);
      }
    },
  });
}

const obj = (name: string, size: number) => ({
  bucket: h.config.inputBucket,
  name,
  generation: '1',
  size,
  landedAtMs: h.clock,
});
const budget = { ingestTimeBudgetMs: 1000 };

describe('ingest: the time budget holds while reading', () => {
  it('a small file whose source stalls: each attempt stops at its deadline; a second stall at the same record quarantines the file with what was read', async () => {
    const sources: Readable[] = [];
    const deps = {
      ...h.ingestDeps(),
      now: Date.now,
      config: { ...h.config, ...budget },
      openObject: () => {
        const s = stallingSource([order('S1'), order('S2'), order('S3')].map((o) => JSON.stringify(o)));
        sources.push(s);
        return s;
      },
    };
    const o = obj('stream/orders/s/stall.jsonl', 400);
    const started = Date.now();
    await assert.rejects(ingestObject(deps, o), (err: Error & { retryable?: boolean }) => {
      assert.match(
        err.message,
        /time budget of 1000 ms used while reading, stalled at record 3; the retry tries again/,
      );
      assert.equal(err.retryable, true, 'once may be a slow source: retried');
      return true;
    });
    assert.ok(Date.now() - started < 30_000, 'the attempt ended instead of waiting for the source');
    assert.equal(sources[0]!.destroyed, true, 'the source was destroyed at the deadline');
    // A small file is applied all at once with its ledger entry: this attempt committed nothing.
    assert.equal((await h.collections.states.count().get()).data().count, 0);
    assert.deepEqual(await h.rejects(), []);

    const r = await ingestObject(deps, o); // the platform's retry stalls at the same record
    assert.equal(sources[1]!.destroyed, true);
    for (const id of ['S1', 'S2', 'S3']) assert.equal((await h.state(id))?.status, 'WAITING_PAYMENT');
    assert.equal(r.status, 'ingested');
    assert.equal(r.records, 3);
    const rejects = await h.rejects();
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0]!['code'], 'time-budget');
    assert.equal(rejects[0]!['ordinal'], 3, 'at the record where reading stopped');
    assert.match(
      String(rejects[0]!['message']),
      /STREAMJOIN_INGEST_TIME_BUDGET \(1000 ms\).*stalled at record 3 twice/,
    );
    assert.equal(
      await h.collections.states
        .count()
        .get()
        .then((c) => c.data().count),
      3,
      'each event once',
    );
  });

  it('a large file: the attempt that made progress asks for a retry there; a retry that makes none quarantines it', async () => {
    const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify(order(`L${i}`)));
    const deps = {
      ...h.ingestDeps(),
      now: Date.now,
      config: { ...h.config, ...budget },
      openObject: () => stallingSource(lines),
    };
    const o = obj('stream/orders/l/stall.jsonl', 2 << 20); // declared ≥ 1 MiB: progress is kept
    // Each attempt that read something commits it and asks for a retry there (how far one attempt gets
    // depends on the machine); the first attempt that reads nothing new quarantines the file.
    const resumes: number[] = [];
    let last: Awaited<ReturnType<typeof ingestObject>> | undefined;
    for (let attempt = 0; attempt < 6 && last === undefined; attempt++) {
      try {
        last = await ingestObject(deps, o);
      } catch (err) {
        const e = err as Error & { retryable?: boolean };
        const m =
          /^time budget of 1000 ms used(?: while reading)?(?:, stalled at record|; the retry resumes at record) (\d+)/.exec(
            e.message,
          );
        assert.ok(m !== null, `a budget stop asking for a retry, got: ${e.message}`);
        assert.equal(e.retryable, true);
        resumes.push(Number(m[1]));
      }
    }
    assert.ok(resumes.length >= 1, 'the first attempt made progress and asked for a retry');
    // Every retry got further, until one stopped where the previous one had ended: that first stall
    // without progress is retried once more, the second quarantines the file.
    assert.deepEqual(
      resumes,
      [...resumes].sort((a, b) => a - b),
    );
    assert.equal(resumes.at(-1), 1500);
    assert.equal(resumes.at(-2), 1500, 'the first stall without progress asked for one more retry');
    assert.equal(new Set(resumes).size, resumes.length - 1);
    assert.ok(last !== undefined, 'the attempt that made no progress returned instead of asking for a retry');
    assert.equal(last.resumedAt, 1500);
    assert.equal(last.records, 0);
    assert.equal(last.status, 'rejected-file');
    const states = await h.collections.states.count().get();
    assert.equal(states.data().count, 1500, 'everything read before the deadlines was committed');
    assert.deepEqual(
      (await h.rejects()).map((x) => x['code']),
      ['time-budget'],
    );
    const again = await ingestObject(deps, o);
    assert.equal(again.status, 'already-done', 'a redelivery does not try again');
  });
});

describe('ingest: objects outside the order and payment prefixes', () => {
  it('are ignored, logged and counted once per object', async () => {
    const name = 'incoming/readme.txt';
    const o = await h.upload(name, 'not an event');
    const lines: string[] = [];
    const { createLogger } = await import('../../shared/log.ts');
    const log = createLogger({
      level: 'info',
      destination: {
        write: (l: string) => {
          lines.push(l);
          return true;
        },
      } as unknown as NodeJS.WritableStream,
    });
    const deps = { ...h.ingestDeps(), log };
    assert.equal((await ingestObject(deps, o)).status, 'ignored');
    assert.equal((await ingestObject(deps, o)).status, 'ignored', 'a redelivery');
    const counted = await h.collections.files.where('outcome', '==', 'ignored').count().get();
    assert.equal(counted.data().count, 1, 'one ledger entry (what status counts)');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(logged.length, 2);
    assert.equal(logged[0]!['severity'], 'WARNING');
    assert.equal(logged[0]!['object'], name);
    assert.match(String(logged[0]!['message']), /outside the order and payment prefixes/);
  });
});
