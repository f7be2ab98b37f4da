/** Application results → API bodies: amounts back as decimal strings ("6325.00"). */
import type { InvoiceCommandResult, PaymentResult } from '../../application/invoice.service';
import type { JournalEntryResult } from '../../application/journal.service';
import { formatMinor } from '../../domain/money';

export function invoiceBody(result: InvoiceCommandResult): Record<string, unknown> {
  return {
    id: result.id,
    version: result.version,
    status: result.status,
    subtotal: formatMinor(result.subtotalMinor),
    vat: formatMinor(result.vatMinor),
    total: formatMinor(result.totalMinor),
    paid: formatMinor(result.paidMinor),
    outstanding: formatMinor(result.outstandingMinor),
  };
}

export function paymentBody(result: PaymentResult, amountMinor: bigint): Record<string, unknown> {
  return {
    paymentId: result.paymentId,
    invoiceId: result.id,
    journalEntryId: result.journalEntryId,
    version: result.version,
    status: result.status,
    amount: formatMinor(amountMinor),
    paid: formatMinor(result.paidMinor),
    outstanding: formatMinor(result.outstandingMinor),
  };
}

export function journalEntryBody(result: JournalEntryResult): Record<string, unknown> {
  return {
    id: result.id,
    version: result.version,
    totalDebit: formatMinor(result.totalDebitMinor),
    totalCredit: formatMinor(result.totalCreditMinor),
  };
}
