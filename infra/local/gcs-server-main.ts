// Standalone entry for the local GCS server:
//   npx node infra/local/gcs-server-main.ts --port 9199 --data-dir DIR [--sink bucket=url ...]
//     [--bucket name ...] [--duplicate-delivery P] [--drop-delivery P] [--shuffle-delay-ms N] [--fail-probability P]
//     [--retry-base-ms N] [--retry-max-ms N] [--max-concurrent-deliveries N] [--log-level L]
// Runs until SIGINT/SIGTERM, then closes cleanly (pending deliveries stay on disk for the next start).
import { parseArgs } from 'node:util';
import { LOG_LEVELS, type LogLevel } from '../../shared/log.ts';
import { type GcsServerOptions, type SinkMap, startGcsServer } from './gcs-server/index.ts';

function fail(message: string): never {
  process.stderr.write(`gcs-server: ${message}\n`);
  process.exit(2);
}

function numberFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    fail(`--${flag} expects a number, but was: ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `bucket=url` pairs → {bucket: [urls]}. */
export function parseSinkFlags(pairs: string[]): SinkMap {
  const sinks: SinkMap = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const bucket = pair.slice(0, eq);
    const url = pair.slice(eq + 1);
    if (eq <= 0 || !URL.canParse(url))
      fail(`--sink expects bucket=url (bucket may be *), but was: ${JSON.stringify(pair)}`);
    sinks[bucket] = [...(sinks[bucket] ?? []), url];
  }
  return sinks;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9199' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    sink: { type: 'string', multiple: true, default: [] },
    bucket: { type: 'string', multiple: true, default: [] },
    'project-id': { type: 'string' },
    'duplicate-delivery': { type: 'string' },
    'drop-delivery': { type: 'string' },
    'shuffle-delay-ms': { type: 'string' },
    'fail-probability': { type: 'string' },
    'retry-base-ms': { type: 'string' },
    'retry-max-ms': { type: 'string' },
    'max-concurrent-deliveries': { type: 'string' },
    'delivery-timeout-ms': { type: 'string' },
    'log-level': { type: 'string' },
  },
  strict: true,
});

const dataDir = values['data-dir'];
if (dataDir === undefined || dataDir === '') fail('--data-dir DIR is required');
const logLevel = values['log-level'];
if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
  fail(`--log-level expects one of ${LOG_LEVELS.join(', ')}, but was: ${JSON.stringify(logLevel)}`);
}
const numeric: Array<[string, keyof GcsServerOptions]> = [
  ['port', 'port'],
  ['duplicate-delivery', 'duplicateProbability'],
  ['drop-delivery', 'dropProbability'],
  ['shuffle-delay-ms', 'shuffleDelayMs'],
  ['fail-probability', 'failProbability'],
  ['retry-base-ms', 'retryBaseMs'],
  ['retry-max-ms', 'retryMaxMs'],
  ['max-concurrent-deliveries', 'maxConcurrentDeliveries'],
  ['delivery-timeout-ms', 'deliveryTimeoutMs'],
];
const options: Record<string, unknown> = {
  dataDir,
  host: values.host,
  sinks: parseSinkFlags(values.sink),
  buckets: values.bucket,
  ...(values['project-id'] === undefined ? {} : { projectId: values['project-id'] }),
  ...(logLevel === undefined ? {} : { logLevel: logLevel as LogLevel }),
};
for (const [flag, key] of numeric) {
  const n = numberFlag(values, flag);
  if (n !== undefined) options[key] = n;
}

try {
  const server = await startGcsServer(options as unknown as GcsServerOptions);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`gcs-server: ${signal}, closing\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`gcs-server: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
