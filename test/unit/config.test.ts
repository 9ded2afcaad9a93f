// Configuration: defaults, parsing of durations and sizes, and errors naming variable, expectation and value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configToEnv, loadConfig, parseDuration, parseSize, SETTINGS } from '../../shared/config.ts';
import { StreamjoinError } from '../../shared/errors.ts';

describe('parseDuration', () => {
  const cases: Array<[string, number]> = [
    ['15m', 900_000],
    ['10s', 10_000],
    ['1500ms', 1500],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['2500', 2500],
    ['0.5s', 500],
  ];
  for (const [input, expected] of cases)
    it(`${input} → ${expected} ms`, () => assert.equal(parseDuration(input), expected));
  for (const bad of ['', 'soon', '10 parsecs', '5x', 'm5', '10s!']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseDuration(bad)));
  }
});

describe('parseSize', () => {
  const cases: Array<[string, number]> = [
    ['128MiB', 134_217_728],
    ['10MB', 10_000_000],
    ['4096', 4096],
    ['1 GiB', 1_073_741_824],
    ['2kib', 2048],
  ];
  for (const [input, expected] of cases)
    it(`${input} → ${expected} bytes`, () => assert.equal(parseSize(input), expected));
  for (const bad of ['', 'big', '10 TB', '-5MB'])
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseSize(bad)));
});

describe('loadConfig', () => {
  it('has a default for every deployed setting and returns a frozen object', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.equal(c.inputBucket, 'file-stream-bucket');
    assert.equal(c.ordersPrefix, 'stream/orders/');
    assert.equal(c.orderTimeoutMs, 15 * 60_000);
    assert.equal(c.warehouse, 'gs://spark-iceberg-warehouse/');
    assert.equal(c.namespace, 'default');
    assert.equal(c.joinedTable, 'orders_payments');
    assert.equal(c.firestoreEmulatorHost, undefined);
    for (const s of Object.values(SETTINGS))
      if (s.deploy) assert.notEqual(s.default, undefined, `${s.env} has a default`);
  });

  const good: Array<{
    name: string;
    env: Record<string, string>;
    check: (c: ReturnType<typeof loadConfig>) => void;
  }> = [
    {
      name: 'timeouts as durations',
      env: { STREAMJOIN_ORDER_TIMEOUT: '20s' },
      check: (c) => assert.equal(c.orderTimeoutMs, 20_000),
    },
    {
      name: 'a prefix gains its slash',
      env: { STREAMJOIN_ORDERS_PREFIX: 'in/o' },
      check: (c) => assert.equal(c.ordersPrefix, 'in/o/'),
    },
    {
      name: 'a warehouse gains its slash',
      env: { STREAMJOIN_WAREHOUSE: 'file:///tmp/wh' },
      check: (c) => assert.equal(c.warehouse, 'file:///tmp/wh/'),
    },
    {
      name: 'an empty value means the default',
      env: { STREAMJOIN_INPUT_BUCKET: '' },
      check: (c) => assert.equal(c.inputBucket, 'file-stream-bucket'),
    },
    {
      name: 'emulator hosts',
      env: { FIRESTORE_EMULATOR_HOST: '127.0.0.1:8681' },
      check: (c) => assert.equal(c.firestoreEmulatorHost, '127.0.0.1:8681'),
    },
  ];
  for (const g of good) it(g.name, () => g.check(loadConfig(g.env)));

  const bad: Array<{ env: Record<string, string>; message: RegExp }> = [
    {
      env: { STREAMJOIN_ORDER_TIMEOUT: 'soon' },
      message: /STREAMJOIN_ORDER_TIMEOUT must be a duration ≥ 1s such as 15m, 10s, 1h, but was: "soon"/,
    },
    {
      env: { STREAMJOIN_ORDER_TIMEOUT: '10ms' },
      message: /STREAMJOIN_ORDER_TIMEOUT must be a duration ≥ 1s/,
    },
    {
      env: { STREAMJOIN_INPUT_BUCKET: 'Bad_Bucket!' },
      message: /STREAMJOIN_INPUT_BUCKET must be a bucket name, but was: "Bad_Bucket!"/,
    },
    {
      env: { STREAMJOIN_WAREHOUSE: 's3://x/' },
      message:
        /STREAMJOIN_WAREHOUSE must be a gs:\/\/bucket\/path or file:\/\/\/path URI, but was: "s3:\/\/x\/"/,
    },
    {
      env: { STREAMJOIN_EVICT_BATCH: '0' },
      message: /STREAMJOIN_EVICT_BATCH must be an integer in \[1, 100000\], but was: "0"/,
    },
    {
      env: { LOG_LEVEL: 'loud' },
      message: /LOG_LEVEL must be debug \| info \| warn \| error \| silent, but was: "loud"/,
    },
    {
      env: { STREAMJOIN_DUPLICATE_DELIVERY: '1.5' },
      message: /STREAMJOIN_DUPLICATE_DELIVERY must be a probability in \[0, 1\]/,
    },
  ];
  for (const b of bad) {
    it(`rejects ${JSON.stringify(b.env)} naming the variable, the expectation and the value`, () => {
      assert.throws(
        () => loadConfig(b.env),
        (err: unknown) =>
          err instanceof StreamjoinError && err.kind === 'config' && b.message.test(err.message),
      );
    });
  }

  it('reports every bad value at once', () => {
    assert.throws(
      () => loadConfig({ STREAMJOIN_ORDER_TIMEOUT: 'x', STREAMJOIN_PAYMENT_TIMEOUT: 'y' }),
      (err: unknown) =>
        err instanceof StreamjoinError &&
        /ORDER_TIMEOUT/.test(err.message) &&
        /PAYMENT_TIMEOUT/.test(err.message),
    );
  });

  it('configToEnv maps keys to their variables', () => {
    assert.deepEqual(configToEnv({ orderTimeoutMs: '20s', inputBucket: 'in' }), {
      STREAMJOIN_ORDER_TIMEOUT: '20s',
      STREAMJOIN_INPUT_BUCKET: 'in',
    });
  });

  const pairs = [
    { name: 'defaults agree', env: {}, problem: undefined },
    {
      name: 'a record longer than a file may inflate to',
      env: { STREAMJOIN_MAX_LINE_LENGTH: '8MiB', STREAMJOIN_MAX_DECOMPRESSED_SIZE: '4MiB' },
      problem:
        /STREAMJOIN_MAX_LINE_LENGTH \(8388608 bytes\) must not exceed STREAMJOIN_MAX_DECOMPRESSED_SIZE \(4194304 bytes\)/,
    },
    {
      name: 'time budget past the deployed ingest timeout',
      env: { STREAMJOIN_INGEST_FUNCTION_TIMEOUT: '300s' },
      problem:
        /STREAMJOIN_INGEST_TIME_BUDGET \(480 s\) must end at least 30 s before STREAMJOIN_INGEST_FUNCTION_TIMEOUT \(300 s\)[\s\S]*at most 270s/,
    },
    {
      name: 'time budget with exactly the margin left',
      env: { STREAMJOIN_INGEST_FUNCTION_TIMEOUT: '510s' },
      problem: undefined,
    },
    {
      name: 'no timeout known (local runs): nothing to check it against',
      env: { STREAMJOIN_INGEST_TIME_BUDGET: '2h' },
      problem: undefined,
    },
    {
      name: 'memory budget smaller than four copies of the longest record',
      env: { STREAMJOIN_INGEST_MEMORY_BUDGET: '16MiB', STREAMJOIN_MAX_LINE_LENGTH: '8MiB' },
      problem:
        /STREAMJOIN_INGEST_MEMORY_BUDGET \(16777216 bytes\) must be at least 4 × STREAMJOIN_MAX_LINE_LENGTH/,
    },
  ];
  for (const c of pairs) {
    it(`settings that contradict each other, checked at start-up: ${c.name}`, () => {
      if (c.problem === undefined) {
        loadConfig(c.env);
        return;
      }
      assert.throws(
        () => loadConfig(c.env),
        (err: unknown) =>
          err instanceof StreamjoinError && err.kind === 'config' && c.problem.test(err.message),
      );
    });
  }
});
