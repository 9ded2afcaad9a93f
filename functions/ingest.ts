// Cloud Storage finalize event → ingest. Thin: decode the trigger, call the core, and let any error
// propagate (a 500 that Eventarc retries). Bad input never throws: it is quarantined by the core.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { isRetryable } from '../shared/errors.ts';
import { OpCounter } from '../shared/firestore/op-counter.ts';
import { type InputObject, ingestObject } from '../shared/pipeline/ingest.ts';
import { ingestMemoryCost, MemoryBudget, withAdmission } from '../shared/pipeline/ingest-admission.ts';
import { openInputObject } from '../shared/storage/input-objects.ts';
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
  /** RFC 3339: when this generation was created (landed). */
  readonly timeCreated?: string;
}

/** The object the event names; `landedAtMs` is undefined when the event carries no usable `timeCreated`. */
export type DecodedObject = Omit<InputObject, 'landedAtMs'> & { readonly landedAtMs: number | undefined };

export function decodeStorageEvent(event: CloudEvent<StorageObjectData>): DecodedObject {
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
  const landed = typeof d.timeCreated === 'string' ? Date.parse(d.timeCreated) : Number.NaN;
  return {
    bucket: d.bucket,
    name: d.name,
    generation: String(d.generation),
    landedAtMs: Number.isFinite(landed) ? landed : undefined,
    ...(d.size === undefined ? {} : { size: Number(d.size) }),
    ...(d.contentEncoding === undefined ? {} : { contentEncoding: d.contentEncoding }),
  };
}

export async function ingestHandler(event: CloudEvent<StorageObjectData>): Promise<void> {
  const rt = getRuntime();
  const decoded = decodeStorageEvent(event);
  const storage = getStorage();
  const log = rt.log.child({ eventId: event.id });
  budget ??= new MemoryBudget(rt.config.ingestMemoryBudget);
  try {
    // The event's time is the generation's landing time; an event without it has it looked up.
    const landedAtMs = decoded.landedAtMs ?? (await landingTimeOf(storage, decoded));
    await withAdmission(
      budget,
      ingestMemoryCost(decoded, rt.config),
      rt.config.ingestTimeBudgetMs,
      (ingestTimeBudgetMs) =>
        ingestObject(
          {
            db: rt.db,
            collections: rt.collections,
            counter: new OpCounter(),
            config: { ...rt.config, ingestTimeBudgetMs },
            log,
            openObject: (o) => openInputObject(storage, o),
          },
          { ...decoded, landedAtMs },
        ),
    );
  } catch (err) {
    // Thrown errors become a 500 and Eventarc retries (for up to 24 h with --retry): transient ones
    // heal by themselves; a permanent one (permissions, a bug) needs an operator — the retries keep
    // the event until it is fixed. Bad input never gets here: it is quarantined.
    log.error(
      { err, retryable: isRetryable(err), object: `${decoded.bucket}/${decoded.name}#${decoded.generation}` },
      'ingest failed; the event will be redelivered',
    );
    throw err;
  }
}

/** timeCreated of exactly this generation, from the object's metadata. */
async function landingTimeOf(storage: ReturnType<typeof getStorage>, o: DecodedObject): Promise<number> {
  let m: { timeCreated?: string | undefined };
  try {
    [m] = await storage
      .bucket(o.bucket)
      .file(o.name, { generation: Number(o.generation) })
      .getMetadata();
  } catch (err) {
    // The generation is gone: ingest finds that too and quarantines the object; no event time is used.
    if ((err as { code?: unknown }).code === 404) return Date.now();
    throw err;
  }
  const t = Date.parse(String(m.timeCreated));
  if (!Number.isFinite(t)) {
    throw new Error(
      `expected timeCreated in the metadata of ${o.bucket}/${o.name}#${o.generation}, but got: ${JSON.stringify(m.timeCreated)}`,
    );
  }
  return t;
}
