// The commit protocol: plan (updates + requirements, as data) against a base version, then ONE
// create-only write of v<N+1>.metadata.json. Losing the race ('already-exists') means refresh, re-plan
// and retry with backoff; an error after the write was sent leaves the outcome unknown, which is
// resolved by re-reading (did my commit land?) before retrying. version-hint.text follows, best effort.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, StreamjoinError } from '../errors.ts';
import { faultPoint } from '../faults.ts';
import { guardOn } from '../guards.ts';
import type { Logger } from '../log.ts';
import { encodeTableMetadataBytes } from './spec/metadata-codec.ts';
import type { TableMetadata } from './spec/types.ts';
import { applyUpdates, checkRequirements, type TableRequirement, type TableUpdate } from './spec/updates.ts';
import { metadataUriFor, refreshTable, type Table, writeVersionHint } from './table.ts';

/** Named points between the steps of a commit, for crash injection (shared/faults.ts). */
export const COMMIT_FAULT_POINTS = {
  afterManifests: 'iceberg.commit.after-manifests',
  afterManifestList: 'iceberg.commit.after-manifest-list',
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
  let base = table;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await backoff(attempt, options);
    const planned = await plan(base, attempt);
    if (planned.kind === 'noop') {
      await deleteQuietly(base, lostFiles);
      return { table: base, committed: false, attempts: attempt + 1, reason: planned.reason };
    }
    const unmet = checkRequirements(base.metadata, planned.requirements);
    if (unmet !== undefined) {
      throw new StreamjoinError('internal', `a commit was planned against a base it does not fit: ${unmet}`);
    }
    const next = applyUpdates(base.metadata, planned.updates, {
      nowMs: now(),
      baseMetadataFile: base.metadataUri,
    });
    const version = base.version + 1;
    const uri = metadataUriFor(base.location, version);
    try {
      await base.store.write(uri, encodeTableMetadataBytes(next), {
        ifAbsent: true,
        contentType: 'application/json',
      });
    } catch (err) {
      lastError = err;
      const lostRace = err instanceof StreamjoinError && err.kind === 'already-exists';
      if (!lostRace && !isRetryable(err)) throw err;
      // Lost the race, or the outcome is unknown: read what is there now before deciding.
      base = await refreshTable(base);
      // Only a lost race proves this attempt's write never happened; after an unknown outcome the write
      // may still land later, so its files must stay (orphan cleanup removes them if it never does).
      if (lostRace) lostFiles.push(...planned.attemptFiles);
      // Guard iceberg.unknown-outcome-reread: a commit that may have landed is not planned again.
      if (guardOn('iceberg.unknown-outcome-reread') && landed(base.metadata)) {
        options.logger?.info(
          { uri, attempt },
          'iceberg commit landed despite an error; resolved by re-reading',
        );
        await deleteQuietly(base, lostFiles);
        return finish(base, attempt);
      }
      options.logger?.debug({ uri, attempt, lostRace }, 'iceberg commit lost; re-planning on the new base');
      continue;
    }
    faultPoint(COMMIT_FAULT_POINTS.afterMetadata);
    const committed: Table = {
      store: base.store,
      location: base.location,
      version,
      metadataUri: uri,
      metadata: next,
    };
    await writeVersionHint(base.store, base.location, version);
    await deleteQuietly(committed, lostFiles);
    return finish(committed, attempt);
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
