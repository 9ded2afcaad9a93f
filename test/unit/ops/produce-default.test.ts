// The default workload is what it was before the producer learnt other specs (issue 17): digests of
// planWorkload's files and truth for every format, gzip, fault mix, seed and duplicatesLate, recorded
// from the code as it stood on main at e996bd7, before any change. The chaos, determinism and
// completeness tests (and anyone's saved seeds) depend on a seed giving the same files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import test from 'node:test';
import {
  DEMO_FAULTS,
  type FaultMix,
  FILE_FORMATS,
  NO_FAULTS,
  planWorkload,
} from '../../../infra/ops/produce.ts';
import { defaultJoinSpec } from '../../../shared/spec/load.ts';

const RECORDED: Record<string, string> = {
  'object/false/none/1/false': '77e2e8273f6c07b6',
  'object/false/none/1/true': '77e2e8273f6c07b6',
  'object/false/none/42/false': '87593275a61759f4',
  'object/false/none/42/true': '87593275a61759f4',
  'object/false/demo/1/false': 'd5e1ba0dc3afaba3',
  'object/false/demo/1/true': '46ba81feccf18852',
  'object/false/demo/42/false': 'ad1390e07bb43270',
  'object/false/demo/42/true': 'b1f2a04d3968a886',
  'object/false/heavy/1/false': '9dacbb328fc79ea2',
  'object/false/heavy/1/true': 'd39560a4c9192067',
  'object/false/heavy/42/false': 'b45bd671a9a408ac',
  'object/false/heavy/42/true': '39aa28fd0607d8a1',
  'object/true/none/1/false': 'd020d7013912fc4b',
  'object/true/none/1/true': 'd020d7013912fc4b',
  'object/true/none/42/false': 'af87aa960e38ce7f',
  'object/true/none/42/true': 'af87aa960e38ce7f',
  'object/true/demo/1/false': 'c4f58e8ad38958c6',
  'object/true/demo/1/true': 'fa7e02ee9ac9e851',
  'object/true/demo/42/false': '04fab00282f4c3e9',
  'object/true/demo/42/true': '362b50ad24f25cf9',
  'object/true/heavy/1/false': '771d9d584ca232d8',
  'object/true/heavy/1/true': '5d5f1e22e2e3c89e',
  'object/true/heavy/42/false': '8f7bbab95f70cd1d',
  'object/true/heavy/42/true': 'e7df11fb6d0903c8',
  'array/false/none/1/false': 'e71767440e9716ff',
  'array/false/none/1/true': 'e71767440e9716ff',
  'array/false/none/42/false': 'c606d2be1d0d59ef',
  'array/false/none/42/true': 'c606d2be1d0d59ef',
  'array/false/demo/1/false': '7b9fa1e4b192de26',
  'array/false/demo/1/true': '117fc47414408ae0',
  'array/false/demo/42/false': '74e80cbedc0355d9',
  'array/false/demo/42/true': '4211944a4e4514a2',
  'array/false/heavy/1/false': '7d238e57b80d813e',
  'array/false/heavy/1/true': '1a9e7a2618259367',
  'array/false/heavy/42/false': '587276f1aec06391',
  'array/false/heavy/42/true': 'a9ea8296b4d26046',
  'array/true/none/1/false': '879ddd2b19fa710b',
  'array/true/none/1/true': '879ddd2b19fa710b',
  'array/true/none/42/false': 'dc2745c107d83415',
  'array/true/none/42/true': 'dc2745c107d83415',
  'array/true/demo/1/false': '6a7b600ab0e85475',
  'array/true/demo/1/true': 'd86e785283bbf388',
  'array/true/demo/42/false': 'd03c8f286d29bea8',
  'array/true/demo/42/true': '889cfab6031ba053',
  'array/true/heavy/1/false': '79325cd20e8421c8',
  'array/true/heavy/1/true': '4e9b6b3c7e54206d',
  'array/true/heavy/42/false': '51148b380e8d1a8f',
  'array/true/heavy/42/true': '97c3c84eacd9ccff',
  'jsonl/false/none/1/false': '2399a1745204830d',
  'jsonl/false/none/1/true': '2399a1745204830d',
  'jsonl/false/none/42/false': 'c15d8f74591b7d84',
  'jsonl/false/none/42/true': 'c15d8f74591b7d84',
  'jsonl/false/demo/1/false': '1544efef0a1bf0d7',
  'jsonl/false/demo/1/true': '33fc2014095f37be',
  'jsonl/false/demo/42/false': '83bb8cbb095d9f40',
  'jsonl/false/demo/42/true': '66a04bcd9c919240',
  'jsonl/false/heavy/1/false': '1add9b1e968f1980',
  'jsonl/false/heavy/1/true': '250122ccafe6508b',
  'jsonl/false/heavy/42/false': 'cd4f44019598112e',
  'jsonl/false/heavy/42/true': '701dec46f5116606',
  'jsonl/true/none/1/false': 'dbeb6d37346ca3f1',
  'jsonl/true/none/1/true': 'dbeb6d37346ca3f1',
  'jsonl/true/none/42/false': '1e7c758a8e8bb411',
  'jsonl/true/none/42/true': '1e7c758a8e8bb411',
  'jsonl/true/demo/1/false': '04a44094a8eaaf33',
  'jsonl/true/demo/1/true': '994ea2c870b2272a',
  'jsonl/true/demo/42/false': '0a4882f5c002a22c',
  'jsonl/true/demo/42/true': 'ba997d16671ddbe4',
  'jsonl/true/heavy/1/false': '04f31b0459a1f2b5',
  'jsonl/true/heavy/1/true': 'd2b090468e1d1b91',
  'jsonl/true/heavy/42/false': '1f02b85b73eec783',
  'jsonl/true/heavy/42/true': '64b6f81cd518301c',
};

const HEAVY: FaultMix = {
  earlyPayment: 0.15,
  unpaidOrder: 0.15,
  orphanPayment: 0.15,
  latePayment: 0.15,
  secondPayment: 0.15,
  duplicateFile: 0.5,
  malformed: 0.3,
};
const MIXES = { none: NO_FAULTS, demo: DEMO_FAULTS, heavy: HEAVY } as const;

for (const withSpec of [false, true]) {
  test(`planWorkload ${withSpec ? 'with the default spec named' : 'with no spec'}: the files and truth recorded before issue 17, for every option`, () => {
    const got: Record<string, string> = {};
    for (const format of FILE_FORMATS)
      for (const gzip of [false, true])
        for (const [mix, faults] of Object.entries(MIXES))
          for (const seed of [1, 42])
            for (const duplicatesLate of [false, true]) {
              const o = {
                count: 300,
                seed,
                eventsPerFile: format === 'object' ? 1 : 7,
                format,
                gzip,
                faults,
                ordersPrefix: 'stream/orders/',
                paymentsPrefix: 'stream/payments/',
                startMs: 1764547200000,
                duplicatesLate,
              };
              const p = withSpec ? planWorkload({ ...o, spec: defaultJoinSpec() }) : planWorkload(o);
              const h = createHash('sha256');
              for (const f of p.files)
                h.update(JSON.stringify([f.name, f.phase, f.completes])).update(f.body);
              h.update(JSON.stringify(p.truth));
              got[`${format}/${gzip}/${mix}/${seed}/${duplicatesLate}`] = h.digest('hex').slice(0, 16);
            }
    assert.deepEqual(got, RECORDED);
  });
}
