// Schema evolution rules (shared/spec/evolution.ts), table-driven: the spec the tables were written with,
// the new spec and the tables as they are now → the schema update (field ids, positions, types) or the
// refusals with what to do instead.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { NestedField, PartitionSpec } from '../../../shared/iceberg/spec/types.ts';
import { type EvolutionResult, planEvolution, type TableView } from '../../../shared/spec/evolution.ts';
import type { JoinSpec, OutputKind } from '../../../shared/spec/model.ts';
import { newPartitionSpec, newTableSchema } from '../../../shared/spec/tables.ts';
import { validateJoinSpec } from '../../../shared/spec/validate.ts';

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON here
type Json = any;
const DEFAULT: Json = JSON.parse(readFileSync('specs/orders-payments.json', 'utf8'));
const KINDS = ['joined', 'unmatched'] as const;

function spec(f: (s: Json) => void = () => {}): JoinSpec {
  const s = structuredClone(DEFAULT);
  f(s);
  const r = validateJoinSpec(s);
  if (!r.ok) throw new Error(`test spec invalid: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.spec;
}

/** The table as the spec creates it, then changed as `change` says (another engine's doing). */
function tableOf(s: JoinSpec, kind: OutputKind, change?: (v: MutableView) => void): TableView {
  const schema = newTableSchema(s, kind);
  const v: MutableView = {
    fields: [...schema.fields],
    lastColumnId: Math.max(...schema.fields.map((f) => f.id)),
    partitionSpec: newPartitionSpec(s, kind),
  };
  change?.(v);
  return {
    schema: { schemaId: 0, fields: v.fields },
    lastColumnId: v.lastColumnId,
    highestSchemaId: 0,
    partitionSpec: v.partitionSpec,
  };
}
interface MutableView {
  fields: NestedField[];
  lastColumnId: number;
  partitionSpec: PartitionSpec;
}
const both = (s: JoinSpec, change?: (v: MutableView, kind: OutputKind) => void) => ({
  joined: tableOf(s, 'joined', change && ((v) => change(v, 'joined'))),
  unmatched: tableOf(s, 'unmatched', change && ((v) => change(v, 'unmatched'))),
});

const addCurrency = (s: Json, nullable = true) => {
  s.streams.left.fields.push({ name: 'currency', type: 'string', ...(nullable ? { nullable: true } : {}) });
  for (const t of ['joined', 'unmatched']) {
    s.output[t].columns.splice(5, 0, { name: 'order_currency', from: 'order.currency' });
  }
};
const setType = (side: 'left' | 'right', field: string, type: string) => (s: Json) => {
  s.streams[side].fields.find((f: Json) => f.name === field).type = type;
};
const withField = (side: 'left' | 'right', field: Json, column: string) => (s: Json) => {
  s.streams[side].fields.push(field);
  for (const t of ['joined', 'unmatched']) {
    s.output[t].columns.splice(5, 0, { name: column, from: `${s.streams[side].name}.${field.name}` });
  }
};

/** Compact view of a plan for comparisons: the action, the changes, the resulting (id name type req). */
function summary(r: EvolutionResult) {
  if (!r.ok) return { refusals: r.refusals };
  const out: Record<string, unknown> = {};
  for (const k of KINDS) {
    const p = r[k];
    out[k] = {
      action: p.action,
      ...(p.action === 'update'
        ? {
            changes: p.changes,
            fields: p.schema.fields.map(
              (f) => `${f.id} ${f.name} ${String(f.type)}${f.required ? ' req' : ''}`,
            ),
            schemaId: p.schema.schemaId,
          }
        : {}),
      ...(p.notes.length > 0 ? { notes: p.notes } : {}),
    };
  }
  return out;
}

const DEFAULT_JOINED = [
  '1 order_id string req',
  '2 order_date string req',
  '3 created_at string req',
  '4 customer_id string req',
  '5 order_amount int req',
  '6 payment_id string req',
  '7 payment_date string req',
  '8 payment_amount int req',
  '9 joined_at timestamptz req',
];

interface Case {
  name: string;
  previous: JoinSpec | undefined;
  next: JoinSpec;
  tables?: ReturnType<typeof both> | { joined: undefined; unmatched: undefined };
  /** Checks on the summary (partial: only the keys given). */
  expected?: Record<string, unknown>;
  refused?: RegExp[];
}

const base = spec();
const cases: Case[] = [
  {
    name: 'the same spec changes nothing',
    previous: base,
    next: base,
    expected: { joined: { action: 'none' }, unmatched: { action: 'none' } },
  },
  {
    name: 'tables written before specs existed (no previous spec) match by name',
    previous: undefined,
    next: base,
    expected: { joined: { action: 'none' }, unmatched: { action: 'none' } },
  },
  {
    name: 'no tables yet: created with fresh ids in column order',
    previous: undefined,
    next: base,
    tables: { joined: undefined, unmatched: undefined },
    expected: {
      joined: { action: 'create' },
      unmatched: { action: 'create' },
    },
  },
  {
    name: 'adding an optional field and column adds a column with a new field id where the spec puts it',
    previous: base,
    next: spec((s) => addCurrency(s)),
    expected: {
      joined: {
        action: 'update',
        changes: [
          { kind: 'add-column', id: 10, name: 'order_currency', type: 'string', after: 'order_amount' },
        ],
        fields: [...DEFAULT_JOINED.slice(0, 5), '10 order_currency string', ...DEFAULT_JOINED.slice(5)],
        schemaId: 1,
      },
      unmatched: {
        action: 'update',
        changes: [
          { kind: 'add-column', id: 11, name: 'order_currency', type: 'string', after: 'order_amount' },
        ],
      },
    },
  },
  {
    name: 'a required new field is added as an optional column (older rows have no value), with a note',
    previous: base,
    next: spec((s) => addCurrency(s, false)),
    expected: {
      joined: {
        action: 'update',
        changes: [
          { kind: 'add-column', id: 10, name: 'order_currency', type: 'string', after: 'order_amount' },
        ],
        fields: [...DEFAULT_JOINED.slice(0, 5), '10 order_currency string', ...DEFAULT_JOINED.slice(5)],
        schemaId: 1,
        notes: [
          'default.orders_payments.order_currency is added as an optional column (Iceberg adds no required column to a table with rows: older rows read it as null); the pipeline fills it in every new row.',
        ],
      },
    },
  },
  {
    name: 'widening int → long keeps the field id',
    previous: base,
    next: spec(setType('left', 'amount', 'long')),
    expected: {
      joined: {
        action: 'update',
        changes: [{ kind: 'widen-column', id: 5, name: 'order_amount', from: 'int', to: 'long' }],
        fields: [...DEFAULT_JOINED.slice(0, 4), '5 order_amount long req', ...DEFAULT_JOINED.slice(5)],
        schemaId: 1,
      },
      unmatched: {
        action: 'update',
        changes: [{ kind: 'widen-column', id: 5, name: 'order_amount', from: 'int', to: 'long' }],
      },
    },
  },
  {
    name: 'widening float → double',
    previous: spec(withField('right', { name: 'fee', type: 'float' }, 'payment_fee')),
    next: spec(withField('right', { name: 'fee', type: 'double' }, 'payment_fee')),
    tables: both(spec(withField('right', { name: 'fee', type: 'float' }, 'payment_fee'))),
    expected: {
      joined: {
        action: 'update',
        changes: [{ kind: 'widen-column', id: 6, name: 'payment_fee', from: 'float', to: 'double' }],
      },
    },
  },
  {
    name: 'a decimal precision increase (same scale)',
    previous: spec(withField('right', { name: 'fee', type: 'decimal(10,2)' }, 'payment_fee')),
    next: spec(withField('right', { name: 'fee', type: 'decimal(12, 2)' }, 'payment_fee')),
    tables: both(spec(withField('right', { name: 'fee', type: 'decimal(10,2)' }, 'payment_fee'))),
    expected: {
      unmatched: {
        action: 'update',
        changes: [
          { kind: 'widen-column', id: 6, name: 'payment_fee', from: 'decimal(10, 2)', to: 'decimal(12, 2)' },
        ],
      },
    },
  },
  {
    name: 'renaming an output column keeps its field id',
    previous: base,
    next: spec((s) => {
      s.output.joined.columns[4].name = 'amount_ordered';
    }),
    expected: {
      joined: {
        action: 'update',
        changes: [{ kind: 'rename-column', id: 5, from: 'order_amount', to: 'amount_ordered' }],
        fields: [...DEFAULT_JOINED.slice(0, 4), '5 amount_ordered int req', ...DEFAULT_JOINED.slice(5)],
        schemaId: 1,
      },
      unmatched: { action: 'none' },
    },
  },
  {
    name: 'a stream renamed: sources follow the side; the reasons (and the reason doc) follow the name',
    previous: base,
    next: spec((s) => {
      s.streams.left.name = 'purchase';
      for (const t of ['joined', 'unmatched']) {
        for (const c of s.output[t].columns) c.from = c.from.replace(/^order\./, 'purchase.');
      }
    }),
    expected: {
      joined: { action: 'none' },
      unmatched: {
        action: 'update',
        changes: [
          {
            kind: 'update-doc',
            id: 9,
            name: 'reason',
            doc: 'purchase_timeout, payment_orphan, payment_extra, payment_late, purchase_late',
          },
        ],
      },
    },
  },
  {
    name: 'a field made nullable makes its joined column optional',
    previous: base,
    next: spec((s) => {
      s.streams.right.fields[2].nullable = true;
    }),
    expected: {
      joined: { action: 'update', changes: [{ kind: 'make-optional', id: 7, name: 'payment_date' }] },
      unmatched: { action: 'none' },
    },
  },
  {
    name: 'reordering columns',
    previous: base,
    next: spec((s) => {
      const [d] = s.output.joined.columns.splice(1, 1);
      s.output.joined.columns.splice(2, 0, d);
    }),
    expected: {
      joined: {
        action: 'update',
        changes: [
          {
            kind: 'reorder',
            names: [
              'order_id',
              'created_at',
              'order_date',
              'customer_id',
              'order_amount',
              'payment_id',
              'payment_date',
              'payment_amount',
              'joined_at',
            ],
          },
        ],
      },
    },
  },
  {
    name: "another engine's column stays after the column it followed; a new column gets an id above the table's last",
    previous: base,
    next: spec((s) => addCurrency(s)),
    tables: both(base, (v) => {
      v.fields.splice(5, 0, { id: 20, name: 'note', required: false, type: 'string' });
      v.lastColumnId = 20;
    }),
    expected: {
      joined: {
        action: 'update',
        changes: [{ kind: 'add-column', id: 21, name: 'order_currency', type: 'string', after: 'note' }],
        fields: [
          ...DEFAULT_JOINED.slice(0, 5),
          '20 note string',
          '21 order_currency string',
          ...DEFAULT_JOINED.slice(5),
        ],
        schemaId: 1,
      },
    },
  },
  {
    name: 'a column another engine widened stays wide (the spec is unchanged)',
    previous: base,
    next: base,
    tables: both(base, (v) => {
      v.fields[4] = { ...v.fields[4]!, type: 'long' };
    }),
    expected: {
      joined: {
        action: 'none',
        notes: [
          "default.orders_payments.order_amount stays long in the table (wider than the spec's int); the pipeline writes its values as long.",
        ],
      },
    },
  },
  {
    name: 'a column another engine dropped may leave the spec',
    previous: base,
    next: spec((s) => {
      s.output.joined.columns.splice(6, 1);
    }),
    tables: both(base, (v, kind) => {
      if (kind === 'joined') v.fields.splice(6, 1);
    }),
    expected: { joined: { action: 'none' }, unmatched: { action: 'none' } },
  },
  {
    name: "partitioning another engine changed is the table's (noted)",
    previous: base,
    next: base,
    tables: both(base, (v, kind) => {
      if (kind === 'joined') {
        v.partitionSpec = {
          specId: 1,
          fields: [{ sourceId: 9, fieldId: 1001, name: 'joined_at_hour', transform: 'hour' }],
        };
      }
    }),
    expected: {
      joined: {
        action: 'none',
        notes: [
          "default.orders_payments is partitioned by hour(joined_at), not as the spec says (day(joined_at)): the pipeline writes with the table's partition spec; the spec's applies to new tables.",
        ],
      },
    },
  },
  {
    name: 'new table names: new tables, so even a new key is fine',
    previous: base,
    next: spec((s) => {
      s.streams.right.identity = ['payment_id', 'payment_date'];
      s.output.joined.table = 'orders_payments_v2';
      s.output.unmatched.table = 'orders_payments_unmatched_v2';
    }),
    tables: { joined: undefined, unmatched: undefined },
    expected: { joined: { action: 'create' }, unmatched: { action: 'create' } },
  },
  // ---- refused ----
  {
    name: 'dropping a column the table still has',
    previous: base,
    next: spec((s) => {
      s.output.joined.columns.splice(6, 1);
    }),
    refused: [
      /^output\.joined\.columns: column "payment_date" \(from payment\.payment_date\) was removed from the spec, but default\.orders_payments still has it and the pipeline never drops data\. Keep it in the spec \(make its field nullable if the producer stops sending it\), or drop it with an engine first \(Spark: ALTER TABLE default\.orders_payments DROP COLUMN payment_date\) and then remove it from the spec\.$/,
    ],
  },
  {
    name: 'narrowing long → int',
    previous: spec(setType('left', 'amount', 'long')),
    next: base,
    tables: both(spec(setType('left', 'amount', 'long'))),
    refused: [
      /^output\.joined\.columns \(order_amount\): column "order_amount" would narrow from long to int, but Iceberg never narrows a column \(rows already written may not fit\)\. Keep order\.amount as long: every int value is accepted as long\.$/,
      /^output\.unmatched\.columns \(order_amount\): column "order_amount" would narrow from long to int/,
    ],
  },
  {
    name: 'narrowing double → float',
    previous: spec(withField('right', { name: 'fee', type: 'double' }, 'payment_fee')),
    next: spec(withField('right', { name: 'fee', type: 'float' }, 'payment_fee')),
    tables: both(spec(withField('right', { name: 'fee', type: 'double' }, 'payment_fee'))),
    refused: [/would narrow from double to float/, /would narrow from double to float/],
  },
  {
    name: 'changing a type other than by widening (string → long)',
    previous: base,
    next: spec(setType('left', 'customer_id', 'long')),
    refused: [
      /^output\.joined\.columns \(customer_id\): column "customer_id" would change type from string to long, but Iceberg only widens int → long, float → double and decimal precision\. Keep its type, and add a column with another name for the long values\.$/,
      /^output\.unmatched\.columns \(customer_id\): column "customer_id" would change type from string to long/,
    ],
  },
  {
    name: 'changing a decimal scale',
    previous: spec(withField('right', { name: 'fee', type: 'decimal(10,2)' }, 'payment_fee')),
    next: spec(withField('right', { name: 'fee', type: 'decimal(12,3)' }, 'payment_fee')),
    tables: both(spec(withField('right', { name: 'fee', type: 'decimal(10,2)' }, 'payment_fee'))),
    refused: [
      /change type from decimal\(10, 2\) to decimal\(12, 3\)/,
      /change type from decimal\(10, 2\) to decimal\(12, 3\)/,
    ],
  },
  {
    name: 'changing the key',
    previous: base,
    next: spec((s) => {
      s.streams.left.key = 'customer_id';
    }),
    refused: [
      /^streams\.left\.key: the join key changed from order\.order_id \(string\) to order\.customer_id \(string\), but default\.orders_payments and default\.orders_payments_unmatched and the waiting join states are keyed by it: events would pair under a different key than the rows already written\. Keep it, or write to new tables \(other table names in output\) with a fresh join state .* and replay the inputs/,
    ],
  },
  {
    name: 'changing what identifies a duplicate',
    previous: base,
    next: spec((s) => {
      s.streams.right.identity = ['payment_id', 'payment_date'];
    }),
    refused: [
      /^streams\.right\.identity: what identifies a duplicate changed from \[payment_id\] to \[payment_id, payment_date\], but the join states remember the identities of the events they have seen: a redelivered event would look new and be written twice\./,
    ],
  },
  {
    name: "changing a column's source",
    previous: base,
    next: spec((s) => {
      s.output.unmatched.columns[3].from = 'payment.created_at';
    }),
    refused: [
      /^output\.unmatched\.columns \(customer_id\): the source of column "customer_id" changed from order\.customer_id to payment\.created_at, but its rows already hold order\.customer_id: one column would mean two things\. Keep its source and add a column with another name for payment\.created_at\.$/,
    ],
  },
  {
    name: "renaming onto a name another engine's column has",
    previous: base,
    next: spec((s) => {
      s.output.joined.columns[1].name = 'note';
    }),
    tables: both(base, (v) => {
      v.fields.push({ id: 20, name: 'note', required: false, type: 'string' });
      v.lastColumnId = 20;
    }),
    refused: [
      /^output\.joined\.columns \(note\): column "order_date" cannot be renamed to "note", because default\.orders_payments already has a column "note" \(field id 20\)\. Choose another name\.$/,
    ],
  },
  {
    name: 'a column another engine renamed, still named the old way in the spec',
    previous: base,
    next: base,
    tables: both(base, (v, kind) => {
      if (kind === 'unmatched') v.fields[1] = { ...v.fields[1]!, name: 'ordered_on' };
    }),
    refused: [
      /^output\.unmatched\.columns \(order_date\): default\.orders_payments_unmatched has no column "order_date" any more \(another engine renamed or dropped it\), but the spec still fills it from order\.order_date\. Name the column in the spec as the table names it now, or give it a new name to add it as a new column\.$/,
    ],
  },
  {
    name: 'changing the partitioning',
    previous: base,
    next: spec((s) => {
      s.output.joined.partition[0].transform = 'hour';
    }),
    refused: [
      /^output\.joined\.partition: the partitioning changed from day\(joined_at\) to hour\(joined_at\), but the pipeline does not change a table's partition spec \(it writes with the table's own, now day\(joined_at\)\)\. Change it with an engine \(Spark: ALTER TABLE default\.orders_payments REPLACE PARTITION FIELD joined_at_day WITH …\), or write to a new table\.$/,
    ],
  },
];

describe('schema evolution', () => {
  for (const c of cases) {
    it(c.name, () => {
      const tables = c.tables ?? both(c.previous ?? base);
      const r = planEvolution({ previous: c.previous, next: c.next, tables });
      const s = summary(r);
      if (c.refused !== undefined) {
        assert.equal(r.ok, false, `expected a refusal, got ${JSON.stringify(s)}`);
        if (!r.ok) {
          assert.equal(r.refusals.length, c.refused.length, r.refusals.join('\n'));
          c.refused.forEach((re, i) => {
            assert.match(r.refusals[i]!, re);
          });
        }
        return;
      }
      assert.equal(r.ok, true, `expected a plan, got ${JSON.stringify(s)}`);
      for (const [k, v] of Object.entries(c.expected ?? {})) {
        const got = (s as Record<string, Record<string, unknown>>)[k]!;
        for (const [field, want] of Object.entries(v as Record<string, unknown>)) {
          assert.deepEqual(got[field], want, `${k}.${field}`);
        }
        if (!('notes' in (v as object))) assert.equal(got['notes'], undefined, `${k}: no notes`);
      }
    });
  }

  it('the update keeps what the table has beyond fields (identifier ids, extras) and every unchanged field verbatim', () => {
    const tables = both(base, (v) => {
      v.fields[2] = { ...v.fields[2]!, doc: 'set by Spark', extra: { 'initial-default': 'x' } };
    });
    const withIds = {
      ...tables,
      joined: { ...tables.joined, schema: { ...tables.joined.schema, identifierFieldIds: [1] } },
    };
    const r = planEvolution({ previous: base, next: spec((s) => addCurrency(s)), tables: withIds });
    assert.equal(r.ok, true);
    if (!r.ok || r.joined.action !== 'update') return;
    assert.deepEqual(r.joined.schema.identifierFieldIds, [1]);
    assert.equal(r.joined.schema.fields[2], withIds.joined.schema.fields[2]);
    assert.deepEqual(Object.fromEntries(r.joined.columnIds), {
      order_id: 1,
      order_date: 2,
      created_at: 3,
      customer_id: 4,
      order_amount: 5,
      order_currency: 10,
      payment_id: 6,
      payment_date: 7,
      payment_amount: 8,
      joined_at: 9,
    });
  });

  it('a created table has the schema and partition spec a new table of the spec gets', () => {
    const r = planEvolution({
      previous: undefined,
      next: base,
      tables: { joined: undefined, unmatched: undefined },
    });
    assert.equal(r.ok, true);
    if (!r.ok || r.joined.action !== 'create') return;
    assert.deepEqual(r.joined.schema, newTableSchema(base, 'joined'));
    assert.deepEqual(r.joined.partitionSpec, newPartitionSpec(base, 'joined'));
  });
});
