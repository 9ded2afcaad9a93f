// The compaction policy as a pure function of file sizes: which files of a partition are merged, and
// what that costs over a simulated day of appends (write amplification, files left).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CompactionPolicy,
  maintenanceSettingsOf,
  planPartitionRewrite,
  resolvePolicy,
} from '../../../shared/pipeline/compaction-policy.ts';

const MiB = 2 ** 20;
const files = (...sizes: number[]) =>
  sizes.map((size, i) => ({ size, name: `f${String(i).padStart(3, '0')}` }));
const T = 128 * MiB;
const base: CompactionPolicy = { targetFileSize: T, minFilesToCompact: 4 };

describe('planPartitionRewrite: which files of a partition are merged', () => {
  const cases: { name: string; sizes: number[]; policy?: Partial<CompactionPolicy>; expected: number[] }[] = [
    { name: 'no files', sizes: [], expected: [] },
    {
      name: 'fewer small files than minFilesToCompact: nothing',
      sizes: [1, 2, 3].map((x) => x * MiB),
      expected: [],
    },
    {
      name: 'as many small files as minFilesToCompact: the two smallest, then each next one no bigger than what is merged',
      sizes: [3, 1, 2, 40].map((x) => x * MiB),
      // 1 + 2 = 3 ≥ 3 → taken; 6 < 40 → stop
      expected: [1, 2, 0],
    },
    {
      name: 'a growing file is not rewritten for one tiny file: the tiny ones wait and merge together',
      sizes: [60, 1, 1, 1].map((x) => x * MiB),
      expected: [1, 2, 3],
    },
    {
      name: 'equal sizes all merge (tier full)',
      sizes: [5, 5, 5, 5].map((x) => x * MiB),
      expected: [0, 1, 2, 3],
    },
    {
      name: 'files near the target are done: never taken, and not counted as small',
      sizes: [100, 120, 200, 1, 1].map((x) => x * MiB),
      expected: [],
    },
    {
      name: 'exactly minFileRatio × target is done',
      sizes: [96, 1, 1, 1].map((x) => x * MiB),
      policy: { minFilesToCompact: 3 },
      expected: [1, 2, 3],
    },
    {
      name: 'just below minFileRatio × target is small, and taken when both ratios allow',
      sizes: [95.9, 40, 30, 30].map((x) => x * MiB),
      policy: { tierRatio: 3 },
      // 30 + 30 = 60; 40 ≤ 60 and ≤ 3 × 30 → 100; 95.9 ≤ 100 and ≤ 3 × 40, 195.9 ≤ maxGroupBytes (256)
      expected: [2, 3, 1, 0],
    },
    {
      name: 'a file of the next size tier waits for its peers (tierRatio 2)',
      sizes: [95.9, 40, 30, 30].map((x) => x * MiB),
      // 30 + 30 = 60; 40 ≤ 60 and ≤ 2 × 30 → 100; 95.9 ≤ 100 but > 2 × 40: stop
      expected: [2, 3, 1],
    },
    {
      name: 'a micro-batch of equal tick files merges together, the medium file of earlier merges stays',
      sizes: [1, 1, 1, 1, 1, 5, 5, 25].map((x) => x * MiB),
      policy: { minFilesToCompact: 8 },
      // need = 8 - 7 + 1 = 2; the other 1s extend (same tier); 5 > 2 × 1: waits
      expected: [0, 1, 2, 3, 4],
    },
    {
      name: 'many small files: enough are taken to get back to minFilesToCompact - 1',
      sizes: [9, 8, 7, 6, 5, 4, 3, 2, 1].map((x) => x * MiB),
      // need = 9 - 3 + 1 = 7 → 1..7 (28 MiB); 8 ≤ 28 → 36; 9 ≤ 36 → 45
      expected: [8, 7, 6, 5, 4, 3, 2, 1, 0],
    },
    {
      name: 'sizeRatio 0: no extension beyond what the count needs',
      sizes: [9, 8, 7, 6, 5, 4, 3, 2, 1].map((x) => x * MiB),
      policy: { sizeRatio: 0 },
      expected: [8, 7, 6, 5, 4, 3, 2],
    },
    {
      name: 'maxGroupBytes bounds a run: the rest waits',
      sizes: [50, 50, 50, 50, 50].map((x) => x * MiB),
      policy: { maxGroupBytes: 120 * MiB },
      expected: [0, 1],
    },
    {
      name: 'the two smallest are always taken, even beyond maxGroupBytes',
      sizes: [70, 80, 90, 95].map((x) => x * MiB),
      policy: { maxGroupBytes: 100 * MiB },
      expected: [0, 1],
    },
    {
      name: 'maxGroupFiles bounds the number of inputs',
      sizes: Array.from({ length: 20 }, () => 1024),
      policy: { maxGroupFiles: 5 },
      expected: [0, 1, 2, 3, 4],
    },
    {
      name: 'equal sizes: ties broken by name (deterministic)',
      sizes: [7, 7, 7, 7, 50].map((x) => x * MiB),
      policy: { minFilesToCompact: 5, sizeRatio: 0 },
      expected: [0, 1],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(planPartitionRewrite(files(...c.sizes), { ...base, ...c.policy }), c.expected);
    });
  }
});

describe('planPartitionRewrite of a quiet partition: the fewest smallest files down to quietMaxSmallFiles', () => {
  const cases: {
    name: string;
    sizes: number[];
    quiet: boolean;
    policy?: Partial<CompactionPolicy>;
    expected: number[];
  }[] = [
    {
      name: 'hot, fewer small files than minFilesToCompact: nothing',
      sizes: [1, 2, 3, 4, 5, 6],
      quiet: false,
      policy: { minFilesToCompact: 8, quietMaxSmallFiles: 3 },
      expected: [],
    },
    {
      name: 'quiet, 6 small files, at most 3 kept: the 4 smallest, no size-ratio extension',
      sizes: [6, 5, 4, 3, 2, 1],
      quiet: true,
      policy: { minFilesToCompact: 8, quietMaxSmallFiles: 3 },
      expected: [5, 4, 3, 2],
    },
    {
      name: 'quiet, as many small files as allowed: nothing',
      sizes: [1, 1, 1],
      quiet: true,
      policy: { minFilesToCompact: 8, quietMaxSmallFiles: 3 },
      expected: [],
    },
    {
      name: 'quiet, one small file over the bound: the two smallest',
      sizes: [9, 1, 5, 2],
      quiet: true,
      policy: { minFilesToCompact: 8, quietMaxSmallFiles: 3 },
      expected: [1, 3],
    },
    {
      name: 'quiet: files near the target are neither taken nor counted',
      sizes: [100 * 1024, 110 * 1024, 1, 2, 3],
      quiet: true,
      policy: { minFilesToCompact: 8, quietMaxSmallFiles: 3 },
      expected: [],
    },
    {
      name: 'quiet with minFilesToCompact small files: the hot rule (with its extension) applies',
      sizes: [1, 1, 1, 1, 1],
      quiet: true,
      policy: { minFilesToCompact: 4, quietMaxSmallFiles: 3 },
      expected: [0, 1, 2, 3, 4],
    },
  ].map((c) => ({ ...c, sizes: c.sizes.map((x) => x * MiB) }));
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(
        planPartitionRewrite(files(...c.sizes), { ...base, ...c.policy }, { quiet: c.quiet }),
        c.expected,
      );
    });
  }
});

describe('resolvePolicy: bad settings are refused with what was expected', () => {
  const cases: { name: string; policy: CompactionPolicy; message: RegExp }[] = [
    {
      name: 'target 0',
      policy: { targetFileSize: 0, minFilesToCompact: 4 },
      message: /targetFileSize must be a positive integer, but was: 0/,
    },
    {
      name: 'minFilesToCompact 1',
      policy: { targetFileSize: T, minFilesToCompact: 1 },
      message: /minFilesToCompact must be an integer ≥ 2, but was: 1/,
    },
    {
      name: 'minFileRatio 1.5',
      policy: { ...base, minFileRatio: 1.5 },
      message: /minFileRatio must be in \(0, 1\], but was: 1.5/,
    },
    {
      name: 'negative sizeRatio',
      policy: { ...base, sizeRatio: -1 },
      message: /sizeRatio must be a finite number ≥ 0, but was: -1/,
    },
    {
      name: 'tierRatio 0.5',
      policy: { ...base, tierRatio: 0.5 },
      message: /tierRatio must be a number ≥ 1, but was: 0.5/,
    },
    {
      name: 'maxGroupFiles 1',
      policy: { ...base, maxGroupFiles: 1 },
      message: /maxGroupFiles must be an integer ≥ 2, but was: 1/,
    },
    {
      name: 'quietMaxSmallFiles 0',
      policy: { ...base, quietMaxSmallFiles: 0 },
      message: /quietMaxSmallFiles must be an integer ≥ 1, but was: 0/,
    },
  ];
  for (const c of cases) it(c.name, () => assert.throws(() => resolvePolicy(c.policy), c.message));
});

/** Sizes only: appends `day` (each append a list of file sizes) to one partition, compacting after each
 *  with the policy; output files roll at the target size. Then, when `quietEnd`, the partition goes quiet
 *  (the day is over) and is compacted until nothing more is planned; its cost counts. */
export function simulateDay(
  appends: readonly (readonly number[])[],
  policy: CompactionPolicy,
  quietEnd = true,
) {
  let live: { size: number; name: string }[] = [];
  let n = 0;
  let appended = 0;
  let rewritten = 0;
  let maxSmall = 0;
  let merges = 0;
  let largestInputRewrites = 0;
  const p = resolvePolicy(policy);
  const compact = (quiet: boolean): boolean => {
    const pick = planPartitionRewrite(live, policy, { quiet });
    if (pick.length === 0) return false;
    merges++;
    const taken = new Set(pick);
    const bytes = pick.reduce((s, i) => s + live[i]!.size, 0);
    const largest = Math.max(...live.map((f) => f.size));
    if (pick.some((i) => live[i]!.size === largest)) largestInputRewrites++;
    rewritten += bytes;
    live = live.filter((_, i) => !taken.has(i));
    let rest = bytes;
    while (rest >= p.targetFileSize) {
      live.push({ size: p.targetFileSize, name: `c${n++}` });
      rest -= p.targetFileSize;
    }
    if (rest > 0) live.push({ size: rest, name: `c${n++}` });
    return true;
  };
  const smallCount = () => live.filter((f) => f.size < p.targetFileSize * p.minFileRatio).length;
  for (const a of appends) {
    for (const size of a) live.push({ size, name: `a${n++}` });
    appended += a.reduce((x, y) => x + y, 0);
    compact(false);
    maxSmall = Math.max(maxSmall, smallCount());
  }
  const hotWriteAmplification = rewritten / appended;
  const filesWhenHot = live.length;
  let quietRuns = 0;
  while (quietEnd && compact(true)) quietRuns++;
  return {
    writeAmplification: rewritten / appended,
    hotWriteAmplification,
    filesWhenHot,
    files: live.length,
    smallAtEnd: smallCount(),
    quietRuns,
    appended,
    maxSmall,
    merges,
    largestInputRewrites,
  };
}

/** A deterministic day of `count` appends of about `bytes` each (± `jitter`), as a list of file sizes. */
function day(count: number, bytes: number, jitter: number, filesPerAppend = 1): number[][] {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: count }, () => {
    const b = Math.round(bytes * (1 + jitter * (2 * rnd() - 1)));
    return Array.from({ length: filesPerAppend }, () => Math.max(1, Math.round(b / filesPerAppend)));
  });
}

describe('a simulated day: appends (5-minute commits) into one day partition, compaction after each, then the day goes quiet', () => {
  // The defaults (shared/config.ts): 17 → at most 16 small files while the day is written, 8 once quiet.
  const policy: CompactionPolicy = { targetFileSize: T, minFilesToCompact: 17, quietMaxSmallFiles: 8 };
  const cases: { name: string; appends: number[][] }[] = [
    {
      name: 'equal one-file micro-batches of 300 KiB (the day far below the target)',
      appends: day(288, 300 * 1024, 0),
    },
    { name: 'one-file micro-batches of 300 KiB ± 20 %', appends: day(288, 300 * 1024, 0.2) },
    {
      name: 'one-file micro-batches of 3 MiB ± 20 % (the day about 7 targets)',
      appends: day(288, 3 * MiB, 0.2),
    },
  ];
  // The deployed shape: ticks every minute, compaction every 5, flush shards: several files per append;
  // and days of other lengths (a quiet night, an outage's backlog).
  for (const filesPerAppend of [3, 5, 8, 10, 20]) {
    for (const appends of [48, 96, 150, 200, 288, 400, 500]) {
      cases.push({
        name: `${appends} appends of ${filesPerAppend} tick files, 300 KiB ± 20 % per append`,
        appends: day(appends, 300 * 1024, 0.2, filesPerAppend),
      });
    }
  }
  for (const c of cases) {
    it(`${c.name}: write amplification ≤ 3, at most 16 small files after every run, at the end ≤ 8 small and ≤ 1 + size/target + 8 files`, () => {
      const r = simulateDay(c.appends, policy);
      assert.ok(r.writeAmplification <= 3, `write amplification ${r.writeAmplification.toFixed(2)}`);
      assert.ok(r.maxSmall <= 16, `max small files ${r.maxSmall}`);
      assert.ok(r.smallAtEnd <= 8, `small files at the end ${r.smallAtEnd}`);
      assert.ok(
        r.files <= 1 + r.appended / T + 8,
        `files ${r.files} for ${(r.appended / MiB).toFixed(0)} MiB`,
      );
      // The growing file is not rewritten after every append (the old bin-pack rule did, 280 times a day).
      assert.ok(r.largestInputRewrites < 40, `largest file rewritten ${r.largestInputRewrites} times`);
    });
  }

  it('keeping at most 8 small files while the day is written costs more than 3 with 5 files per append: why the hot bound is 16', () => {
    const r = simulateDay(day(288, 300 * 1024, 0.2, 5), { targetFileSize: T, minFilesToCompact: 9 }, false);
    assert.ok(r.writeAmplification > 3.2, `write amplification ${r.writeAmplification.toFixed(2)}`);
  });

  it('the old rule (every small file of the partition once 8 wait) rewrites far more: the comparison the policy exists for', () => {
    // Bin-pack alone, as a policy: sizeRatio unbounded with minFilesToCompact 8 takes every small file.
    const r = simulateDay(
      day(288, 300 * 1024, 0),
      {
        targetFileSize: T,
        minFilesToCompact: 8,
        sizeRatio: Number.MAX_VALUE,
        tierRatio: Number.MAX_VALUE,
        maxGroupBytes: Number.MAX_VALUE,
      },
      false,
    );
    assert.ok(r.writeAmplification > 10, `bin-pack write amplification ${r.writeAmplification.toFixed(1)}`);
  });
});

describe('maintenanceSettingsOf: the table`s properties where set, else the environment settings', () => {
  const env = {
    targetFileSize: T,
    minFilesToCompact: 9,
    snapshotRetentionMs: 7 * 86_400_000,
    minSnapshotsToKeep: 5,
    compactQuietAfterMs: 3_600_000,
    quietMaxSmallFiles: 8,
  };
  const cases: {
    name: string;
    properties: Record<string, string>;
    expected: { target: number; age: number; keep: number; ignored: RegExp[] };
  }[] = [
    {
      name: 'no properties: the settings',
      properties: {},
      expected: { target: T, age: 7 * 86_400_000, keep: 5, ignored: [] },
    },
    {
      name: 'every property set: the properties',
      properties: {
        'write.target-file-size-bytes': '536870912',
        'history.expire.max-snapshot-age-ms': '3600000',
        'history.expire.min-snapshots-to-keep': '2',
      },
      expected: { target: 512 * MiB, age: 3_600_000, keep: 2, ignored: [] },
    },
    {
      name: 'one property set: it alone wins',
      properties: { 'history.expire.min-snapshots-to-keep': '40', owner: 'other-engine' },
      expected: { target: T, age: 7 * 86_400_000, keep: 40, ignored: [] },
    },
    {
      name: 'surrounding whitespace is tolerated',
      properties: { 'write.target-file-size-bytes': ' 1048576 ' },
      expected: { target: MiB, age: 7 * 86_400_000, keep: 5, ignored: [] },
    },
    {
      name: 'values that are not positive integers are ignored and reported; the setting applies',
      properties: {
        'write.target-file-size-bytes': '128MB',
        'history.expire.max-snapshot-age-ms': '0',
        'history.expire.min-snapshots-to-keep': '-3',
      },
      expected: {
        target: T,
        age: 7 * 86_400_000,
        keep: 5,
        ignored: [
          /write\.target-file-size-bytes="128MB" \(expected a positive integer; using 134217728\)/,
          /history\.expire\.max-snapshot-age-ms="0"/,
          /history\.expire\.min-snapshots-to-keep="-3"/,
        ],
      },
    },
    {
      name: 'a number past 2^53 is refused rather than rounded',
      properties: { 'write.target-file-size-bytes': '99999999999999999999' },
      expected: { target: T, age: 7 * 86_400_000, keep: 5, ignored: [/99999999999999999999/] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = maintenanceSettingsOf(c.properties, env);
      assert.equal(s.policy.targetFileSize, c.expected.target);
      assert.equal(s.policy.minFilesToCompact, 9);
      assert.equal(s.policy.quietMaxSmallFiles, 8);
      assert.equal(s.quietAfterMs, 3_600_000);
      assert.equal(s.maxSnapshotAgeMs, c.expected.age);
      assert.equal(s.minSnapshotsToKeep, c.expected.keep);
      assert.equal(s.ignored.length, c.expected.ignored.length, s.ignored.join('; '));
      for (const [i, re] of c.expected.ignored.entries()) assert.match(s.ignored[i]!, re);
    });
  }
});
