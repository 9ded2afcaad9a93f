// A local Google Cloud Storage JSON-API server (node:http only) for local runs and tests, used through the
// real @google-cloud/storage client, with Eventarc-like finalize-event delivery and fault injection.
// Public API: startGcsServer(options) → GcsServer. Admin endpoints live under /_admin/ (never faulted).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger, type LogLevel } from '../../../shared/log.ts';
import { DeliveryQueue, type DeliveryStats, type DeliveryTuning } from './delivery-queue.ts';
import { type ApiSurface, GcsApi } from './http-api.ts';
import { readJson, sendError, sendJson } from './http-util.ts';
import { GcsHttpError, ObjectStore } from './object-store.ts';

/** Sink URLs per bucket; the key `*` applies to every bucket. */
export type SinkMap = Record<string, string[]>;

export interface GcsServerOptions extends Partial<DeliveryTuning> {
  /** Objects, metadata and pending deliveries live here; reopening the same folder restores them. */
  dataDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  sinks?: SinkMap;
  /** Buckets to create at start when missing. */
  buckets?: string[];
  /** Project recorded on buckets created without `?project=`. */
  projectId?: string;
  /** Fraction of non-admin requests answered with 503 (fault injection). */
  failProbability?: number;
  logger?: Logger;
  logLevel?: LogLevel;
}

/** Settings that can be changed while the server runs (PATCH /_admin/options). */
export interface RuntimeOptions extends DeliveryTuning {
  failProbability: number;
}

export interface GcsServerStats extends DeliveryStats {
  requests: number;
  faultsInjected: number;
  buckets: number;
  objects: number;
  uploadsInProgress: number;
}

export interface GcsServer {
  /** e.g. http://127.0.0.1:9199 — use as `apiEndpoint` or `STORAGE_EMULATOR_HOST`. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  setSinks(sinks: SinkMap): void;
  getSinks(): SinkMap;
  setOptions(changes: Partial<RuntimeOptions>): void;
  getOptions(): RuntimeOptions;
  stats(): GcsServerStats;
  /** Stops listening, stops deliveries (in-flight ones get closeGraceMs), leaves no timers. */
  close(): Promise<void>;
}

const DEFAULT_TUNING: DeliveryTuning = {
  duplicateProbability: 0,
  dropProbability: 0,
  shuffleDelayMs: 0,
  maxConcurrentDeliveries: 16,
  retryBaseMs: 100,
  retryMaxMs: 10_000,
  deliveryTimeoutMs: 60_000,
  closeGraceMs: 2_000,
};

/** Validates runtime options: probabilities in [0, 1], other numbers finite and >= 0 (concurrency >= 1). */
export function validateOptions(changes: Record<string, unknown>): Partial<RuntimeOptions> {
  const out: Record<string, number> = {};
  const keys = [...Object.keys(DEFAULT_TUNING), 'failProbability'];
  for (const [key, value] of Object.entries(changes)) {
    if (!keys.includes(key))
      throw new GcsHttpError(
        400,
        'invalid',
        `Unknown option ${JSON.stringify(key)}; expected one of ${keys.join(', ')}`,
      );
    const probability = key.endsWith('Probability');
    const min = key === 'maxConcurrentDeliveries' ? 1 : 0;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (probability && value > 1)) {
      throw new GcsHttpError(
        400,
        'invalid',
        `Option ${key} must be ${probability ? 'a number in [0, 1]' : `a number >= ${min}`}, but was: ${JSON.stringify(value)}`,
      );
    }
    out[key] = value;
  }
  return out as Partial<RuntimeOptions>;
}

function validateSinks(value: unknown): SinkMap {
  const ok =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every(
      (urls) => Array.isArray(urls) && urls.every((u) => typeof u === 'string' && URL.canParse(u)),
    );
  if (!ok) {
    throw new GcsHttpError(
      400,
      'invalid',
      `Expected sinks as {"<bucket>|*": ["http://…", …]}, but was: ${JSON.stringify(value)}`,
    );
  }
  return Object.fromEntries(Object.entries(value as SinkMap).map(([b, urls]) => [b, [...urls]]));
}

/** Splits the request path into the API surface and the path below `/storage/v1` (or as sent, for `/b/...`). */
function routeOf(rawPath: string): { surface: ApiSurface; path: string } | undefined {
  for (const [prefix, surface] of [
    ['/upload/storage/v1', 'upload'],
    ['/download/storage/v1', 'download'],
    ['/storage/v1', 'json'],
  ] as const) {
    if (rawPath === prefix || rawPath.startsWith(`${prefix}/`))
      return { surface, path: rawPath.slice(prefix.length) };
  }
  if (rawPath === '/b' || rawPath.startsWith('/b/')) return { surface: 'json', path: rawPath };
  return undefined;
}

export async function startGcsServer(options: GcsServerOptions): Promise<GcsServer> {
  const log =
    options.logger ??
    createLogger({
      name: 'gcs-server',
      ...(options.logLevel === undefined ? {} : { level: options.logLevel }),
    });
  const tuning: DeliveryTuning = { ...DEFAULT_TUNING };
  for (const key of Object.keys(DEFAULT_TUNING) as Array<keyof DeliveryTuning>) {
    if (options[key] !== undefined) tuning[key] = options[key];
  }
  validateOptions({ ...tuning, failProbability: options.failProbability ?? 0 });
  let failProbability = options.failProbability ?? 0;
  let sinks = validateSinks(options.sinks ?? {});
  const projectId = options.projectId ?? 'local-project';

  const store = await ObjectStore.open(options.dataDir);
  let queue: DeliveryQueue;
  try {
    for (const bucket of options.buckets ?? []) {
      if (!store.listBuckets().some((b) => b.name === bucket))
        await store.createBucket({ name: bucket, projectId });
    }
    queue = await DeliveryQueue.open(store.dataDir, tuning, log);
  } catch (err) {
    await store.close();
    throw err;
  }
  let url = '';
  const api = new GcsApi({
    store,
    queue,
    log,
    baseUrl: () => url,
    defaultProjectId: projectId,
    sinksFor: (bucket) => [...new Set([...(sinks[bucket] ?? []), ...(sinks['*'] ?? [])])],
  });

  const counters = { requests: 0, faultsInjected: 0 };
  const stats = (): GcsServerStats => {
    const buckets = store.listBuckets();
    let objects = 0;
    for (const b of buckets) objects += store.objectCount(b.name);
    return {
      ...queue.stats(),
      ...counters,
      buckets: buckets.length,
      objects,
      uploadsInProgress: api.uploadsInProgress(),
    };
  };
  const getOptions = (): RuntimeOptions => ({ ...queue.getTuning(), failProbability });
  const setOptions = (changes: Partial<RuntimeOptions>): void => {
    const valid = validateOptions(changes as Record<string, unknown>);
    if (valid.failProbability !== undefined) failProbability = valid.failProbability;
    const { failProbability: _ignored, ...rest } = valid;
    queue.setTuning(rest);
    log.info({ options: getOptions() }, 'options changed');
  };
  const setSinks = (next: SinkMap): void => {
    sinks = validateSinks(next);
    log.info({ sinks }, 'sinks changed');
  };

  async function admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/_admin/health' && method === 'GET') return sendJson(res, 200, { ok: true });
    if (path === '/_admin/stats' && method === 'GET') return sendJson(res, 200, stats());
    if (path === '/_admin/sinks') {
      if (method === 'PUT') setSinks((await readJson(req)) as SinkMap);
      else if (method !== 'GET')
        throw new GcsHttpError(405, 'methodNotAllowed', `Expected GET or PUT on ${path}, but was ${method}`);
      return sendJson(res, 200, sinks);
    }
    if (path === '/_admin/redeliver') {
      // Eventarc-like: a finalize event for every current generation under a prefix (as if each had
      // just been finalized, same generation and timeCreated), through the same delivery modes; `paced`
      // delivers them in landing order with the objects' own spacing.
      if (method !== 'POST')
        throw new GcsHttpError(405, 'methodNotAllowed', `Expected POST on ${path}, but was ${method}`);
      const body = (await readJson(req)) as { bucket?: unknown; prefix?: unknown; paced?: unknown };
      if (
        typeof body.bucket !== 'string' ||
        (body.prefix !== undefined && typeof body.prefix !== 'string') ||
        (body.paced !== undefined && typeof body.paced !== 'boolean')
      ) {
        throw new GcsHttpError(
          400,
          'invalid',
          `Expected {"bucket": "<name>", "prefix"?: "<prefix>", "paced"?: true|false}, but was: ${JSON.stringify(body)}`,
        );
      }
      const events = await api.redeliver(body.bucket, body.prefix ?? '', { paced: body.paced === true });
      return sendJson(res, 200, { events });
    }
    if (path === '/_admin/options') {
      if (method === 'PATCH' || method === 'PUT') setOptions(validateOptions(await readJson(req)));
      else if (method !== 'GET')
        throw new GcsHttpError(
          405,
          'methodNotAllowed',
          `Expected GET or PATCH on ${path}, but was ${method}`,
        );
      return sendJson(res, 200, getOptions());
    }
    throw new GcsHttpError(
      404,
      'notFound',
      `Not found: ${method} ${path} (admin: GET health|stats, GET/PUT sinks, GET/PATCH options, POST redeliver)`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    try {
      if (rawPath.startsWith('/_admin/')) return await admin(req, res, rawPath);
      counters.requests += 1;
      if (failProbability > 0 && Math.random() < failProbability) {
        counters.faultsInjected += 1;
        req.resume();
        throw new GcsHttpError(
          503,
          'backendError',
          'Injected fault: the local GCS server answers 503 to this request.',
        );
      }
      const route = routeOf(rawPath);
      if (route === undefined) throw new GcsHttpError(404, 'notFound', `Not found: ${req.method} ${rawPath}`);
      await api.handle(req, res, route.surface, route.path, params);
    } catch (err) {
      const httpErr =
        err instanceof GcsHttpError
          ? err
          : err instanceof URIError
            ? new GcsHttpError(400, 'invalid', `Malformed percent-encoding in ${JSON.stringify(rawPath)}`)
            : undefined;
      if (httpErr === undefined) log.error({ err, method: req.method, url: raw }, 'request failed');
      else if (httpErr.status >= 500)
        log.warn({ method: req.method, url: raw, status: httpErr.status }, httpErr.message);
      const answer =
        httpErr ?? new GcsHttpError(500, 'internalError', `Internal error: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, answer);
      else res.destroy();
      req.resume();
    } finally {
      log.debug(
        { method: req.method, url: raw, status: res.statusCode, ms: Date.now() - started },
        'request',
      );
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  // Keep idle connections open longer than clients keep them in their pools (Node's agents: ~5 s):
  // with equal timeouts a client can reuse a socket the server is just closing, and a non-idempotent
  // upload then fails with ECONNRESET (seen in CI).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    await queue.close();
    await store.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  log.info({ url, dataDir: store.dataDir, sinks, options: getOptions() }, 'local GCS server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    dataDir: store.dataDir,
    setSinks,
    getSinks: () => structuredClone(sinks),
    setOptions,
    getOptions,
    stats,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await queue.close();
        server.closeAllConnections();
        await closed;
        await api.close();
        await store.close();
        log.info({ url }, 'local GCS server stopped');
      })();
      return closing;
    },
  };
}
