// Picks the ObjectStore adapter for a URI scheme; one instance per scheme per process.
import type { Storage } from '@google-cloud/storage';
import { FileObjectStore } from './file-store.ts';
import { createStorageClient, GcsObjectStore } from './gcs-store.ts';
import { type ObjectStore, parseUri } from './port.ts';

export { FileObjectStore } from './file-store.ts';
export { createStorageClient, GcsObjectStore, readStreamOf } from './gcs-store.ts';
export * from './port.ts';

/** Routes each call to the file:// or gs:// adapter by the URI it is given. */
export class RoutingObjectStore implements ObjectStore {
  private readonly file = new FileObjectStore();
  private gcs: GcsObjectStore | undefined;
  private readonly makeStorage: () => Storage;

  constructor(makeStorage: () => Storage) {
    this.makeStorage = makeStorage;
  }

  private pick(uri: string): ObjectStore {
    if (parseUri(uri).scheme === 'file') return this.file;
    this.gcs ??= new GcsObjectStore(this.makeStorage());
    return this.gcs;
  }

  read: ObjectStore['read'] = (uri) => this.pick(uri).read(uri);
  readRange: ObjectStore['readRange'] = (uri, s, e) => this.pick(uri).readRange(uri, s, e);
  openRead: ObjectStore['openRead'] = (uri) => this.pick(uri).openRead(uri);
  stat: ObjectStore['stat'] = (uri) => this.pick(uri).stat(uri);
  write: ObjectStore['write'] = (uri, d, o) => this.pick(uri).write(uri, d, o);
  writeStream: ObjectStore['writeStream'] = (uri, s, o) => this.pick(uri).writeStream(uri, s, o);
  list: ObjectStore['list'] = (prefix) => this.pick(prefix).list(prefix);
  delete: ObjectStore['delete'] = (uri) => this.pick(uri).delete(uri);
}

export function createObjectStore(options: {
  projectId: string;
  emulatorHost?: string | undefined;
}): RoutingObjectStore {
  return new RoutingObjectStore(() => createStorageClient(options));
}
