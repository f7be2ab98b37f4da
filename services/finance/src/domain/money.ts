/**
 * Exact money arithmetic. Inside: integer minor units as bigint (paisa for BDT). Outside (API): decimal
 * strings with at most two fraction digits ("1250.50"). Events carry minor units as decimal strings.
 * Every amount has two minor digits (true for BDT, USD, EUR, ...): currencies whose ISO 4217 minor unit
 * is not the hundredth (JPY, KWD, ...) are refused, since their amounts would be misread as hundredths.
 *
 * Amounts must be JSON strings. JSON numbers are rejected, integers included: a number has already
 * been through binary floating point in the client's serializer and the parser (12.5 is exact, 0.1 is
 * not, 1e21 loses digits), so the only way to be exact end to end is a decimal string. Rejecting every
 * number keeps the rule simple for clients: "send amounts as strings".
 */
import { isCalendarDate } from './calendar-date';
import { ISO_4217_CODES } from './currency-codes';
import { ValidationError } from './errors';

export const DEFAULT_CURRENCY = 'BDT';
export const MINOR_DIGITS = 2;
const MINOR_FACTOR = 100n;

/** Quantity scale: thousandths. */
export const QUANTITY_SCALE = 1000n;
/** VAT rate scale: basis points. */
export const RATE_SCALE = 10_000n;

/** Up to 15 integer digits (10^13 BDT): far beyond any invoice, well inside bigint and Postgres numeric. */
const AMOUNT_PATTERN = /^(\d{1,15})(?:\.(\d{1,2}))?$/;
const QUANTITY_PATTERN = /^(\d{1,9})(?:\.(\d{1,3}))?$/;
const RATE_PATTERN = /^(\d)(?:\.(\d{1,4}))?$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The largest amount the API accepts (999999999999999.99) in minor units. Computed amounts (a line's
 * net and VAT, an invoice's total, a journal entry's debits) are held to it too: every amount the
 * service stores then fits a PostgreSQL bigint with room to spare, and can be written back as an input.
 */
export const MAX_AMOUNT_MINOR = 10n ** 17n - 1n;

/** Throws a ValidationError naming `field` when a computed amount exceeds MAX_AMOUNT_MINOR. */
export function checkAmountLimit(minor: bigint, field: string, what: string): void {
  if (minor > MAX_AMOUNT_MINOR) {
    throw new ValidationError({ field, message: `${what} ${formatMinor(minor)} exceeds the largest amount, ${formatMinor(MAX_AMOUNT_MINOR)}` });
  }
}

export interface AmountOptions {
  /** Whether "0" / "0.00" is acceptable (default true). */
  allowZero?: boolean;
}

/**
 * Parses an API amount ("1250.50", "1250.5", "1250") into minor units.
 * Rejects numbers, negatives, more than two decimals, exponents, blanks and anything non-numeric.
 */
export function parseAmount(value: unknown, field: string, options: AmountOptions = {}): bigint {
  if (typeof value === 'number') {
    throw new ValidationError({ field, message: `must be a decimal string such as "1250.50", not a JSON number (got ${value})` });
  }
  if (typeof value !== 'string') throw new ValidationError({ field, message: 'must be a decimal string such as "1250.50"' });
  if (value.startsWith('-')) throw new ValidationError({ field, message: `must not be negative (got "${value}")` });
  const match = AMOUNT_PATTERN.exec(value);
  if (!match) {
    const decimals = /^\d+\.(\d+)$/.exec(value);
    if (decimals && decimals[1].length > MINOR_DIGITS) {
      throw new ValidationError({ field, message: `must have at most ${MINOR_DIGITS} decimal places (got "${value}")` });
    }
    throw new ValidationError({ field, message: `must be a decimal string with at most ${MINOR_DIGITS} decimal places such as "1250.50" (got "${truncate(value)}")` });
  }
  const minor = BigInt(match[1]) * MINOR_FACTOR + BigInt((match[2] ?? '').padEnd(MINOR_DIGITS, '0'));
  if (minor === 0n && options.allowZero === false) throw new ValidationError({ field, message: `must be greater than 0 (got "${value}")` });
  return minor;
}

/** Minor units → "1250.50" (two decimals, '-' for negatives). */
export function formatMinor(minor: bigint | string): string {
  const value = typeof minor === 'string' ? BigInt(minor) : minor;
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / MINOR_FACTOR;
  const fraction = (abs % MINOR_FACTOR).toString().padStart(MINOR_DIGITS, '0');
  return `${negative ? '-' : ''}${whole.toString()}.${fraction}`;
}

/** Minor units as the decimal string events carry ("632500"). */
export function toMinorString(minor: bigint): string {
  return minor.toString(10);
}

/** Reads an event's minor-unit string back into a bigint. */
export function fromMinorString(value: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new TypeError(`not a minor-unit string: "${value}"`);
  return BigInt(value);
}

/**
 * numerator / denominator rounded half away from zero (for the non-negative amounts here: half up).
 * Exact: bigint only.
 */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  const quotient = (abs * 2n + denominator) / (denominator * 2n);
  return negative ? -quotient : quotient;
}

/**
 * A quantity: a positive JSON number with at most three decimals (10, 2.5, 0.125) or the same as a
 * decimal string ("2.5"). Returned in thousandths. Numbers are fine here (not money): any number with
 * at most three decimals round-trips exactly through its shortest decimal representation.
 */
export function parseQuantity(value: unknown, field: string): bigint {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError({ field, message: 'must be a finite number' });
    text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    throw new ValidationError({ field, message: 'must be a positive number with at most 3 decimal places (e.g. 10 or "2.5")' });
  }
  if (text.startsWith('-')) throw new ValidationError({ field, message: `must be greater than 0 (got ${text})` });
  const match = QUANTITY_PATTERN.exec(text);
  if (!match) throw new ValidationError({ field, message: `must be a positive number with at most 3 decimal places (got ${truncate(text)})` });
  const milli = BigInt(match[1]) * QUANTITY_SCALE + BigInt((match[2] ?? '').padEnd(3, '0'));
  if (milli === 0n) throw new ValidationError({ field, message: 'must be greater than 0' });
  return milli;
}

/** Thousandths → "2.5" / "10" (for messages and read-side formatting). */
export function formatQuantity(milli: bigint | string): string {
  const value = typeof milli === 'string' ? BigInt(milli) : milli;
  const whole = value / QUANTITY_SCALE;
  const fraction = (value % QUANTITY_SCALE).toString().padStart(3, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole.toString();
}

/**
 * A VAT rate as a fraction between 0 and 1 with at most four decimals ("0.15", "0.075", also the JSON
 * number 0.15), returned in basis points (1500).
 */
export function parseVatRate(value: unknown, field: string): number {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else throw new ValidationError({ field, message: 'must be a rate between 0 and 1 such as "0.15"' });
  const match = RATE_PATTERN.exec(text);
  if (!match) throw new ValidationError({ field, message: `must be a rate between 0 and 1 with at most 4 decimal places such as "0.15" (got ${truncate(text)})` });
  const bp = Number(match[1]) * 10_000 + Number((match[2] ?? '').padEnd(4, '0'));
  if (bp > 10_000) throw new ValidationError({ field, message: `must not exceed 1 (got ${text})` });
  return bp;
}

/** Basis points → "0.15". */
export function formatVatRate(bp: number): string {
  const whole = Math.floor(bp / 10_000);
  const fraction = String(bp % 10_000).padStart(4, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}

export interface LineAmounts {
  netMinor: bigint;
  vatMinor: bigint;
}

/**
 * One invoice line: net = quantity × unit price, VAT = net × rate, each rounded half-up to the paisa.
 * VAT is computed on the rounded net, the line amount printed on the invoice.
 */
export function lineAmounts(quantityMilli: bigint, unitPriceMinor: bigint, vatRateBp: number): LineAmounts {
  const netMinor = divideRoundHalfUp(quantityMilli * unitPriceMinor, QUANTITY_SCALE);
  const vatMinor = divideRoundHalfUp(netMinor * BigInt(vatRateBp), RATE_SCALE);
  return { netMinor, vatMinor };
}

/**
 * A three-letter uppercase code, for naming a currency that amounts already have (a payment's, a query's):
 * data written before currencies were held to two decimals stays reachable.
 */
export function parseCurrencyCode(value: unknown, field: string): string {
  if (typeof value !== 'string' || !CURRENCY_PATTERN.test(value)) {
    throw new ValidationError({ field, message: 'must be a three-letter uppercase currency code such as "BDT"' });
  }
  return value;
}

/** The currency of new amounts: an ISO 4217 code in use whose minor unit is the hundredth; BDT when absent. */
export function parseCurrency(value: unknown, field: string): string {
  if (value === undefined || value === null) return DEFAULT_CURRENCY;
  const code = parseCurrencyCode(value, field);
  const digits = OTHER_MINOR_DIGITS.get(code);
  if (digits !== undefined) {
    throw new ValidationError({
      field,
      message: `${code} ${digits === 'none' ? 'has no minor unit' : `has ${digits} decimal places`} in ISO 4217; amounts here have 2, so only such currencies are accepted`,
    });
  }
  // A typo ("USS") would otherwise open a currency of its own, with its own trial balance.
  if (!ISO_4217_CODES.has(code)) throw new ValidationError({ field, message: `${code} is not a currency in use (ISO 4217)` });
  return code;
}

/** ISO 4217 codes whose minor unit is not two digits (list 1, 2025), with theirs. */
const OTHER_MINOR_DIGITS: ReadonlyMap<string, number | 'none'> = new Map<string, number | 'none'>([
  ...['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'].map((c) => [c, 0] as const),
  ...['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'].map((c) => [c, 3] as const),
  ...['CLF', 'UYW'].map((c) => [c, 4] as const),
  ...['XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XDR', 'XPD', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX'].map((c) => [c, 'none'] as const),
]);

/** A calendar date "YYYY-MM-DD" that exists (2026-02-30 does not). */
export function parseDate(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ValidationError({ field, message: 'must be a date "YYYY-MM-DD"' });
  const match = DATE_PATTERN.exec(value);
  if (!match) throw new ValidationError({ field, message: `must be a date "YYYY-MM-DD" (got "${truncate(value)}")` });
  if (Number(match[1]) < 1900 || !isCalendarDate(value)) {
    throw new ValidationError({ field, message: `is not a valid calendar date (got "${value}")` });
  }
  return value;
}

/** An ISO 8601 timestamp with a time zone ("2026-11-26T10:00:00Z"), normalised to UTC ISO form. */
export function parseTimestamp(value: unknown, field: string): string {
  if (typeof value !== 'string' || !TIMESTAMP_PATTERN.test(value)) {
    throw new ValidationError({ field, message: 'must be an ISO 8601 timestamp with a time zone such as "2026-11-26T10:00:00Z"' });
  }
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new ValidationError({ field, message: `is not a valid timestamp (got "${truncate(value)}")` });
  parseDate(value.slice(0, 10), field);
  const utc = new Date(time).toISOString();
  // 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC, which toISOString writes "+010000-...":
  // not a timestamp the read side (or ISO 8601's basic form) accepts.
  if (!/^\d{4}-/.test(utc)) throw new ValidationError({ field, message: `must be before the year 10000 in UTC (got "${truncate(value)}")` });
  return utc;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
