// Join states written by the version before issue 17 (orders and payments built in: `order`, `payment`,
// `paymentKeys`, v 2) keep working across the change, on the real Firestore emulator: the states a golden
// run of that version had stored halfway (test/fixtures/golden-join) are written as its JoinStore wrote
// them, then the rest of the run's files are ingested by ingestObject and its ticks evict through
// evictExpired — and the outbox holds exactly the rows that version emitted after that point (ids and
// every column), joined, expired, late and extra alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FieldValue, Timestamp } from '@google-cloud/firestore';
import { docIdFor, shardOf } from '../../shared/firestore/client.ts';
import { createLogger } from '../../shared/log.ts';
import { evictExpired } from '../../shared/pipeline/evict.ts';
import { outboxToRow } from '../../shared/pipeline/flush.ts';
import { type InputObject, ingestObject } from '../../shared/pipeline/ingest.ts';
import { TABLES, type TableKind } from '../../shared/tables.ts';
import type { GoldenRun, Schedule, Snapshot } from '../support/golden-join.ts';
import { tagValue } from '../support/golden-join.ts';
import { createHarness, type Harness } from '../support/harness.ts';

const dir = path.resolve(import.meta.dirname, '../fixtures/golden-join');

let h: Harness;
before(async () => {
  h = await createHarness('legacy-states');
});
after(() => h.close());

describe('join states stored before issue 17', () => {
  for (const name of ['handmade', 'arrays']) {
    it(`${name}: the old version's states, the rest of its files and ticks → the rows it emitted`, async () => {
      const { schedule, snapshot, expected } = JSON.parse(
        readFileSync(path.join(dir, `${name}.json`), 'utf8'),
      ) as {
        schedule: Schedule;
        snapshot: Snapshot;
        expected: GoldenRun;
      };
      await h.fs.reset();
      // The states as the old JoinStore.stage wrote them (s: the version-2 state).
      const batch = h.fs.db.batch();
      for (const [key, s, deadline] of snapshot.states) {
        const state = s as { v: number; status: string; purgeAtMs: number | null };
        assert.equal(state.v, 2, 'a state in the old format');
        batch.set(h.collections.states.doc(docIdFor(key)), {
          orderId: key,
          s,
          status: state.status,
          deadline: deadline === null ? null : Timestamp.fromMillis(deadline),
          deadlineShard: shardOf(key, h.config.indexShards),
          expireAt: state.purgeAtMs === null ? null : Timestamp.fromMillis(state.purgeAtMs),
          updatedAt: FieldValue.serverTimestamp(),
        });
      }
      await batch.commit();
      // Every file of the run, uploaded once; each ingest op delivers it at its time.
      const objects: InputObject[] = [];
      for (const f of schedule.files) {
        objects.push(
          await h.upload(`${name}/${f.name}`, Buffer.from(f.body, 'base64'), { landedAtMs: f.landedAtMs }),
        );
      }
      // The run's timeouts (shorter than a setting may be: the core takes them as given).
      const config = {
        ...h.config,
        ...schedule.settings,
        ordersPrefix: `${name}/stream/orders/`,
        paymentsPrefix: `${name}/stream/payments/`,
      };
      const log = createLogger({ level: 'silent' });
      for (let i = snapshot.afterOp + 1; i < schedule.ops.length; i++) {
        const op = schedule.ops[i]!;
        h.clock = op.atMs;
        if (op.op === 'ingest') await ingestObject({ ...h.ingestDeps(), config }, objects[op.file]!);
        else {
          await evictExpired({
            db: h.fs.db,
            collections: h.collections,
            counter: h.counter,
            log,
            now: () => op.atMs,
            config,
          });
        }
      }
      const want = expected.rows.filter((r) => r.op > snapshot.afterOp);
      assert.ok(want.length > 0);
      const got = await h.outbox();
      assert.deepEqual(
        got.map((r) => r.id),
        want.map((r) => r.id).sort(),
        'the same row ids',
      );
      const byId = new Map(want.map((r) => [r.id, r]));
      for (const r of got) {
        const w = byId.get(r.id)!;
        assert.equal(r.table, w.table);
        const row = outboxToRow(TABLES[r.table as TableKind], r.row);
        assert.deepEqual(
          Object.entries(row).map(([k, v]) => [k, tagValue(v)]),
          w.columns,
          `row ${r.id} (${w.reason ?? 'joined'} of ${w.key})`,
        );
      }
    });
  }
});
