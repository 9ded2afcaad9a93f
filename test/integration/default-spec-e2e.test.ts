// The default spec's output is today's, end to end (issue 17, "Done when"): the version before the
// pipeline followed a join spec (e996bd7) ran a workload with every fault kind live on its local stack
// (test/fixtures/default-e2e: its GCS data dir — the objects with their generations and landing times —
// and its two tables, every column of every row). Here the current pipeline, with nothing set (the
// default spec), processes the same objects (the same generations, so the same landing times): the local
// GCS server delivers them again in landing order with their own spacing, with 30 % duplicate delivery and
// random delays shorter than the allowed lateness, as in the determinism test. The tables must equal the
// old version's, every column compared, and pass both reference readers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { freeLocalPorts, REPO_ROOT } from '../../infra/local/ports.ts';
import { stackDown, stackUp } from '../../infra/local/stack.ts';
import { checkIceberg, formatIcebergCheck } from '../../infra/ops/check-iceberg.ts';
import { drain } from '../../infra/ops/drain.ts';
import { readAllColumns } from '../../infra/ops/verify.ts';
import { loadConfig } from '../../shared/config.ts';
import { collections, createFirestore } from '../../shared/firestore/client.ts';
import { tableLocationOf } from '../../shared/pipeline/compact.ts';
import { FileObjectStore } from '../../shared/storage/file-store.ts';
import { gcsAdmin } from '../support/gcs-admin.ts';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/default-e2e');
const recorded = JSON.parse(readFileSync(path.join(FIXTURE, 'tables.json'), 'utf8')) as {
  recordedWith: string;
  inputBucket: string;
  joined: string[];
  unmatched: string[];
};

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) {
    await stackDown(d);
    await rm(d, { recursive: true, force: true });
  }
});

describe('the default spec end to end: the tables of the version before join specs', () => {
  it(`the same objects give the same tables as ${recorded.recordedWith}, every column`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sj-default-e2e-'));
    dirs.push(dataDir);
    mkdirSync(path.join(dataDir, 'gcs'));
    execFileSync('tar', ['-xzf', path.join(FIXTURE, 'gcs.tgz'), '-C', path.join(dataDir, 'gcs')]);
    const rec = await stackUp({
      dataDir,
      ports: await freeLocalPorts(),
      // The settings the recording ran with; no STREAMJOIN_SPEC: the default spec.
      env: {
        STREAMJOIN_ORDER_TIMEOUT: '5s',
        STREAMJOIN_PAYMENT_TIMEOUT: '5s',
        STREAMJOIN_ALLOWED_LATENESS: '20s',
      },
    });
    const config = loadConfig(rec.env);
    assert.equal(config.spec, undefined, 'nothing set: the default spec');
    assert.equal(config.inputBucket, recorded.inputBucket);
    const db = createFirestore(config);
    const cols = collections(db, config.collectionPrefix);
    try {
      const admin = gcsAdmin(rec.urls.storage);
      await admin('options', 'PATCH', { duplicateProbability: 0.3, shuffleDelayMs: 3000, retryMaxMs: 1000 });
      const { events } = await admin('redeliver', 'POST', { bucket: config.inputBucket, paced: true });
      assert.ok(events > 100, `the recorded objects are there: ${events}`);
      await drain(cols, { timeoutMs: 180_000, gcsAdminUrl: rec.urls.storage, pollMs: 500 });
      const locations = {
        joined: tableLocationOf(config, 'joined'),
        unmatched: tableLocationOf(config, 'unmatched'),
      };
      const now = await readAllColumns(new FileObjectStore(), locations);
      assert.equal(now.joined.length, recorded.joined.length, 'joined rows');
      assert.equal(now.unmatched.length, recorded.unmatched.length, 'unmatched rows');
      assert.deepEqual(now.joined, recorded.joined);
      assert.deepEqual(now.unmatched, recorded.unmatched);
      for (const [kind, location] of Object.entries(locations)) {
        const c = await checkIceberg(location, kind === 'joined' ? { key: 'order_id' } : {});
        assert.ok(c.ok, formatIcebergCheck(c));
      }
    } finally {
      await db.terminate();
      await stackDown(dataDir);
    }
  });
});
