// Chaos verdicts under processing-time semantics (DESIGN §3): when faults delay one half of a pair past the
// order/payment timeout, the pipeline must emit the timeout rows (order_timeout + payment_late, or
// payment_orphan + order_late) instead of the joined row. Such a pair is accepted only with proof: every
// event of the order still lands in exactly one row with its own amounts, and the late row's processing
// time (its emitted_at) is at least the timeout after the first logged ingest of the other half's file.
import { gunzipSync } from 'node:zlib';
import type { GroundTruth, TruthRow, WorkloadFile } from '../../infra/ops/produce.ts';
import type { TableRow, VerifyResult } from '../../infra/ops/verify.ts';

/** A table row with its processing time (verify.ts reads them). */
export type TimedRow = TableRow;

/** Object name → epoch ms of its first `ingested` log line (an upper bound of when it was first applied). */
export function firstIngested(ingestLog: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of ingestLog.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"ingested"')) continue;
    try {
      const j = JSON.parse(line) as { message?: string; file?: string; time?: string };
      if (j.message !== 'ingested' || j.file === undefined || j.time === undefined) continue;
      const name = j.file.slice(j.file.indexOf('/') + 1, j.file.lastIndexOf('#'));
      const t = Date.parse(j.time);
      if (!out.has(name) || t < out.get(name)!) out.set(name, t);
    } catch {
      // not one of ours
    }
  }
  return out;
}

/** `order:<order_id>` / `payment:<payment_id>` → the first object that carries that event. */
export function eventFiles(files: readonly WorkloadFile[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of files) {
    const text = (f.body[0] === 0x1f && f.body[1] === 0x8b ? gunzipSync(f.body) : f.body).toString('utf8');
    const values: unknown[] = [];
    const add = (s: string) => {
      try {
        const v = JSON.parse(s) as unknown;
        if (Array.isArray(v)) values.push(...v);
        else values.push(v);
      } catch {
        // a deliberately malformed record
      }
    };
    if (text.trimStart().startsWith('[')) add(text);
    else for (const line of text.split('\n')) add(line);
    for (const v of values) {
      const r = v as Record<string, unknown>;
      const key =
        typeof r['payment_id'] === 'string' ? `payment:${r['payment_id']}` : `order:${String(r['order_id'])}`;
      if (!out.has(key)) out.set(key, f.name);
    }
  }
  return out;
}

export interface DelayVerdict {
  /** Order ids whose rows differ from the truth only by a proven timeout classification. */
  readonly reclassified: string[];
  /** Differences that no delay explains (each a reason). */
  readonly unexplained: string[];
}

/** Rows whose primary event is the order (payment_late and payment_extra carry the order only as context). */
const ORDER_ROWS = new Set(['joined', 'order_timeout', 'order_late']);

/** Explains the strict comparison's differences by proven delays, order by order. */
export function explainByDelay(
  truth: GroundTruth,
  strict: VerifyResult,
  actual: readonly TimedRow[],
  firstIngest: ReadonlyMap<string, number>,
  files: ReadonlyMap<string, string>,
  timeoutMs: number,
  /** order_id → epochMs of its join state: when the pipeline processed the pair's first event. */
  stateEpochs: ReadonlyMap<string, number> = new Map(),
  slackMs = 1000,
): DelayVerdict {
  const unexplained: string[] = [];
  const reclassified: string[] = [];
  const orderOf = (key: string) => key.split('|')[1]!;
  for (const d of strict.duplicated) unexplained.push(`duplicated: ${d}`);
  const suspects = new Set([...strict.missing, ...strict.unexpected].map(orderOf));
  const byOrder = <T extends TruthRow>(rows: readonly T[], id: string) =>
    rows.filter((r) => r.order_id === id);
  for (const id of suspects) {
    const want = byOrder(truth.rows, id);
    const got = byOrder(actual, id);
    const problems: string[] = [];
    if (want.length === 0) problems.push('rows for an order the workload never produced');
    // Each event exactly once: the order in one order row, each payment in one row.
    const hasOrder = want.some((r) => ORDER_ROWS.has(r.reason));
    const orderRows = got.filter((r) => ORDER_ROWS.has(r.reason)).length;
    if (orderRows !== (hasOrder ? 1 : 0)) problems.push(`the order is in ${orderRows} order rows`);
    const wantPayments = new Map(
      want.flatMap((r) => (r.payment_id === null ? [] : [[r.payment_id, r.payment_amount]])),
    );
    // An order_late row carries the orphaned payment as context: that payment's own row is payment_orphan.
    const gotPayments = got.flatMap((r) =>
      r.payment_id === null || r.reason === 'order_late' ? [] : [r.payment_id],
    );
    if (gotPayments.length !== wantPayments.size || new Set(gotPayments).size !== gotPayments.length)
      problems.push(
        `payments ${JSON.stringify(gotPayments)}, expected ${JSON.stringify([...wantPayments.keys()])}`,
      );
    const orderAmount = want.find((r) => r.order_amount !== null)?.order_amount ?? null;
    for (const r of got) {
      if (
        r.payment_id !== null &&
        (!wantPayments.has(r.payment_id) || wantPayments.get(r.payment_id) !== r.payment_amount)
      )
        problems.push(`${r.reason} row has payment ${r.payment_id} = ${r.payment_amount}`);
      if (r.order_amount !== null && r.order_amount !== orderAmount)
        problems.push(`${r.reason} row has order amount ${r.order_amount}, expected ${orderAmount}`);
      // The proof of delay: the late half was processed ≥ timeout after the other half. When the other half
      // was processed: the join state's epochMs (stamped with the processing clock when the state began),
      // else the first `ingested` log line of its file (a bound: a crash after the commit logs later).
      if (r.reason === 'payment_late' || r.reason === 'order_late') {
        const other = r.reason === 'payment_late' ? `order:${id}` : `payment:${r.payment_id}`;
        const file = files.get(other);
        const first = stateEpochs.get(id) ?? (file === undefined ? undefined : firstIngest.get(file));
        if (first === undefined) problems.push(`${r.reason}: no processing time known for ${other}`);
        else if (r.atMs - first < timeoutMs - slackMs)
          problems.push(
            `${r.reason} ${r.payment_id} processed ${Math.round(r.atMs - first)} ms after ${other} (timeout ${timeoutMs} ms)`,
          );
      }
    }
    if (problems.length === 0) reclassified.push(id);
    else unexplained.push(`${id}: ${problems.join('; ')}`);
  }
  return { reclassified: reclassified.sort(), unexplained };
}
