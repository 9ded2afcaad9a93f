// parseEventFile over the fixture files (named by what they exercise), each read whole and one byte at a
// time (every chunk boundary), plus resume, limits and early stop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseEventFile } from '../../../shared/ingest/parse-event-file.ts';
import { chunks, collect, fixture, LIMITS } from './collect.ts';

interface Case {
  name: string;
  file: string;
  options?: { name?: string; contentEncoding?: string };
  expected: {
    format: string | undefined;
    gzip: boolean;
    /** order_id / payment_id of each record, or a count when the values are not objects with ids. */
    records: Array<string | null> | number;
    recordPaths?: Array<{ line?: number; index?: number }>;
    recordIssues: Array<{ ordinal: number; code: string; line?: number; index?: number; message?: RegExp }>;
    fileIssue?: { code: string; message: RegExp };
  };
}

const idOf = (v: unknown): string | null => {
  const o = v as Record<string, unknown>;
  return (o.payment_id ?? o.order_id ?? null) as string | null;
};

const cases: Case[] = [
  {
    name: 'a single pretty-printed object (what the original producer writes)',
    file: 'order-single-object.json',
    expected: {
      format: 'json-document',
      gzip: false,
      records: ['order-0001'],
      recordPaths: [{ line: 1 }],
      recordIssues: [],
    },
  },
  {
    name: 'a single object on one line is read as a one-line JSON Lines file',
    file: 'payment-single-line.json',
    expected: { format: 'json-lines', gzip: false, records: ['payment-0001'], recordIssues: [] },
  },
  {
    name: 'a JSON array of objects (mixed pretty and compact), streamed element by element',
    file: 'orders-array.json',
    expected: {
      format: 'json-array',
      gzip: false,
      records: ['order-0001', 'order-0002', 'order-0003'],
      recordPaths: [
        { line: 2, index: 0 },
        { line: 9, index: 1 },
        { line: 10, index: 2 },
      ],
      recordIssues: [],
    },
  },
  {
    name: 'JSON Lines with a bad line and a blank line: the bad line is a record issue, the others count',
    file: 'payments-jsonl-with-bad-line.jsonl',
    expected: {
      format: 'json-lines',
      gzip: false,
      records: ['payment-0001', 'payment-0003'],
      recordPaths: [{ line: 1 }, { line: 4 }],
      recordIssues: [
        {
          ordinal: 1,
          code: 'invalid-json',
          line: 2,
          message: /^line 2 must be valid JSON, but: .*\(line 2 column \d+\)/,
        },
      ],
    },
  },
  {
    name: 'gzip JSON Lines (.jsonl.gz)',
    file: 'payments-ndjson.jsonl.gz',
    options: { name: 'stream/payments/2026_11_25/payments-ndjson.jsonl.gz' },
    expected: {
      format: 'json-lines',
      gzip: true,
      records: ['payment-1', 'payment-2', 'payment-3', 'payment-4', 'payment-5'],
      recordIssues: [],
    },
  },
  {
    name: 'gzip detected by its magic bytes, without a .gz name or Content-Encoding',
    file: 'order-gzip-without-suffix.json',
    options: { name: 'stream/orders/2026_11_25/order_1_1764072000000.json' },
    expected: { format: 'json-document', gzip: true, records: ['order-0001'], recordIssues: [] },
  },
  {
    name: 'a UTF-8 BOM is fine',
    file: 'order-with-bom.json',
    expected: { format: 'json-document', gzip: false, records: ['order-0001'], recordIssues: [] },
  },
  {
    name: 'JSON Lines whose first line is cut: re-read as JSON Lines, line 1 is the record issue',
    file: 'orders-jsonl-truncated-first-line.json',
    expected: {
      format: 'json-lines',
      gzip: false,
      records: ['order-0002', 'order-0003'],
      recordIssues: [{ ordinal: 0, code: 'invalid-json', line: 1 }],
    },
  },
  {
    name: 'JSON Lines with wrong types parse fine (validation judges them); a non-object line too',
    file: 'orders-jsonl-wrong-types.jsonl',
    expected: { format: 'json-lines', gzip: false, records: 9, recordIssues: [] },
  },
  {
    name: 'an empty file is a file issue',
    file: 'empty.json',
    expected: {
      format: undefined,
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'empty-file',
        message: /^a file must hold at least one JSON object, but it is empty \(the object has 0 bytes\)$/,
      },
    },
  },
  {
    name: 'a whitespace-only file is a file issue',
    file: 'whitespace-only.json',
    expected: {
      format: undefined,
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'empty-file',
        message: /it is empty \(the object has 5 bytes, all whitespace or BOM\)/,
      },
    },
  },
  {
    name: 'a truncated JSON document is a file issue',
    file: 'truncated.json',
    expected: {
      format: 'json-document',
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'truncated-json',
        message:
          /^expected a complete JSON document, but the file ends inside the one starting at line 1 \(1 unclosed bracket, after \d+ bytes\)$/,
      },
    },
  },
  {
    name: 'binary garbage is a file issue naming the first byte',
    file: 'binary-garbage.bin',
    expected: {
      format: undefined,
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'not-json',
        message:
          /^expected JSON objects \(a file starting with '\{' or '\['\), but line 1 starts with byte 0x89$/,
      },
    },
  },
  {
    name: 'UTF-16 is refused with a hint',
    file: 'order-utf16.json',
    expected: {
      format: undefined,
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'not-json',
        message: /byte 0xff \(a UTF-16 byte order mark: the file must be UTF-8\)$/,
      },
    },
  },
  {
    name: 'nesting beyond 64 levels in a document is a file issue (checked before JSON.parse)',
    file: 'order-deep-nesting.json',
    expected: {
      format: 'json-document',
      gzip: false,
      records: [],
      recordIssues: [],
      fileIssue: {
        code: 'too-deep',
        message:
          /^JSON nesting must be at most 64 levels deep, but the document starting at line 1 is 101 deep$/,
      },
    },
  },
  {
    name: 'a gzip cut in the middle: a file issue before any record (the file is checked whole first)',
    file: 'payments-truncated.jsonl.gz',
    expected: {
      format: undefined,
      gzip: true,
      records: 0,
      recordIssues: [],
      fileIssue: {
        code: 'gzip-truncated',
        message: /^gzip data must end with a complete stream, but it ended early after \d+ compressed bytes/,
      },
    },
  },
];

describe('parseEventFile over fixtures', () => {
  for (const c of cases) {
    for (const chunkSize of [Number.POSITIVE_INFINITY, 1]) {
      it(`${c.name} [${c.file}, ${chunkSize === 1 ? '1-byte chunks' : 'whole'}]`, async () => {
        const bytes = fixture(c.file);
        const r = await collect(chunks(bytes, chunkSize === 1 ? 1 : bytes.length || 1), c.options ?? {});
        assert.equal(r.summary.format, c.expected.format);
        assert.equal(r.summary.gzip, c.expected.gzip);
        // Reading stops at a file issue; otherwise every byte was read.
        if (c.expected.fileIssue === undefined) assert.equal(r.summary.bytesRead, bytes.length);
        else assert.ok(r.summary.bytesRead <= bytes.length);
        if (Array.isArray(c.expected.records))
          assert.deepEqual(
            r.records.map((x) => idOf(x.value)),
            c.expected.records,
          );
        else if (c.expected.records === -1) assert.ok(r.records.length > 0, 'records before the cut');
        else assert.equal(r.records.length, c.expected.records);
        if (c.expected.recordPaths)
          assert.deepEqual(
            r.records.map((x) => x.path),
            c.expected.recordPaths,
          );
        assert.equal(r.recordIssues.length, c.expected.recordIssues.length);
        c.expected.recordIssues.forEach((e, i) => {
          const got = r.recordIssues[i]!;
          assert.equal(got.ordinal, e.ordinal);
          assert.equal(got.issue.code, e.code);
          if (e.line !== undefined) assert.equal(got.issue.path.line, e.line);
          if (e.index !== undefined) assert.equal(got.issue.path.index, e.index);
          if (e.message) assert.match(got.issue.message, e.message);
        });
        if (c.expected.fileIssue === undefined) assert.equal(r.fileIssue, undefined, r.fileIssue?.message);
        else {
          assert.equal(r.fileIssue?.code, c.expected.fileIssue.code, r.fileIssue?.message);
          assert.match(r.fileIssue!.message, c.expected.fileIssue.message);
        }
        // Ordinals: consecutive over records and record issues, in file order.
        const ordinals = [...r.records.map((x) => x.ordinal), ...r.recordIssues.map((x) => x.ordinal)].sort(
          (a, b) => a - b,
        );
        assert.deepEqual(
          ordinals,
          ordinals.map((_, i) => i),
        );
        assert.equal(r.summary.records, r.records.length);
        assert.equal(r.summary.recordIssues, r.recordIssues.length);
      });
    }
  }
});

/** Inline inputs: formats and edge cases too small to deserve a file. */
const inline: Array<{
  name: string;
  input: string;
  records: unknown[];
  issues: string[];
  fileIssue?: string;
}> = [
  {
    name: 'concatenated pretty documents',
    input: '{\n"a": 1\n}\n{\n"a": 2\n}\n',
    records: [{ a: 1 }, { a: 2 }],
    issues: [],
  },
  { name: 'CRLF JSON Lines', input: '{"a":1}\r\n{"a":2}\r\n', records: [{ a: 1 }, { a: 2 }], issues: [] },
  {
    name: 'JSON Lines without a final newline',
    input: '{"a":1}\n{"a":2}',
    records: [{ a: 1 }, { a: 2 }],
    issues: [],
  },
  { name: 'leading blank lines', input: '\n\n  {"a":1}\n', records: [{ a: 1 }], issues: [] },
  { name: 'empty array', input: '[]', records: [], issues: [] },
  {
    name: 'array on one line',
    input: '[{"a":1},{"a":"x,]}"}]',
    records: [{ a: 1 }, { a: 'x,]}' }],
    issues: [],
  },
  {
    name: 'array with an empty element and a trailing comma',
    input: '[{"a":1},,{"a":2},]',
    records: [{ a: 1 }, { a: 2 }],
    issues: ['invalid-json', 'invalid-json'],
  },
  {
    name: 'array element with bad JSON',
    input: '[{"a":1},{"a":},{"a":3}]',
    records: [{ a: 1 }, { a: 3 }],
    issues: ['invalid-json'],
  },
  {
    name: 'array without its closing bracket',
    input: '[{"a":1},{"a":2}',
    records: [{ a: 1 }],
    issues: [],
    fileIssue: 'truncated-json',
  },
  {
    name: 'content after the array',
    input: '[{"a":1}] x',
    records: [{ a: 1 }],
    issues: [],
    fileIssue: 'trailing-content',
  },
  {
    name: 'garbage after a document',
    input: '{\n"a":1}\n]',
    records: [{ a: 1 }],
    issues: [],
    fileIssue: 'trailing-content',
  },
  {
    name: 'a document with a syntax error',
    input: '{\n"a": 1,\n}',
    records: [],
    issues: [],
    fileIssue: 'invalid-json',
  },
  { name: 'a top-level number', input: '42', records: [], issues: [], fileIssue: 'not-json' },
  {
    name: 'a raw control character inside a JSON string',
    input: '{"a":"\u0000"}\n{"a":1}',
    records: [{ a: 1 }],
    issues: ['invalid-json'],
  },
  {
    name: 'an escaped control character is fine',
    input: '{"a":"\\u0000"}',
    records: [{ a: '\u0000' }],
    issues: [],
  },
];

describe('parseEventFile inline cases', () => {
  for (const c of inline) {
    it(c.name, async () => {
      const r = await collect([Buffer.from(c.input)]);
      assert.deepEqual(
        r.records.map((x) => x.value),
        c.records,
      );
      assert.deepEqual(
        r.recordIssues.map((x) => x.issue.code),
        c.issues,
      );
      assert.equal(r.fileIssue?.code, c.fileIssue, r.fileIssue?.message);
    });
  }

  it('invalid UTF-8 bytes on one JSON line are a record issue; the other lines count', async () => {
    const bad = Buffer.concat([
      Buffer.from('{"a":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}\n{"a":2}\n'),
    ]);
    const r = await collect([bad]);
    assert.deepEqual(
      r.recordIssues.map((x) => [x.issue.code, x.issue.message]),
      [['invalid-utf8', 'line 1 must be UTF-8 text, but holds invalid UTF-8 bytes']],
    );
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 2 }],
    );
  });

  it('a .jsonl name forces JSON Lines even for a first value spanning lines', async () => {
    const r = await collect([Buffer.from('{\n"a":1}\n{"a":2}\n')], { name: 'x/y.jsonl' });
    assert.equal(r.summary.format, 'json-lines');
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 2 }],
    );
    assert.deepEqual(
      r.recordIssues.map((x) => x.issue.path.line),
      [1, 2],
    );
  });

  it('a .gz name on plain data (GCS decompressive transcoding) is read as plain', async () => {
    const r = await collect([Buffer.from('{"a":1}\n')], { name: 'x.json.gz', contentEncoding: 'gzip' });
    assert.equal(r.summary.gzip, false);
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 1 }],
    );
  });

  it('non-JSON named .gz says the gzip magic bytes are missing', async () => {
    const r = await collect([Buffer.from('hello')], { name: 'x.json.gz' });
    assert.match(
      r.fileIssue!.message,
      /the name or Content-Encoding says gzip, but the data does not start with the gzip magic bytes 1f 8b/,
    );
  });

  it('accepts string chunks (a Readable with an encoding)', async () => {
    const r = await collect(
      (async function* () {
        yield '{"a":';
        yield '1}\n';
      })(),
    );
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 1 }],
    );
  });
});

describe('parseEventFile resume (startAt)', () => {
  const jsonl = Array.from({ length: 10 }, (_, i) => (i === 4 ? '{bad' : JSON.stringify({ n: i }))).join(
    '\n\n',
  );
  const array = `[${Array.from({ length: 10 }, (_, i) => (i === 4 ? '{bad}' : JSON.stringify({ n: i }))).join(',\n')}]`;
  const docs = Array.from({ length: 10 }, (_, i) => `{\n "n": ${i}\n}`).join('\n');
  for (const [format, input] of [
    ['json-lines', jsonl],
    ['json-array', array],
    ['json-document', docs],
  ] as const) {
    it(`${format}: skipping the first N ordinals gives exactly the rest, with the same ordinals and paths`, async () => {
      const all = await collect([Buffer.from(input)]);
      assert.equal(all.summary.format, format);
      const items = (c: typeof all) =>
        [
          ...c.records.map((x) => [x.ordinal, x.path, x.value]),
          ...c.recordIssues.map((x) => [x.ordinal, x.issue]),
        ].sort((a, b) => (a[0] as number) - (b[0] as number));
      for (const startAt of [0, 1, 4, 5, 9, 10, 50]) {
        const rest = await collect(chunks(Buffer.from(input), 7), { startAt });
        assert.deepEqual(
          items(rest),
          items(all).filter((x) => (x[0] as number) >= startAt),
          `startAt ${startAt}`,
        );
        assert.equal(rest.summary.skipped, Math.min(startAt, 10));
      }
    });
  }
});

describe('parseEventFile limits', () => {
  it('a declared size above maxObjectSize is refused before reading', async () => {
    let pulled = false;
    const source = (async function* () {
      pulled = true;
      yield Buffer.from('{}');
    })();
    const r = await collect(source, { size: 2000, maxObjectSize: 1024 });
    assert.equal(pulled, false);
    assert.equal(
      r.fileIssue?.message,
      'object size must be at most maxObjectSize (1024 bytes), but was: 2000 bytes',
    );
  });

  it('more bytes than maxObjectSize are refused while reading (compressed bytes for gzip)', async () => {
    const gz = gzipSync(
      Buffer.from(Array.from({ length: 10_000 }, (_, i) => `{"a":${i * 7919}}\n`).join('')),
    );
    const r = await collect(chunks(gz, 100), { maxObjectSize: 1024 });
    assert.equal(r.fileIssue?.code, 'object-too-large');
    assert.match(
      r.fileIssue!.message,
      /^object size must be at most maxObjectSize \(1024 bytes\), but more than that was read \(1\d{3} bytes so far\)$/,
    );
  });

  it('a plain file larger than maxDecompressedSize is refused', async () => {
    const r = await collect([Buffer.from('{"a":1}\n'.repeat(1000))], { maxDecompressedSize: 1024 });
    assert.equal(r.fileIssue?.code, 'decompressed-too-large');
  });

  it('a JSON Lines line longer than maxLineLength is a record issue; the next line counts', async () => {
    const r = await collect(chunks(Buffer.from(`{"a":"${'x'.repeat(5000)}"}\n{"a":1}\n`), 1000), {
      maxLineLength: 1024,
    });
    assert.deepEqual(
      r.recordIssues.map((x) => x.issue.message),
      ['line 1 must be at most maxLineLength (1024 bytes), but was 5008 bytes'],
    );
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 1 }],
    );
  });

  it('an array element longer than maxLineLength is a record issue; the next element counts', async () => {
    const r = await collect([Buffer.from(`[{"a":"${'x'.repeat(5000)}"},{"a":1}]`)], { maxLineLength: 1024 });
    assert.deepEqual(
      r.recordIssues.map((x) => x.issue.message),
      ['array element 0 (line 1) must be at most maxLineLength (1024 bytes), but was 5008 bytes'],
    );
    assert.deepEqual(
      r.records.map((x) => x.value),
      [{ a: 1 }],
    );
  });

  it('a multi-line document longer than maxLineLength is a file issue that says why', async () => {
    const r = await collect([Buffer.from(`{\n"a": "${'x'.repeat(5000)}"\n}`)], { maxLineLength: 1024 });
    assert.equal(r.fileIssue?.code, 'document-too-large');
    assert.match(
      r.fileIssue!.message,
      /^a JSON document is parsed whole, so it must be at most maxLineLength \(1024 bytes\), but the one starting at line 1 is larger; big inputs must be JSON Lines or a JSON array, which are streamed$/,
    );
  });

  it('nesting: 64 levels pass, 65 are a record issue in JSON Lines and arrays', async () => {
    const nest = (d: number) => `{"a":${'['.repeat(d - 1)}${']'.repeat(d - 1)}}`;
    const lines = await collect([Buffer.from(`${nest(64)}\n${nest(65)}\n`)]);
    assert.deepEqual([lines.records.length, lines.recordIssues.map((x) => x.issue.code)], [1, ['too-deep']]);
    const arr = await collect([Buffer.from(`[${nest(63)},${nest(64)}]`)]);
    assert.deepEqual(
      [arr.records.length, arr.recordIssues.map((x) => x.issue.message)],
      [
        1,
        ['array element 1 (line 1) must be nested at most 64 levels deep (the array counts 1), but was 65'],
      ],
    );
  });
});

describe('parseEventFile streaming behaviour', () => {
  it('yields the first record before the source ends, and stopping early releases the source', async () => {
    let produced = 0;
    let finished = false;
    const source = (async function* () {
      try {
        for (;;) {
          produced++;
          yield Buffer.from(`{"n":${produced}}\n`);
        }
      } finally {
        finished = true;
      }
    })();
    let seen = 0;
    for await (const item of parseEventFile(source, LIMITS)) {
      if (item.kind === 'record') seen++;
      if (seen === 3) break;
    }
    assert.equal(seen, 3);
    assert.ok(produced < 10, `read ${produced} chunks for 3 records`);
    assert.equal(finished, true);
  });

  it('stopping early inside a gzip file releases the source too', async () => {
    const gz = gzipSync(Buffer.from('{"n":1}\n'.repeat(200_000)));
    let finished = false;
    const source = (async function* () {
      try {
        yield* chunks(gz, 256);
      } finally {
        finished = true;
      }
    })();
    for await (const item of parseEventFile(source, LIMITS)) if (item.kind === 'record') break;
    assert.equal(finished, true);
  });

  it('an error of the source itself (e.g. network) is rethrown, not turned into an issue', async () => {
    for (const gzip of [false, true]) {
      const first = gzip
        ? gzipSync(Buffer.from('{"n":1}\n'.repeat(1000))).subarray(0, 50)
        : Buffer.from('{"n":1}\n');
      const source = (async function* () {
        yield first;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      })();
      await assert.rejects(collect(source), { code: 'ECONNRESET' }, gzip ? 'gzip' : 'plain');
    }
  });
});
