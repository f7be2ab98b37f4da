/**
 * FinanceReadQueries (the SQL behind the GET routes) over read models filled by the real projector
 * and writer: shapes, money formatting, tenant scoping, keyset pagination, trial balance, index use.
 */
import type { Pool } from 'pg';
import { FinanceReadQueries } from '../../services/finance/src/http/queries/finance-read-queries';
import { ValidationError } from '../../services/finance/src/domain/errors';
import { parseInvoiceListQuery, parseJournalListQuery, parseTrialBalanceQuery } from '../../services/finance/src/http/queries/query-params';
import { invoiceIdsReferenced, projectBatch } from '../../services/finance/src/projections/finance-projector';
import { loadInvoices, writeBatch } from '../../services/finance/src/projections/read-model-writer';
import { EventRecorder, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';


describe('FinanceReadQueries (PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let queries: FinanceReadQueries;
  const recorder = new EventRecorder(0n, new Date('2026-11-26T12:00:00.123Z'));
  const a = new FinanceEventBuilder('tenant-a');
  const b = new FinanceEventBuilder('tenant-b');
  const fx = new FinanceEventBuilder('tenant-fx');
  const INV = '0d0d0d0d-0000-4000-8000-000000000001';
  const PAY = '0d0d0d0d-0000-4000-8000-0000000000aa';
  const JE = '0d0d0d0d-0000-4000-8000-0000000000bb';
  const created: string[] = [];

  async function project(specs: EventSpec[], createdAt?: Date): Promise<void> {
    const events = specs.map((s) => ({ ...recorder.record(s), ...(createdAt ? { createdAt } : {}) }));
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const batch = projectBatch(events, await loadInvoices(client, invoiceIdsReferenced(events)));
      await writeBatch(client, batch);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase('proj_queries');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 4 });
    queries = new FinanceReadQueries(pool);
    await project([a.createInvoice({ invoiceId: INV, customerId: 'C-1001', dueDate: '2026-12-31' }), a.approve(INV, { approvedAt: '2026-11-26T10:00:00Z' })]);
    await project([a.pay(INV, 316250n, { paymentId: PAY, method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-28T10:00:00Z' })]);
    await project([a.journalEntry({ journalEntryId: JE, date: '2026-11-01', memo: 'Opening cash' })]);
    // 12 more invoices for tenant-a, each with its own created_at (some equal, to exercise the id tie-break).
    for (let i = 0; i < 12; i++) {
      const spec = a.createInvoice({ customerId: i % 2 ? 'C-odd' : 'C-even' });
      created.push(spec.event.data.invoiceId as string);
      await project([spec], new Date(Date.UTC(2026, 10, 27, 0, 0, Math.floor(i / 3))));
    }
    // tenant-b: one invoice with the SAME customer id as tenant-a's, and its own journal.
    await project([b.createInvoice({ customerId: 'C-1001' }), b.journalEntry({ date: '2026-11-01' })]);
    // tenant-fx: the same accounts on the same day in two currencies, and a third currency later.
    await project([
      fx.journalEntry({ date: '2026-11-01', currency: 'BDT' }),
      fx.journalEntry({ date: '2026-11-01', currency: 'USD', lines: [{ accountCode: '1000', debitMinor: '250', creditMinor: '0' }, { accountCode: '3000', debitMinor: '0', creditMinor: '250' }] }),
      fx.journalEntry({ date: '2026-11-20', currency: 'EUR' }),
    ]);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('GET /invoices/:id shape: decimal strings, version, dates, line count', async () => {
    expect(await queries.getInvoice('tenant-a', INV)).toEqual({
      id: INV,
      customerId: 'C-1001',
      currency: 'BDT',
      status: 'PARTIALLY_PAID',
      subtotal: '5500.00',
      vatTotal: '825.00',
      total: '6325.00',
      amountPaid: '3162.50',
      balanceDue: '3162.50',
      dueDate: '2026-12-31',
      lineCount: 1,
      version: 2,
      lastPosition: '3',
      createdAt: '2026-11-26T12:00:00.123Z',
      updatedAt: '2026-11-26T12:00:00.123Z',
    });
    expect(await queries.getInvoice('tenant-b', INV)).toBeUndefined();
    expect(await queries.getInvoice('tenant-a', '0d0d0d0d-0000-4000-8000-00000000ffff')).toBeUndefined();
  });

  it('payments of an invoice, tenant-scoped', async () => {
    expect(await queries.listPayments('tenant-a', INV)).toEqual([
      { id: PAY, invoiceId: INV, amount: '3162.50', method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-28T10:00:00.000Z', position: '3' },
    ]);
    expect(await queries.listPayments('tenant-a', created[0])).toEqual([]);
    expect(await queries.listPayments('tenant-b', INV)).toBeUndefined();
  });

  it('pages through invoices newest first with an opaque cursor, no duplicates or gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ limit: '5', ...(cursor ? { cursor } : {}) }));
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(13);
    expect(new Set(seen).size).toBe(13);
    expect(seen[seen.length - 1]).toBe(INV); // the oldest
    // Newest first: created_at descending.
    const all = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ limit: '200' }));
    expect(all.items.map((i) => i.id)).toEqual(seen);
    const times = all.items.map((i) => i.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(all.nextCursor).toBeNull();
  });

  it('filters by status and customer, never leaking another tenant', async () => {
    const drafts = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ status: 'DRAFT' }));
    expect(drafts.items).toHaveLength(12);
    const odd = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ customerId: 'C-odd', limit: '4' }));
    expect(odd.items.map((i) => i.customerId)).toEqual(['C-odd', 'C-odd', 'C-odd', 'C-odd']);
    const rest = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ customerId: 'C-odd', cursor: odd.nextCursor! }));
    expect(rest.items).toHaveLength(2);
    const c1001a = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ customerId: 'C-1001' }));
    expect(c1001a.items.map((i) => i.id)).toEqual([INV]);
    const c1001b = await queries.listInvoices('tenant-b', parseInvoiceListQuery({ customerId: 'C-1001' }));
    expect(c1001b.items).toHaveLength(1);
    expect(c1001b.items[0].id).not.toBe(INV);
    expect((await queries.listInvoices('tenant-c', parseInvoiceListQuery({}))).items).toEqual([]);
    const partially = await queries.listInvoices('tenant-a', parseInvoiceListQuery({ status: 'partially_paid', customerId: 'C-1001' }));
    expect(partially.items.map((i) => i.id)).toEqual([INV]);
  });

  it('journal entries: one with its lines, a date range, pagination', async () => {
    const entry = await queries.getJournalEntry('tenant-a', JE);
    expect(entry).toMatchObject({
      id: JE,
      source: 'manual',
      sourceId: null,
      date: '2026-11-01',
      memo: 'Opening cash',
      totalDebit: '100.00',
      totalCredit: '100.00',
      lines: [
        { lineNo: 1, accountCode: '1000', debit: '100.00', credit: '0.00' },
        { lineNo: 2, accountCode: '3000', debit: '0.00', credit: '100.00' },
      ],
    });
    expect(await queries.getJournalEntry('tenant-b', JE)).toBeUndefined();
    // A line of another tenant under the same entry id (only a foreign event producer could write one) is not shown.
    await pool.query(`INSERT INTO journal_entry_line_read_model (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
      VALUES ('${JE}', 9, 'tenant-b', '9999', 1, 0, '1999-01-01', 'BDT')`);
    try {
      expect((await queries.getJournalEntry('tenant-a', JE))!.lines.map((l) => l.lineNo)).toEqual([1, 2]);
    } finally {
      await pool.query(`DELETE FROM journal_entry_line_read_model WHERE journal_entry_id = '${JE}' AND line_no = 9`);
      await pool.query(`DELETE FROM account_daily_balance_read_model WHERE entry_date = '1999-01-01'`);
    }

    const all = await queries.listJournalEntries('tenant-a', parseJournalListQuery({}));
    expect(all.items.map((e) => [e.date, e.source])).toEqual([
      ['2026-11-01', 'manual'],
      ['2026-11-26', 'invoice_approval'],
      ['2026-11-28', 'payment'],
    ]);
    expect(all.items[1].lines).toHaveLength(3);
    const november26 = await queries.listJournalEntries('tenant-a', parseJournalListQuery({ from: '2026-11-02', to: '2026-11-27' }));
    expect(november26.items.map((e) => e.sourceId)).toEqual([INV]);
    const first = await queries.listJournalEntries('tenant-a', parseJournalListQuery({ limit: '2' }));
    expect(first.items).toHaveLength(2);
    const second = await queries.listJournalEntries('tenant-a', parseJournalListQuery({ limit: '2', cursor: first.nextCursor! }));
    expect(second.items.map((e) => e.source)).toEqual(['payment']);
    expect(second.nextCursor).toBeNull();
    expect((await queries.listJournalEntries('tenant-a', parseJournalListQuery({ source: 'payment' }))).items).toHaveLength(1);
  });

  it('trial balance: per account, debits equal credits, optional date range', async () => {
    const tb = await queries.trialBalance('tenant-a');
    expect(tb.accounts).toEqual([
      { accountCode: '1000', debit: '100.00', credit: '0.00', balance: '100.00' },
      { accountCode: '1010', debit: '3162.50', credit: '0.00', balance: '3162.50' },
      { accountCode: '1100', debit: '6325.00', credit: '3162.50', balance: '3162.50' },
      { accountCode: '2100', debit: '0.00', credit: '825.00', balance: '-825.00' },
      { accountCode: '3000', debit: '0.00', credit: '100.00', balance: '-100.00' },
      { accountCode: '4000', debit: '0.00', credit: '5500.00', balance: '-5500.00' },
    ]);
    expect(tb.totals).toEqual({ debit: '9587.50', credit: '9587.50' });
    expect(tb.balanced).toBe(true);
    const upTo27 = await queries.trialBalance('tenant-a', { to: '2026-11-27' });
    expect(upTo27.totals).toEqual({ debit: '6425.00', credit: '6425.00' });
    expect((await queries.trialBalance('tenant-b')).totals).toEqual({ debit: '100.00', credit: '100.00' });
    expect(tb.currency).toBe('BDT');
    expect(await queries.trialBalance('nobody')).toMatchObject({ currency: null, accounts: [], balanced: true, totals: { debit: '0.00', credit: '0.00' } });
  });

  it('trial balance: one currency at a time, never a sum across currencies', async () => {
    // BDT 100.00 and USD 2.50 on the same accounts and day: without a currency, no answer adds them.
    const mixed = await queries.trialBalance('tenant-fx').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(mixed).toBeInstanceOf(ValidationError);
    expect((mixed as ValidationError).problems).toEqual([{ field: 'currency', message: expect.stringContaining('BDT, EUR, USD') }]);
    const usd = await queries.trialBalance('tenant-fx', parseTrialBalanceQuery({ currency: 'usd' }));
    expect(usd).toEqual({
      from: null,
      to: null,
      currency: 'USD',
      accounts: [
        { accountCode: '1000', debit: '2.50', credit: '0.00', balance: '2.50' },
        { accountCode: '3000', debit: '0.00', credit: '2.50', balance: '-2.50' },
      ],
      totals: { debit: '2.50', credit: '2.50' },
      balanced: true,
    });
    expect((await queries.trialBalance('tenant-fx', { currency: 'BDT' })).totals).toEqual({ debit: '100.00', credit: '100.00' });
    // A date range holding one currency needs none named.
    expect(await queries.trialBalance('tenant-fx', { from: '2026-11-02' })).toMatchObject({ currency: 'EUR', totals: { debit: '100.00', credit: '100.00' } });
    expect(await queries.trialBalance('tenant-fx', { currency: 'GBP' })).toMatchObject({ currency: 'GBP', accounts: [] });
    // Codes refused for new amounts (JPY) can still be asked for: amounts written before the rule stay reachable.
    expect(parseTrialBalanceQuery({ currency: 'jpy' })).toEqual({ currency: 'JPY' });
    for (const bad of [{ currency: 'US' }, { currency: 'U$D' }, { currency: ['USD', 'EUR'] }]) {
      expect(() => parseTrialBalanceQuery(bad)).toThrow(/^currency: /);
    }
  });

  it('the list queries use the tenant indexes', async () => {
    await pool.query('ANALYZE');
    const plan = async (sql: string, params: unknown[]) => {
      const client = await pool.connect();
      try {
        await client.query('SET enable_seqscan = off');
        return JSON.stringify((await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params)).rows[0]);
      } finally {
        await client.query('RESET enable_seqscan');
        client.release();
      }
    };
    expect(await plan("SELECT id FROM invoice_read_model WHERE tenant_id = $1 AND (created_at, id) < ($2::timestamptz, $3::uuid) ORDER BY created_at DESC, id DESC LIMIT 5", ['tenant-a', '2026-11-27T00:00:01Z', INV])).toMatch(/invoice_read_model_tenant_created_idx/);
    expect(await plan("SELECT id FROM invoice_read_model WHERE tenant_id = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT 5", ['tenant-a', 'DRAFT'])).toMatch(/invoice_read_model_tenant_status_idx/);
    expect(await plan("SELECT id FROM invoice_read_model WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id DESC LIMIT 5", ['tenant-a', 'C-odd'])).toMatch(/invoice_read_model_tenant_customer_idx/);
    expect(await plan('SELECT id FROM payment_read_model WHERE invoice_id = $1 ORDER BY position', [INV])).toMatch(/payment_read_model_invoice_idx/);
    expect(await plan("SELECT id FROM journal_entry_read_model WHERE tenant_id = $1 AND entry_date >= $2 ORDER BY entry_date, id LIMIT 5", ['tenant-a', '2026-11-01'])).toMatch(/journal_entry_read_model_tenant_date_idx/);
    expect(await plan('SELECT line_no FROM journal_entry_line_read_model WHERE journal_entry_id = $1 ORDER BY line_no', [INV])).toMatch(/journal_entry_line_read_model_pkey/);
    // A trial balance reads the tenant's daily balances, only those in the date range when it has one.
    expect(await plan('SELECT currency, account_code, sum(debit_minor) FROM account_daily_balance_read_model WHERE tenant_id = $1 GROUP BY currency, account_code', ['tenant-a'])).toMatch(
      /"Index Name":"account_daily_balance_read_model_pkey".*"Index Cond":"\(tenant_id = [^"]+\)"/,
    );
    expect(
      await plan('SELECT currency, account_code, sum(debit_minor) FROM account_daily_balance_read_model WHERE tenant_id = $1 AND entry_date >= $2::date AND entry_date <= $3::date AND currency = $4 GROUP BY currency, account_code', ['tenant-a', '2026-11-01', '2026-11-27', 'BDT']),
    ).toMatch(/"Index Name":"account_daily_balance_read_model_pkey".*"Index Cond":"\(\(tenant_id = [^"]+\) AND \(entry_date >= [^"]+\) AND \(entry_date <= [^"]+\)(?: AND \(currency = [^"]+\))?\)"/);
  });
});
