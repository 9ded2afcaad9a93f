// The default tables' data files are byte for byte what the writer wrote before the writers took every
// type (issue 17): SHA-256 of files and statistics recorded with the writer of main at e996bd7, for the
// same rows, through both paths the pipeline uses (the TableDef, and the layout of a new table), from
// outbox rows holding timestamps as numbers (rows stored before) or as digits (values.ts encodeValue).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { newTableMetadata } from '../../../shared/iceberg/spec/updates.ts';
import { planTableWrite } from '../../../shared/iceberg/write-layout.ts';
import { encodeDataFile } from '../../../shared/parquet/data-file-writer.ts';
import { outboxToRow } from '../../../shared/pipeline/flush.ts';
import { TABLES, type TableKind } from '../../../shared/tables.ts';

const DAY = 20000 * 86_400_000_000;
function stored(kind: TableKind, i: number, digits: boolean): Record<string, unknown> {
  const micros = (n: number) => (digits ? String(n) : n);
  return kind === 'joined'
    ? {
        order_id: `o-${i}`,
        order_date: '2026-11-25',
        created_at: '2026-11-25T12:00:00',
        customer_id: `c-${i % 7}`,
        order_amount: i * 3,
        payment_id: `p-${i}`,
        payment_date: '2026-11-25',
        payment_amount: i * 3,
        joined_at: micros(DAY + i * 1_000_003),
      }
    : {
        order_id: `o-${i}`,
        order_date: i % 2 ? null : '2026-11-25',
        created_at: i % 2 ? null : 'x',
        customer_id: i % 3 ? null : 'c',
        order_amount: i % 2 ? null : i,
        payment_id: i % 2 ? `p-${i}` : null,
        payment_date: null,
        payment_amount: i % 5 ? null : -i,
        reason: 'order_timeout',
        emitted_at: micros(DAY + i),
      };
}

const GOLDEN: Record<TableKind, { file: string; stats: Record<'def' | 'layout', string> }> = {
  joined: {
    file: '3e0afbfcd8bb4dca205ac748d7ccb1b0dcaeaf5f2dff6b2efabc63bcceb568c9',
    stats: { def: 'a7cf2f0ef1d43402', layout: '9a6fb36e60a0f16c' },
  },
  unmatched: {
    file: 'c5f434bb38114a3644416ad0713c0119ac27853bf91f3a3048d2155c17ee4bda',
    stats: { def: 'dcfdae61a1fa764c', layout: 'ba03cd5e42553c0b' },
  },
};

describe('default tables: data files unchanged by the typed writers', () => {
  for (const kind of ['joined', 'unmatched'] as const) {
    for (const digits of [false, true]) {
      it(`${kind}, outbox timestamps as ${digits ? 'digits' : 'numbers'}: the same bytes and stats as before`, async () => {
        const def = TABLES[kind];
        const rows = Array.from({ length: 3000 }, (_, i) => outboxToRow(def, stored(kind, i, digits)));
        const layout = planTableWrite(def, newTableMetadata(def, 'file:///t/', 0), kind);
        assert.ok(layout.ok);
        for (const [how, schema] of [
          ['def', def],
          ['layout', layout.layout.fileSchema],
        ] as const) {
          const f = encodeDataFile(rows, schema, { rowGroupRows: 1000, createdBy: 'x version 1.0.0' });
          const h = createHash('sha256');
          for await (const c of f) h.update(c);
          const stats = JSON.stringify(await f.stats, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
          assert.equal(h.digest('hex'), GOLDEN[kind].file, `${how}: file bytes`);
          assert.equal(
            createHash('sha256').update(stats).digest('hex').slice(0, 16),
            GOLDEN[kind].stats[how],
            `${how}: stats`,
          );
        }
      });
    }
  }
});
