// The catalogue of bad inputs (issue 3): each ends with a precise reason — file-level or per record — and
// the good records beside it are still accepted. Parse + validate, as ingest runs them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseEventFile } from '../../../shared/ingest/parse-event-file.ts';
import { type EventKind, validateEvent } from '../../../shared/ingest/validate.ts';
import { chunks, collect, fixture } from './collect.ts';

/** The configuration defaults (shared/config.ts): 512 MiB object, 2 GiB inflated, 1 MiB line. */
const DEFAULTS = {
  maxObjectSize: 512 * 1024 ** 2,
  maxDecompressedSize: 2 * 1024 ** 3,
  maxLineLength: 1024 ** 2,
};

interface Outcome {
  accepted: string[];
  rejects: Array<{ ordinal: number | null; code: string; field?: string; message: string }>;
}

async function ingestDry(
  source: Iterable<Uint8Array>,
  kind: EventKind,
  options: Record<string, unknown> = {},
): Promise<Outcome> {
  const out: Outcome = { accepted: [], rejects: [] };
  const input = (async function* () {
    yield* source;
  })();
  for await (const item of parseEventFile(input, { ...DEFAULTS, ...options })) {
    if (item.kind === 'record') {
      const v = validateEvent(kind, item.value, item.path);
      if (v.ok)
        out.accepted.push(v.value.kind === 'order' ? v.value.order.orderId : v.value.payment.paymentId);
      else
        for (const i of v.issues)
          out.rejects.push({
            ordinal: item.ordinal,
            code: i.code,
            ...(i.path.field ? { field: i.path.field } : {}),
            message: i.message,
          });
    } else if (item.kind === 'record-issue') {
      out.rejects.push({
        ordinal: item.ordinal,
        code: item.issue.code,
        ...(item.issue.path.field ? { field: item.issue.path.field } : {}),
        message: item.issue.message,
      });
    } else if (item.kind === 'file-issue') {
      out.rejects.push({ ordinal: null, code: item.issue.code, message: item.issue.message });
    }
  }
  return out;
}

const payment = (id: string) =>
  JSON.stringify({
    payment_id: id,
    order_id: `o-${id}`,
    payment_date: '2026-11-25T17:52:00',
    created_at: '2026-11-25T17:52:00',
    amount: 1,
  });

/** A gzip that inflates to `mib` MiB: many members of 1 MiB of spaces after one good line (multi-member
 *  gzip is valid), so a 4 GiB bomb is ~4 MB to hold and quick to build. */
function gzipBomb(mib: number, head: string): Buffer {
  const member = gzipSync(Buffer.alloc(1024 * 1024, 0x20), { level: 9 });
  return Buffer.concat([gzipSync(`${head}\n`), ...Array.from({ length: mib }, () => member)]);
}

/** Parse only (no validation): the ids of the records, the file issue and the summary. */
async function collectItems(source: Iterable<Uint8Array>, options: Record<string, unknown> = {}) {
  const r = await collect(source, { ...DEFAULTS, ...options });
  return {
    accepted: r.records.map((x) => (x.value as { payment_id: string }).payment_id),
    fileIssue: r.fileIssue,
    summary: r.summary,
  };
}

const INT = 'an integer in [-2147483648, 2147483647]';
const STR = 'a non-empty string of at most 4096 UTF-8 bytes';

describe('catalogue of bad inputs', () => {
  it('truncated JSON document → file issue, nothing accepted', async () => {
    const r = await ingestDry([fixture('truncated.json')], 'order');
    assert.deepEqual(r, {
      accepted: [],
      rejects: [
        {
          ordinal: null,
          code: 'truncated-json',
          message:
            'expected a complete JSON document, but the file ends inside the one starting at line 1 (1 unclosed bracket, after 108 bytes)',
        },
      ],
    });
  });

  it('wrong types, overflow, huge numbers, null and missing fields → one reject per bad field; the good line is accepted', async () => {
    const r = await ingestDry([fixture('orders-jsonl-wrong-types.jsonl')], 'order');
    assert.deepEqual(r.accepted, ['o-ok']);
    assert.deepEqual(r.rejects, [
      {
        ordinal: 1,
        code: 'not-an-integer',
        field: 'amount',
        message: `amount must be ${INT}, but was: 12.5`,
      },
      { ordinal: 2, code: 'wrong-type', field: 'amount', message: `amount must be ${INT}, but was: "12"` },
      {
        ordinal: 3,
        code: 'out-of-range',
        field: 'amount',
        message: `amount must be ${INT}, but was: 2147483648`,
      },
      {
        ordinal: 4,
        code: 'out-of-range',
        field: 'amount',
        message: `amount must be ${INT}, but was: Infinity (a number beyond double precision, e.g. 1e400)`,
      },
      {
        ordinal: 5,
        code: 'null-field',
        field: 'order_id',
        message: `order_id must be ${STR}, but was: null`,
      },
      {
        ordinal: 6,
        code: 'missing-field',
        field: 'customer_id',
        message: `customer_id is required (${STR}), but was missing`,
      },
      { ordinal: 7, code: 'wrong-type', field: 'order_id', message: `order_id must be ${STR}, but was: 17` },
      {
        ordinal: 8,
        code: 'not-an-object',
        message: 'an order must be a JSON object, but was: an array of 3 elements',
      },
    ]);
  });

  it('binary garbage → file issue naming the byte', async () => {
    const r = await ingestDry([fixture('binary-garbage.bin')], 'payment');
    assert.deepEqual(
      r.rejects.map((x) => [x.ordinal, x.code, x.message]),
      [
        [
          null,
          'not-json',
          "expected JSON objects (a file starting with '{' or '['), but line 1 starts with byte 0x89",
        ],
      ],
    );
  });

  it('gzip bomb (4 GiB inflated from ~4 MB) → refused by its inflation ratio after ~1 MiB of inflation: no record, one precise reason', async () => {
    const bomb = gzipBomb(4096, payment('before-the-bomb'));
    const r = await collectItems(chunks(bomb, 64 * 1024));
    assert.deepEqual(r.accepted, []);
    assert.equal(r.fileIssue?.code, 'inflation-ratio');
    assert.match(
      r.fileIssue!.message,
      /^gzip data must inflate to at most 200 times its compressed size \(maxInflationRatio\), but \d+ compressed bytes inflated to \d+ bytes \(\d+:1, a gzip bomb\?\); inflation stopped$/,
    );
    // Stopped after about INFLATION_CHECK_FLOOR of inflation, not the 2 GiB maxDecompressedSize.
    assert.ok(r.summary!.bytesDecoded < 4 * 1024 ** 2, `inflated ${r.summary!.bytesDecoded} bytes`);
  });

  it('a gzip of ordinary events (far below the ratio) is read whole', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => payment(`p-${i}`)).join('\n');
    const gz = gzipSync(lines, { level: 9 });
    assert.ok(lines.length > 1024 ** 2 && lines.length / gz.length < 200);
    const r = await collectItems(chunks(gz, 64 * 1024));
    assert.equal(r.accepted.length, 20_000);
    assert.equal(r.fileIssue, undefined);
  });

  it('a bomb past the verified size (streamed unchecked) is stopped by its ratio as it inflates; the line before it counts', async () => {
    const bomb = gzipBomb(4096, payment('before-the-bomb'));
    const r = await collectItems(chunks(bomb, 64 * 1024), { gzipVerifyMaxBytes: 0 });
    assert.deepEqual(r.accepted, ['before-the-bomb']);
    assert.equal(r.fileIssue?.code, 'inflation-ratio');
    assert.ok(r.summary!.bytesDecoded < 4 * 1024 ** 2, `inflated ${r.summary!.bytesDecoded} bytes`);
  });

  it('gzip bomb with the ratio check lifted → stopped at maxDecompressedSize, in bounded memory and time; the line before it counts', async () => {
    const bomb = gzipBomb(4096, payment('before-the-bomb'));
    const rssBefore = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    const r = await ingestDry(chunks(bomb, 64 * 1024), 'payment', {
      maxDecompressedSize: 64 * 1024 ** 2,
      maxInflationRatio: 100_000,
    });
    const used = process.cpuUsage(cpu0); // CPU, not wall time: robust on a loaded machine
    const ms = (used.user + used.system) / 1000;
    const grownMiB = (process.memoryUsage().rss - rssBefore) / 1024 ** 2;
    assert.deepEqual(r.accepted, ['before-the-bomb']);
    assert.equal(r.rejects.length, 1);
    assert.equal(r.rejects[0]!.code, 'decompressed-too-large');
    assert.match(
      r.rejects[0]!.message,
      /^gzip data must inflate to at most maxDecompressedSize \(67108864 bytes\), but inflated past it after \d+ compressed bytes \(ratio over \d+:1\); inflation stopped$/,
    );
    assert.ok(grownMiB < 150, `RSS grew ${grownMiB.toFixed(0)} MiB`);
    assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms of CPU`);
  });

  it('a repeated key (JSON.parse would keep the last value silently) → record issue naming the key, in every format; the others count', async () => {
    const dup =
      '{"payment_id":"p-dup","order_id":"o-1","payment_date":"d","created_at":"c","amount":1,"amount":900}';
    const escaped =
      '{"payment_id":"p-esc","order_id":"o-1","payment_date":"d","created_at":"c","amount":1,"\\u0061mount":2}';
    const nested =
      '{"payment_id":"p-nest","order_id":"o-1","payment_date":"d","created_at":"c","amount":1,"x":[{"k":1,"k":2}]}';
    const sameKeyTwoObjects =
      '{"payment_id":"p-ok2","order_id":"o-1","payment_date":"d","created_at":"c","amount":1,"x":{"amount":":"}}';
    const jsonl = [payment('p-ok'), dup, escaped, nested, sameKeyTwoObjects].join('\n');
    const r = await ingestDry([Buffer.from(jsonl)], 'payment');
    assert.deepEqual(r.accepted, ['p-ok', 'p-ok2']);
    assert.deepEqual(
      r.rejects.map((x) => [x.ordinal, x.code, x.field, x.message]),
      [
        [
          1,
          'duplicate-key',
          'amount',
          'line 2 must not repeat a key within one object, but has "amount" more than once (which value was meant is unknown)',
        ],
        [
          2,
          'duplicate-key',
          'amount',
          'line 3 must not repeat a key within one object, but has "amount" more than once (which value was meant is unknown)',
        ],
        [
          3,
          'duplicate-key',
          'k',
          'line 4 must not repeat a key within one object, but has "k" more than once (which value was meant is unknown)',
        ],
      ],
    );
    const array = await ingestDry([Buffer.from(`[${payment('p-a')},\n${dup}]`)], 'payment');
    assert.deepEqual(array.accepted, ['p-a']);
    assert.deepEqual(
      array.rejects.map((x) => [x.ordinal, x.code, x.field]),
      [[1, 'duplicate-key', 'amount']],
    );
    const doc = await ingestDry([Buffer.from(dup.replace(/,/g, ',\n'))], 'payment');
    assert.deepEqual(doc.accepted, []);
    assert.deepEqual(
      doc.rejects.map((x) => [x.ordinal, x.code, x.field]),
      [[0, 'duplicate-key', 'amount']],
    );
  });

  it('an order_id of only whitespace → record issue (it would join every other blank id)', async () => {
    const blank = JSON.stringify({ ...JSON.parse(payment('p-blank')), order_id: ' \t ' });
    const r = await ingestDry([Buffer.from(`${blank}\n${payment('p-ok')}`)], 'payment');
    assert.deepEqual(r.accepted, ['p-ok']);
    assert.deepEqual(r.rejects, [
      {
        ordinal: 0,
        code: 'blank-string',
        field: 'order_id',
        message: `order_id must be ${STR} with a character other than whitespace, but was: " \\t "`,
      },
    ]);
  });

  it('10 MB single line → record issue (longer than maxLineLength); the next line counts', async () => {
    const big = JSON.stringify({ payment_id: 'big', pad: 'x'.repeat(10 * 1024 * 1024) });
    const r = await ingestDry(chunks(Buffer.from(`${big}\n${payment('after')}\n`), 64 * 1024), 'payment');
    assert.deepEqual(r.accepted, ['after']);
    assert.deepEqual(r.rejects, [
      {
        ordinal: 0,
        code: 'record-too-large',
        message: `line 1 must be at most maxLineLength (1048576 bytes), but was ${big.length} bytes`,
      },
    ]);
  });

  it('10 MB single line alone (the whole file) → the same record issue, nothing accepted', async () => {
    const big = `{"payment_id": "${'x'.repeat(10 * 1024 * 1024)}"}`;
    const r = await ingestDry(chunks(Buffer.from(big), 64 * 1024), 'payment');
    assert.deepEqual(
      r.rejects.map((x) => x.code),
      ['record-too-large'],
    );
  });

  it('deep nesting → file issue for a document, record issue for a line', async () => {
    const doc = await ingestDry([fixture('order-deep-nesting.json')], 'order');
    assert.deepEqual(
      doc.rejects.map((x) => [x.ordinal, x.code, x.message]),
      [
        [
          null,
          'too-deep',
          'JSON nesting must be at most 64 levels deep, but the document starting at line 1 is 101 deep',
        ],
      ],
    );
    const deepLine = `{"payment_id":"deep","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const lines = await ingestDry([Buffer.from(`${deepLine}\n${payment('ok')}\n`)], 'payment');
    assert.deepEqual(lines.accepted, ['ok']);
    assert.deepEqual(
      lines.rejects.map((x) => x.code),
      ['too-deep'],
    );
  });

  it('BOM → fine, the order is accepted', async () => {
    const r = await ingestDry([fixture('order-with-bom.json')], 'order');
    assert.deepEqual(r, { accepted: ['order-0001'], rejects: [] });
  });

  it('empty file → file issue', async () => {
    const r = await ingestDry([fixture('empty.json')], 'order');
    assert.deepEqual(
      r.rejects.map((x) => [x.ordinal, x.code, x.message]),
      [
        [
          null,
          'empty-file',
          'a file must hold at least one JSON object, but it is empty (the object has 0 bytes)',
        ],
      ],
    );
  });

  it('JSON Lines with a bad line → that line rejected with its line number; the others accepted', async () => {
    const r = await ingestDry([fixture('payments-jsonl-with-bad-line.jsonl')], 'payment');
    assert.deepEqual(r.accepted, ['payment-0001', 'payment-0003']);
    assert.equal(r.rejects.length, 1);
    assert.match(
      r.rejects[0]!.message,
      /^line 2 must be valid JSON, but: Expected ',' or '\}' after property value in JSON at position \d+ \(line 2 column \d+\)$/,
    );
  });

  it('truncated gzip → a file issue and no record (a damaged gzip file is checked whole first)', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => payment(`p${i}`)).join('\n');
    const gz = gzipSync(lines);
    const r = await ingestDry([gz.subarray(0, gz.length >> 1)], 'payment');
    assert.deepEqual(r.accepted, []);
    assert.deepEqual(
      r.rejects.map((x) => x.code),
      ['gzip-truncated'],
    );
  });

  it('corrupted gzip → file issue quoting zlib', async () => {
    const gz = Buffer.from(gzipSync(Array.from({ length: 2000 }, (_, i) => payment(`p${i}`)).join('\n')));
    gz[gz.length >> 1] ^= 0xff;
    const r = await ingestDry([gz], 'payment');
    assert.equal(r.rejects.at(-1)!.code, 'gzip-invalid');
    assert.match(
      r.rejects.at(-1)!.message,
      /^gzip data must be a valid gzip stream, but zlib failed after \d+ compressed bytes \(\d+ bytes inflated\): Z_DATA_ERROR: /,
    );
  });
});
