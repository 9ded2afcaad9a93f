// isRetryable: the one place that decides whether the platform should retry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetryable, StreamjoinError } from '../../shared/errors.ts';

describe('isRetryable', () => {
  const cases: Array<{ name: string; err: unknown; expected: boolean }> = [
    { name: 'conflict', err: new StreamjoinError('conflict', 'x'), expected: true },
    { name: 'state unknown', err: new StreamjoinError('state-unknown', 'x'), expected: true },
    { name: 'unavailable', err: new StreamjoinError('unavailable', 'x'), expected: true },
    { name: 'invalid input', err: new StreamjoinError('invalid-input', 'x'), expected: false },
    { name: 'already exists', err: new StreamjoinError('already-exists', 'x'), expected: false },
    { name: 'config', err: new StreamjoinError('config', 'x'), expected: false },
    {
      name: 'explicit override',
      err: new StreamjoinError('internal', 'x', { retryable: true }),
      expected: true,
    },
    { name: 'gRPC UNAVAILABLE (14)', err: { code: 14 }, expected: true },
    { name: 'gRPC ABORTED (10)', err: { code: 10 }, expected: true },
    { name: 'gRPC DEADLINE_EXCEEDED (4)', err: { code: 4 }, expected: true },
    { name: 'gRPC INVALID_ARGUMENT (3)', err: { code: 3 }, expected: false },
    { name: 'gRPC PERMISSION_DENIED (7)', err: { code: 7 }, expected: false },
    { name: 'HTTP 503', err: { code: 503 }, expected: true },
    { name: 'HTTP 429', err: { code: 429 }, expected: true },
    { name: 'HTTP 408', err: { code: 408 }, expected: true },
    { name: 'HTTP 404', err: { code: 404 }, expected: false },
    { name: 'HTTP 412', err: { code: 412 }, expected: false },
    { name: 'ECONNRESET', err: { code: 'ECONNRESET' }, expected: true },
    { name: 'a cause that is retryable', err: { message: 'wrapped', cause: { code: 14 } }, expected: true },
    { name: 'a plain Error', err: new Error('boom'), expected: false },
    { name: 'a string', err: 'boom', expected: false },
    { name: 'null', err: null, expected: false },
  ];
  for (const c of cases) it(`${c.name} → ${c.expected}`, () => assert.equal(isRetryable(c.err), c.expected));

  it('withContext keeps kind and retryability and adds context', () => {
    const e = new StreamjoinError('conflict', 'lost').withContext('table', 'orders_payments');
    assert.equal(e.kind, 'conflict');
    assert.equal(e.retryable, true);
    assert.deepEqual(e.context, { table: 'orders_payments' });
  });
});
