// Measurement, not a test: parse + validate throughput and peak RSS over a generated ~100 MB JSON Lines
// file of 1M payments (plain and gzip). Run: `npx node test/unit/ingest/measure-parse.ts [events]`.
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { parseEventFile } from '../../../shared/ingest/parse-event-file.ts';
import { validateEvent } from '../../../shared/ingest/validate.ts';

const limits = {
  maxObjectSize: 512 * 1024 ** 2,
  maxDecompressedSize: 2 * 1024 ** 3,
  maxLineLength: 1024 ** 2,
};

if (process.argv[2] === '--parse') {
  // Child process: parse only, so peak RSS is not inflated by generating the file.
  await measure(process.argv[3]!);
  process.exit(0);
}

const events = Number(process.argv[2] ?? 1_000_000);
const dir = await mkdtemp(join(tmpdir(), 'streamjoin-measure-'));
const plain = join(dir, 'payments.jsonl');
const gz = join(dir, 'payments.jsonl.gz');

function* lines(): Generator<string> {
  // About 110 bytes per event, like the producer's payments: ~110 MB for 1M.
  for (let i = 0; i < events; i++) {
    yield `${JSON.stringify({
      payment_id: `p-${i}`,
      order_id: `o-${i}`,
      payment_date: '2026-11-25T17:51:49',
      created_at: '2026-11-25T17:51:49',
      amount: i % 100000,
    })}\n`;
  }
}

await pipeline(lines, createWriteStream(plain));
await pipeline(createReadStream(plain), createGzip(), createWriteStream(gz));

async function measure(path: string): Promise<void> {
  const size = (await stat(path)).size;
  const t0 = performance.now();
  let valid = 0;
  let invalid = 0;
  for await (const item of parseEventFile(createReadStream(path, { highWaterMark: 256 * 1024 }), {
    ...limits,
    name: path,
  })) {
    if (item.kind === 'record') {
      if (validateEvent('payment', item.value, item.path).ok) valid++;
      else invalid++;
    } else if (item.kind === 'file-issue') throw new Error(item.issue.message);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${path.endsWith('.gz') ? 'gzip ' : 'plain'} ${(size / 1e6).toFixed(1)} MB, ${valid} valid, ${invalid} invalid: ` +
      `${s.toFixed(2)} s, ${Math.round(valid / s).toLocaleString('en')} events/s, ${(size / 1e6 / s).toFixed(1)} MB/s, ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
}

console.log(`node ${process.version}, ${events} events`);
for (const file of [plain, gz]) {
  execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--parse', file], { stdio: 'inherit' });
}
await rm(dir, { recursive: true, force: true });
