// Fault injection from data (nodejs-storage conformance style): named points in the code where a test
// can make the N-th pass fail, or crash the process, or fail at random. Off unless configured.
//
//   STREAMJOIN_FAULTS="ingest.after-commit=fail:1,tick.after-write=exit:2,ingest.before-read=p:0.1"
//     fail:N  throw a retryable StreamjoinError('injected-crash') on the first N passes
//     exit:N  kill this process with SIGKILL on the N-th pass (a crash between two steps)
//     stop:N  stop this process with SIGSTOP on the N-th pass (a pause between two steps; whoever
//             injected it sends SIGCONT — the chaos suite, once the pause has done its damage)
//     p:X     throw with probability X on every pass
import { StreamjoinError } from './errors.ts';

type Rule =
  | { mode: 'fail'; remaining: number }
  | { mode: 'exit' | 'stop'; at: number; seen: number }
  | { mode: 'p'; p: number };

let rules: Map<string, Rule> | undefined;
const hits = new Map<string, number>();

export function parseFaultSpec(spec: string): Map<string, Rule> {
  const out = new Map<string, Rule>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9.-]+)=(fail|exit|stop|p):(\d+(?:\.\d+)?)$/.exec(part);
    if (m === null) {
      throw new StreamjoinError(
        'config',
        `STREAMJOIN_FAULTS entries must look like point=fail:N, point=exit:N, point=stop:N or point=p:X, but was: ${JSON.stringify(part)}`,
      );
    }
    const [, point, mode, n] = m as unknown as [string, string, 'fail' | 'exit' | 'stop' | 'p', string];
    if (mode === 'fail') out.set(point, { mode, remaining: Number(n) });
    else if (mode === 'exit' || mode === 'stop') out.set(point, { mode, at: Number(n), seen: 0 });
    else out.set(point, { mode, p: Number(n) });
  }
  return out;
}

/** Replaces the active rules (tests in-process); `undefined` re-reads STREAMJOIN_FAULTS. */
export function setFaults(spec: string | undefined): void {
  rules = spec === undefined ? undefined : parseFaultSpec(spec);
  hits.clear();
}

/** How many times each point was passed (for tests that assert a crash happened where intended). */
export function faultHits(point: string): number {
  return hits.get(point) ?? 0;
}

/** A named point between two steps. Cheap when no faults are configured. */
export function faultPoint(point: string): void {
  rules ??= parseFaultSpec(process.env['STREAMJOIN_FAULTS'] ?? '');
  hits.set(point, (hits.get(point) ?? 0) + 1);
  const rule = rules.get(point);
  if (rule === undefined) return;
  if (rule.mode === 'fail' && rule.remaining > 0) {
    rule.remaining--;
    throw new StreamjoinError('injected-crash', `injected failure at ${point}`, { context: { point } });
  }
  if (rule.mode === 'p' && Math.random() < rule.p) {
    throw new StreamjoinError('injected-crash', `injected failure at ${point}`, { context: { point } });
  }
  if (rule.mode === 'exit' || rule.mode === 'stop') {
    rule.seen++;
    if (rule.seen === rule.at) process.kill(process.pid, rule.mode === 'exit' ? 'SIGKILL' : 'SIGSTOP');
  }
}
