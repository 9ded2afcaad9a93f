// Cloud Storage finalize event → ingest. Thin: decode the trigger, call the core, and let any error
// propagate (a 500 that Eventarc retries). Bad input never throws: it is quarantined by the core.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { isRetryable } from '../shared/errors.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { type InputObject, ingestObject } from '../shared/pipeline/ingest.ts';
import { ingestMemoryCost, MemoryBudget, withAdmission } from '../shared/pipeline/ingest-admission.ts';
import { getRuntime, getStorage } from './runtime.ts';

/** One memory budget per instance: requests are admitted by what their object costs, not by count. */
let budget: MemoryBudget | undefined;

/** The fields of the finalize event's data we use (the object resource; int64 fields as strings). */
export interface StorageObjectData {
  readonly bucket?: string;
  readonly name?: string;
  readonly generation?: string | number;
  readonly size?: string | number;
  readonly contentEncoding?: string;
}

export function decodeStorageEvent(event: CloudEvent<StorageObjectData>): InputObject {
  const d = event.data;
  if (
    d === undefined ||
    typeof d.bucket !== 'string' ||
    typeof d.name !== 'string' ||
    d.generation === undefined
  ) {
    throw new Error(
      `expected a google.cloud.storage.object.v1.finalized event whose data has bucket, name and generation, but got: ${JSON.stringify(d)?.slice(0, 300)}`,
    );
  }
  return {
    bucket: d.bucket,
    name: d.name,
    generation: String(d.generation),
    ...(d.size === undefined ? {} : { size: Number(d.size) }),
    ...(d.contentEncoding === undefined ? {} : { contentEncoding: d.contentEncoding }),
  };
}

export async function ingestHandler(event: CloudEvent<StorageObjectData>): Promise<void> {
  const rt = getRuntime();
  const obj = decodeStorageEvent(event);
  const storage = getStorage();
  const log = rt.log.child({ eventId: event.id });
  budget ??= new MemoryBudget(rt.config.ingestMemoryBudget);
  try {
    await withAdmission(
      budget,
      ingestMemoryCost(obj, rt.config),
      rt.config.ingestTimeBudgetMs,
      (ingestTimeBudgetMs) =>
        ingestObject(
          {
            db: rt.db,
            collections: rt.collections,
            counter: new OpCounter(),
            config: { ...rt.config, ingestTimeBudgetMs },
            log,
            openObject: (o) =>
              storage
                .bucket(o.bucket)
                .file(o.name, { generation: Number(o.generation) })
                .createReadStream(),
          },
          obj,
        ),
    );
  } catch (err) {
    // Thrown errors become a 500 and Eventarc retries (for up to 24 h with --retry): transient ones
    // heal by themselves; a permanent one (permissions, a bug) needs an operator — the retries keep
    // the event until it is fixed. Bad input never gets here: it is quarantined.
    log.error(
      { err, retryable: isRetryable(err), object: `${obj.bucket}/${obj.name}#${obj.generation}` },
      'ingest failed; the event will be redelivered',
    );
    throw err;
  }
}
