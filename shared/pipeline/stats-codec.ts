// A staged batch's data file statistics as a Firestore map and back. Bounds keep their earlier form
// (numbers, strings and booleans as they are, bigints as strings listed in `bigintBounds`); the partition tuple,
// whose values may be bigints or bytes, is one tagged JSON string. Pure.
import { StreamjoinError } from '../errors.ts';
import type { DataFileStats, StatValue } from '../tables.ts';

/** DataFileStats as a Firestore map. */
export type SerializedStats = Omit<DataFileStats, 'lowerBounds' | 'upperBounds' | 'partition'> & {
  lowerBounds: Record<string, string | number | boolean>;
  upperBounds: Record<string, string | number | boolean>;
  bigintBounds: number[];
  /** The partition tuple, tagged JSON (see encodeTagged). */
  partitionJson?: string;
};

/** JSON with bigints as {"$big": "…"} and bytes as {"$hex": "…"}. */
export function encodeTagged(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === 'bigint'
      ? { $big: v.toString() }
      : v instanceof Uint8Array
        ? { $hex: Buffer.from(v).toString('hex') }
        : v,
  );
}

export function decodeTagged(text: string): unknown {
  return JSON.parse(text, (_k, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.$big === 'string') return BigInt(v.$big);
      if (typeof v.$hex === 'string') return new Uint8Array(Buffer.from(v.$hex, 'hex'));
    }
    return v;
  });
}

export function serializeStats(s: DataFileStats): SerializedStats {
  const big = new Set<number>();
  const conv = (b: Readonly<Record<number, StatValue>>) => {
    const out: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(b)) {
      if (typeof v === 'bigint') {
        big.add(Number(k));
        out[k] = v.toString();
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
      else {
        throw new StreamjoinError(
          'internal',
          `expected string, number, boolean or bigint bounds in a flushed file's stats, but field ${k} has ${typeof v}`,
        );
      }
    }
    return out;
  };
  const { partition, ...rest } = s;
  const lowerBounds = conv(s.lowerBounds);
  const upperBounds = conv(s.upperBounds);
  return {
    ...rest,
    lowerBounds,
    upperBounds,
    bigintBounds: [...big],
    ...(partition === undefined ? {} : { partitionJson: encodeTagged(partition) }),
  };
}

export function deserializeStats(s: SerializedStats): DataFileStats {
  const big = new Set(s.bigintBounds);
  const conv = (b: Record<string, string | number | boolean>) => {
    const out: Record<number, string | number | bigint | boolean> = {};
    for (const [k, v] of Object.entries(b))
      out[Number(k)] = big.has(Number(k)) && typeof v !== 'boolean' ? BigInt(v) : v;
    return out;
  };
  const { bigintBounds: _, partitionJson, ...rest } = s;
  return {
    ...rest,
    lowerBounds: conv(s.lowerBounds),
    upperBounds: conv(s.upperBounds),
    ...(partitionJson === undefined
      ? {}
      : { partition: decodeTagged(partitionJson) as Record<string, StatValue | null> }),
  };
}
