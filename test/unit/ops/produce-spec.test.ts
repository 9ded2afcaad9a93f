// The producer for any spec: every file it plans is read back with the pipeline's own file parser and
// each record checked with the spec's record validation, so the truth's rejects, duplicates and rows
// are what the pipeline will see — for the example spec and a spec with every field type, in every
// file format, gzip or not.
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FaultMix, FILE_FORMATS, planWorkload } from '../../../infra/ops/produce.ts';
import {
  DEFECT_KINDS,
  defectsFor,
  hasDefaultShape,
  isSpecTruth,
  planSpecWorkload,
  type SentRecord,
} from '../../../infra/ops/produce-spec.ts';
import { parseEventFile } from '../../../shared/ingest/parse-event-file.ts';
import { defaultJoinSpec, loadJoinSpec } from '../../../shared/spec/load.ts';
import type { JoinSpec, StreamSpec } from '../../../shared/spec/model.ts';
import { validateStreamRecord } from '../../../shared/spec/records.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SPECS: Record<string, JoinSpec> = {
  'shipments-deliveries': loadJoinSpec(path.join(ROOT, 'specs/shipments-deliveries.yaml')),
  'every-type': loadJoinSpec(path.join(ROOT, 'test/fixtures/specs/every-type.json')),
};
const HEAVY: FaultMix = {
  earlyPayment: 0.15,
  unpaidOrder: 0.15,
  orphanPayment: 0.15,
  latePayment: 0.15,
  secondPayment: 0.15,
  duplicateFile: 0.3,
  malformed: 0.4,
  lateOrder: 0.15,
};

const LIMITS = { maxObjectSize: 2 ** 30, maxDecompressedSize: 2 ** 30, maxLineLength: 2 ** 20 };

async function* chunks(body: Buffer): AsyncGenerator<Uint8Array> {
  yield body;
}

/** What the pipeline reads from one file: its valid records and how many are rejected. */
async function readBack(
  stream: StreamSpec,
  name: string,
  body: Buffer,
): Promise<{ valid: SentRecord[]; rejected: number; issueCodes: string[] }> {
  const valid: SentRecord[] = [];
  const issueCodes: string[] = [];
  let rejected = 0;
  for await (const item of parseEventFile(chunks(body), { name, ...LIMITS })) {
    if (item.kind === 'record') {
      const v = validateStreamRecord(stream, item.value, item.path);
      if (v.ok) valid.push(item.value as SentRecord);
      else {
        rejected++;
        issueCodes.push(...v.issues.map((i) => i.code));
      }
    } else if (item.kind === 'record-issue' || item.kind === 'file-issue') {
      rejected++;
      issueCodes.push(item.issue.code);
    }
  }
  return { valid, rejected, issueCodes };
}

const identityOf = (s: StreamSpec, r: SentRecord) =>
  JSON.stringify([r[s.key], ...s.identity.map((f) => r[f])]);

const CASES = Object.entries(SPECS).flatMap(([specName, spec]) =>
  FILE_FORMATS.flatMap((format) =>
    [false, true].map((gzip) => ({
      name: `${specName} ${format}${gzip ? ' gzip' : ''}`,
      spec,
      format,
      gzip,
    })),
  ),
);

for (const c of CASES) {
  test(`planSpecWorkload: ${c.name} — files read back as the truth says`, async () => {
    const { spec } = c;
    const plan = planSpecWorkload(spec, {
      count: 120,
      seed: 7,
      eventsPerFile: 5,
      format: c.format,
      gzip: c.gzip,
      faults: HEAVY,
      ordersPrefix: spec.left.prefix,
      paymentsPrefix: spec.right.prefix,
      startMs: Date.UTC(2026, 10, 25, 12),
    });
    assert.equal(plan.truth.spec, spec.name);
    const seen = { left: new Map<string, number>(), right: new Map<string, number>() };
    let duplicates = 0;
    const rejects: Record<string, number> = {};
    for (const f of plan.files) {
      const side = f.name.startsWith(spec.left.prefix) ? 'left' : 'right';
      const stream = spec[side];
      assert.ok(f.name.startsWith(stream.prefix), f.name);
      const back = await readBack(stream, f.name, f.body);
      if (back.rejected > 0) rejects[f.name] = back.rejected;
      if (f.name.includes('_dup.')) duplicates += back.valid.length;
      else
        for (const r of back.valid) {
          const id = identityOf(stream, r);
          seen[side].set(id, (seen[side].get(id) ?? 0) + 1);
        }
    }
    assert.deepEqual(rejects, plan.truth.rejects);
    assert.equal(duplicates, plan.truth.duplicates);
    // Every valid event is in the truth, and each truth record was sent exactly once (not counting
    // duplicate files), with the very values the truth holds.
    const truthIds = { left: new Set<string>(), right: new Set<string>() };
    for (const r of plan.truth.rows) {
      if (r.left !== null) truthIds.left.add(identityOf(spec.left, r.left));
      if (r.right !== null) truthIds.right.add(identityOf(spec.right, r.right));
    }
    for (const side of ['left', 'right'] as const) {
      assert.deepEqual([...seen[side].keys()].sort(), [...truthIds[side]].sort(), `${side} events`);
      for (const [id, n] of seen[side]) assert.equal(n, 1, `${side} ${id} sent ${n} times`);
    }
    // Every reason of the spec and the joined rows are there; nothing else.
    const reasons = new Set(plan.truth.rows.map((r) => r.reason));
    assert.deepEqual(
      [...reasons].sort(),
      ['joined', ...Object.values(spec.reasons)].sort(),
      'every outcome is produced',
    );
  });
}

test('planSpecWorkload: values of every type, nullable fields null and missing, every defect kind', async () => {
  const spec = SPECS['every-type']!;
  const defects = new Set<string>();
  const nulls = new Map<string, { null: number; missing: number; set: number }>();
  for (const format of FILE_FORMATS) {
    const plan = planSpecWorkload(spec, {
      count: 400,
      seed: 11,
      eventsPerFile: 4,
      format,
      gzip: false,
      faults: HEAVY,
      ordersPrefix: spec.left.prefix,
      paymentsPrefix: spec.right.prefix,
      startMs: Date.UTC(2026, 10, 25, 12),
    });
    for (const f of plan.files) {
      const stream = f.name.startsWith(spec.left.prefix) ? spec.left : spec.right;
      const back = await readBack(stream, f.name, f.body);
      for (const code of back.issueCodes) defects.add(code);
      for (const r of back.valid)
        for (const field of stream.fields.filter((x) => x.nullable)) {
          const k = `${stream.name}.${field.name}`;
          const n = nulls.get(k) ?? { null: 0, missing: 0, set: 0 };
          nulls.set(k, n);
          if (!Object.hasOwn(r, field.name)) n.missing++;
          else if (r[field.name] === null) n.null++;
          else n.set++;
        }
    }
  }
  for (const [k, n] of nulls) {
    assert.ok(n.null > 0 && n.missing > 0 && n.set > 0, `${k}: ${JSON.stringify(n)}`);
  }
  // The codes the pipeline gives each defect the producer makes (malformed: a file or a line).
  for (const code of [
    'missing-field',
    'null-field',
    'wrong-type',
    'out-of-range',
    'not-an-integer',
    'empty-string',
    'not-an-object',
  ])
    assert.ok(defects.has(code), `defect ${code} among ${[...defects].join(', ')}`);
  assert.ok(
    [...defects].some((c) => !DEFECT_KINDS.includes(c as never)),
    `a malformed file or line among ${[...defects].join(', ')}`,
  );
});

test('defectsFor: only defects the stream and the format allow', () => {
  const table = [
    {
      name: 'strings only, object format',
      stream: {
        ...SPECS['shipments-deliveries']!.right,
        fields: [{ name: 'shipment_id', type: 'string', nullable: false }],
      },
      format: 'object' as const,
      expected: ['malformed', 'missing-field', 'null-field', 'wrong-type', 'empty-string'],
    },
    {
      name: 'every type, array format',
      stream: SPECS['every-type']!.left,
      format: 'array' as const,
      expected: [
        'not-an-object',
        'missing-field',
        'null-field',
        'wrong-type',
        'out-of-range',
        'not-an-integer',
        'empty-string',
      ],
    },
  ];
  for (const c of table) assert.deepEqual(defectsFor(c.stream, c.format), c.expected, c.name);
});

test('planWorkload: the default spec (or one differing only in prefixes, timeouts, names) plans the default workload; another spec its own', () => {
  const base = {
    count: 50,
    seed: 5,
    eventsPerFile: 1,
    format: 'object' as const,
    gzip: false,
    faults: HEAVY,
    ordersPrefix: 'stream/orders/',
    paymentsPrefix: 'stream/payments/',
    startMs: Date.UTC(2026, 10, 25),
  };
  const def = defaultJoinSpec();
  const renamed: JoinSpec = {
    ...def,
    name: 'copy',
    namespace: 'other',
    left: { ...def.left, prefix: 'in/o/', timeoutMs: 1000 },
    joined: { ...def.joined, name: 'x' },
  };
  const withField: JoinSpec = {
    ...def,
    left: { ...def.left, fields: [...def.left.fields, { name: 'currency', type: 'string', nullable: true }] },
  };
  assert.equal(hasDefaultShape(def), true);
  assert.equal(hasDefaultShape(renamed), true);
  assert.equal(hasDefaultShape(withField), false);
  const plain = planWorkload(base);
  for (const spec of [def, renamed]) {
    const p = planWorkload({ ...base, spec });
    assert.equal(isSpecTruth(p.truth), false);
    assert.deepEqual(p.truth, plain.truth);
    assert.deepEqual(
      p.files.map((f) => [f.name, f.body.toString()]),
      plain.files.map((f) => [f.name, f.body.toString()]),
    );
  }
  const other = planWorkload({ ...base, spec: SPECS['shipments-deliveries']! });
  assert.equal(isSpecTruth(other.truth), true);
  assert.equal(isSpecTruth(planWorkload({ ...base, spec: withField }).truth), true);
});

test('planSpecWorkload: the same seed gives the same files and truth; another seed other keys', () => {
  const spec = SPECS['every-type']!;
  const o = {
    count: 30,
    seed: 3,
    eventsPerFile: 3,
    format: 'jsonl' as const,
    gzip: false,
    faults: HEAVY,
    ordersPrefix: spec.left.prefix,
    paymentsPrefix: spec.right.prefix,
    startMs: Date.UTC(2026, 10, 25),
  };
  const a = planSpecWorkload(spec, o);
  const b = planSpecWorkload(spec, o);
  assert.deepEqual(a, b);
  const c = planSpecWorkload(spec, { ...o, seed: 4 });
  const keys = (p: typeof a) => new Set(p.truth.rows.map((r) => (r.left ?? r.right)![spec.left.key]));
  const overlap = [...keys(a)].filter((k) => keys(c).has(k));
  assert.deepEqual(overlap, []);
});
