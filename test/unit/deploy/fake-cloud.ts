// A small model of the Google Cloud state the deploy touches, answering the gcloud lines the plan
// produces (and the Scheduler / Rules ports) the way the real CLI does: JSON on describe, "NOT_FOUND"
// on stderr for a missing resource, a 403 for a bucket another project owns. Lets a test run a deploy
// twice and count what changed. What the real gcloud sends and answers is proven separately against
// a loopback stand-in of the APIs (test/integration/deploy-gcloud-*.test.ts).
import { readFileSync } from 'node:fs';
import type { CommandResult, RulesApi, SchedulerApi } from '../../../infra/gcp/execute.ts';
import type { Argv, SchedulerJob } from '../../../infra/gcp/plan.ts';

type Binding = { role: string; members: string[]; condition?: { expression: string; title: string } };
type Policy = { bindings: Binding[] };

interface Bucket {
  projectNumber: string;
  location: string;
  uniform: boolean;
  pap: string;
  softDeleteSeconds: number;
  labels: Record<string, string>;
  policy: Policy;
}

export const FAKE_PROJECT_NUMBER = '42';

export class FakeCloud {
  services = new Set<string>();
  buckets = new Map<string, Bucket>();
  /** Bucket names owned by another project: describe answers 403, create 409. */
  takenBuckets = new Set<string>();
  database: { type: string; deleteProtectionState?: string } | undefined;
  /** A created database answers describe only after this many more describes (a fresh project). */
  databaseDelay = 0;
  private databaseHidden = 0;
  indexes: {
    name: string;
    queryScope: string;
    state: string;
    fields: { fieldPath: string; order: string }[];
  }[] = [];
  /** A created index turns READY after this many index listings. */
  indexBuildLists = 0;
  private indexAge = new Map<string, number>();
  fields = new Map<string, { ttl: boolean; exempt: boolean }>();
  accounts = new Set<string>();
  projectPolicy: Policy = { bindings: [] };
  repository:
    | { format: string; cleanupPolicies?: Record<string, { id: string }>; policy: Policy }
    | undefined;
  functions = new Map<
    string,
    {
      labels: Record<string, string>;
      sa: string;
      env: Record<string, string>;
      ingress: string;
      triggerRegion: string | undefined;
      policy: Policy;
    }
  >();
  jobs = new Map<string, Record<string, unknown>>();
  /** Log-based metrics by name (the LogMetric as the API returns it). */
  logMetrics = new Map<string, Record<string, unknown>>();
  /** Monitoring resources by their server-assigned name. */
  alertPolicies = new Map<string, Record<string, unknown>>();
  channels = new Map<string, Record<string, unknown>>();
  dashboards = new Map<string, Record<string, unknown>>();
  private nextId = 1000;
  /** Where `--config-from-file` paths are read from (the deploy runs at the repository root). */
  root = new URL('../../../', import.meta.url).pathname;
  rulesets = new Map<string, { name: string; content: string }[]>();
  releases = new Map<string, string>();
  /** Every command that was not a read. */
  mutations: string[] = [];
  /** Fail the next matching mutation with this stderr (eventual consistency, contention, a bad build). */
  failNext: { match: RegExp; stderr: string; times: number } | undefined;

  private flag(argv: Argv, name: string): string | undefined {
    const hit = argv.find((a) => a.startsWith(`--${name}=`));
    return hit?.slice(name.length + 3);
  }

  private ok(stdout: unknown = ''): CommandResult {
    return { exitCode: 0, stdout: typeof stdout === 'string' ? stdout : JSON.stringify(stdout), stderr: '' };
  }
  private notFound(what: string): CommandResult {
    return { exitCode: 1, stdout: '', stderr: `ERROR: (gcloud) NOT_FOUND: ${what} not found` };
  }

  /** `--condition=None` → unconditional; `expression=…,title=…` (or the `^;^` form) → that condition. */
  private condition(argv: Argv): Binding['condition'] {
    const raw = this.flag(argv, 'condition');
    if (raw === undefined || raw === 'None') return undefined;
    const [sep, body] = raw.startsWith('^;^') ? [';', raw.slice(3)] : [',', raw];
    const kv = Object.fromEntries(
      body.split(sep).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    return { expression: kv['expression']!, title: kv['title']! };
  }

  private bind(policy: Policy, argv: Argv, add: boolean): void {
    const role = this.flag(argv, 'role')!;
    const member = this.flag(argv, 'member')!;
    const condition = this.condition(argv);
    const same = (b: Binding) => b.role === role && b.condition?.expression === condition?.expression;
    let b = policy.bindings.find(same);
    if (b === undefined) {
      b = { role, members: [], ...(condition === undefined ? {} : { condition }) };
      policy.bindings.push(b);
    }
    if (add && !b.members.includes(member)) b.members.push(member);
    if (!add) b.members = b.members.filter((m) => m !== member);
    policy.bindings = policy.bindings.filter((x) => x.members.length > 0);
  }

  private rawBucket(name: string, b: Bucket) {
    return {
      kind: 'storage#bucket',
      name,
      projectNumber: b.projectNumber,
      location: b.location.toUpperCase(),
      iamConfiguration: {
        uniformBucketLevelAccess: { enabled: b.uniform },
        publicAccessPrevention: b.pap,
      },
      softDeletePolicy: { retentionDurationSeconds: String(b.softDeleteSeconds) },
      ...(Object.keys(b.labels).length > 0 ? { labels: b.labels } : {}),
    };
  }

  private softDelete(argv: Argv): number | undefined {
    const raw = this.flag(argv, 'soft-delete-duration');
    return raw === undefined ? undefined : Number(raw.replace(/s$/, ''));
  }

  run = async (argv: Argv): Promise<CommandResult> => {
    const words = argv.filter((a) => !a.startsWith('-'));
    const cmd = words.slice(1, 5).join(' ');
    const read = /\b(describe|list|get-iam-policy|service-agent)\b/.test(cmd);
    if (!read) {
      this.mutations.push(argv.join(' '));
      if (
        this.failNext !== undefined &&
        this.failNext.times > 0 &&
        this.failNext.match.test(argv.join(' '))
      ) {
        this.failNext.times--;
        return { exitCode: 1, stdout: '', stderr: this.failNext.stderr };
      }
    }
    const at = (i: number): string => words[i]!;
    if (cmd.startsWith('services list'))
      return this.ok([...this.services].map((n) => ({ config: { name: n } })));
    if (cmd.startsWith('services enable')) {
      for (const w of words.slice(3)) this.services.add(w);
      return this.ok();
    }
    if (cmd.startsWith('projects describe')) return this.ok(`${FAKE_PROJECT_NUMBER}\n`);
    if (cmd.startsWith('storage buckets describe')) {
      const name = at(4).slice(5);
      if (this.takenBuckets.has(name)) {
        return {
          exitCode: 1,
          stdout: '',
          stderr: `ERROR: (gcloud.storage.buckets.describe) HTTPError 403: you@example.com does not have storage.buckets.get access to the Google Cloud Storage bucket. Permission 'storage.buckets.get' denied on resource (or it may not exist).`,
        };
      }
      const b = this.buckets.get(name);
      if (b === undefined) return this.notFound('bucket');
      if (argv.includes('--format=value(location.lower())')) return this.ok(`${b.location.toLowerCase()}\n`);
      return this.ok(this.rawBucket(name, b));
    }
    if (cmd.startsWith('storage buckets create')) {
      const name = at(4).slice(5);
      if (this.takenBuckets.has(name) || this.buckets.has(name)) {
        return {
          exitCode: 1,
          stdout: '',
          stderr: 'ERROR: HTTPError 409: The requested bucket name is not available.',
        };
      }
      this.buckets.set(name, {
        projectNumber: FAKE_PROJECT_NUMBER,
        location: this.flag(argv, 'location')!,
        uniform: argv.includes('--uniform-bucket-level-access'),
        pap: argv.includes('--public-access-prevention') ? 'enforced' : 'inherited',
        softDeleteSeconds: this.softDelete(argv) ?? 604_800,
        labels: {},
        policy: { bindings: [] },
      });
      return this.ok();
    }
    if (cmd.startsWith('storage buckets update')) {
      const b = this.buckets.get(at(4).slice(5))!;
      if (argv.includes('--uniform-bucket-level-access')) b.uniform = true;
      if (argv.includes('--public-access-prevention')) b.pap = 'enforced';
      b.softDeleteSeconds = this.softDelete(argv) ?? b.softDeleteSeconds;
      const labels = this.flag(argv, 'update-labels');
      if (labels !== undefined) {
        for (const kv of labels.split(',')) b.labels[kv.split('=')[0]!] = kv.split('=')[1]!;
      }
      return this.ok();
    }
    if (cmd.startsWith('storage buckets get-iam-policy'))
      return this.ok(this.buckets.get(at(4).slice(5))!.policy);
    if (cmd.startsWith('storage buckets add-iam-policy-binding')) {
      this.bind(this.buckets.get(at(4).slice(5))!.policy, argv, true);
      return this.ok();
    }
    if (cmd.startsWith('storage buckets remove-iam-policy-binding')) {
      this.bind(this.buckets.get(at(4).slice(5))!.policy, argv, false);
      return this.ok();
    }
    if (cmd.startsWith('storage service-agent'))
      return this.ok('service-42@gs-project-accounts.iam.gserviceaccount.com\n');
    if (cmd.startsWith('storage rm')) {
      this.buckets.delete(words.find((w) => w.startsWith('gs://'))!.slice(5));
      return this.ok();
    }
    if (cmd.startsWith('firestore databases describe')) {
      if (this.database === undefined) return this.notFound('database');
      if (this.databaseHidden > 0) {
        this.databaseHidden--;
        return this.notFound('database');
      }
      return this.ok(this.database);
    }
    if (cmd.startsWith('firestore databases create')) {
      this.database = {
        type: 'FIRESTORE_NATIVE',
        ...(argv.includes('--delete-protection')
          ? { deleteProtectionState: 'DELETE_PROTECTION_ENABLED' }
          : { deleteProtectionState: 'DELETE_PROTECTION_DISABLED' }),
      };
      this.databaseHidden = this.databaseDelay;
      return this.ok();
    }
    if (cmd.startsWith('firestore databases update')) {
      if (argv.includes('--delete-protection'))
        this.database!.deleteProtectionState = 'DELETE_PROTECTION_ENABLED';
      return this.ok();
    }
    if (cmd.startsWith('firestore indexes composite list')) {
      for (const ix of this.indexes) {
        const age = (this.indexAge.get(ix.name) ?? 0) + 1;
        this.indexAge.set(ix.name, age);
        if (age > this.indexBuildLists) ix.state = 'READY';
      }
      return this.ok(this.indexes);
    }
    if (cmd.startsWith('firestore indexes composite create')) {
      const cg = this.flag(argv, 'collection-group')!;
      const fields = argv
        .filter((a) => a.startsWith('--field-config='))
        .map((a) => {
          const m = /field-path=([^,]+),order=(\w+)/.exec(a)!;
          return { fieldPath: m[1]!, order: m[2]!.toUpperCase() };
        });
      this.indexes.push({
        name: `projects/p/databases/(default)/collectionGroups/${cg}/indexes/i${this.indexes.length}`,
        queryScope: 'COLLECTION',
        state: this.indexBuildLists === 0 ? 'READY' : 'CREATING',
        fields: [...fields, { fieldPath: '__name__', order: 'ASCENDING' }],
      });
      return this.ok();
    }
    if (cmd.startsWith('firestore indexes fields describe')) {
      const f = this.fields.get(`${this.flag(argv, 'collection-group')}.${at(5)}`) ?? {
        ttl: false,
        exempt: false,
      };
      return this.ok({
        indexConfig: f.exempt
          ? {}
          : { usesAncestorConfig: true, indexes: [{ queryScope: 'COLLECTION', fields: [] }] },
        ...(f.ttl ? { ttlConfig: { state: 'ACTIVE' } } : {}),
      });
    }
    if (cmd.startsWith('firestore indexes fields update') || cmd.startsWith('firestore fields ttls update')) {
      const key = `${this.flag(argv, 'collection-group')}.${at(5)}`;
      const f = this.fields.get(key) ?? { ttl: false, exempt: false };
      if (argv.includes('--enable-ttl')) f.ttl = true;
      if (argv.includes('--disable-indexes')) f.exempt = true;
      this.fields.set(key, f);
      return this.ok();
    }
    if (cmd.startsWith('firestore bulk-delete')) return this.ok();
    if (cmd.startsWith('iam service-accounts describe')) {
      return this.accounts.has(at(4)) ? this.ok({ email: at(4) }) : this.notFound('service account');
    }
    if (cmd.startsWith('iam service-accounts create')) {
      this.accounts.add(`${at(4)}@sample-project.iam.gserviceaccount.com`);
      return this.ok();
    }
    if (cmd.startsWith('iam service-accounts delete')) {
      this.accounts.delete(at(4));
      return this.ok();
    }
    if (cmd.startsWith('projects get-iam-policy')) return this.ok(this.projectPolicy);
    if (
      cmd.startsWith('projects add-iam-policy-binding') ||
      cmd.startsWith('projects remove-iam-policy-binding')
    ) {
      this.bind(this.projectPolicy, argv, cmd.startsWith('projects add'));
      return this.ok();
    }
    if (cmd.startsWith('artifacts repositories describe')) {
      return this.repository === undefined
        ? this.notFound('repository')
        : this.ok({ format: this.repository.format, cleanupPolicies: this.repository.cleanupPolicies });
    }
    if (cmd.startsWith('artifacts repositories create')) {
      this.repository = { format: 'DOCKER', policy: { bindings: [] } };
      return this.ok();
    }
    if (cmd.startsWith('artifacts repositories set-cleanup-policies')) {
      this.repository!.cleanupPolicies = {
        'keep-recent': { id: 'keep-recent' },
        'delete-old': { id: 'delete-old' },
      };
      return this.ok();
    }
    if (cmd.startsWith('artifacts repositories delete')) {
      this.repository = undefined;
      return this.ok();
    }
    if (cmd.startsWith('artifacts repositories get-iam-policy')) {
      return this.repository === undefined ? this.notFound('repository') : this.ok(this.repository.policy);
    }
    if (cmd.startsWith('artifacts repositories add-iam-policy-binding')) {
      this.bind(this.repository!.policy, argv, true);
      return this.ok();
    }
    if (cmd.startsWith('functions describe')) {
      const f = this.functions.get(at(3));
      if (f === undefined) return this.notFound('function');
      if (argv.some((a) => a.startsWith('--format=value(')))
        return this.ok(`https://${at(3)}-42.europe-west1.run.app\n`);
      return this.ok({
        state: 'ACTIVE',
        labels: f.labels,
        ...(f.triggerRegion === undefined ? {} : { eventTrigger: { triggerRegion: f.triggerRegion } }),
        serviceConfig: {
          serviceAccountEmail: f.sa,
          ingressSettings: f.ingress,
          environmentVariables: { ...f.env, LOG_EXECUTION_ID: 'true' },
        },
      });
    }
    if (cmd.startsWith('functions deploy')) {
      const raw = this.flag(argv, 'set-env-vars')!;
      const [sep, body] = raw.startsWith('^') ? [raw[1]!, raw.slice(3)] : [',', raw];
      const env = Object.fromEntries(
        body.split(sep).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      const [k, v] = this.flag(argv, 'update-labels')!.split('=');
      const old = this.functions.get(at(3));
      this.functions.set(at(3), {
        labels: { [k!]: v! },
        sa: this.flag(argv, 'service-account')!,
        env,
        ingress: { 'internal-only': 'ALLOW_INTERNAL_ONLY', all: 'ALLOW_ALL' }[
          this.flag(argv, 'ingress-settings') ?? 'all'
        ]!,
        triggerRegion: this.flag(argv, 'trigger-location'),
        policy: old?.policy ?? { bindings: [] },
      });
      return this.ok();
    }
    if (cmd.startsWith('logging metrics')) {
      const name = at(4);
      const m = this.logMetrics.get(name);
      if (cmd.startsWith('logging metrics describe'))
        return m === undefined ? this.notFound('metric') : this.ok(m);
      if (cmd.startsWith('logging metrics delete')) {
        if (m === undefined) return this.notFound('metric');
        this.logMetrics.delete(name);
        return this.ok();
      }
      const config = JSON.parse(readFileSync(`${this.root}${this.flag(argv, 'config-from-file')}`, 'utf8'));
      if (cmd.startsWith('logging metrics create')) {
        if (m !== undefined) return { exitCode: 1, stdout: '', stderr: 'ERROR: ALREADY_EXISTS: metric' };
        this.logMetrics.set(name, { name, ...config, version: 'V2' });
        return this.ok();
      }
      if (m === undefined) return this.notFound('metric');
      this.logMetrics.set(name, { ...m, ...config });
      return this.ok();
    }
    if (cmd.startsWith('alpha monitoring policies')) {
      const verb = at(4);
      if (verb === 'list') return this.ok([...this.alertPolicies.values()]);
      if (verb === 'create') {
        const name = `projects/sample-project/alertPolicies/${this.nextId++}`;
        this.alertPolicies.set(name, { ...JSON.parse(this.flag(argv, 'policy')!), name });
        return this.ok();
      }
      if (!this.alertPolicies.has(at(5))) return this.notFound('alert policy');
      if (verb === 'update')
        this.alertPolicies.set(at(5), { ...JSON.parse(this.flag(argv, 'policy')!), name: at(5) });
      if (verb === 'delete') this.alertPolicies.delete(at(5));
      return this.ok();
    }
    if (cmd.startsWith('beta monitoring channels')) {
      const verb = at(4);
      if (verb === 'list') return this.ok([...this.channels.values()]);
      const kv = (flag: string) =>
        Object.fromEntries(
          (this.flag(argv, flag) ?? '')
            .split(',')
            .filter((x) => x !== '')
            .map((x) => x.split('=')),
        );
      if (verb === 'create') {
        const name = `projects/sample-project/notificationChannels/${this.nextId++}`;
        this.channels.set(name, {
          name,
          type: this.flag(argv, 'type'),
          displayName: this.flag(argv, 'display-name'),
          labels: kv('channel-labels'),
          userLabels: kv('user-labels'),
          enabled: true,
        });
        return this.ok();
      }
      const c = this.channels.get(at(5));
      if (c === undefined) return this.notFound('channel');
      if (verb === 'update') {
        c['labels'] = { ...(c['labels'] as object), ...kv('update-channel-labels') };
        c['displayName'] = this.flag(argv, 'display-name') ?? c['displayName'];
      }
      if (verb === 'delete') {
        const used = [...this.alertPolicies.values()].some((p) =>
          ((p['notificationChannels'] as string[] | undefined) ?? []).includes(at(5)),
        );
        if (used) return { exitCode: 1, stdout: '', stderr: 'ERROR: FAILED_PRECONDITION: channel in use' };
        this.channels.delete(at(5));
      }
      return this.ok();
    }
    if (cmd.startsWith('monitoring dashboards')) {
      const verb = at(3);
      if (verb === 'list') return this.ok([...this.dashboards.values()]);
      const config = () =>
        JSON.parse(readFileSync(`${this.root}${this.flag(argv, 'config-from-file')}`, 'utf8')) as Record<
          string,
          unknown
        >;
      if (verb === 'create') {
        const name = `projects/${FAKE_PROJECT_NUMBER}/dashboards/${this.nextId++}`;
        this.dashboards.set(name, { ...config(), name, etag: 'e1' });
        return this.ok();
      }
      if (!this.dashboards.has(at(4))) return this.notFound('dashboard');
      if (verb === 'update') this.dashboards.set(at(4), { ...config(), name: at(4), etag: 'e2' });
      if (verb === 'delete') this.dashboards.delete(at(4));
      return this.ok();
    }
    if (cmd.startsWith('functions delete')) {
      this.functions.delete(at(3));
      return this.ok();
    }
    if (cmd.startsWith('run services get-iam-policy')) {
      const f = this.functions.get(at(4));
      return f === undefined ? this.notFound('service') : this.ok(f.policy);
    }
    if (cmd.startsWith('run services add-iam-policy-binding')) {
      this.bind(this.functions.get(at(4))!.policy, argv, true);
      return this.ok();
    }
    return { exitCode: 2, stdout: '', stderr: `fake cloud: unexpected command ${argv.join(' ')}` };
  };

  scheduler: SchedulerApi = {
    getJob: async (name) => {
      const j = this.jobs.get(name);
      return j === undefined ? undefined : { ...j, state: 'ENABLED', userUpdateTime: '2026-01-01T00:00:00Z' };
    },
    createJob: async (_parent, job: SchedulerJob) => {
      this.mutations.push(`scheduler create ${job.name}`);
      this.jobs.set(job.name, structuredClone(job) as unknown as Record<string, unknown>);
    },
    updateJob: async (job: SchedulerJob) => {
      this.mutations.push(`scheduler update ${job.name}`);
      this.jobs.set(job.name, structuredClone(job) as unknown as Record<string, unknown>);
    },
    deleteJob: async (name) => {
      this.mutations.push(`scheduler delete ${name}`);
      this.jobs.delete(name);
    },
  };

  rules: RulesApi = {
    getRelease: async (name) => {
      const r = this.releases.get(name);
      return r === undefined ? undefined : { rulesetName: r };
    },
    getRulesetFiles: async (name) => this.rulesets.get(name) ?? [],
    createRuleset: async (project, files) => {
      const name = `projects/${project}/rulesets/r${this.rulesets.size}`;
      this.mutations.push(`rules create ${name}`);
      this.rulesets.set(
        name,
        files.map((f) => ({ ...f })),
      );
      return name;
    },
    createRelease: async (_project, name, ruleset) => {
      this.mutations.push(`rules release ${name}`);
      this.releases.set(name, ruleset);
    },
    updateRelease: async (name, ruleset) => {
      this.mutations.push(`rules update ${name}`);
      this.releases.set(name, ruleset);
    },
  };
}
