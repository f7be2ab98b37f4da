/**
 * The bulk writer against real PostgreSQL (fresh database, real migrations).
 */
import type { Pool } from 'pg';
import { invoiceIdsReferenced, projectBatch } from '../../services/finance/src/projections/finance-projector';
import type { InvoiceRow, ProjectionBatch } from '../../services/finance/src/projections/read-model-rows';
import { LIVE_TABLES, loadInvoices, readModelTables, writeBatch } from '../../services/finance/src/projections/read-model-writer';
import { EventRecorder, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';


async function inTransaction<T>(pool: Pool, work: (client: import('pg').PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** Projects events the way the manager does: load touched invoices, fold, write. */
async function apply(pool: Pool, events: Parameters<typeof projectBatch>[0], tables = LIVE_TABLES): Promise<ProjectionBatch> {
  return inTransaction(pool, async (client) => {
    const before = await loadInvoices(client, invoiceIdsReferenced(events), tables);
    const batch = projectBatch(events, before);
    await writeBatch(client, batch, tables);
    return batch;
  });
}

async function counts(pool: Pool, tables = LIVE_TABLES) {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM ${tables.invoices})::int AS invoices, (SELECT count(*) FROM ${tables.payments})::int AS payments,
            (SELECT count(*) FROM ${tables.journalEntries})::int AS entries, (SELECT count(*) FROM ${tables.journalLines})::int AS lines`,
  );
  return rows[0] as { invoices: number; payments: number; entries: number; lines: number };
}

describe('read-model writer (PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rm_writer');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 4 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  beforeEach(async () => {
    await pool.query(`TRUNCATE ${Object.values(LIVE_TABLES).join(', ')}`);
  });

  it('writes invoices, payments and journal entries and reads them back exactly', async () => {
    const b = new FinanceEventBuilder('tenant-w');
    const r = new EventRecorder();
    const inv = '0a0a0a0a-0000-4000-8000-000000000001';
    const events = r.recordAll([
      b.createInvoice({ invoiceId: inv, customerId: 'C-"quoted", {braced} \\ back' }),
      b.approve(inv),
      b.pay(inv, 100000n, { reference: 'NULL', paidAt: '2026-11-28T16:00:00+06:00' }),
      b.journalEntry({ memo: 'Ünïcödé, "quotes", \\slashes\\, {braces}, NULL' }),
    ]);
    const batch = await apply(pool, events);

    const loaded = await loadInvoices(pool, [inv, '0a0a0a0a-0000-4000-8000-00000000ffff']);
    expect(loaded.size).toBe(1);
    expect(loaded.get(inv)).toEqual(batch.invoices.get(inv));
    expect(loaded.get(inv)!.customerId).toBe('C-"quoted", {braced} \\ back');

    const payment = (await pool.query('SELECT id::text, invoice_id::text, tenant_id, amount_minor::text, method, reference, paid_at, position::text FROM payment_read_model')).rows[0];
    expect(payment).toMatchObject({ invoice_id: inv, tenant_id: 'tenant-w', amount_minor: '100000', reference: 'NULL', position: '3' });
    expect((payment.paid_at as Date).toISOString()).toBe('2026-11-28T10:00:00.000Z');

    const entries = (await pool.query('SELECT id::text, source, source_id::text, memo, to_char(entry_date, \'YYYY-MM-DD\') AS d, total_debit_minor::text AS dr, total_credit_minor::text AS cr FROM journal_entry_read_model ORDER BY position')).rows;
    expect(entries.map((e) => e.source)).toEqual(['invoice_approval', 'payment', 'manual']);
    expect(entries[0]).toMatchObject({ source_id: inv, dr: '632500', cr: '632500' });
    expect(entries[2]).toMatchObject({ source_id: null, memo: 'Ünïcödé, "quotes", \\slashes\\, {braces}, NULL', d: '2026-11-26' });
    const lines = (await pool.query('SELECT journal_entry_id::text AS id, line_no, account_code, debit_minor::text AS dr, credit_minor::text AS cr, tenant_id FROM journal_entry_line_read_model ORDER BY journal_entry_id, line_no')).rows;
    expect(lines).toHaveLength(3 + 2 + 2);
    expect(lines.every((l) => l.tenant_id === 'tenant-w')).toBe(true);
    const sums = (await pool.query('SELECT sum(debit_minor)::text AS dr, sum(credit_minor)::text AS cr FROM journal_entry_line_read_model')).rows[0];
    expect(sums.dr).toBe(sums.cr);
  });

  it('folds several events on one key into one row per statement, and re-writing a batch changes nothing', async () => {
    const b = new FinanceEventBuilder('tenant-w');
    const r = new EventRecorder();
    const inv = '0a0a0a0a-0000-4000-8000-000000000002';
    const events = r.recordAll([b.createInvoice({ invoiceId: inv }), b.approve(inv), b.pay(inv, 1000n), b.pay(inv, 2000n), b.pay(inv, 3000n), b.journalEntry()]);
    const batch = projectBatch(events, new Map());
    expect(batch.invoices.size).toBe(1);
    await inTransaction(pool, (c) => writeBatch(c, batch));
    // The very same batch again (a redelivery after a lost acknowledgement): no double count.
    const again = await inTransaction(pool, (c) => writeBatch(c, batch));
    expect(again).toEqual({ invoices: 0, payments: 0, journalEntries: 0, journalLines: 0 });
    // And through the projector (which sees last_position and skips).
    const reprojected = await apply(pool, events);
    expect(reprojected.duplicateEvents).toBe(5);
    const row = (await loadInvoices(pool, [inv])).get(inv)!;
    expect(row).toMatchObject({ amountPaidMinor: 6000n, balanceDueMinor: 626500n, status: 'PARTIALLY_PAID', version: 4, lastPosition: 5n });
    expect(await counts(pool)).toEqual({ invoices: 1, payments: 3, entries: 5, lines: 2 * 5 + 1 });
  });

  it('never overwrites a newer invoice row with an older one', async () => {
    const b = new FinanceEventBuilder('tenant-w');
    const r = new EventRecorder();
    const inv = '0a0a0a0a-0000-4000-8000-000000000003';
    const [created, approved] = r.recordAll([b.createInvoice({ invoiceId: inv }), b.approve(inv)]);
    const older = projectBatch([created], new Map());
    const newer = projectBatch([created, approved], new Map());
    await inTransaction(pool, (c) => writeBatch(c, newer));
    const result = await inTransaction(pool, (c) => writeBatch(c, older));
    expect(result.invoices).toBe(0);
    expect((await loadInvoices(pool, [inv])).get(inv)).toMatchObject({ status: 'APPROVED', version: 1 });
  });

  it('writes batches far beyond 65,536 bind values (fixed parameter count)', async () => {
    const b = new FinanceEventBuilder('tenant-big');
    const r = new EventRecorder();
    const specs = [];
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const id = `0b0b0b0b-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
      specs.push(b.createInvoice({ invoiceId: id }), b.approve(id), b.pay(id, 632500n));
    }
    const events = r.recordAll(specs);
    const started = Date.now();
    const batch = await apply(pool, events);
    const ms = Date.now() - started;
    expect(batch.invoices.size).toBe(n);
    // 20,000 invoices × 16 columns alone would be 320,000 VALUES parameters.
    expect(await counts(pool)).toEqual({ invoices: n, payments: n, entries: 2 * n, lines: 5 * n });
    const paid = (await pool.query("SELECT count(*)::int AS n FROM invoice_read_model WHERE status = 'PAID' AND balance_due_minor = 0")).rows[0].n;
    expect(paid).toBe(n);
    // eslint-disable-next-line no-console
    console.log(`wrote ${events.length} events (${n} invoices) in ${ms} ms`);
  });

  it('writes into other tables (a rollback\'s shadow copies) without touching the live ones', async () => {
    const shadow = readModelTables('_writer_shadow');
    for (const [key, name] of Object.entries(shadow)) {
      await pool.query(`CREATE TABLE ${name} (LIKE ${LIVE_TABLES[key as keyof typeof LIVE_TABLES]} INCLUDING ALL)`);
    }
    const b = new FinanceEventBuilder('tenant-s');
    const r = new EventRecorder();
    const inv = '0a0a0a0a-0000-4000-8000-000000000004';
    const events = r.recordAll([b.createInvoice({ invoiceId: inv }), b.approve(inv), b.journalEntry()]);
    const batch = projectBatch(events, new Map());
    await inTransaction(pool, (c) => writeBatch(c, batch, shadow, { mode: 'insert' }));
    expect(await counts(pool, shadow)).toEqual({ invoices: 1, payments: 0, entries: 2, lines: 5 });
    expect(await counts(pool)).toEqual({ invoices: 0, payments: 0, entries: 0, lines: 0 });
    expect((await loadInvoices(pool, [inv], shadow)).get(inv)?.status).toBe('APPROVED');
    // insert mode has no conflict handling: a duplicate key fails loudly.
    await expect(inTransaction(pool, (c) => writeBatch(c, batch, shadow, { mode: 'insert' }))).rejects.toThrow(/duplicate key/);
    expect(() => readModelTables('; DROP TABLE x')).not.toThrow();
    await expect(writeBatch(pool, batch, readModelTables('; DROP TABLE x'))).rejects.toThrow(/not a plain table name/);
  });

  it('loadInvoices returns nothing for no ids and survives many ids', async () => {
    expect((await loadInvoices(pool, [])).size).toBe(0);
    const ids = Array.from({ length: 70_000 }, (_, i) => `0c0c0c0c-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    const found: Map<string, InvoiceRow> = await loadInvoices(pool, ids);
    expect(found.size).toBe(0);
  });
});
