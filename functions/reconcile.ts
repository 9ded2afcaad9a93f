// Cloud Scheduler → reconcile (HTTP, hourly by default). Thin: run the core over the last
// STREAMJOIN_RECONCILE_DAYS days, answer 200 with the report, or 500 so the scheduler retries.
// Overlapping or repeated calls are safe (the ledger makes every ingest idempotent).
import type { Request, Response } from '@google-cloud/functions-framework';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { MemoryBudget } from '../shared/pipeline/ingest-admission.ts';
import { reconcileObjects } from '../shared/pipeline/reconcile.ts';
import { createInputLister, openInputObject } from '../shared/storage/input-objects.ts';
import { getInputReads, getRuntime, getStorage } from './runtime.ts';

export async function reconcileHandler(req: Request, res: Response): Promise<void> {
  const rt = getRuntime();
  const storage = getStorage();
  const counter = new OpCounter();
  const log = rt.log.child({ fn: 'reconcile', scheduleTime: req.get('x-cloudscheduler-scheduletime') });
  try {
    const r = await reconcileObjects(
      {
        ...rt,
        counter,
        log,
        listObjects: createInputLister(storage),
        openObject: (o) => openInputObject(getInputReads(), o),
        memoryBudget: new MemoryBudget(rt.config.ingestMemoryBudget),
      },
      {
        scope: { kind: 'recent', days: rt.config.reconcileDays, graceMs: rt.config.reconcileGraceMs },
        useWatermark: true,
        via: 'reconcile',
        // Leaves time for the ingests in flight before the function timeout; the next run continues.
        timeBudgetMs: rt.config.ingestTimeBudgetMs,
      },
    );
    res.status(200).json({
      listCalls: r.listCalls,
      listed: r.listed,
      considered: r.considered,
      missing: r.missing.length,
      ingested: r.ingested,
      failed: r.failed.length,
      stopped: r.stopped,
      firestore: counter.snapshot(),
    });
  } catch (err) {
    log.error({ err }, 'reconcile failed');
    res.status(500).json({ error: String(err) });
  }
}
