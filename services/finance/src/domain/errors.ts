/**
 * Typed domain errors. Pure: no Nest or database imports; the HTTP layer maps them to statuses
 * (ValidationError → 400, DomainError → 422, NotFoundError → 404, ConcurrencyError → 409).
 */

/** Machine-readable codes of business rule violations (HTTP 422). */
export type DomainErrorCode =
  | 'INVOICE_ALREADY_EXISTS'
  | 'INVOICE_NO_LINES'
  | 'INVOICE_TOTAL_ZERO'
  | 'INVOICE_NOT_DRAFT'
  | 'INVOICE_NOT_APPROVED'
  | 'INVOICE_ALREADY_APPROVED'
  | 'INVOICE_CANCELLED'
  | 'INVOICE_ALREADY_CANCELLED'
  | 'INVOICE_ALREADY_PAID'
  | 'INVOICE_HAS_PAYMENTS'
  | 'PAYMENT_AMOUNT_NOT_POSITIVE'
  | 'PAYMENT_ALREADY_RECORDED'
  | 'CURRENCY_MISMATCH'
  | 'OVERPAYMENT'
  | 'JOURNAL_ALREADY_POSTED'
  | 'JOURNAL_TOO_FEW_LINES'
  | 'JOURNAL_LINE_INVALID'
  | 'JOURNAL_UNBALANCED';

/** A business rule said no. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** One input problem, naming the offending field in request terms (e.g. `lines[0].unitPrice`). */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Malformed input (HTTP 400). Carries every problem found, the first one names `field`. */
export class ValidationError extends Error {
  readonly code = 'VALIDATION_FAILED';
  readonly problems: FieldProblem[];

  constructor(problems: FieldProblem[] | FieldProblem) {
    const list = Array.isArray(problems) ? problems : [problems];
    if (list.length === 0) throw new TypeError('ValidationError needs at least one problem');
    super(list.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'ValidationError';
    this.problems = list;
  }

  get field(): string {
    return this.problems[0].field;
  }
}

/** The aggregate does not exist (or belongs to another tenant, which must look the same). HTTP 404. */
export class NotFoundError extends Error {
  constructor(
    readonly code: 'INVOICE_NOT_FOUND' | 'JOURNAL_ENTRY_NOT_FOUND',
    readonly id: string,
  ) {
    super(`${code === 'INVOICE_NOT_FOUND' ? 'Invoice' : 'Journal entry'} ${id} not found`);
    this.name = 'NotFoundError';
  }
}
