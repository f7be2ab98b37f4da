/**
 * Row shapes of the finance read models (tables: migrations/1700000002000-ReadModels.ts).
 * Pure types: the projector produces them, the writer stores them, the rollback reuses both.
 *
 * Conventions: money in integer minor units as bigint; positions as bigint; calendar dates as
 * "YYYY-MM-DD" strings; `Date` for times the event store recorded; `paidAt` keeps the event's
 * ISO-8601 text (PostgreSQL parses it, offset included).
 */
import type { InvoiceStatus } from '../domain/invoice';

export type { InvoiceStatus };
export const INVOICE_STATUSES: readonly InvoiceStatus[] = ['DRAFT', 'APPROVED', 'PARTIALLY_PAID', 'PAID', 'CANCELLED'];

/**
 * Where a journal entry comes from. `invoice_cancellation` is the reversal an approved invoice's
 * cancellation posts (InvoiceCancelled carries it since the domain added it).
 */
export type JournalSource = 'manual' | 'invoice_approval' | 'invoice_cancellation' | 'payment';
export const JOURNAL_SOURCES: readonly JournalSource[] = ['manual', 'invoice_approval', 'invoice_cancellation', 'payment'];

/** invoice_read_model */
export interface InvoiceRow {
  id: string;
  tenantId: string;
  customerId: string;
  currency: string;
  status: InvoiceStatus;
  subtotalMinor: bigint;
  vatMinor: bigint;
  totalMinor: bigint;
  amountPaidMinor: bigint;
  /** totalMinor - amountPaidMinor */
  balanceDueMinor: bigint;
  dueDate: string;
  lineCount: number;
  /** Stream version (0-based) of the last event applied. */
  version: number;
  /** Global position of the last event applied: the idempotency guard. */
  lastPosition: bigint;
  /** Recorded time of InvoiceCreated. */
  createdAt: Date;
  /** Recorded time of the last event applied. */
  updatedAt: Date;
}

/** payment_read_model (insert-only) */
export interface PaymentRow {
  id: string;
  invoiceId: string;
  tenantId: string;
  amountMinor: bigint;
  method: string;
  reference: string;
  /** ISO-8601 text as the event carries it. */
  paidAt: string;
  position: bigint;
}

/** journal_entry_line_read_model (journal_entry_id, tenant_id, entry_date and currency come from the entry). */
export interface JournalLineRow {
  /** 1-based, in the order of the event's lines. */
  lineNo: number;
  accountCode: string;
  debitMinor: bigint;
  creditMinor: bigint;
}

/** journal_entry_read_model (insert-only), with its lines. Always balanced. */
export interface JournalEntryRow {
  id: string;
  tenantId: string;
  source: JournalSource;
  /** Invoice id (approval, cancellation), payment id (payment), null (manual). */
  sourceId: string | null;
  entryDate: string;
  memo: string;
  currency: string;
  totalDebitMinor: bigint;
  totalCreditMinor: bigint;
  position: bigint;
  /** Recorded time of the event that posted it. */
  createdAt: Date;
  lines: JournalLineRow[];
}

/** An event the projector skipped because its data could not be projected (never thrown). */
export interface ProjectionProblem {
  position: bigint;
  streamId: string;
  type: string;
  reason: string;
}

/** What one batch of events changes in the read models. */
export interface ProjectionBatch {
  /** Final state of every invoice the batch touched (one row per id). */
  invoices: Map<string, InvoiceRow>;
  /** New payments, one per id, in event order. */
  payments: PaymentRow[];
  /** New journal entries (with lines), one per id, in event order. */
  journalEntries: JournalEntryRow[];
  /** Events of a type the projector does not know (skipped). */
  unknownEvents: number;
  /** Events of a known type whose data was unusable (skipped; details in `problems`). */
  malformedEvents: number;
  /** Events re-delivered at or below the invoice's last_position (skipped: at-least-once delivery). */
  duplicateEvents: number;
  /** Every event of the input, whatever happened to it. */
  eventCount: number;
  /** Position of the input's last event: the checkpoint to store with these rows. */
  lastPosition: bigint | undefined;
  /** Why malformed events were skipped (empty unless malformedEvents > 0). */
  problems: ProjectionProblem[];
}

/** Names of the five read-model tables: the live ones, or a rollback's shadow copies. */
export interface ReadModelTables {
  invoices: string;
  payments: string;
  journalEntries: string;
  journalLines: string;
  /**
   * Debits and credits per tenant, entry date, account and currency: the trial balance reads these instead of
   * every line. Derived from the lines in PostgreSQL (a trigger on the live lines table, an
   * aggregation after a rebuild), never written by the projectors.
   */
  accountDailyBalances: string;
}

export const LIVE_TABLES: Readonly<ReadModelTables> = Object.freeze({
  invoices: 'invoice_read_model',
  payments: 'payment_read_model',
  journalEntries: 'journal_entry_read_model',
  journalLines: 'journal_entry_line_read_model',
  accountDailyBalances: 'account_daily_balance_read_model',
});

/** The live names with a suffix, e.g. readModelTables('_shadow') for a rebuild. */
export function readModelTables(suffix: string): ReadModelTables {
  return {
    invoices: `${LIVE_TABLES.invoices}${suffix}`,
    payments: `${LIVE_TABLES.payments}${suffix}`,
    journalEntries: `${LIVE_TABLES.journalEntries}${suffix}`,
    journalLines: `${LIVE_TABLES.journalLines}${suffix}`,
    accountDailyBalances: `${LIVE_TABLES.accountDailyBalances}${suffix}`,
  };
}
