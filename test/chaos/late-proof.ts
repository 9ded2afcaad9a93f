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
import type { SentRecord, SpecGroundTruth, SpecTruthRow } from '../../infra/ops/produce-spec.ts';
import type { TableRow, VerifyResult } from '../../infra/ops/verify.ts';
import { expectedRow, type SpecTableRow, specRowKey } from '../../infra/ops/verify-spec.ts';
import type { JoinSpec, ReasonRole, Side } from '../../shared/spec/model.ts';

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

// The same proof for a workload of any join spec (produce-spec.ts), whose truth holds the records each
// row comes from and whose table rows are compared on every column (verify-spec.ts). Its events are
// `<left name>:<key>` and `<right name>:<key> <identity values>`; a row's events follow from the records
// of the one row the truth's records can make that equals it on every column.

/** A stream's event id of a record: `shipment:<key>`, `delivery:<key> ["<scan_id>"]`. */
export function specEventId(spec: JoinSpec, side: Side, record: Readonly<Record<string, unknown>>): string {
  const stream = side === 'left' ? spec.left : spec.right;
  const key = String(record[stream.key]);
  return side === 'left'
    ? `${stream.name}:${key}`
    : `${stream.name}:${key} ${JSON.stringify(stream.identity.map((f) => record[f] ?? null))}`;
}

/** Event id → every object that carries that event (duplicates too); the stream from the object's prefix. */
export function specEventFiles(spec: JoinSpec, files: readonly WorkloadFile[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of files) {
    const side: Side | undefined = f.name.startsWith(spec.left.prefix)
      ? 'left'
      : f.name.startsWith(spec.right.prefix)
        ? 'right'
        : undefined;
    if (side === undefined) continue;
    for (const v of recordsOf(f)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
      const id = specEventId(spec, side, v as Record<string, unknown>);
      const list = out.get(id) ?? [];
      if (!list.includes(f.name)) list.push(f.name);
      out.set(id, list);
    }
  }
  return out;
}

/** The JSON values of a workload file (object, array or JSON Lines; gzip or not); malformed ones left out. */
function recordsOf(f: WorkloadFile): unknown[] {
  const text = (f.body[0] === 0x1f && f.body[1] === 0x8b ? gunzipSync(f.body) : f.body).toString('utf8');
  const values: unknown[] = [];
  const add = (s: string) => {
    try {
      const v = JSON.parse(s) as unknown;
      if (Array.isArray(v) && text.trimStart().startsWith('[')) values.push(...v);
      else values.push(v);
    } catch {
      // a deliberately malformed record
    }
  };
  if (text.trimStart().startsWith('[')) add(text);
  else for (const line of text.split('\n')) add(line);
  return values;
}

type Role = 'joined' | ReasonRole;
/** Rows whose subject is the left event / a right event (a leftLate row carries the orphaned right event
 *  only as context; rightLate and rightExtra carry the left one only as context). */
const LEFT_ROLES: ReadonlySet<Role> = new Set(['joined', 'leftTimeout', 'leftLate']);
const RIGHT_ROLES: ReadonlySet<Role> = new Set(['joined', 'rightOrphan', 'rightLate', 'rightExtra']);

/** One row the truth's records of a key could make under some ingest order: its role and records. */
interface Candidate {
  readonly key: string;
  readonly role: Role;
  readonly left: SentRecord | null;
  readonly right: SentRecord | null;
}

const keyOfRow = (spec: JoinSpec, r: SpecTruthRow): string =>
  String(r.left?.[spec.left.key] ?? r.right?.[spec.right.key]);

/**
 * The spec version of explainByLateIngest: the strict comparison's differences explained by files the
 * pipeline logged as ingested late. Every row of a key that differs must be one the truth's records of
 * that key can make (every column equal), the left event in exactly one of its rows (joined, left
 * timeout, left late), each right event in exactly one (joined, orphan, late, extra), and each late row's
 * late half in a file the ingest log names as ingested late.
 */
export function explainSpecByLateIngest(
  spec: JoinSpec,
  truth: SpecGroundTruth,
  strict: VerifyResult,
  actual: readonly SpecTableRow[],
  lateFiles: ReadonlySet<string>,
  files: ReadonlyMap<string, readonly string[]>,
): LateVerdict {
  const unexplained: string[] = [];
  const reclassified: string[] = [];
  for (const d of strict.duplicated) unexplained.push(`duplicated: ${d}`);
  for (const p of strict.rejectProblems) unexplained.push(`rejects: ${p}`);
  const R = spec.reasons;
  const reasonOfRole = (role: Role) => (role === 'joined' ? 'joined' : R[role]);
  // Per key: the truth's left record and right records (by event id).
  const events = new Map<string, { left: SentRecord | null; rights: Map<string, SentRecord> }>();
  for (const r of truth.rows) {
    const key = keyOfRow(spec, r);
    const e = events.get(key) ?? { left: null, rights: new Map<string, SentRecord>() };
    events.set(key, e);
    if (r.left !== null) e.left = r.left;
    if (r.right !== null) e.rights.set(specEventId(spec, 'right', r.right), r.right);
  }
  // Every row the records of each key can make, by its comparison string (every column).
  const candidates = new Map<string, Candidate>();
  const add = (key: string, role: Role, left: SentRecord | null, right: SentRecord | null) => {
    const k = specRowKey(spec, expectedRow(spec, { reason: reasonOfRole(role), left, right }));
    if (!candidates.has(k)) candidates.set(k, { key, role, left, right });
  };
  for (const [key, e] of events) {
    if (e.left !== null) add(key, 'leftTimeout', e.left, null);
    for (const right of e.rights.values()) {
      add(key, 'rightOrphan', null, right);
      if (e.left === null) continue;
      for (const role of ['joined', 'rightLate', 'leftLate', 'rightExtra'] as const)
        add(key, role, e.left, right);
    }
  }
  // Keys whose rows differ from the truth's, and the rows of each.
  const multiset = new Map<string, Map<string, number>>();
  const bump = (key: string, rowKey: string, by: number) => {
    const m = multiset.get(key) ?? new Map<string, number>();
    multiset.set(key, m);
    m.set(rowKey, (m.get(rowKey) ?? 0) + by);
  };
  for (const r of truth.rows) bump(keyOfRow(spec, r), specRowKey(spec, expectedRow(spec, r)), 1);
  const rowsOf = new Map<string, Candidate[]>();
  for (const r of actual) {
    const k = specRowKey(spec, r);
    const c = candidates.get(k);
    if (c === undefined) {
      unexplained.push(`a row no record of the workload makes: ${k}`);
      continue;
    }
    bump(c.key, k, -1);
    rowsOf.set(c.key, [...(rowsOf.get(c.key) ?? []), c]);
  }
  const suspects = [...multiset]
    .filter(([, m]) => [...m.values()].some((n) => n !== 0))
    .map(([key]) => key)
    .sort();
  for (const key of suspects) {
    const e = events.get(key)!;
    const got = rowsOf.get(key) ?? [];
    const problems: string[] = [];
    const leftRows = got.filter((c) => LEFT_ROLES.has(c.role)).length;
    if (leftRows !== (e.left === null ? 0 : 1))
      problems.push(`the ${spec.left.name} is in ${leftRows} ${spec.left.name} rows`);
    const gotRights = got.flatMap((c) =>
      RIGHT_ROLES.has(c.role) && c.right !== null ? [specEventId(spec, 'right', c.right)] : [],
    );
    if (gotRights.length !== e.rights.size || new Set(gotRights).size !== gotRights.length)
      problems.push(
        `${spec.right.name} events ${JSON.stringify(gotRights)}, expected ${JSON.stringify([...e.rights.keys()])}`,
      );
    // The proof: the late half's event is in a file the pipeline logged as ingested after its window.
    for (const c of got) {
      if (c.role !== 'rightLate' && c.role !== 'leftLate') continue;
      const side = c.role === 'rightLate' ? 'right' : 'left';
      const lateEvent = specEventId(spec, side, (side === 'right' ? c.right : c.left)!);
      const carriers = files.get(lateEvent) ?? [];
      if (!carriers.some((f) => lateFiles.has(f)))
        problems.push(`${reasonOfRole(c.role)}: no file of ${lateEvent} was logged as ingested late`);
    }
    if (problems.length === 0) reclassified.push(key);
    else unexplained.push(`${key}: ${problems.join('; ')}`);
  }
  return { reclassified, unexplained };
}
