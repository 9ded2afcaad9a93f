// The deployment as data: every gcloud command (with the describe command that decides whether it is
// needed), every Cloud Scheduler and Firebase Rules request. Pure — printing (--dry-run) and executing
// read the same plan, so what the dry run shows is what a deploy does.
import { createHash } from 'node:crypto';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/names.ts';
import { type Config, SETTINGS, type Setting, tablePath } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import type { Expectation, Json } from './expect.ts';
import { type FirestoreIndexes, withCollectionPrefix } from './indexes.ts';
import type { DeploySettings } from './settings.ts';

export type Argv = readonly string[];

/** A describe command whose JSON output must meet `expect` for the step to count as done. */
export interface Check {
  readonly argv: Argv;
  readonly expect: readonly Expectation[];
}

/**
 * `ensure`: check; missing → run `argv`; present but not as expected → run `update` (default `argv`;
 * `manual` = cannot be fixed automatically: stop and say why); as expected → nothing.
 * `remove`: check; missing or expectations unmet (e.g. the binding is not there) → nothing; else run `argv`.
 * No check: always run (the command itself is idempotent).
 */
export interface GcloudStep {
  readonly kind: 'gcloud';
  readonly id: string;
  readonly title: string;
  readonly action: 'ensure' | 'remove';
  readonly check?: Check;
  readonly argv: Argv;
  readonly update?: Argv | { readonly manual: string };
  /** IAM and new service accounts are eventually consistent: retry the command a few times. */
  readonly retry?: boolean;
}

/** Runs a read-only command and binds its trimmed output to `${variable}` for later steps. */
export interface LookupStep {
  readonly kind: 'lookup';
  readonly id: string;
  readonly title: string;
  readonly variable: string;
  readonly argv: Argv;
}

/** A Cloud Scheduler job in the REST (proto3 JSON) form of the v1 API. */
export interface SchedulerJob {
  readonly name: string;
  readonly description: string;
  readonly schedule: string;
  readonly timeZone: string;
  readonly httpTarget: {
    readonly uri: string;
    readonly httpMethod: 'POST';
    readonly headers: Readonly<Record<string, string>>;
    /** base64 */
    readonly body: string;
    readonly oidcToken: { readonly serviceAccountEmail: string; readonly audience: string };
  };
  readonly retryConfig: {
    readonly retryCount: number;
    readonly maxRetryDuration: string;
    readonly minBackoffDuration: string;
    readonly maxBackoffDuration: string;
    readonly maxDoublings: number;
  };
  readonly attemptDeadline: string;
}

export interface SchedulerJobStep {
  readonly kind: 'scheduler-job';
  readonly id: string;
  readonly title: string;
  readonly action: 'ensure' | 'remove';
  /** projects/P/locations/L */
  readonly parent: string;
  /** projects/P/locations/L/jobs/ID */
  readonly name: string;
  /** The job to create or update (`ensure` only). */
  readonly job?: SchedulerJob;
}

/** Publishes `files` as the Firestore rules of `database` (Firebase Rules API: ruleset + release). */
export interface RulesStep {
  readonly kind: 'firestore-rules';
  readonly id: string;
  readonly title: string;
  readonly project: string;
  /** projects/P/releases/cloud.firestore[/DATABASE] */
  readonly release: string;
  readonly files: readonly { readonly name: string; readonly content: string }[];
}

export type Step = GcloudStep | LookupStep | SchedulerJobStep | RulesStep;

export interface Plan {
  readonly kind: 'deploy' | 'destroy';
  readonly project: string;
  readonly region: string;
  readonly steps: readonly Step[];
  /** What to tell the user at the end: label → value (values may hold `${VARIABLES}`). */
  readonly summary: readonly (readonly [string, string])[];
}

export interface PlanDeployOptions {
  readonly project: string;
  readonly region: string;
  /** Parsed firestore.indexes.json (with the default collection prefix, as in the file). */
  readonly indexes: FirestoreIndexes;
  /** firestore.rules */
  readonly rules: { readonly name: string; readonly content: string };
  /** Hash of the uploaded source (see source.ts); part of the function's spec label. */
  readonly sourceHash: string;
  readonly settings: DeploySettings;
  /** The ignore file that limits the upload, relative to the repository root. */
  readonly ignoreFile?: string;
}

export interface PlanDestroyOptions {
  readonly project: string;
  readonly region: string;
  readonly deleteData: boolean;
  readonly settings: DeploySettings;
}

export const RUNTIME = 'nodejs24';

/** `${NAME}`: a value a lookup step sets while the plan runs. */
export const ref = (name: string): string => `$\{${name}}`;
export const IGNORE_FILE = 'infra/gcp/deploy.gcloudignore';
export const SPEC_LABEL = 'streamjoin-spec';

/** APIs the pipeline and its deployment use. */
export const REQUIRED_APIS = [
  'cloudfunctions.googleapis.com',
  'run.googleapis.com',
  'cloudbuild.googleapis.com',
  'artifactregistry.googleapis.com',
  'eventarc.googleapis.com',
  'pubsub.googleapis.com',
  'firestore.googleapis.com',
  'cloudscheduler.googleapis.com',
  'storage.googleapis.com',
  'logging.googleapis.com',
  'iam.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'firebaserules.googleapis.com',
] as const;

/** Collections the pipeline writes (shared/firestore/client.ts), removed by `destroy --delete-data`. */
export const COLLECTION_SUFFIXES = [
  'states',
  'outbox',
  'batches',
  'flush',
  'files',
  'rejects',
  'meta',
] as const;

/** One service account per role the deployment needs; ids are fixed (one deployment per project). */
export const SERVICE_ACCOUNTS = {
  ingest: { id: 'streamjoin-ingest', display: 'streamjoin ingest function' },
  tick: { id: 'streamjoin-tick', display: 'streamjoin tick function' },
  compact: { id: 'streamjoin-compact', display: 'streamjoin compact function' },
  trigger: {
    id: 'streamjoin-trigger',
    display: 'streamjoin Eventarc trigger (delivers GCS events to ingest)',
  },
  scheduler: {
    id: 'streamjoin-scheduler',
    display: 'streamjoin Cloud Scheduler invoker (calls tick and compact)',
  },
  build: { id: 'streamjoin-build', display: 'streamjoin function builds (Cloud Build)' },
} as const;
export type AccountRole = keyof typeof SERVICE_ACCOUNTS;

export const JOB_IDS = { tick: 'streamjoin-tick', compact: 'streamjoin-compact' } as const;

export function serviceAccountEmail(role: AccountRole, project: string): string {
  return `${SERVICE_ACCOUNTS[role].id}@${project}.iam.gserviceaccount.com`;
}

/** `gs://bucket/path/` → `bucket`; the warehouse of a deployment must be on GCS. */
export function bucketOf(uri: string, what: string): string {
  const m = /^gs:\/\/([^/]+)/.exec(uri);
  if (m === null) {
    throw new StreamjoinError(
      'config',
      `${what} must be a gs:// URI to deploy to Google Cloud, but was: ${JSON.stringify(uri)}`,
    );
  }
  return m[1]!;
}

// ---------------------------------------------------------------------------------------------------
// Environment of the deployed functions

const DURATION_STEPS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];
const SIZE_STEPS: readonly [string, number][] = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

function largestUnit(n: number, steps: readonly [string, number][], fallback: string): string {
  for (const [unit, factor] of steps) if (n > 0 && n % factor === 0) return `${n / factor}${unit}`;
  return `${n}${fallback}`;
}

/**
 * A parsed setting back as the text of its variable, in the friendliest form that parses to the same
 * value (`900000` ms → `15m`, `134217728` → `128MiB`), so the deployed environment reads like the docs.
 */
export function settingText(setting: Setting<unknown>, value: unknown): string {
  if (typeof value !== 'number') return String(value);
  const candidates = [
    largestUnit(value, DURATION_STEPS, 'ms'),
    largestUnit(value, SIZE_STEPS, ''),
    String(value),
  ];
  for (const text of candidates) {
    try {
      if (setting.parse(text) === value) return text;
    } catch {
      // not this form
    }
  }
  return String(value);
}

/** The variables the deployed functions get: every setting marked `deploy`, from the resolved config. */
export function functionEnvironment(config: Config, project: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Config, Setting<unknown>][]) {
    if (!setting.deploy) continue;
    const value = key === 'projectId' ? project : config[key];
    if (value === undefined) continue;
    env[setting.env] = settingText(setting, value);
  }
  return env;
}

/** `--set-env-vars` value; switches the list delimiter (gcloud's `^D^` escape) when a value holds a comma. */
export function envVarsFlag(env: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (!pairs.some((p) => p.includes(','))) return `--set-env-vars=${pairs.join(',')}`;
  const delim = ['|', '@', ';', '~', '#'].find((d) => !pairs.some((p) => p.includes(d)));
  if (delim === undefined) {
    throw new StreamjoinError(
      'config',
      'environment values hold every delimiter gcloud could use (, | @ ; ~ #)',
    );
  }
  return `--set-env-vars=^${delim}^${pairs.join(delim)}`;
}

// ---------------------------------------------------------------------------------------------------
// Scheduling

/** A scheduler interval as cron: whole minutes dividing an hour, or whole hours dividing a day. */
export function intervalToCron(ms: number, what: string): string {
  const minutes = ms / 60_000;
  if (minutes === 1) return '* * * * *';
  if (Number.isInteger(minutes) && minutes > 1 && minutes < 60 && 60 % minutes === 0)
    return `*/${minutes} * * * *`;
  const hours = ms / 3_600_000;
  if (hours === 1) return '0 * * * *';
  if (Number.isInteger(hours) && hours > 1 && hours <= 24 && 24 % hours === 0) {
    return hours === 24 ? '0 0 * * *' : `0 */${hours} * * *`;
  }
  throw new StreamjoinError(
    'config',
    `${what} must be whole minutes dividing an hour (1m, 2m, 5m, 10m, 15m, 30m) or whole hours dividing a day for Cloud Scheduler, but was: ${ms} ms`,
  );
}

const seconds = (s: number): string => `${s}s`;

function schedulerJob(
  fn: 'tick' | 'compact',
  parent: string,
  intervalMs: number,
  timeoutSeconds: number,
  timeZone: string,
  project: string,
  what: string,
): SchedulerJob {
  const url = ref(`${fn.toUpperCase()}_URL`);
  const intervalS = Math.round(intervalMs / 1000);
  // Retries end before the next scheduled run: a later run redoes the work anyway.
  const window = Math.max(intervalS - 10, 10);
  return {
    name: `${parent}/jobs/${JOB_IDS[fn]}`,
    description: `streamjoin: calls the ${fn} function ${fn === 'tick' ? '(evict timeouts, flush micro-batches)' : '(commit batches, compact, expire)'}`,
    schedule: intervalToCron(intervalMs, what),
    timeZone,
    httpTarget: {
      uri: url,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}').toString('base64'),
      oidcToken: { serviceAccountEmail: serviceAccountEmail('scheduler', project), audience: url },
    },
    retryConfig: {
      retryCount: 3,
      maxRetryDuration: seconds(window),
      minBackoffDuration: seconds(Math.min(5, window)),
      maxBackoffDuration: seconds(Math.min(Math.max(Math.floor(window / 3), 5), 3600)),
      maxDoublings: 3,
    },
    // HTTP targets allow 15 s .. 30 min; wait as long as the function may run.
    attemptDeadline: seconds(Math.min(Math.max(timeoutSeconds, 15), 1800)),
  };
}

// ---------------------------------------------------------------------------------------------------
// Steps

function gcloud(step: Omit<GcloudStep, 'kind'>): GcloudStep {
  return { kind: 'gcloud', ...step };
}

const projectFlag = (project: string): string => `--project=${project}`;

function projectBinding(
  project: string,
  role: string,
  member: string,
  why: string,
  action: 'ensure' | 'remove',
): GcloudStep {
  const verb = action === 'ensure' ? 'add' : 'remove';
  return gcloud({
    id: `iam:project:${role}:${member}`,
    title: `${action === 'ensure' ? 'Grant' : 'Revoke'} ${role} on the project ${action === 'ensure' ? 'to' : 'from'} ${member} (${why})`,
    action,
    check: {
      argv: ['gcloud', 'projects', 'get-iam-policy', project, '--format=json'],
      expect: [{ kind: 'iam-binding', role, member }],
    },
    argv: [
      'gcloud',
      'projects',
      `${verb}-iam-policy-binding`,
      project,
      `--member=${member}`,
      `--role=${role}`,
      '--condition=None',
      '--format=none',
      '--quiet',
    ],
    retry: true,
  });
}

function bucketBinding(
  project: string,
  bucket: string,
  role: string,
  member: string,
  why: string,
): GcloudStep {
  return gcloud({
    id: `iam:bucket:${bucket}:${role}:${member}`,
    title: `Grant ${role} on gs://${bucket} to ${member} (${why})`,
    action: 'ensure',
    check: {
      argv: [
        'gcloud',
        'storage',
        'buckets',
        'get-iam-policy',
        `gs://${bucket}`,
        projectFlag(project),
        '--format=json',
      ],
      expect: [{ kind: 'iam-binding', role, member }],
    },
    argv: [
      'gcloud',
      'storage',
      'buckets',
      'add-iam-policy-binding',
      `gs://${bucket}`,
      `--member=${member}`,
      `--role=${role}`,
      projectFlag(project),
      '--format=none',
      '--quiet',
    ],
    retry: true,
  });
}

function invokerBinding(
  project: string,
  region: string,
  service: string,
  member: string,
  why: string,
): GcloudStep {
  const role = 'roles/run.invoker';
  return gcloud({
    id: `iam:run:${service}:${member}`,
    title: `Grant ${role} on ${service} to ${member} (${why})`,
    action: 'ensure',
    check: {
      argv: [
        'gcloud',
        'run',
        'services',
        'get-iam-policy',
        service,
        `--region=${region}`,
        projectFlag(project),
        '--format=json',
      ],
      expect: [{ kind: 'iam-binding', role, member }],
    },
    argv: [
      'gcloud',
      'run',
      'services',
      'add-iam-policy-binding',
      service,
      `--region=${region}`,
      `--member=${member}`,
      `--role=${role}`,
      projectFlag(project),
      '--format=none',
      '--quiet',
    ],
    retry: true,
  });
}

const sa = (role: AccountRole, project: string): string =>
  `serviceAccount:${serviceAccountEmail(role, project)}`;

function specHash(parts: Json): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);
}

function functionStep(
  name: FunctionName,
  o: PlanDeployOptions,
  inputBucket: string,
  env: Record<string, string>,
): GcloudStep {
  const { project, region } = o;
  const spec = o.settings.functions[name];
  const trigger =
    name === FUNCTION_NAMES.ingest
      ? [
          `--trigger-bucket=${inputBucket}`,
          '--retry',
          `--trigger-service-account=${serviceAccountEmail('trigger', project)}`,
        ]
      : ['--trigger-http', '--no-allow-unauthenticated'];
  const role: AccountRole = name;
  const argv = [
    'gcloud',
    'functions',
    'deploy',
    name,
    '--gen2',
    projectFlag(project),
    `--region=${region}`,
    `--runtime=${RUNTIME}`,
    '--source=.',
    `--ignore-file=${o.ignoreFile ?? IGNORE_FILE}`,
    `--entry-point=${name}`,
    ...trigger,
    `--service-account=${serviceAccountEmail(role, project)}`,
    `--build-service-account=projects/${project}/serviceAccounts/${serviceAccountEmail('build', project)}`,
    `--memory=${spec.memory}`,
    `--cpu=${spec.cpu}`,
    `--timeout=${spec.timeoutSeconds}s`,
    `--concurrency=${spec.concurrency}`,
    `--max-instances=${spec.maxInstances}`,
    `--min-instances=${spec.minInstances}`,
    envVarsFlag(env),
  ];
  // The label records what was deployed (flags + source); a re-run with the same label skips the
  // build, which takes minutes and starts a new revision for nothing.
  const label = specHash({ argv, source: o.sourceHash });
  return gcloud({
    id: `function:${name}`,
    title: `Deploy the ${name} function (${name === 'ingest' ? `GCS finalize on gs://${inputBucket}, retried` : 'HTTP, authenticated'})`,
    action: 'ensure',
    check: {
      argv: [
        'gcloud',
        'functions',
        'describe',
        name,
        '--gen2',
        `--region=${region}`,
        projectFlag(project),
        '--format=json',
      ],
      expect: [
        { kind: 'equals', path: 'state', value: 'ACTIVE' },
        { kind: 'equals', path: `labels.${SPEC_LABEL}`, value: label },
        {
          kind: 'equals',
          path: 'serviceConfig.serviceAccountEmail',
          value: serviceAccountEmail(role, project),
        },
        { kind: 'includes', path: 'serviceConfig.environmentVariables', value: env },
      ],
    },
    argv: [...argv, `--update-labels=${SPEC_LABEL}=${label}`, '--quiet'],
    retry: true,
  });
}

export function planDeploy(config: Config, o: PlanDeployOptions): Plan {
  const { project, region } = o;
  const p = projectFlag(project);
  const inputBucket = config.inputBucket;
  const warehouseBucket = bucketOf(config.warehouse, 'STREAMJOIN_WAREHOUSE');
  const database = config.firestoreDatabase;
  const db = `--database=${database}`;
  const firestoreLocation = o.settings.firestoreLocation ?? region;
  const schedulerLocation = o.settings.schedulerLocation ?? region;
  const parent = `projects/${project}/locations/${schedulerLocation}`;
  const env = functionEnvironment(config, project);
  const indexes = withCollectionPrefix(o.indexes, config.collectionPrefix);
  const steps: Step[] = [];

  steps.push(
    gcloud({
      id: 'apis',
      title: 'Enable the APIs the pipeline uses',
      action: 'ensure',
      check: {
        argv: ['gcloud', 'services', 'list', '--enabled', p, '--format=json'],
        expect: [{ kind: 'services-enabled', names: REQUIRED_APIS }],
      },
      argv: ['gcloud', 'services', 'enable', ...REQUIRED_APIS, p, '--quiet'],
    }),
  );

  for (const [bucket, what] of new Map([
    [inputBucket, 'input bucket: the producer writes order and payment files here'],
    [warehouseBucket, 'warehouse bucket: the Iceberg tables'],
  ])) {
    const describe = ['gcloud', 'storage', 'buckets', 'describe', `gs://${bucket}`, p, '--format=json'];
    steps.push(
      gcloud({
        id: `bucket:${bucket}`,
        title: `Create gs://${bucket} (${what}) with uniform access and public access prevention`,
        action: 'ensure',
        check: {
          argv: describe,
          expect: [
            { kind: 'equals', path: 'uniform_bucket_level_access', value: true },
            { kind: 'equals', path: 'public_access_prevention', value: 'enforced' },
          ],
        },
        argv: [
          'gcloud',
          'storage',
          'buckets',
          'create',
          `gs://${bucket}`,
          p,
          `--location=${region}`,
          '--default-storage-class=STANDARD',
          '--uniform-bucket-level-access',
          '--public-access-prevention',
          '--quiet',
        ],
        update: [
          'gcloud',
          'storage',
          'buckets',
          'update',
          `gs://${bucket}`,
          p,
          '--uniform-bucket-level-access',
          '--public-access-prevention',
          '--quiet',
        ],
      }),
    );
  }

  steps.push(
    gcloud({
      id: 'firestore:database',
      title: `Create the Firestore database ${database} in Native mode (${firestoreLocation})`,
      action: 'ensure',
      check: {
        argv: ['gcloud', 'firestore', 'databases', 'describe', db, p, '--format=json'],
        expect: [{ kind: 'equals', path: 'type', value: 'FIRESTORE_NATIVE' }],
      },
      argv: [
        'gcloud',
        'firestore',
        'databases',
        'create',
        db,
        `--location=${firestoreLocation}`,
        '--type=firestore-native',
        p,
        '--quiet',
      ],
      update: {
        manual: `Firestore database ${database} exists but is not in Native mode; a database cannot change mode: set STREAMJOIN_FIRESTORE_DATABASE to another database id`,
      },
    }),
  );

  for (const ix of indexes.indexes) {
    steps.push(
      gcloud({
        id: `firestore:index:${ix.collectionGroup}:${ix.fields.map((f) => f.fieldPath).join(',')}`,
        title: `Composite index on ${ix.collectionGroup} (${ix.fields.map((f) => `${f.fieldPath} ${f.order === 'ASCENDING' ? 'asc' : 'desc'}`).join(', ')}); builds in the background`,
        action: 'ensure',
        check: {
          argv: ['gcloud', 'firestore', 'indexes', 'composite', 'list', db, p, '--format=json'],
          expect: [
            {
              kind: 'composite-index',
              collectionGroup: ix.collectionGroup,
              queryScope: ix.queryScope,
              fields: ix.fields,
            },
          ],
        },
        argv: [
          'gcloud',
          'firestore',
          'indexes',
          'composite',
          'create',
          `--collection-group=${ix.collectionGroup}`,
          `--query-scope=${ix.queryScope === 'COLLECTION' ? 'collection' : 'collection-group'}`,
          ...ix.fields.map((f) => `--field-config=field-path=${f.fieldPath},order=${f.order.toLowerCase()}`),
          db,
          p,
          '--async',
          '--quiet',
        ],
      }),
    );
  }

  for (const fo of indexes.fieldOverrides) {
    const describe = [
      'gcloud',
      'firestore',
      'indexes',
      'fields',
      'describe',
      fo.fieldPath,
      `--collection-group=${fo.collectionGroup}`,
      db,
      p,
      '--format=json',
    ];
    if (fo.exemptFromIndexing) {
      steps.push(
        gcloud({
          id: `firestore:exempt:${fo.collectionGroup}.${fo.fieldPath}`,
          title: `No single-field indexes on ${fo.collectionGroup}.${fo.fieldPath} (never queried; saves index writes)`,
          action: 'ensure',
          check: {
            argv: describe,
            expect: [
              { kind: 'empty', path: 'indexConfig.indexes' },
              { kind: 'one-of', path: 'indexConfig.usesAncestorConfig', values: [false, null] },
            ],
          },
          argv: [
            'gcloud',
            'firestore',
            'indexes',
            'fields',
            'update',
            fo.fieldPath,
            `--collection-group=${fo.collectionGroup}`,
            '--disable-indexes',
            db,
            p,
            '--async',
            '--quiet',
          ],
        }),
      );
    }
    if (fo.ttl) {
      steps.push(
        gcloud({
          id: `firestore:ttl:${fo.collectionGroup}.${fo.fieldPath}`,
          title: `TTL policy on ${fo.collectionGroup}.${fo.fieldPath} (deletes tombstones after their retention, typically within 24 h)`,
          action: 'ensure',
          check: {
            argv: describe,
            expect: [{ kind: 'one-of', path: 'ttlConfig.state', values: ['ACTIVE', 'CREATING'] }],
          },
          argv: [
            'gcloud',
            'firestore',
            'fields',
            'ttls',
            'update',
            fo.fieldPath,
            `--collection-group=${fo.collectionGroup}`,
            '--enable-ttl',
            db,
            p,
            '--async',
            '--quiet',
          ],
        }),
      );
    }
  }

  steps.push({
    kind: 'firestore-rules',
    id: 'firestore:rules',
    title: `Publish ${o.rules.name} (deny all client access) to database ${database}`,
    project,
    release: `projects/${project}/releases/cloud.firestore${database === '(default)' ? '' : `/${database}`}`,
    files: [o.rules],
  });

  for (const role of Object.keys(SERVICE_ACCOUNTS) as AccountRole[]) {
    const email = serviceAccountEmail(role, project);
    steps.push(
      gcloud({
        id: `sa:${role}`,
        title: `Service account ${email}`,
        action: 'ensure',
        check: {
          argv: ['gcloud', 'iam', 'service-accounts', 'describe', email, p, '--format=json'],
          expect: [],
        },
        argv: [
          'gcloud',
          'iam',
          'service-accounts',
          'create',
          SERVICE_ACCOUNTS[role].id,
          p,
          `--display-name=${SERVICE_ACCOUNTS[role].display}`,
          '--quiet',
        ],
      }),
    );
  }

  for (const fn of ['ingest', 'tick', 'compact'] as const) {
    steps.push(
      projectBinding(
        project,
        'roles/datastore.user',
        sa(fn, project),
        `${fn} reads and writes the join state`,
        'ensure',
      ),
    );
  }
  steps.push(
    projectBinding(
      project,
      'roles/eventarc.eventReceiver',
      sa('trigger', project),
      'the ingest trigger receives events',
      'ensure',
    ),
  );
  steps.push(
    projectBinding(
      project,
      'roles/cloudbuild.builds.builder',
      sa('build', project),
      'builds the function images',
      'ensure',
    ),
  );
  steps.push({
    kind: 'lookup',
    id: 'lookup:gcs-agent',
    title: 'The Cloud Storage service agent of the project (publishes the bucket events)',
    variable: 'GCS_SERVICE_AGENT',
    argv: ['gcloud', 'storage', 'service-agent', p],
  });
  steps.push(
    projectBinding(
      project,
      'roles/pubsub.publisher',
      `serviceAccount:${ref('GCS_SERVICE_AGENT')}`,
      'GCS publishes finalize events for Eventarc',
      'ensure',
    ),
  );
  steps.push(
    bucketBinding(
      project,
      inputBucket,
      'roles/storage.objectViewer',
      sa('ingest', project),
      'ingest reads input files',
    ),
  );
  // tick only adds files (create-only writes) and reads table metadata: creator + viewer, no delete.
  steps.push(
    bucketBinding(
      project,
      warehouseBucket,
      'roles/storage.objectCreator',
      sa('tick', project),
      'tick writes micro-batch files',
    ),
  );
  steps.push(
    bucketBinding(
      project,
      warehouseBucket,
      'roles/storage.objectViewer',
      sa('tick', project),
      'tick reads table metadata',
    ),
  );
  steps.push(
    bucketBinding(
      project,
      warehouseBucket,
      'roles/storage.objectAdmin',
      sa('compact', project),
      'compact commits, rewrites and deletes files',
    ),
  );

  for (const fn of ['ingest', 'tick', 'compact'] as const) steps.push(functionStep(fn, o, inputBucket, env));

  steps.push(
    invokerBinding(
      project,
      region,
      'ingest',
      sa('trigger', project),
      'the trigger delivers events to ingest',
    ),
  );
  steps.push(invokerBinding(project, region, 'tick', sa('scheduler', project), 'the scheduler calls tick'));
  steps.push(
    invokerBinding(project, region, 'compact', sa('scheduler', project), 'the scheduler calls compact'),
  );

  for (const fn of ['tick', 'compact'] as const) {
    steps.push({
      kind: 'lookup',
      id: `lookup:${fn}-url`,
      title: `The URL of ${fn}`,
      variable: `${fn.toUpperCase()}_URL`,
      argv: [
        'gcloud',
        'functions',
        'describe',
        fn,
        '--gen2',
        `--region=${region}`,
        p,
        '--format=value(serviceConfig.uri)',
      ],
    });
  }
  const jobs = [
    schedulerJob(
      'tick',
      parent,
      config.tickIntervalMs,
      o.settings.functions.tick.timeoutSeconds,
      o.settings.timeZone,
      project,
      SETTINGS.tickIntervalMs.env,
    ),
    schedulerJob(
      'compact',
      parent,
      config.compactIntervalMs,
      o.settings.functions.compact.timeoutSeconds,
      o.settings.timeZone,
      project,
      SETTINGS.compactIntervalMs.env,
    ),
  ];
  for (const job of jobs) {
    const fn = job.name.endsWith(JOB_IDS.tick) ? 'tick' : 'compact';
    steps.push({
      kind: 'scheduler-job',
      id: `scheduler:${fn}`,
      title: `Cloud Scheduler job ${JOB_IDS[fn]}: POST to ${fn} (${job.schedule}) with an OIDC token of the invoker account`,
      action: 'ensure',
      parent,
      name: job.name,
      job,
    });
  }

  const joined = tablePath(config, config.joinedTable);
  const unmatched = tablePath(config, config.unmatchedTable);
  return {
    kind: 'deploy',
    project,
    region,
    steps,
    summary: [
      [
        'input bucket',
        `gs://${inputBucket}/ (orders under ${config.ordersPrefix}, payments under ${config.paymentsPrefix})`,
      ],
      ['warehouse', config.warehouse],
      [
        'joined table',
        `${config.namespace}.${config.joinedTable} at ${joined} (metadata: ${joined}metadata/)`,
      ],
      ['unmatched table', `${config.namespace}.${config.unmatchedTable} at ${unmatched}`],
      ['firestore', `database ${database}, collections ${config.collectionPrefix}_*`],
      ['ingest', `runs on every object finalized in gs://${inputBucket}/ (retried on failure)`],
      ['tick', `${ref('TICK_URL')} (${jobs[0]!.schedule}, job ${parent}/jobs/${JOB_IDS.tick})`],
      ['compact', `${ref('COMPACT_URL')} (${jobs[1]!.schedule}, job ${parent}/jobs/${JOB_IDS.compact})`],
      ['logs', `gcloud functions logs read --region=${region} ${p} --limit=50`],
    ],
  };
}

export function planDestroy(config: Config, o: PlanDestroyOptions): Plan {
  const { project, region } = o;
  const p = projectFlag(project);
  const schedulerLocation = o.settings.schedulerLocation ?? region;
  const parent = `projects/${project}/locations/${schedulerLocation}`;
  const steps: Step[] = [];
  const inputBucket = config.inputBucket;
  const warehouseBucket = bucketOf(config.warehouse, 'STREAMJOIN_WAREHOUSE');

  for (const fn of ['tick', 'compact'] as const) {
    steps.push({
      kind: 'scheduler-job',
      id: `scheduler:${fn}`,
      title: `Delete the Cloud Scheduler job ${JOB_IDS[fn]}`,
      action: 'remove',
      parent,
      name: `${parent}/jobs/${JOB_IDS[fn]}`,
    });
  }
  for (const fn of ['ingest', 'tick', 'compact'] as const) {
    steps.push(
      gcloud({
        id: `function:${fn}`,
        title: `Delete the ${fn} function (and its trigger)`,
        action: 'remove',
        check: {
          argv: ['gcloud', 'functions', 'describe', fn, '--gen2', `--region=${region}`, p, '--format=json'],
          expect: [],
        },
        argv: ['gcloud', 'functions', 'delete', fn, '--gen2', `--region=${region}`, p, '--quiet'],
      }),
    );
  }
  for (const fn of ['ingest', 'tick', 'compact'] as const) {
    steps.push(
      projectBinding(project, 'roles/datastore.user', sa(fn, project), `${fn} used the join state`, 'remove'),
    );
  }
  steps.push(
    projectBinding(
      project,
      'roles/eventarc.eventReceiver',
      sa('trigger', project),
      'the ingest trigger',
      'remove',
    ),
  );
  steps.push(
    projectBinding(
      project,
      'roles/cloudbuild.builds.builder',
      sa('build', project),
      'function builds',
      'remove',
    ),
  );
  for (const role of Object.keys(SERVICE_ACCOUNTS) as AccountRole[]) {
    const email = serviceAccountEmail(role, project);
    // Deleting an account also ends its bucket and service bindings.
    steps.push(
      gcloud({
        id: `sa:${role}`,
        title: `Delete the service account ${email}`,
        action: 'remove',
        check: {
          argv: ['gcloud', 'iam', 'service-accounts', 'describe', email, p, '--format=json'],
          expect: [],
        },
        argv: ['gcloud', 'iam', 'service-accounts', 'delete', email, p, '--quiet'],
      }),
    );
  }
  if (o.deleteData) {
    steps.push(
      gcloud({
        id: 'firestore:data',
        title: `Delete every document of the ${config.collectionPrefix}_* collections (runs in the background)`,
        action: 'remove',
        argv: [
          'gcloud',
          'firestore',
          'bulk-delete',
          `--collection-ids=${COLLECTION_SUFFIXES.map((s) => `${config.collectionPrefix}_${s}`).join(',')}`,
          `--database=${config.firestoreDatabase}`,
          p,
          '--async',
          '--quiet',
        ],
      }),
    );
    for (const bucket of new Set([inputBucket, warehouseBucket])) {
      steps.push(
        gcloud({
          id: `bucket:${bucket}`,
          title: `Delete gs://${bucket} and every object in it`,
          action: 'remove',
          check: {
            argv: ['gcloud', 'storage', 'buckets', 'describe', `gs://${bucket}`, p, '--format=json'],
            expect: [],
          },
          argv: ['gcloud', 'storage', 'rm', '--recursive', '--all-versions', `gs://${bucket}`, p, '--quiet'],
        }),
      );
    }
  }
  return {
    kind: 'destroy',
    project,
    region,
    steps,
    summary: [
      [
        'kept',
        o.deleteData
          ? 'enabled APIs, the Firestore database (now empty of streamjoin data), its indexes, TTL policy and rules'
          : `gs://${inputBucket}/, ${config.warehouse} (the tables), the Firestore data, indexes, TTL policy and rules, enabled APIs`,
      ],
      [
        'also kept',
        "the Cloud Storage service agent's roles/pubsub.publisher (shared by every GCS trigger in the project), function images in Artifact Registry (gcf-artifacts)",
      ],
    ],
  };
}
