// The deployment as data: every gcloud command (with the describe command that decides whether it is
// needed), every wait, every Cloud Scheduler and Firebase Rules request, and the read-only pre-flight
// checks. Pure — printing (--dry-run) and executing read the same plan, so what the dry run shows is
// what a deploy does. The functions come from functions-plan.ts (one entry per function).
import { createHash } from 'node:crypto';
import { FUNCTION_NAMES, type FunctionName } from '../../functions/names.ts';
import { type Config, SETTINGS, type Setting, tablePath } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';
import type { Expectation, Json } from './expect.ts';
import {
  type FunctionRole,
  functionRoles,
  type Grant,
  type IamCondition,
  legacyGrants,
  type RoleContext,
} from './functions-plan.ts';
import { type FirestoreIndexes, withCollectionPrefix } from './indexes.ts';
import { alertSettings, DASHBOARD_NAME, METRICS } from './monitoring.ts';
import { monitoringDeploySteps, monitoringDestroySteps } from './monitoring-plan.ts';
import { type DeploySettings, settingPairProblems } from './settings.ts';

export type Argv = readonly string[];

/** A describe command whose JSON output must meet `expect` for the step to count as done. */
export interface Check {
  readonly argv: Argv;
  readonly expect: readonly Expectation[];
  /**
   * The command lists resources (a JSON array); the step's resource is the element whose value at
   * `path` is `value` (a label the deploy set: the resource's id is the server's). No such element:
   * missing. The expectations apply to that element.
   */
  readonly select?: { readonly path: string; readonly value: string };
}

/**
 * Named retry policies (execute.ts holds their patterns and waits). `propagation`: IAM and new service
 * accounts are eventually consistent. `contention`: Firestore index and field operations on a fresh
 * database collide with each other and with the database's own set-up. A failure that will fail again
 * (a build error in the code) is never retried, whatever the policy.
 */
export type RetryPolicy = 'propagation' | 'contention';

/**
 * `ensure`: check; missing → run `argv` (then `afterCreate`); present but not as expected → run
 * `update` (default `argv`; `manual` = cannot be fixed automatically: stop and say why); as expected →
 * nothing.
 * `remove`: check; missing → nothing; expectations unmet → nothing (`keepUnless`: say it was kept and
 * why); else run `argv`.
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
  /** Commands run only when `argv` created the resource (never on an update or a re-run). */
  readonly afterCreate?: readonly Argv[];
  /** `remove` only: the resource is kept, for this reason, when it is there but fails the check. */
  readonly keepUnless?: string;
  readonly retry?: RetryPolicy;
  /**
   * Sets `${variable}` to the value at `path` of the checked resource (after creating it, from a
   * fresh check), for the update command, the removal and later steps. A `remove` step with a
   * `select` check runs its command once per matching element.
   */
  readonly bind?: { readonly variable: string; readonly path: string };
}

/** Runs a read-only command and binds its trimmed output to `${variable}` for later steps. */
export interface LookupStep {
  readonly kind: 'lookup';
  readonly id: string;
  readonly title: string;
  readonly variable: string;
  readonly argv: Argv;
}

/** Polls a read-only check until it is found and meets its expectations; fails after `timeoutMs`. */
export interface WaitStep {
  readonly kind: 'wait';
  readonly id: string;
  readonly title: string;
  readonly check: Check;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** What to do when the wait times out (said in the error). */
  readonly onTimeout: string;
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

export type Step = GcloudStep | LookupStep | WaitStep | SchedulerJobStep | RulesStep;

/**
 * A bucket the deploy will create or adopt: before anything changes, its owner must be this project
 * (or nobody). Cloud Storage answers 403 for a name taken by another project.
 */
export interface BucketPreflight {
  readonly bucket: string;
  /** The variable that names it (the fix when it is taken). */
  readonly setting: string;
  readonly what: string;
  /** `gcloud storage buckets describe gs://B --raw --format=json` (the API form, with projectNumber). */
  readonly argv: Argv;
}

/** Read-only checks run before the first step and by --dry-run (execute.ts runPreflight). */
export interface Preflight {
  /** Prints the project number (`gcloud projects describe P --format=value(projectNumber)`). */
  readonly projectNumber: Argv;
  readonly buckets: readonly BucketPreflight[];
}

export interface Plan {
  readonly kind: 'deploy' | 'destroy';
  readonly project: string;
  readonly region: string;
  readonly preflight?: Preflight;
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
  /** `--alert-email`: the alert policies notify this address (an e-mail notification channel). */
  readonly alertEmail?: string | undefined;
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
/** Set on a bucket the deploy created; destroy --delete-data deletes only buckets that carry it. */
export const CREATED_LABEL = 'streamjoin-created-by';
export const CREATED_VALUE = 'deploy';
/** The Artifact Registry repository of the function images (ours, so it has a cleanup policy). */
export const REPOSITORY = 'streamjoin-functions';
export const CLEANUP_POLICY_FILE = 'infra/gcp/artifact-cleanup-policy.json';
/** The ids of the policies in CLEANUP_POLICY_FILE (the check looks for them). */
export const CLEANUP_POLICY_IDS = ['keep-recent', 'delete-old'] as const;
/** Cloud Scheduler and Eventarc of the same project still reach the functions (Cloud Run ingress docs). */
export const INGRESS = 'internal-only';
/** How long a fresh Firestore database and its indexes may take before the deploy gives up waiting. */
export const DATABASE_WAIT_MS = 5 * 60_000;
export const INDEX_WAIT_MS = 20 * 60_000;

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
  'monitoring.googleapis.com',
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

/** Service accounts that are not a function's own. */
const OTHER_ACCOUNTS = {
  trigger: 'streamjoin Eventarc trigger (delivers GCS events to ingest)',
  scheduler: 'streamjoin Cloud Scheduler invoker (calls the scheduled functions)',
  build: 'streamjoin function builds (Cloud Build)',
} as const;

/** One service account per function and per other role; ids are fixed (one deployment per project). */
export const SERVICE_ACCOUNTS: Readonly<
  Record<AccountRole, { readonly id: string; readonly display: string }>
> = Object.fromEntries([
  ...(Object.values(FUNCTION_NAMES) as FunctionName[]).map((fn) => [
    fn,
    { id: `streamjoin-${fn}`, display: `streamjoin ${fn} function` },
  ]),
  ...Object.entries(OTHER_ACCOUNTS).map(([role, display]) => [role, { id: `streamjoin-${role}`, display }]),
]) as Record<AccountRole, { id: string; display: string }>;
export type AccountRole = FunctionName | keyof typeof OTHER_ACCOUNTS;

/** The Cloud Scheduler job of a scheduled function. */
export const jobId = (fn: FunctionName): string => `streamjoin-${fn}`;

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

/**
 * The variables the deployed functions get: every setting marked `deploy`, from the resolved config,
 * and the ingest function's timeout (a deploy setting), so start-up checks the ingest time budget
 * against the timeout the platform really applies (shared/config.ts SETTING_PAIRS), and the join spec
 * when one was named.
 */
export function functionEnvironment(
  config: Config,
  project: string,
  settings?: Pick<DeploySettings, 'functions'>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Config, Setting<unknown>][]) {
    if (!setting.deploy) continue;
    const value = key === 'projectId' ? project : config[key];
    if (value === undefined) continue;
    env[setting.env] = settingText(setting, value);
  }
  if (settings !== undefined) {
    env[SETTINGS.ingestFunctionTimeoutMs.env] = `${settings.functions.ingest.timeoutSeconds}s`;
  }
  // A join spec named at deploy: its path in the upload (infra/gcp/deploy.ts resolveDeployConfig).
  if (config.spec !== undefined) env[SETTINGS.spec.env] = config.spec;
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
  fn: FunctionName,
  trigger: Extract<FunctionRole['trigger'], { kind: 'schedule' }>,
  parent: string,
  timeoutSeconds: number,
  timeZone: string,
  project: string,
): SchedulerJob {
  const url = ref(urlVariable(fn));
  const intervalS = Math.round(trigger.intervalMs / 1000);
  // Retries end before the next scheduled run: a later run redoes the work anyway.
  const window = Math.max(intervalS - 10, 10);
  return {
    name: `${parent}/jobs/${jobId(fn)}`,
    description: `streamjoin: calls the ${fn} function (${trigger.does})`,
    schedule: intervalToCron(trigger.intervalMs, trigger.intervalSetting),
    timeZone,
    httpTarget: {
      uri: url,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}').toString('base64'),
      oidcToken: { serviceAccountEmail: serviceAccountEmail('scheduler', project), audience: url },
    },
    // A failed call (an error answer, a 429 from the one busy instance, a timeout) is retried after
    // 5 s, doubling, and never past the next scheduled run, which does the same work.
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

/** `${TICK_URL}`: the variable holding a scheduled function's URL. */
export const urlVariable = (fn: FunctionName): string => `${fn.toUpperCase()}_URL`;

// ---------------------------------------------------------------------------------------------------
// Steps

function gcloud(step: Omit<GcloudStep, 'kind'>): GcloudStep {
  return { kind: 'gcloud', ...step };
}

const projectFlag = (project: string): string => `--project=${project}`;

/** `--condition=None` (unconditional) or the condition as gcloud's KEY=VALUE list. */
function conditionFlag(condition: IamCondition | undefined): string {
  if (condition === undefined) return '--condition=None';
  if (/[,]/.test(condition.expression + condition.title)) {
    // gcloud list escape: `^;^` makes `;` the separator (neither value holds one here).
    return `--condition=^;^expression=${condition.expression};title=${condition.title}`;
  }
  return `--condition=expression=${condition.expression},title=${condition.title}`;
}

interface Binding {
  readonly target:
    | { readonly kind: 'project' }
    | { readonly kind: 'bucket'; readonly bucket: string }
    | { readonly kind: 'repository'; readonly region: string }
    | { readonly kind: 'run'; readonly service: string; readonly region: string };
  readonly role: string;
  readonly member: string;
  readonly why: string;
  readonly condition?: IamCondition;
}

function targetWords(
  project: string,
  b: Binding,
): { noun: string; id: string; words: string[]; at: string[] } {
  const p = projectFlag(project);
  switch (b.target.kind) {
    case 'project':
      return { noun: 'projects', id: 'project', words: ['projects'], at: [project] };
    case 'bucket':
      return {
        noun: 'storage buckets',
        id: `bucket:${b.target.bucket}`,
        words: ['storage', 'buckets'],
        at: [`gs://${b.target.bucket}`, p],
      };
    case 'repository':
      return {
        noun: 'artifacts repositories',
        id: `repository:${REPOSITORY}`,
        words: ['artifacts', 'repositories'],
        at: [REPOSITORY, `--location=${b.target.region}`, p],
      };
    case 'run':
      return {
        noun: 'run services',
        id: `run:${b.target.service}`,
        words: ['run', 'services'],
        at: [b.target.service, `--region=${b.target.region}`, p],
      };
  }
}

const targetName = (b: Binding): string =>
  b.target.kind === 'project'
    ? 'the project'
    : b.target.kind === 'bucket'
      ? `gs://${b.target.bucket}`
      : b.target.kind === 'repository'
        ? `the repository ${REPOSITORY}`
        : b.target.service;

/** Grants (or revokes) one role, checked against the resource's IAM policy first. */
function binding(project: string, b: Binding, action: 'ensure' | 'remove'): GcloudStep {
  const t = targetWords(project, b);
  const verb = action === 'ensure' ? 'add' : 'remove';
  const condition = b.condition === undefined ? '' : ` if ${b.condition.title}`;
  return gcloud({
    id: `iam:${t.id}:${b.role}:${b.member}${b.condition === undefined ? '' : ':conditional'}`,
    title: `${action === 'ensure' ? 'Grant' : 'Revoke'} ${b.role} on ${targetName(b)} ${action === 'ensure' ? 'to' : 'from'} ${b.member}${condition} (${b.why})`,
    action,
    check: {
      argv: ['gcloud', ...t.words, 'get-iam-policy', ...t.at, '--format=json'],
      expect: [
        {
          kind: 'iam-binding',
          role: b.role,
          member: b.member,
          ...(b.condition === undefined ? {} : { condition: b.condition.expression }),
        },
      ],
    },
    argv: [
      'gcloud',
      ...t.words,
      `${verb}-iam-policy-binding`,
      ...t.at,
      `--member=${b.member}`,
      `--role=${b.role}`,
      conditionFlag(b.condition),
      '--format=none',
      '--quiet',
    ],
    retry: 'propagation',
  });
}

const sa = (role: AccountRole, project: string): string =>
  `serviceAccount:${serviceAccountEmail(role, project)}`;

function grantBinding(project: string, region: string, account: AccountRole | string, g: Grant): Binding {
  const member = account.startsWith('serviceAccount:') ? account : sa(account as AccountRole, project);
  const target: Binding['target'] = g.on.kind === 'repository' ? { kind: 'repository', region } : g.on;
  return {
    target,
    role: g.role,
    member,
    why: g.why,
    ...(g.condition === undefined ? {} : { condition: g.condition }),
  };
}

/** An English plural of a stream's name, for the plan's summary (order → orders, delivery → deliveries). */
export function plural(name: string): string {
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(name)) return `${name}es`;
  return `${name}s`;
}

function specHash(parts: Json): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);
}

export const INPUT_LOCATION = 'INPUT_BUCKET_LOCATION';
export const PROJECT_NUMBER = 'PROJECT_NUMBER';

function functionStep(
  role: FunctionRole,
  o: PlanDeployOptions,
  inputBucket: string,
  sharedEnv: Record<string, string>,
): GcloudStep {
  const { project, region } = o;
  const name = role.name;
  const spec = o.settings.functions[name];
  // The function's own V8 flags (settings.ts FunctionSpec.nodeOptions), beside the shared settings.
  const env = spec.nodeOptions === '' ? sharedEnv : { ...sharedEnv, NODE_OPTIONS: spec.nodeOptions };
  const trigger =
    role.trigger.kind === 'bucket'
      ? [
          `--trigger-bucket=${inputBucket}`,
          // Eventarc requires the trigger where the bucket is (a region, a dual- or multi-region).
          `--trigger-location=${ref(INPUT_LOCATION)}`,
          '--retry',
          `--trigger-service-account=${serviceAccountEmail('trigger', project)}`,
        ]
      : ['--trigger-http', '--no-allow-unauthenticated'];
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
    `--ingress-settings=${INGRESS}`,
    `--service-account=${serviceAccountEmail(name, project)}`,
    `--build-service-account=projects/${project}/serviceAccounts/${serviceAccountEmail('build', project)}`,
    `--docker-repository=projects/${project}/locations/${region}/repositories/${REPOSITORY}`,
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
  const expect: Expectation[] = [
    { kind: 'equals', path: 'state', value: 'ACTIVE' },
    { kind: 'equals', path: `labels.${SPEC_LABEL}`, value: label },
    {
      kind: 'equals',
      path: 'serviceConfig.serviceAccountEmail',
      value: serviceAccountEmail(name, project),
    },
    { kind: 'equals', path: 'serviceConfig.ingressSettings', value: 'ALLOW_INTERNAL_ONLY' },
    { kind: 'includes', path: 'serviceConfig.environmentVariables', value: env },
  ];
  if (role.trigger.kind === 'bucket') {
    expect.push({ kind: 'equals', path: 'eventTrigger.triggerRegion', value: ref(INPUT_LOCATION) });
  }
  return gcloud({
    id: `function:${name}`,
    title: `Deploy the ${name} function (${role.trigger.kind === 'bucket' ? `GCS finalize on gs://${inputBucket}, retried` : 'HTTP, authenticated'}; internal ingress)`,
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
      expect,
    },
    argv: [...argv, `--update-labels=${SPEC_LABEL}=${label}`, '--quiet'],
    // Only a failure that goes away by itself (a new account not yet visible) is retried; a build that
    // failed on the code fails the same way every time (execute.ts).
    retry: 'propagation',
  });
}

function bucketSteps(
  project: string,
  region: string,
  bucket: string,
  what: string,
  softDeleteSeconds: number | undefined,
): GcloudStep {
  const p = projectFlag(project);
  const softDelete = softDeleteSeconds === undefined ? [] : [`--soft-delete-duration=${softDeleteSeconds}s`];
  const expect: Expectation[] = [
    { kind: 'equals', path: 'iamConfiguration.uniformBucketLevelAccess.enabled', value: true },
    { kind: 'equals', path: 'iamConfiguration.publicAccessPrevention', value: 'enforced' },
  ];
  if (softDeleteSeconds !== undefined) {
    expect.push({
      kind: 'one-of',
      path: 'softDeletePolicy.retentionDurationSeconds',
      values: softDeleteSeconds === 0 ? ['0', null] : [String(softDeleteSeconds)],
    });
  }
  return gcloud({
    id: `bucket:${bucket}`,
    title: `Create gs://${bucket} (${what}) with uniform access and public access prevention${softDeleteSeconds === undefined ? '' : `, soft delete ${softDeleteSeconds === 0 ? 'off' : `${softDeleteSeconds / 86_400} d`}`}`,
    action: 'ensure',
    check: { argv: describeBucket(project, bucket), expect },
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
      ...softDelete,
      '--quiet',
    ],
    // Marks the bucket as the deploy's own: destroy --delete-data never deletes a bucket it adopted.
    afterCreate: [
      [
        'gcloud',
        'storage',
        'buckets',
        'update',
        `gs://${bucket}`,
        p,
        `--update-labels=${CREATED_LABEL}=${CREATED_VALUE}`,
        '--quiet',
      ],
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
      ...softDelete,
      '--quiet',
    ],
  });
}

/** The bucket as the JSON API returns it (projectNumber, iamConfiguration, softDeletePolicy, labels). */
export function describeBucket(project: string, bucket: string): Argv {
  return [
    'gcloud',
    'storage',
    'buckets',
    'describe',
    `gs://${bucket}`,
    projectFlag(project),
    '--raw',
    '--format=json',
  ];
}

function firestoreSteps(o: PlanDeployOptions, config: Config, indexes: FirestoreIndexes): Step[] {
  const { project, region } = o;
  const p = projectFlag(project);
  const database = config.firestoreDatabase;
  const db = `--database=${database}`;
  const location = o.settings.firestoreLocation ?? region;
  const describe = ['gcloud', 'firestore', 'databases', 'describe', db, p, '--format=json'];
  const steps: Step[] = [
    gcloud({
      id: 'firestore:database',
      title: `Create the Firestore database ${database} in Native mode (${location}) with delete protection`,
      action: 'ensure',
      check: { argv: describe, expect: [{ kind: 'equals', path: 'type', value: 'FIRESTORE_NATIVE' }] },
      argv: [
        'gcloud',
        'firestore',
        'databases',
        'create',
        db,
        `--location=${location}`,
        '--type=firestore-native',
        '--delete-protection',
        p,
        '--quiet',
      ],
      update: {
        manual: `Firestore database ${database} exists but is not in Native mode; a database cannot change mode: set ${SETTINGS.firestoreDatabase.env} to another database id`,
      },
      retry: 'contention',
    }),
    {
      kind: 'wait',
      id: 'firestore:database-ready',
      title: `Wait until the database ${database} answers (a new one appears a little after its create returns)`,
      check: { argv: describe, expect: [{ kind: 'equals', path: 'type', value: 'FIRESTORE_NATIVE' }] },
      intervalMs: 5_000,
      timeoutMs: DATABASE_WAIT_MS,
      onTimeout: `the database did not appear: check \`gcloud firestore operations list ${db} ${p}\` and run the deploy again`,
    },
    gcloud({
      id: 'firestore:delete-protection',
      title: `Delete protection on the database ${database} (a deleted database loses every join state)`,
      action: 'ensure',
      check: {
        argv: describe,
        expect: [{ kind: 'equals', path: 'deleteProtectionState', value: 'DELETE_PROTECTION_ENABLED' }],
      },
      argv: ['gcloud', 'firestore', 'databases', 'update', db, '--delete-protection', p, '--quiet'],
      retry: 'contention',
    }),
  ];

  for (const ix of indexes.indexes) {
    steps.push(
      gcloud({
        id: `firestore:index:${ix.collectionGroup}:${ix.fields.map((f) => f.fieldPath).join(',')}`,
        title: `Composite index on ${ix.collectionGroup} (${ix.fields.map((f) => `${f.fieldPath} ${f.order === 'ASCENDING' ? 'asc' : 'desc'}`).join(', ')}); builds in the background`,
        action: 'ensure',
        check: {
          argv: indexList(db, p),
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
        retry: 'contention',
      }),
    );
  }

  for (const fo of indexes.fieldOverrides) {
    const fieldDescribe = [
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
            argv: fieldDescribe,
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
          retry: 'contention',
        }),
      );
    }
    if (fo.ttl) {
      steps.push(
        gcloud({
          id: `firestore:ttl:${fo.collectionGroup}.${fo.fieldPath}`,
          title: `TTL policy on ${fo.collectionGroup}.${fo.fieldPath} (deletes documents after the time it holds, typically within 24 h)`,
          action: 'ensure',
          check: {
            argv: fieldDescribe,
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
          retry: 'contention',
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
  return steps;
}

const indexList = (db: string, p: string): Argv => [
  'gcloud',
  'firestore',
  'indexes',
  'composite',
  'list',
  db,
  p,
  '--format=json',
];

/** Every composite index READY: the first scheduled runs query with them. */
function indexWait(o: PlanDeployOptions, config: Config, indexes: FirestoreIndexes): WaitStep | undefined {
  if (indexes.indexes.length === 0) return undefined;
  const db = `--database=${config.firestoreDatabase}`;
  const p = projectFlag(o.project);
  return {
    kind: 'wait',
    id: 'firestore:indexes-ready',
    title: `Wait until the ${indexes.indexes.length} composite indexes are READY (the scheduled functions query with them)`,
    check: {
      argv: indexList(db, p),
      expect: indexes.indexes.map((ix) => ({
        kind: 'composite-index' as const,
        collectionGroup: ix.collectionGroup,
        queryScope: ix.queryScope,
        fields: ix.fields,
        state: 'READY',
      })),
    },
    intervalMs: 15_000,
    timeoutMs: INDEX_WAIT_MS,
    onTimeout: `the indexes are still building; the scheduler jobs were not created yet: run the deploy again later (\`gcloud firestore indexes composite list ${db} ${p}\` shows their state)`,
  };
}

/** The build service account: build logs, the function repository, and read access to the function sources only. */
function buildGrants(project: string): Grant[] {
  const bucketPrefix = (kind: 'sources' | 'uploads') =>
    `resource.name.startsWith("projects/_/buckets/gcf-v2-${kind}-${ref(PROJECT_NUMBER)}-")`;
  return [
    { on: { kind: 'project' }, role: 'roles/logging.logWriter', why: 'build logs' },
    { on: { kind: 'repository' }, role: 'roles/artifactregistry.writer', why: 'pushes the function images' },
    {
      on: { kind: 'project' },
      role: 'roles/storage.objectViewer',
      why: `reads the uploaded function source in project ${project}`,
      condition: {
        title: 'function sources only',
        expression: `${bucketPrefix('sources')} || ${bucketPrefix('uploads')}`,
      },
    },
  ];
}

function repositorySteps(project: string, region: string): GcloudStep[] {
  const p = projectFlag(project);
  const describe = [
    'gcloud',
    'artifacts',
    'repositories',
    'describe',
    REPOSITORY,
    `--location=${region}`,
    p,
    '--format=json',
  ];
  return [
    gcloud({
      id: `repository:${REPOSITORY}`,
      title: `Artifact Registry repository ${REPOSITORY} (${region}) for the function images`,
      action: 'ensure',
      check: { argv: describe, expect: [{ kind: 'equals', path: 'format', value: 'DOCKER' }] },
      argv: [
        'gcloud',
        'artifacts',
        'repositories',
        'create',
        REPOSITORY,
        '--repository-format=docker',
        `--location=${region}`,
        '--description=streamjoin function images (built by gcloud functions deploy)',
        p,
        '--quiet',
      ],
      update: {
        manual: `Artifact Registry repository ${REPOSITORY} exists but is not a Docker repository: delete it or rename REPOSITORY in infra/gcp/plan.ts`,
      },
    }),
    gcloud({
      id: `repository:${REPOSITORY}:cleanup`,
      title: `Cleanup policy on ${REPOSITORY}: keep each function's 5 newest images, delete the rest after 14 d (${CLEANUP_POLICY_FILE})`,
      action: 'ensure',
      check: {
        argv: describe,
        expect: [
          {
            kind: 'includes',
            path: 'cleanupPolicies',
            value: Object.fromEntries(CLEANUP_POLICY_IDS.map((id) => [id, { id }])),
          },
          { kind: 'one-of', path: 'cleanupPolicyDryRun', values: [false, null] },
        ],
      },
      argv: [
        'gcloud',
        'artifacts',
        'repositories',
        'set-cleanup-policies',
        REPOSITORY,
        `--location=${region}`,
        `--policy=${CLEANUP_POLICY_FILE}`,
        '--no-dry-run',
        p,
        '--quiet',
      ],
    }),
  ];
}

export function planDeploy(config: Config, o: PlanDeployOptions): Plan {
  const { project, region } = o;
  const p = projectFlag(project);
  const inputBucket = config.inputBucket;
  const warehouseBucket = bucketOf(config.warehouse, SETTINGS.warehouse.env);
  const pairs = settingPairProblems(config, o.settings);
  if (pairs.length > 0) {
    throw new StreamjoinError('config', `settings that contradict each other:\n  ${pairs.join('\n  ')}`, {
      context: { problems: pairs },
    });
  }
  const database = config.firestoreDatabase;
  const schedulerLocation = o.settings.schedulerLocation ?? region;
  const parent = `projects/${project}/locations/${schedulerLocation}`;
  const env = functionEnvironment(config, project, o.settings);
  const indexes = withCollectionPrefix(o.indexes, config.collectionPrefix);
  const ctx: RoleContext = { config, project, inputBucket, warehouseBucket };
  const roles = functionRoles(ctx);
  const scheduled = roles.filter(
    (r): r is FunctionRole & { trigger: Extract<FunctionRole['trigger'], { kind: 'schedule' }> } =>
      r.trigger.kind === 'schedule',
  );
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
  steps.push({
    kind: 'lookup',
    id: 'lookup:project-number',
    title: 'The project number (names the function source buckets)',
    variable: PROJECT_NUMBER,
    argv: ['gcloud', 'projects', 'describe', project, '--format=value(projectNumber)'],
  });

  const buckets = new Map<string, { what: string; softDelete: number | undefined }>([
    [
      inputBucket,
      { what: 'input bucket: the producer writes order and payment files here', softDelete: undefined },
    ],
  ]);
  if (!buckets.has(warehouseBucket)) {
    buckets.set(warehouseBucket, {
      what: 'warehouse bucket: the Iceberg tables',
      softDelete: o.settings.warehouseSoftDeleteSeconds,
    });
  }
  for (const [bucket, b] of buckets) steps.push(bucketSteps(project, region, bucket, b.what, b.softDelete));
  steps.push({
    kind: 'lookup',
    id: 'lookup:input-location',
    title: `The location of gs://${inputBucket} (the ingest trigger must be there)`,
    variable: INPUT_LOCATION,
    argv: [
      'gcloud',
      'storage',
      'buckets',
      'describe',
      `gs://${inputBucket}`,
      p,
      '--format=value(location.lower())',
    ],
  });

  steps.push(...firestoreSteps(o, config, indexes));

  const accounts = Object.keys(SERVICE_ACCOUNTS) as AccountRole[];
  for (const role of accounts) {
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

  steps.push(...repositorySteps(project, region));

  const grants: Binding[] = [];
  for (const r of roles) for (const g of r.grants) grants.push(grantBinding(project, region, r.name, g));
  grants.push(
    grantBinding(project, region, 'trigger', {
      on: { kind: 'project' },
      role: 'roles/eventarc.eventReceiver',
      why: 'the ingest trigger receives events',
    }),
  );
  for (const g of buildGrants(project)) grants.push(grantBinding(project, region, 'build', g));
  const project_ = grants.filter((g) => g.target.kind === 'project');
  const others = grants.filter((g) => g.target.kind !== 'project');
  for (const g of project_) steps.push(binding(project, g, 'ensure'));
  steps.push({
    kind: 'lookup',
    id: 'lookup:gcs-agent',
    title: 'The Cloud Storage service agent of the project (publishes the bucket events)',
    variable: 'GCS_SERVICE_AGENT',
    argv: ['gcloud', 'storage', 'service-agent', p],
  });
  steps.push(
    binding(
      project,
      {
        target: { kind: 'project' },
        role: 'roles/pubsub.publisher',
        member: `serviceAccount:${ref('GCS_SERVICE_AGENT')}`,
        why: 'GCS publishes finalize events for Eventarc',
      },
      'ensure',
    ),
  );
  for (const g of others) steps.push(binding(project, g, 'ensure'));
  for (const l of legacyGrants(ctx)) {
    steps.push(binding(project, grantBinding(project, region, l.account, l.grant), 'remove'));
  }

  for (const r of roles) steps.push(functionStep(r, o, inputBucket, env));

  steps.push(
    binding(
      project,
      {
        target: { kind: 'run', service: FUNCTION_NAMES.ingest, region },
        role: 'roles/run.invoker',
        member: sa('trigger', project),
        why: 'the trigger delivers events to ingest',
      },
      'ensure',
    ),
  );
  for (const r of scheduled) {
    steps.push(
      binding(
        project,
        {
          target: { kind: 'run', service: r.name, region },
          role: 'roles/run.invoker',
          member: sa('scheduler', project),
          why: `the scheduler calls ${r.name}`,
        },
        'ensure',
      ),
    );
  }

  const wait = indexWait(o, config, indexes);
  if (wait !== undefined) steps.push(wait);

  for (const r of scheduled) {
    steps.push({
      kind: 'lookup',
      id: `lookup:${r.name}-url`,
      title: `The URL of ${r.name}`,
      variable: urlVariable(r.name),
      argv: [
        'gcloud',
        'functions',
        'describe',
        r.name,
        '--gen2',
        `--region=${region}`,
        p,
        '--format=value(serviceConfig.uri)',
      ],
    });
  }
  const jobs = scheduled.map((r) => ({
    role: r,
    job: schedulerJob(
      r.name,
      r.trigger,
      parent,
      o.settings.functions[r.name].timeoutSeconds,
      o.settings.timeZone,
      project,
    ),
  }));
  for (const { role, job } of jobs) {
    steps.push({
      kind: 'scheduler-job',
      id: `scheduler:${role.name}`,
      title: `Cloud Scheduler job ${jobId(role.name)}: POST to ${role.name} (${job.schedule}) with an OIDC token of the invoker account`,
      action: 'ensure',
      parent,
      name: job.name,
      job,
    });
  }

  steps.push(...monitoringDeploySteps({ project, alerts: alertSettings(config), alertEmail: o.alertEmail }));

  const joined = tablePath(config, config.joinedTable);
  const unmatched = tablePath(config, config.unmatchedTable);
  return {
    kind: 'deploy',
    project,
    region,
    preflight: {
      projectNumber: ['gcloud', 'projects', 'describe', project, '--format=value(projectNumber)'],
      buckets: [...buckets].map(([bucket, b]) => ({
        bucket,
        setting: bucket === inputBucket ? SETTINGS.inputBucket.env : SETTINGS.warehouse.env,
        what: b.what.slice(0, b.what.indexOf(':')),
        argv: describeBucket(project, bucket),
      })),
    },
    steps,
    summary: [
      [
        'input bucket',
        `gs://${inputBucket}/ (${plural(config.joinSpec.left.name)} under ${config.ordersPrefix}, ${plural(config.joinSpec.right.name)} under ${config.paymentsPrefix}; trigger in ${ref(INPUT_LOCATION)})`,
      ],
      ['warehouse', config.warehouse],
      [
        'joined table',
        `${config.namespace}.${config.joinedTable} at ${joined} (metadata: ${joined}metadata/)`,
      ],
      ['unmatched table', `${config.namespace}.${config.unmatchedTable} at ${unmatched}`],
      ['firestore', `database ${database} (delete protection on), collections ${config.collectionPrefix}_*`],
      ['ingest', `runs on every object finalized in gs://${inputBucket}/ (retried on failure)`],
      ...jobs.map(({ role, job }): [string, string] => [
        role.name,
        `${ref(urlVariable(role.name))} (${job.schedule}, job ${parent}/jobs/${jobId(role.name)}; internal ingress: run it by hand with \`gcloud scheduler jobs run ${jobId(role.name)} --location=${schedulerLocation} ${p}\`)`,
      ]),
      [
        'images',
        `projects/${project}/locations/${region}/repositories/${REPOSITORY} (cleanup policy: 5 newest per function)`,
      ],
      ['logs', `gcloud functions logs read --region=${region} ${p} --limit=50`],
      [
        'monitoring',
        `dashboard "${DASHBOARD_NAME}" (https://console.cloud.google.com/monitoring/dashboards?project=${project}), ${METRICS.length} log-based metrics streamjoin_*, alert policies "streamjoin: …" ${o.alertEmail === undefined ? '(no notification channel: incidents show in the console; deploy with --alert-email to be e-mailed)' : `e-mailed to ${o.alertEmail}`}`,
      ],
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
  const warehouseBucket = bucketOf(config.warehouse, SETTINGS.warehouse.env);
  const ctx: RoleContext = { config, project, inputBucket, warehouseBucket };
  const roles = functionRoles(ctx);

  for (const r of roles) {
    if (r.trigger.kind !== 'schedule') continue;
    steps.push({
      kind: 'scheduler-job',
      id: `scheduler:${r.name}`,
      title: `Delete the Cloud Scheduler job ${jobId(r.name)}`,
      action: 'remove',
      parent,
      name: `${parent}/jobs/${jobId(r.name)}`,
    });
  }
  for (const r of roles) {
    steps.push(
      gcloud({
        id: `function:${r.name}`,
        title: `Delete the ${r.name} function (with its trigger and its Cloud Run service and invoker grants)`,
        action: 'remove',
        check: {
          argv: [
            'gcloud',
            'functions',
            'describe',
            r.name,
            '--gen2',
            `--region=${region}`,
            p,
            '--format=json',
          ],
          expect: [],
        },
        argv: ['gcloud', 'functions', 'delete', r.name, '--gen2', `--region=${region}`, p, '--quiet'],
      }),
    );
  }
  // Every grant the deploy made, revoked before the accounts go: IAM keeps a deleted account's
  // bindings (as deleted:serviceAccount:…) until they are removed.
  const grants: Binding[] = [];
  for (const r of roles) for (const g of r.grants) grants.push(grantBinding(project, region, r.name, g));
  grants.push(
    grantBinding(project, region, 'trigger', {
      on: { kind: 'project' },
      role: 'roles/eventarc.eventReceiver',
      why: 'the ingest trigger',
    }),
  );
  for (const g of buildGrants(project)) {
    if (g.on.kind !== 'repository') grants.push(grantBinding(project, region, 'build', g));
  }
  for (const l of legacyGrants(ctx)) grants.push(grantBinding(project, region, l.account, l.grant));
  if (grants.some((g) => g.condition?.expression.includes(ref(PROJECT_NUMBER)))) {
    steps.push({
      kind: 'lookup',
      id: 'lookup:project-number',
      title: 'The project number (names the function source buckets in a revoked condition)',
      variable: PROJECT_NUMBER,
      argv: ['gcloud', 'projects', 'describe', project, '--format=value(projectNumber)'],
    });
  }
  for (const g of grants) steps.push(binding(project, g, 'remove'));
  steps.push(
    gcloud({
      id: `repository:${REPOSITORY}`,
      title: `Delete the Artifact Registry repository ${REPOSITORY} and the function images in it`,
      action: 'remove',
      check: {
        argv: [
          'gcloud',
          'artifacts',
          'repositories',
          'describe',
          REPOSITORY,
          `--location=${region}`,
          p,
          '--format=json',
        ],
        expect: [],
      },
      argv: [
        'gcloud',
        'artifacts',
        'repositories',
        'delete',
        REPOSITORY,
        `--location=${region}`,
        p,
        '--quiet',
      ],
    }),
  );
  for (const role of Object.keys(SERVICE_ACCOUNTS) as AccountRole[]) {
    const email = serviceAccountEmail(role, project);
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
  steps.push(...monitoringDestroySteps(project, alertSettings(config)));
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
          title: `Delete gs://${bucket} and every object in it, if the deploy created it`,
          action: 'remove',
          check: {
            argv: describeBucket(project, bucket),
            expect: [{ kind: 'equals', path: `labels.${CREATED_LABEL}`, value: CREATED_VALUE }],
          },
          keepUnless: `the deploy adopted it (it has no ${CREATED_LABEL}=${CREATED_VALUE} label): delete it yourself if you mean to`,
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
          ? `enabled APIs; the Firestore database ${config.firestoreDatabase} (delete protection; now empty of streamjoin data), its indexes, TTL policies and rules; any bucket the deploy adopted rather than created`
          : `gs://${inputBucket}/, ${config.warehouse} (the tables), the Firestore database with its data, indexes, TTL policies and rules, enabled APIs`,
      ],
      [
        'also kept',
        "the Cloud Storage service agent's roles/pubsub.publisher (shared by every GCS trigger in the project)",
      ],
    ],
  };
}
