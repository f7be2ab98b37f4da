/**
 * The finance write API over HTTP against the spawned compiled service (dist) on a fresh database:
 * auth, validation (400 naming the field), business rules (422 + code), 404s, tenant isolation,
 * If-Match (409), Idempotency-Key replays, the events appended (read back from the event store) and
 * the `npm run token` CLI.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { PROJECT_ROOT, ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { Answer, request } from '../support/http';
import { waitFor } from '../support/wait-for';

const INVOICE = {
  customerId: 'C-1001',
  currency: 'BDT',
  dueDate: '2026-12-31',
  lines: [{ description: 'Cement 50kg', quantity: 10, unitPrice: '550.00', vatRate: '0.15' }],
};
const HALF_PAYMENT = { amount: '3162.50', method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-26T10:00:00Z' };
const OPENING_CASH = {
  date: '2026-11-26',
  memo: 'Opening cash',
  lines: [
    { accountCode: '1000', debit: '100.00' },
    { accountCode: '3000', credit: '100.00' },
  ],
};

const tokenA = signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['accountant'] }, TEST_JWT_SECRET);
const tokenB = signToken({ tenantId: 'tenant-b', userId: 'bob', roles: ['accountant'] }, TEST_JWT_SECRET);

describe('finance write API (compiled service over HTTP)', () => {
  let db: TestDatabase;
  let service: ServiceProcess;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('finance_api');
    service = await startService({ ...db.env(), LOG_LEVEL: 'warn' });
    store = new PostgresEventStore(db.pool({ max: 2 }));
    const probe = await fetch(`${service.baseUrl}/invoices`, { method: 'POST' });
    if (probe.status === 404) throw new Error('POST /invoices has no route: register FinanceApiModule.register(runtime) in services/finance/src/features.ts');
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  async function call(method: string, path: string, options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const answer = await request(service.baseUrl, method, path, { ...options, token: options.token === undefined ? tokenA : options.token });
    return { ...answer, body: answer.body ?? {} }; // these tests read fields of an empty reply as absent
  }
  const post = (path: string, body: unknown, options: { token?: string | null; headers?: Record<string, string> } = {}) => call('POST', path, { ...options, body });

  async function createInvoice(token = tokenA, body: unknown = INVOICE): Promise<string> {
    const created = await post('/invoices', body, { token });
    expect(created.status).toBe(201);
    return created.body.id;
  }
  async function approvedInvoice(token = tokenA): Promise<string> {
    const id = await createInvoice(token);
    expect((await post(`/invoices/${id}/approve`, {}, { token })).status).toBe(200);
    return id;
  }
  const streamOf = (id: string): Promise<RecordedEvent[]> => store.readStream(`invoice-${id}`);

  describe('authentication', () => {
    it.each([
      ['no token', null],
      ['a malformed token', 'not-a-jwt'],
      ['a token signed with another secret', signToken({ tenantId: 'tenant-a' }, 'another-secret-another-secret-0000')],
      ['an expired token', jwt.sign({ tenantId: 'tenant-a', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET)],
      ['a token without tenantId', jwt.sign({ sub: 'x' }, TEST_JWT_SECRET, { expiresIn: '1h' })],
      ['a token that never expires', jwt.sign({ tenantId: 'tenant-a', roles: ['admin'], sub: 'x' }, TEST_JWT_SECRET)],
    ])('answers 401 with %s on every write route', async (_label, token) => {
      const id = randomUUID();
      for (const [path, body] of [
        ['/invoices', INVOICE],
        [`/invoices/${id}/approve`, {}],
        [`/invoices/${id}/cancel`, { reason: 'x' }],
        [`/invoices/${id}/payments`, HALF_PAYMENT],
        ['/journal-entries', OPENING_CASH],
      ] as const) {
        const answer = await post(path, body, { token });
        expect({ path, status: answer.status }).toEqual({ path, status: 401 });
      }
    });

    it('answers 401 to a malformed body without a token, and accepts an empty JSON body where none is needed', async () => {
      const malformed = await request(service.baseUrl, 'POST', '/invoices', { token: null, body: '{"customerId": ', contentType: 'application/json' });
      expect(malformed.status).toBe(401);
      const id = await createInvoice();
      const approved = await request(service.baseUrl, 'POST', `/invoices/${id}/approve`, { token: tokenA, body: '', contentType: 'application/json' });
      expect([approved.status, approved.body?.status]).toEqual([200, 'APPROVED']);
    });

    it('accepts a token printed by `npm run token` (same secret resolution as the service)', async () => {
      const printed = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'services', 'finance', 'src', 'cli', 'token.js'), '--tenant', 'tenant-cli', '--role', 'admin,accountant', '--user', 'ops', '--expires', '10m'], {
          env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (err += c));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
      expect(printed.code).toBe(0);
      const token = printed.out.trim();
      const claims = jwt.verify(token, TEST_JWT_SECRET) as jwt.JwtPayload;
      expect(claims).toMatchObject({ tenantId: 'tenant-cli', roles: ['admin', 'accountant'], sub: 'ops' });
      expect(claims.exp! - claims.iat!).toBe(600);
      const created = await post('/invoices', INVOICE, { token });
      expect(created.status).toBe(201);
      expect((await streamOf(created.body.id))[0].metadata).toMatchObject({ tenantId: 'tenant-cli', userId: 'ops' });
    });
  });

  describe('invoices', () => {
    it('creates a DRAFT: 201 {id, version} totalling 6325.00, with the event and its metadata in the store', async () => {
      const created = await post('/invoices', INVOICE, { headers: { 'x-correlation-id': 'corr-e2e-1', 'x-request-id': 'req-e2e-1' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), version: 0, status: 'DRAFT', subtotal: '5500.00', vat: '825.00', total: '6325.00' });
      expect(created.headers.get('location')).toBe(`/invoices/${created.body.id}`);
      expect(created.headers.get('etag')).toBe('"0"');
      const [event] = await streamOf(created.body.id);
      expect(event.type).toBe('InvoiceCreated');
      expect(event.data).toMatchObject({
        invoiceId: created.body.id,
        customerId: 'C-1001',
        currency: 'BDT',
        dueDate: '2026-12-31',
        lines: [{ description: 'Cement 50kg', quantityMilli: '10000', unitPriceMinor: '55000', vatRateBp: 1500, netMinor: '550000', vatMinor: '82500' }],
        totalMinor: '632500',
      });
      expect(event.metadata).toMatchObject({ tenantId: 'tenant-a', userId: 'alice', correlationId: 'corr-e2e-1', causationId: 'req-e2e-1', schemaVersion: 1 });
    });

    it('defaults the currency to BDT and uses the request id as correlation id when none is given', async () => {
      const { currency: _omit, ...noCurrency } = INVOICE;
      const created = await post('/invoices', noCurrency, { headers: { 'x-request-id': 'req-e2e-2' } });
      expect(created.status).toBe(201);
      const [event] = await streamOf(created.body.id);
      expect(event.data).toMatchObject({ currency: 'BDT' });
      expect(event.metadata).toMatchObject({ correlationId: 'req-e2e-2', causationId: 'req-e2e-2' });
      expect(created.headers.get('x-correlation-id')).toBe('req-e2e-2');
    });

    it('accepts fractional and string quantities and VAT rates given as numbers', async () => {
      const created = await post('/invoices', { ...INVOICE, lines: [{ description: 'Rod', quantity: '2.5', unitPrice: '0.99', vatRate: 0.15 }, { description: 'Sand', quantity: 0.125, unitPrice: '100', vatRate: '0' }] });
      expect(created.status).toBe(201);
      // 2.5 × 0.99 = 2.475 → 2.48, VAT 0.372 → 0.37; 0.125 × 100 = 12.50, no VAT
      expect(created.body).toMatchObject({ subtotal: '14.98', vat: '0.37', total: '15.35' });
    });

    it('approves: 200 {id, version 1, status APPROVED}, appending the implied receivable/revenue/VAT postings', async () => {
      const id = await createInvoice();
      const approved = await post(`/invoices/${id}/approve`, undefined);
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ id, version: 1, status: 'APPROVED' });
      const events = await streamOf(id);
      expect(events[1].type).toBe('InvoiceApproved');
      expect(events[1].data).toMatchObject({
        journalEntryId: expect.any(String),
        postings: [
          { accountCode: '1100', debitMinor: '632500', creditMinor: '0' },
          { accountCode: '4000', debitMinor: '0', creditMinor: '550000' },
          { accountCode: '2100', debitMinor: '0', creditMinor: '82500' },
        ],
      });
      const again = await post(`/invoices/${id}/approve`, {});
      expect(again.status).toBe(422);
      expect(again.body.code).toBe('INVOICE_ALREADY_APPROVED');
    });

    it('records payments: partial then full, with the bank posting; overpayment is 422 OVERPAYMENT', async () => {
      const id = await approvedInvoice();
      const first = await post(`/invoices/${id}/payments`, HALF_PAYMENT);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ paymentId: expect.stringMatching(/^[0-9a-f-]{36}$/), invoiceId: id, version: 2, status: 'PARTIALLY_PAID', outstanding: '3162.50' });
      const over = await post(`/invoices/${id}/payments`, { ...HALF_PAYMENT, amount: '3162.51' });
      expect(over.status).toBe(422);
      expect(over.body).toMatchObject({ code: 'OVERPAYMENT', details: { outstanding: '3162.50', amount: '3162.51' } });
      const rest = await post(`/invoices/${id}/payments`, { amount: '3162.50', method: 'mobile_banking', reference: 'BKASH-9' });
      expect(rest.status).toBe(201);
      expect(rest.body).toMatchObject({ status: 'PAID', outstanding: '0.00' });
      const more = await post(`/invoices/${id}/payments`, { amount: '0.01', method: 'cash' });
      expect(more.status).toBe(422);
      expect(more.body.code).toBe('INVOICE_ALREADY_PAID');

      const events = await streamOf(id);
      expect(events.map((e) => e.type)).toEqual(['InvoiceCreated', 'InvoiceApproved', 'PaymentRecorded', 'PaymentRecorded']);
      expect(events[2].data).toMatchObject({
        paymentId: first.body.paymentId,
        amountMinor: '316250',
        method: 'bank_transfer',
        reference: 'TRX-1',
        paidAt: '2026-11-26T10:00:00.000Z',
        journalEntryId: expect.any(String),
        postings: [
          { accountCode: '1010', debitMinor: '316250', creditMinor: '0' },
          { accountCode: '1100', debitMinor: '0', creditMinor: '316250' },
        ],
      });
      expect((events[3].data as { postings: Array<{ accountCode: string }> }).postings[0].accountCode).toBe('1020');
    });

    it('rejects payments on a DRAFT (INVOICE_NOT_APPROVED) and on a CANCELLED invoice (INVOICE_CANCELLED)', async () => {
      const id = await createInvoice();
      const onDraft = await post(`/invoices/${id}/payments`, HALF_PAYMENT);
      expect(onDraft.status).toBe(422);
      expect(onDraft.body.code).toBe('INVOICE_NOT_APPROVED');
      const cancelled = await post(`/invoices/${id}/cancel`, { reason: 'duplicate' });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ id, version: 1, status: 'CANCELLED' });
      const onCancelled = await post(`/invoices/${id}/payments`, HALF_PAYMENT);
      expect(onCancelled.status).toBe(422);
      expect(onCancelled.body.code).toBe('INVOICE_CANCELLED');
      const twice = await post(`/invoices/${id}/cancel`, { reason: 'again' });
      expect(twice.body.code).toBe('INVOICE_ALREADY_CANCELLED');
      expect((await post(`/invoices/${id}/approve`, {})).body.code).toBe('INVOICE_CANCELLED');
    });

    it('refuses to cancel an invoice with payments (INVOICE_HAS_PAYMENTS); an approved one without payments is reversed', async () => {
      const paid = await approvedInvoice();
      await post(`/invoices/${paid}/payments`, HALF_PAYMENT);
      const refused = await post(`/invoices/${paid}/cancel`, { reason: 'customer withdrew' });
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe('INVOICE_HAS_PAYMENTS');
      expect(await streamOf(paid)).toHaveLength(3);

      const unpaid = await approvedInvoice();
      const cancelled = await post(`/invoices/${unpaid}/cancel`, { reason: 'customer withdrew' });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ version: 2, status: 'CANCELLED' });
      const [, , event] = await streamOf(unpaid);
      expect(event.data).toMatchObject({ reason: 'customer withdrew', journalEntryId: expect.any(String) });
    });

    it('answers 404 for unknown ids', async () => {
      const unknown = randomUUID();
      for (const [path, body] of [
        [`/invoices/${unknown}/approve`, {}],
        [`/invoices/${unknown}/cancel`, { reason: 'x' }],
        [`/invoices/${unknown}/payments`, HALF_PAYMENT],
        ['/invoices/not-a-uuid/approve', {}],
      ] as const) {
        const answer = await post(path, body);
        expect({ path, status: answer.status, code: answer.body.code }).toEqual({ path, status: 404, code: 'INVOICE_NOT_FOUND' });
      }
    });
  });

  describe('tenant isolation', () => {
    it("tenant B can neither approve, pay nor cancel tenant A's invoice: 404, nothing appended", async () => {
      const draft = await createInvoice(tokenA);
      expect((await post(`/invoices/${draft}/approve`, {}, { token: tokenB })).status).toBe(404);
      expect((await post(`/invoices/${draft}/cancel`, { reason: 'x' }, { token: tokenB })).status).toBe(404);
      const approved = await approvedInvoice(tokenA);
      const payment = await post(`/invoices/${approved}/payments`, HALF_PAYMENT, { token: tokenB });
      expect(payment.status).toBe(404);
      expect(payment.body.code).toBe('INVOICE_NOT_FOUND');
      expect(await streamOf(draft)).toHaveLength(1);
      expect(await streamOf(approved)).toHaveLength(2);
      // ... and the owner still can.
      expect((await post(`/invoices/${approved}/payments`, HALF_PAYMENT, { token: tokenA })).status).toBe(201);
    });
  });

  describe('validation: 400 naming the field', () => {
    const line = INVOICE.lines[0];
    it.each([
      ['unitPrice with three decimals', { ...INVOICE, lines: [{ ...line, unitPrice: '1.234' }] }, 'lines[0].unitPrice', /2 decimal/],
      ['negative unitPrice', { ...INVOICE, lines: [{ ...line, unitPrice: '-5' }] }, 'lines[0].unitPrice', /negative/],
      ['non-numeric unitPrice', { ...INVOICE, lines: [{ ...line, unitPrice: 'abc' }] }, 'lines[0].unitPrice', /decimal string/],
      ['unitPrice as a JSON number with a fraction', { ...INVOICE, lines: [{ ...line, unitPrice: 12.5 }] }, 'lines[0].unitPrice', /decimal string/],
      ['unitPrice as a JSON integer', { ...INVOICE, lines: [{ ...line, unitPrice: 550 }] }, 'lines[0].unitPrice', /decimal string/],
      ['quantity with four decimals', { ...INVOICE, lines: [{ ...line, quantity: 1.2345 }] }, 'lines[0].quantity', /3 decimal/],
      ['zero quantity', { ...INVOICE, lines: [{ ...line, quantity: 0 }] }, 'lines[0].quantity', /greater than 0/],
      ['VAT rate as a percentage', { ...INVOICE, lines: [{ ...line, vatRate: '15%' }] }, 'lines[0].vatRate', /rate/],
      ['missing description in the second line', { ...INVOICE, lines: [line, { ...line, description: undefined }] }, 'lines[1].description', /required/],
      ['lowercase currency', { ...INVOICE, currency: 'bdt' }, 'currency', /three-letter/],
      ['a currency code not in use', { ...INVOICE, currency: 'USS' }, 'currency', /USS is not a currency in use/],
      ['missing customerId', { ...INVOICE, customerId: undefined }, 'customerId', /required/],
      ['impossible due date', { ...INVOICE, dueDate: '2026-02-30' }, 'dueDate', /calendar date/],
      ['no lines', { ...INVOICE, lines: [] }, 'lines', /at least 1/],
      ['a body that is not an object', [INVOICE], 'body', /JSON object/],
      // PostgreSQL stores neither (text refuses NUL; jsonb refuses both as \u escapes): 400, not a 500 from the append.
      ['a NUL character in customerId', { ...INVOICE, customerId: 'C-\u0000' }, 'customerId', /NUL/],
      ['an unpaired surrogate in a description', { ...INVOICE, lines: [{ ...line, description: 'Cement \ud800' }] }, 'lines[0].description', /surrogate/],
      // Each amount is within the limit; what they compute to is held to it too (bigint columns on the read side).
      ['a line beyond the largest amount', { ...INVOICE, lines: [{ ...line, quantity: 2, unitPrice: '999999999999999.99' }] }, 'lines[0]', /largest amount/],
      ['a total beyond the largest amount', { ...INVOICE, lines: [{ ...line, quantity: 1, unitPrice: '900000000000000.00', vatRate: '0.15' }] }, 'lines', /invoice total .* largest amount/],
    ])('POST /invoices: %s', async (_label, body, field, message) => {
      const answer = await post('/invoices', body);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', field });
      expect(answer.body.message).toMatch(message);
      expect(answer.body.message).toContain(field);
    });

    it('names every invalid field at once', async () => {
      const answer = await post('/invoices', { dueDate: 'tomorrow', lines: [{ description: 'x', quantity: 1, unitPrice: 1.5, vatRate: '0.15' }] });
      expect(answer.status).toBe(400);
      expect(answer.body.errors.map((e: { field: string }) => e.field)).toEqual(['customerId', 'dueDate', 'lines[0].unitPrice']);
    });

    it.each([
      ['amount as a JSON number', { ...HALF_PAYMENT, amount: 3162.5 }, 'amount'],
      ['amount with three decimals', { ...HALF_PAYMENT, amount: '1.234' }, 'amount'],
      ['negative amount', { ...HALF_PAYMENT, amount: '-5' }, 'amount'],
      ['zero amount', { ...HALF_PAYMENT, amount: '0.00' }, 'amount'],
      ['unknown method', { ...HALF_PAYMENT, method: 'bitcoin' }, 'method'],
      ['paidAt without a zone', { ...HALF_PAYMENT, paidAt: '2026-11-26T10:00:00' }, 'paidAt'],
      ['paidAt in the year 10000 in UTC', { ...HALF_PAYMENT, paidAt: '9999-12-31T23:00:00-05:00' }, 'paidAt'],
      ['a NUL character in reference', { ...HALF_PAYMENT, reference: 'TRX-\u0000' }, 'reference'],
    ])('POST /invoices/:id/payments: %s', async (_label, body, field) => {
      const id = await approvedInvoice();
      const answer = await post(`/invoices/${id}/payments`, body);
      expect(answer.status).toBe(400);
      expect(answer.body.field).toBe(field);
      expect(await streamOf(id)).toHaveLength(2);
    });

    it.each([
      ['debit as a JSON number', { ...OPENING_CASH, lines: [{ accountCode: '1000', debit: 100 }, OPENING_CASH.lines[1]] }, 'lines[0].debit'],
      ['credit with three decimals', { ...OPENING_CASH, lines: [OPENING_CASH.lines[0], { accountCode: '3000', credit: '100.001' }] }, 'lines[1].credit'],
      ['a line with both sides', { ...OPENING_CASH, lines: [{ accountCode: '1000', debit: '1.00', credit: '1.00' }, OPENING_CASH.lines[1]] }, 'lines[0]'],
      ['a single line', { ...OPENING_CASH, lines: [OPENING_CASH.lines[0]] }, 'lines'],
      ['missing account code', { ...OPENING_CASH, lines: [{ debit: '100.00' }, OPENING_CASH.lines[1]] }, 'lines[0].accountCode'],
      ['missing memo', { ...OPENING_CASH, memo: undefined }, 'memo'],
      ['bad date', { ...OPENING_CASH, date: '26/11/2026' }, 'date'],
      ['an unpaired surrogate in memo', { ...OPENING_CASH, memo: '\udc00 opening' }, 'memo'],
      [
        'debits beyond the largest amount',
        {
          ...OPENING_CASH,
          lines: [
            { accountCode: '1000', debit: '999999999999999.99' },
            { accountCode: '1001', debit: '0.01' },
            { accountCode: '3000', credit: '999999999999999.99' },
            { accountCode: '3001', credit: '0.01' },
          ],
        },
        'lines',
      ],
    ])('POST /journal-entries: %s', async (_label, body, field) => {
      const answer = await post('/journal-entries', body);
      expect(answer.status).toBe(400);
      expect(answer.body.field).toBe(field);
    });

    it('POST /invoices/:id/cancel needs a reason', async () => {
      const id = await createInvoice();
      const answer = await post(`/invoices/${id}/cancel`, {});
      expect(answer.status).toBe(400);
      expect(answer.body.field).toBe('reason');
    });

    it('rejects malformed If-Match and Idempotency-Key headers', async () => {
      const id = await createInvoice();
      const badIfMatch = await post(`/invoices/${id}/approve`, {}, { headers: { 'if-match': 'yesterday' } });
      expect(badIfMatch.status).toBe(400);
      expect(badIfMatch.body.field).toBe('If-Match');
      const badKey = await post('/invoices', INVOICE, { headers: { 'idempotency-key': 'x'.repeat(256) } });
      expect(badKey.status).toBe(400);
      expect(badKey.body.field).toBe('Idempotency-Key');
    });
  });

  describe('optimistic concurrency (If-Match)', () => {
    it('accepts the current version (plain, quoted or weak ETag) and answers 409 to a stale one', async () => {
      const created = await post('/invoices', INVOICE);
      const id = created.body.id;
      const approved = await post(`/invoices/${id}/approve`, {}, { headers: { 'if-match': `"${created.body.version}"` } });
      expect(approved.status).toBe(200);
      expect(approved.headers.get('etag')).toBe('"1"');

      const stale = await post(`/invoices/${id}/payments`, HALF_PAYMENT, { headers: { 'if-match': '0' } });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ code: 'VERSION_CONFLICT', expectedVersion: 0, currentVersion: 1 });
      expect(await streamOf(id)).toHaveLength(2);

      const weak = await post(`/invoices/${id}/payments`, HALF_PAYMENT, { headers: { 'if-match': 'W/"1"' } });
      expect(weak.status).toBe(201);
      expect(weak.body.version).toBe(2);
      const plain = await post(`/invoices/${id}/cancel`, { reason: 'x' }, { headers: { 'if-match': '1' } });
      expect(plain.status).toBe(409);
    });

    it('racing payments without If-Match never overpay', async () => {
      const id = await approvedInvoice();
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(`/invoices/${id}/payments`, { amount: '2000.00', method: 'cash' })));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
      expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
      for (const answer of answers.filter((a) => a.status !== 201)) expect(['OVERPAYMENT', 'VERSION_CONFLICT']).toContain(answer.body.code);
      const payments = (await streamOf(id)).filter((e) => e.type === 'PaymentRecorded');
      expect(payments).toHaveLength(statuses.filter((s) => s === 201).length);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer for a retried create and appends one event', async () => {
      const key = randomUUID();
      const before = await store.headPosition();
      const first = await post('/invoices', INVOICE, { headers: { 'idempotency-key': key } });
      const retry = await post('/invoices', { ...INVOICE }, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(201);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(first.headers.get('idempotent-replayed')).toBe('false');
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      const appended = await db.pool().query(`SELECT count(*)::int AS n FROM events WHERE global_position > $1`, [before.toString()]);
      expect(appended.rows[0].n).toBe(1);
      const [created] = await streamOf(first.body.id);
      expect(created.metadata.idempotencyKey).toBe(key);
      // The request's token is on its events and its invoice id derives from it (a retry names the same stream).
      expect(created.metadata.idempotencyToken).toMatch(/^[0-9a-f]{32}$/);
      expect(first.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8/);
    });

    it('answers 422 when the same key comes with a different body', async () => {
      const key = randomUUID();
      expect((await post('/invoices', INVOICE, { headers: { 'idempotency-key': key } })).status).toBe(201);
      const reused = await post('/invoices', { ...INVOICE, customerId: 'C-2002' }, { headers: { 'idempotency-key': key } });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('answers 400 naming the body, with a key or without, for a body nested deeper than a request ever is (not a 500 from fingerprinting it)', async () => {
      // 100,000 levels in about 200 KB, under the size limit; the fields that matter are all valid.
      const deep = `{"customerId":"C-1001","dueDate":"2026-12-31","lines":${JSON.stringify(INVOICE.lines)},"junk":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const before = await store.headPosition();
      for (const headers of [{ 'idempotency-key': randomUUID() }, {}] as Array<Record<string, string>>) {
        const answer = await post('/invoices', deep, { headers });
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body' });
        expect(answer.body.message).toMatch(/more than 32 deep/);
      }
      expect(await store.headPosition()).toBe(before);
    });

    it('makes payment retries safe, also when they arrive concurrently: one payment, the same answer to all', async () => {
      const id = await approvedInvoice();
      const key = randomUUID();
      const answers = await Promise.all(Array.from({ length: 5 }, () => post(`/invoices/${id}/payments`, HALF_PAYMENT, { headers: { 'idempotency-key': key } })));
      for (const answer of answers) {
        expect(answer.status).toBe(201);
        expect(answer.body).toEqual(answers[0].body);
      }
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'false')).toHaveLength(1);
      const later = await post(`/invoices/${id}/payments`, HALF_PAYMENT, { headers: { 'idempotency-key': key } });
      expect(later.body).toEqual(answers[0].body);
      const payments = (await streamOf(id)).filter((e) => e.type === 'PaymentRecorded');
      expect(payments).toHaveLength(1);
      expect(payments[0].data).toMatchObject({ paymentId: answers[0].body.paymentId });
    });

    it('replays a business rule failure as it was (same status and body)', async () => {
      const id = await approvedInvoice();
      const key = randomUUID();
      const first = await post(`/invoices/${id}/payments`, { ...HALF_PAYMENT, amount: '9999.00' }, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(422);
      const retry = await post(`/invoices/${id}/payments`, { ...HALF_PAYMENT, amount: '9999.00' }, { headers: { 'idempotency-key': key } });
      expect(retry.status).toBe(422);
      expect(retry.body).toEqual(first.body);
    });

    it('stores and replays a 404 for a path id holding a NUL character (stored with U+FFFD in its place)', async () => {
      const key = randomUUID();
      const first = await post('/invoices/bad%00id/approve', {}, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(404);
      expect(first.body.message).toContain('bad\ufffdid');
      const retry = await post('/invoices/bad%00id/approve', {}, { headers: { 'idempotency-key': key } });
      expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([404, 'true']);
      expect(retry.body).toEqual(first.body);
    });

    it('scopes keys per tenant: the same key in another tenant is a new request', async () => {
      const key = randomUUID();
      const a = await post('/invoices', INVOICE, { token: tokenA, headers: { 'idempotency-key': key } });
      const b = await post('/invoices', INVOICE, { token: tokenB, headers: { 'idempotency-key': key } });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(b.body.id).not.toBe(a.body.id);
      expect(b.headers.get('idempotent-replayed')).toBe('false');
    });

    it('works on approve, cancel and journal entries too', async () => {
      const id = await createInvoice();
      const key = randomUUID();
      const approve1 = await post(`/invoices/${id}/approve`, {}, { headers: { 'idempotency-key': key } });
      const approve2 = await post(`/invoices/${id}/approve`, {}, { headers: { 'idempotency-key': key } });
      expect([approve1.status, approve2.status]).toEqual([200, 200]);
      expect(approve2.body).toEqual(approve1.body);
      const cancelKey = randomUUID();
      const cancel1 = await post(`/invoices/${id}/cancel`, { reason: 'r' }, { headers: { 'idempotency-key': cancelKey } });
      const cancel2 = await post(`/invoices/${id}/cancel`, { reason: 'r' }, { headers: { 'idempotency-key': cancelKey } });
      expect([cancel1.status, cancel2.status]).toEqual([200, 200]);
      expect(await streamOf(id)).toHaveLength(3);
      const journalKey = randomUUID();
      const j1 = await post('/journal-entries', OPENING_CASH, { headers: { 'idempotency-key': journalKey } });
      const j2 = await post('/journal-entries', OPENING_CASH, { headers: { 'idempotency-key': journalKey } });
      expect(j1.status).toBe(201);
      expect(j2.body).toEqual(j1.body);
    });
  });

  describe('journal entries', () => {
    it('posts a balanced entry: 201 {id}, stream journal-<id>', async () => {
      const posted = await post('/journal-entries', OPENING_CASH);
      expect(posted.status).toBe(201);
      expect(posted.body).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), totalDebit: '100.00', totalCredit: '100.00' });
      const [event] = await store.readStream(`journal-${posted.body.id}`);
      expect(event.type).toBe('JournalEntryPosted');
      expect(event.data).toEqual({
        journalEntryId: posted.body.id,
        date: '2026-11-26',
        memo: 'Opening cash',
        currency: 'BDT',
        lines: [
          { accountCode: '1000', debitMinor: '10000', creditMinor: '0' },
          { accountCode: '3000', debitMinor: '0', creditMinor: '10000' },
        ],
      });
      expect(event.metadata).toMatchObject({ tenantId: 'tenant-a', userId: 'alice', schemaVersion: 1 });
    });

    it('rejects an unbalanced entry with 422 JOURNAL_UNBALANCED', async () => {
      const answer = await post('/journal-entries', { ...OPENING_CASH, lines: [{ accountCode: '1000', debit: '100.00' }, { accountCode: '3000', credit: '99.99' }] });
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ code: 'JOURNAL_UNBALANCED', details: { totalDebit: '100.00', totalCredit: '99.99' } });
    });
  });

  describe('read side', () => {
    it('a created invoice becomes visible to its tenant only', async () => {
      const id = await createInvoice();
      let seen = await call('GET', `/invoices/${id}`);
      await waitFor(async () => (seen = await call('GET', `/invoices/${id}`)).status === 200, 10_000, 'the invoice in the read model', 100).catch(() => undefined);
      expect(seen.status).toBe(200);
      expect(JSON.stringify(seen.body)).toContain('6325.00');
      expect((await call('GET', `/invoices/${id}`, { token: tokenB })).status).toBe(404);
    });
  });
});
