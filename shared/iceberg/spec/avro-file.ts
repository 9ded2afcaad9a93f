// Avro object container files in memory (Avro spec "Object Container Files"): header = magic "Obj\x01",
// metadata map (avro.schema, avro.codec, plus Iceberg's keys), 16-byte sync marker; then blocks of
// (count, size, records, sync). Records are encoded by avsc; the framing is written here so the header
// carries the RAW schema JSON (field-id, element-id, logicalType map survive — MEASURED.md) and so longs
// can be 64-bit: snapshot ids from other engines exceed 2^53, so every long decodes to a number when it
// is safe and to a bigint otherwise, and encodes from either. Pure (bytes in, bytes out).
import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import type { AvroSchema } from './avro-schemas.ts';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

const LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => {
    const n = buf.readBigInt64LE(0);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  },
  toBuffer: (n: number | bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => (typeof v === 'bigint' ? v : Number(v)),
  toJSON: (n: number | bigint) => (typeof n === 'bigint' ? Number(n) : n),
  isValid: (n: unknown) =>
    (typeof n === 'number' && Number.isSafeInteger(n)) ||
    (typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n),
  compare: (a: number | bigint, b: number | bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});

// Building an avsc Type compiles code; the few schemas in use are built once and reused.
const typeCache = new Map<string, avro.Type>();
function recordType(schema: AvroSchema): avro.Type {
  const key = JSON.stringify(schema);
  let type = typeCache.get(key);
  if (type === undefined) {
    type = avro.Type.forSchema(schema as avro.Schema, { registry: { long: LONG } as never });
    if (typeCache.size > 64) typeCache.clear();
    typeCache.set(key, type);
  }
  return type;
}

export type AvroCodec = 'null' | 'deflate';

export interface EncodeAvroOptions {
  readonly metadata?: Readonly<Record<string, string>>;
  readonly codec?: AvroCodec;
  /** Records per block. */
  readonly blockRecords?: number;
}

/** One Avro container file holding `records`, with `metadata` as extra header keys. */
export function encodeAvroFile(
  schema: AvroSchema,
  records: readonly unknown[],
  options: EncodeAvroOptions = {},
): Buffer {
  const type = recordType(schema);
  const codec = options.codec ?? 'deflate';
  const sync = randomBytes(16);
  const meta: Record<string, Buffer> = {
    'avro.schema': Buffer.from(JSON.stringify(schema)),
    'avro.codec': Buffer.from(codec),
  };
  for (const [k, v] of Object.entries(options.metadata ?? {})) meta[k] = Buffer.from(v);
  const parts: Buffer[] = [HEADER.toBuffer({ magic: MAGIC, meta, sync })];
  const per = options.blockRecords ?? 1000;
  for (let i = 0; i < records.length; i += per) {
    const chunk = records.slice(i, i + per);
    const raw = Buffer.concat(chunk.map((r) => type.toBuffer(r)));
    const data = codec === 'deflate' ? deflateRawSync(raw) : raw;
    parts.push(LONG.toBuffer(chunk.length), LONG.toBuffer(data.length), data, sync);
  }
  return Buffer.concat(parts);
}

export interface AvroFile<T = unknown> {
  /** The writer's schema as stored in the header (raw JSON, with Iceberg's attributes). */
  readonly schema: AvroSchema;
  /** Header metadata other than avro.schema, as UTF-8 strings. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly records: readonly T[];
}

/** Reads a whole Avro container file, decoding records with the writer's schema. */
export function decodeAvroFile<T = unknown>(bytes: Uint8Array): AvroFile<T> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new Error(
      `expected an Avro container file (magic Obj\\x01), but the first bytes were: ${buf.subarray(0, 4).toString('hex')}`,
    );
  }
  const header = HEADER.decode(buf, 0) as {
    value: { meta: Record<string, Buffer>; sync: Buffer };
    offset: number;
  };
  if (header.offset < 0) throw new Error('expected a complete Avro header, but the file is truncated');
  const { meta, sync } = header.value;
  const schemaBytes = meta['avro.schema'];
  if (schemaBytes === undefined)
    throw new Error('expected avro.schema in the Avro header, but it is missing');
  const schema = JSON.parse(schemaBytes.toString('utf8')) as AvroSchema;
  const codec = meta['avro.codec']?.toString('utf8') ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') {
    throw new Error(`expected Avro codec null or deflate, but was: ${JSON.stringify(codec)}`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (k !== 'avro.schema') metadata[k] = v.toString('utf8');
  const type = recordType(schema);
  const records: T[] = [];
  let pos = header.offset;
  while (pos < buf.length) {
    const count = LONG.decode(buf, pos) as { value: number; offset: number };
    const size = LONG.decode(buf, count.offset) as { value: number; offset: number };
    if (count.offset < 0 || size.offset < 0)
      throw new Error('expected an Avro block header, but the file is truncated');
    const end = size.offset + size.value;
    if (end + 16 > buf.length)
      throw new Error(`expected an Avro block of ${size.value} bytes, but the file is truncated`);
    const block = buf.subarray(size.offset, end);
    const data = codec === 'deflate' ? inflateRawSync(block) : block;
    if (!buf.subarray(end, end + 16).equals(sync))
      throw new Error('expected the Avro sync marker after a block, but it differs');
    let off = 0;
    for (let i = 0; i < count.value; i++) {
      const r = type.decode(data, off) as { value: T; offset: number };
      if (r.offset < 0) throw new Error('expected a complete Avro record, but the block is truncated');
      records.push(r.value);
      off = r.offset;
    }
    pos = end + 16;
  }
  return { schema, metadata, records };
}
