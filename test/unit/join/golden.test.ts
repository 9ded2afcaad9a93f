// The join's data path against what the pipeline produced before it followed the join spec (issue 17,
// "the default spec's output is identical to today's on the same input"): test/fixtures/golden-join/
// holds three schedules (every fault kind of the producer, shuffled ingest, redeliveries, files ingested
// after their window closed, states past retention) with every row, reject, outcome and counter the old
// version produced, and a snapshot of its join states halfway, as it stored them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { outboxToRow } from '../../../shared/pipeline/flush.ts';
import { TABLES, type TableKind } from '../../../shared/tables.ts';
import {
  type GoldenRun,
  runSchedule,
  type Schedule,
  type Snapshot,
  tableShapes,
  tagValue,
} from '../../support/golden-join.ts';

const dir = path.resolve(import.meta.dirname, '../../fixtures/golden-join');
const NAMES = ['objects', 'jsonl-gzip', 'arrays', 'handmade'];

function load(name: string): { schedule: Schedule; snapshot: Snapshot; expected: GoldenRun } {
  return JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8'));
}

describe('golden run of the default spec (recorded before issue 17)', () => {
  for (const name of NAMES) {
    it(`${name}: every row (ids, columns, outbox values, sources), reject, outcome and counter`, async () => {
      const { schedule, expected } = load(name);
      const run = await runSchedule(schedule);
      assert.equal(run.rows.length, expected.rows.length, 'rows');
      for (let i = 0; i < expected.rows.length; i++) {
        const { outbox, ...row } = run.rows[i]!;
        const { outbox: expectedOutbox, ...expectedRow } = expected.rows[i]!;
        assert.deepStrictEqual(row, expectedRow, `row ${i}`);
        // The outbox holds the time as decimal microseconds now (values.ts), a number before: the flush
        // reads both to the same table row, and that row is the golden one, column for column.
        const def = TABLES[row.table as TableKind];
        const flushed = outboxToRow(def, outbox);
        assert.deepStrictEqual(flushed, outboxToRow(def, expectedOutbox), `row ${i} outbox`);
        assert.deepStrictEqual(
          Object.entries(flushed).map(([k, v]) => [k, tagValue(v)]),
          row.columns,
          `row ${i} outbox columns`,
        );
      }
      assert.deepStrictEqual(run.rejects, expected.rejects);
      assert.deepStrictEqual(run.outcomes, expected.outcomes);
      assert.deepStrictEqual(run.counters, expected.counters);
      assert.deepStrictEqual(run.finalStatuses, expected.finalStatuses);
    });

    it(`${name}: from join states stored halfway by the old version, the rest of the rows are the same`, async () => {
      const { schedule, snapshot, expected } = load(name);
      assert.ok(snapshot.states.length > 0, 'the snapshot holds states');
      const run = await runSchedule(schedule, { from: snapshot });
      const strip = (rows: GoldenRun['rows']) => rows.map(({ outbox: _, ...r }) => r);
      assert.deepStrictEqual(strip(run.rows), strip(expected.rows.filter((r) => r.op > snapshot.afterOp)));
      assert.deepStrictEqual(
        run.rejects,
        expected.rejects.filter((r) => r.op > snapshot.afterOp),
      );
    });
  }

  it('the tables: Iceberg schemas, field ids, partition specs and Parquet file schemas', () => {
    const expected = JSON.parse(readFileSync(path.join(dir, 'tables.json'), 'utf8'));
    assert.deepStrictEqual(JSON.parse(JSON.stringify(tableShapes())), expected);
  });
});
