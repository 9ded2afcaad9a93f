// The commit protocol: plan (updates + requirements, as data) against a base version, then ONE
// create-only write of v<N+1>.metadata.json. Losing the race ('already-exists') means refresh, re-plan
// and retry with backoff; an error after the write was sent leaves the outcome unknown, which is
// resolved by re-reading (did my commit land?) before retrying. A successful write is then checked to
// be the head's successor (not a stale base re-creating a version expiry deleted) before it counts;
// version-hint.text follows, only ever raised.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { guardOn } from '../guards.ts';
import type { Logger } from '../log.ts';
import { encodeTableMetadataBytes } from './spec/metadata-codec.ts';
import type { TableMetadata } from './spec/types.ts';
import { applyUpdates, checkRequirements, type TableRequirement, type TableUpdate } from './spec/updates.ts';
import {
  checkNewVersion,
  metadataUriFor,
  type NewVersionCheck,
  raiseVersionHint,
  refreshTable,
  type Table,
  type VersionHint,
} from './table.ts';

/** Named points between the steps of a commit, for crash injection (shared/faults.ts). */
export const COMMIT_FAULT_POINTS = {
  afterManifests: 'iceberg.commit.after-manifests',
  afterManifestList: 'iceberg.commit.after-manifest-list',
  beforeMetadata: 'iceberg.commit.before-metadata',
  afterMetadata: 'iceberg.commit.after-metadata',
} as const;

export interface PlannedCommit {
  readonly kind: 'commit';
  readonly updates: readonly TableUpdate[];
  readonly requirements: readonly TableRequirement[];
  /** Files written for this attempt only (manifest list, rewritten manifests): removed if it loses. */
  readonly attemptFiles: readonly string[];
}
export interface NothingToCommit {
  readonly kind: 'noop';
  readonly reason: string;
}
export type CommitPlan = PlannedCommit | NothingToCommit;

export interface CommitOptions {
  /** Attempts before giving up (each lost race is one). Default 12. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

export interface CommitOutcome {
  readonly table: Table;
  /** False when the planner found nothing to do (e.g. every batch already committed). */
  readonly committed: boolean;
  readonly attempts: number;
  readonly reason?: string;
}

/**
 * Runs `plan` against the newest version until its result lands. `landed(md)` tells whether a commit of
 * this operation is already in `md` (e.g. its snapshot id): used after an unknown outcome.
 *
 * Fails with StreamjoinError 'conflict' when the commit provably did not land (every attempt lost its
 * race, or the planner refused the new base), and with 'state-unknown' when it may have: a write whose
 * outcome was unknown may still land, or the version it created was found detached from the head
 * (checkNewVersion). The caller must not undo anything such a commit would reference.
 */
export async function commitWithRetry(
  table: Table,
  plan: (base: Table, attempt: number) => Promise<CommitPlan>,
  landed: (md: TableMetadata) => boolean,
  options: CommitOptions = {},
): Promise<CommitOutcome> {
  const maxAttempts = options.maxAttempts ?? 12;
  const now = options.now ?? Date.now;
  const lostFiles: string[] = [];
  /** Versions written with an unknown outcome: such a write may still land while its version is free. */
  const unknownWrites: number[] = [];
  const mayStillLand = (head: number) => unknownWrites.some((v) => v > head);
  let base = table;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await backoff(attempt, options);
    // Start from the newest version the hint knows of: a view stale by many versions (a paused process,
    // a table object held for long) is refreshed before planning rather than losing every race.
    base = await refreshTable(base);
    let planned: CommitPlan;
    try {
      planned = await plan(base, attempt);
    } catch (err) {
      if (mayStillLand(base.version)) throw unknownOutcome(table, err, unknownWrites);
      throw err;
    }
    if (planned.kind === 'noop') {
      await deleteQuietly(base, lostFiles);
      return { table: base, committed: false, attempts: attempt + 1, reason: planned.reason };
    }
    const unmet = checkRequirements(base.metadata, planned.requirements);
    if (unmet !== undefined) {
      throw new StreamjoinError('internal', `a commit was planned against a base it does not fit: ${unmet}`);
    }
    const retention = metadataRetention(base.metadata.properties);
    const next = applyUpdates(base.metadata, planned.updates, {
      nowMs: now(),
      baseMetadataFile: base.metadataUri,
      maxMetadataLog: retention.previousVersionsMax,
    });
    const version = base.version + 1;
    const uri = metadataUriFor(base.location, version);
    faultPoint(COMMIT_FAULT_POINTS.beforeMetadata);
    try {
      await base.store.write(uri, encodeTableMetadataBytes(next), {
        ifAbsent: true,
        contentType: 'application/json',
      });
    } catch (err) {
      lastError = err;
      const lostRace = err instanceof StreamjoinError && err.kind === 'already-exists';
      if (!lostRace && !isRetryable(err)) {
        // A permanent error; an earlier write whose outcome was unknown may still land, though.
        if (mayStillLand((await refreshTable(base)).version)) throw unknownOutcome(table, err, unknownWrites);
        throw err;
      }
      // Lost the race, or the outcome is unknown: read what is there now before deciding.
      base = await refreshTable(base);
      // Only a lost race proves this attempt's write never happened; after an unknown outcome the write
      // may still land later, so its files must stay (orphan cleanup removes them if it never does).
      if (lostRace) lostFiles.push(...planned.attemptFiles);
      else unknownWrites.push(version);
      // Guard iceberg.unknown-outcome-reread: a commit that may have landed is not planned again.
      if (guardOn('iceberg.unknown-outcome-reread') && landed(base.metadata)) {
        options.logger?.info(
          { uri, attempt },
          'iceberg commit landed despite an error; resolved by re-reading',
        );
        await deleteQuietly(base, lostFiles);
        await raiseVersionHint(base.store, base.location, base.version);
        return finish(base, attempt);
      }
      options.logger?.debug({ uri, attempt, lostRace }, 'iceberg commit lost; re-planning on the new base');
      continue;
    }
    faultPoint(COMMIT_FAULT_POINTS.afterMetadata);
    let committed: Table = {
      store: base.store,
      location: base.location,
      version,
      metadataUri: uri,
      metadata: next,
    };
    // Guard iceberg.fork-protection: the create-only write succeeding does not prove v<N+1> never
    // existed (expiry deletes old metadata files); only a version the head descends from is committed.
    let hint: VersionHint | undefined;
    if (guardOn('iceberg.fork-protection')) {
      let check: NewVersionCheck;
      try {
        check = await checkNewVersion(base.store, base.location, version, landed);
      } catch (err) {
        throw new StreamjoinError(
          'state-unknown',
          `iceberg commit to ${table.location}: v${version}.metadata.json was written, but checking that the table descends from it failed; check the table before retrying`,
          { context: { location: table.location, version }, cause: err },
        );
      }
      if (check.kind === 'detached') {
        options.logger?.warn(
          { uri, head: check.latest.version, attempt },
          'iceberg commit created a version the table head does not descend from (stale base); removed it',
        );
        throw new StreamjoinError(
          'state-unknown',
          `iceberg commit to ${table.location}: v${version}.metadata.json was created on a base the table has moved beyond (its head is v${check.latest.version} and does not list it): either a re-creation of a version expiry deleted (removed again, nothing committed) or a commit superseded by more versions than the metadata-log keeps; check the table before retrying`,
          { context: { location: table.location, version, head: check.latest.version } },
        );
      }
      if (check.kind === 'ancestor') committed = check.latest;
      else hint = check.hint;
    }
    const hintRaised = await raiseVersionHint(base.store, base.location, committed.version, hint);
    await deleteQuietly(committed, lostFiles);
    // Java's write.metadata.delete-after-commit.enabled: the metadata files this commit dropped from the
    // metadata-log go now — only once the hint is above them (see table.ts checkNewVersion).
    if (retention.deleteAfterCommit && hintRaised && committed.version === version) {
      const kept = new Set(next.metadataLog.map((e) => e.metadataFile));
      await deleteQuietly(
        committed,
        base.metadata.metadataLog.map((e) => e.metadataFile).filter((f) => !kept.has(f)),
      );
    }
    return finish(committed, attempt);
  }
  // Every attempt failed. A write with an unknown outcome whose version is still free may land later.
  const head = await refreshTable(base);
  if (mayStillLand(head.version)) {
    if (guardOn('iceberg.unknown-outcome-reread') && landed(head.metadata)) {
      await raiseVersionHint(head.store, head.location, head.version);
      return finish(head, maxAttempts - 1);
    }
    throw unknownOutcome(table, lastError, unknownWrites);
  }
  throw new StreamjoinError(
    'conflict',
    `iceberg commit to ${table.location} did not land after ${maxAttempts} attempts`,
    {
      context: { location: table.location, attempts: maxAttempts },
      cause: lastError,
    },
  );
}

function unknownOutcome(table: Table, cause: unknown, versions: readonly number[]): StreamjoinError {
  return new StreamjoinError(
    'state-unknown',
    `iceberg commit to ${table.location}: the outcome of writing v${versions.join(', v')}.metadata.json is unknown and may still land; check the table before retrying`,
    { context: { location: table.location, versions: [...versions] }, cause },
  );
}

/** Table properties (Java TableProperties) that decide how many previous metadata files are kept. */
export const METADATA_PROPERTIES = {
  previousVersionsMax: 'write.metadata.previous-versions-max',
  deleteAfterCommit: 'write.metadata.delete-after-commit.enabled',
} as const;

/**
 * How many previous metadata files the metadata-log lists (default 100, at least 1) and whether those
 * that fall off it are deleted after a commit (default false), from the table's properties as Java
 * reads them. A value another engine set that does not parse falls back to the default. Pure.
 */
export function metadataRetention(properties: Readonly<Record<string, string>>): {
  previousVersionsMax: number;
  deleteAfterCommit: boolean;
} {
  const raw = properties[METADATA_PROPERTIES.previousVersionsMax];
  const n = raw !== undefined && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : 100;
  return {
    previousVersionsMax: Math.max(1, n),
    deleteAfterCommit: properties[METADATA_PROPERTIES.deleteAfterCommit]?.trim().toLowerCase() === 'true',
  };
}

function finish(table: Table, attempt: number): CommitOutcome {
  return { table, committed: true, attempts: attempt + 1 };
}

async function backoff(attempt: number, options: CommitOptions): Promise<void> {
  const base = options.baseDelayMs ?? 25;
  const max = options.maxDelayMs ?? 2000;
  const delay = Math.min(max, base * 2 ** (attempt - 1));
  await sleep(delay / 2 + Math.random() * (delay / 2));
}

/** Files of attempts that lost: unreferenced by construction (each attempt's names are unique). */
async function deleteQuietly(table: Table, uris: readonly string[]): Promise<void> {
  if (uris.length === 0) return;
  const referenced = new Set(table.metadata.snapshots.map((s) => s.manifestList));
  await Promise.all(
    uris
      .filter((u) => !referenced.has(u))
      .map((u) =>
        table.store.delete(u).catch(() => {
          /* orphan cleanup will find it */
        }),
      ),
  );
}
