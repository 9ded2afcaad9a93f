// Wiring for the deployed functions: configuration, clients and adapters, created once per instance
// (lazily, so a cold start pays only for what the invoked function uses).
import type { Firestore } from '@google-cloud/firestore';
import type { Storage } from '@google-cloud/storage';
import { type Config, loadConfig } from '../shared/config.ts';
import { type Collections, collections, createFirestore } from '../shared/firestore/client.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { createObjectStore, createStorageClient, type ObjectStore } from '../shared/storage/index.ts';

export interface Runtime {
  readonly config: Config;
  readonly db: Firestore;
  readonly collections: Collections;
  readonly store: ObjectStore;
  readonly log: Logger;
}

let runtime: Runtime | undefined;
let config: Config | undefined;

/** The configuration, with the join spec (read once per instance; throws on a bad setting or spec). */
export function getConfig(): Config {
  config ??= loadConfig();
  return config;
}

export function getRuntime(): Runtime {
  if (runtime !== undefined) return runtime;
  const config = getConfig();
  const db = createFirestore(config);
  runtime = {
    config,
    db,
    collections: collections(db, config.collectionPrefix),
    store: createObjectStore({ projectId: config.projectId, emulatorHost: config.storageEmulatorHost }),
    log: createLogger({ level: config.logLevel, name: 'streamjoin' }),
  };
  return runtime;
}

let storage: Storage | undefined;

/** The Storage client (input objects are read at an exact generation, which the ObjectStore port does not model). */
export function getStorage(): Storage {
  const { config } = getRuntime();
  storage ??= createStorageClient({ projectId: config.projectId, emulatorHost: config.storageEmulatorHost });
  return storage;
}

let inputReads: Storage | undefined;

/** A client for reading input objects without the client's own retries (reconcile: a failed read is an
 *  ingest failure the next run retries; see shared/storage/input-objects.ts openInputObject). */
export function getInputReads(): Storage {
  const { config } = getRuntime();
  inputReads ??= createStorageClient({
    projectId: config.projectId,
    emulatorHost: config.storageEmulatorHost,
    autoRetry: false,
  });
  return inputReads;
}
