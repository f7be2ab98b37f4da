/**
 * Bulk writer of projector output into the read-model tables (live or a rollback's shadow copies).
 *
 * Each table gets at most ONE statement per batch: `INSERT ... SELECT * FROM unnest($1::uuid[], ...)`
 * with every column as one array parameter. The parameter count is fixed (node-pg wraps the count of
 * bind parameters at 65536, so multi-row VALUES break on big batches), and the projector already
 * folded the batch to one row per key (ON CONFLICT DO UPDATE fails when a statement touches a key
 * twice). Arrays are sent as PostgreSQL array literals built here, which is cheaper than letting
 * node-pg convert every element.
 *
 * Idempotent: invoices are upserted only over rows with a smaller last_position; payments, journal
 * entries and their lines are insert-once by primary key. The caller owns the transaction.
 */
import type { ClientBase, Pool } from 'pg';
import type { InvoiceRow, InvoiceStatus, ProjectionBatch, ReadModelTables } from './read-model-rows';
import { LIVE_TABLES } from './read-model-rows';

export { LIVE_TABLES, readModelTables } from './read-model-rows';
export type { ReadModelTables } from './read-model-rows';

/** A connection (inside the caller's transaction) or a pool. */
export type Queryable = ClientBase | Pool;

export interface WriteOptions {
  /**
   * 'upsert' (default): safe against rows already present (live projection, re-delivery).
   * 'insert': plain inserts for tables known to be empty of these keys (a rebuild into fresh shadow
   * tables): no conflict handling, a duplicate key fails the statement.
   */
  mode?: 'upsert' | 'insert';
}

export interface WriteResult {
  invoices: number;
  payments: number;
  journalEntries: number;
  journalLines: number;
}

/** Writes one projected batch: one statement per non-empty table. */
export async function writeBatch(
  client: Queryable,
  batch: ProjectionBatch,
  tables: ReadModelTables = LIVE_TABLES,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const insertOnly = options.mode === 'insert';
  const result: WriteResult = { invoices: 0, payments: 0, journalEntries: 0, journalLines: 0 };
  if (batch.invoices.size > 0) {
    const { text, values } = invoiceStatement(batch.invoices, tables.invoices, insertOnly);
    result.invoices = (await client.query(text, values)).rowCount ?? 0;
  }
  if (batch.payments.length > 0) {
    const { text, values } = paymentStatement(batch, tables.payments, insertOnly);
    result.payments = (await client.query(text, values)).rowCount ?? 0;
  }
  if (batch.journalEntries.length > 0) {
    const entries = journalEntryStatement(batch, tables.journalEntries, insertOnly);
    result.journalEntries = (await client.query(entries.text, entries.values)).rowCount ?? 0;
    const lines = journalLineStatement(batch, tables.journalLines, insertOnly);
    if (lines.values[0] !== '{}') result.journalLines = (await client.query(lines.text, lines.values)).rowCount ?? 0;
  }
  return result;
}

/** Current rows of the given invoices (unknown ids are absent from the map). */
export async function loadInvoices(client: Queryable, ids: readonly string[], tables: ReadModelTables = LIVE_TABLES): Promise<Map<string, InvoiceRow>> {
  const rows = new Map<string, InvoiceRow>();
  if (ids.length === 0) return rows;
  const { rows: found } = await client.query<LoadedInvoice>({
    text: `SELECT id::text AS id, tenant_id, customer_id, currency, status,
        subtotal_minor::text AS subtotal, vat_minor::text AS vat, total_minor::text AS total,
        amount_paid_minor::text AS paid, balance_due_minor::text AS balance,
        to_char(due_date, 'YYYY-MM-DD') AS due_date, line_count, version, last_position::text AS last_position,
        floor(extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
        floor(extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms
      FROM ${quoteTable(tables.invoices)} WHERE id = ANY($1::uuid[])`,
    values: [literal(ids)],
  });
  for (const r of found) {
    rows.set(r.id, {
      id: r.id,
      tenantId: r.tenant_id,
      customerId: r.customer_id,
      currency: r.currency,
      status: r.status,
      subtotalMinor: BigInt(r.subtotal),
      vatMinor: BigInt(r.vat),
      totalMinor: BigInt(r.total),
      amountPaidMinor: BigInt(r.paid),
      balanceDueMinor: BigInt(r.balance),
      dueDate: r.due_date,
      lineCount: r.line_count,
      version: r.version,
      lastPosition: BigInt(r.last_position),
      createdAt: new Date(r.created_ms),
      updatedAt: new Date(r.updated_ms),
    });
  }
  return rows;
}

interface LoadedInvoice {
  id: string;
  tenant_id: string;
  customer_id: string;
  currency: string;
  status: InvoiceStatus;
  subtotal: string;
  vat: string;
  total: string;
  paid: string;
  balance: string;
  due_date: string;
  line_count: number;
  version: number;
  last_position: string;
  created_ms: number;
  updated_ms: number;
}

// ---------------------------------------------------------------------------------------------

interface Statement {
  text: string;
  values: string[];
}

const INVOICE_COLUMNS =
  'id, tenant_id, customer_id, currency, status, subtotal_minor, vat_minor, total_minor, amount_paid_minor, balance_due_minor, due_date, line_count, version, last_position, created_at, updated_at';
const INVOICE_TYPES = ['uuid', 'text', 'text', 'text', 'text', 'int8', 'int8', 'int8', 'int8', 'int8', 'date', 'int4', 'int4', 'int8', 'timestamptz', 'timestamptz'];
const INVOICE_UPDATE = [
  'tenant_id', 'customer_id', 'currency', 'status', 'subtotal_minor', 'vat_minor', 'total_minor', 'amount_paid_minor',
  'balance_due_minor', 'due_date', 'line_count', 'version', 'last_position', 'updated_at',
].map((c) => `${c} = EXCLUDED.${c}`).join(', ');

function invoiceStatement(rows: ReadonlyMap<string, InvoiceRow>, table: string, insertOnly: boolean): Statement {
  const count = rows.size;
  const id = new Array<string>(count);
  const tenant = new Array<string>(count);
  const customer = new Array<string>(count);
  const currency = new Array<string>(count);
  const status = new Array<string>(count);
  const subtotal = new Array<bigint>(count);
  const vat = new Array<bigint>(count);
  const total = new Array<bigint>(count);
  const paid = new Array<bigint>(count);
  const balance = new Array<bigint>(count);
  const due = new Array<string>(count);
  const lineCount = new Array<number>(count);
  const version = new Array<number>(count);
  const position = new Array<bigint>(count);
  const created = new Array<string>(count);
  const updated = new Array<string>(count);
  let i = 0;
  for (const r of rows.values()) {
    id[i] = r.id;
    tenant[i] = quote(r.tenantId);
    customer[i] = quote(r.customerId);
    currency[i] = quote(r.currency);
    status[i] = r.status;
    subtotal[i] = r.subtotalMinor;
    vat[i] = r.vatMinor;
    total[i] = r.totalMinor;
    paid[i] = r.amountPaidMinor;
    balance[i] = r.balanceDueMinor;
    due[i] = r.dueDate;
    lineCount[i] = r.lineCount;
    version[i] = r.version;
    position[i] = r.lastPosition;
    created[i] = r.createdAt.toISOString();
    updated[i] = r.updatedAt.toISOString();
    i++;
  }
  const t = quoteTable(table);
  const conflict = insertOnly ? '' : ` ON CONFLICT (id) DO UPDATE SET ${INVOICE_UPDATE} WHERE t.last_position < EXCLUDED.last_position`;
  return {
    text: `INSERT INTO ${t} AS t (${INVOICE_COLUMNS}) SELECT * FROM unnest(${casts(INVOICE_TYPES)})${conflict}`,
    values: [id, tenant, customer, currency, status, subtotal, vat, total, paid, balance, due, lineCount, version, position, created, updated].map(literal),
  };
}

const PAYMENT_COLUMNS = 'id, invoice_id, tenant_id, amount_minor, method, reference, paid_at, position';
const PAYMENT_TYPES = ['uuid', 'uuid', 'text', 'int8', 'text', 'text', 'timestamptz', 'int8'];

function paymentStatement(batch: ProjectionBatch, table: string, insertOnly: boolean): Statement {
  const n = batch.payments.length;
  const id = new Array<string>(n);
  const invoice = new Array<string>(n);
  const tenant = new Array<string>(n);
  const amount = new Array<bigint>(n);
  const method = new Array<string>(n);
  const reference = new Array<string>(n);
  const paidAt = new Array<string>(n);
  const position = new Array<bigint>(n);
  for (let i = 0; i < n; i++) {
    const p = batch.payments[i];
    id[i] = p.id;
    invoice[i] = p.invoiceId;
    tenant[i] = quote(p.tenantId);
    amount[i] = p.amountMinor;
    method[i] = quote(p.method);
    reference[i] = quote(p.reference);
    paidAt[i] = quote(p.paidAt);
    position[i] = p.position;
  }
  return {
    text: `INSERT INTO ${quoteTable(table)} (${PAYMENT_COLUMNS}) SELECT * FROM unnest(${casts(PAYMENT_TYPES)})${insertOnly ? '' : ' ON CONFLICT (id) DO NOTHING'}`,
    values: [id, invoice, tenant, amount, method, reference, paidAt, position].map(literal),
  };
}

const ENTRY_COLUMNS = 'id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at';
const ENTRY_TYPES = ['uuid', 'text', 'text', 'uuid', 'date', 'text', 'text', 'int8', 'int8', 'int8', 'timestamptz'];

function journalEntryStatement(batch: ProjectionBatch, table: string, insertOnly: boolean): Statement {
  const n = batch.journalEntries.length;
  const id = new Array<string>(n);
  const tenant = new Array<string>(n);
  const source = new Array<string>(n);
  const sourceId = new Array<string>(n);
  const date = new Array<string>(n);
  const memo = new Array<string>(n);
  const currency = new Array<string>(n);
  const debit = new Array<bigint>(n);
  const credit = new Array<bigint>(n);
  const position = new Array<bigint>(n);
  const created = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = batch.journalEntries[i];
    id[i] = e.id;
    tenant[i] = quote(e.tenantId);
    source[i] = e.source;
    sourceId[i] = e.sourceId ?? 'NULL';
    date[i] = e.entryDate;
    memo[i] = quote(e.memo);
    currency[i] = quote(e.currency);
    debit[i] = e.totalDebitMinor;
    credit[i] = e.totalCreditMinor;
    position[i] = e.position;
    created[i] = e.createdAt.toISOString();
  }
  return {
    text: `INSERT INTO ${quoteTable(table)} (${ENTRY_COLUMNS}) SELECT * FROM unnest(${casts(ENTRY_TYPES)})${insertOnly ? '' : ' ON CONFLICT (id) DO NOTHING'}`,
    values: [id, tenant, source, sourceId, date, memo, currency, debit, credit, position, created].map(literal),
  };
}

const LINE_COLUMNS = 'journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency';
const LINE_TYPES = ['uuid', 'int4', 'text', 'text', 'int8', 'int8', 'date', 'text'];

function journalLineStatement(batch: ProjectionBatch, table: string, insertOnly: boolean): Statement {
  const entry: string[] = [];
  const lineNo: number[] = [];
  const tenant: string[] = [];
  const account: string[] = [];
  const debit: bigint[] = [];
  const credit: bigint[] = [];
  const date: string[] = [];
  const currency: string[] = [];
  for (const e of batch.journalEntries) {
    const tenantId = quote(e.tenantId);
    const entryCurrency = quote(e.currency);
    for (const line of e.lines) {
      entry.push(e.id);
      lineNo.push(line.lineNo);
      tenant.push(tenantId);
      account.push(quote(line.accountCode));
      debit.push(line.debitMinor);
      credit.push(line.creditMinor);
      date.push(e.entryDate);
      currency.push(entryCurrency);
    }
  }
  return {
    text: `INSERT INTO ${quoteTable(table)} (${LINE_COLUMNS}) SELECT * FROM unnest(${casts(LINE_TYPES)})${insertOnly ? '' : ' ON CONFLICT (journal_entry_id, line_no) DO NOTHING'}`,
    values: [entry, lineNo, tenant, account, debit, credit, date, currency].map(literal),
  };
}

// ---------------------------------------------------------------------------------------------

function casts(types: string[]): string {
  return types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
}

/** A PostgreSQL array literal from elements already in literal form (numbers, uuids, quoted text). */
function literal(elements: ArrayLike<unknown> & { join(separator: string): string }): string {
  return `{${elements.join(',')}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** One quoted array element: "..." with " and \ escaped (also makes the text "NULL" a string). */
export function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPE, '\\$&')}"` : `"${value}"`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** "table" or "schema"."table", rejecting anything that is not a plain identifier. */
export function quoteTable(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) throw new RangeError(`not a plain table name: ${JSON.stringify(name)}`);
  return parts.map((p) => `"${p}"`).join('.');
}
