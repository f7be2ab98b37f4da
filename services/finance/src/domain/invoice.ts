/**
 * The invoice aggregate as a pure decider (stream `invoice-<uuid>`).
 * DRAFT → APPROVED → PARTIALLY_PAID → PAID; DRAFT or APPROVED → CANCELLED (never once paid).
 */
import { Decider, fold } from './decider';
import { DomainError, NotFoundError } from './errors';
import type { FinanceEvent, InvoiceLine, PaymentMethod } from './events';
import { checkAmountLimit, formatMinor, fromMinorString, lineAmounts, toMinorString } from './money';
import { approvalPostings, paymentPostings, reversalPostings } from './postings';

export type InvoiceStatus = 'DRAFT' | 'APPROVED' | 'PARTIALLY_PAID' | 'PAID' | 'CANCELLED';

export interface CreateInvoiceLine {
  description: string;
  quantityMilli: bigint;
  unitPriceMinor: bigint;
  vatRateBp: number;
}

export interface CreateInvoice {
  type: 'CreateInvoice';
  data: {
    invoiceId: string;
    customerId: string;
    currency: string;
    dueDate: string;
    lines: CreateInvoiceLine[];
    now: string;
  };
}

export interface ApproveInvoice {
  type: 'ApproveInvoice';
  /** journalEntryId: id of the implied receivable/revenue/VAT entry. */
  data: { invoiceId: string; journalEntryId: string; now: string; entryDate: string };
}

export interface CancelInvoice {
  type: 'CancelInvoice';
  /** journalEntryId: id of the reversal entry, used only when the invoice was approved. */
  data: { invoiceId: string; reason: string; journalEntryId: string; now: string; entryDate: string };
}

export interface RecordPayment {
  type: 'RecordPayment';
  data: {
    invoiceId: string;
    paymentId: string;
    journalEntryId: string;
    amountMinor: bigint;
    method: PaymentMethod;
    reference: string;
    paidAt: string;
    /** The accounting date of paidAt (see PaymentRecorded.entryDate). */
    entryDate: string;
    /** When given, must be the invoice's currency. */
    currency?: string;
  };
}

export type InvoiceCommand = CreateInvoice | ApproveInvoice | CancelInvoice | RecordPayment;

export type InvoiceEvent = Extract<FinanceEvent, { type: 'InvoiceCreated' | 'InvoiceApproved' | 'InvoiceCancelled' | 'PaymentRecorded' }>;

export interface NoInvoice {
  exists: false;
}

export interface ExistingInvoice {
  exists: true;
  invoiceId: string;
  customerId: string;
  currency: string;
  status: InvoiceStatus;
  subtotalMinor: bigint;
  vatMinor: bigint;
  totalMinor: bigint;
  paidMinor: bigint;
  paymentIds: readonly string[];
}

export type InvoiceState = NoInvoice | ExistingInvoice;

export const initialInvoiceState = (): InvoiceState => ({ exists: false });

export function decideInvoice(command: InvoiceCommand, state: InvoiceState): InvoiceEvent[] {
  switch (command.type) {
    case 'CreateInvoice':
      return create(command, state);
    case 'ApproveInvoice':
      return approve(command, requireInvoice(state, command.data.invoiceId));
    case 'CancelInvoice':
      return cancel(command, requireInvoice(state, command.data.invoiceId));
    case 'RecordPayment':
      return recordPayment(command, requireInvoice(state, command.data.invoiceId));
  }
}

export function evolveInvoice(state: InvoiceState, event: InvoiceEvent | FinanceEvent): InvoiceState {
  switch (event.type) {
    case 'InvoiceCreated': {
      const d = event.data;
      return {
        exists: true,
        invoiceId: d.invoiceId,
        customerId: d.customerId,
        currency: d.currency,
        status: 'DRAFT',
        subtotalMinor: fromMinorString(d.subtotalMinor),
        vatMinor: fromMinorString(d.vatMinor),
        totalMinor: fromMinorString(d.totalMinor),
        paidMinor: 0n,
        paymentIds: [],
      };
    }
    case 'InvoiceApproved':
      return state.exists ? { ...state, status: 'APPROVED' } : state;
    case 'InvoiceCancelled':
      return state.exists ? { ...state, status: 'CANCELLED' } : state;
    case 'PaymentRecorded': {
      if (!state.exists) return state;
      const paidMinor = state.paidMinor + fromMinorString(event.data.amountMinor);
      return {
        ...state,
        paidMinor,
        paymentIds: [...state.paymentIds, event.data.paymentId],
        status: paidMinor >= state.totalMinor ? 'PAID' : 'PARTIALLY_PAID',
      };
    }
    default:
      return state;
  }
}

export const invoiceDecider: Decider<InvoiceCommand, InvoiceEvent, InvoiceState> = {
  decide: decideInvoice,
  evolve: evolveInvoice,
  initialState: initialInvoiceState,
};

export function foldInvoice(events: Iterable<InvoiceEvent | FinanceEvent>): InvoiceState {
  return fold({ evolve: evolveInvoice, initialState: initialInvoiceState }, events);
}

/** Outstanding amount of an existing invoice (minor units). */
export function outstandingMinor(state: ExistingInvoice): bigint {
  return state.totalMinor - state.paidMinor;
}

function create({ data }: CreateInvoice, state: InvoiceState): InvoiceEvent[] {
  if (state.exists) throw new DomainError('INVOICE_ALREADY_EXISTS', `Invoice ${data.invoiceId} already exists`, { invoiceId: data.invoiceId });
  if (data.lines.length === 0) throw new DomainError('INVOICE_NO_LINES', 'An invoice needs at least one line');
  let subtotal = 0n;
  let vat = 0n;
  const lines: InvoiceLine[] = data.lines.map((line, index) => {
    const amounts = lineAmounts(line.quantityMilli, line.unitPriceMinor, line.vatRateBp);
    checkAmountLimit(amounts.netMinor, `lines[${index}]`, 'quantity × unitPrice is');
    subtotal += amounts.netMinor;
    vat += amounts.vatMinor;
    return {
      description: line.description,
      quantityMilli: line.quantityMilli.toString(),
      unitPriceMinor: toMinorString(line.unitPriceMinor),
      vatRateBp: line.vatRateBp,
      netMinor: toMinorString(amounts.netMinor),
      vatMinor: toMinorString(amounts.vatMinor),
    };
  });
  const total = subtotal + vat;
  checkAmountLimit(total, 'lines', 'the invoice total is');
  if (total <= 0n) throw new DomainError('INVOICE_TOTAL_ZERO', 'An invoice total must be greater than 0.00');
  return [
    {
      type: 'InvoiceCreated',
      data: {
        invoiceId: data.invoiceId,
        customerId: data.customerId,
        currency: data.currency,
        dueDate: data.dueDate,
        lines,
        subtotalMinor: toMinorString(subtotal),
        vatMinor: toMinorString(vat),
        totalMinor: toMinorString(total),
        createdAt: data.now,
      },
    },
  ];
}

function approve({ data }: ApproveInvoice, state: ExistingInvoice): InvoiceEvent[] {
  if (state.status === 'CANCELLED') throw new DomainError('INVOICE_CANCELLED', `Invoice ${state.invoiceId} is cancelled`, { status: state.status });
  if (state.status !== 'DRAFT') {
    throw new DomainError('INVOICE_ALREADY_APPROVED', `Invoice ${state.invoiceId} is already approved (status ${state.status})`, { status: state.status });
  }
  return [
    {
      type: 'InvoiceApproved',
      data: {
        invoiceId: state.invoiceId,
        approvedAt: data.now,
        entryDate: data.entryDate,
        journalEntryId: data.journalEntryId,
        postings: approvalPostings(state.subtotalMinor, state.vatMinor),
      },
    },
  ];
}

function cancel({ data }: CancelInvoice, state: ExistingInvoice): InvoiceEvent[] {
  if (state.status === 'CANCELLED') throw new DomainError('INVOICE_ALREADY_CANCELLED', `Invoice ${state.invoiceId} is already cancelled`, { status: state.status });
  if (state.paymentIds.length > 0) {
    throw new DomainError('INVOICE_HAS_PAYMENTS', `Invoice ${state.invoiceId} has payments and cannot be cancelled`, {
      status: state.status,
      paid: formatMinor(state.paidMinor),
    });
  }
  const reversal =
    state.status === 'APPROVED'
      ? { entryDate: data.entryDate, journalEntryId: data.journalEntryId, postings: reversalPostings(state.subtotalMinor, state.vatMinor) }
      : {};
  return [{ type: 'InvoiceCancelled', data: { invoiceId: state.invoiceId, reason: data.reason, cancelledAt: data.now, ...reversal } }];
}

function recordPayment({ data }: RecordPayment, state: ExistingInvoice): InvoiceEvent[] {
  if (state.status === 'DRAFT') throw new DomainError('INVOICE_NOT_APPROVED', `Invoice ${state.invoiceId} is not approved yet`, { status: state.status });
  if (state.status === 'CANCELLED') throw new DomainError('INVOICE_CANCELLED', `Invoice ${state.invoiceId} is cancelled`, { status: state.status });
  if (state.paymentIds.includes(data.paymentId)) {
    throw new DomainError('PAYMENT_ALREADY_RECORDED', `Payment ${data.paymentId} is already recorded`, { paymentId: data.paymentId });
  }
  if (data.currency !== undefined && data.currency !== state.currency) {
    throw new DomainError('CURRENCY_MISMATCH', `Payment currency ${data.currency} differs from the invoice currency ${state.currency}`, {
      invoiceCurrency: state.currency,
      paymentCurrency: data.currency,
    });
  }
  if (data.amountMinor <= 0n) throw new DomainError('PAYMENT_AMOUNT_NOT_POSITIVE', 'A payment amount must be greater than 0.00');
  const outstanding = outstandingMinor(state);
  if (state.status === 'PAID' || outstanding <= 0n) {
    throw new DomainError('INVOICE_ALREADY_PAID', `Invoice ${state.invoiceId} is already fully paid`, { status: state.status, outstanding: '0.00' });
  }
  if (data.amountMinor > outstanding) {
    throw new DomainError('OVERPAYMENT', `Payment of ${formatMinor(data.amountMinor)} exceeds the outstanding ${formatMinor(outstanding)}`, {
      amount: formatMinor(data.amountMinor),
      outstanding: formatMinor(outstanding),
    });
  }
  return [
    {
      type: 'PaymentRecorded',
      data: {
        invoiceId: state.invoiceId,
        paymentId: data.paymentId,
        amountMinor: toMinorString(data.amountMinor),
        method: data.method,
        reference: data.reference,
        paidAt: data.paidAt,
        entryDate: data.entryDate,
        journalEntryId: data.journalEntryId,
        postings: paymentPostings(data.method, data.amountMinor),
      },
    },
  ];
}

/**
 * Commands other than create on a stream with no events: the application service answers 404 before
 * deciding; this guards direct callers of the pure decider.
 */
function requireInvoice(state: InvoiceState, invoiceId: string): ExistingInvoice {
  if (!state.exists) throw new NotFoundError('INVOICE_NOT_FOUND', invoiceId);
  return state;
}
