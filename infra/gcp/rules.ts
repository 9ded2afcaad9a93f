// Firestore security rules through the Firebase Rules REST API (v1): gcloud has no rules command, and
// the Firebase CLI would add a large dependency and a second login for two HTTP calls. A ruleset is
// immutable; the release `cloud.firestore[/DATABASE]` points the database at one.
import { StreamjoinError } from '../../shared/errors.ts';
import type { TokenAuth } from './auth.ts';
import type { RulesApi } from './execute.ts';
import { RULES_ENDPOINT } from './format.ts';

interface RulesOptions {
  readonly auth: Pick<TokenAuth, 'fetch'>;
  /** Default the Google endpoint; tests point it at a local server. */
  readonly endpoint?: string;
}

export function createRulesApi(o: RulesOptions): RulesApi {
  const base = `${(o.endpoint ?? RULES_ENDPOINT).replace(/\/$/, '')}/v1`;
  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Record<string, unknown> | undefined> => {
    const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await o.auth.fetch(`${base}/${path}`, init);
    const text = await res.text();
    if (res.status === 404 && method === 'GET') return undefined;
    if (!res.ok) {
      throw new StreamjoinError(
        res.status === 429 || res.status >= 500 ? 'unavailable' : 'internal',
        `Firebase Rules API: expected 2xx from ${method} ${base}/${path}, but got ${res.status}: ${text.slice(0, 500)}`,
        { context: { status: res.status } },
      );
    }
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };
  return {
    async getRelease(name) {
      const r = await call('GET', name);
      return r === undefined || typeof r['rulesetName'] !== 'string'
        ? undefined
        : { rulesetName: r['rulesetName'] };
    },
    async getRulesetFiles(rulesetName) {
      const r = await call('GET', rulesetName);
      const files =
        (r?.['source'] as { files?: { name: string; content: string }[] } | undefined)?.files ?? [];
      return files.map((f) => ({ name: f.name, content: f.content }));
    },
    async createRuleset(project, files) {
      const r = await call('POST', `projects/${project}/rulesets`, {
        source: { files: files.map((f) => ({ name: f.name, content: f.content })) },
      });
      const name = r?.['name'];
      if (typeof name !== 'string') {
        throw new StreamjoinError(
          'internal',
          `Firebase Rules API: expected a ruleset name, but got: ${JSON.stringify(r)}`,
        );
      }
      return name;
    },
    async createRelease(project, name, rulesetName) {
      await call('POST', `projects/${project}/releases`, { name, rulesetName });
    },
    async updateRelease(name, rulesetName) {
      await call('PATCH', name, { release: { name, rulesetName }, updateMask: 'rulesetName' });
    },
  };
}
