// The local stand-in for Cloud Scheduler: calls each HTTP function every interval, like a job with
// an HTTP target (POST, X-CloudScheduler-ScheduleTime kept the same across retries). Runs until killed.
//   node infra/local/scheduler-main.ts --job tick=URL@1000 --job compact=URL@5000
import { parseArgs } from 'node:util';
import { createLogger } from '../../shared/log.ts';

const { values } = parseArgs({ options: { job: { type: 'string', multiple: true } } });
const log = createLogger({ name: 'scheduler' });

interface Job {
  name: string;
  url: string;
  everyMs: number;
}
const jobs: Job[] = (values.job ?? []).map((spec) => {
  const m = /^([a-z-]+)=(https?:\/\/[^@]+)@(\d+)$/.exec(spec);
  if (m === null)
    throw new Error(`--job must look like name=http://host:port/@ms, but was: ${JSON.stringify(spec)}`);
  return { name: m[1]!, url: m[2]!, everyMs: Number(m[3]) };
});
if (jobs.length === 0) throw new Error('at least one --job is required');

async function runJob(job: Job): Promise<void> {
  // One run at a time per job (overlaps are still possible in production; the functions are idempotent).
  for (;;) {
    const scheduled = new Date();
    const started = Date.now();
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await fetch(job.url, {
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
          log.debug({ job: job.name, ms: Date.now() - started, body: body.slice(0, 500) }, 'job ran');
          break;
        }
        log.warn({ job: job.name, status: res.status, attempt, body: body.slice(0, 500) }, 'job failed');
      } catch (err) {
        log.warn({ job: job.name, attempt, err: String(err) }, 'job unreachable');
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
    const wait = Math.max(0, job.everyMs - (Date.now() - started));
    await new Promise((r) => setTimeout(r, wait));
  }
}

log.info({ jobs }, 'local scheduler started');
for (const job of jobs) void runJob(job);
