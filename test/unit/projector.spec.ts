import { isCalendarDate } from '../../services/finance/src/domain/calendar-date';
import { invoiceIdsReferenced, projectBatch } from '../../services/finance/src/projections/finance-projector';
import type { InvoiceRow, ProjectionBatch } from '../../services/finance/src/projections/read-model-rows';
import { EventRecorder, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';

const INV = '11111111-1111-4111-8111-111111111111';
const JE_APPROVAL = '22222222-2222-4222-8222-222222222222';
const PAY1 = '33333333-3333-4333-8333-333333333333';
const PAY2 = '44444444-4444-4444-8444-444444444444';

function fresh() {
  return { b: new FinanceEventBuilder('tenant-a', 'user-1'), r: new EventRecorder() };
}

function expectBalanced(batch: ProjectionBatch) {
  for (const entry of batch.journalEntries) {
    const debit = entry.lines.reduce((s, l) => s + l.debitMinor, 0n);
    const credit = entry.lines.reduce((s, l) => s + l.creditMinor, 0n);
    expect(debit).toBe(credit);
    expect(entry.totalDebitMinor).toBe(debit);
    expect(entry.totalCreditMinor).toBe(credit);
  }
}

describe('finance projector', () => {
  it('InvoiceCreated makes a DRAFT row with the totals, line count, version and position', () => {
    const { b, r } = fresh();
    const events = r.recordAll([b.createInvoice({ invoiceId: INV, customerId: 'C-1001' })]);
    const batch = projectBatch(events, new Map());
    expect(batch.eventCount).toBe(1);
    expect(batch.lastPosition).toBe(1n);
    expect(batch.invoices.get(INV)).toEqual({
      id: INV,
      tenantId: 'tenant-a',
      customerId: 'C-1001',
      currency: 'BDT',
      status: 'DRAFT',
      subtotalMinor: 550000n,
      vatMinor: 82500n,
      totalMinor: 632500n,
      amountPaidMinor: 0n,
      balanceDueMinor: 632500n,
      dueDate: '2026-12-31',
      lineCount: 1,
      version: 0,
      lastPosition: 1n,
      createdAt: r.createdAt,
      updatedAt: r.createdAt,
    });
    expect(batch.payments).toEqual([]);
    expect(batch.journalEntries).toEqual([]);
  });

  it('reads only the number of an InvoiceCreated\'s lines (the rebuild\'s reader sends empty slots instead of their content)', () => {
    const { b, r } = fresh();
    const line = { quantityMilli: 2000n, unitPriceMinor: 1250n, vatRateBp: 1500 };
    const [created, approved] = r.recordAll([b.createInvoice({ invoiceId: INV, lines: [line, line, line] }), b.approve(INV, { journalEntryId: JE_APPROVAL })]);
    const asRead = { ...created, data: { ...created.data, lines: new Array(3) } };
    const full = projectBatch([created, approved], new Map());
    const counted = projectBatch([asRead, approved], new Map());
    expect(counted.problems).toEqual([]);
    expect(counted).toEqual(full);
    expect(counted.invoices.get(INV)?.lineCount).toBe(3);
  });

  it('InvoiceApproved sets APPROVED and posts the balanced receivable / revenue / VAT entry', () => {
    const { b, r } = fresh();
    const events = r.recordAll([b.createInvoice({ invoiceId: INV }), b.approve(INV, { journalEntryId: JE_APPROVAL, approvedAt: '2026-11-26T10:00:00Z' })]);
    const batch = projectBatch(events, new Map());
    const row = batch.invoices.get(INV)!;
    expect(row.status).toBe('APPROVED');
    expect(row.version).toBe(1);
    expect(row.lastPosition).toBe(2n);
    expect(batch.journalEntries).toHaveLength(1);
    const entry = batch.journalEntries[0];
    expect(entry).toMatchObject({
      id: JE_APPROVAL,
      tenantId: 'tenant-a',
      source: 'invoice_approval',
      sourceId: INV,
      entryDate: '2026-11-26',
      currency: 'BDT',
      totalDebitMinor: 632500n,
      totalCreditMinor: 632500n,
      position: 2n,
    });
    expect(entry.lines).toEqual([
      { lineNo: 1, accountCode: '1100', debitMinor: 632500n, creditMinor: 0n },
      { lineNo: 2, accountCode: '4000', debitMinor: 0n, creditMinor: 550000n },
      { lineNo: 3, accountCode: '2100', debitMinor: 0n, creditMinor: 82500n },
    ]);
    expectBalanced(batch);
  });

  it('PaymentRecorded adds a payment, sums amount paid, derives balance and PARTIALLY_PAID then PAID', () => {
    const { b, r } = fresh();
    const events = r.recordAll([
      b.createInvoice({ invoiceId: INV }),
      b.approve(INV),
      b.pay(INV, 316250n, { paymentId: PAY1, method: 'cash', reference: 'R-1', paidAt: '2026-11-28T10:00:00Z' }),
    ]);
    const first = projectBatch(events, new Map());
    expect(first.invoices.get(INV)).toMatchObject({ status: 'PARTIALLY_PAID', amountPaidMinor: 316250n, balanceDueMinor: 316250n, version: 2, lastPosition: 3n });
    expect(first.payments).toEqual([
      { id: PAY1, invoiceId: INV, tenantId: 'tenant-a', amountMinor: 316250n, method: 'cash', reference: 'R-1', paidAt: '2026-11-28T10:00:00Z', position: 3n },
    ]);
    const paymentEntry = first.journalEntries.find((e) => e.source === 'payment')!;
    expect(paymentEntry).toMatchObject({ sourceId: PAY1, entryDate: '2026-11-28', totalDebitMinor: 316250n });
    expect(paymentEntry.lines.map((l) => l.accountCode)).toEqual(['1000', '1100']);

    const second = projectBatch(r.recordAll([b.pay(INV, 316250n, { paymentId: PAY2 })]), first.invoices);
    expect(second.invoices.get(INV)).toMatchObject({ status: 'PAID', amountPaidMinor: 632500n, balanceDueMinor: 0n, version: 3, lastPosition: 4n });
    expect(second.payments.map((p) => p.id)).toEqual([PAY2]);
    expectBalanced(first);
    expectBalanced(second);
  });

  it('InvoiceCancelled: a draft posts nothing; an approved invoice posts the reversal entry', () => {
    const { b, r } = fresh();
    const draft = '55555555-5555-4555-8555-555555555555';
    const events = r.recordAll([
      b.createInvoice({ invoiceId: draft }),
      b.cancel(draft),
      b.createInvoice({ invoiceId: INV }),
      b.approve(INV),
      b.cancel(INV, { approved: true, cancelledAt: '2026-11-29T08:00:00Z' }),
    ]);
    const batch = projectBatch(events, new Map());
    expect(batch.invoices.get(draft)).toMatchObject({ status: 'CANCELLED', version: 1 });
    expect(batch.invoices.get(INV)).toMatchObject({ status: 'CANCELLED', version: 2 });
    expect(batch.journalEntries.map((e) => e.source)).toEqual(['invoice_approval', 'invoice_cancellation']);
    const reversal = batch.journalEntries[1];
    expect(reversal).toMatchObject({ sourceId: INV, entryDate: '2026-11-29', totalDebitMinor: 632500n });
    expectBalanced(batch);
    // Net effect of approval + reversal on every account is zero.
    const net = new Map<string, bigint>();
    for (const e of batch.journalEntries) for (const l of e.lines) net.set(l.accountCode, (net.get(l.accountCode) ?? 0n) + l.debitMinor - l.creditMinor);
    for (const value of net.values()) expect(value).toBe(0n);
  });

  it('JournalEntryPosted makes a manual entry with numbered lines', () => {
    const { b, r } = fresh();
    const id = '66666666-6666-4666-8666-666666666666';
    const batch = projectBatch(r.recordAll([b.journalEntry({ journalEntryId: id, date: '2026-11-26', memo: 'Opening cash' })]), new Map());
    expect(batch.journalEntries).toEqual([
      {
        id,
        tenantId: 'tenant-a',
        source: 'manual',
        sourceId: null,
        entryDate: '2026-11-26',
        memo: 'Opening cash',
        currency: 'BDT',
        totalDebitMinor: 10000n,
        totalCreditMinor: 10000n,
        position: 1n,
        createdAt: r.createdAt,
        lines: [
          { lineNo: 1, accountCode: '1000', debitMinor: 10000n, creditMinor: 0n },
          { lineNo: 2, accountCode: '3000', debitMinor: 0n, creditMinor: 10000n },
        ],
      },
    ]);
    expect(batch.invoices.size).toBe(0);
  });

  it('skips and counts unknown event types without failing the batch', () => {
    const { b, r } = fresh();
    const events = r.recordAll([
      b.custom(`invoice-${INV}`, 'InvoiceArchived', { invoiceId: INV }),
      b.createInvoice({ invoiceId: INV }),
      b.custom('journal-x', '$metadata', {}),
    ]);
    const batch = projectBatch(events, new Map());
    expect(batch.unknownEvents).toBe(2);
    expect(batch.malformedEvents).toBe(0);
    expect(batch.eventCount).toBe(3);
    expect(batch.lastPosition).toBe(3n);
    expect(batch.invoices.get(INV)?.status).toBe('DRAFT');
  });

  it('is idempotent: re-applying events at or below last_position changes nothing', () => {
    const { b, r } = fresh();
    const events = r.recordAll([b.createInvoice({ invoiceId: INV }), b.approve(INV), b.pay(INV, 1000n), b.journalEntry()]);
    const first = projectBatch(events, new Map());
    const again = projectBatch(events.slice(0, 3), first.invoices);
    expect(again.invoices.size).toBe(0);
    expect(again.payments).toEqual([]);
    expect(again.journalEntries).toEqual([]);
    expect(again.duplicateEvents).toBe(3);

    // The same event twice in one batch (at-least-once delivery) is applied once.
    const twice = projectBatch([events[0], events[1], events[2], events[2], events[3], events[3]], new Map());
    expect(twice.invoices.get(INV)!.amountPaidMinor).toBe(1000n);
    expect(twice.payments).toHaveLength(1);
    expect(twice.journalEntries).toHaveLength(3);
    expect(twice.duplicateEvents).toBe(2);
  });

  it('folding in several batches equals folding in one, and never mutates invoicesBefore', () => {
    const { b, r } = fresh();
    const ids = ['a', 'b', 'c'].map((c) => c.repeat(8) + '-aaaa-4aaa-8aaa-' + c.repeat(12));
    const specs = ids.flatMap((id) => [b.createInvoice({ invoiceId: id }), b.approve(id), b.pay(id, 200000n), b.pay(id, 432500n)]);
    const events = r.recordAll(specs);
    const whole = projectBatch(events, new Map());

    let state = new Map<string, InvoiceRow>();
    for (let i = 0; i < events.length; i += 5) {
      const slice = events.slice(i, i + 5);
      const snapshot = JSON.stringify([...state.values()], (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      const batch = projectBatch(slice, state);
      expect(JSON.stringify([...state.values()], (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(snapshot);
      state = new Map([...state, ...batch.invoices]);
    }
    expect(state).toEqual(whole.invoices);
    for (const id of ids) expect(state.get(id)).toMatchObject({ status: 'PAID', balanceDueMinor: 0n, version: 3 });
  });

  it('rejects an unbalanced or malformed event as malformed (skipped, reported), never throwing', () => {
    const { b, r } = fresh();
    const events = r.recordAll([
      b.journalEntry({ lines: [{ accountCode: '1000', debitMinor: '100', creditMinor: '0' }, { accountCode: '3000', debitMinor: '0', creditMinor: '99' }] }),
      b.createInvoice({ invoiceId: INV }),
      b.approve(INV, { postings: [{ accountCode: '1100', debitMinor: '5', creditMinor: '0' }] }),
      b.pay('77777777-7777-4777-8777-777777777777', 100n),
      b.custom(`invoice-${INV}`, 'PaymentRecorded', { invoiceId: INV, paymentId: PAY1, amountMinor: '12.5', method: 'cash', paidAt: '2026-11-28T10:00:00Z' }),
      b.custom('invoice-not-a-uuid', 'InvoiceCreated', { invoiceId: 'not-a-uuid' }),
      b.custom(`invoice-${PAY2}`, 'InvoiceCreated', { invoiceId: PAY2, customerId: 'C', currency: 'BDT', dueDate: '2026-02-30', subtotalMinor: '1', vatMinor: '0', totalMinor: '1' }),
      { ...b.journalEntry(), event: { ...b.journalEntry().event, data: null as never } },
      b.pay(INV, 100n, { paidAt: '2026-11-28T25:00:00Z' }),
      b.custom(`invoice-${INV}`, 'PaymentRecorded', { invoiceId: INV, paymentId: PAY1, amountMinor: '0x10', method: 'cash', paidAt: '2026-11-28T10:00:00Z' }),
    ]);
    const batch = projectBatch(events, new Map());
    expect(batch.malformedEvents).toBe(9);
    expect(batch.problems.map((p) => p.position)).toEqual([1n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(batch.problems[0].reason).toMatch(/not balanced/);
    expect(batch.problems[2].reason).toMatch(/does not exist/);
    expect(batch.journalEntries).toEqual([]);
    expect(batch.invoices.get(INV)).toMatchObject({ status: 'DRAFT', version: 0, amountPaidMinor: 0n });
    expect(batch.lastPosition).toBe(10n);
  });

  it('skips, as malformed, what PostgreSQL would refuse: entry totals beyond a bigint, NUL characters in text', () => {
    const { b, r } = fresh();
    const max = 9223372036854775807n;
    const half = (max / 2n + 1n).toString(); // two such lines sum past a bigint; each fits one
    const events = r.recordAll([
      b.journalEntry({
        lines: [
          { accountCode: '1000', debitMinor: half, creditMinor: '0' },
          { accountCode: '1001', debitMinor: half, creditMinor: '0' },
          { accountCode: '3000', debitMinor: '0', creditMinor: half },
          { accountCode: '3001', debitMinor: '0', creditMinor: half },
        ],
      }),
      b.journalEntry({ memo: 'Opening\u0000cash' }),
      b.journalEntry({ lines: [{ accountCode: '10\u000000', debitMinor: '1', creditMinor: '0' }, { accountCode: '3000', debitMinor: '0', creditMinor: '1' }] }),
      b.createInvoice({ invoiceId: INV }),
      b.approve(INV),
      b.pay(INV, 100n, { paymentId: PAY1, reference: 'TRX\u0000' }),
      b.journalEntry(),
    ]);
    const batch = projectBatch(events, new Map());
    expect(batch.problems.map((p) => [p.position, p.reason])).toEqual([
      [1n, expect.stringMatching(/exceed a PostgreSQL bigint/)],
      [2n, expect.stringMatching(/memo contains a NUL/)],
      [3n, expect.stringMatching(/accountCode must be a non-empty string without NUL/)],
      [6n, expect.stringMatching(/reference contains a NUL/)],
    ]);
    expect(batch.payments).toEqual([]);
    expect(batch.journalEntries).toHaveLength(2); // the approval's posting and the last, well-formed entry
  });

  it('skips, as malformed, a payment that would take the amount paid beyond a bigint (the invoice keeps the earlier payments)', () => {
    const { b, r } = fresh();
    const half = (9223372036854775807n / 2n + 1n).toString(); // each fits a bigint; two do not
    const events = r.recordAll([b.createInvoice({ invoiceId: INV }), b.approve(INV), b.pay(INV, BigInt(half), { paymentId: PAY1 }), b.pay(INV, BigInt(half), { paymentId: PAY2 })]);
    const batch = projectBatch(events, new Map());
    expect(batch.problems.map((p) => [p.position, p.reason])).toEqual([[4n, expect.stringMatching(/payments would exceed a PostgreSQL bigint/)]]);
    expect(batch.payments.map((p) => p.id)).toEqual([PAY1]);
    expect(batch.invoices.get(INV)).toMatchObject({ amountPaidMinor: BigInt(half), version: 2, lastPosition: 3n });
  });

  it('keeps tenants apart and lists the invoices a batch references', () => {
    const a = new FinanceEventBuilder('tenant-a');
    const bb = new FinanceEventBuilder('tenant-b');
    const r = new EventRecorder();
    const other = '88888888-8888-4888-8888-888888888888';
    const events = r.recordAll([a.createInvoice({ invoiceId: INV }), bb.createInvoice({ invoiceId: other }), a.approve(INV), a.journalEntry()]);
    expect(invoiceIdsReferenced(events).sort()).toEqual([INV, other].sort());
    const batch = projectBatch(events, new Map());
    expect(batch.invoices.get(INV)!.tenantId).toBe('tenant-a');
    expect(batch.invoices.get(other)!.tenantId).toBe('tenant-b');
    expect(batch.journalEntries.every((e) => e.tenantId === 'tenant-a')).toBe(true);
  });

  it('normalises upper-case uuids so rows loaded back from PostgreSQL match', () => {
    const { b, r } = fresh();
    const upper = INV.toUpperCase();
    const batch = projectBatch(r.recordAll([b.createInvoice({ invoiceId: upper })]), new Map());
    expect([...batch.invoices.keys()]).toEqual([INV]);
  });

  it('validates calendar dates like PostgreSQL', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2026-02-29')).toBe(false);
    expect(isCalendarDate('2100-02-29')).toBe(false);
    expect(isCalendarDate('2000-02-29')).toBe(true);
    expect(isCalendarDate('2026-13-01')).toBe(false);
    expect(isCalendarDate('2026-1-01')).toBe(false);
  });
});
