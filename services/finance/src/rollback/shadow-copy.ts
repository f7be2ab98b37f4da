/**
 * COPY text of projector rows for the rebuild's shadow tables. COPY is the cheapest way into a table
 * (PostgreSQL batches heap inserts and their WAL), and shadow tables are fresh, so the insert-only
 * rows go this way; invoices already written once go through the live writer's upsert.
 *
 * The columns are those the live writer (projections/read-model-writer.ts) writes; the integration
 * test "the COPY path writes what the live writer writes" holds the two together.
 */
import type { InvoiceRow, JournalEntryRow, PaymentRow } from '../projections/read-model-rows';
import { copyNullable, copyText } from './pg-copy';

export const INVOICE_COPY_COLUMNS = [
  'id', 'tenant_id', 'customer_id', 'currency', 'status', 'subtotal_minor', 'vat_minor', 'total_minor', 'amount_paid_minor',
  'balance_due_minor', 'due_date', 'line_count', 'version', 'last_position', 'created_at', 'updated_at',
] as const;

export const PAYMENT_COPY_COLUMNS = ['id', 'invoice_id', 'tenant_id', 'amount_minor', 'method', 'reference', 'paid_at', 'position'] as const;

export const JOURNAL_ENTRY_COPY_COLUMNS = [
  'id', 'tenant_id', 'source', 'source_id', 'entry_date', 'memo', 'currency', 'total_debit_minor', 'total_credit_minor', 'position', 'created_at',
] as const;

export const JOURNAL_LINE_COPY_COLUMNS = ['journal_entry_id', 'line_no', 'tenant_id', 'account_code', 'debit_minor', 'credit_minor', 'entry_date'] as const;

export function invoicesCopyText(rows: Iterable<InvoiceRow>): string {
  let text = '';
  for (const r of rows) {
    text +=
      `${r.id}\t${copyText(r.tenantId)}\t${copyText(r.customerId)}\t${copyText(r.currency)}\t${r.status}\t${r.subtotalMinor}\t${r.vatMinor}\t` +
      `${r.totalMinor}\t${r.amountPaidMinor}\t${r.balanceDueMinor}\t${r.dueDate}\t${r.lineCount}\t${r.version}\t${r.lastPosition}\t` +
      `${r.createdAt.toISOString()}\t${r.updatedAt.toISOString()}\n`;
  }
  return text;
}

export function paymentsCopyText(rows: readonly PaymentRow[]): string {
  let text = '';
  for (const p of rows) {
    text += `${p.id}\t${p.invoiceId}\t${copyText(p.tenantId)}\t${p.amountMinor}\t${copyText(p.method)}\t${copyText(p.reference)}\t${copyText(p.paidAt)}\t${p.position}\n`;
  }
  return text;
}

export function journalEntriesCopyText(entries: readonly JournalEntryRow[]): string {
  let text = '';
  for (const e of entries) {
    text +=
      `${e.id}\t${copyText(e.tenantId)}\t${e.source}\t${copyNullable(e.sourceId)}\t${e.entryDate}\t${copyText(e.memo)}\t${copyText(e.currency)}\t` +
      `${e.totalDebitMinor}\t${e.totalCreditMinor}\t${e.position}\t${e.createdAt.toISOString()}\n`;
  }
  return text;
}

export function journalLinesCopyText(entries: readonly JournalEntryRow[]): string {
  let text = '';
  for (const e of entries) {
    const prefix = `${e.id}\t`;
    const suffix = `\t${e.entryDate}\n`;
    const tenant = copyText(e.tenantId);
    for (const l of e.lines) text += `${prefix}${l.lineNo}\t${tenant}\t${copyText(l.accountCode)}\t${l.debitMinor}\t${l.creditMinor}${suffix}`;
  }
  return text;
}
