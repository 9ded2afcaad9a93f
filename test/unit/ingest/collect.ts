// Test helper: runs parseEventFile to its end and sorts the items by kind.
import { readFileSync } from 'node:fs';
import type { Issue } from '../../../shared/ingest/issues.ts';
import {
  type ParseOptions,
  type ParseSummary,
  parseEventFile,
  type RecordPath,
} from '../../../shared/ingest/parse-event-file.ts';

export const LIMITS = {
  maxObjectSize: 64 * 1024 ** 2,
  maxDecompressedSize: 64 * 1024 ** 2,
  maxLineLength: 1024 ** 2,
};

export interface Collected {
  records: Array<{ ordinal: number; path: RecordPath; value: unknown }>;
  recordIssues: Array<{ ordinal: number; issue: Issue }>;
  fileIssue: Issue | undefined;
  summary: ParseSummary;
}

export async function collect(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>,
  options: Partial<ParseOptions> = {},
): Promise<Collected> {
  const out: Omit<Collected, 'summary'> & { summary?: ParseSummary } = {
    records: [],
    recordIssues: [],
    fileIssue: undefined,
  };
  let terminal = 0;
  const iterable =
    Symbol.asyncIterator in source
      ? source
      : (async function* () {
          yield* source;
        })();
  for await (const item of parseEventFile(iterable, { ...LIMITS, ...options })) {
    if (terminal > 0) throw new Error('an item came after the terminal item');
    if (item.kind === 'record')
      out.records.push({ ordinal: item.ordinal, path: item.path, value: item.value });
    else if (item.kind === 'record-issue')
      out.recordIssues.push({ ordinal: item.ordinal, issue: item.issue });
    else {
      terminal++;
      out.summary = item.summary;
      if (item.kind === 'file-issue') out.fileIssue = item.issue;
    }
  }
  if (out.summary === undefined) throw new Error('no terminal item');
  return out as Collected;
}

export const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../../fixtures/inputs/${name}`, import.meta.url));

/** The bytes in chunks of `size` (1 puts every chunk boundary everywhere). */
export function* chunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
