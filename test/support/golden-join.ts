// The join's data path as one deterministic run (issue 17: "the default spec's output is identical to
// today's on the same input"): a schedule of input files with fixed landing times, ingested in a shuffled
// order (some twice, some after their window closed) with ticks in between, through the real parse path,
// record validation, the pure state machine, expiry by tick (as shared/pipeline/evict.ts: the stored
// deadline is max(deadline, time of the write), the tick's watermark is its clock − allowed lateness),
// and the rows as the tables take them. test/fixtures/golden-join/ holds a schedule and what the
// pipeline before issue 17 produced for it (generate.ts); test/unit/join/golden.test.ts compares.
import { type DEMO_FAULTS, planWorkload, prng } from '../../infra/ops/produce.ts';
import { partitionSpecFromTableDef, schemaFromTableDef } from '../../shared/iceberg/spec/schema.ts';
import { parseEventFile } from '../../shared/ingest/parse-event-file.ts';
import { planOf } from '../../shared/join/plan.ts';
import { type EmittedRow, type EventSource, toTableRow } from '../../shared/join/rows.ts';
import {
  addCounters,
  applyEvent,
  expireIfDue,
  type JoinCounters,
  type JoinSettings,
  type JoinState,
  joinEventOf,
  zeroCounters,
} from '../../shared/join/state-machine.ts';
import { fileSchemaOfTableDef } from '../../shared/parquet/data-file-writer.ts';
import { eventSideOf, toOutboxRow } from '../../shared/pipeline/ingest.ts';
import { defaultJoinSpec } from '../../shared/spec/load.ts';
import { validateStreamRecord } from '../../shared/spec/records.ts';
import { TABLE_KINDS, TABLES } from '../../shared/tables.ts';

export interface ScheduleFile {
  readonly name: string;
  /** The object's bytes, base64. */
  readonly body: string;
  readonly landedAtMs: number;
}

export type ScheduleOp =
  | { readonly op: 'ingest'; readonly file: number; readonly atMs: number }
  | { readonly op: 'tick'; readonly atMs: number };

export interface Schedule {
  readonly name: string;
  readonly settings: JoinSettings & { readonly allowedLatenessMs: number };
  readonly files: readonly ScheduleFile[];
  readonly ops: readonly ScheduleOp[];
}

/** A value as the golden file records it: typed (bigints tagged, so 1n and 1 differ). */
export type GoldenValue = string | number | boolean | null | { readonly bigint: string };

export interface GoldenRow {
  readonly op: number;
  readonly id: string;
  readonly table: string;
  readonly reason: string | null;
  readonly key: string;
  readonly identity: string | null;
  readonly atMs: number;
  /** Every column as the writers take it (shared/tables.ts Row), in the table's column order. */
  readonly columns: ReadonlyArray<readonly [string, GoldenValue]>;
  /** The outbox document's `row` field (JSON as Firestore holds it). */
  readonly outbox: Readonly<Record<string, unknown>>;
  readonly sources: readonly string[];
}

export interface GoldenReject {
  readonly op: number;
  readonly ordinal: number | null;
  readonly code: string;
  readonly path: unknown;
  readonly message: string;
}

export interface GoldenRun {
  readonly rows: GoldenRow[];
  readonly rejects: GoldenReject[];
  /** What each valid event did, in op order (`op:ordinal outcome`). */
  readonly outcomes: string[];
  readonly counters: JoinCounters;
  /** States left at the end by status. */
  readonly finalStatuses: Record<string, number>;
}

export function tagValue(v: unknown): GoldenValue {
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (v === undefined) return null;
  return v as GoldenValue;
}

const LIMITS = {
  maxObjectSize: 64 << 20,
  maxDecompressedSize: 256 << 20,
  maxInflationRatio: 200,
  maxLineLength: 1 << 20,
};

async function* bytes(b: Buffer): AsyncIterable<Uint8Array> {
  // Two pieces, so the parser's chunk boundaries are exercised too.
  const mid = Math.floor(b.length / 2);
  yield b.subarray(0, mid);
  yield b.subarray(mid);
}

/** Where the run may start from: states as stored (JSON) with their stored deadlines, after op `afterOp`. */
export interface Snapshot {
  readonly afterOp: number;
  readonly states: ReadonlyArray<readonly [string, unknown, number | null]>;
}

/**
 * Runs a schedule through today's data path. `from`: start after its op with its states (as read back
 * from JSON); `snapshotAfter`: also return the states after that op.
 */
export async function runSchedule(
  schedule: Schedule,
  options: { from?: Snapshot; snapshotAfter?: number | 'diverse' | 'diverse-pending' } = {},
): Promise<GoldenRun & { snapshot?: Snapshot }> {
  const spec = defaultJoinSpec();
  const plan = planOf(spec);
  const settings = { ...schedule.settings, joinSpec: spec };
  const states = new Map<string, JoinState>();
  /** The `deadline` field as stored: max(deadline, clock at the write) (JoinStore.stage). */
  const stored = new Map<string, number | null>();
  for (const [key, s, d] of options.from?.states ?? []) {
    states.set(key, structuredClone(s) as JoinState);
    stored.set(key, d);
  }
  const rows: GoldenRow[] = [];
  const rejects: GoldenReject[] = [];
  const outcomes: string[] = [];
  const counters = zeroCounters();
  let snapshot: Snapshot | undefined;
  const emit = (op: number, emitted: readonly EmittedRow[]) => {
    for (const r of emitted) {
      const tableRow = toTableRow(plan, r);
      const def = TABLES[r.table];
      rows.push({
        op,
        id: r.id,
        table: r.table,
        reason: r.reason,
        key: r.key,
        identity: r.identity,
        atMs: r.atMs,
        columns: def.columns.map((c) => [c.name, tagValue(tableRow[c.name])] as const),
        outbox: JSON.parse(JSON.stringify(toOutboxRow(plan, r).values)),
        sources: r.sources.map((s) => `${s.object}#${s.generation}:${s.ordinal}@${s.landedAtMs}`),
      });
    }
  };
  const write = (key: string, s: JoinState, atMs: number) => {
    states.set(key, s);
    stored.set(key, s.deadlineMs === null ? null : Math.max(s.deadlineMs, atMs));
  };
  const start = options.from === undefined ? 0 : options.from.afterOp + 1;
  for (let i = start; i < schedule.ops.length; i++) {
    const op = schedule.ops[i]!;
    if (op.op === 'tick') {
      const watermark = op.atMs - settings.allowedLatenessMs;
      const due = [...stored].filter(([, d]) => d !== null && d <= watermark).map(([k]) => k);
      for (const key of due.sort()) {
        const r = expireIfDue(states.get(key)!, watermark, settings);
        addCounters(counters, r.counters);
        emit(i, r.emitted);
        if (r.changed) write(key, r.state, op.atMs);
      }
    } else {
      const file = schedule.files[op.file]!;
      const side = eventSideOf(file.name, {
        ordersPrefix: spec.left.prefix,
        paymentsPrefix: spec.right.prefix,
      })!;
      const src = { bucket: 'golden', object: file.name, generation: String(op.file + 1) };
      for await (const item of parseEventFile(bytes(Buffer.from(file.body, 'base64')), {
        name: file.name,
        ...LIMITS,
      })) {
        if (item.kind === 'record') {
          const source: EventSource = { ...src, ordinal: item.ordinal, landedAtMs: file.landedAtMs };
          const v = validateStreamRecord(plan[side].stream, item.value, item.path);
          if (!v.ok) {
            for (const issue of v.issues)
              rejects.push({
                op: i,
                ordinal: item.ordinal,
                code: issue.code,
                path: issue.path,
                message: issue.message,
              });
            continue;
          }
          const event = joinEventOf(plan, side, v.value, source);
          const key = event.key;
          const r = applyEvent(states.get(key), event, settings);
          addCounters(counters, r.counters);
          outcomes.push(
            `${i}:${item.ordinal} ${r.outcome}${r.lateForWindowMs === null ? '' : ` late ${r.lateForWindowMs}`}`,
          );
          emit(i, r.emitted);
          if (r.changed) write(key, r.state, op.atMs);
        } else if (item.kind === 'record-issue') {
          const { code, path, message } = item.issue;
          rejects.push({ op: i, ordinal: item.ordinal, code, path, message });
        } else if (item.kind === 'file-issue') {
          const { code, path, message } = item.issue;
          rejects.push({ op: i, ordinal: null, code, path, message });
        }
      }
    }
    const statuses = new Set([...states.values()].map((s) => s.status));
    const pending = [...states.values()].some((s) => s.pending.length > 0);
    if (
      snapshot === undefined &&
      (options.snapshotAfter === i ||
        (statuses.size === 4 &&
          (options.snapshotAfter === 'diverse' || (options.snapshotAfter === 'diverse-pending' && pending))))
    ) {
      snapshot = {
        afterOp: i,
        states: [...states.keys()]
          .sort()
          .map((k) => [k, JSON.parse(JSON.stringify(states.get(k))), stored.get(k) ?? null] as const),
      };
    }
  }
  const finalStatuses: Record<string, number> = {};
  for (const s of states.values()) finalStatuses[s.status] = (finalStatuses[s.status] ?? 0) + 1;
  return {
    rows,
    rejects,
    outcomes,
    counters,
    finalStatuses,
    ...(snapshot === undefined ? {} : { snapshot }),
  };
}

/** The tables' Iceberg schemas, partition specs (field ids included) and Parquet file schemas. */
export function tableShapes(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kind of TABLE_KINDS) {
    const def = TABLES[kind];
    const schema = schemaFromTableDef(def);
    out[kind] = {
      schema,
      partitionSpec: partitionSpecFromTableDef(def, schema),
      fileSchema: JSON.parse(
        JSON.stringify(fileSchemaOfTableDef(def), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ),
    };
  }
  return out;
}

export interface ScheduleOptions {
  readonly name: string;
  readonly seed: number;
  readonly count: number;
  readonly format: 'object' | 'array' | 'jsonl';
  readonly eventsPerFile: number;
  readonly gzip: boolean;
  readonly faults: typeof DEMO_FAULTS;
  readonly duplicatesLate: boolean;
  readonly settings: Schedule['settings'];
  /** Share of files delivered twice, and of files ingested after their window closed. */
  readonly redeliver: number;
  readonly ingestLate: number;
  /** Late-phase files land this long after the last main file. */
  readonly lateAfterMs: number;
  /** Share of late-phase files landing after the tombstone retention (their states start afresh). */
  readonly afterRetention: number;
}

/**
 * A schedule from a seeded producer workload (every fault kind): main files land a few ms apart (some at
 * the same ms), late-phase files after the timeouts; each is ingested after a random delay (some past
 * deadline + lateness), some twice; a tick runs every second of processing time.
 */
export function buildSchedule(o: ScheduleOptions): Schedule {
  const startMs = Date.UTC(2026, 10, 25, 23, 59, 0);
  const { files } = planWorkload({
    count: o.count,
    seed: o.seed,
    eventsPerFile: o.eventsPerFile,
    format: o.format,
    gzip: o.gzip,
    faults: o.faults,
    ordersPrefix: 'stream/orders/',
    paymentsPrefix: 'stream/payments/',
    startMs,
    duplicatesLate: o.duplicatesLate,
  });
  const rnd = prng(o.seed * 7 + 1);
  const out: ScheduleFile[] = [];
  let t = startMs;
  let lastMain = startMs;
  for (const f of files.filter((x) => x.phase === 'main')) {
    t += Math.floor(rnd() * 40); // 0: two files landing in the same millisecond
    lastMain = t;
    out.push({ name: f.name, body: f.body.toString('base64'), landedAtMs: t });
  }
  let lt = lastMain + o.lateAfterMs;
  for (const f of files.filter((x) => x.phase === 'late')) {
    lt += Math.floor(rnd() * 40);
    const landed = rnd() < o.afterRetention ? lt + o.settings.tombstoneRetentionMs + 1000 : lt;
    out.push({ name: f.name, body: f.body.toString('base64'), landedAtMs: landed });
  }
  const window =
    Math.max(o.settings.orderTimeoutMs, o.settings.paymentTimeoutMs) + o.settings.allowedLatenessMs;
  const deliveries: Array<{ file: number; atMs: number }> = [];
  out.forEach((f, i) => {
    const delay = () => (rnd() < o.ingestLate ? window + Math.floor(rnd() * 3000) : Math.floor(rnd() * 1500));
    deliveries.push({ file: i, atMs: f.landedAtMs + delay() });
    if (rnd() < o.redeliver) deliveries.push({ file: i, atMs: f.landedAtMs + delay() });
  });
  deliveries.sort((a, b) => a.atMs - b.atMs || a.file - b.file);
  const ops: ScheduleOp[] = [];
  const end = (deliveries.at(-1)?.atMs ?? startMs) + window + 2000;
  let nextTick = startMs + 1000;
  for (const d of deliveries) {
    while (nextTick <= d.atMs) {
      ops.push({ op: 'tick', atMs: nextTick });
      nextTick += 1000;
    }
    ops.push({ op: 'ingest', file: d.file, atMs: d.atMs });
  }
  // Ticks through the end: every window closes. Skipped seconds with nothing due are fine to leave out
  // only up to the gaps above; here every second is kept.
  while (nextTick <= end) {
    ops.push({ op: 'tick', atMs: nextTick });
    nextTick += 1000;
  }
  return { name: o.name, settings: o.settings, files: out, ops };
}
