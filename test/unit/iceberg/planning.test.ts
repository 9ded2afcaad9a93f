// Planning as data: snapshot summaries and batch ids, requirements and updates, which snapshots expire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotsToExpire } from '../../../shared/iceberg/maintenance.ts';
import { snapshotTimestamp } from '../../../shared/iceberg/snapshot-producer.ts';
import {
  ancestorsOf,
  buildSummary,
  checkBatchId,
  committedBatchIds,
} from '../../../shared/iceberg/spec/summary.ts';
import type {
  DataFile,
  Snapshot,
  SnapshotSummary,
  TableMetadata,
} from '../../../shared/iceberg/spec/types.ts';
import {
  applyUpdates,
  checkRequirements,
  newSnapshotId,
  newTableMetadata,
  type TableRequirement,
  type TableUpdate,
} from '../../../shared/iceberg/spec/updates.ts';
import { JOINED_TABLE } from '../../../shared/tables.ts';

function file(path: string, rows: number, size: number, day: number): DataFile {
  return {
    content: 0,
    filePath: path,
    fileFormat: 'parquet',
    partition: { joined_at_day: day },
    recordCount: rows,
    fileSizeInBytes: size,
  };
}

describe('snapshot summaries', () => {
  const prior: SnapshotSummary = {
    operation: 'append',
    'total-records': '100',
    'total-files-size': '5000',
    'total-data-files': '4',
    'total-delete-files': '0',
    'total-position-deletes': '0',
    'total-equality-deletes': '0',
  };
  const cases: {
    name: string;
    input: Parameters<typeof buildSummary>[0];
    expected: Record<string, string | undefined>;
  }[] = [
    {
      name: 'first append: totals start at zero',
      input: {
        operation: 'append',
        added: [file('a', 10, 100, 1), file('b', 5, 50, 2)],
        removed: [],
        previous: undefined,
        batchIds: ['x', 'y'],
      },
      expected: {
        operation: 'append',
        'added-data-files': '2',
        'added-records': '15',
        'added-files-size': '150',
        'changed-partition-count': '2',
        'total-records': '15',
        'total-files-size': '150',
        'total-data-files': '2',
        'total-delete-files': '0',
        'total-position-deletes': '0',
        'total-equality-deletes': '0',
        'streamjoin.batch-ids': 'x,y',
      },
    },
    {
      name: 'append on a parent carries totals forward',
      input: { operation: 'append', added: [file('a', 10, 100, 1)], removed: [], previous: prior },
      expected: {
        'total-records': '110',
        'total-files-size': '5100',
        'total-data-files': '5',
        'streamjoin.batch-ids': undefined,
      },
    },
    {
      name: 'replace keeps the record total and counts removed files',
      input: {
        operation: 'replace',
        added: [file('c', 30, 900, 1)],
        removed: [file('a', 10, 400, 1), file('b', 20, 700, 1)],
        previous: prior,
      },
      expected: {
        operation: 'replace',
        'deleted-data-files': '2',
        'deleted-records': '30',
        'removed-files-size': '1100',
        'changed-partition-count': '1',
        'total-records': '100',
        'total-files-size': '4800',
        'total-data-files': '3',
      },
    },
    {
      name: 'a parent without totals (foreign writer) leaves totals out',
      input: {
        operation: 'append',
        added: [file('a', 1, 1, 1)],
        removed: [],
        previous: { operation: 'append' },
      },
      expected: { 'total-records': undefined, 'total-data-files': undefined, 'added-records': '1' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = buildSummary(c.input);
      for (const [k, v] of Object.entries(c.expected)) assert.equal(s[k], v, k);
    });
  }

  const ids = [
    { id: 'joined/2024-05-01/batch-1', problem: false },
    { id: '', problem: true },
    { id: 'a,b', problem: true },
  ];
  for (const c of ids) {
    it(`batch id ${JSON.stringify(c.id)} is ${c.problem ? 'rejected' : 'accepted'}`, () => {
      assert.equal(checkBatchId(c.id) !== undefined, c.problem);
    });
  }
});

function snap(id: bigint, parent: bigint | undefined, seq: number, ts: number, batchIds = ''): Snapshot {
  return {
    snapshotId: id,
    ...(parent === undefined ? {} : { parentSnapshotId: parent }),
    sequenceNumber: seq,
    timestampMs: ts,
    manifestList: `file:///t/metadata/snap-${id}.avro`,
    summary: { operation: 'append', ...(batchIds === '' ? {} : { 'streamjoin.batch-ids': batchIds }) },
  };
}

/** A table with a linear history 1 <- 2 <- 3 <- 4 (timestamps 100..400) and main at 4. */
function history(): TableMetadata {
  let md = newTableMetadata(JOINED_TABLE, 'file:///t', 0);
  const snaps = [
    snap(1n, undefined, 1, 100, 'a'),
    snap(2n, 1n, 2, 200, 'b,c'),
    snap(3n, 2n, 3, 300),
    snap(4n, 3n, 4, 400, 'd'),
  ];
  for (const s of snaps) {
    md = applyUpdates(
      md,
      [
        { action: 'add-snapshot', snapshot: s },
        { action: 'set-snapshot-ref', refName: 'main', snapshotId: s.snapshotId, type: 'branch' },
      ],
      { nowMs: s.timestampMs, baseMetadataFile: `file:///t/metadata/v${s.sequenceNumber}.metadata.json` },
    );
  }
  return md;
}

describe('history and batch ids', () => {
  it('walks ancestors newest first', () => {
    assert.deepEqual(
      ancestorsOf(history(), 4n).map((s) => s.snapshotId),
      [4n, 3n, 2n, 1n],
    );
  });
  const cases = [
    { name: 'none committed', ids: ['x', 'y'], found: [] },
    { name: 'all committed', ids: ['a', 'c', 'd'], found: ['a', 'c', 'd'] },
    { name: 'some committed', ids: ['b', 'z'], found: ['b'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual([...committedBatchIds(history(), c.ids)].sort(), c.found));
  }
});

describe('requirements and updates', () => {
  const reqs: { name: string; reqs: TableRequirement[]; problem: RegExp | undefined }[] = [
    {
      name: 'main at the expected snapshot',
      reqs: [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: 4n }],
      problem: undefined,
    },
    {
      name: 'main moved on',
      reqs: [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: 3n }],
      problem: /expected branch main at snapshot 3, but it is at 4/,
    },
    {
      name: 'empty table expected but main exists',
      reqs: [{ type: 'assert-ref-snapshot-id', ref: 'main', snapshotId: undefined }],
      problem: /expected branch main at snapshot none, but it is at 4/,
    },
    {
      name: 'another table',
      reqs: [{ type: 'assert-table-uuid', uuid: 'nope' }],
      problem: /expected table uuid nope/,
    },
  ];
  for (const c of reqs) {
    it(`requirement: ${c.name}`, () => {
      const r = checkRequirements(history(), c.reqs);
      if (c.problem === undefined) assert.equal(r, undefined);
      else assert.match(r ?? '', c.problem);
    });
  }

  it('add-snapshot + set-snapshot-ref moves main, the snapshot log and the sequence number', () => {
    const md = history();
    assert.equal(md.currentSnapshotId, 4n);
    assert.equal(md.lastSequenceNumber, 4);
    assert.deepEqual(
      md.snapshotLog.map((e) => e.snapshotId),
      [1n, 2n, 3n, 4n],
    );
    assert.deepEqual(md.refs['main'], { snapshotId: 4n, type: 'branch' });
    assert.equal(md.metadataLog.length, 4);
  });

  const bad: { name: string; updates: TableUpdate[]; message: RegExp }[] = [
    {
      name: 'a reused snapshot id',
      updates: [{ action: 'add-snapshot', snapshot: snap(2n, 4n, 5, 500) }],
      message: /already in the table/,
    },
    {
      name: 'a stale sequence number',
      updates: [{ action: 'add-snapshot', snapshot: snap(9n, 4n, 4, 500) }],
      message: /sequence number above/,
    },
    {
      name: 'a ref to an unknown snapshot',
      updates: [{ action: 'set-snapshot-ref', refName: 'main', snapshotId: 77n, type: 'branch' }],
      message: /expected ref main to point at a snapshot/,
    },
    {
      name: 'removing the current snapshot',
      updates: [{ action: 'remove-snapshots', snapshotIds: [4n] }],
      message: /ref main points at 4/,
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      assert.throws(
        () => applyUpdates(history(), c.updates, { nowMs: 1, baseMetadataFile: 'file:///x' }),
        c.message,
      );
    });
  }

  it('remove-snapshots prunes snapshots and the snapshot log', () => {
    const md = applyUpdates(history(), [{ action: 'remove-snapshots', snapshotIds: [1n, 2n] }], {
      nowMs: 1,
      baseMetadataFile: 'file:///v5',
    });
    assert.deepEqual(
      md.snapshots.map((s) => s.snapshotId),
      [3n, 4n],
    );
    assert.deepEqual(
      md.snapshotLog.map((s) => s.snapshotId),
      [3n, 4n],
    );
  });

  it('remove-snapshots clears the snapshot log before a removed entry (no gap in AS OF history)', () => {
    // 2 was current from 200 to 300; with it gone, [1 @100, 3 @300] would claim 1 was current then.
    let md = applyUpdates(
      history(),
      [{ action: 'set-snapshot-ref', refName: 'audit', snapshotId: 1n, type: 'tag' }],
      { nowMs: 450, baseMetadataFile: 'file:///v5' },
    );
    md = applyUpdates(md, [{ action: 'remove-snapshots', snapshotIds: [2n] }], {
      nowMs: 500,
      baseMetadataFile: 'file:///v6',
    });
    assert.deepEqual(
      md.snapshotLog.map((s) => s.snapshotId),
      [3n, 4n],
    );
    assert.deepEqual(
      md.snapshots.map((s) => s.snapshotId),
      [1n, 3n, 4n],
    );
  });

  it('remove-snapshots drops the statistics of removed snapshots and keeps the others verbatim', () => {
    const entry = (id: bigint) => ({
      snapshotId: id,
      json: { 'snapshot-id': id, 'statistics-path': `file:///t/metadata/${id}.stats`, 'x-engine': { a: 1 } },
    });
    const md = applyUpdates(
      { ...history(), statistics: [entry(1n), entry(4n)], partitionStatistics: [entry(2n), entry(3n)] },
      [{ action: 'remove-snapshots', snapshotIds: [1n, 2n] }],
      { nowMs: 500, baseMetadataFile: 'file:///v5' },
    );
    assert.deepEqual(md.statistics, [entry(4n)]);
    assert.deepEqual(md.partitionStatistics, [entry(3n)]);
  });

  // Fix 1 of issue 13: AS OF <a snapshot's commit time> must resolve to that snapshot, so its log entry
  // carries its own timestamp-ms, whatever the commit's clock says.
  const timeCases: { name: string; snapshotMs: number; nowMs: number; logMs: number; updatedMs: number }[] = [
    { name: 'commit clock 1 ms later', snapshotMs: 500, nowMs: 501, logMs: 500, updatedMs: 500 },
    { name: 'commit clock much later', snapshotMs: 500, nowMs: 9_000, logMs: 500, updatedMs: 500 },
    { name: 'commit clock earlier', snapshotMs: 500, nowMs: 450, logMs: 500, updatedMs: 500 },
  ];
  for (const c of timeCases) {
    it(`logs a new snapshot at its own timestamp-ms (${c.name}); last-updated-ms is the same`, () => {
      const md = applyUpdates(
        history(),
        [
          { action: 'add-snapshot', snapshot: snap(5n, 4n, 5, c.snapshotMs) },
          { action: 'set-snapshot-ref', refName: 'main', snapshotId: 5n, type: 'branch' },
        ],
        { nowMs: c.nowMs, baseMetadataFile: 'file:///v5' },
      );
      assert.deepEqual(md.snapshotLog.at(-1), { snapshotId: 5n, timestampMs: c.logMs });
      assert.equal(md.lastUpdatedMs, c.updatedMs);
    });
  }

  it('logs a rollback to an existing snapshot at the time of the change', () => {
    const md = applyUpdates(
      history(),
      [{ action: 'set-snapshot-ref', refName: 'main', snapshotId: 2n, type: 'branch' }],
      { nowMs: 700, baseMetadataFile: 'file:///v5' },
    );
    assert.deepEqual(md.snapshotLog.at(-1), { snapshotId: 2n, timestampMs: 700 });
    assert.equal(md.lastUpdatedMs, 700);
  });

  it('never moves last-updated-ms backwards (a change without a snapshot, on a clock behind)', () => {
    const md = applyUpdates(history(), [{ action: 'set-properties', updates: { k: 'v' } }], {
      nowMs: 10,
      baseMetadataFile: 'file:///v5',
    });
    assert.equal(md.lastUpdatedMs, 400);
  });

  const stampCases: { name: string; nowMs: number; expected: number }[] = [
    { name: 'now, when later than everything logged', nowMs: 1_000, expected: 1_000 },
    { name: 'after the last log entry, when now is the same millisecond', nowMs: 400, expected: 401 },
    { name: 'after the last log entry, when the clock is behind', nowMs: 50, expected: 401 },
  ];
  for (const c of stampCases) {
    it(`stamps a new snapshot: ${c.name}`, () => {
      assert.equal(snapshotTimestamp(history(), c.nowMs), c.expected);
    });
  }

  it('stamps a new snapshot no earlier than last-updated-ms (another engine set a property later)', () => {
    const md = applyUpdates(history(), [{ action: 'set-properties', updates: { k: 'v' } }], {
      nowMs: 900,
      baseMetadataFile: 'file:///v5',
    });
    assert.equal(snapshotTimestamp(md, 600), 900);
  });

  it('caps the metadata log', () => {
    const md = applyUpdates(history(), [], { nowMs: 1, baseMetadataFile: 'file:///v5', maxMetadataLog: 2 });
    assert.deepEqual(
      md.metadataLog.map((e) => e.metadataFile),
      ['file:///t/metadata/v4.metadata.json', 'file:///v5'],
    );
  });

  it('generates positive 63-bit snapshot ids, avoiding taken ones', () => {
    const taken = new Set<bigint>();
    for (let i = 0; i < 200; i++) {
      const id = newSnapshotId(taken);
      assert.ok(id > 0n && id < 2n ** 63n);
      assert.ok(!taken.has(id));
      taken.add(id);
    }
  });
});

describe('which snapshots expire', () => {
  const cases = [
    { name: 'nothing older than the cutoff', olderThan: 50, retainLast: 1, expired: [] },
    { name: 'older than 250, keep at least 1', olderThan: 250, retainLast: 1, expired: [1n, 2n] },
    { name: 'everything old, keep the last 1', olderThan: 1000, retainLast: 1, expired: [1n, 2n, 3n] },
    { name: 'everything old, keep the last 3', olderThan: 1000, retainLast: 3, expired: [1n] },
    { name: 'retainLast larger than history', olderThan: 1000, retainLast: 10, expired: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(snapshotsToExpire(history(), c.olderThan, c.retainLast), c.expired));
  }
});
