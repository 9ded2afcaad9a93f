// The Firestore client and the pipeline's collections. Only adapters import this.
import { createHash } from 'node:crypto';
import { type CollectionReference, Firestore } from '@google-cloud/firestore';
import type { Config } from '../config.ts';

export function createFirestore(
  config: Pick<Config, 'projectId' | 'firestoreDatabase' | 'firestoreEmulatorHost'>,
): Firestore {
  const host = config.firestoreEmulatorHost?.replace(/^https?:\/\//, '');
  if (host === undefined)
    return new Firestore({
      projectId: config.projectId,
      databaseId: config.firestoreDatabase,
      ignoreUndefinedProperties: true,
    });
  // Against the emulator the client would still probe the GCE metadata server (a warning and a
  // non-loopback request): tell google-auth-library not to.
  process.env['METADATA_SERVER_DETECTION'] ??= 'none';
  // The client lets FIRESTORE_EMULATOR_HOST override the `host` setting, read once in the constructor;
  // the configured emulator must win (a CLI or test process may talk to another stack's emulator).
  const previous = process.env['FIRESTORE_EMULATOR_HOST'];
  process.env['FIRESTORE_EMULATOR_HOST'] = host;
  try {
    return new Firestore({
      projectId: config.projectId,
      databaseId: config.firestoreDatabase,
      host,
      ssl: false,
      ignoreUndefinedProperties: true,
    });
  } finally {
    if (previous === undefined) delete process.env['FIRESTORE_EMULATOR_HOST'];
    else process.env['FIRESTORE_EMULATOR_HOST'] = previous;
  }
}

export interface Collections {
  /** One document per join key (order_id in the default spec): the join state (DESIGN §3). */
  readonly states: CollectionReference;
  /** Rows emitted by the state machine, waiting to be flushed to Parquet. */
  readonly outbox: CollectionReference;
  /** Micro-batches: claimed → staged → committed. */
  readonly batches: CollectionReference;
  /** Per-(table, shard) flush leases. */
  readonly flush: CollectionReference;
  /** Progress of large input files (resume after a timeout or crash). */
  readonly files: CollectionReference;
  /** Quarantined files and records. */
  readonly rejects: CollectionReference;
  /** Pipeline counters and markers. */
  readonly meta: CollectionReference;
}

export function collections(db: Firestore, prefix: string): Collections {
  return {
    states: db.collection(`${prefix}_states`),
    outbox: db.collection(`${prefix}_outbox`),
    batches: db.collection(`${prefix}_batches`),
    flush: db.collection(`${prefix}_flush`),
    files: db.collection(`${prefix}_files`),
    rejects: db.collection(`${prefix}_rejects`),
    meta: db.collection(`${prefix}_meta`),
  };
}

/** A document id for any key: Firestore ids may not contain '/', be '.', '..', match __.*__, or
 *  exceed 1,500 bytes — so ids are the SHA-256 of the key; the key itself is stored in the document. */
export function docIdFor(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A stable small integer in [0, shards) for a key (spreads monotonically increasing index values). */
export function shardOf(key: string, shards: number): number {
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % shards;
}
