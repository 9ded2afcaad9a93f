// Deploy-time settings of the functions (memory, CPU, timeout, concurrency, instances) and of the
// deployment itself. The functions never read these: they only shape `gcloud functions deploy`. The
// pairs of settings that must agree with each other (the ingest time budget and the function timeout,
// the ingest memory budget and the instance memory) are checked here, at plan time, with every problem
// reported at once.

import { FUNCTION_NAMES, type FunctionName } from '../../functions/names.ts';
import type { Config, Setting } from '../../shared/config.ts';
import { ingestBudgetProblem, parseDuration } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';

export interface FunctionSpec {
  /** Cloud Run memory limit, e.g. `512Mi`, `1Gi`. */
  readonly memory: string;
  /** vCPUs, e.g. `1`, `0.5`. Concurrency above 1 needs at least 1 vCPU. */
  readonly cpu: string;
  readonly timeoutSeconds: number;
  readonly concurrency: number;
  readonly maxInstances: number;
  readonly minInstances: number;
  /**
   * NODE_OPTIONS of the function's instances ('' = none): V8 heap flags, so that the heap is sized the
   * same on the instance and wherever the bench measures it (bench/support.ts deployedCompactConfig).
   */
  readonly nodeOptions: string;
}

export interface DeploySettings {
  readonly functions: Readonly<Record<FunctionName, FunctionSpec>>;
  /** Firestore location when the database has to be created (a region or `nam5`/`eur3`); default: the region. */
  readonly firestoreLocation: string | undefined;
  /** Cloud Scheduler location; default: the region. */
  readonly schedulerLocation: string | undefined;
  readonly timeZone: string;
  /** Soft-delete retention of the warehouse bucket in seconds (0 = off; otherwise 7 d to 90 d). */
  readonly warehouseSoftDeleteSeconds: number;
}

class BadValue extends Error {}

const memory = (raw: string): string => {
  if (!/^\d+(Mi|Gi)$/.test(raw)) throw new BadValue();
  return raw;
};
const cpu = (raw: string): string => {
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(raw) || Number(raw) <= 0 || Number(raw) > 8) throw new BadValue();
  return raw;
};
const seconds =
  (max: number) =>
  (raw: string): number => {
    const ms = parseDuration(raw);
    if (ms < 1000 || ms % 1000 !== 0 || ms / 1000 > max) throw new BadValue();
    return ms / 1000;
  };
const int =
  (min: number, max: number) =>
  (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new BadValue();
    const n = Number(raw);
    if (n < min || n > max) throw new BadValue();
    return n;
  };
const location = (raw: string): string => {
  if (!/^[a-z][a-z0-9-]{1,40}$/.test(raw)) throw new BadValue();
  return raw;
};
const timeZone = (raw: string): string => {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(raw)) throw new BadValue();
  return raw;
};
/** Node/V8 flags only (`--name` or `--name=value`, space-separated), or `none` ('' by default). */
const nodeOptions = (raw: string): string => {
  if (raw === 'none') return '';
  if (
    raw !== '' &&
    !/^--[a-z][a-z0-9-]*(=[A-Za-z0-9._-]+)?( --[a-z][a-z0-9-]*(=[A-Za-z0-9._-]+)?)*$/.test(raw)
  )
    throw new BadValue();
  return raw;
};
/** Cloud Storage accepts 0 (soft delete off) or 7 to 90 days. */
const softDelete = (raw: string): number => {
  const ms = parseDuration(raw);
  const s = ms / 1000;
  if (!Number.isInteger(s) || (s !== 0 && (s < 7 * 86_400 || s > 90 * 86_400))) throw new BadValue();
  return s;
};

/** `512Mi` / `2Gi` → bytes. */
export function memoryBytes(spec: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(spec);
  if (m === null)
    throw new StreamjoinError('config', `expected a memory size such as 512Mi, but was: ${spec}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
}

function deploySetting<T>(
  env: string,
  def: string | undefined,
  expected: string,
  parse: (raw: string) => T,
  description: string,
): Setting<T> {
  return { env, default: def, expected, parse, description, deploy: false };
}

/** Event-driven functions stop at 540 s; HTTP functions at 3600 s (Cloud Run functions limits). */
export const EVENT_MAX_TIMEOUT_S = 540;
export const HTTP_MAX_TIMEOUT_S = 3600;

function functionSettings(
  name: FunctionName,
  defaults: Record<keyof FunctionSpec, string>,
  maxTimeout: number,
) {
  const up = `STREAMJOIN_${name.toUpperCase()}`;
  return {
    memory: deploySetting(
      `${up}_MEMORY`,
      defaults.memory,
      'a memory size such as 512Mi or 2Gi',
      memory,
      `Memory of ${name}.`,
    ),
    cpu: deploySetting(
      `${up}_CPU`,
      defaults.cpu,
      'a CPU count in (0, 8] such as 1 or 0.5',
      cpu,
      `vCPUs of ${name}.`,
    ),
    timeoutSeconds: deploySetting(
      `${up}_FUNCTION_TIMEOUT`,
      defaults.timeoutSeconds,
      `a whole number of seconds in [1s, ${maxTimeout}s]`,
      seconds(maxTimeout),
      `Execution timeout of ${name}.`,
    ),
    concurrency: deploySetting(
      `${up}_CONCURRENCY`,
      defaults.concurrency,
      'an integer in [1, 1000]',
      int(1, 1000),
      `Concurrent requests per ${name} instance.`,
    ),
    maxInstances: deploySetting(
      `${up}_MAX_INSTANCES`,
      defaults.maxInstances,
      'an integer in [1, 1000]',
      int(1, 1000),
      `Most ${name} instances at once.`,
    ),
    minInstances: deploySetting(
      `${up}_MIN_INSTANCES`,
      defaults.minInstances,
      'an integer in [0, 100]',
      int(0, 100),
      `Instances of ${name} kept warm (each costs money at idle).`,
    ),
    nodeOptions: deploySetting(
      `${up}_NODE_OPTIONS`,
      defaults.nodeOptions,
      'Node flags such as --max-old-space-size=128, space-separated, or none',
      nodeOptions,
      `NODE_OPTIONS of ${name}'s instances.`,
    ),
  };
}

/**
 * Size and limits of each deployed function, by name: adding a function to functions/names.ts makes
 * this table (and the plan's FUNCTION_ROLES) fail to type-check until it has an entry.
 *
 * ingest: one file per event; concurrency 8 on 1 vCPU keeps the instance count (and cold starts) low.
 * Its memory comes from the measured peak at that concurrency with the ingest memory budget full
 * (`npm run bench -- --only ingest-memory`, docs/deploy.md "Sizing ingest"). tick and compact run
 * alone: one instance, one request, so an overlapping scheduler call is refused (429) and retried
 * instead of contending for the same rows.
 *
 * compact streams its rewrites row group by row group, so its memory does not grow with the files:
 * 512 MiB with V8 held to a 128 MiB old space and 1 MiB semi-spaces (what Node would choose itself in a
 * container of about 512 MiB, but pinned, so the bench measures exactly the deployed heap on any
 * machine: `npm run bench -- --only compaction` runs its child with these NODE_OPTIONS and checks the
 * peak RSS against 256 MiB, for 1,000,000 and 10,000,000 rows; docs/deploy.md "Sizing compact").
 */
export const FUNCTION_DEFAULTS: Readonly<
  Record<FunctionName, { readonly defaults: Record<keyof FunctionSpec, string>; readonly maxTimeout: number }>
> = {
  ingest: {
    defaults: {
      memory: '1Gi',
      cpu: '1',
      timeoutSeconds: '540s',
      concurrency: '8',
      maxInstances: '20',
      minInstances: '0',
      nodeOptions: '',
    },
    maxTimeout: EVENT_MAX_TIMEOUT_S,
  },
  tick: {
    defaults: {
      memory: '1Gi',
      cpu: '1',
      timeoutSeconds: '300s',
      concurrency: '1',
      maxInstances: '1',
      minInstances: '0',
      nodeOptions: '',
    },
    maxTimeout: HTTP_MAX_TIMEOUT_S,
  },
  compact: {
    defaults: {
      memory: '512Mi',
      cpu: '1',
      timeoutSeconds: '540s',
      concurrency: '1',
      maxInstances: '1',
      minInstances: '0',
      nodeOptions: '--max-old-space-size=128 --max-semi-space-size=1',
    },
    maxTimeout: HTTP_MAX_TIMEOUT_S,
  },
  // reconcile lists the input folders and ingests what its event never brought, 8 objects at a time
  // (each as ingest would: the ingest memory budget's worth of working set per object at most).
  reconcile: {
    defaults: {
      memory: '1Gi',
      cpu: '1',
      timeoutSeconds: '540s',
      concurrency: '1',
      maxInstances: '1',
      minInstances: '0',
      nodeOptions: '',
    },
    maxTimeout: HTTP_MAX_TIMEOUT_S,
  },
};

const FUNCTIONS = Object.values(FUNCTION_NAMES) as FunctionName[];

export const FUNCTION_SETTINGS = Object.fromEntries(
  FUNCTIONS.map((name) => [
    name,
    functionSettings(name, FUNCTION_DEFAULTS[name].defaults, FUNCTION_DEFAULTS[name].maxTimeout),
  ]),
) as Readonly<Record<FunctionName, ReturnType<typeof functionSettings>>>;

export const DEPLOY_SETTINGS = {
  ...FUNCTION_SETTINGS,
  firestoreLocation: deploySetting(
    'STREAMJOIN_FIRESTORE_LOCATION',
    undefined,
    'a Firestore location such as europe-west1 or eur3',
    location,
    'Where the Firestore database is created if missing (default: the region).',
  ),
  schedulerLocation: deploySetting(
    'STREAMJOIN_SCHEDULER_LOCATION',
    undefined,
    'a Cloud Scheduler location such as europe-west1',
    location,
    'Where the Cloud Scheduler jobs live (default: the region).',
  ),
  timeZone: deploySetting(
    'STREAMJOIN_SCHEDULER_TIME_ZONE',
    'Etc/UTC',
    'an IANA time zone',
    timeZone,
    'Time zone of the scheduler jobs.',
  ),
  warehouseSoftDelete: deploySetting(
    'STREAMJOIN_WAREHOUSE_SOFT_DELETE',
    '0',
    '0 (off) or a duration from 7d to 90d',
    softDelete,
    'Soft-delete retention of the warehouse bucket (off: Iceberg snapshots are the recovery; see docs/deploy.md).',
  ),
};

/** Reads and validates the deploy settings; every bad value is reported at once. */
export function loadDeploySettings(env: Record<string, string | undefined> = process.env): DeploySettings {
  const problems: string[] = [];
  const read = <T>(s: Setting<T>): T | undefined => {
    const raw = env[s.env];
    const value = raw === undefined || raw === '' ? s.default : raw;
    if (value === undefined) return undefined;
    try {
      return s.parse(value);
    } catch {
      problems.push(`${s.env} must be ${s.expected}, but was: ${JSON.stringify(value)}`);
      return undefined;
    }
  };
  const fn = (name: FunctionName): FunctionSpec => {
    const s = FUNCTION_SETTINGS[name];
    return {
      memory: read(s.memory)!,
      cpu: read(s.cpu)!,
      timeoutSeconds: read(s.timeoutSeconds)!,
      concurrency: read(s.concurrency)!,
      maxInstances: read(s.maxInstances)!,
      minInstances: read(s.minInstances)!,
      nodeOptions: read(s.nodeOptions)!,
    };
  };
  const functions = Object.fromEntries(FUNCTIONS.map((name) => [name, fn(name)])) as Record<
    FunctionName,
    FunctionSpec
  >;
  for (const [name, spec] of Object.entries(functions)) {
    if (spec.concurrency > 1 && Number(spec.cpu) < 1) {
      problems.push(
        `STREAMJOIN_${name.toUpperCase()}_CONCURRENCY above 1 needs STREAMJOIN_${name.toUpperCase()}_CPU of at least 1, but CPU was: ${JSON.stringify(spec.cpu)}`,
      );
    }
  }
  const settings: DeploySettings = {
    functions,
    firestoreLocation: read(DEPLOY_SETTINGS.firestoreLocation),
    schedulerLocation: read(DEPLOY_SETTINGS.schedulerLocation),
    timeZone: read(DEPLOY_SETTINGS.timeZone)!,
    warehouseSoftDeleteSeconds: read(DEPLOY_SETTINGS.warehouseSoftDelete)!,
  };
  if (problems.length > 0) {
    throw new StreamjoinError('config', `invalid deploy settings:\n  ${problems.join('\n  ')}`, {
      context: { problems },
    });
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------------
// Pairs of settings that must agree

/**
 * Memory of an ingest instance that is not the admission budget: Node, the Google clients, the
 * Functions Framework, and the working set of the requests themselves (a chunk's states and writes).
 * Measured by `npm run bench -- --only ingest-memory` (docs/deploy.md "Sizing ingest"): peak RSS with
 * 8 concurrent requests and an empty budget stayed under this.
 */
export const INGEST_BASE_MEMORY_BYTES = 256 * 1024 ** 2;

const mib = (bytes: number): string => `${Math.round(bytes / 1024 ** 2)} MiB`;

/**
 * The configuration and the deploy settings against each other: each problem names both settings,
 * both values and the rule. Empty when they agree.
 */
export function settingPairProblems(
  config: Pick<Config, 'ingestTimeBudgetMs' | 'ingestMemoryBudget'>,
  settings: Pick<DeploySettings, 'functions'>,
): string[] {
  const problems: string[] = [];
  const ingest = settings.functions.ingest;
  const budget = ingestBudgetProblem(config.ingestTimeBudgetMs, ingest.timeoutSeconds * 1000);
  if (budget !== undefined) problems.push(budget);
  const available = memoryBytes(ingest.memory) - INGEST_BASE_MEMORY_BYTES;
  if (config.ingestMemoryBudget > available) {
    problems.push(
      `STREAMJOIN_INGEST_MEMORY_BUDGET (${mib(config.ingestMemoryBudget)}) plus the measured base of an ingest instance (${mib(INGEST_BASE_MEMORY_BYTES)}) must fit STREAMJOIN_INGEST_MEMORY (${ingest.memory}): lower the budget to at most ${mib(Math.max(available, 0))} or raise the memory`,
    );
  }
  return problems;
}
