// `npm run test:chaos [-- --seed N --count N --runs N --spec FILE --timeout 20s --warehouse gs|file --keep]`:
// chaos runs of the whole local pipeline (see chaos.ts), one per seed (seed, seed+1, …), with the default
// join spec or the one --spec names (e.g. specs/shipments-deliveries.yaml: that spec's producer makes the
// workload, its rows are verified on every column). Prints the faults injected and the verdict of each
// run, and ends with `chaos: N passed, N failed`; exits 1 if any run failed.
// The defaults are CI-sized (300 orders — left events, one per key —, one run, a couple of minutes); CI
// runs seeds 2 and 4 with the default spec and seed 3 (one event per object) with
// specs/shipments-deliveries.yaml, 150 each.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { stackDown } from '../../infra/local/stack.ts';
import { formatIcebergCheck, requireReadersKit } from '../../infra/ops/check-iceberg.ts';
import { formatVerify } from '../../infra/ops/verify.ts';
import { loadJoinSpec } from '../../shared/spec/load.ts';
import { formatFaults, runChaos } from './chaos.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    count: { type: 'string', default: '300' },
    runs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '10s' },
    lateness: { type: 'string', default: '30s' },
    'flush-lease': { type: 'string', default: '5s' },
    warehouse: { type: 'string', default: 'gs' },
    'drain-timeout': { type: 'string', default: '300' },
    keep: { type: 'boolean', default: false },
    spec: { type: 'string' },
  },
  strict: true,
});

function int(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} expects an integer >= ${min}, but was: ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
const firstSeed =
  values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : int('seed', values.seed, 0);
const count = int('count', values.count, 1);
const runs = int('runs', values.runs, 1);
const drainTimeoutMs = int('drain-timeout', values['drain-timeout'], 10) * 1000;
if (values.warehouse !== 'gs' && values.warehouse !== 'file') {
  console.error(`--warehouse expects gs or file, but was: ${JSON.stringify(values.warehouse)}`);
  process.exit(2);
}
const warehouse = values.warehouse;
const spec = values.spec === undefined ? undefined : path.resolve(values.spec);
if (spec !== undefined) {
  try {
    loadJoinSpec(spec); // a bad spec is refused with its problems before any stack starts
  } catch (err) {
    console.error(`chaos: --spec ${values.spec}: ${(err as Error).message}`);
    process.exit(2);
  }
}
try {
  requireReadersKit(); // no chaos run can PASS without the reference readers: say so before starting
} catch (err) {
  console.error(`chaos: ${(err as Error).message}`);
  process.exit(2);
}

let current: string | undefined;
const interrupt = new AbortController();
let agents: Promise<unknown> = Promise.resolve();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\nchaos: ${sig}, stopping the fault agents and the local stack`);
    interrupt.abort();
    const dir = current;
    void Promise.race([agents, new Promise((r) => setTimeout(r, 20_000))])
      .then(() => (dir === undefined ? 0 : stackDown(dir)))
      .finally(() => process.exit(130));
  });
}

let passed = 0;
let failed = 0;
for (let i = 0; i < runs; i++) {
  const seed = firstSeed + i;
  current = mkdtempSync(path.join(tmpdir(), `streamjoin-chaos-${seed}-`));
  const r = await runChaos({
    seed,
    count,
    ...(spec === undefined ? {} : { spec }),
    timeout: values.timeout,
    lateness: values.lateness,
    flushLease: values['flush-lease'],
    warehouse,
    keep: values.keep,
    dataDir: current,
    drainTimeoutMs,
    signal: interrupt.signal,
    onAgents: (p) => {
      agents = p;
    },
    log: (line) => console.log(line),
  });
  console.log(`  faults injected:\n    ${formatFaults(r.faults)}`);
  console.log(
    `  workload: ${r.truth.events} events in ${r.truth.files} files, ${r.truth.rows} expected rows, ` +
      `${r.truth.rejects} bad records, ${r.truth.duplicates} duplicate records`,
  );
  if (r.verify !== undefined) {
    // Rows that differ only by proven late ingest: the first lines of the comparison, then the pairs.
    const text =
      r.pass && !r.verify.pass
        ? formatVerify(r.verify).split('\n').slice(0, 2).join('\n')
        : formatVerify(r.verify);
    console.log(
      text.replace(/^FAIL:/, r.pass ? 'rows differ from the on-time truth:' : 'FAIL:').replace(/^/gm, '  '),
    );
  }
  if (r.late !== undefined) {
    console.log(
      `  ${r.late.reclassified.length} pair(s) split because a half was ingested after its window (deadline + allowed ` +
        `lateness), proven by the pipeline's own 'ingested late' log lines, each event still in exactly one row: ` +
        `${r.late.reclassified.join(', ') || 'none'}`,
    );
    for (const u of r.late.unexplained.slice(0, 20)) console.log(`  NOT EXPLAINED by late ingest: ${u}`);
  }
  for (const c of r.iceberg) console.log(`  ${formatIcebergCheck(c).replace(/\n/g, '\n  ')}`);
  if (r.verify !== undefined && r.iceberg.length === 0) console.log('  check-iceberg did not run');
  if (r.rejectsWithoutReason > 0)
    console.log(`  ${r.rejectsWithoutReason} quarantined record(s) without a reason`);
  if (r.error !== undefined) console.log(`  error: ${r.error}`);
  console.log(
    `chaos seed ${seed}: ${r.pass ? 'PASS' : 'FAIL'} in ${Math.round(r.elapsedMs / 1000)} s` +
      (r.pass && !values.keep ? '' : ` (data, logs and tables kept in ${r.dataDir})`),
  );
  if (r.pass) passed++;
  else failed++;
  current = undefined;
}
console.log(`chaos: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
