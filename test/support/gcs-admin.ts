// The local GCS server's admin endpoints (infra/local/gcs-server: options, redeliver, stats), for tests
// that steer deliveries of a running local stack.
import assert from 'node:assert/strict';

/** A caller of `<storage url>/_admin/<route>` that fails the test on any answer but 2xx. */
export function gcsAdmin(storageUrl: string) {
  return async (route: string, method: string, body: unknown): Promise<Record<string, number>> => {
    const res = await fetch(`${storageUrl}/_admin/${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} /_admin/${route}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, number>;
  };
}
