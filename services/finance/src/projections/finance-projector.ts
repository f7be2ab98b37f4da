/**
 * The finance projector: a pure fold of a batch of events into read-model row changes.
 * No database, Nest or I/O imports. The same code serves live projection, rebuild and rollback,
 * so there is one truth about what a read model holds.
 *
 * - Invoices: InvoiceCreated → DRAFT; InvoiceApproved → APPROVED; PaymentRecorded → amount paid
 *   (sum of payments), balance due = total − paid, PARTIALLY_PAID / PAID; InvoiceCancelled → CANCELLED.
 *   version = stream version of the last applied event, lastPosition = its global position.
 * - Payments: one row per PaymentRecorded.
 * - Journal: JournalEntryPosted (manual) plus the postings InvoiceApproved (invoice_approval),
 *   InvoiceCancelled of an approved invoice (invoice_cancellation, the reversal) and PaymentRecorded
 *   (payment) carry. Every entry is balanced; an unbalanced one is rejected as malformed.
 * - Idempotent: an invoice event at or below the invoice row's lastPosition is a re-delivery and
 *   changes nothing (nor emits its payment or journal entry); journal entries and payments are
 *   keyed by id, so the writer inserts them once.
 * - Never throws on event content: unknown types are counted in `unknownEvents`, unusable data in
 *   `malformedEvents` (with the reason in `problems`), and both are skipped.
 */
import type { RecordedEvent } from '../event-store/event-store';
import { isCalendarDate } from '../domain/calendar-date';
import { INVOICE_STREAM_PREFIX, JOURNAL_STREAM_PREFIX } from '../domain/events';
import type {
  InvoiceRow,
  JournalEntryRow,
  JournalLineRow,
  JournalSource,
  ProjectionBatch,
} from './read-model-rows';

const INVOICE_EVENT_TYPES: ReadonlySet<string> = new Set(['InvoiceCreated', 'InvoiceApproved', 'InvoiceCancelled', 'PaymentRecorded']);

/** Ids of the invoices whose current rows the caller must load (and pass as invoicesBefore). */
export function invoiceIdsReferenced(events: readonly RecordedEvent[]): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    if (!INVOICE_EVENT_TYPES.has(event.type)) continue;
    const id = invoiceIdOf(event);
    if (id !== undefined) ids.add(id);
  }
  return [...ids];
}

/** An empty batch result (also what projectBatch returns for no events). */
export function emptyProjectionBatch(): ProjectionBatch {
  return {
    invoices: new Map(),
    payments: [],
    journalEntries: [],
    unknownEvents: 0,
    malformedEvents: 0,
    duplicateEvents: 0,
    eventCount: 0,
    lastPosition: undefined,
    problems: [],
  };
}

/** Where the fold finds an invoice's row before the batch: a Map, or the rebuild's working set. */
export interface InvoiceLookup {
  get(id: string): InvoiceRow | undefined;
}

/**
 * Folds events (in global order) into row changes. `invoicesBefore` holds the current rows of
 * (at least) the invoices invoiceIdsReferenced(events) names; they are never mutated.
 */
export function projectBatch(events: readonly RecordedEvent[], invoicesBefore: InvoiceLookup): ProjectionBatch {
  const out = emptyProjectionBatch();
  const state: FoldState = { out, before: invoicesBefore, journalIds: undefined };
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    try {
      switch (event.type) {
        case 'InvoiceCreated':
          onInvoiceCreated(state, event);
          break;
        case 'InvoiceApproved':
          onInvoiceApproved(state, event);
          break;
        case 'InvoiceCancelled':
          onInvoiceCancelled(state, event);
          break;
        case 'PaymentRecorded':
          onPaymentRecorded(state, event);
          break;
        case 'JournalEntryPosted':
          onJournalEntryPosted(state, event);
          break;
        default:
          out.unknownEvents++;
      }
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      out.malformedEvents++;
      out.problems.push({ position: event.position, streamId: event.streamId, type: event.type, reason: error.message });
    }
  }
  out.eventCount = events.length;
  out.lastPosition = events.length > 0 ? events[events.length - 1].position : undefined;
  return out;
}

// ---------------------------------------------------------------------------------------------

interface FoldState {
  out: ProjectionBatch;
  before: InvoiceLookup;
  /** Journal entry ids emitted in this batch (created on first use). */
  journalIds: Set<string> | undefined;
}

type Data = Record<string, unknown>;

/** Thrown (and caught per event) when an event's data cannot be projected. */
class Malformed extends Error {}

function dataOf(event: RecordedEvent): Data {
  const data = event.data as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Malformed('data must be an object');
  return data as Data;
}

function onInvoiceCreated(state: FoldState, event: RecordedEvent): void {
  const d = dataOf(event);
  const id = requireInvoiceId(event);
  const existing = currentInvoice(state, id);
  if (existing !== undefined) {
    if (event.position <= existing.lastPosition) {
      state.out.duplicateEvents++;
      return;
    }
    throw new Malformed(`invoice ${id} already exists`);
  }
  const tenantId = requireTenant(event);
  const customerId = requireString(d.customerId, 'customerId');
  const currency = requireString(d.currency, 'currency');
  const dueDate = requireDate(d.dueDate, 'dueDate');
  const subtotalMinor = requireMinor(d.subtotalMinor, 'subtotalMinor');
  const vatMinor = requireMinor(d.vatMinor, 'vatMinor');
  const totalMinor = requireMinor(d.totalMinor, 'totalMinor');
  // Only the number of lines is read: the rebuild's reader (postgres-copy-reader.ts) sends no line content.
  const lineCount = Array.isArray(d.lines) ? d.lines.length : 0;
  state.out.invoices.set(id, {
    id,
    tenantId,
    customerId,
    currency,
    status: 'DRAFT',
    subtotalMinor,
    vatMinor,
    totalMinor,
    amountPaidMinor: 0n,
    balanceDueMinor: totalMinor,
    dueDate,
    lineCount,
    version: event.streamVersion,
    lastPosition: event.position,
    createdAt: event.createdAt,
    updatedAt: event.createdAt,
  });
}

function onInvoiceApproved(state: FoldState, event: RecordedEvent): void {
  const d = dataOf(event);
  const id = requireInvoiceId(event);
  const row = invoiceToChange(state, id, event);
  if (row === undefined) return;
  const entry = impliedEntry(event, 'invoice_approval', id, row.tenantId, row.currency, d.approvedAt, `Invoice ${id} approved`);
  if (row.status === 'DRAFT') row.status = 'APPROVED';
  touch(state, row, event);
  emitEntry(state, entry);
}

function onInvoiceCancelled(state: FoldState, event: RecordedEvent): void {
  const d = dataOf(event);
  const id = requireInvoiceId(event);
  const row = invoiceToChange(state, id, event);
  if (row === undefined) return;
  // A cancelled approved invoice carries the reversal of its approval entry; a draft posts nothing.
  const entry =
    d.journalEntryId !== undefined && d.journalEntryId !== null
      ? impliedEntry(event, 'invoice_cancellation', id, row.tenantId, row.currency, d.cancelledAt, `Invoice ${id} cancelled`)
      : undefined;
  row.status = 'CANCELLED';
  touch(state, row, event);
  if (entry !== undefined) emitEntry(state, entry);
}

function onPaymentRecorded(state: FoldState, event: RecordedEvent): void {
  const d = dataOf(event);
  const id = requireInvoiceId(event);
  const row = invoiceToChange(state, id, event);
  if (row === undefined) return;
  const paymentId = requireUuid(d.paymentId, 'paymentId');
  const amountMinor = requireMinor(d.amountMinor, 'amountMinor');
  const method = requireString(d.method, 'method');
  const reference = typeof d.reference === 'string' ? storable(d.reference, 'reference') : '';
  const paidAt = requireTimestamp(d.paidAt, 'paidAt');
  const entry = impliedEntry(event, 'payment', paymentId, row.tenantId, row.currency, paidAt, `Payment for invoice ${id}`);
  // The domain refuses overpayment; events from another writer may not: a sum the bigint column cannot
  // hold would fail every write of the batch, and the projection would retry it for ever.
  if (row.amountPaidMinor + amountMinor > MAX_INT8) throw new Malformed(`invoice ${id}'s payments would exceed a PostgreSQL bigint`);
  row.amountPaidMinor += amountMinor;
  row.balanceDueMinor = row.totalMinor - row.amountPaidMinor;
  if (row.status !== 'CANCELLED') row.status = row.amountPaidMinor >= row.totalMinor ? 'PAID' : 'PARTIALLY_PAID';
  touch(state, row, event);
  state.out.payments.push({
    id: paymentId,
    invoiceId: id,
    tenantId: row.tenantId,
    amountMinor,
    method,
    reference,
    paidAt,
    position: event.position,
  });
  emitEntry(state, entry);
}

function onJournalEntryPosted(state: FoldState, event: RecordedEvent): void {
  const d = dataOf(event);
  const id = requireUuid(d.journalEntryId ?? streamSuffix(event.streamId, JOURNAL_STREAM_PREFIX), 'journalEntryId');
  if (state.journalIds?.has(id)) {
    state.out.duplicateEvents++;
    return;
  }
  const tenantId = requireTenant(event);
  const entryDate = requireDate(d.date, 'date');
  const currency = requireString(d.currency, 'currency');
  const memo = typeof d.memo === 'string' ? storable(d.memo, 'memo') : '';
  const entry = buildEntry(id, tenantId, 'manual', null, entryDate, memo, currency, d.lines, 'lines', event);
  emitEntry(state, entry);
}

// ---------------------------------------------------------------------------------------------

/** The invoice's state so far in this batch, else its row before the batch (not copied). */
function currentInvoice(state: FoldState, id: string): InvoiceRow | undefined {
  return state.out.invoices.get(id) ?? state.before.get(id);
}

/**
 * The mutable row an invoice event changes (copied from invoicesBefore on first touch in the
 * batch), or undefined when the event is a re-delivery. Throws Malformed for an unknown invoice.
 */
function invoiceToChange(state: FoldState, id: string, event: RecordedEvent): InvoiceRow | undefined {
  let row = state.out.invoices.get(id);
  if (row === undefined) {
    const before = state.before.get(id);
    if (before === undefined) throw new Malformed(`invoice ${id} does not exist`);
    if (event.position <= before.lastPosition) {
      state.out.duplicateEvents++;
      return undefined;
    }
    // Validation of the event's own data happens before the copy is stored (see touch()).
    return { ...before };
  }
  if (event.position <= row.lastPosition) {
    state.out.duplicateEvents++;
    return undefined;
  }
  return row;
}

/** Records that `event` was applied to `row` (and stores a first-touch copy in the batch). */
function touch(state: FoldState, row: InvoiceRow, event: RecordedEvent): void {
  row.version = event.streamVersion;
  row.lastPosition = event.position;
  row.updatedAt = event.createdAt;
  state.out.invoices.set(row.id, row);
}

function emitEntry(state: FoldState, entry: JournalEntryRow): void {
  // Implied entries are guarded by their invoice's last_position; manual ones by this set (within a
  // batch) and by the writer's insert-once (across batches).
  if (entry.source === 'manual') (state.journalIds ??= new Set()).add(entry.id);
  state.out.journalEntries.push(entry);
}

/** The journal entry an invoice event implies (its journalEntryId and postings). */
function impliedEntry(
  event: RecordedEvent,
  source: JournalSource,
  sourceId: string,
  tenantId: string,
  currency: string,
  at: unknown,
  memo: string,
): JournalEntryRow {
  const d = dataOf(event);
  const id = requireUuid(d.journalEntryId, 'journalEntryId');
  // The accounting date the command recorded; events from before it had one: the UTC date of `at`.
  const entryDate =
    typeof d.entryDate === 'string' && isCalendarDate(d.entryDate)
      ? d.entryDate
      : typeof at === 'string' && isCalendarDate(at, true)
        ? at.slice(0, 10)
        : recordedDate(event);
  return buildEntry(id, tenantId, source, sourceId, entryDate, memo, currency, d.postings, 'postings', event);
}

function buildEntry(
  id: string,
  tenantId: string,
  source: JournalSource,
  sourceId: string | null,
  entryDate: string,
  memo: string,
  currency: string,
  rawLines: unknown,
  field: string,
  event: RecordedEvent,
): JournalEntryRow {
  if (!Array.isArray(rawLines) || rawLines.length === 0) throw new Malformed(`${field} must be a non-empty array`);
  const lines: JournalLineRow[] = new Array(rawLines.length);
  let totalDebitMinor = 0n;
  let totalCreditMinor = 0n;
  for (let i = 0; i < rawLines.length; i++) {
    // Field names are built only when a check fails (this loop runs for every posting line).
    const raw = rawLines[i] as Data | null;
    if (raw === null || typeof raw !== 'object') throw new Malformed(`${field}[${i}] must be an object`);
    const accountCode = raw.accountCode;
    if (typeof accountCode !== 'string' || accountCode === '' || accountCode.includes(NUL)) {
      throw new Malformed(`${field}[${i}].accountCode must be a non-empty string without NUL characters`);
    }
    const debitMinor = raw.debitMinor === undefined ? 0n : minorOrUndefined(raw.debitMinor);
    const creditMinor = raw.creditMinor === undefined ? 0n : minorOrUndefined(raw.creditMinor);
    if (debitMinor === undefined) throw new Malformed(`${field}[${i}].debitMinor must be non-negative minor units`);
    if (creditMinor === undefined) throw new Malformed(`${field}[${i}].creditMinor must be non-negative minor units`);
    totalDebitMinor += debitMinor;
    totalCreditMinor += creditMinor;
    lines[i] = { lineNo: i + 1, accountCode, debitMinor, creditMinor };
  }
  // The entry's totals are stored in bigint columns too: an entry whose lines sum beyond them (the
  // domain refuses such entries; an older build did not) is skipped, not left to fail the batch forever.
  if (totalDebitMinor > MAX_INT8 || totalCreditMinor > MAX_INT8) throw new Malformed(`journal entry ${id} totals exceed a PostgreSQL bigint`);
  if (totalDebitMinor !== totalCreditMinor) {
    throw new Malformed(`journal entry ${id} is not balanced (debits ${totalDebitMinor}, credits ${totalCreditMinor})`);
  }
  return {
    id,
    tenantId,
    source,
    sourceId,
    entryDate,
    memo,
    currency,
    totalDebitMinor,
    totalCreditMinor,
    position: event.position,
    createdAt: event.createdAt,
    lines,
  };
}

// ---------------------------------------------------------------------------------------------
// Field checks: anything PostgreSQL would reject must be caught here, or one bad event would make
// every write of its batch fail.

const MAX_INT8 = 9223372036854775807n;
/** Groups: hour, minute, second?, offset hours?, offset minutes? */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/;

function invoiceIdOf(event: RecordedEvent): string | undefined {
  const d = event.data as Data | null;
  const raw = d !== null && typeof d === 'object' && d.invoiceId !== undefined ? d.invoiceId : streamSuffix(event.streamId, INVOICE_STREAM_PREFIX);
  return normaliseUuid(raw);
}

function requireInvoiceId(event: RecordedEvent): string {
  const id = invoiceIdOf(event);
  if (id === undefined) throw new Malformed('invoiceId must be a UUID');
  return id;
}

function streamSuffix(streamId: string, prefix: string): string | undefined {
  return streamId.startsWith(prefix) ? streamId.slice(prefix.length) : undefined;
}

/** The uuid in lower case (as PostgreSQL returns it), or undefined. A character loop: cheaper than a regex here. */
function normaliseUuid(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length !== 36) return undefined;
  let upper = false;
  for (let i = 0; i < 36; i++) {
    const c = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return undefined;
    } else if (c >= 97 ? c > 102 : c >= 65 ? (upper = true) && c > 70 : c < 48 || c > 57) {
      return undefined;
    }
  }
  return upper ? value.toLowerCase() : value;
}

function requireUuid(value: unknown, field: string): string {
  const id = normaliseUuid(value);
  if (id === undefined) throw new Malformed(`${field} must be a UUID`);
  return id;
}

function requireTenant(event: RecordedEvent): string {
  const tenantId = (event.metadata as { tenantId?: unknown } | undefined)?.tenantId;
  if (typeof tenantId !== 'string' || tenantId === '') throw new Malformed('metadata.tenantId is missing');
  return storable(tenantId, 'metadata.tenantId');
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new Malformed(`${field} must be a non-empty string`);
  return storable(value, field);
}

/**
 * PostgreSQL refuses NUL in text. The API refuses it too, but an event store may hold such text
 * (EventStoreDB takes any JSON), and one such event would fail its batch on every retry.
 */
const NUL = '\u0000';
function storable(value: string, field: string): string {
  if (value.includes(NUL)) throw new Malformed(`${field} contains a NUL character`);
  return value;
}

function requireMinor(value: unknown, field: string): bigint {
  const minor = minorOrUndefined(value);
  if (minor === undefined) throw new Malformed(`${field} must be non-negative minor units`);
  return minor;
}

/** Non-negative minor units within int8: a digit string (as events carry them) or a safe integer. */
function minorOrUndefined(value: unknown): bigint | undefined {
  if (typeof value === 'string') {
    const length = value.length;
    if (length === 0 || length > 19) return undefined;
    if (length <= 15) {
      // Up to 15 digits fit a double exactly: parse by hand (also the validation), one BigInt().
      let n = 0;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i) - 48;
        if (c < 0 || c > 9) return undefined;
        n = n * 10 + c;
      }
      return BigInt(n);
    }
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    const minor = BigInt(value);
    return minor <= MAX_INT8 ? minor : undefined;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return undefined;
}

function requireDate(value: unknown, field: string): string {
  if (typeof value === 'string' && isCalendarDate(value)) return value;
  throw new Malformed(`${field} must be a date YYYY-MM-DD`);
}

function requireTimestamp(value: unknown, field: string): string {
  const m = typeof value === 'string' ? TIMESTAMP.exec(value) : null;
  if (
    m !== null &&
    isCalendarDate(value as string, true) &&
    Number(m[1]) <= 23 &&
    Number(m[2]) <= 59 &&
    (m[3] === undefined || Number(m[3]) <= 59) &&
    (m[4] === undefined || Number(m[4]) <= 15) &&
    (m[5] === undefined || Number(m[5]) <= 59)
  ) {
    return value as string;
  }
  throw new Malformed(`${field} must be an ISO-8601 timestamp with a time zone`);
}

function recordedDate(event: RecordedEvent): string {
  return event.createdAt.toISOString().slice(0, 10);
}
