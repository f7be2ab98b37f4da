/** The double-entry postings implied by invoice approval, cancellation and payment. Pure. */
import { ACCOUNTS, PaymentMethod, PostingLine } from './events';
import { toMinorString } from './money';

export function debit(accountCode: string, minor: bigint): PostingLine {
  return { accountCode, debitMinor: toMinorString(minor), creditMinor: '0' };
}

export function credit(accountCode: string, minor: bigint): PostingLine {
  return { accountCode, debitMinor: '0', creditMinor: toMinorString(minor) };
}

/** The cash-side account a payment method lands in. */
export function paymentAccount(method: PaymentMethod): string {
  switch (method) {
    case 'cash':
      return ACCOUNTS.cash;
    case 'bank_transfer':
    case 'cheque':
      return ACCOUNTS.bank;
    case 'mobile_banking':
      return ACCOUNTS.mobileWallet;
  }
}

/** Approval: debit receivable (total), credit revenue (net) and VAT payable (VAT, when any). */
export function approvalPostings(subtotalMinor: bigint, vatMinor: bigint): PostingLine[] {
  const lines = [debit(ACCOUNTS.accountsReceivable, subtotalMinor + vatMinor)];
  if (subtotalMinor > 0n) lines.push(credit(ACCOUNTS.revenue, subtotalMinor));
  if (vatMinor > 0n) lines.push(credit(ACCOUNTS.vatPayable, vatMinor));
  return lines;
}

/** Cancelling an approved invoice: the approval entry reversed. */
export function reversalPostings(subtotalMinor: bigint, vatMinor: bigint): PostingLine[] {
  const lines: PostingLine[] = [];
  if (subtotalMinor > 0n) lines.push(debit(ACCOUNTS.revenue, subtotalMinor));
  if (vatMinor > 0n) lines.push(debit(ACCOUNTS.vatPayable, vatMinor));
  lines.push(credit(ACCOUNTS.accountsReceivable, subtotalMinor + vatMinor));
  return lines;
}

/** Payment: debit cash / bank / mobile wallet, credit receivable. */
export function paymentPostings(method: PaymentMethod, amountMinor: bigint): PostingLine[] {
  return [debit(paymentAccount(method), amountMinor), credit(ACCOUNTS.accountsReceivable, amountMinor)];
}

/** Sum of debits and credits of posting lines (minor units). */
export function postingTotals(lines: PostingLine[]): { debitMinor: bigint; creditMinor: bigint } {
  let debitMinor = 0n;
  let creditMinor = 0n;
  for (const line of lines) {
    debitMinor += BigInt(line.debitMinor);
    creditMinor += BigInt(line.creditMinor);
  }
  return { debitMinor, creditMinor };
}
