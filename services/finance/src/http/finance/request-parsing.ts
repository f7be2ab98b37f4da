/**
 * Request bodies and headers of the finance write API → application inputs. Every problem is a 400
 * naming the field in request terms (`lines[0].unitPrice`, `If-Match`). Field names are the contract.
 *
 * Amounts ("unitPrice", "amount", "debit", "credit") must be JSON strings: JSON numbers are rejected,
 * integers included, with a message asking for a decimal string (see domain/money.ts for why).
 * Quantities and VAT rates may be numbers or strings: they are not money and are checked to be exact.
 * Unknown fields are ignored (forward compatible).
 */
import type { JournalLineInput } from '../../domain/journal';
import { FieldProblem, ValidationError } from '../../domain/errors';
import type { PaymentMethod } from '../../domain/events';
import { parseAmount, parseCurrency, parseCurrencyCode, parseDate, parseQuantity, parseTimestamp, parseVatRate } from '../../domain/money';
import type { CreateInvoiceInput, RecordPaymentInput } from '../../application/invoice.service';
import type { PostJournalEntryInput } from '../../application/journal.service';
import type { CreateInvoiceLine } from '../../domain/invoice';
import { hasUnstorableCharacters, UNSTORABLE_MESSAGE } from '../storable-text';

export const PAYMENT_METHODS: readonly PaymentMethod[] = ['cash', 'bank_transfer', 'cheque', 'mobile_banking'];
export const MAX_LINES = 500;

type Json = Record<string, unknown>;

/** Collects problems so one response names all of them; the first one is `field`. */
class Problems {
  readonly list: FieldProblem[] = [];

  /** Runs a parser; a ValidationError becomes a recorded problem and `undefined`. */
  take<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      if (error instanceof ValidationError) {
        this.list.push(...error.problems);
        return undefined;
      }
      throw error;
    }
  }

  add(field: string, message: string): void {
    this.list.push({ field, message });
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ValidationError(this.list);
  }
}

function objectBody(body: unknown): Json {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError({ field: 'body', message: 'must be a JSON object (Content-Type: application/json)' });
  }
  if (nestingDepth(body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new ValidationError({ field: 'body', message: `must not nest objects and arrays more than ${MAX_BODY_DEPTH} deep` });
  }
  return body as Json;
}

/**
 * Unknown fields are ignored, but the whole body is fingerprinted for an Idempotency-Key, recursively:
 * a body nested many thousand levels deep (well within the size limit) would overflow the stack there.
 * Requests here nest 3 deep.
 */
const MAX_BODY_DEPTH = 32;

/** How deep objects and arrays nest in `value` (an object), counted without recursion, up to `limit` + 1. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(node as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return deepest;
}

function requiredText(value: unknown, field: string, maxLength: number): string {
  if (value === undefined || value === null) throw new ValidationError({ field, message: 'is required' });
  if (typeof value !== 'string') throw new ValidationError({ field, message: 'must be a string' });
  if (value.trim() === '') throw new ValidationError({ field, message: 'must not be blank' });
  return checkedText(value, field, maxLength);
}

function optionalText(value: unknown, field: string, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ValidationError({ field, message: 'must be a string' });
  return checkedText(value, field, maxLength);
}

function checkedText(value: string, field: string, maxLength: number): string {
  if (value.length > maxLength) throw new ValidationError({ field, message: `must be at most ${maxLength} characters` });
  if (hasUnstorableCharacters(value)) throw new ValidationError({ field, message: UNSTORABLE_MESSAGE });
  return value.trim();
}

function required<T>(value: unknown, field: string, parse: (v: unknown, f: string) => T): T {
  if (value === undefined || value === null) throw new ValidationError({ field, message: 'is required' });
  return parse(value, field);
}

/** Calls `parse` for each line that is a JSON object (with its field path); any other line is a problem. */
function eachLineObject(rawLines: unknown[], p: Problems, parse: (line: Json, at: string) => void): void {
  rawLines.forEach((raw, i) => {
    const at = `lines[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) p.add(at, 'must be an object');
    else parse(raw as Json, at);
  });
}

function lineArray(value: unknown, field: string, min: number): unknown[] {
  if (value === undefined || value === null) throw new ValidationError({ field, message: 'is required' });
  if (!Array.isArray(value)) throw new ValidationError({ field, message: 'must be an array' });
  if (value.length < min) throw new ValidationError({ field, message: `must have at least ${min} line${min === 1 ? '' : 's'}` });
  if (value.length > MAX_LINES) throw new ValidationError({ field, message: `must have at most ${MAX_LINES} lines` });
  return value;
}

/** POST /invoices */
export function parseCreateInvoice(body: unknown): CreateInvoiceInput {
  const b = objectBody(body);
  const p = new Problems();
  const customerId = p.take(() => requiredText(b.customerId, 'customerId', 100));
  const currency = p.take(() => parseCurrency(b.currency, 'currency'));
  const dueDate = p.take(() => required(b.dueDate, 'dueDate', parseDate));
  const rawLines = p.take(() => lineArray(b.lines, 'lines', 1)) ?? [];
  const lines: CreateInvoiceLine[] = [];
  eachLineObject(rawLines, p, (l, at) => {
    const description = p.take(() => requiredText(l.description, `${at}.description`, 500));
    const quantityMilli = p.take(() => required(l.quantity, `${at}.quantity`, parseQuantity));
    const unitPriceMinor = p.take(() => required(l.unitPrice, `${at}.unitPrice`, (v, f) => parseAmount(v, f)));
    const vatRateBp = p.take(() => required(l.vatRate, `${at}.vatRate`, parseVatRate));
    if (description !== undefined && quantityMilli !== undefined && unitPriceMinor !== undefined && vatRateBp !== undefined) {
      lines.push({ description, quantityMilli, unitPriceMinor, vatRateBp });
    }
  });
  p.throwIfAny();
  return { customerId: customerId!, currency: currency!, dueDate: dueDate!, lines };
}

/** POST /invoices/:id/payments */
export function parseRecordPayment(body: unknown): RecordPaymentInput {
  const b = objectBody(body);
  const p = new Problems();
  const amountMinor = p.take(() => required(b.amount, 'amount', (v, f) => parseAmount(v, f, { allowZero: false })));
  const method = p.take(() => {
    if (b.method === undefined || b.method === null) throw new ValidationError({ field: 'method', message: 'is required' });
    if (typeof b.method !== 'string' || !PAYMENT_METHODS.includes(b.method as PaymentMethod)) {
      throw new ValidationError({ field: 'method', message: `must be one of ${PAYMENT_METHODS.join(', ')}` });
    }
    return b.method as PaymentMethod;
  });
  const reference = p.take(() => optionalText(b.reference, 'reference', 200));
  const paidAt = p.take(() => (b.paidAt === undefined || b.paidAt === null ? undefined : parseTimestamp(b.paidAt, 'paidAt')));
  // Must be the invoice's, which may predate the two-decimal rule: any well-formed code.
  const currency = p.take(() => (b.currency === undefined || b.currency === null ? undefined : parseCurrencyCode(b.currency, 'currency')));
  p.throwIfAny();
  return {
    amountMinor: amountMinor!,
    method: method!,
    reference: reference ?? '',
    ...(paidAt !== undefined ? { paidAt } : {}),
    ...(currency !== undefined ? { currency } : {}),
  };
}

/** POST /invoices/:id/cancel */
export function parseCancelInvoice(body: unknown): { reason: string } {
  const b = objectBody(body);
  const p = new Problems();
  const reason = p.take(() => requiredText(b.reason, 'reason', 500));
  p.throwIfAny();
  return { reason: reason! };
}

/** POST /invoices/:id/approve: no fields needed; any JSON object (or no body) is fine. */
export function parseApproveInvoice(body: unknown): void {
  if (body === undefined || body === null || body === '') return;
  objectBody(body);
}

/** POST /journal-entries */
export function parsePostJournalEntry(body: unknown): PostJournalEntryInput {
  const b = objectBody(body);
  const p = new Problems();
  const date = p.take(() => required(b.date, 'date', parseDate));
  const memo = p.take(() => requiredText(b.memo, 'memo', 500));
  const currency = p.take(() => parseCurrency(b.currency, 'currency'));
  const rawLines = p.take(() => lineArray(b.lines, 'lines', 2)) ?? [];
  const lines: JournalLineInput[] = [];
  eachLineObject(rawLines, p, (l, at) => {
    const accountCode = p.take(() => {
      const code = requiredText(l.accountCode, `${at}.accountCode`, 32);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(code)) throw new ValidationError({ field: `${at}.accountCode`, message: 'must be letters, digits, ".", "_" or "-"' });
      return code;
    });
    const hasDebit = l.debit !== undefined && l.debit !== null;
    const hasCredit = l.credit !== undefined && l.credit !== null;
    if (hasDebit === hasCredit) {
      p.add(at, 'must have exactly one of "debit" or "credit"');
      return;
    }
    const side = hasDebit ? 'debit' : 'credit';
    const minor = p.take(() => parseAmount(l[side], `${at}.${side}`, { allowZero: false }));
    if (accountCode !== undefined && minor !== undefined) {
      lines.push({ accountCode, debitMinor: hasDebit ? minor : 0n, creditMinor: hasDebit ? 0n : minor });
    }
  });
  p.throwIfAny();
  return { date: date!, memo: memo!, currency: currency!, lines };
}

/**
 * If-Match: the stream version the client last saw. Accepts `3`, `"3"` and `W/"3"`; `*` (or no header)
 * means no expectation. Anything else is a 400.
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(',') : header).trim();
  if (value === '' || value === '*') return undefined;
  const match = /^(?:W\/)?"?(\d{1,9})"?$/.exec(value);
  if (!match || (value.includes('"') && !/^(?:W\/)?"\d+"$/.test(value))) {
    throw new ValidationError({ field: 'If-Match', message: 'must be a version number returned by the API, e.g. 3 or "3"' });
  }
  return Number(match[1]);
}

/** Idempotency-Key: 1–255 visible ASCII characters (a UUID is typical). */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new ValidationError({ field: 'Idempotency-Key', message: 'must be given once' });
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new ValidationError({ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters (e.g. a UUID)' });
  }
  return header;
}

/** A UUID in any case (the one definition shared by the write, read and admin APIs). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id path parameter: a UUID (lower-cased), or undefined when it cannot name anything (→ 404). */
export function parseEntityId(value: string): string | undefined {
  return UUID_PATTERN.test(value) ? value.toLowerCase() : undefined;
}
