/**
 * ProjectionRollbackService against real PostgreSQL, with both event store adapters.
 *
 * The expected read model is computed by an INDEPENDENT fold written here from the domain rules (not
 * the projector), and compared with what the rollback leaves in the tables.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Pool } from 'pg';
import type { EventStore, RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { FinanceMetrics } from '../../services/finance/src/metrics/metrics-registry';
import { projectBatch } from '../../services/finance/src/projections/finance-projector';
import { ProjectionManager } from '../../services/finance/src/projections/projection-manager';
import { readCheckpoint, readControl } from '../../services/finance/src/projections/projection-state';
import { appendSpecs, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { ProjectionRollbackService, ROLLBACK_LOCK_KEY, RollbackServiceDeps } from '../../services/finance/src/rollback/projection-rollback.service';
import { RollbackInProgressError, RollbackRequestError } from '../../services/finance/src/rollback/rollback-errors';
import { shadowTablesExist } from '../../services/finance/src/rollback/shadow-tables';
import { createTestDatabase, LOCK_IN_THIS_DATABASE, migrateTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait-for';
import { BEYOND_SAFE_INTEGER, EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';

jest.setTimeout(120_000);

const silent = pino({ level: 'silent' });

// ------------------------------------------------------------------------------------------------
// The independent fold: what the read models must hold after the events, from the domain's rules.

interface ExpectedModel {
  invoices: Map<string, Record<string, string>>;
  payments: Map<string, Record<string, string>>;
  entries: Map<string, Record<string, string>>;
  lines: Map<string, Record<string, string>>;
  /** Per tenant, entry date and account: the sums of the lines. */
  daily: Map<string, Record<string, string>>;
}

function expectedModel(events: readonly RecordedEvent[]): ExpectedModel {
  const invoices = new Map<string, { row: Record<string, string>; paid: bigint; total: bigint }>();
  const payments = new Map<string, Record<string, string>>();
  const entries = new Map<string, Record<string, string>>();
  const lines = new Map<string, Record<string, string>>();
  const post = (e: RecordedEvent, id: string, tenant: string, source: string, sourceId: string, date: string, currency: string, postings: Array<Record<string, string>>, memo?: string) => {
    let debit = 0n;
    let credit = 0n;
    postings.forEach((p, i) => {
      debit += BigInt(p.debitMinor);
      credit += BigInt(p.creditMinor);
      lines.set(`${id}:${i + 1}`, { entry: id, lineNo: String(i + 1), tenant, account: p.accountCode, debit: p.debitMinor, credit: p.creditMinor, date, currency });
    });
    entries.set(id, {
      id, tenant, source, sourceId, date, currency, debit: debit.toString(), credit: credit.toString(), position: e.position.toString(),
      ...(memo !== undefined ? { memo } : {}),
    });
  };
  for (const e of events) {
    if (!e.streamId.startsWith('invoice-') && !e.streamId.startsWith('journal-')) continue;
    const d = e.data as Record<string, any>;
    const tenant = e.metadata.tenantId;
    const inv = d.invoiceId ? invoices.get(d.invoiceId) : undefined;
    const touch = () => {
      inv!.row.version = String(e.streamVersion);
      inv!.row.lastPosition = e.position.toString();
      inv!.row.updatedAt = e.createdAt.toISOString();
    };
    switch (e.type) {
      case 'InvoiceCreated':
        invoices.set(d.invoiceId, {
          paid: 0n,
          total: BigInt(d.totalMinor),
          row: {
            id: d.invoiceId, tenant, customer: d.customerId, currency: d.currency, status: 'DRAFT', subtotal: d.subtotalMinor, vat: d.vatMinor,
            total: d.totalMinor, paid: '0', balance: d.totalMinor, dueDate: d.dueDate, lineCount: String(d.lines.length),
            version: String(e.streamVersion), lastPosition: e.position.toString(), createdAt: e.createdAt.toISOString(), updatedAt: e.createdAt.toISOString(),
          },
        });
        break;
      case 'InvoiceApproved':
        inv!.row.status = 'APPROVED';
        touch();
        post(e, d.journalEntryId, inv!.row.tenant, 'invoice_approval', d.invoiceId, d.approvedAt.slice(0, 10), inv!.row.currency, d.postings);
        break;
      case 'InvoiceCancelled':
        inv!.row.status = 'CANCELLED';
        touch();
        if (d.journalEntryId) post(e, d.journalEntryId, inv!.row.tenant, 'invoice_cancellation', d.invoiceId, d.cancelledAt.slice(0, 10), inv!.row.currency, d.postings);
        break;
      case 'PaymentRecorded':
        inv!.paid += BigInt(d.amountMinor);
        inv!.row.paid = inv!.paid.toString();
        inv!.row.balance = (inv!.total - inv!.paid).toString();
        inv!.row.status = inv!.paid >= inv!.total ? 'PAID' : 'PARTIALLY_PAID';
        touch();
        payments.set(d.paymentId, {
          id: d.paymentId, invoice: d.invoiceId, tenant: inv!.row.tenant, amount: d.amountMinor, method: d.method, reference: d.reference,
          paidAt: new Date(d.paidAt).toISOString(), position: e.position.toString(),
        });
        post(e, d.journalEntryId, inv!.row.tenant, 'payment', d.paymentId, d.paidAt.slice(0, 10), inv!.row.currency, d.postings);
        break;
      case 'JournalEntryPosted':
        post(e, d.journalEntryId, tenant, 'manual', '', d.date, d.currency, d.lines, d.memo);
        break;
      default:
        break; // unknown types are skipped
    }
  }
  const daily = new Map<string, Record<string, string>>();
  for (const l of lines.values()) {
    const key = `${l.tenant} ${l.date} ${l.account} ${l.currency}`;
    const sum = daily.get(key) ?? { tenant: l.tenant, date: l.date, account: l.account, currency: l.currency, debit: '0', credit: '0' };
    daily.set(key, { ...sum, debit: (BigInt(sum.debit) + BigInt(l.debit)).toString(), credit: (BigInt(sum.credit) + BigInt(l.credit)).toString() });
  }
  return { invoices: new Map([...invoices].map(([id, v]) => [id, v.row])), payments, entries, lines, daily };
}

async function actualModel(pool: Pool): Promise<ExpectedModel> {
  const invoices = await pool.query(`SELECT id::text, tenant_id AS tenant, customer_id AS customer, currency, status, subtotal_minor::text AS subtotal,
      vat_minor::text AS vat, total_minor::text AS total, amount_paid_minor::text AS paid, balance_due_minor::text AS balance,
      to_char(due_date, 'YYYY-MM-DD') AS "dueDate", line_count::text AS "lineCount", version::text, last_position::text AS "lastPosition",
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
      to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt" FROM invoice_read_model`);
  const payments = await pool.query(`SELECT id::text, invoice_id::text AS invoice, tenant_id AS tenant, amount_minor::text AS amount, method, reference,
      to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "paidAt", position::text FROM payment_read_model`);
  const entries = await pool.query(`SELECT id::text, tenant_id AS tenant, source, coalesce(source_id::text, '') AS "sourceId", to_char(entry_date, 'YYYY-MM-DD') AS date,
      currency, total_debit_minor::text AS debit, total_credit_minor::text AS credit, position::text, memo FROM journal_entry_read_model`);
  const lines = await pool.query(`SELECT journal_entry_id::text AS entry, line_no::text AS "lineNo", tenant_id AS tenant, account_code AS account,
      debit_minor::text AS debit, credit_minor::text AS credit, to_char(entry_date, 'YYYY-MM-DD') AS date, currency FROM journal_entry_line_read_model`);
  const daily = await pool.query(`SELECT tenant_id AS tenant, to_char(entry_date, 'YYYY-MM-DD') AS date, account_code AS account, currency,
      debit_minor::text AS debit, credit_minor::text AS credit FROM account_daily_balance_read_model`);
  return {
    invoices: new Map(invoices.rows.map((r) => [r.id, r])),
    payments: new Map(payments.rows.map((r) => [r.id, r])),
    // Memos of implied entries are the projector's wording: compared for manual entries only.
    entries: new Map(entries.rows.map((r) => [r.id, r.source === 'manual' ? r : (({ memo: _memo, ...rest }) => rest)(r)])),
    lines: new Map(lines.rows.map((r) => [`${r.entry}:${r.lineNo}`, r])),
    daily: new Map(daily.rows.map((r) => [`${r.tenant} ${r.date} ${r.account} ${r.currency}`, r])),
  };
}

function sorted<V>(map: Map<string, V>): Array<[string, V]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function expectReadModelToEqual(pool: Pool, expected: ExpectedModel): Promise<void> {
  const actual = await actualModel(pool);
  expect(sorted(actual.invoices)).toEqual(sorted(expected.invoices));
  expect(sorted(actual.payments)).toEqual(sorted(expected.payments));
  expect(sorted(actual.entries)).toEqual(sorted(expected.entries));
  expect(sorted(actual.lines)).toEqual(sorted(expected.lines));
  expect(sorted(actual.daily)).toEqual(sorted(expected.daily));
}

/** A business history over two tenants and three currencies, with an unknown event type and a non-finance stream mixed in. */
function scenario(): { specs: EventSpec[]; invoiceIds: string[] } {
  const a = new FinanceEventBuilder('tenant-a', 'user-a');
  const b = new FinanceEventBuilder('tenant-b', 'user-b');
  const specs: EventSpec[] = [];
  const invoiceIds: string[] = [];
  for (let i = 0; i < 12; i++) {
    const builder = i % 3 === 2 ? b : a;
    const created = builder.createInvoice({ customerId: `C-${i}`, currency: i % 5 === 1 ? 'USD' : 'BDT', dueDate: '2026-12-31', lines: [{ quantityMilli: BigInt(1000 * (i + 1)), unitPriceMinor: 10_000n + BigInt(i), vatRateBp: 1500 }] });
    const id = created.event.data.invoiceId as string;
    invoiceIds.push(id);
    specs.push(created);
    if (i % 4 !== 3) specs.push(builder.approve(id));
    if (i % 4 === 0) specs.push(builder.pay(id, 1_000n, { reference: `part\t${i}\\x`, paidAt: '2026-11-28T10:00:00+06:00' }));
    // Memos beyond ASCII and with COPY's special characters (tab, backslash, newline) must survive the binary COPY.
    if (i % 2 === 0) specs.push(a.journalEntry({ memo: i === 4 ? 'manual 4: ৳ café\t"q"\\ \n€' : `manual ${i}`, currency: i === 6 ? 'EUR' : 'BDT' }));
  }
  specs.push(a.custom(`invoice-${invoiceIds[1]}`, 'InvoiceNoteAdded', { note: 'unknown to the projector' }));
  specs.push(a.custom('customer-7c1e', 'CustomerRenamed', { name: 'not a finance stream' }));
  // More history after the middle: payments in full, a cancellation of an approved and of a draft invoice.
  for (let i = 0; i < 12; i++) {
    const builder = i % 3 === 2 ? b : a;
    const id = invoiceIds[i];
    const { total } = builder.totals(id);
    if (i % 4 === 0) specs.push(builder.pay(id, total - 1_000n, { method: 'cash' }));
    if (i % 4 === 1) specs.push(builder.pay(id, total / 3n, { method: 'mobile_banking' }));
    if (i % 4 === 2) specs.push(builder.cancel(id, { approved: true }));
    if (i % 4 === 3) specs.push(builder.cancel(id));
  }
  specs.push(b.journalEntry({ memo: 'closing' }));
  return { specs, invoiceIds };
}

async function readAllEvents(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for await (const batch of store.readAll({ batchSize: 100 })) all.push(...batch);
  return all;
}

interface Harness {
  name: string;
  db: TestDatabase;
  pool: Pool;
  store: EventStore;
  esdb?: EsdbTestServer;
  close(): Promise<void>;
}

async function postgresHarness(): Promise<Harness> {
  const db = await createTestDatabase('rollback_pg');
  await migrateTestDatabase(db);
  const pool = db.pool({ max: 8 });
  return { name: 'postgres', db, pool, store: new PostgresEventStore(pool), close: () => db.drop() };
}

async function esdbHarness(): Promise<Harness> {
  const db = await createTestDatabase('rollback_esdb');
  await migrateTestDatabase(db);
  const pool = db.pool({ max: 8 });
  const esdb = await startEsdbTestServer({ startPosition: BEYOND_SAFE_INTEGER, systemEventEvery: 4 });
  const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
  return {
    name: 'eventstoredb',
    db,
    pool,
    store,
    esdb,
    async close() {
      await store.close();
      await esdb.close();
      await db.drop();
    },
  };
}

function service(h: { pool: Pool; store: EventStore }, extra: Partial<RollbackServiceDeps> = {}): ProjectionRollbackService {
  return new ProjectionRollbackService({
    pool: h.pool,
    eventStore: h.store,
    logger: silent,
    metrics: new FinanceMetrics('test', 'none'),
    tuning: { batchSize: 7, invoiceCacheSize: 4, recoveryIntervalMs: 200 },
    ...extra,
  });
}

async function projectToHead(h: Harness): Promise<void> {
  const manager = new ProjectionManager({ pool: h.pool, eventStore: h.store, batchSize: 10, idlePollMs: 20, metricsRefreshMs: 0, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  manager.start();
  const head = await h.store.headPosition();
  await waitFor(async () => (await readCheckpoint(h.pool)) === head, 20_000, 'the live projection to reach the head', 25);
  await manager.stop();
}

async function liveIndexes(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT indexname || ' ' || regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') AS d FROM pg_indexes
      WHERE tablename IN ('invoice_read_model', 'payment_read_model', 'journal_entry_read_model', 'journal_entry_line_read_model', 'account_daily_balance_read_model') ORDER BY 1`,
  );
  const triggers = await pool.query(`SELECT tgname || ' ON ' || tgrelid::regclass::text AS d FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`);
  return [...rows.map((r) => r.d), ...triggers.rows.map((r) => r.d)];
}

describe.each([
  ['postgres', postgresHarness],
  ['eventstoredb (gRPC test server; read models in PostgreSQL)', esdbHarness],
])('rollback to position K with the %s event store', (_name, makeHarness) => {
  let h: Harness;
  let events: RecordedEvent[];

  beforeAll(async () => {
    h = await makeHarness();
    await appendSpecs(h.store, scenario().specs);
    events = await readAllEvents(h.store);
    await projectToHead(h);
  });

  afterAll(async () => {
    await h.close();
  });

  it('leaves the read models equal to an independent fold of the events <= K, checkpoint at the last replayed event, held', async () => {
    await expectReadModelToEqual(h.pool, expectedModel(events)); // the live projection agrees with the fold
    // The scenario puts two currencies on one tenant's account on one day: kept apart, never added.
    const dailyKeys = [...expectedModel(events).daily.values()].map((d) => `${d.tenant} ${d.date} ${d.account}`);
    expect(new Set(dailyKeys).size).toBeLessThan(dailyKeys.length);
    const indexesBefore = await liveIndexes(h.pool);
    expect(indexesBefore).toContain('account_daily_balance_add_lines ON journal_entry_line_read_model');
    const finance = events.filter((e) => /^(invoice|journal)-/.test(e.streamId));
    // K: the non-finance event in the middle; the checkpoint must be the last finance event before it.
    const k = events.find((e) => e.streamId.startsWith('customer-'))!.position;
    const lastFinance = finance.filter((e) => e.position <= k).pop()!.position;

    const metrics = new FinanceMetrics('test', 'none');
    const rollback = service(h, { metrics });
    const started = await rollback.requestRollback({ targetVersion: k.toString(), resume: false, requestedBy: 'ops-1', tenantId: 'tenant-ops' });
    expect(started).toMatchObject({ status: 'running', targetVersion: k.toString() });
    await rollback.whenIdle();

    const op = (await rollback.getOperation(started.operationId))!;
    expect(op).toMatchObject({ status: 'succeeded', phase: 'done', error: null, requestedBy: 'ops-1', tenantId: 'tenant-ops', resume: false });
    expect(op.eventsReplayed).toBe(finance.filter((e) => e.position <= k).length);
    expect(op.lastReplayedPosition).toBe(lastFinance.toString());
    expect(op.counts).toMatchObject({ unknownEvents: 1, invoices: 12, previous: { invoices: 12 } });
    expect(op.durationMs).toEqual(expect.any(Number));

    await expectReadModelToEqual(h.pool, expectedModel(events.filter((e) => e.position <= k)));
    expect(await readCheckpoint(h.pool)).toBe(lastFinance);
    expect(await readControl(h.pool)).toMatchObject({ state: 'held', holdPosition: k, operationId: null });
    expect(await shadowTablesExist(h.pool)).toBe(false);
    expect(await liveIndexes(h.pool)).toEqual(indexesBefore);
    // The shadows were filled with autovacuum off; the live tables they became have it back on.
    // Loaded with COPY FREEZE: the pages are all-visible already (the rebuild's ANALYZE counted them);
    // without FREEZE nothing would be until a vacuum ran.
    const { rows: options } = await h.pool.query<{ relname: string; reloptions: string[] | null; relallvisible: number }>(
      `SELECT c.relname, c.reloptions, c.relallvisible FROM pg_class c WHERE c.relname = ANY ($1) ORDER BY c.relname`,
      [['invoice_read_model', 'payment_read_model', 'journal_entry_read_model', 'journal_entry_line_read_model']],
    );
    expect(options).toHaveLength(4);
    expect(options.filter((o) => o.reloptions !== null)).toEqual([]);
    expect((await h.pool.query(`SELECT reloptions FROM pg_class WHERE relname = 'account_daily_balance_read_model'`)).rows).toEqual([{ reloptions: null }]);
    expect(options.map((r) => [r.relname, r.relallvisible > 0])).toEqual([
      ['invoice_read_model', true],
      ['journal_entry_line_read_model', true],
      ['journal_entry_read_model', true],
      ['payment_read_model', true],
    ]);
    expect((await rollback.verify()).ok).toBe(true);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/finance_projection_rollback_total\{result="succeeded"\} 1/);
    expect(text).toMatch(new RegExp(`finance_projection_rollback_events_replayed_total ${op.eventsReplayed}`));
    expect(text).toMatch(new RegExp(`finance_projection_events_total\\{mode="rebuild"\\} ${op.eventsReplayed}`));
    expect(text).toMatch(/finance_projection_rollback_duration_seconds_count 1/);
  });

  it('stays held until resumed; the live projection then catches up to the head', async () => {
    const rollback = service(h);
    const manager = new ProjectionManager({ pool: h.pool, eventStore: h.store, batchSize: 10, idlePollMs: 20, metricsRefreshMs: 0 });
    manager.start();
    try {
      const held = await readCheckpoint(h.pool);
      // Give the manager several polls in which it could (wrongly) move.
      const polls = manager.stats().notRunningPolls;
      await waitFor(() => manager.stats().notRunningPolls >= polls + 5, 20_000, 'the manager to poll the held state', 25);
      expect(await readCheckpoint(h.pool)).toBe(held);
      const resumed = await rollback.resume({ requestedBy: 'ops-1', tenantId: 'tenant-ops' });
      expect(resumed).toMatchObject({ state: 'running', previousState: 'held', resumed: true });
      const head = await h.store.headPosition();
      await waitFor(async () => (await readCheckpoint(h.pool)) === head, 20_000, 'catch-up after resume', 25);
    } finally {
      await manager.stop();
    }
    await expectReadModelToEqual(h.pool, expectedModel(events));
  });

  it('a rollback to the head with resume (the default) rebuilds, row for row and column for column, what the live projection wrote', async () => {
    const head = await h.store.headPosition();
    const liveRows = await tableDumps(h.pool);
    const rollback = service(h, { tuning: { batchSize: 1000, invoiceCacheSize: 100_000 } });
    const started = await rollback.requestRollback({ targetVersion: Number(head) <= Number.MAX_SAFE_INTEGER ? Number(head) : head.toString(), requestedBy: 'ops-2', tenantId: 't' });
    await rollback.whenIdle();
    expect(await rollback.getOperation(started.operationId)).toMatchObject({ status: 'succeeded', resume: true });
    await expectReadModelToEqual(h.pool, expectedModel(events));
    expect(await readControl(h.pool)).toMatchObject({ state: 'running', holdPosition: null });
    // The rebuild's COPY writer and the live writer agree on every column (memos and times included).
    expect(await tableDumps(h.pool)).toEqual(liveRows);
  });
});

describe('daily balances beyond a bigint (PostgreSQL event store)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await postgresHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  it('the live projection and a rollback both keep the exact sum of 93 largest-amount entries on one day and account', async () => {
    const b = new FinanceEventBuilder('tenant-big');
    const largest = (10n ** 17n - 1n).toString(); // 999999999999999.99, the largest amount the API takes
    const entry = (): EventSpec =>
      b.journalEntry({ date: '2026-11-26', lines: [{ accountCode: '1000', debitMinor: largest, creditMinor: '0' }, { accountCode: '3000', debitMinor: '0', creditMinor: largest }] });
    // 93 of them pass 2^63 - 1: a bigint balance failed the projection's batch on every retry, for every tenant.
    await appendSpecs(h.store, [...Array.from({ length: 93 }, entry), b.journalEntry({ date: '2026-11-27' })]);
    const sum = (93n * (10n ** 17n - 1n)).toString();
    const balances = async () =>
      (await h.pool.query(`SELECT account_code, debit_minor::text AS debit, credit_minor::text AS credit FROM account_daily_balance_read_model WHERE entry_date = '2026-11-26' ORDER BY 1`)).rows;
    const expected = [
      { account_code: '1000', debit: sum, credit: '0' },
      { account_code: '3000', debit: '0', credit: sum },
    ];

    await projectToHead(h);
    expect(await balances()).toEqual(expected);

    const rollback = service(h);
    const started = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    expect(await rollback.getOperation(started.operationId)).toMatchObject({ status: 'succeeded', error: null });
    expect(await balances()).toEqual(expected);
    expect((await rollback.verify()).ok).toBe(true);
  });
});

/** Every row of the five read-model tables as JSON, in key order. */
async function tableDumps(pool: Pool): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of [
    ['invoice_read_model', 'id'],
    ['payment_read_model', 'id'],
    ['journal_entry_read_model', 'id'],
    ['journal_entry_line_read_model', 'journal_entry_id, line_no'],
    ['account_daily_balance_read_model', 'tenant_id, entry_date, account_code, currency'],
  ]) {
    out[table] = (await pool.query(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY ${key}`)).rows.map((r) => r.row);
  }
  return out;
}

describe('rollback safety (PostgreSQL event store)', () => {
  let h: Harness;
  let events: RecordedEvent[];
  let invoiceIds: string[];

  beforeAll(async () => {
    h = await postgresHarness();
    const s = scenario();
    invoiceIds = s.invoiceIds;
    await appendSpecs(h.store, s.specs);
    events = await readAllEvents(h.store);
    await projectToHead(h);
  });

  afterAll(async () => {
    await h.close();
  });

  async function snapshot() {
    const { updatedAt: _ignored, ...control } = await readControl(h.pool);
    return { model: await actualModel(h.pool), checkpoint: await readCheckpoint(h.pool), control };
  }

  it('refuses a target that is not a non-negative integer or lies beyond the head', async () => {
    const rollback = service(h);
    const head = await h.store.headPosition();
    for (const bad of [-1, 1.5, 'abc', '', null, undefined, '12e3', { n: 1 }, true]) {
      await expect(rollback.requestRollback({ targetVersion: bad, requestedBy: 'u', tenantId: 't' })).rejects.toMatchObject({ field: 'targetVersion' });
    }
    await expect(rollback.requestRollback({ targetVersion: (head + 1n).toString(), requestedBy: 'u', tenantId: 't' })).rejects.toThrow(/beyond the event store head/);
    await expect(rollback.requestRollback({ targetVersion: 1, resume: 'nope', requestedBy: 'u', tenantId: 't' })).rejects.toBeInstanceOf(RollbackRequestError);
    expect(await rollback.listOperations()).toEqual([]);
  });

  it('a verification failure leaves the previous read model, checkpoint and state, and records why', async () => {
    const before = await snapshot();
    const metrics = new FinanceMetrics('test', 'none');
    const rollback = service(h, {
      metrics,
      hooks: {
        // Corrupt the rebuilt model: a payment whose invoice does not exist.
        beforeVerify: async (c) => {
          await c.query(`INSERT INTO payment_read_model_rollback_shadow (id, invoice_id, tenant_id, amount_minor, method, reference, paid_at, position)
                         VALUES (gen_random_uuid(), gen_random_uuid(), 'tenant-a', 1, 'cash', 'x', now(), 1)`);
        },
      },
    });
    const k = events[Math.floor(events.length / 2)].position;
    const { operationId } = await rollback.requestRollback({ targetVersion: k.toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    const op = (await rollback.getOperation(operationId))!;
    expect(op).toMatchObject({ status: 'failed', phase: 'verifying' });
    expect(op.error).toMatch(/verification failed: orphaned_payments \(1\)/);
    expect(op.finishedAt).not.toBeNull();
    expect(await snapshot()).toEqual(before);
    expect(await shadowTablesExist(h.pool)).toBe(false);
    expect(await metrics.registry.metrics()).toMatch(/finance_projection_rollback_total\{result="failed"\} 1/);
  });

  it('a database error mid-replay (a writer session killed) leaves the previous read model and resumes the projection', async () => {
    const before = await snapshot();
    const rollback = service(h, { tuning: { batchSize: 2, batchDelayMs: 40, invoiceCacheSize: 4, progressIntervalMs: 20 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await waitFor(async () => {
      const op = await rollback.getOperation(operationId);
      return op?.phase === 'replaying' && op.eventsReplayed > 0;
    }, 20_000, 'the replay to be under way', 25);
    expect((await readControl(h.pool)).state).toBe('rebuilding');
    // Readers meanwhile see the previous model, complete.
    expect(await actualModel(h.pool)).toEqual(before.model);
    const killed = await h.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'finance-service rollback writer 3'`);
    expect(killed.rowCount).toBe(1);
    await rollback.whenIdle();
    const op = (await rollback.getOperation(operationId))!;
    expect(op.status).toBe('failed');
    expect(op.phase).toBe('replaying');
    expect(op.error).toMatch(/session lost|terminat|connection/i);
    expect(await snapshot()).toEqual(before);
    expect(await shadowTablesExist(h.pool)).toBe(false);
  });

  it('two rollbacks requested at once from two instances: one runs, the other is refused (cluster-wide lock)', async () => {
    // The winner is held before its verification, so "while it runs" below is certain, not a race.
    let signalHeld!: () => void;
    const held = new Promise<void>((resolve) => (signalHeld = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hooks = { beforeVerify: async () => { signalHeld(); await gate; } };
    const pool2 = h.db.pool({ max: 4 });
    const one = service(h, { tuning: { batchSize: 3 }, hooks });
    const two = service({ pool: pool2, store: new PostgresEventStore(pool2) }, { tuning: { batchSize: 3 }, hooks });
    const target = events[10].position.toString();
    const results = await Promise.allSettled([
      one.requestRollback({ targetVersion: target, requestedBy: 'a', tenantId: 't' }),
      two.requestRollback({ targetVersion: target, requestedBy: 'b', tenantId: 't' }),
    ]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toBeInstanceOf(RollbackInProgressError);
    const [winner, other] = results[0].status === 'fulfilled' ? [one, two] : [two, one];
    const { operationId } = (fulfilled[0] as PromiseFulfilledResult<{ operationId: string }>).value;
    await Promise.race([held, winner.whenIdle().then(() => Promise.reject(new Error('the rollback ended before its verification')))]);
    try {
      // While it runs, the other instance's recovery must not touch it (the lock has a live holder).
      expect(await other.recoverInterrupted('test')).toEqual([]);
      expect(await other.getOperation(operationId)).toMatchObject({ status: 'running' });
    } finally {
      release();
    }
    await winner.whenIdle();
    await other.whenIdle();
    const ops = (await one.listOperations()).filter((o) => o.requestedBy === 'a' || o.requestedBy === 'b');
    expect(ops).toEqual([expect.objectContaining({ status: 'succeeded', targetVersion: target })]);
    // Put the model back at the head for the next tests.
    await one.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'a', tenantId: 't' });
    await one.whenIdle();
    await expectReadModelToEqual(h.pool, expectedModel(events));
  });

  it('a rollback requested while the last one, already recorded finished, releases its lock waits for the release (same instance or another) instead of answering 409', async () => {
    const head = (await h.store.headPosition()).toString();
    const request = (instance: ProjectionRollbackService, by: string) => instance.requestRollback({ targetVersion: head, requestedBy: by, tenantId: 't' });
    let signalEntered!: () => void;
    const entered = new Promise<void>((resolve) => (signalEntered = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let gated = false;
    // Holds the first rollback between "operation recorded succeeded" and "lock released".
    const beforeRelease = async () => {
      if (gated) return;
      gated = true;
      signalEntered();
      await gate;
    };
    const pool2 = h.db.pool({ max: 4 });
    const one = service(h, { hooks: { beforeRelease } });
    const two = service({ pool: pool2, store: new PostgresEventStore(pool2) });
    try {
      const first = await request(one, 'first');
      await entered;
      expect((await one.getOperation(first.operationId))!.status).toBe('succeeded');

      const settled = (promise: Promise<{ operationId: string }>) => {
        const outcome: { done: boolean; value?: { operationId: string }; error?: unknown } = { done: false };
        promise.then((value) => Object.assign(outcome, { done: true, value }), (error: unknown) => Object.assign(outcome, { done: true, error }));
        return outcome;
      };
      const fromOther = settled(request(two, 'other'));
      const fromSame = settled(request(one, 'same'));
      // The other instance finds no running operation, so it queues on the lock (visible in pg_locks).
      // This database's rollback lock only: pg_locks spans the server, where other test files wait on their own locks.
      const waitingOnRollbackLock = `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
        AND ${LOCK_IN_THIS_DATABASE} AND ((classid::int8 << 32) | objid::int8) = $1::int8`;
      await waitFor(async () => (await h.pool.query(waitingOnRollbackLock, [ROLLBACK_LOCK_KEY.toString()])).rowCount! > 0, 10_000, 'a request waiting on the rollback lock', 25);
      expect(fromOther.done).toBe(false);
      expect(fromSame.done).toBe(false); // not refused while the finished rollback only cleans up

      openGate();
      await waitFor(() => fromOther.done && fromSame.done, 10_000, 'both requests to be answered', 10);
      // The queued session got the lock on release, so its rollback runs; the same-instance request then meets a real one.
      expect(fromOther.error).toBeUndefined();
      expect(fromSame.error).toBeInstanceOf(RollbackInProgressError);
      expect((fromSame.error as RollbackInProgressError).runningOperationId).toBe(fromOther.value!.operationId);
      await two.whenIdle();
      expect((await two.getOperation(fromOther.value!.operationId))!.status).toBe('succeeded');
      await expectReadModelToEqual(h.pool, expectedModel(events));
    } finally {
      openGate();
      await one.close();
      await two.close();
      await pool2.end();
    }
  });

  it('a rollback that died (no lock holder) is reset by any instance: state back, shadows dropped, operation failed "interrupted"', async () => {
    const before = await snapshot();
    // What a killed rollback leaves: state rebuilding, a running operation, shadow tables.
    await h.pool.query(`INSERT INTO projection_rollback_operations (id, requested_by, tenant_id, target_position, status, phase, previous_state)
                        VALUES ('00000000-0000-4000-8000-000000000001', 'ops', 't', 5, 'running', 'replaying', 'running')`);
    await h.pool.query(`UPDATE projection_control SET state = 'rebuilding', operation_id = '00000000-0000-4000-8000-000000000001' WHERE name = 'finance'`);
    await h.pool.query('CREATE TABLE invoice_read_model_rollback_shadow (LIKE invoice_read_model)');
    const rollback = service(h);
    rollback.startRecoveryWatch();
    try {
      await waitFor(async () => (await readControl(h.pool)).state === 'running', 20_000, 'the periodic recovery', 25);
    } finally {
      await rollback.close();
    }
    const op = (await rollback.getOperation('00000000-0000-4000-8000-000000000001'))!;
    expect(op.status).toBe('failed');
    expect(op.error).toMatch(/^interrupted/);
    expect(await shadowTablesExist(h.pool)).toBe(false);
    expect(await snapshot()).toEqual({ ...before, control: expect.objectContaining({ state: 'running', operationId: null }) });
  });

  it('an aborted rollback (service shutdown) restores the previous state and records the reason', async () => {
    const before = await snapshot();
    const rollback = service(h, { tuning: { batchSize: 2, batchDelayMs: 50, progressIntervalMs: 20 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: events[20].position.toString(), requestedBy: 'ops', tenantId: 't' });
    await waitFor(async () => ((await rollback.getOperation(operationId))?.eventsReplayed ?? 0) > 0, 20_000, 'replay progress', 25);
    await rollback.close('the service is shutting down');
    const op = (await rollback.getOperation(operationId))!;
    expect(op).toMatchObject({ status: 'failed' });
    expect(op.error).toMatch(/aborted: the service is shutting down/);
    expect(await snapshot()).toEqual(before);
    await expect(rollback.requestRollback({ targetVersion: 1, requestedBy: 'ops', tenantId: 't' })).rejects.toThrow(/shutting down/);
  });

  it('a rollback requested while the service starts shutting down is aborted too, not left running', async () => {
    const before = await snapshot();
    const rollback = service(h);
    const requested = rollback.requestRollback({ targetVersion: events[20].position.toString(), requestedBy: 'ops', tenantId: 't' });
    const closed = rollback.close('the service is shutting down'); // while the request is under way
    const { operationId } = await requested;
    await closed;
    const op = (await rollback.getOperation(operationId))!;
    expect(op).toMatchObject({ status: 'failed' });
    expect(op.error).toMatch(/aborted: the service is shutting down/);
    expect(await snapshot()).toEqual(before);
  });

  it('the swap waits for readers holding the live tables (retrying with a short lock timeout), or gives up and keeps the old model', async () => {
    const reader = await h.pool.connect();
    try {
      // A long read holds the live invoice table: the swap cannot take it yet.
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM invoice_read_model');
      const patient = service(h, { tuning: { swapLockTimeoutMs: 50, swapAttempts: 1000 } });
      const { operationId } = await patient.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
      await waitFor(async () => (await patient.getOperation(operationId))?.phase === 'swapping', 20_000, 'the swap to start', 25);
      // Meanwhile the live model still answers (only the swap waits).
      expect((await h.pool.query('SELECT count(*)::int AS n FROM invoice_read_model')).rows[0].n).toBe(12);
      await reader.query('COMMIT');
      await patient.whenIdle();
      expect((await patient.getOperation(operationId))!.status).toBe('succeeded');

      const before = await snapshot();
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM payment_read_model');
      const impatient = service(h, { tuning: { swapLockTimeoutMs: 20, swapAttempts: 3 } });
      const second = await impatient.requestRollback({ targetVersion: '5', requestedBy: 'ops', tenantId: 't' });
      await impatient.whenIdle();
      const op = (await impatient.getOperation(second.operationId))!;
      expect(op).toMatchObject({ status: 'failed', phase: 'swapping' });
      expect(op.error).toMatch(/lock timeout/);
      await reader.query('COMMIT');
      expect(await snapshot()).toEqual(before);
      expect(await shadowTablesExist(h.pool)).toBe(false);
    } finally {
      await reader.query('ROLLBACK').catch(() => undefined);
      reader.release();
    }
  });

  it('a swap that deadlocks with a reader (PostgreSQL cancels the swap) is retried, and the rollback succeeds', async () => {
    const reader = await h.pool.connect();
    try {
      // The reader will never be the one cancelled: its deadlock check runs a minute after it waits, the swap's after 1 s.
      await reader.query(`SET deadlock_timeout = '60s'`);
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM payment_read_model');
      // Attempt 1 waits 5 s for locks, so the deadlock check (1 s) answers before the lock timeout could.
      const retries: Array<{ attempt: number; code: string }> = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void (JSON.parse(line).attempt !== undefined && retries.push(JSON.parse(line))) });
      const rollback = service(h, { logger, tuning: { swapLockTimeoutMs: 5_000, swapAttempts: 3 } });
      const { operationId } = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
      // The swap locks the live invoices first, then waits for the payments the reader holds...
      const swapWaitsForPayments = `SELECT 1 FROM pg_locks WHERE relation = 'payment_read_model'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted
        AND ${LOCK_IN_THIS_DATABASE}`;
      await waitFor(async () => (await h.pool.query(swapWaitsForPayments)).rowCount! > 0, 20_000, 'the swap to wait for the payments', 10);
      // ...and the reader now asks for the invoices the swap holds: a deadlock, which cancels the swap's transaction.
      expect((await reader.query('SELECT count(*)::int AS n FROM invoice_read_model')).rows[0].n).toBe(12);
      await reader.query('COMMIT');
      await rollback.whenIdle();
      expect((await rollback.getOperation(operationId))!).toMatchObject({ status: 'succeeded', phase: 'done' });
      // PostgreSQL did cancel the swap as a deadlock (not a lock timeout, which was retried before).
      expect(retries.map((r) => [r.attempt, r.code])).toEqual([[1, '40P01']]);
      await expectReadModelToEqual(h.pool, expectedModel(events));
    } finally {
      await reader.query('ROLLBACK').catch(() => undefined);
      await reader.query('RESET deadlock_timeout').catch(() => undefined);
      reader.release();
    }
  });

  it('reading the PostgreSQL store through EventStore.readAll (instead of the COPY reader) gives the same model', async () => {
    const k = events[30].position;
    const rollback = service(h, { tuning: { batchSize: 4, copyReader: 0 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: k.toString(), resume: false, requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    expect((await rollback.getOperation(operationId))!.status).toBe('succeeded');
    await expectReadModelToEqual(h.pool, expectedModel(events.filter((e) => e.position <= k)));
    await rollback.resume({ requestedBy: 'ops', tenantId: 't' });
    const back = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    expect((await rollback.getOperation(back.operationId))!.status).toBe('succeeded');
  });

  it('builds indexes while loading when so tuned, with the same result and the same index names', async () => {
    const indexesBefore = await liveIndexes(h.pool);
    const rollback = service(h, { tuning: { batchSize: 5, indexesDuringLoad: 1 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    expect((await rollback.getOperation(operationId))!.status).toBe('succeeded');
    await expectReadModelToEqual(h.pool, expectedModel(events));
    expect(await liveIndexes(h.pool)).toEqual(indexesBefore);
  });

  it('with journal lines spread over several sessions (loaded without FREEZE), the result is the same', async () => {
    const rollback = service(h, { tuning: { batchSize: 4, journalLineLanes: 3 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    expect((await rollback.getOperation(operationId))!.status).toBe('succeeded');
    await expectReadModelToEqual(h.pool, expectedModel(events));
    const { rows } = await h.pool.query<{ relallvisible: number }>(`SELECT relallvisible FROM pg_class WHERE relname = 'journal_entry_line_read_model'`);
    expect(rows[0].relallvisible).toBe(0); // the lines could not be frozen: several sessions wrote them
  });

  it('with a tiny invoice working set, evicted invoices are read back from the shadow table and the result is still exact', async () => {
    const rollback = service(h, { tuning: { batchSize: 3, invoiceCacheSize: 1 } });
    const { operationId } = await rollback.requestRollback({ targetVersion: (await h.store.headPosition()).toString(), requestedBy: 'ops', tenantId: 't' });
    await rollback.whenIdle();
    const op = (await rollback.getOperation(operationId))!;
    expect(op.status).toBe('succeeded');
    expect(op.counts.invoicesReloaded).toBeGreaterThan(0);
    await expectReadModelToEqual(h.pool, expectedModel(events));
    expect(invoiceIds).toHaveLength(12);
  });

  // Last in this block: it adds events to the shared store.
  it('events whose metadata.tenantId is missing or not a string are skipped as malformed, by both readers, as the live projection skips them', async () => {
    // Valid journal entries (copies of one in the store, with new ids) on new streams: only their metadata is wrong.
    const { rows } = await h.pool.query<{ data: Record<string, unknown> }>(
      `SELECT data FROM events WHERE type = 'JournalEntryPosted' ORDER BY global_position LIMIT 1`,
    );
    for (const metadata of [{ tenantId: 42, userId: 'u' }, { userId: 'u' }]) {
      const journalEntryId = randomUUID();
      await h.pool.query(
        `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata) VALUES ($1, 0, gen_random_uuid(), 'JournalEntryPosted', $2, $3)`,
        [`journal-${journalEntryId}`, JSON.stringify({ ...rows[0].data, journalEntryId }), JSON.stringify(metadata)],
      );
    }
    // The live projection's verdict: the same two events skipped, for the tenant.
    const all = await readAllEvents(h.store);
    const appended = new Set(all.slice(-2).map((e) => e.position));
    const verdict = projectBatch(all, new Map());
    expect(verdict.problems.filter((p) => appended.has(p.position)).map((p) => p.reason)).toEqual([expect.stringMatching(/tenantId/), expect.stringMatching(/tenantId/)]);
    // (Sanity: with a good tenant the same copy would be projected.)
    const fixed = all.slice(-1).map((e) => ({ ...e, metadata: { ...e.metadata, tenantId: 'tenant-a' } }));
    expect(projectBatch(fixed, new Map()).journalEntries).toHaveLength(1);
    const head = (await h.store.headPosition()).toString();
    for (const copyReader of [1, 0]) {
      const rollback = service(h, { tuning: { copyReader } });
      const { operationId } = await rollback.requestRollback({ targetVersion: head, requestedBy: 'ops', tenantId: 't' });
      await rollback.whenIdle();
      const op = (await rollback.getOperation(operationId))!;
      expect(op).toMatchObject({ status: 'succeeded', counts: { malformedEvents: 2 } });
      await expectReadModelToEqual(h.pool, expectedModel(events));
    }
  });
});
