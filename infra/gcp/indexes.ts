// Reads firestore.indexes.json (the Firebase CLI format, also used by the emulator) into the composite
// indexes and field overrides the deploy creates. Pure: the caller reads the file.
import { SETTINGS } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';

export const INDEX_ORDERS = ['ASCENDING', 'DESCENDING'] as const;
export type IndexOrder = (typeof INDEX_ORDERS)[number];

export interface IndexField {
  readonly fieldPath: string;
  readonly order: IndexOrder;
}

export interface CompositeIndex {
  readonly collectionGroup: string;
  readonly queryScope: 'COLLECTION' | 'COLLECTION_GROUP';
  readonly fields: readonly IndexField[];
}

export interface FieldOverride {
  readonly collectionGroup: string;
  readonly fieldPath: string;
  /** The field is the collection's TTL field (documents are deleted after the timestamp it holds). */
  readonly ttl: boolean;
  /** Single-field indexing switched off (an empty `indexes` list in the file). */
  readonly exemptFromIndexing: boolean;
}

export interface FirestoreIndexes {
  readonly indexes: readonly CompositeIndex[];
  readonly fieldOverrides: readonly FieldOverride[];
}

function fail(message: string, path: string, value: unknown): never {
  throw new StreamjoinError(
    'config',
    `firestore.indexes.json: ${path} ${message}, but was: ${JSON.stringify(value)}`,
    {
      context: { path },
    },
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Parses the file's JSON text. Only what the deploy supports is accepted; anything else is an error. */
export function parseFirestoreIndexes(text: string): FirestoreIndexes {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new StreamjoinError('config', `firestore.indexes.json must be JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!isRecord(doc)) fail('must be an object', '(root)', doc);
  const rawIndexes = doc['indexes'] ?? [];
  const rawOverrides = doc['fieldOverrides'] ?? [];
  if (!Array.isArray(rawIndexes)) fail('must be a list', 'indexes', rawIndexes);
  if (!Array.isArray(rawOverrides)) fail('must be a list', 'fieldOverrides', rawOverrides);
  const indexes = rawIndexes.map((raw, i): CompositeIndex => {
    const at = `indexes[${i}]`;
    if (!isRecord(raw)) fail('must be an object', at, raw);
    const cg = raw['collectionGroup'];
    if (typeof cg !== 'string' || !NAME.test(cg)) fail('collectionGroup must be a collection id', at, cg);
    const scope = raw['queryScope'] ?? 'COLLECTION';
    if (scope !== 'COLLECTION' && scope !== 'COLLECTION_GROUP') {
      fail('queryScope must be COLLECTION or COLLECTION_GROUP', at, scope);
    }
    const fields = raw['fields'];
    if (!Array.isArray(fields) || fields.length < 2) fail('fields must list at least two fields', at, fields);
    return {
      collectionGroup: cg,
      queryScope: scope,
      fields: fields.map((f, j): IndexField => {
        const fat = `${at}.fields[${j}]`;
        if (!isRecord(f) || typeof f['fieldPath'] !== 'string' || !NAME.test(f['fieldPath'])) {
          fail('must be {fieldPath, order}', fat, f);
        }
        const order = f['order'];
        if (!(INDEX_ORDERS as readonly unknown[]).includes(order))
          fail('order must be ASCENDING or DESCENDING', fat, order);
        return { fieldPath: f['fieldPath'], order: order as IndexOrder };
      }),
    };
  });
  const fieldOverrides = rawOverrides.map((raw, i): FieldOverride => {
    const at = `fieldOverrides[${i}]`;
    if (!isRecord(raw)) fail('must be an object', at, raw);
    const cg = raw['collectionGroup'];
    const fp = raw['fieldPath'];
    if (typeof cg !== 'string' || !NAME.test(cg)) fail('collectionGroup must be a collection id', at, cg);
    if (typeof fp !== 'string' || !NAME.test(fp)) fail('fieldPath must be a field name', at, fp);
    const ttl = raw['ttl'] ?? false;
    if (typeof ttl !== 'boolean') fail('ttl must be true or false', at, ttl);
    const idx = raw['indexes'];
    if (idx !== undefined && !(Array.isArray(idx) && idx.length === 0)) {
      fail(
        'indexes must be [] (exempt the field) or absent; per-field index lists are not supported',
        at,
        idx,
      );
    }
    return { collectionGroup: cg, fieldPath: fp, ttl, exemptFromIndexing: idx !== undefined };
  });
  return { indexes, fieldOverrides };
}

/**
 * The file names collections with the default prefix (`streamjoin_states`), as the emulator and the
 * Firebase CLI read it; a deployment with another STREAMJOIN_COLLECTION_PREFIX gets the same indexes
 * on its own collections.
 */
export function withCollectionPrefix(indexes: FirestoreIndexes, prefix: string): FirestoreIndexes {
  const from = `${SETTINGS.collectionPrefix.default}_`;
  const rename = (cg: string): string => (cg.startsWith(from) ? `${prefix}_${cg.slice(from.length)}` : cg);
  return {
    indexes: indexes.indexes.map((ix) => ({ ...ix, collectionGroup: rename(ix.collectionGroup) })),
    fieldOverrides: indexes.fieldOverrides.map((fo) => ({
      ...fo,
      collectionGroup: rename(fo.collectionGroup),
    })),
  };
}
