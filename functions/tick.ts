// Cloud Scheduler → tick (HTTP). Thin: run the core, answer 200 with a summary, or 500 so the
// scheduler retries. Overlapping or repeated calls are safe.
import type { Request, Response } from '@google-cloud/functions-framework';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { runTick } from '../shared/pipeline/tick.ts';
import { getRuntime } from './runtime.ts';

export async function tickHandler(req: Request, res: Response): Promise<void> {
  const rt = getRuntime();
  const counter = new OpCounter();
  const log = rt.log.child({ fn: 'tick', scheduleTime: req.get('x-cloudscheduler-scheduletime') });
  const started = Date.now();
  try {
    const r = await runTick({ ...rt, counter, log });
    const body = {
      expired: r.evict.expired,
      flushedRows: r.flush.rows,
      batches: r.flush.batches.map((b) => ({
        id: b.batchId,
        table: b.table,
        rows: b.rowCount,
        files: b.files.length,
      })),
      busyShards: r.flush.busyShards,
      // Tables another engine changed beyond what the pipeline writes (alerted; rows wait).
      blocked: r.flush.blocked,
      lostLeases: r.flush.lostLeases,
      more: r.evict.more,
      firestore: counter.snapshot(),
    };
    log.info({ ...body, ms: Date.now() - started }, 'tick done');
    res.status(200).json(body);
  } catch (err) {
    log.error({ err }, 'tick failed');
    res.status(500).json({ error: String(err) });
  }
}
