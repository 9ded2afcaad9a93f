// A loopback stand-in of the Google APIs the deploy's gcloud lines call, so the INSTALLED gcloud runs
// them for real: gcloud honours CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>=http://127.0.0.1:PORT/ for each
// API and CLOUDSDK_AUTH_ACCESS_TOKEN_FILE for credentials. It answers what a first deploy meets (no
// function yet, APIs enabled), records every request with its body (the uploaded source ZIP among
// them), and lets a test script the answers that matter (a bucket owned by another project, a build
// that fails, an IAM policy with a conditional binding). Unknown routes answer 404 and are recorded, so
// a test sees what gcloud asked for.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  json(): Record<string, unknown>;
}

/** An answer: status and JSON body (or raw bytes). `undefined` from a handler → the default routes. */
export type Answer = { readonly status: number; readonly body?: unknown };
export type Handler = (req: RecordedRequest) => Answer | undefined;

export interface GoogleApis {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Uploaded source archives by upload id, in arrival order. */
  readonly uploads: Buffer[];
  /** Handlers tried before the default routes, newest first. */
  use(handler: Handler): void;
  /** Environment for gcloud: every API override, a token file, a private config dir, no prompts. */
  gcloudEnv(dir: string): Record<string, string>;
  close(): Promise<void>;
}

/** APIs whose endpoints the stand-in takes over (gcloud's api names). */
export const OVERRIDDEN_APIS = [
  'cloudfunctions',
  'serviceusage',
  'cloudresourcemanager',
  'storage',
  'artifactregistry',
  'iam',
  'run',
  'firestore',
  'eventarc',
] as const;

export const STANDIN_PROJECT_NUMBER = '123456789012';

const error = (status: number, message: string, reason = 'error'): Answer => ({
  status,
  body: {
    error: {
      code: status,
      message,
      status: { 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 400: 'INVALID_ARGUMENT' }[status] ?? 'UNKNOWN',
      errors: [{ message, reason }],
    },
  },
});

export async function startGoogleApis(): Promise<GoogleApis> {
  const requests: RecordedRequest[] = [];
  const uploads: Buffer[] = [];
  const handlers: Handler[] = [];
  const functions = new Map<string, Record<string, unknown>>();
  let port = 0;

  const defaults = (r: RecordedRequest): Answer => {
    const p = r.path;
    // Cloud Functions v2: runtimes, upload URL, create, get, operations.
    if (p.endsWith('/runtimes')) {
      return {
        status: 200,
        body: {
          runtimes: [{ name: 'nodejs24', stage: 'GA', environment: 'GEN_2', displayName: 'Node.js 24' }],
        },
      };
    }
    if (p.endsWith('/functions:generateUploadUrl')) {
      const id = `upload-${uploads.length}`;
      return {
        status: 200,
        body: {
          uploadUrl: `http://127.0.0.1:${port}/upload/${id}`,
          storageSource: {
            bucket: `gcf-v2-uploads-${STANDIN_PROJECT_NUMBER}.europe-west1.cloudfunctions.appspot.com`,
            object: `${id}.zip`,
          },
        },
      };
    }
    if (r.method === 'PUT' && p.startsWith('/upload/')) {
      uploads.push(r.body);
      return { status: 200, body: {} };
    }
    const fn = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/functions\/[^/:]+)$/.exec(p);
    if (fn !== null && r.method === 'GET') {
      const f = functions.get(fn[1]!);
      return f === undefined ? error(404, `Resource '${fn[1]}' was not found`) : { status: 200, body: f };
    }
    if (r.method === 'POST' && /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/functions$/.test(p)) {
      const body = r.json();
      const name = String(body['name']);
      functions.set(name, { ...body, state: 'ACTIVE', environment: 'GEN_2' });
      return operation(name, { ...body, state: 'ACTIVE' });
    }
    const op = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/operations\/.+)$/.exec(p);
    if (op !== null) {
      const name = Buffer.from(op[1]!.slice(op[1]!.lastIndexOf('/') + 1), 'base64url').toString();
      return operation(name, functions.get(name) ?? {});
    }
    // Service Usage: every API is on. Resource Manager: the project and its number.
    if (p.startsWith('/v1/projects/') && p.includes('/services/')) {
      return { status: 200, body: { name: p.slice(4), state: 'ENABLED' } };
    }
    if (/^\/v1\/projects\/[^/:]+$/.test(p)) {
      return {
        status: 200,
        body: { projectId: p.slice(13), projectNumber: STANDIN_PROJECT_NUMBER, lifecycleState: 'ACTIVE' },
      };
    }
    return error(404, `stand-in has no route for ${r.method} ${p}`);
  };

  function operation(fnName: string, response: Record<string, unknown>): Answer {
    const location = fnName.slice(0, fnName.indexOf('/functions/'));
    return {
      status: 200,
      body: {
        name: `${location}/operations/${Buffer.from(fnName).toString('base64url')}`,
        done: true,
        metadata: {
          '@type': 'type.googleapis.com/google.cloud.functions.v2.OperationMetadata',
          target: fnName,
          stages: [
            { name: 'BUILD', state: 'COMPLETE' },
            { name: 'SERVICE', state: 'COMPLETE' },
          ],
        },
        response: { '@type': 'type.googleapis.com/google.cloud.functions.v2.Function', ...response },
      },
    };
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://stand-in');
      const body = Buffer.concat(chunks);
      const r: RecordedRequest = {
        method: req.method ?? 'GET',
        path: decodeURIComponent(u.pathname),
        query: u.searchParams,
        body,
        json: () => (body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>)),
      };
      requests.push(r);
      let answer: Answer | undefined;
      for (const h of handlers) {
        answer = h(r);
        if (answer !== undefined) break;
      }
      answer ??= defaults(r);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    requests,
    uploads,
    use: (h) => {
      handlers.unshift(h);
    },
    gcloudEnv: (dir) => {
      mkdirSync(dir, { recursive: true });
      const token = join(dir, 'token');
      writeFileSync(token, 'stand-in-token\n');
      const env: Record<string, string> = {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: dir,
        CLOUDSDK_CONFIG: join(dir, 'gcloud'),
        CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: token,
        CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
      };
      for (const api of OVERRIDDEN_APIS) env[`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api.toUpperCase()}`] = url;
      return env;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs a command (gcloud) to its end; stdout and stderr as text. */
export function runCommand(
  argv: readonly string[],
  options: { cwd?: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 180_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
