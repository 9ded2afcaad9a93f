// The ingest memory admission: what an object is charged, first come first served by bytes (a large
// object is not overtaken by small ones), an object larger than the budget runs alone, a request that
// cannot get room in time asks for a redelivery, and the wait comes off the request's time budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable } from '../../../shared/errors.ts';
import { GZIP_VERIFY_MAX_BYTES } from '../../../shared/ingest/parse-event-file.ts';
import {
  ingestMemoryCost,
  LINE_COPIES,
  MemoryBudget,
  REQUEST_WORKING_SET_BYTES,
  withAdmission,
} from '../../../shared/pipeline/ingest-admission.ts';

const MIB = 1024 ** 2;
const line = { maxLineLength: MIB };
const base = REQUEST_WORKING_SET_BYTES + LINE_COPIES * MIB;

test('ingestMemoryCost: the working set, the longest record, and the object when it may be held for gzip verification', () => {
  const cases = [
    { name: 'one-order file', size: 140, expected: base + 140 },
    {
      name: 'object at the verification limit',
      size: GZIP_VERIFY_MAX_BYTES,
      expected: base + GZIP_VERIFY_MAX_BYTES,
    },
    { name: 'larger object: streamed, never held whole', size: GZIP_VERIFY_MAX_BYTES + 1, expected: base },
    {
      name: 'size unknown: charged the most it could hold',
      size: undefined,
      expected: base + GZIP_VERIFY_MAX_BYTES,
    },
  ];
  for (const c of cases) {
    assert.equal(ingestMemoryCost(c.size === undefined ? {} : { size: c.size }, line), c.expected, c.name);
  }
});

const tick = () => new Promise((r) => setImmediate(r));

test('first come, first served by bytes: a waiting large object is not overtaken by small ones', async () => {
  const budget = new MemoryBudget(100 * MIB);
  const order: string[] = [];
  const a = await budget.admit(60 * MIB, 1000);
  const big = budget.admit(70 * MIB, 1000).then((x) => {
    order.push('big');
    return x;
  });
  const small = budget.admit(10 * MIB, 1000).then((x) => {
    order.push('small');
    return x;
  });
  await tick();
  assert.deepEqual(order, [], 'the small one fits, but waits behind the big one');
  assert.equal(budget.waitingRequests, 2);
  a.release();
  const [b, s] = await Promise.all([big, small]);
  assert.deepEqual(order, ['big', 'small']);
  assert.equal(budget.heldBytes, 80 * MIB);
  b.release();
  b.release(); // a second release gives nothing back twice
  s.release();
  assert.equal(budget.heldBytes, 0);
});

test('an object larger than the whole budget runs alone', async () => {
  const budget = new MemoryBudget(100 * MIB);
  const huge = await budget.admit(500 * MIB, 1000);
  assert.equal(huge.chargedBytes, 100 * MIB);
  let other = false;
  const next = budget.admit(1 * MIB, 1000).then((x) => {
    other = true;
    return x;
  });
  await tick();
  assert.equal(other, false);
  huge.release();
  (await next).release();
  assert.equal(other, true);
});

test('no room in time: a retryable error that names the budget, so the platform redelivers', async () => {
  const budget = new MemoryBudget(100 * MIB);
  const held = await budget.admit(90 * MIB, 1000);
  await assert.rejects(budget.admit(20 * MIB, 20), (err: Error) => {
    assert.ok(isRetryable(err));
    assert.match(
      err.message,
      /ingest memory budget busy: expected 20 MiB of the 100 MiB budget to free up within 20 ms/,
    );
    return true;
  });
  assert.equal(budget.waitingRequests, 0);
  held.release();
  // The budget still works after a timed-out waiter.
  (await budget.admit(100 * MIB, 1000)).release();
  assert.equal(budget.heldBytes, 0);
});

test('withAdmission: the wait comes off the time budget, and the room is given back when ingest throws', async () => {
  const budget = new MemoryBudget(100 * MIB);
  let t = 0;
  const now = () => t;
  const first = await budget.admit(100 * MIB, 1000, now);
  const run = withAdmission(budget, 50 * MIB, 10_000, async (remaining) => remaining, now);
  t = 3_000;
  first.release();
  assert.equal(await run, 7_000);
  await assert.rejects(
    withAdmission(budget, 50 * MIB, 10_000, async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(budget.heldBytes, 0);
});
