// Bad join specs are refused with ONE clear message per problem: the JSON path in the file, what was
// expected and what came (and file:line:col when read from text). Table-driven: each case breaks one
// thing in the default spec (or the YAML example) and names the path and the words the message must have.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { StreamjoinError } from '../../../shared/errors.ts';
import { joinSpecFromText } from '../../../shared/spec/load.ts';
import { formatLocatedIssue, parseJoinSpecText } from '../../../shared/spec/text.ts';
import { formatSpecPath, validateJoinSpec } from '../../../shared/spec/validate.ts';

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON here
type Json = any;
const DEFAULT: Json = JSON.parse(readFileSync('specs/orders-payments.json', 'utf8'));
const edit = (f: (s: Json) => void): Json => {
  const s = structuredClone(DEFAULT);
  f(s);
  return s;
};

const cases: Array<{ name: string; spec: Json; path: string; message: RegExp }> = [
  {
    name: 'unknown type',
    spec: edit((s) => {
      s.streams.left.fields[4].type = 'integer';
    }),
    path: 'streams.left.fields[4].type',
    message:
      /^expected one of string, int, long, float, double, boolean, date, timestamp, timestamptz or decimal\(P,S\), but was "integer"$/,
  },
  {
    name: 'decimal precision out of range',
    spec: edit((s) => {
      s.streams.right.fields[4].type = 'decimal(40,2)';
    }),
    path: 'streams.right.fields[4].type',
    message: /^expected a decimal precision between 1 and 38 \(Iceberg's limit\), but was "decimal\(40,2\)"$/,
  },
  {
    name: 'decimal scale above its precision',
    spec: edit((s) => {
      s.streams.right.fields[4].type = 'decimal(5, 7)';
    }),
    path: 'streams.right.fields[4].type',
    message: /^expected a decimal scale between 0 and the precision \(5\), but was "decimal\(5, 7\)"$/,
  },
  {
    name: 'duplicate column (names compared ignoring case)',
    spec: edit((s) => {
      s.output.joined.columns.push({ name: 'ORDER_AMOUNT', from: 'payment.created_at' });
    }),
    path: 'output.joined.columns[9].name',
    message:
      /^expected a column name not used before in the table .*, but "ORDER_AMOUNT" is also columns\[4\]$/,
  },
  {
    name: 'duplicate field in a stream',
    spec: edit((s) => {
      s.streams.right.fields.push({ name: 'amount', type: 'long' });
    }),
    path: 'streams.right.fields[5].name',
    message: /^expected a name not used by another field, but "amount" is also fields\[4\]$/,
  },
  {
    name: 'key field missing from the stream',
    spec: edit((s) => {
      s.streams.left.key = 'orderId';
    }),
    path: 'streams.left.key',
    message:
      /^expected one of the stream's fields \(order_id, order_date, created_at, customer_id, amount\), but was "orderId"$/,
  },
  {
    name: 'key nullable',
    spec: edit((s) => {
      s.streams.right.fields[1].nullable = true;
    }),
    path: 'streams.right.fields[1].nullable',
    message: /^expected the key field "order_id" to be required \(false or absent\), but was true$/,
  },
  {
    name: 'key of a type that cannot key a join',
    spec: edit((s) => {
      s.streams.left.fields[0].type = 'double';
    }),
    path: 'streams.left.fields[0].type',
    message: /^expected the key field "order_id" to be one of string, int, long, but was "double"$/,
  },
  {
    name: 'keys of different types',
    spec: edit((s) => {
      s.streams.right.fields[1].type = 'long';
    }),
    path: 'streams.right.fields[1].type',
    message: /^expected the key field "order_id" to have the left key's type string, but was long$/,
  },
  {
    name: 'partition column not a timestamp for a day transform',
    spec: edit((s) => {
      s.output.joined.partition[0].column = 'order_amount';
    }),
    path: 'output.joined.partition[0].transform',
    message:
      /^expected a transform that applies to column "order_amount" \(int\), but day needs a date, timestamp or timestamptz column$/,
  },
  {
    name: 'unknown transform',
    spec: edit((s) => {
      s.output.unmatched.partition[0].transform = 'weekly';
    }),
    path: 'output.unmatched.partition[0].transform',
    message: /^expected identity, year, month, day, hour, bucket\[N\] or truncate\[W\], but was "weekly"$/,
  },
  {
    name: 'partition column not in the table',
    spec: edit((s) => {
      s.output.unmatched.partition[0].column = 'joined_at';
    }),
    path: 'output.unmatched.partition[0].column',
    message: /^expected a column of the unmatched table \(order_id, .*, emitted_at\), but was "joined_at"$/,
  },
  {
    name: 'partition field named like another column',
    spec: edit((s) => {
      s.output.joined.partition[0].name = 'order_date';
    }),
    path: 'output.joined.partition[0].name',
    message: /^expected a partition field name that is not a column's .*, but "order_date" is a column$/,
  },
  {
    name: 'reason collision',
    spec: edit((s) => {
      s.reasons = { rightLate: 'order_late' };
    }),
    path: 'reasons.rightLate',
    message: /^expected a reason different from the others, but "order_late" is both rightLate and leftLate$/,
  },
  {
    name: 'same prefix for both streams',
    spec: edit((s) => {
      s.streams.right.prefix = 'stream/orders';
    }),
    path: 'streams.right.prefix',
    message:
      /^expected a prefix that does not overlap the left stream's "stream\/orders\/" .*, but was "stream\/orders\/"$/,
  },
  {
    name: 'one prefix inside the other',
    spec: edit((s) => {
      s.streams.right.prefix = 'stream/orders/payments/';
    }),
    path: 'streams.right.prefix',
    message: /^expected a prefix that does not overlap .*, but was "stream\/orders\/payments\/"$/,
  },
  {
    name: 'unknown source field',
    spec: edit((s) => {
      s.output.joined.columns[4].from = 'order.amont';
    }),
    path: 'output.joined.columns[4].from',
    message:
      /^expected a field of stream order \(order_id, order_date, created_at, customer_id, amount\), but was "order.amont"$/,
  },
  {
    name: 'unknown source stream',
    spec: edit((s) => {
      s.output.unmatched.columns[7].from = 'payments.amount';
    }),
    path: 'output.unmatched.columns[7].from',
    message:
      /^expected a source "<stream>.<field>" with stream order or payment, or "pipeline.<value>", but was "payments.amount"$/,
  },
  {
    name: 'a pipeline value of the other table',
    spec: edit((s) => {
      s.output.joined.columns[8].from = 'pipeline.emitted_at';
    }),
    path: 'output.joined.columns[8].from',
    message:
      /^expected "pipeline.joined_at" in the joined table, but was "pipeline.emitted_at" \(emitted_at belongs to the unmatched table\)$/,
  },
  {
    name: 'the same source twice in a table',
    spec: edit((s) => {
      s.output.joined.columns[7].from = 'order.amount';
    }),
    path: 'output.joined.columns[7].from',
    message:
      /^expected each source once per table, but "order.amount" is already the source of column "order_amount" \(columns\[4\]\)$/,
  },
  {
    name: 'the key from both streams in one table',
    spec: edit((s) => {
      s.output.unmatched.columns.splice(1, 0, { name: 'payment_order_id', from: 'payment.order_id' });
    }),
    path: 'output.unmatched.columns[1].from',
    message:
      /^expected each source once per table, but the join key is already the source of column "order_id"/,
  },
  {
    name: 'no key column',
    spec: edit((s) => {
      s.output.joined.columns.shift();
    }),
    path: 'output.joined.columns',
    message:
      /^expected a column from the join key \(order.order_id or payment.order_id\), but there is none$/,
  },
  {
    name: 'no reason column in the unmatched table',
    spec: edit((s) => {
      s.output.unmatched.columns.splice(8, 1);
    }),
    path: 'output.unmatched.columns',
    message: /^expected a column from "pipeline.reason" .*, but there is none$/,
  },
  {
    name: 'both streams with one name',
    spec: edit((s) => {
      s.streams.right.name = 'order';
      for (const t of ['joined', 'unmatched']) {
        for (const c of s.output[t].columns) c.from = c.from.replace(/^payment\./, 'order.');
      }
      s.output.joined.columns.splice(5, 3);
      s.output.unmatched.columns.splice(5, 3);
    }),
    path: 'streams.right.name',
    message: /^expected a name other than the left stream's .*, but was "order" too$/,
  },
  {
    name: 'a reserved stream name',
    spec: edit((s) => {
      s.streams.left.name = 'pipeline';
    }),
    path: 'streams.left.name',
    message: /^expected a stream name other than "pipeline" .*, but was "pipeline"$/,
  },
  {
    name: 'left identity other than its key',
    spec: edit((s) => {
      s.streams.left.identity = ['customer_id'];
    }),
    path: 'streams.left.identity',
    message:
      /^expected the left stream's identity to be its key \["order_id"\] .*, but was \["customer_id"\]$/,
  },
  {
    name: 'identity field that is nullable',
    spec: edit((s) => {
      s.streams.right.fields[0].nullable = true;
    }),
    path: 'streams.right.identity[0]',
    message: /^expected a required field \(an identity cannot be null\), but "payment_id" is nullable$/,
  },
  {
    name: 'identity field of an inexact type',
    spec: edit((s) => {
      s.streams.right.fields[0].type = 'double';
    }),
    path: 'streams.right.identity[0]',
    message:
      /^expected a field of type string, int, long, date, timestamp, timestamptz \(exact values\), but "payment_id" is double$/,
  },
  {
    name: 'timeout that is not a duration',
    spec: edit((s) => {
      s.streams.left.timeout = 'soon';
    }),
    path: 'streams.left.timeout',
    message: /^expected a duration such as "15m", "10s", "1h30m", but was "soon"$/,
  },
  {
    name: 'timeout under a second',
    spec: edit((s) => {
      s.streams.right.timeout = '200ms';
    }),
    path: 'streams.right.timeout',
    message: /^expected a duration of at least 1s, but was "200ms"$/,
  },
  {
    name: 'a misspelt key',
    spec: edit((s) => {
      s.streams.left.timout = s.streams.left.timeout;
    }),
    path: 'streams.left.timout',
    message:
      /^unknown key \(expected one of: name, prefix, key, identity, timeout, fields; did you mean "timeout"\?\)$/,
  },
  {
    name: 'a missing key',
    spec: edit((s) => {
      delete s.streams.right.prefix;
    }),
    path: 'streams.right.prefix',
    message: /^expected an object name prefix such as "stream\/orders\/", but it is missing$/,
  },
  {
    name: 'a value of the wrong JSON type',
    spec: edit((s) => {
      s.streams.left.fields[2].nullable = 'yes';
    }),
    path: 'streams.left.fields[2].nullable',
    message: /^expected true or false, but was "yes"$/,
  },
  {
    name: 'a future version',
    spec: edit((s) => {
      s.version = 2;
    }),
    path: 'version',
    message: /^expected 1 \(the only version of the spec format\), but was 2$/,
  },
  {
    name: 'one name for both tables',
    spec: edit((s) => {
      s.output.unmatched.table = 'orders_payments';
    }),
    path: 'output.unmatched.table',
    message: /^expected a table name other than the joined table's, but was "orders_payments" too$/,
  },
  {
    name: 'a table name Iceberg engines cannot address',
    spec: edit((s) => {
      s.output.joined.table = 'orders-payments';
    }),
    path: 'output.joined.table',
    message: /^expected an identifier .*, but was "orders-payments"$/,
  },
  {
    name: 'not an object',
    spec: [DEFAULT],
    path: '(root)',
    message: /^expected a join spec \(an object\), but was an array of 1 element$/,
  },
];

describe('bad specs: one clear message each', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = validateJoinSpec(c.spec);
      assert.equal(r.ok, false, 'the spec must be refused');
      if (r.ok) return;
      assert.deepEqual(
        r.issues.map((i) => formatSpecPath(i.path)),
        [c.path],
        `one issue at ${c.path}, got: ${r.issues.map((i) => `${formatSpecPath(i.path)}: ${i.message}`).join(' | ')}`,
      );
      assert.match(r.issues[0]!.message, c.message);
    });
  }

  it('every case breaks a valid spec (the unbroken one passes)', () => {
    assert.equal(validateJoinSpec(DEFAULT).ok, true);
  });

  it('independent problems are each reported once', () => {
    const r = validateJoinSpec(
      edit((s) => {
        s.streams.left.fields[4].type = 'integer';
        s.streams.right.timeout = 'soon';
      }),
    );
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(
        r.issues.map((i) => formatSpecPath(i.path)),
        ['streams.left.fields[4].type', 'streams.right.timeout'],
      );
    }
  });
});

describe('spec text: JSON and YAML with file:line:col', () => {
  const YAML = readFileSync('specs/shipments-deliveries.yaml', 'utf8');
  const JSON_NOPE = JSON.stringify(
    edit((s) => {
      s.streams.left.key = 'nope';
    }),
    null,
    2,
  );
  /** 1-based number of the first line holding `text`. */
  const lineOf = (doc: string, text: string) => doc.split('\n').findIndex((l) => l.includes(text)) + 1;

  it('the shipped YAML example is valid', () => {
    const r = parseJoinSpecText(YAML, 'specs/shipments-deliveries.yaml');
    assert.equal(r.ok, true, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
  });

  const textCases: Array<{ name: string; file: string; text: string; expected: RegExp }> = [
    {
      name: 'a YAML problem points at its line and column',
      file: 'x.yaml',
      text: YAML.replace('{ name: weight_kg, type: double }', '{ name: weight_kg, type: real }'),
      expected: new RegExp(
        `^x\\.yaml:${lineOf(YAML, 'weight_kg')}:34: streams\\.left\\.fields\\[2\\]\\.type: expected one of string, .* but was "real"$`,
      ),
    },
    {
      name: 'a JSON problem points at its line and column',
      file: 'x.json',
      text: JSON_NOPE,
      expected: new RegExp(
        `^x\\.json:${lineOf(JSON_NOPE, '"nope"')}:14: streams\\.left\\.key: expected one of the stream's fields .*, but was "nope"$`,
      ),
    },
    {
      name: 'JSON that does not parse',
      file: 'x.json',
      text: '{"version": 1,}',
      expected: /^x\.json: expected JSON, but it does not parse: /,
    },
    {
      name: 'a key twice in JSON (JSON.parse would keep the last silently)',
      file: 'x.json',
      text: '{\n  "version": 1,\n  "version": 1\n}',
      expected: /^x\.json:3:3: expected each key once per object, but one repeats$/,
    },
    {
      name: 'YAML that does not parse',
      file: 'x.yml',
      text: 'version: 1\nname: [unclosed\n',
      expected: /^x\.yml:\d+:\d+: expected YAML, but it does not parse: /,
    },
    {
      name: 'a key twice in YAML',
      file: 'x.yaml',
      text: 'version: 1\nversion: 1\n',
      expected: /^x\.yaml:2:1: expected YAML, but it does not parse: .*[Mm]ap keys must be unique/,
    },
  ];
  for (const c of textCases) {
    it(c.name, () => {
      const r = parseJoinSpecText(c.text, c.file);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.issues.length, 1, r.issues.map((i) => formatLocatedIssue(c.file, i)).join('\n'));
      assert.match(formatLocatedIssue(c.file, r.issues[0]!), c.expected);
    });
  }

  it('a bad spec stops start-up with a config error listing every problem', () => {
    const text = JSON.stringify(
      edit((s) => {
        s.streams.left.fields[4].type = 'integer';
        s.streams.right.timeout = 'soon';
      }),
      null,
      2,
    );
    assert.throws(
      () => joinSpecFromText(text, 'bad.json'),
      (err: unknown) => {
        assert.ok(err instanceof StreamjoinError);
        assert.equal(err.kind, 'config');
        assert.equal(err.retryable, false);
        const lines = err.message.split('\n');
        assert.equal(lines[0], 'join spec bad.json is invalid (2 problems):');
        assert.match(lines[1]!, /^ {2}bad\.json:\d+:\d+: streams\.left\.fields\[4\]\.type: expected one of/);
        assert.match(lines[2]!, /^ {2}bad\.json:\d+:\d+: streams\.right\.timeout: expected a duration/);
        return true;
      },
    );
  });
});
