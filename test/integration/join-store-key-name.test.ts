// The join store's errors name the configured spec's key (shipment_id for shipments ⋈ deliveries), not
// the default's order_id, on the real Firestore emulator. Table-driven over specs and over the two ways
// a key's writes fail: more writes than one commit holds, and conflicts on every attempt.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { StreamjoinError } from '../../shared/errors.ts';
import { collections, docIdFor } from '../../shared/firestore/client.ts';
import { JoinStore, type OutboxRow } from '../../shared/firestore/join-store.ts';
import { OpCounter } from '../../shared/firestore/op-counter.ts';
import { keyNameOf } from '../../shared/join/plan.ts';
import type { JoinState } from '../../shared/join/state-machine.ts';
import { createJoinStore } from '../../shared/pipeline/ingest.ts';
import { defaultJoinSpec, loadJoinSpec } from '../../shared/spec/load.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { testFirestore } from '../support/firestore.ts';
import { defaultSpecWith } from '../support/spec-edit.ts';

const fs = testFirestore('join-store-key-name');
after(() => fs.close());

const shipments = loadJoinSpec(path.resolve(import.meta.dirname, '../../specs/shipments-deliveries.yaml'));
const refKeyed = defaultSpecWith((s) => {
  s.streams.right.key = 'order_ref';
  for (const f of s.streams.right.fields) if (f.name === 'order_id') f.name = 'order_ref';
});

const cases: { name: string; spec: JoinSpec; key: string; keyName: string }[] = [
  { name: 'the default spec', spec: defaultJoinSpec(), key: 'ORD-1', keyName: 'order_id' },
  { name: 'shipments ⋈ deliveries', spec: shipments, key: 'SHP-1', keyName: 'shipment_id' },
  { name: 'a key named differently per stream', spec: refKeyed, key: 'ORD-2', keyName: 'order_id/order_ref' },
];

/** Asserts `err` is the store's error for `c`, with `message`, naming no other spec's key. */
function assertNamesKey(err: unknown, c: (typeof cases)[number], message: RegExp): true {
  assert.ok(err instanceof StreamjoinError, String(err));
  assert.match(err.message, message);
  if (!c.keyName.includes('order_id')) assert.doesNotMatch(err.message, /order_id/);
  assert.deepEqual(err.context, { [c.keyName]: c.key });
  return true;
}

/** Changes the key's state document from another process (the emulator's REST API), synchronously:
 *  whatever the store read before, its commit's precondition then fails. */
function touchState(prefix: string, key: string): void {
  const url = `http://${fs.host}/v1/projects/${fs.projectId}/databases/(default)/documents/${prefix}_states/${docIdFor(key)}?updateMask.fieldPaths=touched`;
  const script = `const r = await fetch(${JSON.stringify(url)}, { method: 'PATCH', headers: { authorization: 'Bearer owner' }, body: JSON.stringify({ fields: { touched: { integerValue: String(Date.now()) } } }) }); if (!r.ok) { console.error(r.status, await r.text()); process.exit(1); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `touching the state of ${key} failed: ${r.stderr}`);
}

describe('the join store names the spec’s key in its errors', () => {
  for (const c of cases) {
    it(`${c.name}: one key with more writes than a commit holds`, async () => {
      const prefix = `big_${c.keyName.replace(/\W/g, '_')}`;
      const store = createJoinStore({
        db: fs.db,
        collections: collections(fs.db, prefix),
        counter: new OpCounter(),
        config: { indexShards: 4, joinSpec: c.spec },
      });
      const emitted: OutboxRow[] = Array.from({ length: 450 }, (_, i) => ({
        id: `row-${i}`,
        table: 'unmatched',
        values: {},
      }));
      // Never stored: the store refuses the commit before it writes anything.
      const next = {} as JoinState;
      await assert.rejects(store.apply(new Map([[c.key, () => ({ next, emitted })]])), (err) =>
        assertNamesKey(err, c, new RegExp(`^one ${c.keyName} needs 451 writes in one commit \\(max 450\\)`)),
      );
    });

    it(`${c.name}: a key whose state changes under every attempt`, async () => {
      const prefix = `race_${c.keyName.replace(/\W/g, '_')}`;
      const store = new JoinStore<{ n: number }>({
        db: fs.db,
        collections: collections(fs.db, prefix),
        counter: new OpCounter(),
        index: () => ({ status: 'WAITING', deadlineMs: null, expireAtMs: null }),
        keyName: keyNameOf(c.spec),
        shards: 4,
        maxAttempts: 1,
      });
      const transition = () => {
        touchState(prefix, c.key);
        return { next: { n: 1 }, emitted: [] };
      };
      await assert.rejects(store.apply(new Map([[c.key, transition]])), (err) =>
        assertNamesKey(err, c, new RegExp(`^gave up after 1 conflicting attempts on ${c.keyName} state$`)),
      );
    });
  }
});
