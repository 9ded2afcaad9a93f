// Table metadata JSON (Appendix C) <-> domain types. The only place the kebab-case wire names live.
// Longs beyond 2^53 (snapshot ids written by Java engines) survive: parsing keeps the source digits as a
// bigint, printing writes them back raw. Decoding returns issues instead of throwing (zod style). Pure.
import { parsePrimitive } from './type-info.ts';
import {
  type Extra,
  FORMAT_VERSION,
  type IcebergType,
  type MetadataLogEntry,
  type NestedField,
  OPERATIONS,
  type Operation,
  type PartitionSpec,
  PRIMITIVE_NAMES,
  REF_TYPES,
  type Schema,
  type Snapshot,
  type SnapshotId,
  type SnapshotLogEntry,
  type SnapshotRef,
  type SnapshotSummary,
  type SortOrder,
  type StatisticsFile,
  type TableMetadata,
} from './types.ts';

// ---- JSON with 64-bit integers -------------------------------------------------------------------

/** JSON.parse keeping integers outside ±2^53 exact, as bigint (Node ≥ 21: reviver source access). */
export function parseJsonWithLongs(text: string): unknown {
  return JSON.parse(text, function (this: unknown, _key, value, context?: { source?: string }) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined) {
      if (/^-?\d+$/.test(context.source)) return BigInt(context.source);
    }
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
}

/** JSON.stringify printing bigint as a bare JSON integer. */
export function stringifyJsonWithLongs(value: unknown, indent?: number): string {
  const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? rawJSON(v.toString()) : v), indent);
}

// ---- Encoding ------------------------------------------------------------------------------------

const withExtra = (known: Record<string, unknown>, extra: Extra | undefined): Record<string, unknown> =>
  extra === undefined ? known : { ...known, ...extra };

export function typeToJson(t: IcebergType): unknown {
  if (typeof t === 'string') return t;
  switch (t.type) {
    case 'struct':
      return withExtra({ type: 'struct', fields: t.fields.map(fieldToJson) }, t.extra);
    case 'list':
      return withExtra(
        {
          type: 'list',
          'element-id': t.elementId,
          element: typeToJson(t.element),
          'element-required': t.elementRequired,
        },
        t.extra,
      );
    case 'map':
      return withExtra(
        {
          type: 'map',
          'key-id': t.keyId,
          key: typeToJson(t.key),
          'value-id': t.valueId,
          value: typeToJson(t.value),
          'value-required': t.valueRequired,
        },
        t.extra,
      );
  }
}

function fieldToJson(f: NestedField): Record<string, unknown> {
  return withExtra(
    {
      id: f.id,
      name: f.name,
      required: f.required,
      type: typeToJson(f.type),
      ...(f.doc === undefined ? {} : { doc: f.doc }),
    },
    f.extra,
  );
}

export function schemaToJson(schema: Schema): Record<string, unknown> {
  return withExtra(
    {
      type: 'struct',
      'schema-id': schema.schemaId,
      ...(schema.identifierFieldIds === undefined
        ? {}
        : { 'identifier-field-ids': schema.identifierFieldIds }),
      fields: schema.fields.map(fieldToJson),
    },
    schema.extra,
  );
}

export function partitionFieldsToJson(spec: PartitionSpec): Record<string, unknown>[] {
  return spec.fields.map((f) =>
    withExtra(
      {
        name: f.name,
        transform: f.transform,
        'source-id': f.sourceId,
        'field-id': f.fieldId,
      },
      f.extra,
    ),
  );
}

export function partitionSpecToJson(spec: PartitionSpec): Record<string, unknown> {
  return withExtra({ 'spec-id': spec.specId, fields: partitionFieldsToJson(spec) }, spec.extra);
}

function sortOrderToJson(order: SortOrder): Record<string, unknown> {
  return withExtra(
    {
      'order-id': order.orderId,
      fields: order.fields.map((f) =>
        withExtra(
          {
            transform: f.transform,
            'source-id': f.sourceId,
            direction: f.direction,
            'null-order': f.nullOrder,
          },
          f.extra,
        ),
      ),
    },
    order.extra,
  );
}

function refToJson(ref: SnapshotRef): Record<string, unknown> {
  return withExtra(
    {
      'snapshot-id': ref.snapshotId,
      type: ref.type,
      ...(ref.minSnapshotsToKeep === undefined ? {} : { 'min-snapshots-to-keep': ref.minSnapshotsToKeep }),
      ...(ref.maxSnapshotAgeMs === undefined ? {} : { 'max-snapshot-age-ms': ref.maxSnapshotAgeMs }),
      ...(ref.maxRefAgeMs === undefined ? {} : { 'max-ref-age-ms': ref.maxRefAgeMs }),
    },
    ref.extra,
  );
}

export function snapshotToJson(s: Snapshot): Record<string, unknown> {
  return withExtra(
    {
      'snapshot-id': s.snapshotId,
      ...(s.parentSnapshotId === undefined ? {} : { 'parent-snapshot-id': s.parentSnapshotId }),
      'sequence-number': s.sequenceNumber,
      'timestamp-ms': s.timestampMs,
      summary: { ...s.summary },
      'manifest-list': s.manifestList,
      ...(s.schemaId === undefined ? {} : { 'schema-id': s.schemaId }),
    },
    s.extra,
  );
}

export function tableMetadataToJson(md: TableMetadata): Record<string, unknown> {
  return {
    'format-version': md.formatVersion,
    'table-uuid': md.tableUuid,
    location: md.location,
    'last-sequence-number': md.lastSequenceNumber,
    'last-updated-ms': md.lastUpdatedMs,
    'last-column-id': md.lastColumnId,
    'current-schema-id': md.currentSchemaId,
    schemas: md.schemas.map(schemaToJson),
    'default-spec-id': md.defaultSpecId,
    'partition-specs': md.partitionSpecs.map(partitionSpecToJson),
    'last-partition-id': md.lastPartitionId,
    'default-sort-order-id': md.defaultSortOrderId,
    'sort-orders': md.sortOrders.map(sortOrderToJson),
    properties: { ...md.properties },
    // Java writes -1 for "no current snapshot" in v1/v2 (null only from v3): readers before Iceberg 1.4
    // require the key.
    'current-snapshot-id': md.currentSnapshotId ?? -1,
    refs: Object.fromEntries(Object.entries(md.refs).map(([k, v]) => [k, refToJson(v)])),
    snapshots: md.snapshots.map(snapshotToJson),
    statistics: md.statistics.map((f) => f.json),
    'partition-statistics': md.partitionStatistics.map((f) => f.json),
    'snapshot-log': md.snapshotLog.map((e) => ({
      'timestamp-ms': e.timestampMs,
      'snapshot-id': e.snapshotId,
    })),
    'metadata-log': md.metadataLog.map((e) => ({
      'timestamp-ms': e.timestampMs,
      'metadata-file': e.metadataFile,
    })),
    // Keys the model does not know, as they came (after the spec's; JSON readers key by name).
    ...(md.extra ?? {}),
  };
}

// Snapshots and log entries are immutable and carried from version to version, so each one's JSON
// bytes are computed once: encoding the 1,000th version is a copy of cached bytes, not a walk (and a
// UTF-8 encoding) of the whole history.
const fragments = new WeakMap<object, Buffer>();
function fragment(o: object, wire: () => unknown): Buffer {
  let bytes = fragments.get(o);
  if (bytes === undefined) {
    bytes = Buffer.from(stringifyJsonWithLongs(wire()));
    fragments.set(o, bytes);
  }
  return bytes;
}

const COMMA = Buffer.from(',');
function jsonArray(name: string, items: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [Buffer.from(`${JSON.stringify(name)}:[`)];
  items.forEach((b, i) => {
    if (i > 0) out.push(COMMA);
    out.push(b);
  });
  out.push(Buffer.from(']'));
  return out;
}

/** The metadata file's bytes (compact JSON, keys in the order the spec lists them, as Java writes it). */
export function encodeTableMetadataBytes(md: TableMetadata): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  const head = tableMetadataToJson({ ...md, snapshots: [], snapshotLog: [], metadataLog: [] });
  Object.entries(head).forEach(([key, value], i) => {
    if (i > 0) parts.push(COMMA);
    if (key === 'snapshots') {
      parts.push(
        ...jsonArray(
          key,
          md.snapshots.map((x) => fragment(x, () => snapshotToJson(x))),
        ),
      );
    } else if (key === 'snapshot-log') {
      const log = md.snapshotLog.map((e) =>
        fragment(e, () => ({ 'timestamp-ms': e.timestampMs, 'snapshot-id': e.snapshotId })),
      );
      parts.push(...jsonArray(key, log));
    } else if (key === 'metadata-log') {
      const log = md.metadataLog.map((e) =>
        fragment(e, () => ({ 'timestamp-ms': e.timestampMs, 'metadata-file': e.metadataFile })),
      );
      parts.push(...jsonArray(key, log));
    } else {
      parts.push(Buffer.from(`${JSON.stringify(key)}:${stringifyJsonWithLongs(value)}`));
    }
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

/** The metadata file's text. */
export function encodeTableMetadata(md: TableMetadata): string {
  return encodeTableMetadataBytes(md).toString('utf8');
}

// ---- Decoding ------------------------------------------------------------------------------------

export interface ParseIssue {
  readonly code: 'missing' | 'wrong-type' | 'unsupported' | 'invalid-json';
  readonly path: string;
  readonly message: string;
}
export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ParseIssue[] };

class IssueError extends Error {
  readonly issue: ParseIssue;
  constructor(issue: ParseIssue) {
    super(issue.message);
    this.issue = issue;
  }
}

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fail(path: string, code: ParseIssue['code'], message: string): never {
  throw new IssueError({ code, path, message: `${path}: ${message}` });
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(path, 'wrong-type', `expected an object, but was: ${show(v)}`);
  return v as Obj;
}
function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'wrong-type', `expected an array, but was: ${show(v)}`);
  return v;
}
function req(o: Obj, key: string, path: string): unknown {
  if (!(key in o) || o[key] === undefined) fail(`${path}.${key}`, 'missing', 'required but missing');
  return o[key];
}
function int(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    fail(path, 'wrong-type', `expected an integer, but was: ${show(v)}`);
  return v;
}
function long(v: unknown, path: string): SnapshotId {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return fail(path, 'wrong-type', `expected a long integer, but was: ${show(v)}`);
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'wrong-type', `expected a string, but was: ${show(v)}`);
  return v;
}
function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'wrong-type', `expected a boolean, but was: ${show(v)}`);
  return v;
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(path, 'unsupported', `expected one of ${allowed.join(', ')}, but was: ${show(v)}`);
  }
  return v as T;
}
function optional<T>(o: Obj, key: string, f: (v: unknown, path: string) => T, path: string): T | undefined {
  const v = o[key];
  return v === undefined || v === null ? undefined : f(v, `${path}.${key}`);
}

/** The keys of `o` outside `known`, or undefined when there are none. */
function extraOf(o: Obj, known: readonly string[]): Extra | undefined {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(o)) {
    if (known.includes(k)) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
}
const withExtraOf = <T extends object>(value: T, o: Obj, known: readonly string[]): T => {
  const extra = extraOf(o, known);
  return extra === undefined ? value : { ...value, extra };
};

function decodeType(v: unknown, path: string): IcebergType {
  if (typeof v === 'string') {
    if (parsePrimitive(v) === undefined) {
      fail(
        path,
        'unsupported',
        `expected an Iceberg v2 type (${PRIMITIVE_NAMES.join(', ')}, decimal(P, S), fixed[L], struct, list, map), but was: ${show(v)}`,
      );
    }
    return v;
  }
  const o = obj(v, path);
  const kind = req(o, 'type', path);
  if (kind === 'struct') {
    return withExtraOf(
      {
        type: 'struct' as const,
        fields: arr(req(o, 'fields', path), `${path}.fields`).map((f, i) =>
          decodeField(f, `${path}.fields[${i}]`),
        ),
      },
      o,
      ['type', 'fields'],
    );
  }
  if (kind === 'list') {
    return withExtraOf(
      {
        type: 'list' as const,
        elementId: int(req(o, 'element-id', path), `${path}.element-id`),
        element: decodeType(req(o, 'element', path), `${path}.element`),
        elementRequired: bool(req(o, 'element-required', path), `${path}.element-required`),
      },
      o,
      ['type', 'element-id', 'element', 'element-required'],
    );
  }
  if (kind === 'map') {
    return withExtraOf(
      {
        type: 'map' as const,
        keyId: int(req(o, 'key-id', path), `${path}.key-id`),
        key: decodeType(req(o, 'key', path), `${path}.key`),
        valueId: int(req(o, 'value-id', path), `${path}.value-id`),
        value: decodeType(req(o, 'value', path), `${path}.value`),
        valueRequired: bool(req(o, 'value-required', path), `${path}.value-required`),
      },
      o,
      ['type', 'key-id', 'key', 'value-id', 'value', 'value-required'],
    );
  }
  return fail(`${path}.type`, 'unsupported', `expected struct, list or map, but was: ${show(kind)}`);
}

function decodeField(v: unknown, p: string): NestedField {
  const f = obj(v, p);
  const doc = optional(f, 'doc', str, p);
  return withExtraOf(
    {
      id: int(req(f, 'id', p), `${p}.id`),
      name: str(req(f, 'name', p), `${p}.name`),
      required: bool(req(f, 'required', p), `${p}.required`),
      type: decodeType(req(f, 'type', p), `${p}.type`),
      ...(doc === undefined ? {} : { doc }),
    },
    f,
    ['id', 'name', 'required', 'type', 'doc'],
  );
}

function decodeSchema(v: unknown, path: string): Schema {
  const o = obj(v, path);
  const fields = arr(req(o, 'fields', path), `${path}.fields`).map((fv, i) =>
    decodeField(fv, `${path}.fields[${i}]`),
  );
  const ids = optional(
    o,
    'identifier-field-ids',
    (x, p) => arr(x, p).map((e, i) => int(e, `${p}[${i}]`)),
    path,
  );
  return withExtraOf(
    {
      schemaId: int(req(o, 'schema-id', path), `${path}.schema-id`),
      fields,
      ...(ids === undefined ? {} : { identifierFieldIds: ids }),
    },
    o,
    ['type', 'schema-id', 'identifier-field-ids', 'fields'],
  );
}

function decodeSpec(v: unknown, path: string): PartitionSpec {
  const o = obj(v, path);
  return withExtraOf(
    {
      specId: int(req(o, 'spec-id', path), `${path}.spec-id`),
      fields: arr(req(o, 'fields', path), `${path}.fields`).map((fv, i) => {
        const p = `${path}.fields[${i}]`;
        const f = obj(fv, p);
        return withExtraOf(
          {
            sourceId: int(req(f, 'source-id', p), `${p}.source-id`),
            fieldId: int(req(f, 'field-id', p), `${p}.field-id`),
            name: str(req(f, 'name', p), `${p}.name`),
            transform: str(req(f, 'transform', p), `${p}.transform`),
          },
          f,
          ['source-id', 'field-id', 'name', 'transform'],
        );
      }),
    },
    o,
    ['spec-id', 'fields'],
  );
}

function decodeSortOrder(v: unknown, path: string): SortOrder {
  const o = obj(v, path);
  return withExtraOf(
    {
      orderId: int(req(o, 'order-id', path), `${path}.order-id`),
      fields: arr(req(o, 'fields', path), `${path}.fields`).map((fv, i) => {
        const p = `${path}.fields[${i}]`;
        const f = obj(fv, p);
        return withExtraOf(
          {
            sourceId: int(req(f, 'source-id', p), `${p}.source-id`),
            transform: str(req(f, 'transform', p), `${p}.transform`),
            direction: oneOf(req(f, 'direction', p), ['asc', 'desc'] as const, `${p}.direction`),
            nullOrder: oneOf(
              req(f, 'null-order', p),
              ['nulls-first', 'nulls-last'] as const,
              `${p}.null-order`,
            ),
          },
          f,
          ['source-id', 'transform', 'direction', 'null-order'],
        );
      }),
    },
    o,
    ['order-id', 'fields'],
  );
}

function decodeSnapshot(v: unknown, path: string): Snapshot {
  const o = obj(v, path);
  const summaryObj = obj(req(o, 'summary', path), `${path}.summary`);
  const summary: Record<string, string> = {};
  for (const [k, sv] of Object.entries(summaryObj)) summary[k] = str(sv, `${path}.summary.${k}`);
  const operation = oneOf<Operation>(summary['operation'], OPERATIONS, `${path}.summary.operation`);
  const parent = optional(o, 'parent-snapshot-id', long, path);
  const schemaId = optional(o, 'schema-id', int, path);
  return withExtraOf(
    {
      snapshotId: long(req(o, 'snapshot-id', path), `${path}.snapshot-id`),
      ...(parent === undefined ? {} : { parentSnapshotId: parent }),
      sequenceNumber: int(req(o, 'sequence-number', path), `${path}.sequence-number`),
      timestampMs: int(req(o, 'timestamp-ms', path), `${path}.timestamp-ms`),
      manifestList: str(req(o, 'manifest-list', path), `${path}.manifest-list`),
      summary: { ...summary, operation } as SnapshotSummary,
      ...(schemaId === undefined ? {} : { schemaId }),
    },
    o,
    [
      'snapshot-id',
      'parent-snapshot-id',
      'sequence-number',
      'timestamp-ms',
      'manifest-list',
      'summary',
      'schema-id',
    ],
  );
}

function decodeRef(v: unknown, path: string): SnapshotRef {
  const o = obj(v, path);
  const min = optional(o, 'min-snapshots-to-keep', int, path);
  const maxAge = optional(o, 'max-snapshot-age-ms', int, path);
  const maxRef = optional(o, 'max-ref-age-ms', int, path);
  return withExtraOf(
    {
      snapshotId: long(req(o, 'snapshot-id', path), `${path}.snapshot-id`),
      type: oneOf(req(o, 'type', path), REF_TYPES, `${path}.type`),
      ...(min === undefined ? {} : { minSnapshotsToKeep: min }),
      ...(maxAge === undefined ? {} : { maxSnapshotAgeMs: maxAge }),
      ...(maxRef === undefined ? {} : { maxRefAgeMs: maxRef }),
    },
    o,
    ['snapshot-id', 'type', 'min-snapshots-to-keep', 'max-snapshot-age-ms', 'max-ref-age-ms'],
  );
}

/** Top-level keys of v2 metadata that the model holds; any other key is kept in `extra`. */
const METADATA_KEYS = [
  'format-version',
  'table-uuid',
  'location',
  'last-sequence-number',
  'last-updated-ms',
  'last-column-id',
  'current-schema-id',
  'schemas',
  'default-spec-id',
  'partition-specs',
  'last-partition-id',
  'default-sort-order-id',
  'sort-orders',
  'properties',
  'current-snapshot-id',
  'refs',
  'snapshots',
  'statistics',
  'partition-statistics',
  'snapshot-log',
  'metadata-log',
] as const;

function decodeMetadata(v: unknown): TableMetadata {
  const p = '$';
  const o = obj(v, p);
  const version = int(req(o, 'format-version', p), '$.format-version');
  if (version !== FORMAT_VERSION) {
    fail(
      '$.format-version',
      'unsupported',
      version > FORMAT_VERSION
        ? `expected format version ${FORMAT_VERSION}, but the table is format version ${version}, which this pipeline cannot write (its deletion vectors, row lineage and new types need a v${version} writer)`
        : `expected format version ${FORMAT_VERSION}, but the table is format version ${version} (upgrade it to v2 with ALTER TABLE ... SET TBLPROPERTIES ('format-version'='2'))`,
    );
  }
  const properties: Record<string, string> = {};
  const props = optional(o, 'properties', obj, p) ?? {};
  for (const [k, pv] of Object.entries(props)) properties[k] = str(pv, `$.properties.${k}`);
  let current = optional(o, 'current-snapshot-id', long, p);
  if (current === -1n) current = undefined; // Java writes -1 for "no current snapshot" in v1/v2.
  const snapshots = (optional(o, 'snapshots', arr, p) ?? []).map((s, i) =>
    decodeSnapshot(s, `$.snapshots[${i}]`),
  );
  const refs: Record<string, SnapshotRef> = {};
  for (const [k, rv] of Object.entries(optional(o, 'refs', obj, p) ?? {}))
    refs[k] = decodeRef(rv, `$.refs.${k}`);
  // "Always a main branch reference, even if refs is null": derive it from current-snapshot-id.
  if (refs['main'] === undefined && current !== undefined)
    refs['main'] = { snapshotId: current, type: 'branch' };
  const snapshotLog: SnapshotLogEntry[] = (optional(o, 'snapshot-log', arr, p) ?? []).map((e, i) => {
    const q = `$.snapshot-log[${i}]`;
    const eo = obj(e, q);
    return {
      snapshotId: long(req(eo, 'snapshot-id', q), `${q}.snapshot-id`),
      timestampMs: int(req(eo, 'timestamp-ms', q), `${q}.timestamp-ms`),
    };
  });
  const metadataLog: MetadataLogEntry[] = (optional(o, 'metadata-log', arr, p) ?? []).map((e, i) => {
    const q = `$.metadata-log[${i}]`;
    const eo = obj(e, q);
    return {
      metadataFile: str(req(eo, 'metadata-file', q), `${q}.metadata-file`),
      timestampMs: int(req(eo, 'timestamp-ms', q), `${q}.timestamp-ms`),
    };
  });
  const stats = (key: string): StatisticsFile[] =>
    (optional(o, key, arr, p) ?? []).map((e, i) => {
      const q = `$.${key}[${i}]`;
      const eo = obj(e, q);
      return { snapshotId: long(req(eo, 'snapshot-id', q), `${q}.snapshot-id`), json: eo };
    });
  const extra = extraOf(o, METADATA_KEYS);
  return {
    formatVersion: FORMAT_VERSION,
    tableUuid: str(req(o, 'table-uuid', p), '$.table-uuid'),
    location: str(req(o, 'location', p), '$.location'),
    lastSequenceNumber: int(req(o, 'last-sequence-number', p), '$.last-sequence-number'),
    lastUpdatedMs: int(req(o, 'last-updated-ms', p), '$.last-updated-ms'),
    lastColumnId: int(req(o, 'last-column-id', p), '$.last-column-id'),
    schemas: arr(req(o, 'schemas', p), '$.schemas').map((s, i) => decodeSchema(s, `$.schemas[${i}]`)),
    currentSchemaId: int(req(o, 'current-schema-id', p), '$.current-schema-id'),
    partitionSpecs: arr(req(o, 'partition-specs', p), '$.partition-specs').map((s, i) =>
      decodeSpec(s, `$.partition-specs[${i}]`),
    ),
    defaultSpecId: int(req(o, 'default-spec-id', p), '$.default-spec-id'),
    lastPartitionId: int(req(o, 'last-partition-id', p), '$.last-partition-id'),
    properties,
    ...(current === undefined ? {} : { currentSnapshotId: current }),
    snapshots,
    snapshotLog,
    metadataLog,
    sortOrders: arr(req(o, 'sort-orders', p), '$.sort-orders').map((s, i) =>
      decodeSortOrder(s, `$.sort-orders[${i}]`),
    ),
    defaultSortOrderId: int(req(o, 'default-sort-order-id', p), '$.default-sort-order-id'),
    refs,
    statistics: stats('statistics'),
    partitionStatistics: stats('partition-statistics'),
    ...(extra === undefined ? {} : { extra }),
  };
}

/** Parses a v2 metadata file's text. */
export function decodeTableMetadata(text: string): ParseResult<TableMetadata> {
  let raw: unknown;
  try {
    raw = parseJsonWithLongs(text);
  } catch (err) {
    return {
      ok: false,
      issues: [{ code: 'invalid-json', path: '$', message: `expected JSON: ${(err as Error).message}` }],
    };
  }
  try {
    return { ok: true, value: decodeMetadata(raw) };
  } catch (err) {
    if (err instanceof IssueError) return { ok: false, issues: [err.issue] };
    throw err;
  }
}
