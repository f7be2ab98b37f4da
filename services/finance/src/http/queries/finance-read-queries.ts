/**
 * The read side of the finance API: tenant-scoped queries over the read models (plain SQL through the
 * pool; no Nest). Every answer is ONE statement, so it sees one consistent snapshot, also while a
 * rollback swaps the tables. Money leaves as decimal strings ("6325.00"), times as ISO-8601 UTC.
 */
import type { Pool } from 'pg';
import { formatMinor } from '../../domain/money';
import { LIVE_TABLES } from '../../projections/read-model-rows';
import type { InvoiceStatus, JournalSource } from '../../projections/read-model-rows';
import { ValidationError } from '../../domain/errors';
import {
  encodeInvoiceCursor,
  encodeJournalCursor,
  InvoiceListQuery,
  JournalListQuery,
  TrialBalanceQuery,
} from './query-params';

export interface InvoiceView {
  id: string;
  customerId: string;
  currency: string;
  status: InvoiceStatus;
  subtotal: string;
  vatTotal: string;
  total: string;
  amountPaid: string;
  balanceDue: string;
  dueDate: string;
  lineCount: number;
  /** Stream version of the last event applied (0-based): the expectedVersion for the next command. */
  version: number;
  /** Global position of the last event applied (decimal string). */
  lastPosition: string;
  createdAt: string;
  updatedAt: string;
}

export interface PaymentView {
  id: string;
  invoiceId: string;
  amount: string;
  method: string;
  reference: string;
  paidAt: string;
  position: string;
}

export interface JournalLineView {
  lineNo: number;
  accountCode: string;
  debit: string;
  credit: string;
}

export interface JournalEntryView {
  id: string;
  source: JournalSource;
  sourceId: string | null;
  date: string;
  memo: string;
  currency: string;
  totalDebit: string;
  totalCredit: string;
  position: string;
  createdAt: string;
  lines: JournalLineView[];
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface TrialBalanceAccount {
  accountCode: string;
  debit: string;
  credit: string;
  /** debit − credit (negative for credit balances). */
  balance: string;
}

export interface TrialBalanceView {
  from: string | null;
  to: string | null;
  /** The currency of every amount below; null when the range holds no amounts. */
  currency: string | null;
  accounts: TrialBalanceAccount[];
  totals: { debit: string; credit: string };
  /** Total debits equal total credits. */
  balanced: boolean;
}

const T = LIVE_TABLES;
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

const INVOICE_COLUMNS = `id::text AS id, customer_id, currency, status,
  subtotal_minor::text AS subtotal, vat_minor::text AS vat, total_minor::text AS total,
  amount_paid_minor::text AS paid, balance_due_minor::text AS balance,
  to_char(due_date, 'YYYY-MM-DD') AS due_date, line_count, version, last_position::text AS last_position,
  to_char(created_at AT TIME ZONE 'UTC', ${ISO_MS}) AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', ${ISO_MS}) AS updated_at,
  to_char(created_at AT TIME ZONE 'UTC', ${ISO_US}) AS cursor_time`;

interface InvoiceRecord {
  id: string;
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
  created_at: string;
  updated_at: string;
  cursor_time: string;
}

const JOURNAL_COLUMNS = `e.id::text AS id, e.source, e.source_id::text AS source_id, to_char(e.entry_date, 'YYYY-MM-DD') AS entry_date,
  e.memo, e.currency, e.total_debit_minor::text AS debit, e.total_credit_minor::text AS credit, e.position::text AS position,
  to_char(e.created_at AT TIME ZONE 'UTC', ${ISO_MS}) AS created_at,
  (SELECT coalesce(json_agg(json_build_object('n', l.line_no, 'a', l.account_code, 'd', l.debit_minor::text, 'c', l.credit_minor::text) ORDER BY l.line_no), '[]')
     FROM ${T.journalLines} l WHERE l.journal_entry_id = e.id AND l.tenant_id = e.tenant_id) AS lines`;

interface JournalRecord {
  id: string;
  source: JournalSource;
  source_id: string | null;
  entry_date: string;
  memo: string;
  currency: string;
  debit: string;
  credit: string;
  position: string;
  created_at: string;
  lines: Array<{ n: number; a: string; d: string; c: string }>;
}

export class FinanceReadQueries {
  constructor(private readonly pool: Pool) {}

  async getInvoice(tenantId: string, id: string): Promise<InvoiceView | undefined> {
    const { rows } = await this.pool.query<InvoiceRecord>(`SELECT ${INVOICE_COLUMNS} FROM ${T.invoices} WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows.length === 0 ? undefined : invoiceView(rows[0]);
  }

  /** Newest first (created_at DESC, id DESC), keyset-paginated. */
  async listInvoices(tenantId: string, query: InvoiceListQuery): Promise<Page<InvoiceView>> {
    const params: unknown[] = [tenantId];
    let where = 'tenant_id = $1';
    if (query.status !== undefined) {
      params.push(query.status);
      where += ` AND status = $${params.length}`;
    }
    if (query.customerId !== undefined) {
      params.push(query.customerId);
      where += ` AND customer_id = $${params.length}`;
    }
    if (query.cursor !== undefined) {
      params.push(query.cursor.createdAt, query.cursor.id);
      where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    params.push(query.limit + 1);
    const { rows } = await this.pool.query<InvoiceRecord>(
      `SELECT ${INVOICE_COLUMNS} FROM ${T.invoices} WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map(invoiceView),
      nextCursor: more && last ? encodeInvoiceCursor({ createdAt: last.cursor_time, id: last.id }) : null,
    };
  }

  /** The invoice's payments in the order recorded; undefined when the invoice does not exist for the tenant. */
  async listPayments(tenantId: string, invoiceId: string): Promise<PaymentView[] | undefined> {
    const { rows } = await this.pool.query<{ id: string | null; amount: string; method: string; reference: string; paid_at: string; position: string }>(
      `SELECT p.id::text AS id, p.amount_minor::text AS amount, p.method, p.reference,
         to_char(p.paid_at AT TIME ZONE 'UTC', ${ISO_MS}) AS paid_at, p.position::text AS position
       FROM ${T.invoices} i LEFT JOIN ${T.payments} p ON p.invoice_id = i.id AND p.tenant_id = i.tenant_id
       WHERE i.tenant_id = $1 AND i.id = $2
       ORDER BY p.position`,
      [tenantId, invoiceId],
    );
    if (rows.length === 0) return undefined;
    return rows
      .filter((r) => r.id !== null)
      .map((r) => ({
        id: r.id as string,
        invoiceId,
        amount: formatMinor(r.amount),
        method: r.method,
        reference: r.reference,
        paidAt: r.paid_at,
        position: r.position,
      }));
  }

  async getJournalEntry(tenantId: string, id: string): Promise<JournalEntryView | undefined> {
    const { rows } = await this.pool.query<JournalRecord>(`SELECT ${JOURNAL_COLUMNS} FROM ${T.journalEntries} e WHERE e.tenant_id = $1 AND e.id = $2`, [tenantId, id]);
    return rows.length === 0 ? undefined : journalView(rows[0]);
  }

  /** Oldest first (entry_date, id), optionally within [from, to], keyset-paginated. */
  async listJournalEntries(tenantId: string, query: JournalListQuery): Promise<Page<JournalEntryView>> {
    const params: unknown[] = [tenantId];
    let where = 'e.tenant_id = $1';
    if (query.from !== undefined) {
      params.push(query.from);
      where += ` AND e.entry_date >= $${params.length}::date`;
    }
    if (query.to !== undefined) {
      params.push(query.to);
      where += ` AND e.entry_date <= $${params.length}::date`;
    }
    if (query.source !== undefined) {
      params.push(query.source);
      where += ` AND e.source = $${params.length}`;
    }
    if (query.cursor !== undefined) {
      params.push(query.cursor.entryDate, query.cursor.id);
      where += ` AND (e.entry_date, e.id) > ($${params.length - 1}::date, $${params.length}::uuid)`;
    }
    params.push(query.limit + 1);
    const { rows } = await this.pool.query<JournalRecord>(
      `SELECT ${JOURNAL_COLUMNS} FROM ${T.journalEntries} e WHERE ${where} ORDER BY e.entry_date, e.id LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map(journalView),
      nextCursor: more && last ? encodeJournalCursor({ entryDate: last.entry_date, id: last.id }) : null,
    };
  }

  /**
   * Debits and credits per account over the tenant's journal lines (optionally by entry date), from
   * their daily balances, in one currency: amounts in different currencies are never added together.
   * Without `currency`, the range must hold only one (a ValidationError on `currency` lists them).
   */
  async trialBalance(tenantId: string, query: TrialBalanceQuery = {}): Promise<TrialBalanceView> {
    const params: unknown[] = [tenantId];
    let where = 'tenant_id = $1';
    if (query.from !== undefined) {
      params.push(query.from);
      where += ` AND entry_date >= $${params.length}::date`;
    }
    if (query.to !== undefined) {
      params.push(query.to);
      where += ` AND entry_date <= $${params.length}::date`;
    }
    if (query.currency !== undefined) {
      params.push(query.currency);
      where += ` AND currency = $${params.length}`;
    }
    const { rows } = await this.pool.query<{ currency: string; account_code: string; debit: string; credit: string }>(
      `SELECT currency, account_code, sum(debit_minor)::text AS debit, sum(credit_minor)::text AS credit
       FROM ${T.accountDailyBalances} WHERE ${where} GROUP BY currency, account_code ORDER BY currency, account_code`,
      params,
    );
    const currencies = [...new Set(rows.map((r) => r.currency))];
    if (currencies.length > 1) {
      throw new ValidationError({
        field: 'currency',
        message: `is required: the ledger holds amounts in ${currencies.join(', ')}${query.from !== undefined || query.to !== undefined ? ' in this date range' : ''}, and amounts in different currencies are never added together`,
      });
    }
    let totalDebit = 0n;
    let totalCredit = 0n;
    const accounts = rows.map((r) => {
      const debit = BigInt(r.debit);
      const credit = BigInt(r.credit);
      totalDebit += debit;
      totalCredit += credit;
      return { accountCode: r.account_code, debit: formatMinor(debit), credit: formatMinor(credit), balance: formatMinor(debit - credit) };
    });
    return {
      from: query.from ?? null,
      to: query.to ?? null,
      currency: query.currency ?? currencies[0] ?? null,
      accounts,
      totals: { debit: formatMinor(totalDebit), credit: formatMinor(totalCredit) },
      balanced: totalDebit === totalCredit,
    };
  }
}

function invoiceView(r: InvoiceRecord): InvoiceView {
  return {
    id: r.id,
    customerId: r.customer_id,
    currency: r.currency,
    status: r.status,
    subtotal: formatMinor(r.subtotal),
    vatTotal: formatMinor(r.vat),
    total: formatMinor(r.total),
    amountPaid: formatMinor(r.paid),
    balanceDue: formatMinor(r.balance),
    dueDate: r.due_date,
    lineCount: r.line_count,
    version: r.version,
    lastPosition: r.last_position,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function journalView(r: JournalRecord): JournalEntryView {
  return {
    id: r.id,
    source: r.source,
    sourceId: r.source_id,
    date: r.entry_date,
    memo: r.memo,
    currency: r.currency,
    totalDebit: formatMinor(r.debit),
    totalCredit: formatMinor(r.credit),
    position: r.position,
    createdAt: r.created_at,
    lines: r.lines.map((l) => ({ lineNo: l.n, accountCode: l.a, debit: formatMinor(l.d), credit: formatMinor(l.c) })),
  };
}
