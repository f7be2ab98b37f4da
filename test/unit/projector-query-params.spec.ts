/** Query-string parsing of the read API (pure): defaults, limits, filters, cursors, 400s naming the field. */
import { ValidationError } from '../../services/finance/src/domain/errors';
import {
  decodeInvoiceCursor,
  encodeInvoiceCursor,
  encodeJournalCursor,
  parseDateRange,
  parseId,
  parseInvoiceListQuery,
  parseJournalListQuery,
} from '../../services/finance/src/http/queries/query-params';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('read API query parameters', () => {
  it('defaults the limit to 50 and caps it at 200', () => {
    expect(parseInvoiceListQuery(undefined)).toEqual({ limit: 50 });
    expect(parseInvoiceListQuery({ limit: '200' }).limit).toBe(200);
    for (const bad of ['0', '201', '-1', '1.5', 'ten', '1e2']) expect(fieldOf(() => parseInvoiceListQuery({ limit: bad }))).toBe('limit');
  });

  it('accepts the five statuses (any case) and rejects others naming status', () => {
    expect(parseInvoiceListQuery({ status: 'paid' }).status).toBe('PAID');
    expect(parseInvoiceListQuery({ status: 'PARTIALLY_PAID', customerId: 'C-1' })).toEqual({ limit: 50, status: 'PARTIALLY_PAID', customerId: 'C-1' });
    expect(fieldOf(() => parseInvoiceListQuery({ status: 'OPEN' }))).toBe('status');
    expect(fieldOf(() => parseInvoiceListQuery({ status: ['PAID', 'DRAFT'] }))).toBe('status');
  });

  it('round-trips opaque cursors and rejects forged or foreign ones naming cursor', () => {
    const cursor = { createdAt: '2026-11-26T12:00:00.123456Z', id: '0d0d0d0d-0000-4000-8000-000000000001' };
    const encoded = encodeInvoiceCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parseInvoiceListQuery({ cursor: encoded }).cursor).toEqual(cursor);
    expect(decodeInvoiceCursor(encoded)).toEqual(cursor);
    const journal = encodeJournalCursor({ entryDate: '2026-11-01', id: cursor.id });
    for (const bad of ['nope!', 'abc', journal, Buffer.from("i1|2026-11-26'; DROP|x").toString('base64url')]) {
      expect(fieldOf(() => parseInvoiceListQuery({ cursor: bad }))).toBe('cursor');
    }
    expect(parseJournalListQuery({ cursor: journal }).cursor).toEqual({ entryDate: '2026-11-01', id: cursor.id });
    expect(fieldOf(() => parseJournalListQuery({ cursor: encoded }))).toBe('cursor');
  });

  it('validates date ranges naming from / to', () => {
    expect(parseDateRange({ from: '2026-11-01', to: '2026-11-30' })).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(parseDateRange({})).toEqual({});
    expect(fieldOf(() => parseDateRange({ from: '2026-02-30' }))).toBe('from');
    expect(parseDateRange({ from: '0001-01-01', to: '0048-02-29' })).toEqual({ from: '0001-01-01', to: '0048-02-29' }); // years 1-99 are years 1-99
    expect(fieldOf(() => parseDateRange({ from: '0050-02-29' }))).toBe('from');
    expect(fieldOf(() => parseDateRange({ from: '0000-01-01' }))).toBe('from');
    expect(fieldOf(() => parseDateRange({ to: '26-11-2026' }))).toBe('to');
    expect(fieldOf(() => parseDateRange({ from: '2026-12-01', to: '2026-11-01' }))).toBe('from');
    expect(fieldOf(() => parseJournalListQuery({ source: 'import' }))).toBe('source');
    expect(parseJournalListQuery({ source: 'invoice_approval', from: '2026-01-01' })).toEqual({ limit: 50, source: 'invoice_approval', from: '2026-01-01' });
  });

  it('treats a non-uuid path id as unknown (404), and lower-cases uuids', () => {
    expect(parseId('not-a-uuid')).toBeUndefined();
    expect(parseId('0D0D0D0D-0000-4000-8000-000000000001')).toBe('0d0d0d0d-0000-4000-8000-000000000001');
  });
});
