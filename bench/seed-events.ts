/**
 * Seeds the PostgreSQL event store with a realistic finance history, entirely in SQL (seconds, not
 * minutes): invoices created with 3 lines, approved a little later, paid once or in two instalments
 * much later, interleaved with manual journal entries. Events of one invoice are spread over
 * thousands of other events, as in production. Ids are UUIDs, metadata carries tenant, user,
 * correlation and causation ids, amounts and postings are balanced like the write side's.
 *
 * Event count = invoices × 3.5 + journal entries (every second invoice is paid in two instalments).
 */
import type { ClientBase } from 'pg';

export interface SeedPlan {
  invoices: number;
  journalEntries: number;
  tenants?: number;
}

/** 1,000,000 events: 200,000 invoices (700,000 events) and 300,000 journal entries. */
export const MILLION_EVENTS: SeedPlan = { invoices: 200_000, journalEntries: 300_000, tenants: 20 };

export function eventCount(plan: SeedPlan): number {
  return plan.invoices * 3 + Math.ceil(plan.invoices / 2) + plan.journalEntries;
}

/**
 * Inserts the events with explicit global positions 1..N (in time order) and moves the identity on.
 * The events table's secondary constraints are dropped during the load and rebuilt after it.
 */
export async function seedEvents(client: ClientBase, plan: SeedPlan): Promise<number> {
  const tenants = plan.tenants ?? 20;
  await client.query(`SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'; SET synchronous_commit = off`);
  // 1. The timeline: (sort key, kind, n) for every event; small rows, sorted in memory.
  // A deterministic, well-formed v4-style UUID from a label and a number.
  await client.query(`
    CREATE OR REPLACE FUNCTION bench_uuid_of(label text, n int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT overlay(overlay(md5(label || ':' || n) PLACING '4' FROM 13) PLACING '8' FROM 17)::uuid
    $$`);
  await client.query(
    `CREATE TEMP TABLE seed_timeline AS
       SELECT row_number() OVER (ORDER BY key, kind, n) AS pos, key, kind, n FROM (
         SELECT i * 5.0 AS key, 0 AS kind, i AS n FROM generate_series(0, $1 - 1) AS i                         -- created
         UNION ALL SELECT i * 5.0 + 1 + (i % 50) * 5, 1, i FROM generate_series(0, $1 - 1) AS i                -- approved soon after
         UNION ALL SELECT i * 5.0 + 502 + (i % 997) * 5, 2, i FROM generate_series(0, $1 - 1) AS i            -- paid later
         UNION ALL SELECT i * 5.0 + 2504 + (i % 997) * 5 + (i % 1999) * 5, 3, i
                     FROM generate_series(0, $1 - 1) AS i WHERE i % 2 = 0                                    -- second instalment
         UNION ALL SELECT j * ($1 * 5.0 / greatest($2, 1)) + 0.5, 4, j FROM generate_series(0, $2 - 1) AS j   -- manual entries
       ) g
       ORDER BY 1`,
    [plan.invoices, plan.journalEntries],
  );
  await client.query(`ALTER TABLE events DROP CONSTRAINT events_event_id_key, DROP CONSTRAINT events_stream_version_key`);
  // 2. The events, computed row by row from (kind, n) while scanning the timeline in position order,
  //    so the heap ends up in position order like a real store's.
  const { rowCount } = await client.query(
    `INSERT INTO events (global_position, stream_id, stream_version, event_id, type, data, metadata, created_at)
     OVERRIDING SYSTEM VALUE
     SELECT t.pos,
            CASE WHEN t.kind = 4 THEN 'journal-' || t.journal_id ELSE 'invoice-' || t.invoice_id END,
            CASE WHEN t.kind = 4 THEN 0 ELSE t.kind END,
            bench_uuid_of('event', t.pos::int),
            (ARRAY['InvoiceCreated', 'InvoiceApproved', 'PaymentRecorded', 'PaymentRecorded', 'JournalEntryPosted'])[t.kind + 1],
            CASE t.kind
              WHEN 0 THEN jsonb_build_object(
                'invoiceId', t.invoice_id, 'customerId', 'C-' || (1000 + t.n % 5000), 'currency', 'BDT',
                'dueDate', to_char(date '2026-01-01' + (t.n % 365), 'YYYY-MM-DD'),
                'lines', jsonb_build_array(
                  jsonb_build_object('description', 'Cement 50kg', 'quantityMilli', t.q1::text, 'unitPriceMinor', t.p1::text, 'vatRateBp', 1500, 'netMinor', t.n1::text, 'vatMinor', t.v1::text),
                  jsonb_build_object('description', 'Steel rod 12mm', 'quantityMilli', t.q2::text, 'unitPriceMinor', t.p2::text, 'vatRateBp', 1500, 'netMinor', t.n2::text, 'vatMinor', t.v2::text),
                  jsonb_build_object('description', 'Delivery', 'quantityMilli', t.q3::text, 'unitPriceMinor', t.p3::text, 'vatRateBp', 1000, 'netMinor', t.n3::text, 'vatMinor', t.v3::text)),
                'subtotalMinor', t.subtotal::text, 'vatMinor', t.vat::text, 'totalMinor', (t.subtotal + t.vat)::text,
                'createdAt', t.at)
              WHEN 1 THEN jsonb_build_object(
                'invoiceId', t.invoice_id, 'approvedAt', t.at, 'journalEntryId', bench_uuid_of('approval', t.n),
                'postings', jsonb_build_array(
                  jsonb_build_object('accountCode', '1100', 'debitMinor', (t.subtotal + t.vat)::text, 'creditMinor', '0'),
                  jsonb_build_object('accountCode', '4000', 'debitMinor', '0', 'creditMinor', t.subtotal::text),
                  jsonb_build_object('accountCode', '2100', 'debitMinor', '0', 'creditMinor', t.vat::text)))
              WHEN 4 THEN jsonb_build_object(
                'journalEntryId', t.journal_id, 'date', to_char(date '2026-01-01' + (t.n % 365), 'YYYY-MM-DD'),
                'memo', 'Petty cash top-up #' || t.n, 'currency', 'BDT',
                'lines', jsonb_build_array(
                  jsonb_build_object('accountCode', '1000', 'debitMinor', (10000 + t.n % 50000)::text, 'creditMinor', '0'),
                  jsonb_build_object('accountCode', '3000', 'debitMinor', '0', 'creditMinor', (10000 + t.n % 50000)::text)))
              ELSE jsonb_build_object(
                'invoiceId', t.invoice_id, 'paymentId', bench_uuid_of('payment' || t.kind, t.n), 'amountMinor', t.amount::text,
                'method', t.method, 'reference', 'TRX-' || t.n || '-' || t.kind, 'paidAt', t.at,
                'journalEntryId', bench_uuid_of('payment-entry' || t.kind, t.n),
                'postings', jsonb_build_array(
                  jsonb_build_object('accountCode', CASE t.method WHEN 'cash' THEN '1000' WHEN 'mobile_banking' THEN '1020' ELSE '1010' END,
                                     'debitMinor', t.amount::text, 'creditMinor', '0'),
                  jsonb_build_object('accountCode', '1100', 'debitMinor', '0', 'creditMinor', t.amount::text)))
            END,
            jsonb_build_object('tenantId', 'tenant-' || (t.n % $1), 'userId', 'user-' || (t.n % 97), 'correlationId', bench_uuid_of('correlation', t.pos::int),
                               'causationId', bench_uuid_of('correlation', t.pos::int), 'schemaVersion', 1),
            t.created_at
       FROM (
         SELECT p.*, p.n1 + p.n2 + p.n3 AS subtotal, (p.n1 * 1500 + 5000) / 10000 + (p.n2 * 1500 + 5000) / 10000 + (p.n3 * 1000 + 5000) / 10000 AS vat,
                CASE WHEN p.n % 2 = 1 THEN p.total0 WHEN p.kind = 2 THEN p.total0 / 2 ELSE p.total0 - p.total0 / 2 END AS amount
           FROM (
             SELECT b.*, b.n1 + b.n2 + b.n3 + (b.n1 * 1500 + 5000) / 10000 + (b.n2 * 1500 + 5000) / 10000 + (b.n3 * 1000 + 5000) / 10000 AS total0,
                    (b.n1 * 1500 + 5000) / 10000 AS v1, (b.n2 * 1500 + 5000) / 10000 AS v2, (b.n3 * 1000 + 5000) / 10000 AS v3
               FROM (
                 SELECT tl.pos, tl.kind, tl.n,
                        timestamptz '2026-01-01' + tl.key * interval '1 second' AS created_at,
                        to_char(timestamptz '2026-01-01' + tl.key * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                        bench_uuid_of('invoice', tl.n) AS invoice_id, bench_uuid_of('journal', tl.n) AS journal_id,
                        (ARRAY['bank_transfer', 'cash', 'cheque', 'mobile_banking'])[1 + tl.n % 4] AS method,
                        ((tl.n % 10) + 1) * 1000 AS q1, 1000 + (tl.n * 37) % 90000 AS p1,
                        ((tl.n % 3) + 1) * 1000 AS q2, 500 + (tl.n * 53) % 20000 AS p2,
                        2000 AS q3, 250 + (tl.n * 11) % 5000 AS p3,
                        ((((tl.n % 10) + 1) * 1000)::bigint * (1000 + (tl.n * 37) % 90000) + 500) / 1000 AS n1,
                        ((((tl.n % 3) + 1) * 1000)::bigint * (500 + (tl.n * 53) % 20000) + 500) / 1000 AS n2,
                        (2000::bigint * (250 + (tl.n * 11) % 5000) + 500) / 1000 AS n3
                   FROM seed_timeline tl
               ) b
           ) p
       ) t`,
    [tenants],
  );
  await client.query(`ALTER TABLE events ADD CONSTRAINT events_event_id_key UNIQUE (event_id), ADD CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)`);
  await client.query(`SELECT setval(pg_get_serial_sequence('events', 'global_position'), (SELECT max(global_position) FROM events))`);
  await client.query('DROP TABLE seed_timeline');
  await client.query('DROP FUNCTION bench_uuid_of(text, int)');
  await client.query('ANALYZE events');
  return rowCount ?? 0;
}

