// The finalize event as ingest decodes it: the object generation, and its landing time (timeCreated).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { decodeStorageEvent, type StorageObjectData } from '../../../functions/ingest.ts';

const event = (data: StorageObjectData | undefined) =>
  ({
    id: 'e1',
    specversion: '1.0',
    type: 'google.cloud.storage.object.v1.finalized',
    source: 's',
    data,
  }) as CloudEvent<StorageObjectData>;

describe('decodeStorageEvent', () => {
  const cases: Array<{ name: string; data: StorageObjectData; expected: Record<string, unknown> }> = [
    {
      name: 'int64 fields as strings, timeCreated as the landing time',
      data: {
        bucket: 'b',
        name: 'stream/orders/x.json',
        generation: '1764072000123456',
        size: '42',
        timeCreated: '2026-11-25T12:00:00.123Z',
      },
      expected: {
        bucket: 'b',
        name: 'stream/orders/x.json',
        generation: '1764072000123456',
        size: 42,
        landedAtMs: Date.UTC(2026, 10, 25, 12, 0, 0, 123),
      },
    },
    {
      name: 'no timeCreated: the landing time is left to be looked up',
      data: { bucket: 'b', name: 'n', generation: 7, contentEncoding: 'gzip' },
      expected: { bucket: 'b', name: 'n', generation: '7', contentEncoding: 'gzip', landedAtMs: undefined },
    },
    {
      name: 'an unparsable timeCreated is not guessed',
      data: { bucket: 'b', name: 'n', generation: '7', timeCreated: 'yesterday' },
      expected: { bucket: 'b', name: 'n', generation: '7', landedAtMs: undefined },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(decodeStorageEvent(event(c.data)), c.expected));

  it('refuses an event without bucket, name or generation, quoting what came', () =>
    assert.throws(
      () => decodeStorageEvent(event({ bucket: 'b' })),
      /expected .* bucket, name and generation, but got: \{"bucket":"b"\}/,
    ));
});
