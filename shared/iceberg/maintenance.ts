// Table maintenance: expire old snapshots (spec "Snapshot Retention Policy") and delete the files only
// they referenced; delete orphan files (written by crashed or lost commits) older than a safety window.
import { guardOn } from '../guards.ts';
import type { ObjectStore } from '../storage/port.ts';
import { joinUri } from '../storage/port.ts';
import { type CommitOptions, commitWithRetry } from './commit.ts';
import { readManifestEntries, readManifestList } from './snapshot-producer.ts';
import { decodeManifest } from './spec/manifest-codec.ts';
import { isLive } from './spec/manifests.ts';
import { ancestorsOf } from './spec/summary.ts';
import {
  MAIN_BRANCH,
  type ManifestFile,
  type Snapshot,
  type SnapshotId,
  type TableMetadata,
} from './spec/types.ts';
import { metadataVersionOf, raiseVersionHint, refreshTable, type Table, versionHintUri } from './table.ts';

export interface ExpireOptions extends CommitOptions {
  /** Snapshots older than this (epoch ms) may expire. */
  readonly olderThanMs: number;
  /** Always keep at least this many snapshots of main's history (including the current one). Default 1. */
  readonly retainLast?: number;
}

export interface ExpireResult {
  readonly table: Table;
  readonly expiredSnapshotIds: readonly SnapshotId[];
  readonly deletedFiles: readonly string[];
}

/**
 * Which snapshots expire: refs' snapshots are kept; main's ancestors are kept until one is both older
 * than `olderThanMs` and beyond the first `retainLast`; everything else expires. Pure.
 */
export function snapshotsToExpire(md: TableMetadata, olderThanMs: number, retainLast: number): SnapshotId[] {
  const keep = new Set<SnapshotId>();
  for (const [name, ref] of Object.entries(md.refs)) {
    keep.add(ref.snapshotId);
    if (ref.type !== 'branch') continue;
    const min = name === MAIN_BRANCH ? retainLast : (ref.minSnapshotsToKeep ?? retainLast);
    ancestorsOf(md, ref.snapshotId).every((s, i) => {
      if (i >= min && s.timestampMs < olderThanMs) return false;
      keep.add(s.snapshotId);
      return true;
    });
  }
  return md.snapshots.filter((s) => !keep.has(s.snapshotId)).map((s) => s.snapshotId);
}

async function manifestsOf(table: Table, snapshots: readonly Snapshot[]): Promise<Map<string, ManifestFile>> {
  const out = new Map<string, ManifestFile>();
  for (const s of snapshots) {
    for (const m of await readManifestList(table.store, s.manifestList)) out.set(m.manifestPath, m);
  }
  return out;
}

async function dataFilesOf(
  table: Table,
  manifests: Iterable<ManifestFile>,
  which: 'all' | 'live' = 'all',
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const m of manifests) {
    for (const e of await readManifestEntries(table.store, m)) {
      if (which === 'all' || isLive(e)) out.add(e.dataFile.filePath);
    }
  }
  return out;
}

async function deleteAll(table: Table, uris: readonly string[]): Promise<void> {
  const queue = [...uris];
  const worker = async () => {
    for (let u = queue.pop(); u !== undefined; u = queue.pop()) await table.store.delete(u);
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
}

/** Expires snapshots, commits the smaller metadata, then deletes files no retained snapshot references. */
export async function expireSnapshots(table: Table, options: ExpireOptions): Promise<ExpireResult> {
  const retainLast = Math.max(1, options.retainLast ?? 1);
  let expired: Snapshot[] = [];
  const outcome = await commitWithRetry(
    table,
    async (base) => {
      const ids = new Set(snapshotsToExpire(base.metadata, options.olderThanMs, retainLast));
      expired = base.metadata.snapshots.filter((s) => ids.has(s.snapshotId));
      if (expired.length === 0) return { kind: 'noop', reason: 'no snapshot to expire' };
      return {
        kind: 'commit',
        updates: [{ action: 'remove-snapshots', snapshotIds: [...ids] }],
        requirements: [
          { type: 'assert-table-uuid', uuid: base.metadata.tableUuid },
          { type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, snapshotId: base.metadata.currentSnapshotId },
        ],
        attemptFiles: [],
      };
    },
    (md) => expired.every((s) => !md.snapshots.some((x) => x.snapshotId === s.snapshotId)),
    options,
  );
  if (!outcome.committed || expired.length === 0)
    return { table: outcome.table, expiredSnapshotIds: [], deletedFiles: [] };

  // A data file goes when no retained snapshot has it live: candidates are the files the expired
  // manifests mention plus those retained manifests mark DELETED; the keepers are every live entry.
  const after = outcome.table;
  const retainedManifests = await manifestsOf(after, after.metadata.snapshots);
  const expiredManifests = await manifestsOf(after, expired);
  const goneManifests = [...expiredManifests.values()].filter((m) => !retainedManifests.has(m.manifestPath));
  const live = new Set<string>();
  const candidates = new Set<string>();
  for (const m of retainedManifests.values()) {
    for (const e of await readManifestEntries(after.store, m)) {
      (isLive(e) ? live : candidates).add(e.dataFile.filePath);
    }
  }
  for (const p of await dataFilesOf(after, goneManifests)) candidates.add(p);
  const goneData = [...candidates].filter((p) => !live.has(p));
  // Old metadata files go only once the hint is at `after` or above: a committer whose new version is
  // above the hint then knows it re-created nothing (table.ts checkNewVersion).
  const oldMetadata = (await raiseVersionHint(after.store, after.location, after.version))
    ? await unreferencedMetadataFiles(after)
    : [];
  const deleted = [
    ...goneData,
    ...goneManifests.map((m) => m.manifestPath),
    ...expired.map((s) => s.manifestList),
    ...oldMetadata,
  ];
  await deleteAll(after, deleted);
  return { table: after, expiredSnapshotIds: expired.map((s) => s.snapshotId), deletedFiles: deleted };
}

/** Metadata files older than the oldest one the current metadata-log still lists. */
async function unreferencedMetadataFiles(table: Table): Promise<string[]> {
  const logged = table.metadata.metadataLog.map((e) => metadataVersionOf(e.metadataFile) ?? Infinity);
  const oldestKept = Math.min(table.version, ...logged);
  const out: string[] = [];
  for await (const o of table.store.list(joinUri(table.location, 'metadata', 'v'))) {
    const v = metadataVersionOf(o.uri);
    if (v !== undefined && v < oldestKept) out.push(o.uri);
  }
  return out;
}

/**
 * What manifest lists and manifests hold, by path, kept between runs of a warm instance so that orphan
 * cleanup reads only the manifest lists and manifests it has not seen (those of snapshots added since
 * the last run) instead of every snapshot's every run. Iceberg writes each of these files once under a
 * fresh name (the spec's manifests and manifest lists are immutable), so a path's content does not
 * change; the cache is still never the only reason to delete a file (guard orphan.recheck-uncached).
 * Only paths are kept, each string once (a data file is listed by many merged manifests, a manifest by
 * many manifest lists); at most `maxEntries` references in all, least recently used lists and manifests
 * out first (and everything once more than `maxEntries` distinct paths were seen).
 */
export class ManifestCache {
  readonly maxEntries: number;
  #lists = new Map<string, readonly string[]>();
  #live = new Map<string, readonly string[]>();
  #strings = new Map<string, string>();
  #size = 0;
  constructor(maxEntries = 500_000) {
    this.maxEntries = maxEntries;
  }

  clear(): void {
    this.#lists.clear();
    this.#live.clear();
    this.#strings.clear();
    this.#size = 0;
  }

  /** The manifests a manifest list names. */
  async manifestList(store: ObjectStore, uri: string, read: ReadCount): Promise<readonly string[]> {
    const hit = this.#lists.get(uri);
    if (hit !== undefined) {
      this.#lists.delete(uri);
      this.#lists.set(uri, hit);
      return hit;
    }
    const list = (await readManifestList(store, uri)).map((m) => this.#intern(m.manifestPath));
    read.manifestLists++;
    this.#put(this.#lists, uri, list);
    return list;
  }

  /** The data files a manifest has live (ADDED or EXISTING). */
  async liveFiles(store: ObjectStore, manifestPath: string, read: ReadCount): Promise<readonly string[]> {
    const hit = this.#live.get(manifestPath);
    if (hit !== undefined) {
      this.#live.delete(manifestPath);
      this.#live.set(manifestPath, hit);
      return hit;
    }
    const live = decodeManifest(await store.read(manifestPath))
      .filter(isLive)
      .map((e) => this.#intern(e.dataFile.filePath));
    read.manifests++;
    this.#put(this.#live, manifestPath, live);
    return live;
  }

  #intern(s: string): string {
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    this.#strings.set(s, s);
    return s;
  }

  #put(map: Map<string, readonly string[]>, key: string, value: readonly string[]): void {
    if (this.#strings.size > this.maxEntries) this.clear();
    map.set(this.#intern(key), value);
    this.#size += value.length + 1;
    while (this.#size > this.maxEntries && (this.#live.size > 0 || this.#lists.size > 0)) {
      const from = this.#live.size > 0 ? this.#live : this.#lists;
      const [k, v] = from.entries().next().value as [string, readonly string[]];
      from.delete(k);
      this.#size -= v.length + 1;
    }
  }
}

/** Manifest lists and manifests read (not served by the cache). */
export interface ReadCount {
  manifestLists: number;
  manifests: number;
}

/** The process's cache for orphan cleanup (a compact instance serves one run at a time). */
export const MANIFEST_CACHE = new ManifestCache();

export interface OrphanOptions {
  /** Only objects last updated before this (epoch ms) are deleted: commits in flight write newer ones. */
  readonly olderThanMs: number;
  /** Report without deleting. */
  readonly dryRun?: boolean;
  /** Where manifest contents are remembered between runs (default MANIFEST_CACHE; null: read all). */
  readonly cache?: ManifestCache | null;
}

/**
 * Every URI the table's current metadata reaches: metadata files, manifest lists, manifests, and the
 * data files some snapshot has live (a DELETED entry is informational: no reader opens that file).
 * With a cache, manifest lists and manifests it holds are not read again.
 */
export async function reachableFiles(
  table: Table,
  cache?: ManifestCache,
  read: ReadCount = { manifestLists: 0, manifests: 0 },
): Promise<Set<string>> {
  const c = cache ?? new ManifestCache(Number.MAX_SAFE_INTEGER);
  const md = table.metadata;
  const out = new Set<string>([table.metadataUri, versionHintUri(table.location)]);
  for (const e of md.metadataLog) out.add(e.metadataFile);
  const manifests = new Set<string>();
  for (const s of md.snapshots) {
    out.add(s.manifestList);
    for (const m of await c.manifestList(table.store, s.manifestList, read)) manifests.add(m);
  }
  for (const m of manifests) {
    out.add(m);
    for (const d of await c.liveFiles(table.store, m, read)) out.add(d);
  }
  return out;
}

/**
 * Deletes objects under the table location that nothing reaches and that are older than the window.
 * Manifest contents come from the cache where it has them; reports what it had to read.
 */
export async function deleteOrphanFiles(
  table: Table,
  options: OrphanOptions,
): Promise<{ table: Table; deletedFiles: string[]; read: ReadCount }> {
  const current = await refreshTable(table);
  const cache = options.cache === null ? undefined : (options.cache ?? MANIFEST_CACHE);
  const read: ReadCount = { manifestLists: 0, manifests: 0 };
  const reachable = await reachableFiles(current, cache, read);
  // Metadata files are deleted only below the hint (see expireSnapshots).
  const hintRaised =
    options.dryRun === true || (await raiseVersionHint(current.store, current.location, current.version));
  let orphans: string[] = [];
  for await (const o of current.store.list(`${current.location}/`)) {
    if (reachable.has(o.uri)) continue;
    const v = metadataVersionOf(o.uri);
    if (v !== undefined && (v >= current.version || !hintRaised)) continue; // a commit newer than our view
    if (o.updated.getTime() >= options.olderThanMs) continue;
    orphans.push(o.uri);
  }
  // Guard orphan.recheck-uncached: what the cache remembered never alone condemns a file; before
  // anything but an old metadata file (reached from the metadata itself, not from manifests) is
  // deleted, every manifest list and manifest of the table is read again and the cache refilled.
  if (
    cache !== undefined &&
    orphans.some((o) => metadataVersionOf(o) === undefined) &&
    guardOn('orphan.recheck-uncached')
  ) {
    cache.clear();
    const fresh = await reachableFiles(current, cache, read);
    orphans = orphans.filter((o) => !fresh.has(o));
  }
  if (options.dryRun !== true) await deleteAll(current, orphans);
  return { table: current, deletedFiles: orphans, read };
}
