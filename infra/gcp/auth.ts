// Credentials for the REST calls the deploy makes itself (Cloud Scheduler, Firebase Rules): the access
// token of the gcloud account, so one `gcloud auth login` covers the whole deploy.

export type TokenSource = () => Promise<string>;

/**
 * An auth client in the shape google-gax's REST transport uses (`fetch`, `getRequestHeaders`,
 * `universeDomain`) and that rules.ts calls directly. `x-goog-user-project` bills the calls to the
 * project being deployed: user credentials need a quota project for some APIs (Firebase Rules).
 */
export function createTokenAuth(token: TokenSource, quotaProject?: string) {
  const headersFor = async (extra?: ConstructorParameters<typeof Headers>[0]): Promise<Headers> => {
    const h = new Headers(extra);
    h.set('authorization', `Bearer ${await token()}`);
    if (quotaProject !== undefined) h.set('x-goog-user-project', quotaProject);
    return h;
  };
  return {
    universeDomain: 'googleapis.com',
    getRequestHeaders: (): Promise<Headers> => headersFor(),
    fetch: async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
      const { method, body, signal } = init;
      const request: RequestInit = { headers: await headersFor(init.headers) };
      if (method !== undefined) request.method = method;
      if (body !== undefined && body !== null) request.body = body;
      if (signal !== undefined && signal !== null) request.signal = signal;
      return fetch(url, request);
    },
  };
}
export type TokenAuth = ReturnType<typeof createTokenAuth>;

/** Caches a token source's answer for `ttlMs` (gcloud tokens live an hour). */
export function cachedToken(
  source: TokenSource,
  ttlMs = 30 * 60_000,
  now: () => number = Date.now,
): TokenSource {
  let value: { token: string; at: number } | undefined;
  return async () => {
    if (value === undefined || now() - value.at > ttlMs) value = { token: await source(), at: now() };
    return value.token;
  };
}
