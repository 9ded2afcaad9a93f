// `streamjoin produce`: simulates the original producer — order and payment events as JSON files under
// stream/orders/YYYY_MM_DD/order_<n>_<epoch_ms>.json and stream/payments/…/payment_<n>_<epoch_ms>.json —
// with optional fault injection, and writes a ground truth: which rows each table must end up with and
// which records must be rejected. Planning is pure and seeded (reproducible); uploading is separate.
import { gzipSync } from 'node:zlib';
import type { JoinSpec } from '../../shared/spec/model.ts';
import type { UnmatchedReason } from '../../shared/tables.ts';
import { hasDefaultShape, planSpecWorkload, type SpecGroundTruth } from './produce-spec.ts';

export const FILE_FORMATS = ['object', 'array', 'jsonl'] as const;
export type ProduceFormat = (typeof FILE_FORMATS)[number];

/** Per-pair probabilities of each fault kind (the rest are ordinary pairs). */
export interface FaultMix {
  /** The payment is uploaded before its order (joins when the order comes). */
  readonly earlyPayment: number;
  /** The order never gets a payment → order_timeout. */
  readonly unpaidOrder: number;
  /** A payment whose order never comes → payment_orphan. */
  readonly orphanPayment: number;
  /** The payment comes after the order timed out → order_timeout + payment_late. */
  readonly latePayment: number;
  /** A second, different payment for a joined order → payment_extra. */
  readonly secondPayment: number;
  /** A file uploaded twice under another name (its records are duplicates). */
  readonly duplicateFile: number;
  /** A malformed record added to a file (or a malformed file, in object format). */
  readonly malformed: number;
  /** The order comes after its payment was orphaned → payment_orphan + order_late. Workloads of other
   *  specs only (the default workload has never made it: its seeds keep their files). */
  readonly lateOrder?: number;
}

export const NO_FAULTS: FaultMix = {
  earlyPayment: 0,
  unpaidOrder: 0,
  orphanPayment: 0,
  latePayment: 0,
  secondPayment: 0,
  duplicateFile: 0,
  malformed: 0,
};

export const DEMO_FAULTS: FaultMix = {
  earlyPayment: 0.1,
  unpaidOrder: 0.05,
  orphanPayment: 0.05,
  latePayment: 0.03,
  secondPayment: 0.04,
  duplicateFile: 0.05,
  malformed: 0.02,
  lateOrder: 0.03,
};

export interface ProduceOptions {
  /** Number of orders (pairs) to simulate. */
  readonly count: number;
  readonly seed: number;
  readonly eventsPerFile: number;
  readonly format: ProduceFormat;
  readonly gzip: boolean;
  readonly faults: FaultMix;
  readonly ordersPrefix: string;
  readonly paymentsPrefix: string;
  /** Time base for names and field values (epoch ms). */
  readonly startMs: number;
  /** Duplicate files are uploaded in the late phase, after the originals were decided (by default right
   *  after them: two objects with the same records landing moments apart, whichever is ingested first
   *  counts — see README, Time, limits). */
  readonly duplicatesLate?: boolean;
}

export interface WorkloadFile {
  readonly name: string;
  readonly body: Buffer;
  /** 'late' files must be uploaded after the order timeout has passed for the main files. */
  readonly phase: 'main' | 'late';
  /** Order ids this file completes (its upload is the start of their latency clock). */
  readonly completes: readonly string[];
}

export interface TruthRow {
  readonly order_id: string;
  readonly payment_id: string | null;
  readonly reason: 'joined' | UnmatchedReason;
  readonly order_amount: number | null;
  readonly payment_amount: number | null;
}

export interface GroundTruth {
  readonly seed: number;
  readonly rows: TruthRow[];
  /** Records that must be rejected, by object name: how many. */
  readonly rejects: Record<string, number>;
  /** Valid records that must be ignored as duplicates. */
  readonly duplicates: number;
  readonly events: number;
  readonly files: number;
}

/** A small seeded PRNG (mulberry32): reproducible workloads from --seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ISO-8601 without zone, as the original producer wrote dates. */
export function isoLocal(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

export function dayFolder(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '_');
}

type Kind = 'order' | 'payment';
/** One event to upload: its stream (names the file), its record, and when it goes. */
export interface PackEvent {
  /** The stream's name (`order`): the file name's stem and the prefix it goes under. */
  readonly kind: string;
  readonly record: unknown;
  readonly phase: 'main' | 'late';
  /** The key (as a string) whose pair this event completes: the start of its latency clock. */
  readonly completes?: string;
  /** An expected reject (one per bad event in a file). */
  readonly bad?: boolean;
  /** The exact text of the event in its file (a malformed line), instead of its record as JSON. */
  readonly raw?: string;
}
type Ev = PackEvent & { readonly kind: Kind };

export interface Workload {
  readonly files: WorkloadFile[];
  readonly truth: GroundTruth;
}
export interface SpecWorkload {
  readonly files: WorkloadFile[];
  readonly truth: SpecGroundTruth;
}

/**
 * The workload of `o.count` pairs: without a spec, or for a spec with the default's streams and columns,
 * orders and payments as they always were (the same files and truth for a seed: test/unit/ops); for any
 * other spec, its own streams' events and a SpecGroundTruth (produce-spec.ts). `ordersPrefix` and
 * `paymentsPrefix` are the left and right streams' prefixes.
 */
export function planWorkload(o: ProduceOptions): Workload;
export function planWorkload(o: ProduceOptions & { readonly spec: JoinSpec }): Workload | SpecWorkload;
export function planWorkload(o: ProduceOptions & { readonly spec?: JoinSpec }): Workload | SpecWorkload {
  if (o.spec !== undefined && !hasDefaultShape(o.spec)) return planSpecWorkload(o.spec, o);
  return planDefaultWorkload(o);
}

function planDefaultWorkload(o: ProduceOptions): Workload {
  const rnd = prng(o.seed);
  const pick = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const rows: TruthRow[] = [];
  const events: Ev[] = [];
  const run = o.seed.toString(36);
  let t = o.startMs;
  for (let n = 1; n <= o.count; n++) {
    t += pick(1, 50);
    const orderId = `ord-${run}-${n}`;
    const order = {
      order_id: orderId,
      order_date: isoLocal(t),
      created_at: isoLocal(t),
      customer_id: `cust-${pick(1, 5000)}`,
      amount: pick(1, 1000),
    };
    const payment = (k: number) => ({
      payment_id: `pay-${run}-${n}-${k}`,
      order_id: orderId,
      payment_date: isoLocal(t + 1000),
      created_at: isoLocal(t + 1000),
      amount: k === 1 ? order.amount : pick(1, 1000),
    });
    const r = rnd();
    const f = o.faults;
    let edge = 0;
    const is = (p: number) => {
      const hit = r >= edge && r < edge + p;
      edge += p;
      return hit;
    };
    const p1 = payment(1);
    const joined: TruthRow = {
      order_id: orderId,
      payment_id: p1.payment_id,
      reason: 'joined',
      order_amount: order.amount,
      payment_amount: p1.amount,
    };
    if (is(f.earlyPayment)) {
      events.push({ kind: 'payment', record: p1, phase: 'main' });
      events.push({ kind: 'order', record: order, phase: 'main', completes: orderId });
      rows.push(joined);
    } else if (is(f.unpaidOrder)) {
      events.push({ kind: 'order', record: order, phase: 'main' });
      rows.push({ ...joined, payment_id: null, payment_amount: null, reason: 'order_timeout' });
    } else if (is(f.orphanPayment)) {
      events.push({ kind: 'payment', record: p1, phase: 'main' });
      rows.push({ ...joined, order_amount: null, reason: 'payment_orphan' });
    } else if (is(f.latePayment)) {
      events.push({ kind: 'order', record: order, phase: 'main' });
      events.push({ kind: 'payment', record: p1, phase: 'late', completes: orderId });
      rows.push({ ...joined, payment_id: null, payment_amount: null, reason: 'order_timeout' });
      rows.push({ ...joined, reason: 'payment_late' });
    } else if (is(f.secondPayment)) {
      const p2 = payment(2);
      events.push({ kind: 'order', record: order, phase: 'main' });
      events.push({ kind: 'payment', record: p1, phase: 'main', completes: orderId });
      // After the join (late phase), so delivery order cannot swap which payment joins.
      events.push({ kind: 'payment', record: p2, phase: 'late' });
      rows.push(joined);
      rows.push({ ...joined, payment_id: p2.payment_id, payment_amount: p2.amount, reason: 'payment_extra' });
    } else {
      events.push({ kind: 'order', record: order, phase: 'main' });
      events.push({ kind: 'payment', record: p1, phase: 'main', completes: orderId });
      rows.push(joined);
    }
    if (rnd() < f.malformed) {
      const kind: Kind = rnd() < 0.5 ? 'order' : 'payment';
      const bad =
        kind === 'order'
          ? { ...order, order_id: `bad-${orderId}`, amount: '12.5' }
          : { ...p1, amount: 2 ** 40 };
      events.push({ kind, record: bad, phase: 'main', bad: true });
    }
  }

  const packed = packFiles(o, rnd, events, { order: o.ordersPrefix, payment: o.paymentsPrefix });
  return {
    files: packed.files,
    truth: {
      seed: o.seed,
      rows,
      rejects: packed.rejects,
      duplicates: packed.duplicates,
      events: events.length,
      files: packed.files.length,
    },
  };
}

/**
 * Packs events into files, per (stream, phase), keeping upload order; object format = one event per file.
 * A file holding a bad event is an expected reject (one per bad event); another may be uploaded twice
 * (duplicateFile). Shared by the default workload and the one for any spec (produce-spec.ts): the
 * random draws happen in the same order as they always did, so a seed gives the same files.
 */
export function packFiles(
  o: Pick<ProduceOptions, 'format' | 'eventsPerFile' | 'gzip' | 'faults' | 'startMs' | 'duplicatesLate'>,
  rnd: () => number,
  events: readonly PackEvent[],
  prefixes: Readonly<Record<string, string>>,
): { files: WorkloadFile[]; rejects: Record<string, number>; duplicates: number } {
  const perFile = o.format === 'object' ? 1 : Math.max(1, o.eventsPerFile);
  const files: WorkloadFile[] = [];
  const rejects: Record<string, number> = {};
  let duplicates = 0;
  const counters = new Map<string, number>();
  const serialize = (e: PackEvent): string =>
    e.raw !== undefined
      ? e.raw
      : // A malformed record: in object format a truncated file, otherwise valid JSON that fails validation.
        e.bad === true && o.format === 'object'
        ? JSON.stringify(e.record).slice(0, -7)
        : JSON.stringify(e.record);
  const emit = (kind: string, phase: 'main' | 'late', evs: PackEvent[]) => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    const at = o.startMs + n;
    const prefix = prefixes[kind];
    if (prefix === undefined)
      throw new Error(`expected an object prefix for stream ${kind}, but none was given`);
    const ext = o.format === 'jsonl' ? '.jsonl' : '.json';
    const gz = o.gzip ? '.gz' : '';
    const base = `${prefix}${dayFolder(at)}/${kind}_${n}_${at}`;
    const text =
      o.format === 'object'
        ? serialize(evs[0]!)
        : o.format === 'array'
          ? `[${evs.map(serialize).join(',\n')}]`
          : evs.map(serialize).join('\n');
    const body = o.gzip ? gzipSync(text) : Buffer.from(text);
    const name = `${base}${ext}${gz}`;
    files.push({
      name,
      body,
      phase,
      completes: evs.flatMap((e) => (e.completes === undefined ? [] : [e.completes])),
    });
    const bad = evs.filter((e) => e.bad === true).length;
    if (bad > 0) rejects[name] = bad;
    else if (rnd() < o.faults.duplicateFile) {
      files.push({
        name: `${base}_dup${ext}${gz}`,
        body,
        phase: o.duplicatesLate === true ? 'late' : phase,
        completes: [],
      });
      duplicates += evs.length;
    }
  };
  const buffers = new Map<string, { kind: string; phase: 'main' | 'late'; list: PackEvent[] }>();
  for (const e of events) {
    const key = `${e.kind}/${e.phase}`;
    const b = buffers.get(key) ?? { kind: e.kind, phase: e.phase, list: [] };
    buffers.set(key, b);
    b.list.push(e);
    if (b.list.length >= perFile) emit(e.kind, e.phase, b.list.splice(0));
  }
  for (const b of buffers.values()) if (b.list.length > 0) emit(b.kind, b.phase, b.list.splice(0));
  return { files, rejects, duplicates };
}

export interface UploadLog {
  /** Object name → epoch ms when its upload completed. */
  readonly uploadedAt: Record<string, number>;
}

/**
 * Uploads workload files in order, paced to `filesPerSecond` (0 = as fast as `concurrency` allows),
 * through the real Storage client (local server, or GCS with Application Default Credentials).
 */
export async function uploadFiles(
  save: (name: string, body: Buffer) => Promise<void>,
  files: readonly WorkloadFile[],
  options: {
    filesPerSecond?: number;
    concurrency?: number;
    onProgress?: (done: number, total: number) => void;
    /** Aborting stops the workers before their next file (in-flight uploads finish). */
    signal?: AbortSignal;
  } = {},
): Promise<UploadLog> {
  const uploadedAt: Record<string, number> = {};
  const started = Date.now();
  const rate = options.filesPerSecond ?? 0;
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 16, files.length)) }, async () => {
      while (next < files.length) {
        if (options.signal?.aborted === true) throw options.signal.reason ?? new Error('aborted');
        const i = next++;
        const f = files[i]!;
        if (rate > 0) {
          const due = started + (i * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await save(f.name, f.body);
        uploadedAt[f.name] = Date.now();
        options.onProgress?.(++done, files.length);
      }
    }),
  );
  return { uploadedAt };
}
