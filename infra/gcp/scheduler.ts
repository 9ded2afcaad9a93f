// Cloud Scheduler through @google-cloud/scheduler (v6, REST transport): converts the plan's REST-form
// jobs to the client's message objects and back, so a re-run can compare and update instead of failing.
import { CloudSchedulerClient } from '@google-cloud/scheduler';
import type { SchedulerApi } from './execute.ts';
import { JOB_UPDATE_MASK } from './format.ts';
import type { SchedulerJob } from './plan.ts';

type Duration = { seconds?: unknown; nanos?: unknown } | null | undefined;

/** "50s" → {seconds: 50} (google.protobuf.Duration). */
export function toDuration(text: string): { seconds: number; nanos: number } {
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (m === null) throw new Error(`expected a duration such as "50s", but was: ${JSON.stringify(text)}`);
  return { seconds: Number(m[1]), nanos: m[2] === undefined ? 0 : Number(m[2].padEnd(9, '0')) };
}

/** {seconds: "50", nanos: 0} (or a Long) → "50s". */
export function fromDuration(d: Duration): string | undefined {
  if (d === null || d === undefined) return undefined;
  const s = Number(String(d.seconds ?? 0));
  const n = Number(String(d.nanos ?? 0));
  return n === 0 ? `${s}s` : `${s}.${String(n).padStart(9, '0').replace(/0+$/, '')}s`;
}

const HTTP_METHODS: Record<number, string> = {
  1: 'POST',
  2: 'GET',
  3: 'HEAD',
  4: 'PUT',
  5: 'DELETE',
  6: 'PATCH',
  7: 'OPTIONS',
};

/** The plan's job as the client's request object. */
export function toClientJob(job: SchedulerJob) {
  return {
    name: job.name,
    description: job.description,
    schedule: job.schedule,
    timeZone: job.timeZone,
    httpTarget: {
      uri: job.httpTarget.uri,
      httpMethod: job.httpTarget.httpMethod,
      headers: { ...job.httpTarget.headers },
      body: Buffer.from(job.httpTarget.body, 'base64'),
      oidcToken: { ...job.httpTarget.oidcToken },
    },
    retryConfig: {
      retryCount: job.retryConfig.retryCount,
      maxRetryDuration: toDuration(job.retryConfig.maxRetryDuration),
      minBackoffDuration: toDuration(job.retryConfig.minBackoffDuration),
      maxBackoffDuration: toDuration(job.retryConfig.maxBackoffDuration),
      maxDoublings: job.retryConfig.maxDoublings,
    },
    attemptDeadline: toDuration(job.attemptDeadline),
  };
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

/** A job as the client returns it, in the plan's REST form (durations "Ns", body base64, method name). */
export function fromClientJob(job: Record<string, unknown>): Record<string, unknown> {
  const t = (job['httpTarget'] ?? null) as Record<string, unknown> | null;
  const r = (job['retryConfig'] ?? null) as Record<string, unknown> | null;
  const method = t?.['httpMethod'];
  const body = t?.['body'];
  return compact({
    ...job,
    httpTarget:
      t === null
        ? undefined
        : compact({
            ...t,
            httpMethod: typeof method === 'number' ? HTTP_METHODS[method] : method,
            body: body instanceof Uint8Array ? Buffer.from(body).toString('base64') : body,
          }),
    retryConfig:
      r === null
        ? undefined
        : compact({
            ...r,
            maxRetryDuration: fromDuration(r['maxRetryDuration'] as Duration),
            minBackoffDuration: fromDuration(r['minBackoffDuration'] as Duration),
            maxBackoffDuration: fromDuration(r['maxBackoffDuration'] as Duration),
          }),
    attemptDeadline: fromDuration(job['attemptDeadline'] as Duration),
  });
}

export interface SchedulerClientOptions {
  /** `http://127.0.0.1:PORT` (a local stand-in) or a host; default the Google endpoint. */
  readonly apiEndpoint?: string;
  /** Adds credentials to each request (auth.ts); the client's default is Application Default Credentials. */
  readonly authClient?: object;
}

/** A client on the REST transport; an http:// endpoint is reached without TLS (tests). */
export function createSchedulerClient(o: SchedulerClientOptions = {}): CloudSchedulerClient {
  const opts: Record<string, unknown> = { fallback: true };
  if (o.authClient !== undefined) opts['authClient'] = o.authClient;
  if (o.apiEndpoint !== undefined) {
    const url = /^[a-z]+:\/\//.test(o.apiEndpoint)
      ? new URL(o.apiEndpoint)
      : new URL(`https://${o.apiEndpoint}`);
    opts['apiEndpoint'] = url.hostname;
    opts['protocol'] = url.protocol.replace(':', '');
    opts['port'] = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
  }
  return new CloudSchedulerClient(opts as ConstructorParameters<typeof CloudSchedulerClient>[0]);
}

const isNotFound = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  ((err as { code?: unknown }).code === 5 || (err as { code?: unknown }).code === 404);

export function createSchedulerApi(client: CloudSchedulerClient): SchedulerApi {
  return {
    async getJob(name) {
      try {
        const [job] = await client.getJob({ name });
        return fromClientJob(job as unknown as Record<string, unknown>);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async createJob(parent, job) {
      await client.createJob({ parent, job: toClientJob(job) });
    },
    async updateJob(job) {
      await client.updateJob({ job: toClientJob(job), updateMask: { paths: [...JOB_UPDATE_MASK] } });
    },
    async deleteJob(name) {
      await client.deleteJob({ name });
    },
  };
}
