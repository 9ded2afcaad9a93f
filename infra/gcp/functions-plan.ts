// What each deployed function is, as data: its trigger, its schedule, and the roles its own service
// account gets. The deploy and destroy plans are built from this table, so adding a function is one
// entry here (the table is keyed by functions/names.ts, so a new name does not type-check without one),
// its size defaults in settings.ts FUNCTION_DEFAULTS, and its handler in functions/index.ts.
import { FUNCTION_NAMES, type FunctionName } from '../../functions/names.ts';
import { type Config, SETTINGS } from '../../shared/config.ts';

/** An IAM condition (CEL); `undefined` in a grant means an unconditional binding (`--condition=None`). */
export interface IamCondition {
  readonly title: string;
  readonly expression: string;
}

/** Where a role is granted. */
export type GrantTarget =
  | { readonly kind: 'project' }
  | { readonly kind: 'bucket'; readonly bucket: string }
  | { readonly kind: 'repository' };

export interface Grant {
  readonly on: GrantTarget;
  readonly role: string;
  readonly why: string;
  readonly condition?: IamCondition;
}

export type FunctionTrigger =
  /** Eventarc: object finalized in the input bucket, delivered at least once, retried. */
  | { readonly kind: 'bucket' }
  /** HTTP, called by a Cloud Scheduler job every `intervalMs` (a whole cron interval). */
  | {
      readonly kind: 'schedule';
      readonly intervalMs: number;
      /** The variable that sets the interval (named in errors). */
      readonly intervalSetting: string;
      /** What a run does, for the job's description. */
      readonly does: string;
    };

export interface FunctionRole {
  readonly name: FunctionName;
  readonly trigger: FunctionTrigger;
  /** Roles of the function's own service account (`streamjoin-<name>`). */
  readonly grants: readonly Grant[];
}

export interface RoleContext {
  readonly config: Config;
  readonly project: string;
  readonly inputBucket: string;
  readonly warehouseBucket: string;
}

/** `roles/datastore.user` limited to the pipeline's database (Firestore IAM conditions on resource.name). */
export function databaseCondition(project: string, database: string): IamCondition {
  return {
    title: `streamjoin database ${database}`,
    expression: `resource.name=="projects/${project}/databases/${database}"`,
  };
}

const stateAccess = (c: RoleContext, what: string): Grant => ({
  on: { kind: 'project' },
  role: 'roles/datastore.user',
  why: `${what}; only the database ${c.config.firestoreDatabase}`,
  condition: databaseCondition(c.project, c.config.firestoreDatabase),
});

const ROLES: Readonly<Record<FunctionName, (c: RoleContext) => FunctionRole>> = {
  ingest: (c) => ({
    name: FUNCTION_NAMES.ingest,
    trigger: { kind: 'bucket' },
    grants: [
      stateAccess(c, 'reads and writes the join state'),
      {
        on: { kind: 'bucket', bucket: c.inputBucket },
        role: 'roles/storage.objectViewer',
        why: 'ingest reads input files',
      },
    ],
  }),
  tick: (c) => ({
    name: FUNCTION_NAMES.tick,
    trigger: {
      kind: 'schedule',
      intervalMs: c.config.tickIntervalMs,
      intervalSetting: SETTINGS.tickIntervalMs.env,
      does: 'evict timeouts, flush micro-batches',
    },
    // tick only adds files (create-only writes) and reads table metadata: creator + viewer, no delete.
    grants: [
      stateAccess(c, 'evicts timeouts and flushes the outbox'),
      {
        on: { kind: 'bucket', bucket: c.warehouseBucket },
        role: 'roles/storage.objectCreator',
        why: 'tick writes micro-batch files',
      },
      {
        on: { kind: 'bucket', bucket: c.warehouseBucket },
        role: 'roles/storage.objectViewer',
        why: 'tick reads table metadata',
      },
    ],
  }),
  compact: (c) => ({
    name: FUNCTION_NAMES.compact,
    trigger: {
      kind: 'schedule',
      intervalMs: c.config.compactIntervalMs,
      intervalSetting: SETTINGS.compactIntervalMs.env,
      does: 'commit batches, compact, expire',
    },
    // objectUser: read, create, overwrite and delete objects (commits, rewrites, expiry, orphans);
    // unlike objectAdmin it cannot change object ACLs or IAM.
    grants: [
      stateAccess(c, 'claims staged batches'),
      {
        on: { kind: 'bucket', bucket: c.warehouseBucket },
        role: 'roles/storage.objectUser',
        why: 'compact commits, rewrites and deletes table files',
      },
    ],
  }),
  reconcile: (c) => ({
    name: FUNCTION_NAMES.reconcile,
    trigger: {
      kind: 'schedule',
      intervalMs: c.config.reconcileIntervalMs,
      intervalSetting: SETTINGS.reconcileIntervalMs.env,
      does: 'ingest input objects whose finalize event never came',
    },
    // objectViewer: list and read the input files (get + list), nothing else; the ledger, and the join
    // state of what it ingests, in the pipeline's database.
    grants: [
      stateAccess(c, 'reads the ledger and ingests objects it lacks'),
      {
        on: { kind: 'bucket', bucket: c.inputBucket },
        role: 'roles/storage.objectViewer',
        why: 'reconcile lists and reads input files',
      },
    ],
  }),
};

/** Every deployed function, in deploy order. */
export function functionRoles(c: RoleContext): FunctionRole[] {
  return (Object.values(FUNCTION_NAMES) as FunctionName[]).map((name) => ROLES[name](c));
}

/**
 * Grants earlier deploys made that are broader than today's, removed on every deploy (a no-op once
 * gone): unconditional datastore.user, objectAdmin for compact, project-wide cloudbuild.builds.builder.
 */
export function legacyGrants(c: RoleContext): { readonly account: string; readonly grant: Grant }[] {
  const fns = Object.values(FUNCTION_NAMES) as FunctionName[];
  return [
    ...fns.map((fn) => ({
      account: fn as string,
      grant: {
        on: { kind: 'project' },
        role: 'roles/datastore.user',
        why: 'replaced by the grant conditioned on the pipeline database',
      } as Grant,
    })),
    {
      account: FUNCTION_NAMES.compact,
      grant: {
        on: { kind: 'bucket', bucket: c.warehouseBucket },
        role: 'roles/storage.objectAdmin',
        why: 'replaced by objectUser',
      },
    },
    {
      account: 'build',
      grant: {
        on: { kind: 'project' },
        role: 'roles/cloudbuild.builds.builder',
        why: 'replaced by log writing, the function repository and the function sources',
      },
    },
  ];
}
