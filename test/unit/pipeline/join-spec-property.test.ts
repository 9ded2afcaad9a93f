// The join spec a table records (shared/pipeline/evolve.ts JOIN_SPEC_PROPERTY): what is written reads
// back as the same spec; anything else reads as "unknown" (the table is then matched by column name).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TableMetadata } from '../../../shared/iceberg/spec/types.ts';
import { JOIN_SPEC_PROPERTY, joinSpecProperty, recordedJoinSpec } from '../../../shared/pipeline/evolve.ts';
import { defaultJoinSpec, loadJoinSpec } from '../../../shared/spec/load.ts';

const md = (properties: Record<string, string>) => ({ properties }) as unknown as TableMetadata;

describe('the join spec recorded in a table property', () => {
  for (const [name, spec] of [
    ['the default spec', defaultJoinSpec()],
    ['the example spec', loadJoinSpec('specs/shipments-deliveries.yaml')],
  ] as const) {
    it(`${name} reads back as itself`, () => {
      assert.deepEqual(recordedJoinSpec(md({ [JOIN_SPEC_PROPERTY]: joinSpecProperty(spec) })), spec);
    });
  }
  const unknown: Array<[string, Record<string, string>]> = [
    ['no property', {}],
    ['not JSON', { [JOIN_SPEC_PROPERTY]: '{"version": 1,' }],
    ['JSON null', { [JOIN_SPEC_PROPERTY]: 'null' }],
    ['another version', { [JOIN_SPEC_PROPERTY]: JSON.stringify({ ...defaultJoinSpec(), version: 2 }) }],
    ['no tables', { [JOIN_SPEC_PROPERTY]: JSON.stringify({ version: 1, left: {}, right: {} }) }],
  ];
  for (const [name, properties] of unknown)
    it(`${name}: unknown`, () => assert.equal(recordedJoinSpec(md(properties)), undefined));
});
