// Fuzzing (fast-check): random bytes, JSON-like token soup, corrupted gzip, huge numbers and odd Unicode
// never make parsing or validation throw or hang — the outcome is always values or precise issues.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { FILE_ISSUE_CODES, RECORD_ISSUE_CODES } from '../../../shared/ingest/issues.ts';
import { parseEventFile } from '../../../shared/ingest/parse-event-file.ts';
import { validateEvent } from '../../../shared/ingest/validate.ts';
import { chunks } from './collect.ts';

const SMALL = { maxObjectSize: 64 * 1024, maxDecompressedSize: 256 * 1024, maxLineLength: 512, maxDepth: 8 };
const fileCodes = new Set<string>(FILE_ISSUE_CODES);
const recordCodes = new Set<string>(RECORD_ISSUE_CODES);

/** Runs the parser to its end and checks the shape of everything it yields; returns the item count. */
async function parseChecked(
  bytes: Uint8Array,
  chunkSize: number,
  options: Record<string, unknown> = {},
): Promise<number> {
  let terminal = 0;
  let items = 0;
  let lastOrdinal = -1;
  const source = (async function* () {
    yield* chunks(bytes, chunkSize);
  })();
  for await (const item of parseEventFile(source, { ...SMALL, ...options })) {
    items++;
    assert.equal(terminal, 0, 'nothing after the terminal item');
    switch (item.kind) {
      case 'record':
        assert.ok(item.ordinal > lastOrdinal, 'ordinals increase');
        lastOrdinal = item.ordinal;
        assert.ok(item.path.line !== undefined && item.path.line >= 1);
        for (const kind of ['order', 'payment'] as const) {
          const v = validateEvent(kind, item.value, item.path);
          if (!v.ok) for (const i of v.issues) assert.ok(recordCodes.has(i.code) && i.message.length > 0);
        }
        break;
      case 'record-issue':
        assert.ok(item.ordinal > lastOrdinal, 'ordinals increase');
        lastOrdinal = item.ordinal;
        assert.ok(recordCodes.has(item.issue.code), item.issue.code);
        assert.ok(item.issue.message.length > 0);
        break;
      case 'file-issue':
        terminal++;
        assert.ok(fileCodes.has(item.issue.code), item.issue.code);
        assert.ok(item.issue.message.length > 0);
        break;
      case 'end':
        terminal++;
        break;
    }
  }
  assert.equal(terminal, 1, 'exactly one terminal item');
  return items;
}

const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"a"',
  '"amount"',
  '"order_id"',
  '1',
  '-0',
  '12.5',
  '1e400',
  '-1e400',
  '2147483648',
  'null',
  'true',
  '"',
  '\\',
  '\\u',
  '\\ud800',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '\ufeff',
  '"\u0000"',
  '"é😀"',
  '"\u2028"',
  '/*',
  'NaN',
];
// Soups start like each format half of the time (else nearly all stop at format detection), and mix in
// whole objects so that records, record issues and file issues all occur.
const tokenSoup = fc
  .tuple(
    fc.constantFrom('', '{', '[', '{"a":1}\n', '[{"a":1},', '{\n'),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...TOKENS) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('{"a":1}', '\n{"b":[1,{"c":"d"}]}\n', '{"order_id":"x","amount":1e400}'),
        },
      ),
      { maxLength: 200 },
    ),
  )
  .map(([head, t]) => Buffer.from(head + t.join('')));

describe('fuzz: parseEventFile', () => {
  it('random bytes, random chunking', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4096 }),
        fc.integer({ min: 1, max: 700 }),
        async (bytes, size) => {
          await parseChecked(bytes, size);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("random bytes after '{' or '[' (past format detection)", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('{', '[', '{\n', '\ufeff['),
        fc.uint8Array({ maxLength: 2048 }),
        fc.integer({ min: 1, max: 300 }),
        async (head, tail, size) => {
          await parseChecked(Buffer.concat([Buffer.from(head), tail]), size);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('JSON-like token soup (brackets, strings, escapes, huge numbers, odd Unicode)', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenSoup,
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom('x.json', 'x.jsonl'),
        async (bytes, size, name) => {
          await parseChecked(bytes, size, { name });
        },
      ),
      { numRuns: 600 },
    );
  });

  it('the same input gives the same items whatever the chunking', { timeout: 120_000 }, async () => {
    const run = async (bytes: Uint8Array, size: number) => {
      const out: unknown[] = [];
      const source = (async function* () {
        yield* chunks(bytes, size);
      })();
      for await (const item of parseEventFile(source, SMALL))
        out.push(
          item.kind === 'record'
            ? [item.ordinal, item.path, item.value]
            : item.kind === 'record-issue'
              ? [item.ordinal, item.issue]
              : [item.kind],
        );
      return out;
    };
    await fc.assert(
      fc.asyncProperty(tokenSoup, fc.integer({ min: 1, max: 16 }), async (bytes, size) => {
        assert.deepEqual(await run(bytes, size), await run(bytes, bytes.length || 1));
      }),
      { numRuns: 300 },
    );
  });

  it('corrupted gzip: flipped bytes and truncation', { timeout: 120_000 }, async () => {
    const records = fc.array(
      fc.record({ order_id: fc.string(), amount: fc.oneof(fc.integer(), fc.double()) }),
      { minLength: 1, maxLength: 50 },
    );
    await fc.assert(
      fc.asyncProperty(
        records,
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 1, max: 200 }),
        async (recs, flips, cut, size) => {
          const gz = Buffer.from(gzipSync(recs.map((r) => JSON.stringify(r)).join('\n')));
          for (const f of flips) gz[f % gz.length] ^= 1 + (f % 255);
          await parseChecked(gz.subarray(0, gz.length - (cut % gz.length)), size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('valid JSON of any shape (odd Unicode, nesting) as a document, an array and JSON Lines', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue({ maxDepth: 10 }), { minLength: 1, maxLength: 10 }),
        async (values) => {
          await parseChecked(Buffer.from(JSON.stringify(values)), 100);
          await parseChecked(Buffer.from(values.map((v) => JSON.stringify(v)).join('\n')), 100);
          await parseChecked(Buffer.from(JSON.stringify(values[0], null, 2)), 100);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: validate', () => {
  it('anything → a value or issues, never a throw', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withMap: true,
          withNullPrototype: true,
          withTypedArray: true,
          withSparseArray: true,
          withUnicodeString: true,
        }),
        (v) => {
          for (const kind of ['order', 'payment'] as const) {
            const r = validateEvent(kind, v);
            if (!r.ok) assert.ok(r.issues.length > 0 && r.issues.every((i) => i.message.length > 0));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('order-shaped records with odd strings and numbers: accepted exactly when every field is in range', () => {
    const str = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constant(''),
      fc.constantFrom(' ', '\t \n', '\u3000'),
      fc.constant('a\ud800'),
      fc.constant('x'.repeat(5000)),
    );
    const num = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(
        2 ** 31,
        -(2 ** 31) - 1,
        2 ** 31 - 1,
        -(2 ** 31),
        Number.POSITIVE_INFINITY,
        Number.NaN,
        2 ** 53 + 1,
      ),
    );
    fc.assert(
      fc.property(
        fc.record({ order_id: str, order_date: str, created_at: str, customer_id: str, amount: num }),
        (o) => {
          const r = validateEvent('order', o);
          const strOk = (s: string) =>
            s.trim().length > 0 && Buffer.byteLength(s) <= 4096 && s.isWellFormed();
          const expectOk =
            strOk(o.order_id) &&
            strOk(o.order_date) &&
            strOk(o.created_at) &&
            strOk(o.customer_id) &&
            Number.isInteger(o.amount) &&
            o.amount >= -(2 ** 31) &&
            o.amount <= 2 ** 31 - 1;
          assert.equal(r.ok, expectOk);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
