// How the pipeline writes into a table that other engines may have changed: with the table's CURRENT
// schema, by field id (a column another engine added is written as null; a renamed column keeps its id
// and so keeps working), with the table's default partition spec (every transform computed, or the
// write refused), and with the table's Parquet properties. A change the pipeline cannot write through —
// a column it writes dropped or retyped, an optional one made required, a required column it has no value
// for, a transform it cannot compute — is a list of problems, each with what to do: the caller stops
// writing that table (rows stay in the outbox) and says so at alert level. Pure.
import { StreamjoinError } from '../errors.ts';
import type { FileColumn, FilePartition, FileSchema, PartitionTuple } from '../parquet/data-file-writer.ts';
import type { CodecName } from '../parquet/format.ts';
import type { TableDef } from '../tables.ts';
import { avroFieldName } from './spec/avro-schemas.ts';
import { partitionKey } from './spec/manifests.ts';
import { applyTransform, partitionPath } from './spec/transforms.ts';
import { describeType, parseTransform, sameType, transformResultType } from './spec/type-info.ts';
import type { PartitionSpec, PartitionValue, PrimitiveType, Schema, TableMetadata } from './spec/types.ts';

/** Iceberg table properties the writer follows (Java TableProperties names). */
export const TABLE_PROPERTIES = {
  compressionCodec: 'write.parquet.compression-codec',
  compressionLevel: 'write.parquet.compression-level',
  targetFileSize: 'write.target-file-size-bytes',
  metadataPreviousVersionsMax: 'write.metadata.previous-versions-max',
  commitNumRetries: 'commit.retry.num-retries',
  maxSnapshotAgeMs: 'history.expire.max-snapshot-age-ms',
  minSnapshotsToKeep: 'history.expire.min-snapshots-to-keep',
} as const;

/** A change another engine made that the pipeline cannot write through, and what to do about it. */
export interface WriteProblem {
  readonly change: string;
  readonly action: string;
}

export interface WriterSettings {
  readonly codec: CodecName;
  readonly level?: number;
}

export interface TableLayout {
  readonly schema: Schema;
  readonly spec: PartitionSpec;
  /** Columns and partitioning as the Parquet writer takes them. */
  readonly fileSchema: FileSchema & { readonly partition: FilePartition };
  /** `joined_at_day=2024-05-01` for a tuple of this spec. */
  pathOf(tuple: PartitionTuple): string;
  /** Schema and spec ids, part of a flushed file's name: a retry under another layout writes another file. */
  readonly id: string;
  readonly writer: WriterSettings;
  /** Things worth a warning that do not stop the write (an unknown codec: zstd is used instead). */
  readonly warnings: readonly string[];
}

export type LayoutPlan =
  | { readonly ok: true; readonly layout: TableLayout }
  | { readonly ok: false; readonly problems: readonly WriteProblem[] };

const CODECS: Readonly<Record<string, CodecName>> = {
  zstd: 'ZSTD',
  gzip: 'GZIP',
  snappy: 'SNAPPY',
  brotli: 'BROTLI',
  uncompressed: 'UNCOMPRESSED',
  none: 'UNCOMPRESSED',
};

/** The table's Parquet compression (Java default zstd); a codec this writer lacks falls back to zstd. */
export function writerSettingsOf(properties: Readonly<Record<string, string>>): {
  settings: WriterSettings;
  warnings: string[];
} {
  const warnings: string[] = [];
  const raw = properties[TABLE_PROPERTIES.compressionCodec]?.toLowerCase();
  let codec: CodecName = 'ZSTD';
  if (raw !== undefined) {
    const known = CODECS[raw];
    if (known === undefined)
      warnings.push(
        `${TABLE_PROPERTIES.compressionCodec}=${raw} is not a codec this writer has (zstd, gzip, snappy, brotli, uncompressed): writing zstd`,
      );
    else codec = known;
  }
  const levelRaw = properties[TABLE_PROPERTIES.compressionLevel];
  const level = levelRaw === undefined ? undefined : Number(levelRaw);
  const ranges: Partial<Record<CodecName, [number, number]>> = {
    ZSTD: [1, 22],
    GZIP: [0, 9],
    BROTLI: [0, 11],
  };
  const range = ranges[codec];
  let useLevel: number | undefined;
  if (level !== undefined && range !== undefined) {
    if (Number.isInteger(level) && level >= range[0] && level <= range[1]) useLevel = level;
    else
      warnings.push(
        `${TABLE_PROPERTIES.compressionLevel}=${levelRaw} is not a ${codec} level: using the default`,
      );
  }
  return { settings: { codec, ...(useLevel === undefined ? {} : { level: useLevel }) }, warnings };
}

/** A positive integer table property, or undefined when unset or invalid. */
export function intProperty(properties: Readonly<Record<string, string>>, key: string): number | undefined {
  const raw = properties[key];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function currentSchemaOf(md: TableMetadata): Schema {
  const s = md.schemas.find((x) => x.schemaId === md.currentSchemaId);
  if (s === undefined)
    throw new StreamjoinError('internal', `current schema ${md.currentSchemaId} is not in the table`);
  return s;
}

function defaultSpecOf(md: TableMetadata): PartitionSpec {
  const s = md.partitionSpecs.find((x) => x.specId === md.defaultSpecId);
  if (s === undefined)
    throw new StreamjoinError('internal', `default spec ${md.defaultSpecId} is not in the table`);
  return s;
}

/**
 * The layout to write the pipeline's rows (keyed by the TableDef's column names) into the table as it
 * is now, or the problems that stop it.
 */
export function planTableWrite(def: TableDef, md: TableMetadata, tableName: string): LayoutPlan {
  const schema = currentSchemaOf(md);
  const spec = defaultSpecOf(md);
  const problems: WriteProblem[] = [];
  const ours = new Map(def.columns.map((c) => [c.id, c]));
  const restore = `restore a schema where field id %ID is column "%NAME" of type %TYPE (e.g. make schema %S current again), or deploy a pipeline version whose table definition matches the table; the rows wait in the outbox until then`;
  for (const c of def.columns) {
    const f = schema.fields.find((x) => x.id === c.id);
    const hint = restore
      .replace('%ID', String(c.id))
      .replace('%NAME', c.name)
      .replace('%TYPE', c.type)
      .replace('%S', String(md.schemas.find((s) => s.fields.some((x) => x.id === c.id))?.schemaId ?? 0));
    if (f === undefined) {
      problems.push({
        change: `column "${c.name}" (field id ${c.id}), which the pipeline writes, was dropped from the table (current schema ${schema.schemaId})`,
        action: hint,
      });
    } else if (!sameType(f.type, c.type)) {
      problems.push({
        change: `column "${f.name}" (field id ${c.id}) is ${describeType(f.type)} in the table, but the pipeline writes ${c.type}`,
        action: hint,
      });
    } else if (f.required && !c.required) {
      problems.push({
        change: `column "${f.name}" (field id ${c.id}) was made required, but the pipeline writes nulls there`,
        action: `make it optional again (ALTER TABLE ... ALTER COLUMN ${f.name} DROP NOT NULL); the rows wait in the outbox until then`,
      });
    }
  }
  for (const f of schema.fields) {
    if (!ours.has(f.id) && f.required) {
      problems.push({
        change: `column "${f.name}" (field id ${f.id}) is required, but the pipeline has no value for it`,
        action: `make it optional (ALTER TABLE ... ALTER COLUMN ${f.name} DROP NOT NULL) or drop it; the rows wait in the outbox until then`,
      });
    }
  }
  const partitionFields = spec.fields.map((pf) => {
    const source = schema.fields.find((f) => f.id === pf.sourceId);
    const transform = parseTransform(pf.transform);
    const resultType = source === undefined ? undefined : transformResultType(pf.transform, source.type);
    if (source === undefined || resultType === undefined || typeof source.type !== 'string') {
      problems.push({
        change: `partition field "${pf.name}" (spec ${spec.specId}) is ${pf.transform} of ${source === undefined ? `field id ${pf.sourceId}, which is not a top-level column` : describeType(source.type)}: a transform this writer cannot compute`,
        action:
          'change the partition spec to identity, bucket[N], truncate[W], year, month, day, hour or void of a top-level primitive column; the rows wait in the outbox until then',
      });
      return undefined;
    }
    const key = ours.get(source.id)?.name;
    return {
      name: pf.name,
      avroName: avroFieldName(pf.name),
      transform,
      resultType: resultType as PrimitiveType,
      sourceType: source.type,
      key,
    };
  });
  if (problems.length > 0) return { ok: false, problems };
  const fields = partitionFields.filter((f) => f !== undefined);
  const columns: FileColumn[] = schema.fields.map((f) => {
    const c = ours.get(f.id);
    return c === undefined ? { field: f } : { field: f, key: c.name };
  });
  const tupleOf = (values: PartitionValue[]): PartitionTuple => {
    const byName: Record<string, PartitionValue> = {};
    fields.forEach((f, i) => {
      byName[f.name] = values[i] ?? null;
    });
    return { key: partitionKey(byName), values: byName as PartitionTuple['values'] };
  };
  const valuesOf = (row: Readonly<Record<string, unknown>>): PartitionValue[] =>
    fields.map((f) => (f.key === undefined ? null : applyTransform(f.transform, f.sourceType, row[f.key])));
  const dayField = fields.length === 1 && fields[0]!.transform.kind === 'day' ? fields[0]! : undefined;
  const partition: FilePartition = {
    specId: spec.specId,
    of: (row) => tupleOf(valuesOf(row)),
    mismatch: (_row, got, want) =>
      `its partition ${partitionPathOf(got)} is not this data file's ${partitionPathOf(want)}: one file per partition`,
    ...(dayField === undefined
      ? {}
      : {
          forDay: (day: number) => tupleOf([day]),
          dayOf: (t: PartitionTuple) => t.values[dayField.name] as number,
        }),
  };
  function partitionPathOf(t: PartitionTuple): string {
    return partitionPath(
      fields,
      fields.map((f) => (t.values[f.name] ?? null) as PartitionValue),
    );
  }
  const { settings, warnings } = writerSettingsOf(md.properties);
  return {
    ok: true,
    layout: {
      schema,
      spec,
      fileSchema: { tableName, schemaId: schema.schemaId, columns, partition },
      pathOf: partitionPathOf,
      id: `s${schema.schemaId}-p${spec.specId}`,
      writer: settings,
      warnings,
    },
  };
}

/** The error that stops writing a table: names the table, each change and what to do. */
export function blockedTableError(table: string, problems: readonly WriteProblem[]): StreamjoinError {
  return new StreamjoinError(
    'incompatible-table',
    `the pipeline cannot write to table ${table} as another engine left it: ${problems
      .map((p) => `${p.change} — ${p.action}`)
      .join('; ')}`,
    { context: { table, problems } },
  );
}
