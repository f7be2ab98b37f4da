/**
 * The finance domain's events: the contract between the write side, the projections and the rollback.
 * Amounts are integer minor units (paisa for BDT) carried as decimal strings (`"632500"` = 6325.00),
 * so they survive JSON and any size. Never floats.
 * Stream ids: `invoice-<uuid>` and `journal-<uuid>`.
 */
export const INVOICE_STREAM_PREFIX = 'invoice-';
export const JOURNAL_STREAM_PREFIX = 'journal-';
/** Every stream category that feeds the read models (a rollback must replay all of them). */
export const FINANCE_STREAM_PREFIXES = [INVOICE_STREAM_PREFIX, JOURNAL_STREAM_PREFIX] as const;

export const EVENT_SCHEMA_VERSION = 1;

/** Minor units as a decimal string, e.g. "632500". */
export type MinorUnits = string;

export type PaymentMethod = 'cash' | 'bank_transfer' | 'cheque' | 'mobile_banking';

/** One double-entry posting line; exactly one of debit/credit is non-zero. */
export interface PostingLine {
  accountCode: string;
  debitMinor: MinorUnits;
  creditMinor: MinorUnits;
}

export interface InvoiceLine {
  description: string;
  /** Quantity in thousandths (10 pieces = "10000"), so fractional quantities stay exact. */
  quantityMilli: string;
  unitPriceMinor: MinorUnits;
  /** VAT rate in basis points ("0.15" = 1500). */
  vatRateBp: number;
  netMinor: MinorUnits;
  vatMinor: MinorUnits;
}

export interface InvoiceCreated {
  invoiceId: string;
  customerId: string;
  currency: string;
  dueDate: string; // YYYY-MM-DD
  lines: InvoiceLine[];
  subtotalMinor: MinorUnits;
  vatMinor: MinorUnits;
  totalMinor: MinorUnits;
  createdAt: string; // ISO timestamp
}

export interface InvoiceApproved {
  invoiceId: string;
  approvedAt: string;
  /**
   * The accounting date of its journal entry: the calendar date where the books are kept
   * (ACCOUNTING_TIME_ZONE). Absent in events written before it existed: their entry is dated by the UTC
   * date of approvedAt.
   */
  entryDate?: string;
  /** The implied journal entry: debit receivable, credit revenue and VAT payable. */
  journalEntryId: string;
  postings: PostingLine[];
}

export interface InvoiceCancelled {
  invoiceId: string;
  reason: string;
  cancelledAt: string;
  /**
   * With the reversal only. The accounting date of its journal entry: the calendar date where the books are kept
   * (ACCOUNTING_TIME_ZONE). Absent in events written before it existed: their entry is dated by the UTC
   * date of cancelledAt.
   */
  entryDate?: string;
  /**
   * Present only when an APPROVED invoice (no payments) is cancelled: the reversal of the approval's
   * journal entry (credit receivable, debit revenue and VAT payable). Absent for a DRAFT, which posted nothing.
   */
  journalEntryId?: string;
  postings?: PostingLine[];
}

export interface PaymentRecorded {
  invoiceId: string;
  paymentId: string;
  amountMinor: MinorUnits;
  method: PaymentMethod;
  reference: string;
  paidAt: string;
  /**
   * The accounting date of its journal entry: the calendar date where the books are kept
   * (ACCOUNTING_TIME_ZONE). Absent in events written before it existed: their entry is dated by the UTC
   * date of paidAt.
   */
  entryDate?: string;
  /** The implied journal entry: debit cash/bank, credit receivable. */
  journalEntryId: string;
  postings: PostingLine[];
}

export interface JournalEntryPosted {
  journalEntryId: string;
  date: string; // YYYY-MM-DD
  memo: string;
  currency: string;
  lines: PostingLine[];
}

export interface FinanceEventMap {
  InvoiceCreated: InvoiceCreated;
  InvoiceApproved: InvoiceApproved;
  InvoiceCancelled: InvoiceCancelled;
  PaymentRecorded: PaymentRecorded;
  JournalEntryPosted: JournalEntryPosted;
}

export type FinanceEventType = keyof FinanceEventMap;

export type FinanceEvent = {
  [K in FinanceEventType]: { type: K; data: FinanceEventMap[K] };
}[FinanceEventType];

/** Chart of accounts used by the implied postings. */
export const ACCOUNTS = {
  cash: '1000',
  bank: '1010',
  mobileWallet: '1020',
  accountsReceivable: '1100',
  vatPayable: '2100',
  revenue: '4000',
} as const;
