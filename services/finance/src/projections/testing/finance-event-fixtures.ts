/**
 * Builders of realistic finance events for tests and benchmarks (pure; no database).
 * Amounts and postings come from the domain's own helpers, so the events look like the write side's.
 */
import { randomUUID } from 'node:crypto';
import { INVOICE_STREAM_PREFIX, JOURNAL_STREAM_PREFIX, PaymentMethod, PostingLine } from '../../domain/events';
import type { EventMetadata, EventStore, NewEvent, RecordedEvent } from '../../event-store/event-store';
import type { Position } from '../../event-store/position';
import { lineAmounts } from '../../domain/money';
import { approvalPostings, paymentPostings, reversalPostings } from '../../domain/postings';

export interface EventSpec {
  streamId: string;
  event: NewEvent;
}

export interface LineSpec {
  description?: string;
  quantityMilli: bigint;
  unitPriceMinor: bigint;
  vatRateBp: number;
}

/** The example line: 10 × 550.00 at 15% VAT = 5500.00 + 825.00 = 6325.00. */
export const CEMENT_LINE: LineSpec = { description: 'Cement 50kg', quantityMilli: 10_000n, unitPriceMinor: 55_000n, vatRateBp: 1500 };

interface InvoiceTotals {
  subtotal: bigint;
  vat: bigint;
  total: bigint;
}

export class FinanceEventBuilder {
  private readonly invoices = new Map<string, InvoiceTotals>();

  constructor(
    readonly tenantId = 'tenant-a',
    readonly userId = 'user-1',
  ) {}

  metadata(): EventMetadata {
    const correlationId = randomUUID();
    return { tenantId: this.tenantId, userId: this.userId, correlationId, causationId: correlationId, schemaVersion: 1 };
  }

  createInvoice(options: { invoiceId?: string; customerId?: string; currency?: string; dueDate?: string; lines?: LineSpec[]; createdAt?: string } = {}): EventSpec {
    const invoiceId = options.invoiceId ?? randomUUID();
    const lines = (options.lines ?? [CEMENT_LINE]).map((line) => {
      const { netMinor: net, vatMinor: vat } = lineAmounts(line.quantityMilli, line.unitPriceMinor, line.vatRateBp);
      return {
        description: line.description ?? 'Item',
        quantityMilli: line.quantityMilli.toString(),
        unitPriceMinor: line.unitPriceMinor.toString(),
        vatRateBp: line.vatRateBp,
        netMinor: net.toString(),
        vatMinor: vat.toString(),
      };
    });
    const subtotal = lines.reduce((s, l) => s + BigInt(l.netMinor), 0n);
    const vat = lines.reduce((s, l) => s + BigInt(l.vatMinor), 0n);
    this.invoices.set(invoiceId, { subtotal, vat, total: subtotal + vat });
    return this.spec(INVOICE_STREAM_PREFIX + invoiceId, 'InvoiceCreated', {
      invoiceId,
      customerId: options.customerId ?? 'C-1001',
      currency: options.currency ?? 'BDT',
      dueDate: options.dueDate ?? '2026-12-31',
      lines,
      subtotalMinor: subtotal.toString(),
      vatMinor: vat.toString(),
      totalMinor: (subtotal + vat).toString(),
      createdAt: options.createdAt ?? '2026-11-26T09:00:00.000Z',
    });
  }

  approve(invoiceId: string, options: { journalEntryId?: string; approvedAt?: string; postings?: PostingLine[] } = {}): EventSpec {
    const totals = this.totals(invoiceId);
    return this.spec(INVOICE_STREAM_PREFIX + invoiceId, 'InvoiceApproved', {
      invoiceId,
      approvedAt: options.approvedAt ?? '2026-11-26T10:00:00.000Z',
      journalEntryId: options.journalEntryId ?? randomUUID(),
      postings: options.postings ?? approvalPostings(totals.subtotal, totals.vat),
    });
  }

  cancel(invoiceId: string, options: { approved?: boolean; journalEntryId?: string; cancelledAt?: string } = {}): EventSpec {
    const totals = this.totals(invoiceId);
    const reversal = options.approved ? { journalEntryId: options.journalEntryId ?? randomUUID(), postings: reversalPostings(totals.subtotal, totals.vat) } : {};
    return this.spec(INVOICE_STREAM_PREFIX + invoiceId, 'InvoiceCancelled', {
      invoiceId,
      reason: 'customer withdrew',
      cancelledAt: options.cancelledAt ?? '2026-11-27T10:00:00.000Z',
      ...reversal,
    });
  }

  pay(
    invoiceId: string,
    amountMinor: bigint,
    options: { paymentId?: string; journalEntryId?: string; method?: PaymentMethod; reference?: string; paidAt?: string } = {},
  ): EventSpec {
    const method = options.method ?? 'bank_transfer';
    return this.spec(INVOICE_STREAM_PREFIX + invoiceId, 'PaymentRecorded', {
      invoiceId,
      paymentId: options.paymentId ?? randomUUID(),
      amountMinor: amountMinor.toString(),
      method,
      reference: options.reference ?? 'TRX-1',
      paidAt: options.paidAt ?? '2026-11-28T10:00:00Z',
      journalEntryId: options.journalEntryId ?? randomUUID(),
      postings: paymentPostings(method, amountMinor),
    });
  }

  journalEntry(options: { journalEntryId?: string; date?: string; memo?: string; currency?: string; lines?: PostingLine[] } = {}): EventSpec {
    const journalEntryId = options.journalEntryId ?? randomUUID();
    return this.spec(JOURNAL_STREAM_PREFIX + journalEntryId, 'JournalEntryPosted', {
      journalEntryId,
      date: options.date ?? '2026-11-26',
      memo: options.memo ?? 'Opening cash',
      currency: options.currency ?? 'BDT',
      lines: options.lines ?? [
        { accountCode: '1000', debitMinor: '10000', creditMinor: '0' },
        { accountCode: '3000', debitMinor: '0', creditMinor: '10000' },
      ],
    });
  }

  /** Any event (e.g. an unknown type) on any stream. */
  custom(streamId: string, type: string, data: Record<string, unknown>): EventSpec {
    return this.spec(streamId, type, data);
  }

  totals(invoiceId: string): InvoiceTotals {
    const totals = this.invoices.get(invoiceId);
    if (!totals) throw new Error(`fixture: unknown invoice ${invoiceId}`);
    return totals;
  }

  private spec(streamId: string, type: string, data: Record<string, unknown>): EventSpec {
    return { streamId, event: { id: randomUUID(), type, data, metadata: this.metadata() } };
  }
}

/** Gives specs global positions and per-stream versions, as a store would (for pure tests). */
export class EventRecorder {
  private position: Position;
  private readonly versions = new Map<string, number>();

  constructor(startAfter: Position = 0n, readonly createdAt: Date = new Date('2026-11-26T12:00:00.000Z')) {
    this.position = startAfter;
  }

  record(spec: EventSpec): RecordedEvent {
    const version = (this.versions.get(spec.streamId) ?? -1) + 1;
    this.versions.set(spec.streamId, version);
    this.position += 1n;
    return {
      id: spec.event.id,
      streamId: spec.streamId,
      streamVersion: version,
      position: this.position,
      type: spec.event.type,
      data: spec.event.data,
      metadata: spec.event.metadata,
      createdAt: this.createdAt,
    };
  }

  recordAll(specs: EventSpec[]): RecordedEvent[] {
    return specs.map((spec) => this.record(spec));
  }
}

/** Appends specs one by one (expected version 'any'); returns the last position. */
export async function appendSpecs(store: EventStore, specs: EventSpec[]): Promise<Position> {
  let last: Position = 0n;
  for (const spec of specs) {
    last = (await store.append(spec.streamId, [spec.event], 'any')).position;
  }
  return last;
}
