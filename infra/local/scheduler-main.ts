// The local stand-in for Cloud Scheduler: calls each HTTP function every interval, like a job with
// an HTTP target (POST, X-CloudScheduler-ScheduleTime kept the same across retries). Runs until killed.
// A job may name several instances of its function (chaos): each run goes to the next instance with no
// call in flight, so an instance that hangs (paused) is skipped while another serves the schedule.
//   node infra/local/scheduler-main.ts --job tick=URL@1000 --job compact=URL1,URL2@5000
import { parseArgs } from 'node:util';
import { createLogger } from '../../shared/log.ts';

const { values } = parseArgs({ options: { job: { type: 'string', multiple: true } } });
const log = createLogger({ name: 'scheduler' });

interface Job {
  name: string;
  urls: string[];
  everyMs: number;
}
const jobs: Job[] = (values.job ?? []).map((spec) => {
  const m = /^([a-z-]+)=(https?:\/\/[^@,]+(?:,https?:\/\/[^@,]+)*)@(\d+)$/.exec(spec);
  if (m === null) {
    throw new Error(
      `--job must look like name=http://host:port/[,http://host:port/...]@ms, but was: ${JSON.stringify(spec)}`,
    );
  }
  return { name: m[1]!, urls: m[2]!.split(','), everyMs: Number(m[3]) };
});
if (jobs.length === 0) throw new Error('at least one --job is required');

/** One scheduled run on one instance: up to 3 attempts, as a Cloud Scheduler job retries. */
async function callOnce(job: Job, url: string): Promise<void> {
  const scheduled = new Date();
  const started = Date.now();
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-cloudscheduler-scheduletime': scheduled.toISOString(),
        },
        body: '{}',
        signal: AbortSignal.timeout(600_000),
      });
      const body = await res.text();
      if (res.ok) {
        log.debug({ job: job.name, url, ms: Date.now() - started, body: body.slice(0, 500) }, 'job ran');
        return;
      }
      log.warn({ job: job.name, url, status: res.status, attempt, body: body.slice(0, 500) }, 'job failed');
    } catch (err) {
      log.warn({ job: job.name, url, attempt, err: String(err) }, 'job unreachable');
    }
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}

async function runJob(job: Job): Promise<void> {
  // One run at a time per instance (overlaps across instances, as in production; the functions are
  // idempotent). With one instance: a run, then the rest of the interval, as before.
  const inFlight = new Map<string, Promise<void>>();
  let next = 0;
  for (;;) {
    const slot = Date.now();
    let url: string | undefined;
    while (url === undefined) {
      for (let i = 0; i < job.urls.length && url === undefined; i++) {
        const candidate = job.urls[(next + i) % job.urls.length]!;
        if (!inFlight.has(candidate)) {
          url = candidate;
          next = (next + i + 1) % job.urls.length;
        }
      }
      if (url === undefined) await Promise.race(inFlight.values());
    }
    const u = url;
    inFlight.set(
      u,
      callOnce(job, u).finally(() => inFlight.delete(u)),
    );
    if (job.urls.length === 1) await inFlight.get(u);
    const wait = Math.max(0, job.everyMs - (Date.now() - slot));
    await new Promise((r) => setTimeout(r, wait));
  }
}

log.info({ jobs }, 'local scheduler started');
for (const job of jobs) void runJob(job);
