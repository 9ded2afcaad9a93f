// Join specs for tests: the shipped default spec with an edit applied, validated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../infra/local/ports.ts';
import type { JoinSpec } from '../../shared/spec/model.ts';
import { validateJoinSpec } from '../../shared/spec/validate.ts';

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON here
export type SpecJson = any;

const DEFAULT_JSON: SpecJson = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'specs/orders-payments.json'), 'utf8'),
);

/** The default spec (its file form) with `edit` applied, validated. */
export function defaultSpecWith(edit: (s: SpecJson) => void): JoinSpec {
  const s = structuredClone(DEFAULT_JSON);
  edit(s);
  const r = validateJoinSpec(s);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
  return r.spec;
}
