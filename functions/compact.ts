// Cloud Scheduler → compact (HTTP). Thin: run the core, answer 200 with a summary, or 500 so the
// scheduler retries. Overlapping or repeated calls are safe.
import type { Request, Response } from '@google-cloud/functions-framework';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { runCompact } from '../shared/pipeline/compact.ts';
import { getRuntime } from './runtime.ts';

export async function compactHandler(req: Request, res: Response): Promise<void> {
  const rt = getRuntime();
  const counter = new OpCounter();
  const log = rt.log.child({ fn: 'compact', scheduleTime: req.get('x-cloudscheduler-scheduletime') });
  const started = Date.now();
  try {
    const tables = await runCompact({ ...rt, counter, log });
    const body = { tables, firestore: counter.snapshot() };
    log.info({ ...body, ms: Date.now() - started }, 'compact done');
    res.status(200).json(body);
  } catch (err) {
    log.error({ err }, 'compact failed');
    res.status(500).json({ error: String(err) });
  }
}
