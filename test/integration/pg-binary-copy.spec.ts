/**
 * BinaryCopyWriter against a real PostgreSQL: every value kind the rebuild writes, including the
 * edges of the encodings (dates and times before 2000, years below 100, negative and large int8,
 * NULL, text beyond ASCII with COPY's special characters), read back by PostgreSQL as text.
 */
import type { Pool } from 'pg';
import { BinaryCopyWriter } from '../../services/finance/src/rollback/pg-binary-copy';
import { copyFrom } from '../../services/finance/src/rollback/pg-copy';
import { createTestDatabase, TestDatabase } from '../support/database';

describe('binary COPY rows (BinaryCopyWriter + copyFrom)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('binary_copy');
    pool = db.pool();
    await pool.query('CREATE TABLE t (n int, id uuid, ref uuid, label text, amount int8, day date, at timestamptz)');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('loads what PostgreSQL reads back as the same values', async () => {
    const rows = [
      { n: 1, id: '0b3f5c1e-3a52-4c61-9d7e-5a0f6f0e9a01', ref: null, label: 'plain', amount: 0n, day: '2026-11-27', at: '2026-11-27T10:20:30.456Z' },
      { n: 2, id: 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF', ref: '00000000-0000-0000-0000-000000000000', label: '৳ café\t"q"\\ \n€', amount: -9_223_372_036_854_775_808n, day: '1999-12-31', at: '1969-07-20T20:17:40.001Z' },
      { n: 3, id: '12345678-9abc-4def-8123-456789abcdef', ref: '12345678-9abc-4def-8123-456789abcdef', label: '', amount: 9_223_372_036_854_775_807n, day: '0042-02-28', at: '2000-01-01T00:00:00.000Z' },
      { n: 4, id: 'a0000000-0000-4000-8000-000000000000', ref: null, label: 'x'.repeat(100_000), amount: 123_456_789_012n, day: '2000-01-01', at: '1999-12-31T23:59:59.999Z' },
      // The same uuid as the row before, whose bytes sit before the buffer grew for the long label;
      // int8 at the edges of the two-halves path (safe integers) and just beyond it.
      { n: 5, id: 'a0000000-0000-4000-8000-000000000000', ref: null, label: 'again', amount: -1n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 6, id: 'b0000000-0000-4000-8000-000000000001', ref: null, label: 'a', amount: 9_007_199_254_740_991n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 7, id: 'b0000000-0000-4000-8000-000000000002', ref: null, label: 'b', amount: -9_007_199_254_740_991n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 8, id: 'b0000000-0000-4000-8000-000000000003', ref: null, label: 'c', amount: 9_007_199_254_740_992n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 9, id: 'b0000000-0000-4000-8000-000000000004', ref: null, label: 'd', amount: -4_294_967_297n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 10, id: 'b0000000-0000-4000-8000-000000000005', ref: null, label: 'e', amount: 4_294_967_295n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 11, id: 'b0000000-0000-4000-8000-000000000006', ref: null, label: 'f', amount: -4_294_967_296n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      // Short text goes byte by byte while it is ASCII: non-ASCII after ASCII, and just over the short limit.
      { n: 12, id: 'b0000000-0000-4000-8000-000000000007', ref: null, label: 'total 5 €', amount: 1n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 13, id: 'b0000000-0000-4000-8000-000000000008', ref: null, label: 'y'.repeat(48), amount: 1n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
      { n: 14, id: 'b0000000-0000-4000-8000-000000000009', ref: null, label: `${'z'.repeat(48)}é`, amount: 1n, day: '2026-01-01', at: '2026-01-01T00:00:00.000Z' },
    ];
    const w = new BinaryCopyWriter(64);
    for (const r of rows) w.row(7).int4(r.n).uuid(r.id).nullableUuid(r.ref).text(r.label).int8(r.amount).date(r.day).timestamptz(new Date(r.at));
    const client = await pool.connect();
    try {
      expect(await copyFrom(client, 't', ['n', 'id', 'ref', 'label', 'amount', 'day', 'at'], w.rowBytes())).toBe(rows.length);
    } finally {
      client.release();
    }

    const back = await pool.query<{ n: number; id: string; ref: string | null; label: string; amount: string; day: string; at: string }>(
      `SELECT n, id::text, ref::text, label, amount::text, to_char(day, 'YYYY-MM-DD') AS day,
              to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM t ORDER BY n`,
    );
    expect(back.rows).toEqual(rows.map((r) => ({ ...r, id: r.id.toLowerCase(), amount: r.amount.toString() })));
  });

  it('refuses values it cannot encode instead of writing something else', () => {
    const w = new BinaryCopyWriter();
    expect(() => w.uuid('not-a-uuid')).toThrow(/uuid/);
    expect(() => w.uuid('0b3f5c1e-3a52-4c61-9d7e-5a0f6f0e9a0g')).toThrow(/uuid/);
    expect(() => w.date('2026-1-1')).toThrow(/date/);
  });
});
