// The JSON Schema of the join spec file (specs/join-spec.schema.json), generated from the zod schema so
// editors can complete and check a spec. Rules between values are not in it (validate.ts has them).
// Regenerate: node shared/spec/json-schema.ts > specs/join-spec.schema.json
import { z } from 'zod';
import { WireSpec } from './wire.ts';

export function joinSpecJsonSchema(): string {
  const schema = z.toJSONSchema(WireSpec, { target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'streamjoin join spec' }, null, 2)}\n`;
}

if (import.meta.main) process.stdout.write(joinSpecJsonSchema());
