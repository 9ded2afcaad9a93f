// A table in the hadoop-catalog layout over an ObjectStore: `<location>/metadata/v<N>.metadata.json`,
// `metadata/version-hint.text` (just N, never lowered), data under `data/`. Readers take the hint and
// probe forward (v<N+1> exists?) so a stale hint never hides a commit; writers list, so a hint another
// engine moved back never hides the head. Creation is a create-only write of v1, so of two concurrent
// creators one wins and the other loads what the winner wrote. A new version is checked to be the
// head's successor (checkNewVersion): a stale writer cannot fork the table by re-creating a version
// expiry deleted.
import { StreamjoinError } from '../errors.ts';
import { guardOn } from '../guards.ts';
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

/** version-hint.text as found: its version (undefined when absent or not a number) and generation. */
export interface VersionHint {
  readonly version: number | undefined;
  /** The hint object's generation (for a conditional replace), undefined when there is none. */
  readonly generation: string | undefined;
}

/** Reads the hint and the generation it was read at (stat first: a replace in between fails the
 *  precondition of a write conditioned on that generation, never the other way round). */
export async function readVersionHint(store: ObjectStore, location: string): Promise<VersionHint> {
  const uri = versionHintUri(location);
  const info = await store.stat(uri);
  if (info === undefined) return { version: undefined, generation: undefined };
  try {
    const text = (await store.read(uri)).toString('utf8').trim();
    return { version: /^\d+$/.test(text) ? Number(text) : undefined, generation: info.generation };
  } catch (err) {
    if (err instanceof StreamjoinError && err.kind === 'not-found') {
      return { version: undefined, generation: undefined };
    }
    throw err;
  }
}

/** Just the hint's version (one read), for readers and refreshes. */
async function readHintVersion(store: ObjectStore, location: string): Promise<number | undefined> {
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

/** The highest vN.metadata.json present (a listing: sees past gaps the forward probe cannot). */
async function listNewestVersion(store: ObjectStore, location: string): Promise<number | undefined> {
  let max: number | undefined;
  for await (const o of store.list(joinUri(location, 'metadata', 'v'))) {
    const v = metadataVersionOf(o.uri);
    if (v !== undefined && (max === undefined || v > max)) max = v;
  }
  return max;
}

/**
 * The current version by the readers' rule (Java HadoopTableOperations, pyiceberg's hadoop layout):
 * version-hint.text names N, then v(N+1), v(N+2)... win while they exist; without a usable hint the
 * highest vN listed. Undefined when the table does not exist.
 */
export async function findLatestVersion(store: ObjectStore, location: string): Promise<number | undefined> {
  const hint = await readHintVersion(store, location);
  if (hint !== undefined && hint > 0 && (await exists(store, metadataUriFor(location, hint)))) {
    return probeForward(store, location, hint);
  }
  // No usable hint (first commit's hint not written yet, or old versions cleaned up): list.
  const max = await listNewestVersion(store, location);
  return max === undefined ? undefined : probeForward(store, location, max);
}

/**
 * The newest version by listing (the writers' rule): the highest vN present, then probed forward.
 * Versions are never deleted from the top, and a fork (a stale writer's re-creation of a deleted
 * version) is always below the newest, so the newest listed is the table's real head even when a
 * broken hint (another engine's stale commit) points readers at a lower one.
 */
export async function findNewestVersion(store: ObjectStore, location: string): Promise<number | undefined> {
  const max = await listNewestVersion(store, location);
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
    // A valid table this pipeline cannot write (format v3, a type v2 does not have): another engine's
    // doing, for an operator to decide — not a corrupt file.
    const unsupported = parsed.issues.some((i) => i.code === 'unsupported');
    throw new StreamjoinError(
      unsupported ? 'incompatible-table' : 'invalid-input',
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

/**
 * The same table at its newest version: probing forward from the hint when it is ahead of this view
 * (a view stale by many versions does not walk them one by one, nor stop at a gap expiry left), else
 * from the version this view has.
 */
export async function refreshTable(table: Table): Promise<Table> {
  const hint = await readHintVersion(table.store, table.location);
  const from =
    hint !== undefined &&
    hint > table.version &&
    (await exists(table.store, metadataUriFor(table.location, hint)))
      ? hint
      : table.version;
  const version = await probeForward(table.store, table.location, from);
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
    if (err instanceof StreamjoinError && err.kind === 'already-exists') return loadNewest(store, location);
    throw err;
  }
  // Guard iceberg.fork-protection: a creator that saw no table, then paused while others created it and
  // expiry deleted its v1, has just re-created v1 under a live table: remove it and load that table.
  if (guardOn('iceberg.fork-protection')) {
    const check = await checkNewVersion(store, location, 1, (md) => md.tableUuid === metadata.tableUuid);
    if (check.kind !== 'current') return check.latest;
    await raiseVersionHint(store, location, 1, check.hint);
  } else await raiseVersionHint(store, location, 1);
  return { store, location, version: 1, metadataUri, metadata };
}

async function loadNewest(store: ObjectStore, location: string): Promise<Table> {
  const version = await findNewestVersion(store, location);
  if (version === undefined) return loadTable(store, location); // its error says what is missing
  return readTableVersion(store, location, version);
}

/**
 * Loads the table at its newest version (listing: see findNewestVersion), creating it on first use
 * (the writers' entry point). Raises a hint that is behind, e.g. after a crash between a commit and its
 * hint write, or after another engine's stale commit moved it back.
 */
export async function loadOrCreateTable(
  store: ObjectStore,
  location: string,
  def: TableDef,
  options: CreateTableOptions = {},
): Promise<Table> {
  const version = await findNewestVersion(store, location);
  if (version === undefined) return createTable(store, location, def, options);
  const hint = await readVersionHint(store, location);
  if (hint.version === undefined || hint.version < version)
    await raiseVersionHint(store, location, version, hint);
  return readTableVersion(store, location, version);
}

/**
 * Raises version-hint.text to `version`; never lowers it. Guard iceberg.hint-monotonic: the hint is
 * read with its generation and replaced only by a larger version, conditionally on that generation,
 * so a slow committer cannot move it back. Metadata files are deleted only once the hint is above
 * them (maintenance.ts), which is what lets a committer prove its new version is not a
 * re-creation of a deleted one (checkNewVersion). Best effort otherwise (readers probe forward):
 * true when the hint is at `version` or above afterwards.
 */
export async function raiseVersionHint(
  store: ObjectStore,
  location: string,
  version: number,
  /** The hint as just read, if the caller has it (saves reading it again). */
  known?: VersionHint,
): Promise<boolean> {
  const uri = versionHintUri(location);
  try {
    if (!guardOn('iceberg.hint-monotonic')) {
      await store.write(uri, String(version), { contentType: 'text/plain' });
      return true;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const hint = attempt === 0 && known !== undefined ? known : await readVersionHint(store, location);
      if (hint.version !== undefined && hint.version >= version) return true;
      try {
        await store.write(uri, String(version), {
          contentType: 'text/plain',
          ...(hint.generation === undefined ? { ifAbsent: true } : { ifGenerationMatch: hint.generation }),
        });
        return true;
      } catch (err) {
        const raced =
          err instanceof StreamjoinError && (err.kind === 'conflict' || err.kind === 'already-exists');
        if (!raced) throw err;
      }
    }
    return false;
  } catch {
    return false;
  }
}

/** Where a version a committer just created stands (see checkNewVersion). */
export type NewVersionCheck =
  /** It is the newest version: the commit is the table's current state (`hint` as read in the check). */
  | { readonly kind: 'current'; readonly hint: VersionHint }
  /** Newer versions exist and descend from it (its file is in their metadata-log, or its change is in them). */
  | { readonly kind: 'ancestor'; readonly latest: Table }
  /**
   * The table's head is newer and does not list it: either the write re-created a version expiry had
   * deleted (a fork of a stale base), or it was superseded by more commits than the metadata-log keeps.
   * Its file, below the head's metadata-log, has been deleted (readers never reach it either way).
   */
  | { readonly kind: 'detached'; readonly latest: Table };

/**
 * Guard iceberg.fork-protection. After the create-only write of v`version` succeeded, decides whether
 * it really is the successor of the current version. Create-only cannot tell "never existed" from
 * "deleted", but metadata files are deleted only after the hint was raised above them, and the hint
 * never goes down: a hint below `version` proves v`version` was never deleted, so it did not exist
 * before this write and its base was the head. Otherwise the head is found (hint, then forward) and
 * its metadata-log tells whether it descends from this version: a log entry for v`version` was never
 * deleted, so it is this very file. `landed(md)` recognises the commit's change in the head (e.g. its
 * snapshot id), for a version superseded beyond the log.
 */
export async function checkNewVersion(
  store: ObjectStore,
  location: string,
  version: number,
  landed: (md: TableMetadata) => boolean,
): Promise<NewVersionCheck> {
  for (let round = 0; ; round++) {
    const hint = await readVersionHint(store, location);
    let head: number | undefined;
    if (hint.version === undefined) head = await findNewestVersion(store, location);
    else if (hint.version < version) head = await probeForward(store, location, version);
    else if (await exists(store, metadataUriFor(location, hint.version))) {
      head = await probeForward(store, location, hint.version);
    } else head = await findNewestVersion(store, location);
    if (head === version) return { kind: 'current', hint };
    if (head === undefined) {
      throw new StreamjoinError(
        'state-unknown',
        `expected v${version}.metadata.json just written under ${location}, but no metadata file is there`,
        { context: { location, version } },
      );
    }
    let latest: Table;
    try {
      latest = await readTableVersion(store, location, head);
    } catch (err) {
      // Deleted between finding and reading it (expiry after yet newer commits): look again.
      if (err instanceof StreamjoinError && err.kind === 'not-found' && round < 5) continue;
      throw err;
    }
    if (head > version) {
      const log = latest.metadata.metadataLog.map((e) => metadataVersionOf(e.metadataFile));
      if (log.includes(version)) return { kind: 'ancestor', latest };
      // Below the head's metadata-log, the file is unreachable whatever it is: remove it now.
      const oldestLogged = Math.min(head, ...log.filter((v): v is number => v !== undefined));
      if (version < oldestLogged) await store.delete(metadataUriFor(location, version));
    }
    // head < version: this file is gone already (deleted as below some head's log), so it is detached too.
    return landed(latest.metadata) ? { kind: 'ancestor', latest } : { kind: 'detached', latest };
  }
}
