// The demo names the spec's streams in what it prints: the default spec reads as before ("payment events
// after their order timed out"), and a stream named event reads "event records", never "event events".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lateFilesLine } from '../../../infra/ops/demo.ts';
import { streamEvents } from '../../../shared/spec/model.ts';

describe('streamEvents: a stream’s events in prose', () => {
  const cases: [name: string, want: string][] = [
    ['payment', 'payment events'],
    ['order', 'order events'],
    ['delivery', 'delivery events'],
    ['event', 'event records'],
    ['events', 'events records'],
    ['click_event', 'click_event records'],
    ['eventual', 'eventual events'],
    ['prevent', 'prevent events'],
  ];
  for (const [name, want] of cases) it(`${name} → ${want}`, () => assert.equal(streamEvents(name), want));
});

describe('the demo’s late-files line', () => {
  const cases: {
    name: string;
    args: Parameters<typeof lateFilesLine>;
    want: string;
  }[] = [
    {
      name: 'the default spec (wording as before)',
      args: [12, 'order', 'payment', false],
      want: 'uploaded 12 late files (payment events after their order timed out, second payment events)',
    },
    {
      name: 'the default spec with late orders after an orphan',
      args: [12, 'order', 'payment', true],
      want: 'uploaded 12 late files (payment events after their order timed out, second payment events, order events after their payment was orphaned)',
    },
    {
      name: 'a right stream named event',
      args: [3, 'session', 'event', true],
      want: 'uploaded 3 late files (event records after their session timed out, second event records, session events after their event was orphaned)',
    },
    {
      name: 'a left stream named event',
      args: [3, 'event', 'ack', true],
      want: 'uploaded 3 late files (ack events after their event timed out, second ack events, event records after their ack was orphaned)',
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const line = lateFilesLine(...c.args);
      assert.equal(line, c.want);
      assert.doesNotMatch(line, /event events/);
    });
});
