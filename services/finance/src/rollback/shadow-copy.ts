/**
 * COPY payloads of projector rows for the rebuild's shadow tables. COPY is the cheapest way into a
 * table (PostgreSQL batches heap inserts and their WAL), and shadow tables are fresh, so the
 * insert-only rows go this way; invoices already written once go through the live writer's upsert.
 * Invoices, journal entries and lines go in binary format (cheaper for the server to load); payments
 * in text, because their paid-at time is kept as the event's own timestamp text for PostgreSQL to parse.
 *
 * The columns are those the live writer (projections/read-model-writer.ts) writes; the integration
 * test "the COPY path writes what the live writer writes" holds the two together.
 */
import type { InvoiceRow, JournalEntryRow, PaymentRow } from '../projections/read-model-rows';
import { BinaryCopyWriter } from './pg-binary-copy';
import { copyText } from './pg-copy';

export const INVOICE_COPY_COLUMNS = [
  'id', 'tenant_id', 'customer_id', 'currency', 'status', 'subtotal_minor', 'vat_minor', 'total_minor', 'amount_paid_minor',
  'balance_due_minor', 'due_date', 'line_count', 'version', 'last_position', 'created_at', 'updated_at',
] as const;

export const PAYMENT_COPY_COLUMNS = ['id', 'invoice_id', 'tenant_id', 'amount_minor', 'method', 'reference', 'paid_at', 'position'] as const;

export const JOURNAL_ENTRY_COPY_COLUMNS = [
  'id', 'tenant_id', 'source', 'source_id', 'entry_date', 'memo', 'currency', 'total_debit_minor', 'total_credit_minor', 'position', 'created_at',
] as const;

export const JOURNAL_LINE_COPY_COLUMNS = ['journal_entry_id', 'line_no', 'tenant_id', 'account_code', 'debit_minor', 'credit_minor', 'entry_date', 'currency'] as const;

/**
 * Room for a typical row of each table (fixed fields, field lengths, short texts: with the benchmark's
 * data about 185, 110-185 and 90 bytes). A batch's buffer is allocated once at about its final size
 * instead of doubling from 64 KiB, which copied it and churned about 1 MB of memory per batch.
 */
const INVOICE_ROW_BYTES = 200;
const JOURNAL_ENTRY_ROW_BYTES = 192;
const JOURNAL_LINE_ROW_BYTES = 104;

/** Binary rows (no header or trailer), for copyFrom. */
export function invoicesCopyRows(rows: ReadonlyMap<string, InvoiceRow>): Buffer {
  const w = new BinaryCopyWriter(rows.size * INVOICE_ROW_BYTES);
  for (const r of rows.values()) {
    w.row(INVOICE_COPY_COLUMNS.length)
      .uuid(r.id).text(r.tenantId).text(r.customerId).text(r.currency).text(r.status)
      .int8(r.subtotalMinor).int8(r.vatMinor).int8(r.totalMinor).int8(r.amountPaidMinor).int8(r.balanceDueMinor)
      .date(r.dueDate).int4(r.lineCount).int4(r.version).int8(r.lastPosition).timestamptz(r.createdAt).timestamptz(r.updatedAt);
  }
  return w.rowBytes();
}

export function paymentsCopyText(rows: readonly PaymentRow[]): string {
  let text = '';
  for (const p of rows) {
    text += `${p.id}\t${p.invoiceId}\t${copyText(p.tenantId)}\t${p.amountMinor}\t${copyText(p.method)}\t${copyText(p.reference)}\t${copyText(p.paidAt)}\t${p.position}\n`;
  }
  return text;
}

/** Binary rows (no header or trailer): a batch for the entries' CopyInStream. */
export function journalEntriesCopyRows(entries: readonly JournalEntryRow[]): Buffer {
  const w = new BinaryCopyWriter(entries.length * JOURNAL_ENTRY_ROW_BYTES);
  for (const e of entries) {
    w.row(JOURNAL_ENTRY_COPY_COLUMNS.length)
      .uuid(e.id).text(e.tenantId).text(e.source).nullableUuid(e.sourceId).date(e.entryDate).text(e.memo).text(e.currency)
      .int8(e.totalDebitMinor).int8(e.totalCreditMinor).int8(e.position).timestamptz(e.createdAt);
  }
  return w.rowBytes();
}

/** Binary rows (no header or trailer): a batch for a lines' CopyInStream. */
export function journalLinesCopyRows(entries: readonly JournalEntryRow[]): Buffer {
  let lines = 0;
  for (const e of entries) lines += e.lines.length;
  const w = new BinaryCopyWriter(lines * JOURNAL_LINE_ROW_BYTES);
  for (const e of entries) {
    for (const l of e.lines) {
      w.row(JOURNAL_LINE_COPY_COLUMNS.length)
        .uuid(e.id).int4(l.lineNo).text(e.tenantId).text(l.accountCode).int8(l.debitMinor).int8(l.creditMinor).date(e.entryDate).text(e.currency);
    }
  }
  return w.rowBytes();
}
