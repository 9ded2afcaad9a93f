// Chaos verdicts when ingest ran later than the allowed lateness (DESIGN §3, landing-time semantics).
// Time is landing time, so delays shorter than STREAMJOIN_ALLOWED_LATENESS change no row and the chaos
// verdict is strict. A machine too loaded to ingest a file within its window (deadline + lateness) is
// the one case where the rows legitimately differ: the waiting half was evicted as a timeout and the file
// ingested after the window becomes a late/orphan row. Such a pair is accepted only with proof:
//   - the pipeline itself logged the late half's file as `ingested late by N s` (lateEvents > 0), and
//   - every event of the order is still in exactly one row, with its own amounts.
// Everything else (a duplicate, a missing event, a split without that log line) stays a failure.
import { gunzipSync } from 'node:zlib';
import type { GroundTruth, WorkloadFile } from '../../infra/ops/produce.ts';
import type { TableRow, VerifyResult } from '../../infra/ops/verify.ts';

/** Object names (without bucket and generation) the ingest log reports as `ingested late by N s`. */
export function filesIngestedLate(ingestLog: string): Set<string> {
  const out = new Set<string>();
  for (const line of ingestLog.split('\n')) {
    if (!line.startsWith('{') || !line.includes('ingested late by')) continue;
    try {
      const j = JSON.parse(line) as { message?: string; file?: string; lateEvents?: number };
      if (!j.message?.startsWith('ingested late by') || j.file === undefined) continue;
      if ((j.lateEvents ?? 0) <= 0) continue;
      const hash = j.file.lastIndexOf('#');
      out.add(j.file.slice(j.file.indexOf('/') + 1, hash === -1 ? undefined : hash));
    } catch {
      // not one of ours
    }
  }
  return out;
}

/** `order:<order_id>` / `payment:<payment_id>` → every object that carries that event (duplicates too). */
export function eventFiles(files: readonly WorkloadFile[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
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
      if (v === null || typeof v !== 'object') continue;
      const r = v as Record<string, unknown>;
      const key =
        typeof r['payment_id'] === 'string' ? `payment:${r['payment_id']}` : `order:${String(r['order_id'])}`;
      const list = out.get(key) ?? [];
      if (!list.includes(f.name)) list.push(f.name);
      out.set(key, list);
    }
  }
  return out;
}

export interface LateVerdict {
  /** Order ids whose rows differ from the truth only because a half was ingested after its window. */
  readonly reclassified: string[];
  /** Differences nothing explains (each with its reasons). */
  readonly unexplained: string[];
}

/** Rows whose primary event is the order (payment_late/payment_extra carry the order only as context). */
const ORDER_ROWS = new Set(['joined', 'order_timeout', 'order_late']);

/** Explains the strict comparison's differences by files the pipeline logged as ingested late. */
export function explainByLateIngest(
  truth: GroundTruth,
  strict: VerifyResult,
  actual: readonly TableRow[],
  lateFiles: ReadonlySet<string>,
  files: ReadonlyMap<string, readonly string[]>,
): LateVerdict {
  const unexplained: string[] = [];
  const reclassified: string[] = [];
  for (const d of strict.duplicated) unexplained.push(`duplicated: ${d}`);
  for (const p of strict.rejectProblems) unexplained.push(`rejects: ${p}`);
  const orderOf = (key: string) => key.split('|')[1]!;
  const suspects = new Set([...strict.missing, ...strict.unexpected].map(orderOf));
  for (const id of [...suspects].sort()) {
    const want = truth.rows.filter((r) => r.order_id === id);
    const got = actual.filter((r) => r.order_id === id);
    const problems: string[] = [];
    if (want.length === 0) problems.push('rows for an order the workload never produced');
    const hasOrder = want.some((r) => ORDER_ROWS.has(r.reason));
    const orderRows = got.filter((r) => ORDER_ROWS.has(r.reason)).length;
    if (orderRows !== (hasOrder ? 1 : 0)) problems.push(`the order is in ${orderRows} order rows`);
    const wantPayments = new Map(
      want.flatMap((r) => (r.payment_id === null ? [] : [[r.payment_id, r.payment_amount] as const])),
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
      // The proof: the late half's event is in a file the pipeline logged as ingested after its window.
      if (r.reason === 'payment_late' || r.reason === 'order_late') {
        const lateEvent = r.reason === 'payment_late' ? `payment:${r.payment_id}` : `order:${id}`;
        const carriers = files.get(lateEvent) ?? [];
        if (!carriers.some((f) => lateFiles.has(f)))
          problems.push(
            `${r.reason} ${r.payment_id ?? ''}: no file of ${lateEvent} was logged as ingested late`,
          );
      }
    }
    if (problems.length === 0) reclassified.push(id);
    else unexplained.push(`${id}: ${problems.join('; ')}`);
  }
  return { reclassified, unexplained };
}
