/**
 * The seed's rollback loop (`for (const event of events) await this.projectionHandler.handle(event)`)
 * in its fastest honest form, for comparison: events read in pages, then ONE awaited statement per
 * event (data-modifying CTEs do an event's whole change in one round trip; prepared once, so each
 * event costs a bind and an execute, no parse or plan), all inside one
 * transaction, into copies of the read-model tables with their indexes (the seed writes the live,
 * indexed tables after a TRUNCATE).
 */
import type { Pool, PoolClient } from 'pg';
import type { RecordedEvent } from '../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../services/finance/src/event-store/postgres-event-store';
import { FINANCE_STREAM_PREFIXES } from '../services/finance/src/domain/events';
import { LIVE_TABLES, ReadModelTables, readModelTables } from '../services/finance/src/projections/read-model-rows';
import { fillDailyBalancesSql } from '../services/finance/src/rollback/shadow-tables';

/** Copies of the read-model tables (created LIKE the live ones, indexes included). */
const TABLES = readModelTables('_seedway');

const SQL = {
  created: `INSERT INTO ${TABLES.invoices} (id, tenant_id, customer_id, currency, status, subtotal_minor, vat_minor, total_minor, amount_paid_minor,
              balance_due_minor, due_date, line_count, version, last_position, created_at, updated_at)
            VALUES ($1, $2, $3, $4, 'DRAFT', $5, $6, $7, 0, $7, $8, $9, $10, $11, $12, $12)`,
  approved: `WITH inv AS (
               UPDATE ${TABLES.invoices} SET status = 'APPROVED', version = $2, last_position = $3, updated_at = $4 WHERE id = $1 RETURNING tenant_id, currency
             ), entry AS (
               INSERT INTO ${TABLES.journalEntries} (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
               SELECT $5, tenant_id, 'invoice_approval', $1, $6, 'Invoice approved', currency, $7, $7, $3, $4 FROM inv
             )
             INSERT INTO ${TABLES.journalLines} (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
             SELECT $5, l.ord, inv.tenant_id, l.account, l.debit, l.credit, $6, inv.currency FROM inv, unnest($8::text[], $9::int8[], $10::int8[]) WITH ORDINALITY AS l(account, debit, credit, ord)`,
  paid: `WITH inv AS (
           UPDATE ${TABLES.invoices} SET amount_paid_minor = amount_paid_minor + $7, balance_due_minor = balance_due_minor - $7,
             status = CASE WHEN amount_paid_minor + $7 >= total_minor THEN 'PAID' ELSE 'PARTIALLY_PAID' END,
             version = $2, last_position = $3, updated_at = $4 WHERE id = $1 RETURNING tenant_id, currency
         ), payment AS (
           INSERT INTO ${TABLES.payments} (id, invoice_id, tenant_id, amount_minor, method, reference, paid_at, position)
           SELECT $5, $1, tenant_id, $7, $8, $9, $10, $3 FROM inv
         ), entry AS (
           INSERT INTO ${TABLES.journalEntries} (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
           SELECT $6, tenant_id, 'payment', $5, $11, 'Payment', currency, $7, $7, $3, $4 FROM inv
         )
         INSERT INTO ${TABLES.journalLines} (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
         SELECT $6, l.ord, inv.tenant_id, l.account, l.debit, l.credit, $11, inv.currency FROM inv, unnest($12::text[], $13::int8[], $14::int8[]) WITH ORDINALITY AS l(account, debit, credit, ord)`,
  posted: `WITH entry AS (
             INSERT INTO ${TABLES.journalEntries} (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
             VALUES ($1, $2, 'manual', NULL, $3, $4, $5, $6, $6, $7, $8)
           )
           INSERT INTO ${TABLES.journalLines} (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
           SELECT $1, l.ord, $2, l.account, l.debit, l.credit, $3, $5 FROM unnest($9::text[], $10::int8[], $11::int8[]) WITH ORDINALITY AS l(account, debit, credit, ord)`,
};

type Data = Record<string, any>;

function postingArrays(lines: Array<{ accountCode: string; debitMinor: string; creditMinor: string }>): [string[], string[], string[]] {
  return [lines.map((l) => l.accountCode), lines.map((l) => l.debitMinor), lines.map((l) => l.creditMinor)];
}

async function handle(client: PoolClient, e: RecordedEvent): Promise<void> {
  const d = e.data as Data;
  const at = e.createdAt.toISOString();
  const position = e.position.toString();
  switch (e.type) {
    case 'InvoiceCreated':
      await client.query({ name: 'seedway-created', text: SQL.created, values: [
        d.invoiceId, e.metadata.tenantId, d.customerId, d.currency, d.subtotalMinor, d.vatMinor, d.totalMinor, d.dueDate, d.lines.length, e.streamVersion, position, at,
      ] });
      return;
    case 'InvoiceApproved': {
      const total = d.postings.reduce((s: bigint, p: Data) => s + BigInt(p.debitMinor), 0n).toString();
      await client.query({
        name: 'seedway-approved',
        text: SQL.approved,
        values: [d.invoiceId, e.streamVersion, position, at, d.journalEntryId, d.approvedAt.slice(0, 10), total, ...postingArrays(d.postings)],
      });
      return;
    }
    case 'PaymentRecorded':
      await client.query({
        name: 'seedway-paid',
        text: SQL.paid,
        values: [
          d.invoiceId, e.streamVersion, position, at, d.paymentId, d.journalEntryId, d.amountMinor, d.method, d.reference, d.paidAt, d.paidAt.slice(0, 10),
          ...postingArrays(d.postings),
        ],
      });
      return;
    case 'JournalEntryPosted': {
      const total = d.lines.reduce((s: bigint, p: Data) => s + BigInt(p.debitMinor), 0n).toString();
      await client.query({
        name: 'seedway-posted',
        text: SQL.posted,
        values: [d.journalEntryId, e.metadata.tenantId, d.date, d.memo, d.currency, total, position, at, ...postingArrays(d.lines)],
      });
      return;
    }
    default:
      return;
  }
}

/** Replays the finance events up to `toInclusive` the seed's way (the first `limit` only, if given); returns events/s. */
export async function seedWay(pool: Pool, range: { toInclusive: bigint; limit?: number }): Promise<{ events: number; seconds: number; eventsPerSecond: number }> {
  const limit = range.limit ?? Infinity;
  const client = await pool.connect();
  try {
    for (const key of Object.keys(TABLES) as Array<keyof ReadModelTables>) {
      await client.query(`DROP TABLE IF EXISTS ${TABLES[key]}`);
      await client.query(`CREATE TABLE ${TABLES[key]} (LIKE ${LIVE_TABLES[key]} INCLUDING ALL)`);
    }
    const store = new PostgresEventStore(pool);
    const started = process.hrtime.bigint();
    await client.query('BEGIN');
    await client.query(`TRUNCATE ${Object.values(TABLES).join(', ')}`);
    let events = 0;
    read: for await (const page of store.readAll({ toInclusive: range.toInclusive, batchSize: 1000, streamPrefixes: [...FINANCE_STREAM_PREFIXES] })) {
      for (const event of page) {
        await handle(client, event);
        if (++events >= limit) break read;
      }
    }
    // The daily account balances, derived from the lines: summed once (the live table's trigger would add
    // each event's lines, but updating the same few rows a million times in one transaction piles up row versions).
    await client.query(fillDailyBalancesSql(TABLES));
    await client.query('COMMIT');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { events, seconds, eventsPerSecond: events / seconds };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    for (const table of Object.values(TABLES)) await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    client.release();
  }
}
