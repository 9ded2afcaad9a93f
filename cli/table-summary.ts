// `streamjoin table show`: a readable summary of one Iceberg table — what it is, where its current
// metadata is, what it holds, its schema and partitioning, and how to read it from Spark, BigQuery and
// DuckDB. Pure (tested in test/unit/cli-table-summary.test.ts); `--json` gives the same as data.
import type { Snapshot, TableMetadata } from '../shared/iceberg/index.ts';
import { describeType } from '../shared/iceberg/spec/type-info.ts';

export interface TableFacts {
  /** `namespace.table` */
  readonly name: string;
  readonly namespace: string;
  readonly table: string;
  readonly warehouse: string;
  readonly location: string;
  readonly metadataUri: string;
  readonly metadata: TableMetadata;
  readonly nowMs: number;
}

export interface TableSummary {
  readonly name: string;
  readonly location: string;
  readonly metadata: string;
  readonly formatVersion: number;
  readonly uuid: string;
  readonly currentSnapshot: {
    readonly id: string;
    readonly at: string;
    readonly ageMs: number;
    readonly operation: string;
    readonly summary: Readonly<Record<string, string>>;
  } | null;
  readonly snapshots: number;
  readonly records: number | null;
  readonly dataFiles: number | null;
  readonly bytes: number | null;
  readonly schema: {
    readonly id: number;
    readonly fields: ReadonlyArray<{
      id: number;
      name: string;
      type: string;
      required: boolean;
      doc?: string;
    }>;
  } | null;
  readonly partitionSpec: {
    readonly id: number;
    readonly fields: ReadonlyArray<{ name: string; transform: string; source: string }>;
  } | null;
  readonly readWith: { readonly spark: string; readonly bigquery: string; readonly duckdb: string };
}

const num = (v: string | undefined): number | null =>
  v === undefined || !/^\d+$/.test(v) ? null : Number(v);

function localPath(uri: string): string {
  return uri.replace(/^file:\/\//, '');
}

export function describeTable(f: TableFacts): TableSummary {
  const md = f.metadata;
  const cur: Snapshot | undefined = md.snapshots.find((s) => s.snapshotId === md.currentSnapshotId);
  const schema = md.schemas.find((s) => s.schemaId === md.currentSchemaId);
  const spec = md.partitionSpecs.find((s) => s.specId === md.defaultSpecId);
  const colName = (id: number) => schema?.fields.find((c) => c.id === id)?.name ?? `field ${id}`;
  const gcs = f.warehouse.startsWith('gs://');
  const packages = `org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.9.2${gcs ? ',org.apache.iceberg:iceberg-gcp-bundle:1.9.2' : ''}`;
  return {
    name: f.name,
    location: f.location,
    metadata: f.metadataUri,
    formatVersion: md.formatVersion,
    uuid: md.tableUuid,
    currentSnapshot:
      cur === undefined
        ? null
        : {
            id: cur.snapshotId.toString(),
            at: new Date(cur.timestampMs).toISOString(),
            ageMs: Math.max(0, f.nowMs - cur.timestampMs),
            operation: cur.summary.operation,
            summary: { ...cur.summary },
          },
    snapshots: md.snapshots.length,
    records: cur === undefined ? 0 : num(cur.summary['total-records']),
    dataFiles: cur === undefined ? 0 : num(cur.summary['total-data-files']),
    bytes: cur === undefined ? 0 : num(cur.summary['total-files-size']),
    schema:
      schema === undefined
        ? null
        : {
            id: schema.schemaId,
            fields: schema.fields.map((c) => ({
              id: c.id,
              name: c.name,
              type: describeType(c.type),
              required: c.required,
              ...(c.doc === undefined ? {} : { doc: c.doc }),
            })),
          },
    partitionSpec:
      spec === undefined
        ? null
        : {
            id: spec.specId,
            fields: spec.fields.map((p) => ({
              name: p.name,
              transform: p.transform,
              source: colName(p.sourceId),
            })),
          },
    readWith: {
      spark:
        `spark-sql --packages ${packages}` +
        ' --conf spark.sql.catalog.hadoop_catalog=org.apache.iceberg.spark.SparkCatalog' +
        ' --conf spark.sql.catalog.hadoop_catalog.type=hadoop' +
        ` --conf spark.sql.catalog.hadoop_catalog.warehouse=${f.warehouse}` +
        ` -e "SELECT * FROM hadoop_catalog.${f.namespace}.${f.table} LIMIT 10"`,
      bigquery: gcs
        ? `bq query --use_legacy_sql=false "CREATE OR REPLACE EXTERNAL TABLE mydataset.${f.table} WITH CONNECTION \`PROJECT.REGION.CONNECTION\` OPTIONS (format = 'ICEBERG', uris = ['${f.metadataUri}'])"`
        : `(BigQuery reads Iceberg from Cloud Storage only: copy ${localPath(f.location)} to gs://BUCKET/${f.namespace}/${f.table} and point uris at its metadata/${f.metadataUri.split('/').pop()})`,
      duckdb: `duckdb -c "INSTALL iceberg; LOAD iceberg;${gcs ? ' INSTALL httpfs; LOAD httpfs; CREATE SECRET (TYPE gcs, PROVIDER credential_chain);' : ''} SELECT count(*) FROM iceberg_scan('${gcs ? f.location : localPath(f.location)}', version = '?', allow_moved_paths = true)"`,
    },
  };
}

function ago(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h ago`;
  return `${(ms / 86_400_000).toFixed(1)} days ago`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatTableSummary(s: TableSummary): string {
  const lines: string[] = [];
  const kv = (k: string, v: string) => lines.push(`${k.padEnd(12)} ${v}`);
  kv('table', `${s.name} (Iceberg format v${s.formatVersion}, uuid ${s.uuid})`);
  kv('location', s.location);
  kv('metadata', s.metadata);
  const c = s.currentSnapshot;
  kv(
    'current',
    c === null
      ? 'no snapshot yet (nothing committed)'
      : `snapshot ${c.id}, ${c.operation}, ${c.at} (${ago(c.ageMs)})`,
  );
  const unknown = 'unknown (not in the snapshot summary)';
  kv(
    'holds',
    `${s.records === null ? unknown : `${s.records.toLocaleString('en-US')} rows`} in ${s.dataFiles === null ? '?' : s.dataFiles} data files${s.bytes === null ? '' : ` (${bytes(s.bytes)})`}; ${s.snapshots} snapshots`,
  );
  kv(
    'partitioned',
    s.partitionSpec === null || s.partitionSpec.fields.length === 0
      ? 'not partitioned'
      : s.partitionSpec.fields.map((p) => `${p.transform}(${p.source}) as ${p.name}`).join(', '),
  );
  if (s.schema !== null) {
    lines.push(`schema ${s.schema.id}`);
    const w = Math.max(...s.schema.fields.map((f) => f.name.length));
    for (const f of s.schema.fields) {
      lines.push(
        `  ${String(f.id).padStart(3)}  ${f.name.padEnd(w)}  ${f.type.padEnd(11)} ${f.required ? 'required' : 'optional'}${f.doc === undefined ? '' : `  ${f.doc}`}`,
      );
    }
  }
  lines.push('read it with');
  lines.push(`  Spark     ${s.readWith.spark}`);
  lines.push(`  BigQuery  ${s.readWith.bigquery}`);
  lines.push(`  DuckDB    ${s.readWith.duckdb}`);
  return lines.join('\n');
}
