// A small model of the Google Cloud state the deploy touches, answering the gcloud lines the plan
// produces (and the Scheduler / Rules ports) the way the real CLI does: JSON on describe, "NOT_FOUND"
// on stderr for a missing resource. Lets a test run a deploy twice and count what changed.
import type { CommandResult, RulesApi, SchedulerApi } from '../../../infra/gcp/execute.ts';
import type { Argv, SchedulerJob } from '../../../infra/gcp/plan.ts';

type Policy = { bindings: { role: string; members: string[] }[] };

export class FakeCloud {
  services = new Set<string>();
  buckets = new Map<
    string,
    { uniform_bucket_level_access: boolean; public_access_prevention: string; policy: Policy }
  >();
  database: { type: string } | undefined;
  indexes: { name: string; queryScope: string; fields: { fieldPath: string; order: string }[] }[] = [];
  fields = new Map<string, { ttl: boolean; exempt: boolean }>();
  accounts = new Set<string>();
  projectPolicy: Policy = { bindings: [] };
  functions = new Map<
    string,
    { labels: Record<string, string>; sa: string; env: Record<string, string>; policy: Policy }
  >();
  jobs = new Map<string, Record<string, unknown>>();
  rulesets = new Map<string, { name: string; content: string }[]>();
  releases = new Map<string, string>();
  /** Every command that was not a read. */
  mutations: string[] = [];
  /** Fail the next matching mutation with this stderr (eventual consistency). */
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

  private bind(policy: Policy, role: string, member: string, add: boolean): void {
    let b = policy.bindings.find((x) => x.role === role);
    if (b === undefined) {
      b = { role, members: [] };
      policy.bindings.push(b);
    }
    if (add && !b.members.includes(member)) b.members.push(member);
    if (!add) b.members = b.members.filter((m) => m !== member);
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
    if (cmd.startsWith('storage buckets describe')) {
      const b = this.buckets.get(at(4).slice(5));
      return b === undefined ? this.notFound('bucket') : this.ok({ ...b, policy: undefined });
    }
    if (cmd.startsWith('storage buckets create')) {
      this.buckets.set(at(4).slice(5), {
        uniform_bucket_level_access: true,
        public_access_prevention: 'enforced',
        policy: { bindings: [] },
      });
      return this.ok();
    }
    if (cmd.startsWith('storage buckets update')) {
      const b = this.buckets.get(at(4).slice(5))!;
      b.uniform_bucket_level_access = true;
      b.public_access_prevention = 'enforced';
      return this.ok();
    }
    if (cmd.startsWith('storage buckets get-iam-policy'))
      return this.ok(this.buckets.get(at(4).slice(5))!.policy);
    if (cmd.startsWith('storage buckets add-iam-policy-binding')) {
      this.bind(
        this.buckets.get(at(4).slice(5))!.policy,
        this.flag(argv, 'role')!,
        this.flag(argv, 'member')!,
        true,
      );
      return this.ok();
    }
    if (cmd.startsWith('storage service-agent'))
      return this.ok('service-42@gs-project-accounts.iam.gserviceaccount.com\n');
    if (cmd.startsWith('storage rm')) {
      this.buckets.delete(words.find((w) => w.startsWith('gs://'))!.slice(5));
      return this.ok();
    }
    if (cmd.startsWith('firestore databases describe'))
      return this.database === undefined ? this.notFound('database') : this.ok(this.database);
    if (cmd.startsWith('firestore databases create')) {
      this.database = { type: 'FIRESTORE_NATIVE' };
      return this.ok();
    }
    if (cmd.startsWith('firestore indexes composite list')) return this.ok(this.indexes);
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
      this.bind(
        this.projectPolicy,
        this.flag(argv, 'role')!,
        this.flag(argv, 'member')!,
        cmd.startsWith('projects add'),
      );
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
        serviceConfig: {
          serviceAccountEmail: f.sa,
          environmentVariables: { ...f.env, LOG_EXECUTION_ID: 'true' },
        },
      });
    }
    if (cmd.startsWith('functions deploy')) {
      const env = Object.fromEntries(
        this.flag(argv, 'set-env-vars')!
          .split(',')
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      const [k, v] = this.flag(argv, 'update-labels')!.split('=');
      const old = this.functions.get(at(3));
      this.functions.set(at(3), {
        labels: { [k!]: v! },
        sa: this.flag(argv, 'service-account')!,
        env,
        policy: old?.policy ?? { bindings: [] },
      });
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
      this.bind(
        this.functions.get(at(4))!.policy,
        this.flag(argv, 'role')!,
        this.flag(argv, 'member')!,
        true,
      );
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
