// explainError: every expected condition is one message and the command that fixes it; anything else
// is marked unexpected (the CLI then suggests --debug).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, explainError, formatFailure, Interrupted } from '../../../cli/errors.ts';
import { StreamjoinError } from '../../../shared/errors.ts';

describe('explainError', () => {
  const withCode = (message: string, code: unknown) => Object.assign(new Error(message), { code });
  const cases: Array<{ name: string; err: unknown; message: RegExp; hint?: RegExp; expected: boolean }> = [
    {
      name: 'a CliError keeps its message and hint',
      err: new CliError('no local stack runs from /x', { hint: 'run `streamjoin local up`' }),
      message: /^no local stack runs from \/x$/,
      hint: /streamjoin local up/,
      expected: true,
    },
    {
      name: 'a bad setting',
      err: new StreamjoinError('config', 'invalid configuration:\n  LOG_LEVEL must be …, but was: "verbose"'),
      message: /LOG_LEVEL must be/,
      expected: true,
    },
    {
      name: "google-auth's NO_ADC_FOUND",
      err: new Error(
        'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.',
      ),
      message: /^no usable Google Cloud credentials/,
      hint: /gcloud auth application-default login/,
      expected: true,
    },
    {
      name: 'a credentials file that is not there',
      err: new Error(
        'Unable to read the credential file specified by the GOOGLE_APPLICATION_CREDENTIALS environment variable',
      ),
      message: /^no usable Google Cloud credentials/,
      hint: /gcloud auth application-default login/,
      expected: true,
    },
    {
      name: 'expired credentials',
      err: new Error('invalid_grant: reauth related error (invalid_rapt)'),
      message: /^no usable Google Cloud credentials/,
      hint: /application-default login/,
      expected: true,
    },
    {
      name: 'permission denied (gRPC 7)',
      err: withCode('7 PERMISSION_DENIED: Missing or insufficient permissions.', 7),
      message: /^permission denied by Google Cloud/,
      hint: /gcloud auth list/,
      expected: true,
    },
    {
      name: 'a stack that stopped answering (ECONNREFUSED)',
      err: withCode('connect ECONNREFUSED 127.0.0.1:9199', 'ECONNREFUSED'),
      message: /^a service did not answer/,
      hint: /streamjoin local status --data-dir \/tmp\/sj/,
      expected: true,
    },
    {
      name: 'a missing file',
      err: withCode("ENOENT: no such file or directory, open 'truth.json'", 'ENOENT'),
      message: /no such file or directory/,
      expected: true,
    },
    {
      name: 'no table yet',
      err: new StreamjoinError(
        'not-found',
        'expected an Iceberg table at file:///x, but there is no metadata',
      ),
      message: /expected an Iceberg table/,
      hint: /streamjoin drain/,
      expected: true,
    },
    { name: 'Ctrl-C', err: new Interrupted('drain'), message: /^interrupted during drain$/, expected: true },
    {
      name: 'a bug',
      err: new TypeError("Cannot read properties of undefined (reading 'x')"),
      message: /Cannot read/,
      expected: false,
    },
    { name: 'a thrown string', err: 'boom', message: /^boom$/, expected: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = explainError(c.err, { dataDirFlag: ' --data-dir /tmp/sj' });
      assert.match(e.message, c.message);
      if (c.hint === undefined) assert.equal(e.hint, undefined);
      else assert.match(e.hint ?? '', c.hint);
      assert.equal(e.expected, c.expected);
    });
  }

  it('formatFailure: message and fix, the trace only under debug, --debug suggested for the unexpected', () => {
    const expected = new CliError('no stack', { hint: 'start one' });
    assert.equal(formatFailure(expected, {}, false), 'streamjoin: no stack\n  fix: start one\n');
    assert.match(formatFailure(expected, {}, true), /\n {4}at /);
    const bug = new TypeError('x is undefined');
    assert.equal(
      formatFailure(bug, {}, false),
      'streamjoin: x is undefined\n  (run again with --debug for the stack trace)\n',
    );
  });
});
