import { randomUUID } from 'node:crypto';
import { calendarDateIn } from '../domain/calendar-date';
import { NotFoundError } from '../domain/errors';
import { FinanceEvent, INVOICE_STREAM_PREFIX, PaymentMethod } from '../domain/events';
import { CreateInvoiceLine, decideInvoice, ExistingInvoice, InvoiceCommand, invoiceDecider, InvoiceState, InvoiceStatus, outstandingMinor } from '../domain/invoice';
import type { EventStore } from '../event-store/event-store';
import { CommandContext, newStreamId } from './command-context';
import { executeStreamCommand } from './command-handler';

export interface ApplicationDependencies {
  eventStore: EventStore;
  /** Defaults to the system clock. */
  clock?: () => Date;
  /** Defaults to random UUIDs. */
  newId?: () => string;
  /** Where the books are kept: the accounting date of an approval, cancellation or payment is its date there. Default UTC. */
  accountingTimeZone?: string;
}

export interface CreateInvoiceInput {
  customerId: string;
  currency: string;
  dueDate: string;
  lines: CreateInvoiceLine[];
}

export interface RecordPaymentInput {
  amountMinor: bigint;
  method: PaymentMethod;
  reference: string;
  /** ISO timestamp; defaults to now. */
  paidAt?: string;
  currency?: string;
}

export interface InvoiceCommandResult {
  id: string;
  version: number;
  status: InvoiceStatus;
  subtotalMinor: bigint;
  vatMinor: bigint;
  totalMinor: bigint;
  paidMinor: bigint;
  outstandingMinor: bigint;
}

export interface PaymentResult extends InvoiceCommandResult {
  paymentId: string;
  journalEntryId: string;
}

export function invoiceStreamId(invoiceId: string): string {
  return `${INVOICE_STREAM_PREFIX}${invoiceId}`;
}

/** Invoice commands: create, approve, cancel, record payment. Plain class; no framework. */
export class InvoiceService {
  private readonly clock: () => Date;
  private readonly newId: () => string;
  private readonly timeZone: string;

  constructor(private readonly deps: ApplicationDependencies) {
    this.clock = deps.clock ?? (() => new Date());
    this.newId = deps.newId ?? randomUUID;
    this.timeZone = deps.accountingTimeZone ?? 'UTC';
  }

  async create(input: CreateInvoiceInput, context: CommandContext): Promise<InvoiceCommandResult> {
    const invoiceId = newStreamId(context, 'invoice', this.newId);
    const command: InvoiceCommand = { type: 'CreateInvoice', data: { invoiceId, ...input, now: this.now() } };
    return (await this.run(invoiceId, 'create', context, command)).summary;
  }

  async approve(invoiceId: string, context: CommandContext): Promise<InvoiceCommandResult> {
    const command: InvoiceCommand = { type: 'ApproveInvoice', data: { invoiceId, journalEntryId: this.newId(), ...this.dated() } };
    return (await this.run(invoiceId, 'update', context, command)).summary;
  }

  async cancel(invoiceId: string, reason: string, context: CommandContext): Promise<InvoiceCommandResult> {
    const command: InvoiceCommand = { type: 'CancelInvoice', data: { invoiceId, reason, journalEntryId: this.newId(), ...this.dated() } };
    return (await this.run(invoiceId, 'update', context, command)).summary;
  }

  async recordPayment(invoiceId: string, input: RecordPaymentInput, context: CommandContext): Promise<PaymentResult> {
    const paymentId = this.newId();
    const journalEntryId = this.newId();
    const paidAt = input.paidAt ?? this.now();
    const command: InvoiceCommand = {
      type: 'RecordPayment',
      data: {
        invoiceId,
        paymentId,
        journalEntryId,
        amountMinor: input.amountMinor,
        method: input.method,
        reference: input.reference,
        paidAt,
        entryDate: calendarDateIn(new Date(paidAt), this.timeZone),
        ...(input.currency !== undefined ? { currency: input.currency } : {}),
      },
    };
    const { summary: result, appended } = await this.run(invoiceId, 'update', context, command);
    // The ids of the payment appended: this attempt's, or an earlier attempt's of the same keyed request.
    const payment = appended.find((event): event is Extract<FinanceEvent, { type: 'PaymentRecorded' }> => event.type === 'PaymentRecorded');
    return { ...result, paymentId: payment?.data.paymentId ?? paymentId, journalEntryId: payment?.data.journalEntryId ?? journalEntryId };
  }

  private async run(
    invoiceId: string,
    mode: 'create' | 'update',
    context: CommandContext,
    command: InvoiceCommand,
  ): Promise<{ summary: InvoiceCommandResult; appended: FinanceEvent[] }> {
    const { version, state, appended } = await executeStreamCommand<InvoiceState>(this.deps.eventStore, context, invoiceDecider, {
      streamId: invoiceStreamId(invoiceId),
      mode,
      notFound: () => new NotFoundError('INVOICE_NOT_FOUND', invoiceId),
      decide: (current) => decideInvoice(command, current),
    });
    return { summary: summary(invoiceId, version, state as ExistingInvoice), appended };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Now, and its accounting date where the books are kept. */
  private dated(): { now: string; entryDate: string } {
    const now = this.clock();
    return { now: now.toISOString(), entryDate: calendarDateIn(now, this.timeZone) };
  }
}

function summary(id: string, version: number, state: ExistingInvoice): InvoiceCommandResult {
  return {
    id,
    version,
    status: state.status,
    subtotalMinor: state.subtotalMinor,
    vatMinor: state.vatMinor,
    totalMinor: state.totalMinor,
    paidMinor: state.paidMinor,
    outstandingMinor: outstandingMinor(state),
  };
}
