/**
 * The read API over HTTP against the spawned compiled service (dist): data created through the write
 * API, projected by the service's own projection manager, read back tenant-scoped, with pagination,
 * validation errors naming the field, and the projection metrics.
 */
import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { Answer, request } from '../support/http';
import { waitFor } from '../support/wait-for';

const INVOICE = {
  customerId: 'C-1001',
  currency: 'BDT',
  dueDate: '2026-12-31',
  lines: [{ description: 'Cement 50kg', quantity: 10, unitPrice: '550.00', vatRate: '0.15' }],
};

const tokenA = signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['accountant'] }, TEST_JWT_SECRET);
const tokenB = signToken({ tenantId: 'tenant-b', userId: 'bob', roles: ['accountant'] }, TEST_JWT_SECRET);

describe('read API (compiled service over HTTP)', () => {
  let db: TestDatabase;
  let service: ServiceProcess;
  let invoiceId: string;
  let paymentId: string;
  let paymentJournalId: string;

  const call = (method: string, path: string, token: string | null = tokenA, body?: unknown): Promise<Answer> => request(service.baseUrl, method, path, { token, body });

  async function until(path: string, accept: (answer: Answer) => boolean, token = tokenA): Promise<Answer> {
    let last: Answer | undefined;
    await waitFor(async () => accept((last = await call('GET', path, token))), 5000, `GET ${path}`);
    return last!;
  }

  beforeAll(async () => {
    db = await createTestDatabase('queries_e2e');
    service = await startService({ ...db.env(), LOG_LEVEL: 'warn' });
    const created = await call('POST', '/invoices', tokenA, INVOICE);
    expect(created.status).toBe(201);
    invoiceId = created.body.id;
    expect((await call('POST', `/invoices/${invoiceId}/approve`, tokenA, {})).status).toBe(200);
    const paid = await call('POST', `/invoices/${invoiceId}/payments`, tokenA, { amount: '3162.50', method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-28T10:00:00Z' });
    expect(paid.status).toBe(201);
    paymentId = paid.body.paymentId;
    paymentJournalId = paid.body.journalEntryId;
    const journal = await call('POST', '/journal-entries', tokenA, {
      date: '2026-11-26',
      memo: 'Opening cash',
      lines: [
        { accountCode: '1000', debit: '100.00' },
        { accountCode: '3000', credit: '100.00' },
      ],
    });
    expect(journal.status).toBe(201);
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('GET /invoices/:id returns the projected invoice with decimal-string amounts', async () => {
    const answer = await until(`/invoices/${invoiceId}`, (a) => a.status === 200 && a.body.status === 'PARTIALLY_PAID');
    expect(answer.body).toMatchObject({
      id: invoiceId,
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
    });
    expect(answer.body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
    expect(answer.body.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
  });

  it('keeps tenants apart: another tenant gets 404 and empty lists', async () => {
    expect((await call('GET', `/invoices/${invoiceId}`, tokenB)).status).toBe(404);
    expect((await call('GET', `/invoices/${invoiceId}/payments`, tokenB)).status).toBe(404);
    expect((await call('GET', `/journal-entries/${paymentJournalId}`, tokenB)).status).toBe(404);
    expect((await call('GET', '/invoices', tokenB)).body).toEqual({ items: [], nextCursor: null });
    expect((await call('GET', '/journal-entries', tokenB)).body).toEqual({ items: [], nextCursor: null });
    expect((await call('GET', '/ledger/trial-balance', tokenB)).body).toMatchObject({ accounts: [], balanced: true });
    const unknown = await call('GET', '/invoices/0d0d0d0d-0000-4000-8000-00000000ffff');
    expect(unknown).toMatchObject({ status: 404, body: { statusCode: 404, code: 'INVOICE_NOT_FOUND' } });
    expect((await call('GET', '/invoices/not-a-uuid')).status).toBe(404);
  });

  it('requires a bearer token on every read route', async () => {
    for (const path of ['/invoices', `/invoices/${invoiceId}`, `/invoices/${invoiceId}/payments`, '/journal-entries', `/journal-entries/${paymentJournalId}`, '/ledger/trial-balance']) {
      expect((await call('GET', path, null)).status).toBe(401);
    }
    expect((await call('GET', '/invoices', 'not.a.token')).status).toBe(401);
  });

  it('lists payments, journal entries (with lines and a date range) and a balanced trial balance', async () => {
    const payments = await until(`/invoices/${invoiceId}/payments`, (a) => a.status === 200 && a.body.items.length === 1);
    expect(payments.body.items[0]).toMatchObject({ id: paymentId, invoiceId, amount: '3162.50', method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-28T10:00:00.000Z' });

    const entry = await until(`/journal-entries/${paymentJournalId}`, (a) => a.status === 200);
    expect(entry.body).toMatchObject({ id: paymentJournalId, source: 'payment', sourceId: paymentId, date: '2026-11-28', totalDebit: '3162.50', totalCredit: '3162.50' });
    expect(entry.body.lines).toEqual([
      { lineNo: 1, accountCode: '1010', debit: '3162.50', credit: '0.00' },
      { lineNo: 2, accountCode: '1100', debit: '0.00', credit: '3162.50' },
    ]);

    const all = await until('/journal-entries', (a) => a.status === 200 && a.body.items.length === 3);
    expect(all.body.items.map((e: any) => e.source).sort()).toEqual(['invoice_approval', 'manual', 'payment']);
    const onlyPayment = await call('GET', '/journal-entries?from=2026-11-28&to=2026-11-28');
    expect(onlyPayment.body.items.map((e: any) => e.id)).toEqual([paymentJournalId]);

    const tb = await call('GET', '/ledger/trial-balance');
    expect(tb.status).toBe(200);
    expect(tb.body.balanced).toBe(true);
    expect(tb.body.totals.debit).toBe(tb.body.totals.credit);
    expect(tb.body.accounts.find((a: any) => a.accountCode === '1100')).toEqual({ accountCode: '1100', debit: '6325.00', credit: '3162.50', balance: '3162.50' });
  });

  it('paginates GET /invoices with limit and an opaque cursor, and filters by status and customer', async () => {
    for (let i = 0; i < 4; i++) expect((await call('POST', '/invoices', tokenA, { ...INVOICE, customerId: `C-page-${i % 2}` })).status).toBe(201);
    await until('/invoices?limit=200', (a) => a.body?.items?.length === 5);
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer: Answer = await call('GET', `/invoices?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(answer.status).toBe(200);
      expect(answer.body.items.length).toBeLessThanOrEqual(2);
      ids.push(...answer.body.items.map((i: any) => i.id));
      cursor = answer.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(ids).size).toBe(5);
    expect(ids[ids.length - 1]).toBe(invoiceId);
    expect((await call('GET', '/invoices?status=DRAFT')).body.items).toHaveLength(4);
    expect((await call('GET', '/invoices?status=partially_paid')).body.items.map((i: any) => i.id)).toEqual([invoiceId]);
    expect((await call('GET', '/invoices?customerId=C-page-1')).body.items).toHaveLength(2);
  });

  it('answers 400 naming the field for bad status, limit, cursor and dates', async () => {
    const cases: Array<[string, string]> = [
      ['/invoices?status=OPEN', 'status'],
      ['/invoices?limit=0', 'limit'],
      ['/invoices?limit=201', 'limit'],
      ['/invoices?limit=abc', 'limit'],
      ['/invoices?cursor=garbage!', 'cursor'],
      ['/invoices?cursor=aW52YWxpZA', 'cursor'],
      // Shaped like a real cursor, but 30 February does not exist (PostgreSQL would refuse the timestamp).
      [`/invoices?cursor=${Buffer.from('i1|2026-02-30T00:00:00.000000Z|00000000-0000-4000-8000-000000000000').toString('base64url')}`, 'cursor'],
      [`/invoices?cursor=${Buffer.from('i1|2026-02-28T24:00:00.000000Z|00000000-0000-4000-8000-000000000000').toString('base64url')}`, 'cursor'],
      ['/invoices?customerId=C%00', 'customerId'],
      ['/journal-entries?from=2026-13-01', 'from'],
      ['/journal-entries?to=yesterday', 'to'],
      ['/journal-entries?from=2026-12-01&to=2026-11-01', 'from'],
      ['/ledger/trial-balance?to=2026-02-30', 'to'],
      ['/ledger/trial-balance?currency=US', 'currency'],
    ];
    for (const [path, field] of cases) {
      const answer = await call('GET', path);
      expect({ path, status: answer.status, field: answer.body.field }).toEqual({ path, status: 400, field });
      expect(answer.body.message).toContain(field);
    }
  });

  it('keeps the trial balance to one currency: 400 naming currency when the ledger holds several, and ?currency= picks one', async () => {
    const usd = { date: '2026-11-29', memo: 'USD float', currency: 'USD', lines: [{ accountCode: '1000', debit: '7.25' }, { accountCode: '3000', credit: '7.25' }] };
    const posted = await call('POST', '/journal-entries', tokenA, usd);
    expect(posted.status).toBe(201);
    const mixed = await until('/ledger/trial-balance', (a) => a.status !== 200);
    expect(mixed).toMatchObject({ status: 400, body: { field: 'currency' } });
    expect(mixed.body.message).toContain('BDT, USD');
    const onlyUsd = await call('GET', '/ledger/trial-balance?currency=USD');
    expect(onlyUsd).toMatchObject({ status: 200, body: { currency: 'USD', totals: { debit: '7.25', credit: '7.25' }, balanced: true } });
    expect(onlyUsd.body.accounts.map((a: any) => a.accountCode)).toEqual(['1000', '3000']);
    const bdt = await call('GET', '/ledger/trial-balance?currency=BDT');
    expect(bdt.body).toMatchObject({ currency: 'BDT', balanced: true });
    expect(bdt.body.accounts.find((a: any) => a.accountCode === '1000')).toEqual({ accountCode: '1000', debit: '100.00', credit: '0.00', balance: '100.00' });
    // Dates before the USD entry hold BDT only: no currency needed.
    expect(await call('GET', '/ledger/trial-balance?to=2026-11-28')).toMatchObject({ status: 200, body: { currency: 'BDT' } });
  });

  it('exports projection metrics: checkpoint at the head, no lag', async () => {
    await waitFor(
      async () => {
        const text = await (await fetch(service.metricsUrl)).text();
        const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
        return value('finance_projection_checkpoint_position') > 0 && value('finance_projection_lag_events') === 0 && value('finance_event_store_head_position') === value('finance_projection_checkpoint_position');
      },
      10000,
      'projection metrics',
    );
    const text = await (await fetch(service.metricsUrl)).text();
    expect(text).toMatch(/^finance_projection_events_total\{mode="live"\} [1-9]/m);
    expect(text).toMatch(/^finance_projection_unknown_events_total 0$/m);
  });
});

describe('accounting dates (ACCOUNTING_TIME_ZONE=Asia/Dhaka)', () => {
  let db: TestDatabase;
  let service: ServiceProcess;
  const call = (method: string, path: string, body?: unknown): Promise<Answer> => request(service.baseUrl, method, path, { token: tokenA, body });

  beforeAll(async () => {
    db = await createTestDatabase('accounting_dates_e2e');
    service = await startService({ ...db.env(), LOG_LEVEL: 'warn', ACCOUNTING_TIME_ZONE: 'Asia/Dhaka' });
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('books a payment made at 00:30 in Dhaka on that day, not on the UTC day before', async () => {
    const created = await call('POST', '/invoices', INVOICE);
    expect((await call('POST', `/invoices/${created.body.id}/approve`, {})).status).toBe(200);
    const paid = await call('POST', `/invoices/${created.body.id}/payments`, { amount: '100.00', method: 'cash', paidAt: '2026-12-01T00:30:00+06:00' });
    expect(paid.status).toBe(201);
    let entry: Answer | undefined;
    await waitFor(async () => (entry = await call('GET', `/journal-entries/${paid.body.journalEntryId}`)).status === 200, 5000, 'the payment entry');
    expect(entry!.body).toMatchObject({ source: 'payment', date: '2026-12-01' });
    // paidAt itself stays the instant, in UTC.
    const payments = await call('GET', `/invoices/${created.body.id}/payments`);
    expect(payments.body.items[0].paidAt).toBe('2026-11-30T18:30:00.000Z');
  });
});
