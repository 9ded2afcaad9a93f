// Table properties the commit protocol reads as Java's TableProperties does: how many previous metadata
// files the metadata-log keeps, and whether those that fall off it are deleted after a commit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metadataRetention } from '../../../shared/iceberg/commit.ts';

const CASES: Array<{
  name: string;
  input: Record<string, string>;
  expected: { previousVersionsMax: number; deleteAfterCommit: boolean };
}> = [
  {
    name: 'no properties: Java defaults',
    input: {},
    expected: { previousVersionsMax: 100, deleteAfterCommit: false },
  },
  {
    name: 'both set',
    input: {
      'write.metadata.previous-versions-max': '5',
      'write.metadata.delete-after-commit.enabled': 'true',
    },
    expected: { previousVersionsMax: 5, deleteAfterCommit: true },
  },
  {
    name: 'booleans as Java parses them (case-insensitive, anything else is false)',
    input: { 'write.metadata.delete-after-commit.enabled': 'TRUE' },
    expected: { previousVersionsMax: 100, deleteAfterCommit: true },
  },
  {
    name: 'a non-boolean is false',
    input: { 'write.metadata.delete-after-commit.enabled': 'yes' },
    expected: { previousVersionsMax: 100, deleteAfterCommit: false },
  },
  {
    name: 'zero or negative keeps one entry',
    input: { 'write.metadata.previous-versions-max': '0' },
    expected: { previousVersionsMax: 1, deleteAfterCommit: false },
  },
  {
    name: 'a value that does not parse falls back to the default',
    input: { 'write.metadata.previous-versions-max': '12.5' },
    expected: { previousVersionsMax: 100, deleteAfterCommit: false },
  },
];

describe('metadataRetention', () => {
  for (const c of CASES) {
    it(c.name, () => {
      assert.deepEqual(metadataRetention(c.input), c.expected);
    });
  }
});
