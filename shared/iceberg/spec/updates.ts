// A commit as data (iceberg-rust `TableUpdate`/`TableRequirement`, the REST catalog's vocabulary):
// requirements are checked against the metadata a commit lands on, updates turn one metadata version
// into the next. Also the initial metadata of a new table and snapshot id generation. Pure.
import { randomUUID } from 'node:crypto';
import type { TableDef } from '../../tables.ts';
import { partitionSpecFromTableDef, schemaFromTableDef, UNSORTED_ORDER } from './schema.ts';
import { walkFields } from './type-info.ts';
import {
  FORMAT_VERSION,
  MAIN_BRANCH,
  type MetadataLogEntry,
  type RefType,
  type Schema,
  type Snapshot,
  type SnapshotId,
  type SnapshotLogEntry,
  type SnapshotRef,
  type TableMetadata,
} from './types.ts';

export type TableUpdate =
  | { readonly action: 'add-snapshot'; readonly snapshot: Snapshot }
  | {
      readonly action: 'set-snapshot-ref';
      readonly refName: string;
      readonly snapshotId: SnapshotId;
      readonly type: RefType;
    }
  | { readonly action: 'remove-snapshots'; readonly snapshotIds: readonly SnapshotId[] }
  | { readonly action: 'set-properties'; readonly updates: Readonly<Record<string, string>> }
  /** A new schema (REST `add-schema`); `lastColumnId` is the highest field id assigned with it. */
  | { readonly action: 'add-schema'; readonly schema: Schema; readonly lastColumnId: number }
  | { readonly action: 'set-current-schema'; readonly schemaId: number };

export type TableRequirement =
  | { readonly type: 'assert-table-uuid'; readonly uuid: string }
  /** The ref must point at this snapshot (undefined: the ref must not exist — an empty table). */
  | {
      readonly type: 'assert-ref-snapshot-id';
      readonly ref: string;
      readonly snapshotId: SnapshotId | undefined;
    }
  /** The table's current schema must still be this one (a schema change planned on it). */
  | { readonly type: 'assert-current-schema-id'; readonly currentSchemaId: number }
  /** No field id above this was assigned since (REST `assert-last-assigned-field-id`). */
  | { readonly type: 'assert-last-assigned-field-id'; readonly lastAssignedFieldId: number };

/** Why the requirements do not hold on `md`, or undefined when they all do. */
export function checkRequirements(
  md: TableMetadata,
  requirements: readonly TableRequirement[],
): string | undefined {
  for (const r of requirements) {
    if (r.type === 'assert-table-uuid' && md.tableUuid !== r.uuid) {
      return `expected table uuid ${r.uuid}, but the table's is ${md.tableUuid}`;
    }
    if (r.type === 'assert-current-schema-id' && md.currentSchemaId !== r.currentSchemaId) {
      return `expected current schema ${r.currentSchemaId}, but the table's is ${md.currentSchemaId}`;
    }
    if (r.type === 'assert-last-assigned-field-id' && md.lastColumnId !== r.lastAssignedFieldId) {
      return `expected last assigned field id ${r.lastAssignedFieldId}, but the table's is ${md.lastColumnId}`;
    }
    if (r.type === 'assert-ref-snapshot-id') {
      const actual = md.refs[r.ref]?.snapshotId;
      if (actual !== r.snapshotId) {
        return `expected branch ${r.ref} at snapshot ${r.snapshotId ?? 'none'}, but it is at ${actual ?? 'none'}`;
      }
    }
  }
  return undefined;
}

export interface ApplyContext {
  readonly nowMs: number;
  /** Location of the metadata file `base` was read from: it goes into the new file's metadata-log. */
  readonly baseMetadataFile: string;
  /** Keep at most this many metadata-log entries (Java `write.metadata.previous-versions-max`, default 100). */
  readonly maxMetadataLog?: number;
}

/**
 * The next metadata version: `updates` applied in order to `base`. Throws on an impossible update.
 *
 * Time, as Java's TableMetadata.Builder keeps it: the snapshot-log entry of a snapshot added by this
 * change carries the snapshot's OWN timestamp-ms (an `AS OF` its commit time must resolve to it, not
 * to its parent), and last-updated-ms is that timestamp too; a change without a new snapshot is
 * stamped `nowMs`. Never earlier than the base's last-updated-ms (Java rejects metadata whose
 * last-updated-ms precedes its logs by more than a minute).
 */
export function applyUpdates(
  base: TableMetadata,
  updates: readonly TableUpdate[],
  ctx: ApplyContext,
): TableMetadata {
  let snapshots = [...base.snapshots];
  let snapshotLog = [...base.snapshotLog];
  let refs: Record<string, SnapshotRef> = { ...base.refs };
  let currentSnapshotId = base.currentSnapshotId;
  let lastSequenceNumber = base.lastSequenceNumber;
  let properties = { ...base.properties };
  let schemas = base.schemas;
  let currentSchemaId = base.currentSchemaId;
  let lastColumnId = base.lastColumnId;
  let statistics = base.statistics;
  let partitionStatistics = base.partitionStatistics;
  const added = new Map<SnapshotId, Snapshot>();
  const nowMs = Math.max(ctx.nowMs, base.lastUpdatedMs);
  let lastUpdatedMs = nowMs;
  for (const u of updates) {
    switch (u.action) {
      case 'add-snapshot': {
        const s = u.snapshot;
        if (snapshots.some((x) => x.snapshotId === s.snapshotId)) {
          throw new Error(`expected a new snapshot id, but ${s.snapshotId} is already in the table`);
        }
        if (s.sequenceNumber <= lastSequenceNumber) {
          throw new Error(
            `expected sequence number above the table's last (${lastSequenceNumber}), but the snapshot has ${s.sequenceNumber}`,
          );
        }
        snapshots.push(s);
        added.set(s.snapshotId, s);
        lastSequenceNumber = s.sequenceNumber;
        lastUpdatedMs = Math.max(base.lastUpdatedMs, s.timestampMs);
        break;
      }
      case 'set-snapshot-ref': {
        if (!snapshots.some((x) => x.snapshotId === u.snapshotId)) {
          throw new Error(
            `expected ref ${u.refName} to point at a snapshot of the table, but ${u.snapshotId} is not`,
          );
        }
        refs[u.refName] = { ...(refs[u.refName] ?? {}), snapshotId: u.snapshotId, type: u.type };
        if (u.refName === MAIN_BRANCH) {
          currentSnapshotId = u.snapshotId;
          // Java: a snapshot added by this change is logged at its own timestamp; a rollback to an
          // existing one at the time of the change.
          const timeOfChange = added.get(u.snapshotId)?.timestampMs ?? lastUpdatedMs;
          snapshotLog.push({ snapshotId: u.snapshotId, timestampMs: timeOfChange });
        }
        break;
      }
      case 'remove-snapshots': {
        const gone = new Set(u.snapshotIds);
        for (const [name, ref] of Object.entries(refs)) {
          if (gone.has(ref.snapshotId)) {
            throw new Error(
              `expected removed snapshots to be unreferenced, but ref ${name} points at ${ref.snapshotId}`,
            );
          }
        }
        snapshots = snapshots.filter((s) => !gone.has(s.snapshotId));
        // Java: an entry whose snapshot is gone clears the history before it, so an AS OF query never
        // resolves to a snapshot that was not current at that time (a gap would make it look so).
        const log: SnapshotLogEntry[] = [];
        for (const e of snapshotLog) {
          if (gone.has(e.snapshotId)) log.length = 0;
          else log.push(e);
        }
        snapshotLog = log;
        // Statistics describe one snapshot each: they go with it (Java removeSnapshots does the same).
        statistics = statistics.filter((f) => !gone.has(f.snapshotId));
        partitionStatistics = partitionStatistics.filter((f) => !gone.has(f.snapshotId));
        refs = { ...refs };
        break;
      }
      case 'set-properties':
        properties = { ...properties, ...u.updates };
        break;
      case 'add-schema': {
        if (schemas.some((x) => x.schemaId === u.schema.schemaId)) {
          throw new Error(`expected a new schema id, but ${u.schema.schemaId} is already in the table`);
        }
        const highest = Math.max(0, ...[...walkFields(u.schema.fields)].map((f) => f.id));
        if (highest > u.lastColumnId) {
          throw new Error(
            `expected the schema's field ids to be at most its last column id ${u.lastColumnId}, but it has ${highest}`,
          );
        }
        schemas = [...schemas, u.schema];
        lastColumnId = Math.max(lastColumnId, u.lastColumnId);
        break;
      }
      case 'set-current-schema':
        if (!schemas.some((x) => x.schemaId === u.schemaId)) {
          throw new Error(`expected schema ${u.schemaId} to be in the table, but it is not`);
        }
        currentSchemaId = u.schemaId;
        break;
    }
  }
  const maxLog = ctx.maxMetadataLog ?? 100;
  const metadataLog: MetadataLogEntry[] = [
    ...base.metadataLog,
    { metadataFile: ctx.baseMetadataFile, timestampMs: base.lastUpdatedMs },
  ].slice(-maxLog);
  return {
    ...base,
    lastSequenceNumber,
    lastUpdatedMs,
    lastColumnId,
    schemas,
    currentSchemaId,
    properties,
    ...(currentSnapshotId === undefined ? {} : { currentSnapshotId }),
    snapshots,
    snapshotLog,
    metadataLog,
    refs,
    statistics,
    partitionStatistics,
  };
}

/** Metadata v1 of a new, empty table for a project table definition. */
export function newTableMetadata(
  def: TableDef,
  location: string,
  nowMs: number,
  properties: Readonly<Record<string, string>> = {},
): TableMetadata {
  const schema = schemaFromTableDef(def);
  const spec = partitionSpecFromTableDef(def, schema);
  return {
    formatVersion: FORMAT_VERSION,
    tableUuid: randomUUID(),
    location,
    lastSequenceNumber: 0,
    lastUpdatedMs: nowMs,
    lastColumnId: Math.max(...schema.fields.map((f) => f.id)),
    schemas: [schema],
    currentSchemaId: schema.schemaId,
    partitionSpecs: [spec],
    defaultSpecId: spec.specId,
    lastPartitionId: Math.max(999, ...spec.fields.map((f) => f.fieldId)),
    properties: { 'write.format.default': 'parquet', ...properties },
    snapshots: [],
    snapshotLog: [],
    metadataLog: [],
    sortOrders: [UNSORTED_ORDER],
    defaultSortOrderId: UNSORTED_ORDER.orderId,
    refs: {},
    statistics: [],
    partitionStatistics: [],
  };
}

const MAX_LONG = (1n << 63n) - 1n;

/**
 * A positive random 63-bit snapshot id, as the spec's Appendix F describes the Java reference: a type 4
 * UUID's most significant 64 bits XOR its least significant 64 bits, AND Long.MAX_VALUE. Avoids `taken`.
 */
export function newSnapshotId(taken: ReadonlySet<SnapshotId> = new Set()): SnapshotId {
  for (;;) {
    const hex = randomUUID().replaceAll('-', '');
    const id = (BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16)}`)) & MAX_LONG;
    if (id !== 0n && !taken.has(id)) return id;
  }
}
