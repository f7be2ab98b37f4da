/**
 * The live projection manager against real PostgreSQL and the PostgreSQL event store: catch-up,
 * batch atomicity (rows + checkpoint in one transaction), the pause protocol, a checkpoint moved by a
 * rollback, and metrics.
 */
import type { Pool } from 'pg';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { FinanceMetrics } from '../../services/finance/src/metrics/metrics-registry';
import { ProjectionManager, ProjectionManagerOptions } from '../../services/finance/src/projections/projection-manager';
import { LIVE_TABLES } from '../../services/finance/src/projections/read-model-rows';
import { readCheckpoint } from '../../services/finance/src/projections/projection-state';
import { appendSpecs, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';
import { BEYOND_SAFE_INTEGER, EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';
import { waitFor } from '../support/wait-for';


/** Invoices with a payment or two, and manual journal entries. */
function workload(b: FinanceEventBuilder, invoices: number, journals: number): EventSpec[] {
  const specs: EventSpec[] = [];
  for (let i = 0; i < invoices; i++) {
    const c = b.createInvoice({ customerId: `C-${i % 7}` });
    const id = c.event.data.invoiceId as string;
    specs.push(c, b.approve(id), b.pay(id, 100000n + BigInt(i)));
    if (i % 3 === 0) specs.push(b.pay(id, 5000n));
  }
  for (let j = 0; j < journals; j++) specs.push(b.journalEntry({ memo: `entry ${j}` }));
  return specs;
}

/** What the read models must hold after a workload (computed from the specs, not the projector). */
function expectedTotals(specs: EventSpec[]) {
  let payments = 0;
  let paid = 0n;
  let entries = 0;
  for (const s of specs) {
    if (s.event.type === 'PaymentRecorded') {
      payments++;
      paid += BigInt(s.event.data.amountMinor as string);
    }
    if (['InvoiceApproved', 'PaymentRecorded', 'JournalEntryPosted'].includes(s.event.type)) entries++;
  }
  return { invoices: specs.filter((s) => s.event.type === 'InvoiceCreated').length, payments, paid: paid.toString(), entries };
}

async function readTotals(pool: Pool) {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM ${LIVE_TABLES.invoices})::int AS invoices,
            (SELECT count(*) FROM ${LIVE_TABLES.payments})::int AS payments,
            (SELECT coalesce(sum(amount_paid_minor), 0) FROM ${LIVE_TABLES.invoices})::text AS paid,
            (SELECT count(*) FROM ${LIVE_TABLES.journalEntries})::int AS entries`,
  );
  return rows[0] as { invoices: number; payments: number; paid: string; entries: number };
}

/** Warnings and errors go to the test output (a silent failure loop would only show as a timeout). */
const testLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj: object, msg?: string) => console.warn(msg, obj),
  error: (obj: object, msg?: string) => console.error(msg, obj),
};

describe('ProjectionManager (PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  const managers: ProjectionManager[] = [];

  function manager(options: Partial<ProjectionManagerOptions> = {}): ProjectionManager {
    const m = new ProjectionManager({
      pool: db.pool({ max: 4 }),
      eventStore: store,
      idlePollMs: 25,
      leaderRetryMs: 100,
      errorBackoffMs: 50,
      metricsRefreshMs: 0,
      logger: testLogger,
      ...options,
    });
    managers.push(m);
    return m;
  }

  async function reset(): Promise<void> {
    await pool.query(`TRUNCATE events, ${Object.values(LIVE_TABLES).join(', ')}`);
    await pool.query(`UPDATE projection_checkpoint SET position = 0; UPDATE projection_control SET state = 'running', operation_id = NULL, hold_position = NULL`);
  }

  beforeAll(async () => {
    db = await createTestDatabase('proj_manager');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 6 });
    store = new PostgresEventStore(db.pool({ max: 4 }));
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await reset();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('catches up from the checkpoint, follows new events with sub-second lag, and exports metrics', async () => {
    const b = new FinanceEventBuilder('tenant-m');
    const backlog = workload(b, 300, 100);
    await appendSpecs(store, backlog);
    const unknown = b.custom('journal-00000000-0000-4000-8000-000000000000', 'JournalEntryAnnotated', { note: 'x' });
    await appendSpecs(store, [unknown]);
    const metrics = new FinanceMetrics('test', 'none');
    const m = manager({ metrics, batchSize: 100, metricsRefreshMs: 200 });
    m.start();
    let head = await store.headPosition();
    await waitFor(async () => (await readCheckpoint(pool)) === head, 20000, 'catch-up');
    expect(await readTotals(pool)).toEqual(expectedTotals(backlog));
    expect(m.isLeader()).toBe(true);
    expect(m.stats().batchesApplied).toBeGreaterThanOrEqual(12);

    // At rest: a new event reaches the read model without anything else happening (how fast is the benchmarks' business).
    const extra = b.createInvoice({ customerId: 'C-late' });
    await appendSpecs(store, [extra]);
    head = await store.headPosition();
    await waitFor(async () => (await pool.query('SELECT 1 FROM invoice_read_model WHERE id = $1', [extra.event.data.invoiceId])).rowCount === 1, 5000, 'the new invoice in the read model');

    await waitFor(async () => (await metrics.projectionLag.get()).values[0]?.value === 0 && (await metrics.eventStoreHead.get()).values[0]?.value === Number(head), 5000, 'metrics');
    expect((await metrics.projectionCheckpoint.get()).values[0].value).toBe(Number(head));
    const live = (await metrics.projectionEvents.get()).values.find((v) => v.labels.mode === 'live');
    expect(live?.value).toBe(backlog.length + 2);
    expect((await metrics.projectionUnknownEvents.get()).values[0].value).toBe(1);

    const status = await m.status();
    expect(status).toMatchObject({ name: 'finance', state: 'running', checkpoint: head.toString(), head: head.toString(), lag: '0', thisPod: { isLeader: true, projectionEnabled: true } });
    expect(status.leader?.pid).toBe(m.leaderSessionPid());
    expect(status.leader?.applicationName).toMatch(/^finance-projection@/);
  });

  it('writes rows and checkpoint in one transaction: a crash before commit applies nothing, a restart never double-counts', async () => {
    const b = new FinanceEventBuilder('tenant-crash');
    const specs = workload(b, 100, 20);
    await appendSpecs(store, specs);
    let batches = 0;
    let crashed = false;
    const crashing = manager({
      batchSize: 25,
      beforeCommit: () => {
        batches++;
        if (batches >= 4) {
          crashed = true;
          throw new Error('simulated crash between the writes and COMMIT');
        }
      },
    });
    crashing.start();
    await waitFor(() => crashed, 10000, 'the simulated crash');
    await crashing.stop();
    expect(crashing.stats().batchesApplied).toBe(3);
    const checkpoint = await readCheckpoint(pool);
    const upTo = (await pool.query('SELECT global_position::text AS p FROM events ORDER BY global_position LIMIT 1 OFFSET 74')).rows[0].p;
    expect(checkpoint.toString()).toBe(upTo);
    // Exactly the three committed batches are visible: the fourth batch's rows were rolled back with its checkpoint.
    const paymentsUpTo = (await pool.query("SELECT count(*)::int AS n FROM events WHERE type = 'PaymentRecorded' AND global_position <= $1", [upTo])).rows[0].n;
    expect((await readTotals(pool)).payments).toBe(paymentsUpTo);

    const restarted = manager({ batchSize: 25 });
    restarted.start();
    const head = await store.headPosition();
    await waitFor(async () => (await readCheckpoint(pool)) === head, 10000, 'catch-up after restart');
    expect(await readTotals(pool)).toEqual(expectedTotals(specs));
  });

  it('applies nothing unless projection_control.state is running, and a state change waits for an in-flight batch', async () => {
    const b = new FinanceEventBuilder('tenant-pause');
    await appendSpecs(store, workload(b, 10, 0));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const m = manager({
      batchSize: 1000,
      beforeCommit: async () => {
        if (holding) return;
        holding = true;
        await held; // keep the first batch's transaction open
      },
    });
    m.start();
    await waitFor(() => holding, 10000, 'a batch in flight');

    // What the rollback does: UPDATE the control row. It must wait for the batch transaction (FOR SHARE).
    const rollbackSide = await pool.connect();
    const pid = (await rollbackSide.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    let updated = false;
    const update = rollbackSide.query("UPDATE projection_control SET state = 'rebuilding' WHERE name = 'finance'").then(() => (updated = true));
    await waitFor(async () => (await pool.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [pid])).rows[0]?.wait_event_type === 'Lock', 5000, 'the UPDATE to block');
    expect(updated).toBe(false);
    release();
    await update;
    rollbackSide.release();
    const afterFirst = await readCheckpoint(pool);
    expect(afterFirst).toBe(await store.headPosition()); // the in-flight batch committed before the UPDATE returned

    // Paused: new events are not applied, however many polls happen.
    await appendSpecs(store, workload(b, 5, 2));
    const polls = m.stats().notRunningPolls;
    await waitFor(() => m.stats().notRunningPolls >= polls + 5, 5000, 'several polls while rebuilding');
    expect(await readCheckpoint(pool)).toBe(afterFirst);
    expect((await readTotals(pool)).invoices).toBe(10);

    for (const state of ['paused', 'held']) {
      await pool.query('UPDATE projection_control SET state = $1', [state]);
      const seen = m.stats().notRunningPolls;
      await waitFor(() => m.stats().notRunningPolls >= seen + 2, 5000, `polls while ${state}`);
      expect(await readCheckpoint(pool)).toBe(afterFirst);
    }

    await pool.query("UPDATE projection_control SET state = 'running'");
    const head = await store.headPosition();
    await waitFor(async () => (await readCheckpoint(pool)) === head, 5000, 'resume');
    expect((await readTotals(pool)).invoices).toBe(15);
  });

  it('follows a checkpoint moved by someone else (a rollback swap) instead of its own idea of it', async () => {
    const b = new FinanceEventBuilder('tenant-move');
    const specs = workload(b, 40, 10);
    await appendSpecs(store, specs);
    const m = manager({ batchSize: 50 });
    m.start();
    const head = await store.headPosition();
    await waitFor(async () => (await readCheckpoint(pool)) === head, 10000, 'catch-up');

    // A "rollback to 0" done the way the protocol says: pause, then in one transaction empty the read
    // models, move the checkpoint and resume. The manager must rebuild from the new checkpoint.
    await pool.query("UPDATE projection_control SET state = 'rebuilding'");
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query(`TRUNCATE ${Object.values(LIVE_TABLES).join(', ')}`);
    await client.query("UPDATE projection_checkpoint SET position = 0 WHERE name = 'finance'");
    await client.query("UPDATE projection_control SET state = 'running' WHERE name = 'finance'");
    await client.query('COMMIT');
    client.release();

    await waitFor(async () => (await readCheckpoint(pool)) === head && (await readTotals(pool)).entries === expectedTotals(specs).entries, 10000, 'rebuild after the move');
    expect(await readTotals(pool)).toEqual(expectedTotals(specs));
  });

  it('calls the rebuilding hook when it finds a rollback state', async () => {
    let calls = 0;
    await pool.query("UPDATE projection_control SET state = 'rebuilding'");
    const m = manager({ onRebuildingSeen: () => void calls++ });
    m.start();
    await waitFor(() => calls >= 1, 5000, 'hook');
  });
});

describe('ProjectionManager on an EventStoreDB shared with other streams', () => {
  let db: TestDatabase;
  let esdb: EsdbTestServer;
  let store: EventStoreDbEventStore;
  let manager: ProjectionManager | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('proj_manager_esdb');
    await migrateTestDatabase(db);
    esdb = await startEsdbTestServer({ startPosition: BEYOND_SAFE_INTEGER, systemEventEvery: 4 });
    store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
  });

  afterAll(async () => {
    await manager?.stop();
    await store?.close();
    await esdb?.close();
    await db?.drop();
  });

  it("moves its checkpoint past other streams' events, so idle polls do not read them again and again", async () => {
    const b = new FinanceEventBuilder('tenant-shared');
    const finance = workload(b, 3, 2);
    const others = Array.from({ length: 30 }, (_, i) => b.custom(`inventory-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 'StockCounted', { n: i }));
    await appendSpecs(store, [...finance, ...others]);
    const pool = db.pool({ max: 4 });
    manager = new ProjectionManager({ pool, eventStore: store, idlePollMs: 25, leaderRetryMs: 100, errorBackoffMs: 50, metricsRefreshMs: 0, logger: testLogger });
    manager.start();
    // The head is the last inventory event: a checkpoint left on the last finance event never reaches it.
    const head = await store.headPosition();
    await waitFor(async () => (await readCheckpoint(pool)) === head, 20000, 'the checkpoint to move past the other streams');
    expect(await readTotals(pool)).toEqual(expectedTotals(finance));
    expect(manager.stats().batchesApplied).toBeGreaterThanOrEqual(1);
  });
});
