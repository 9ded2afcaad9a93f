// A table in the hadoop-catalog layout over an ObjectStore: `<location>/metadata/v<N>.metadata.json`,
// `metadata/version-hint.text` (just N, best effort), data under `data/`. Loading reads the hint and
// probes forward (v<N+1> exists?) so a stale hint never hides a commit; creation is a create-only
// write of v1, so of two concurrent creators one wins and the other loads what the winner wrote.
import { StreamjoinError } from '../errors.ts';
import type { ObjectStore } from '../storage/port.ts';
import { joinUri } from '../storage/port.ts';
import type { TableDef } from '../tables.ts';
import { decodeTableMetadata, encodeTableMetadata } from './spec/metadata-codec.ts';
import type { TableMetadata } from './spec/types.ts';
import { newTableMetadata } from './spec/updates.ts';

export interface Table {
  readonly store: ObjectStore;
  /** The table's base location (URI without trailing slash). */
  readonly location: string;
  /** N of the metadata file this view was read from. */
  readonly version: number;
  readonly metadataUri: string;
  readonly metadata: TableMetadata;
}

/** `<warehouse>/<namespace>/<table>` as Spark's hadoop catalog lays it out. */
export function tableLocation(warehouse: string, namespace: string, name: string): string {
  return joinUri(warehouse, namespace, name).replace(/\/+$/, '');
}

export function metadataUriFor(location: string, version: number): string {
  return joinUri(location, 'metadata', `v${version}.metadata.json`);
}

export function versionHintUri(location: string): string {
  return joinUri(location, 'metadata', 'version-hint.text');
}

export function dataDirUri(location: string): string {
  return joinUri(location, 'data');
}

const METADATA_FILE = /\/metadata\/v(\d+)\.metadata\.json$/;

/** N of a `.../metadata/v<N>.metadata.json` URI, or undefined for other objects. */
export function metadataVersionOf(uri: string): number | undefined {
  const m = METADATA_FILE.exec(uri);
  return m === null ? undefined : Number(m[1]);
}

async function readVersionHint(store: ObjectStore, location: string): Promise<number | undefined> {
  try {
    const text = (await store.read(versionHintUri(location))).toString('utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch (err) {
    if (err instanceof StreamjoinError && err.kind === 'not-found') return undefined;
    throw err;
  }
}

async function exists(store: ObjectStore, uri: string): Promise<boolean> {
  return (await store.stat(uri)) !== undefined;
}

async function probeForward(store: ObjectStore, location: string, from: number): Promise<number> {
  let v = from;
  while (await exists(store, metadataUriFor(location, v + 1))) v++;
  return v;
}

/** The newest committed metadata version, or undefined when the table does not exist. */
export async function findLatestVersion(store: ObjectStore, location: string): Promise<number | undefined> {
  const hint = await readVersionHint(store, location);
  if (hint !== undefined && hint > 0 && (await exists(store, metadataUriFor(location, hint)))) {
    return probeForward(store, location, hint);
  }
  // No usable hint (first commit's hint not written yet, or old versions cleaned up): list.
  let max: number | undefined;
  for await (const o of store.list(joinUri(location, 'metadata', 'v'))) {
    const v = metadataVersionOf(o.uri);
    if (v !== undefined && (max === undefined || v > max)) max = v;
  }
  return max === undefined ? undefined : probeForward(store, location, max);
}

export async function readTableVersion(
  store: ObjectStore,
  location: string,
  version: number,
): Promise<Table> {
  const metadataUri = metadataUriFor(location, version);
  const text = (await store.read(metadataUri)).toString('utf8');
  const parsed = decodeTableMetadata(text);
  if (!parsed.ok) {
    throw new StreamjoinError(
      'invalid-input',
      `expected valid Iceberg v2 metadata in ${metadataUri}, but: ${parsed.issues.map((i) => i.message).join('; ')}`,
      {
        context: { uri: metadataUri, issues: parsed.issues },
      },
    );
  }
  return { store, location, version, metadataUri, metadata: parsed.value };
}

/** Loads the newest version of an existing table; StreamjoinError 'not-found' when there is none. */
export async function loadTable(store: ObjectStore, location: string): Promise<Table> {
  const version = await findLatestVersion(store, location);
  if (version === undefined) {
    throw new StreamjoinError(
      'not-found',
      `expected an Iceberg table at ${location}, but there is no metadata/v<N>.metadata.json`,
      {
        context: { location },
      },
    );
  }
  return readTableVersion(store, location, version);
}

/** The same table at its newest version (probing forward from the version this view has). */
export async function refreshTable(table: Table): Promise<Table> {
  const version = await probeForward(table.store, table.location, table.version);
  return version === table.version ? table : readTableVersion(table.store, table.location, version);
}

export interface CreateTableOptions {
  readonly properties?: Readonly<Record<string, string>>;
  readonly nowMs?: number;
}

/** Creates v1 (create-only); when another creator won the race, loads the table it created. */
export async function createTable(
  store: ObjectStore,
  location: string,
  def: TableDef,
  options: CreateTableOptions = {},
): Promise<Table> {
  const metadata = newTableMetadata(def, location, options.nowMs ?? Date.now(), options.properties);
  const metadataUri = metadataUriFor(location, 1);
  try {
    await store.write(metadataUri, encodeTableMetadata(metadata), {
      ifAbsent: true,
      contentType: 'application/json',
    });
  } catch (err) {
    if (err instanceof StreamjoinError && err.kind === 'already-exists') return loadTable(store, location);
    throw err;
  }
  await writeVersionHint(store, location, 1);
  return { store, location, version: 1, metadataUri, metadata };
}

/** Loads the table, creating it on first use (the writers' entry point). */
export async function loadOrCreateTable(
  store: ObjectStore,
  location: string,
  def: TableDef,
  options: CreateTableOptions = {},
): Promise<Table> {
  const version = await findLatestVersion(store, location);
  if (version === undefined) return createTable(store, location, def, options);
  // A writer repairs a hint left behind by a crash between the metadata write and the hint write.
  if ((await readVersionHint(store, location)) !== version) await writeVersionHint(store, location, version);
  return readTableVersion(store, location, version);
}

/** Rewrites version-hint.text; best effort (readers probe forward), so failures are swallowed. */
export async function writeVersionHint(
  store: ObjectStore,
  location: string,
  version: number,
): Promise<boolean> {
  try {
    await store.write(versionHintUri(location), String(version), { contentType: 'text/plain' });
    return true;
  } catch {
    return false;
  }
}
