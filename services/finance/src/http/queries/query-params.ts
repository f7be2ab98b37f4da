/**
 * Query-string parsing of the read API. Pure (no Nest): failures are ValidationErrors naming the field.
 * Cursors are opaque to clients: base64url of the last row's sort key.
 */
import { isCalendarDate } from '../../domain/calendar-date';
import { ValidationError } from '../../domain/errors';
import { parseCurrencyCode } from '../../domain/money';
import { INVOICE_STATUSES, InvoiceStatus, JOURNAL_SOURCES, JournalSource } from '../../projections/read-model-rows';
import { parseEntityId, UUID_PATTERN } from '../finance/request-parsing';
import { hasUnstorableCharacters, UNSTORABLE_MESSAGE } from '../storable-text';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

type Query = Record<string, unknown> | undefined;

export interface InvoiceListQuery {
  status?: InvoiceStatus;
  customerId?: string;
  limit: number;
  cursor?: InvoiceCursor;
}

/** Sort key of the invoice list (created_at DESC, id DESC): created_at as PostgreSQL text with microseconds. */
export interface InvoiceCursor {
  createdAt: string;
  id: string;
}

export interface JournalListQuery {
  from?: string;
  to?: string;
  source?: JournalSource;
  limit: number;
  cursor?: JournalCursor;
}

/** Sort key of the journal list (entry_date, id). */
export interface JournalCursor {
  entryDate: string;
  id: string;
}

export interface DateRangeQuery {
  from?: string;
  to?: string;
}

/** The trial balance's dates and, optionally, its currency. */
export interface TrialBalanceQuery extends DateRangeQuery {
  currency?: string;
}

/** Groups: date, hour, minute, second. */
const CURSOR_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

/** A path id: a uuid in lower case, or undefined (the caller answers 404: it cannot exist). */
export function parseId(value: unknown): string | undefined {
  return typeof value === 'string' ? parseEntityId(value) : undefined;
}

export function parseInvoiceListQuery(query: Query): InvoiceListQuery {
  const q = query ?? {};
  const result: InvoiceListQuery = { limit: parseLimit(q.limit) };
  const status = single(q.status, 'status');
  if (status !== undefined && status !== '') {
    const upper = status.toUpperCase();
    if (!(INVOICE_STATUSES as readonly string[]).includes(upper)) {
      throw new ValidationError({ field: 'status', message: `must be one of ${INVOICE_STATUSES.join(', ')} (got "${truncate(status)}")` });
    }
    result.status = upper as InvoiceStatus;
  }
  const customerId = single(q.customerId, 'customerId');
  if (customerId !== undefined && customerId !== '') {
    if (customerId.length > 200) throw new ValidationError({ field: 'customerId', message: 'must be at most 200 characters' });
    result.customerId = customerId;
  }
  const cursor = single(q.cursor, 'cursor');
  if (cursor !== undefined && cursor !== '') result.cursor = decodeInvoiceCursor(cursor);
  return result;
}

export function parseJournalListQuery(query: Query): JournalListQuery {
  const q = query ?? {};
  const result: JournalListQuery = { limit: parseLimit(q.limit), ...parseDateRange(q) };
  const source = single(q.source, 'source');
  if (source !== undefined && source !== '') {
    if (!(JOURNAL_SOURCES as readonly string[]).includes(source)) {
      throw new ValidationError({ field: 'source', message: `must be one of ${JOURNAL_SOURCES.join(', ')} (got "${truncate(source)}")` });
    }
    result.source = source as JournalSource;
  }
  const cursor = single(q.cursor, 'cursor');
  if (cursor !== undefined && cursor !== '') result.cursor = decodeJournalCursor(cursor);
  return result;
}

/** A date range and an optional `currency` (three letters, any case, like `status`). */
export function parseTrialBalanceQuery(query: Query): TrialBalanceQuery {
  const result: TrialBalanceQuery = parseDateRange(query);
  const currency = single((query ?? {}).currency, 'currency');
  if (currency !== undefined && currency !== '') result.currency = parseCurrencyCode(currency.toUpperCase(), 'currency');
  return result;
}

/** Optional inclusive `from` / `to` calendar dates; from must not be after to. */
export function parseDateRange(query: Query): DateRangeQuery {
  const q = query ?? {};
  const range: DateRangeQuery = {};
  for (const field of ['from', 'to'] as const) {
    const value = single(q[field], field);
    if (value === undefined || value === '') continue;
    if (!isCalendarDate(value)) throw new ValidationError({ field, message: `must be a date "YYYY-MM-DD" (got "${truncate(value)}")` });
    range[field] = value;
  }
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new ValidationError({ field: 'from', message: `must not be after to (${range.from} > ${range.to})` });
  }
  return range;
}

export function parseLimit(value: unknown): number {
  const raw = single(value, 'limit');
  if (raw === undefined || raw === '') return DEFAULT_PAGE_LIMIT;
  if (!/^\d{1,6}$/.test(raw)) throw new ValidationError({ field: 'limit', message: `must be an integer between 1 and ${MAX_PAGE_LIMIT} (got "${truncate(raw)}")` });
  const limit = Number(raw);
  if (limit < 1 || limit > MAX_PAGE_LIMIT) throw new ValidationError({ field: 'limit', message: `must be between 1 and ${MAX_PAGE_LIMIT} (got ${limit})` });
  return limit;
}

export function encodeInvoiceCursor(cursor: InvoiceCursor): string {
  return Buffer.from(`i1|${cursor.createdAt}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeInvoiceCursor(value: string): InvoiceCursor {
  const parts = decodeCursor(value, 'i1');
  if (parts === undefined || !isCursorTime(parts[0]) || !UUID_PATTERN.test(parts[1])) throw badCursor();
  return { createdAt: parts[0], id: parts[1] };
}

/** A time PostgreSQL accepts as timestamptz: shaped like the ones this API writes, and one that exists (not 2026-02-30 or 24:00). */
function isCursorTime(value: string): boolean {
  const m = CURSOR_TIME.exec(value);
  return m !== null && isCalendarDate(m[1]) && Number(m[2]) <= 23 && Number(m[3]) <= 59 && Number(m[4]) <= 59;
}

export function encodeJournalCursor(cursor: JournalCursor): string {
  return Buffer.from(`j1|${cursor.entryDate}|${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeJournalCursor(value: string): JournalCursor {
  const parts = decodeCursor(value, 'j1');
  if (parts === undefined || !isCalendarDate(parts[0]) || !UUID_PATTERN.test(parts[1])) throw badCursor();
  return { entryDate: parts[0], id: parts[1] };
}

function decodeCursor(value: string, kind: string): [string, string] | undefined {
  if (value.length > 200 || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  const parts = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (parts.length !== 3 || parts[0] !== kind) return undefined;
  return [parts[1], parts[2]];
}

function badCursor(): ValidationError {
  return new ValidationError({ field: 'cursor', message: 'is not a cursor this API returned (use nextCursor from the previous page)' });
}

/** One query-string value: repeated parameters (?status=A&status=B) are rejected. */
function single(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) throw new ValidationError({ field, message: 'must be given once' });
  if (typeof value !== 'string') throw new ValidationError({ field, message: 'must be a string' });
  if (hasUnstorableCharacters(value)) throw new ValidationError({ field, message: UNSTORABLE_MESSAGE });
  return value.trim();
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
