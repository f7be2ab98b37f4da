/**
 * The application services against the real PostgreSQL event store (a fresh database with the real
 * migration): load → fold → decide → append with the expected version, metadata, tenant isolation,
 * If-Match and racing writers.
 */
import { CommandContext } from '../../services/finance/src/application/command-context';
import { ConcurrencyError } from '../../services/finance/src/application/errors';
import { projectBatch } from '../../services/finance/src/projections/finance-projector';
import { CreateInvoiceInput, invoiceStreamId, InvoiceService } from '../../services/finance/src/application/invoice.service';
import { journalStreamId, JournalService } from '../../services/finance/src/application/journal.service';
import { DomainError, NotFoundError } from '../../services/finance/src/domain/errors';
import { EVENT_SCHEMA_VERSION, InvoiceApproved, PaymentRecorded } from '../../services/finance/src/domain/events';
import { EventStore } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';

const CEMENT: CreateInvoiceInput = {
  customerId: 'C-1001',
  currency: 'BDT',
  dueDate: '2026-12-31',
  lines: [{ description: 'Cement 50kg', quantityMilli: 10000n, unitPriceMinor: 55000n, vatRateBp: 1500 }],
};

let counter = 0;
function context(tenantId = 'tenant-a', extra: Partial<CommandContext> = {}): CommandContext {
  counter += 1;
  return { tenantId, userId: `user-${tenantId}`, correlationId: `corr-${counter}`, causationId: `req-${counter}`, ...extra };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError || error instanceof NotFoundError || error instanceof ConcurrencyError) return error.code;
    throw error;
  }
  throw new Error('expected the command to fail');
}

describe('application services on the PostgreSQL event store', () => {
  let db: TestDatabase;
  let store: EventStore;
  let invoices: InvoiceService;
  let journals: JournalService;

  beforeAll(async () => {
    db = await createTestDatabase('finance_application');
    await migrateTestDatabase(db);
    store = new PostgresEventStore(db.pool({ max: 8 }));
    const clock = () => new Date('2026-11-26T09:00:00.000Z');
    invoices = new InvoiceService({ eventStore: store, clock });
    journals = new JournalService({ eventStore: store, clock });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('creates an invoice as stream invoice-<uuid> version 0 with full metadata', async () => {
    const ctx = context('tenant-a', { idempotencyKey: 'key-1' });
    const created = await invoices.create(CEMENT, ctx);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created).toMatchObject({ version: 0, status: 'DRAFT', subtotalMinor: 550000n, vatMinor: 82500n, totalMinor: 632500n });
    const events = await store.readStream(invoiceStreamId(created.id));
    expect(events).toHaveLength(1);
    expect(events[0].type).toBe('InvoiceCreated');
    expect(events[0].data).toMatchObject({ invoiceId: created.id, totalMinor: '632500', createdAt: '2026-11-26T09:00:00.000Z' });
    expect(events[0].metadata).toEqual({
      tenantId: 'tenant-a',
      userId: 'user-tenant-a',
      correlationId: ctx.correlationId,
      causationId: ctx.causationId,
      schemaVersion: EVENT_SCHEMA_VERSION,
      idempotencyKey: 'key-1',
    });
  });

  it('dates approvals, cancellations and payments where the books are kept (ACCOUNTING_TIME_ZONE), and the journal entries with them', async () => {
    // 18:30 UTC on 30 June is 00:30 on 1 July in Dhaka: a new fiscal year there.
    const dhaka = new InvoiceService({ eventStore: store, clock: () => new Date('2026-06-30T18:30:00.000Z'), accountingTimeZone: 'Asia/Dhaka' });
    const { id } = await dhaka.create(CEMENT, context());
    await dhaka.approve(id, context());
    await dhaka.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: '', paidAt: '2026-11-30T18:30:00.000Z' }, context());
    const { id: other } = await dhaka.create(CEMENT, context());
    await dhaka.approve(other, context());
    await dhaka.cancel(other, 'duplicate', context());
    const events = [...(await store.readStream(invoiceStreamId(id))), ...(await store.readStream(invoiceStreamId(other)))];
    const dated = events.filter((e) => e.type !== 'InvoiceCreated').map((e) => [e.type, e.data.entryDate]);
    expect(dated).toEqual([
      ['InvoiceApproved', '2026-07-01'],
      ['PaymentRecorded', '2026-12-01'],
      ['InvoiceApproved', '2026-07-01'],
      ['InvoiceCancelled', '2026-07-01'],
    ]);
    // The projector dates the implied journal entries by it (the UTC dates would be 06-30 and 11-30).
    const entries = projectBatch(events, new Map()).journalEntries.map((e) => [e.source, e.entryDate]);
    expect(entries).toEqual([
      ['invoice_approval', '2026-07-01'],
      ['payment', '2026-12-01'],
      ['invoice_approval', '2026-07-01'],
      ['invoice_cancellation', '2026-07-01'],
    ]);
  });

  it('runs the lifecycle approve → partial payment → payment in full, each appended at the next version', async () => {
    const { id } = await invoices.create(CEMENT, context());
    const approved = await invoices.approve(id, context());
    expect(approved).toMatchObject({ version: 1, status: 'APPROVED' });
    const first = await invoices.recordPayment(id, { amountMinor: 316250n, method: 'bank_transfer', reference: 'TRX-1', paidAt: '2026-11-26T10:00:00.000Z' }, context());
    expect(first).toMatchObject({ version: 2, status: 'PARTIALLY_PAID', paidMinor: 316250n, outstandingMinor: 316250n });
    const second = await invoices.recordPayment(id, { amountMinor: 316250n, method: 'cash', reference: '' }, context());
    expect(second).toMatchObject({ version: 3, status: 'PAID', outstandingMinor: 0n });
    expect(second.paymentId).not.toBe(first.paymentId);

    const events = await store.readStream(invoiceStreamId(id));
    expect(events.map((e) => [e.type, e.streamVersion])).toEqual([
      ['InvoiceCreated', 0],
      ['InvoiceApproved', 1],
      ['PaymentRecorded', 2],
      ['PaymentRecorded', 3],
    ]);
    const approval = events[1].data as unknown as InvoiceApproved;
    expect(approval.postings.map((p) => [p.accountCode, p.debitMinor, p.creditMinor])).toEqual([
      ['1100', '632500', '0'],
      ['4000', '0', '550000'],
      ['2100', '0', '82500'],
    ]);
    const cashPayment = events[3].data as unknown as PaymentRecorded;
    expect(cashPayment.paidAt).toBe('2026-11-26T09:00:00.000Z'); // defaulted to the clock
    expect(cashPayment.postings[0]).toEqual({ accountCode: '1000', debitMinor: '316250', creditMinor: '0' });
    expect(cashPayment.journalEntryId).toBe(second.journalEntryId);
  });

  it('rejects business rule violations with codes and appends nothing', async () => {
    const { id } = await invoices.create(CEMENT, context());
    expect(await codeOf(invoices.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: '' }, context()))).toBe('INVOICE_NOT_APPROVED');
    await invoices.approve(id, context());
    expect(await codeOf(invoices.approve(id, context()))).toBe('INVOICE_ALREADY_APPROVED');
    expect(await codeOf(invoices.recordPayment(id, { amountMinor: 632501n, method: 'cash', reference: '' }, context()))).toBe('OVERPAYMENT');
    await invoices.recordPayment(id, { amountMinor: 100n, method: 'cheque', reference: 'CHQ-7' }, context());
    expect(await codeOf(invoices.cancel(id, 'wrong customer', context()))).toBe('INVOICE_HAS_PAYMENTS');
    expect(await store.readStream(invoiceStreamId(id))).toHaveLength(3);
  });

  it('cancels a draft, and an approved invoice with a reversal entry; a cancelled invoice takes no payment', async () => {
    const draft = await invoices.create(CEMENT, context());
    expect(await invoices.cancel(draft.id, 'duplicate', context())).toMatchObject({ version: 1, status: 'CANCELLED' });
    expect(await codeOf(invoices.cancel(draft.id, 'again', context()))).toBe('INVOICE_ALREADY_CANCELLED');

    const approved = await invoices.create(CEMENT, context());
    await invoices.approve(approved.id, context());
    await invoices.cancel(approved.id, 'customer withdrew', context());
    const [, , cancelled] = await store.readStream(invoiceStreamId(approved.id));
    expect(cancelled.data).toMatchObject({ reason: 'customer withdrew', journalEntryId: expect.any(String) });
    expect((cancelled.data as { postings: unknown[] }).postings).toHaveLength(3);
    expect(await codeOf(invoices.recordPayment(approved.id, { amountMinor: 1n, method: 'cash', reference: '' }, context()))).toBe('INVOICE_CANCELLED');
  });

  it('answers NotFound for an unknown invoice', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await codeOf(invoices.approve(missing, context()))).toBe('INVOICE_NOT_FOUND');
    expect(await codeOf(invoices.cancel(missing, 'x', context()))).toBe('INVOICE_NOT_FOUND');
    expect(await codeOf(invoices.recordPayment(missing, { amountMinor: 1n, method: 'cash', reference: '' }, context()))).toBe('INVOICE_NOT_FOUND');
  });

  it("isolates tenants: another tenant's invoice is not found and stays untouched", async () => {
    const { id } = await invoices.create(CEMENT, context('tenant-a'));
    expect(await codeOf(invoices.approve(id, context('tenant-b')))).toBe('INVOICE_NOT_FOUND');
    await invoices.approve(id, context('tenant-a'));
    expect(await codeOf(invoices.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: '' }, context('tenant-b')))).toBe('INVOICE_NOT_FOUND');
    expect(await codeOf(invoices.cancel(id, 'x', context('tenant-b')))).toBe('INVOICE_NOT_FOUND');
    const events = await store.readStream(invoiceStreamId(id));
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.metadata.tenantId === 'tenant-a')).toBe(true);
  });

  it('honours If-Match: the current version succeeds, a stale one is a conflict', async () => {
    const { id, version } = await invoices.create(CEMENT, context());
    const approved = await invoices.approve(id, context('tenant-a', { expectedVersion: version }));
    expect(approved.version).toBe(1);
    const stale = invoices.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: '' }, context('tenant-a', { expectedVersion: 0 }));
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(stale).rejects.toMatchObject({ expectedVersion: 0, actualVersion: 1 });
    const fresh = await invoices.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: '' }, context('tenant-a', { expectedVersion: 1 }));
    expect(fresh.version).toBe(2);
  });

  it('racing payments without If-Match re-decide on conflict: never an overpayment', async () => {
    const { id } = await invoices.create(CEMENT, context());
    await invoices.approve(id, context());
    // Eight concurrent payments of 1000.00 against 6325.00: exactly six fit.
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => invoices.recordPayment(id, { amountMinor: 100000n, method: 'bank_transfer', reference: '' }, context())),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as { code?: string }).code);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(6);
    for (const code of failures) expect(['OVERPAYMENT', 'VERSION_CONFLICT']).toContain(code);
    const events = await store.readStream(invoiceStreamId(id));
    const paid = events.filter((e) => e.type === 'PaymentRecorded').reduce((sum, e) => sum + BigInt((e.data as unknown as PaymentRecorded).amountMinor), 0n);
    expect(paid).toBe(BigInt(ok.length) * 100000n);
    expect(paid).toBeLessThanOrEqual(632500n);
    expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i));
  });

  it('a racing writer that loses once retries against the fresh state', async () => {
    const { id } = await invoices.create(CEMENT, context());
    await invoices.approve(id, context());
    // A store whose first append is preceded by a competing payment, as if another request won the race.
    let raced = false;
    const racing: EventStore = Object.assign(Object.create(store) as EventStore, {
      append: async (...args: Parameters<EventStore['append']>) => {
        if (!raced) {
          raced = true;
          await invoices.recordPayment(id, { amountMinor: 100n, method: 'cash', reference: 'winner' }, context());
        }
        return store.append(...args);
      },
      readStream: (streamId: string) => store.readStream(streamId),
    });
    const loser = new InvoiceService({ eventStore: racing });
    const result = await loser.recordPayment(id, { amountMinor: 200n, method: 'cash', reference: 'retried' }, context());
    expect(result).toMatchObject({ version: 3, paidMinor: 300n });

    // With If-Match the loser does not retry: 409.
    raced = false;
    const strict = loser.recordPayment(id, { amountMinor: 200n, method: 'cash', reference: '' }, context('tenant-a', { expectedVersion: 3 }));
    await expect(strict).rejects.toBeInstanceOf(ConcurrencyError);
  });

  it('posts balanced journal entries as journal-<uuid> and rejects unbalanced ones', async () => {
    const ctx = context();
    const posted = await journals.post(
      { date: '2026-11-26', memo: 'Opening cash', currency: 'BDT', lines: [{ accountCode: '1000', debitMinor: 10000n, creditMinor: 0n }, { accountCode: '3000', debitMinor: 0n, creditMinor: 10000n }] },
      ctx,
    );
    expect(posted).toMatchObject({ version: 0, totalDebitMinor: 10000n });
    const [event] = await store.readStream(journalStreamId(posted.id));
    expect(event.type).toBe('JournalEntryPosted');
    expect(event.data).toMatchObject({ journalEntryId: posted.id, memo: 'Opening cash', currency: 'BDT' });
    expect(event.metadata).toMatchObject({ tenantId: 'tenant-a', correlationId: ctx.correlationId, schemaVersion: 1 });

    const before = await store.headPosition();
    const unbalanced = journals.post(
      { date: '2026-11-26', memo: 'x', currency: 'BDT', lines: [{ accountCode: '1000', debitMinor: 10000n, creditMinor: 0n }, { accountCode: '3000', debitMinor: 0n, creditMinor: 9000n }] },
      context(),
    );
    expect(await codeOf(unbalanced)).toBe('JOURNAL_UNBALANCED');
    expect(await store.headPosition()).toBe(before);
  });
});
