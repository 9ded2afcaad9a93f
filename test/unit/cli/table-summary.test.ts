// `table show`: the summary names the current snapshot, counts, schema, partitioning and the
// one-liners for Spark, BigQuery and DuckDB — for a local (file://) and a GCS warehouse, and a table
// with nothing committed yet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTable, formatTableSummary, type TableFacts } from '../../../cli/table-summary.ts';
import type { TableMetadata } from '../../../shared/iceberg/index.ts';
import { newTableMetadata } from '../../../shared/iceberg/spec/updates.ts';
import { JOINED_TABLE } from '../../../shared/tables.ts';

const NOW = Date.UTC(2026, 0, 2, 12, 0, 0);

function facts(warehouse: string, withSnapshot: boolean): TableFacts {
  const location = `${warehouse}default/orders_payments`;
  const base = newTableMetadata(JOINED_TABLE, location, NOW - 3_600_000);
  const metadata: TableMetadata = withSnapshot
    ? {
        ...base,
        currentSnapshotId: 42n,
        snapshots: [
          {
            snapshotId: 42n,
            sequenceNumber: 1,
            timestampMs: NOW - 90_000,
            manifestList: `${location}/metadata/snap-42.avro`,
            summary: {
              operation: 'append',
              'total-records': '1234',
              'total-data-files': '5',
              'total-files-size': '2048000',
            },
          },
        ],
      }
    : base;
  return {
    name: 'default.orders_payments',
    namespace: 'default',
    table: 'orders_payments',
    warehouse,
    location,
    metadataUri: `${location}/metadata/v7.metadata.json`,
    metadata,
    nowMs: NOW,
  };
}

describe('table show summary', () => {
  it('a local table: snapshot, counts, schema, partitioning and how to read it', () => {
    const s = describeTable(facts('file:///data/wh/', true));
    assert.equal(s.records, 1234);
    assert.equal(s.dataFiles, 5);
    assert.equal(s.snapshots, 1);
    assert.deepEqual(s.currentSnapshot && [s.currentSnapshot.id, s.currentSnapshot.ageMs], ['42', 90_000]);
    assert.deepEqual(s.partitionSpec?.fields, [
      { name: 'joined_at_day', transform: 'day', source: 'joined_at' },
    ]);
    const text = formatTableSummary(s);
    for (const expected of [
      /^table +default\.orders_payments \(Iceberg format v2, uuid /m,
      /^metadata +file:\/\/\/data\/wh\/default\/orders_payments\/metadata\/v7\.metadata\.json$/m,
      /^current +snapshot 42, append, 2026-01-02T11:58:30\.000Z \(2 min ago\)$/m,
      /^holds +1,234 rows in 5 data files \(2\.0 MiB\); 1 snapshots$/m,
      /^partitioned +day\(joined_at\) as joined_at_day$/m,
      /^ {4}1 {2}order_id +string +required$/m,
      /^ {4}9 {2}joined_at +timestamptz required/m,
      /^ {2}Spark .*warehouse=file:\/\/\/data\/wh\/ -e "SELECT \* FROM hadoop_catalog\.default\.orders_payments LIMIT 10"$/m,
      /^ {2}BigQuery +\(BigQuery reads Iceberg from Cloud Storage only/m,
      /^ {2}DuckDB .*iceberg_scan\('\/data\/wh\/default\/orders_payments', version = '\?', allow_moved_paths = true\)/m,
    ])
      assert.match(text, expected);
  });

  it('a GCS table: the BigQuery statement points at its current metadata file', () => {
    const s = describeTable(facts('gs://spark-iceberg-warehouse/', true));
    assert.match(
      s.readWith.bigquery,
      /CREATE OR REPLACE EXTERNAL TABLE mydataset\.orders_payments .*uris = \['gs:\/\/spark-iceberg-warehouse\/default\/orders_payments\/metadata\/v7\.metadata\.json'\]/,
    );
    assert.match(s.readWith.spark, /iceberg-gcp-bundle/);
    assert.match(s.readWith.duckdb, /CREATE SECRET \(TYPE gcs/);
  });

  it('nothing committed yet', () => {
    const s = describeTable(facts('file:///data/wh/', false));
    assert.equal(s.currentSnapshot, null);
    assert.equal(s.records, 0);
    assert.match(formatTableSummary(s), /^current +no snapshot yet \(nothing committed\)$/m);
  });
});
