// Flag value parsers: a value or Commander's InvalidArgumentError naming what was expected and what came.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import {
  duration,
  durationText,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  probability,
  snapshotId,
} from '../../../cli/options.ts';

describe('flag parsers', () => {
  const cases: Array<{
    name: string;
    parse: (raw: string) => unknown;
    raw: string;
    value?: unknown;
    error?: RegExp;
  }> = [
    { name: 'positiveInt 5', parse: positiveInt, raw: '5', value: 5 },
    {
      name: 'positiveInt -5',
      parse: positiveInt,
      raw: '-5',
      error: /expected a positive integer, but was: "-5"/,
    },
    { name: 'positiveInt 0', parse: positiveInt, raw: '0', error: /positive integer/ },
    { name: 'positiveInt abc', parse: positiveInt, raw: 'abc', error: /but was: "abc"/ },
    { name: 'positiveInt 1.5', parse: positiveInt, raw: '1.5', error: /positive integer/ },
    { name: 'positiveInt 1e3', parse: positiveInt, raw: '1e3', error: /positive integer/ },
    {
      name: 'positiveInt beyond 2^53',
      parse: positiveInt,
      raw: '99999999999999999999',
      error: /positive integer/,
    },
    { name: 'nonNegativeInt 0', parse: nonNegativeInt, raw: '0', value: 0 },
    { name: 'nonNegativeInt -1', parse: nonNegativeInt, raw: '-1', error: /an integer ≥ 0/ },
    { name: 'nonNegativeNumber 0.5', parse: nonNegativeNumber, raw: '0.5', value: 0.5 },
    { name: 'nonNegativeNumber empty', parse: nonNegativeNumber, raw: '', error: /a number ≥ 0/ },
    { name: 'nonNegativeNumber fast', parse: nonNegativeNumber, raw: 'fast', error: /but was: "fast"/ },
    { name: 'probability 0.3', parse: probability, raw: '0.3', value: 0.3 },
    { name: 'probability 2', parse: probability, raw: '2', error: /probability in \[0, 1\]/ },
    { name: 'duration 90s', parse: duration, raw: '90s', value: 90_000 },
    { name: 'duration 1h30m', parse: duration, raw: '1h30m', value: 5_400_000 },
    {
      name: 'duration yesterday',
      parse: duration,
      raw: 'yesterday',
      error: /expected a duration such as 30s, 5m or 1h30m, but was: "yesterday"/,
    },
    { name: 'duration forever', parse: duration, raw: 'forever', error: /but was: "forever"/ },
    { name: 'duration 0s', parse: duration, raw: '0s', error: /longer than 0/ },
    { name: 'durationText keeps the text', parse: durationText, raw: '10s', value: '10s' },
    { name: 'durationText soon', parse: durationText, raw: 'soon', error: /a duration/ },
    { name: 'snapshotId', parse: snapshotId, raw: '9223372036854775807', value: 9223372036854775807n },
    { name: 'snapshotId latest', parse: snapshotId, raw: 'latest', error: /a snapshot id/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error === undefined) assert.deepEqual(c.parse(c.raw), c.value);
      else
        assert.throws(
          () => c.parse(c.raw),
          (err: unknown) => err instanceof InvalidArgumentError && c.error!.test(err.message),
        );
    });
  }
});
