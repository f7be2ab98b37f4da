/**
 * One projector in the cluster: several managers (each with its own pool, as separate pods would
 * have) on one database. Exactly one projects; when it stops or loses its lock connection another
 * takes over within seconds, and no event is ever applied twice.
 */
import type { Pool } from 'pg';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { ProjectionManager } from '../../services/finance/src/projections/projection-manager';
import { advisoryLockHolder, readCheckpoint } from '../../services/finance/src/projections/projection-state';
import { LIVE_TABLES } from '../../services/finance/src/projections/read-model-rows';
import { appendSpecs, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';
import { waitFor } from '../support/wait-for';


function invoicesWithPayments(b: FinanceEventBuilder, n: number): EventSpec[] {
  const specs: EventSpec[] = [];
  for (let i = 0; i < n; i++) {
    const c = b.createInvoice();
    const id = c.event.data.invoiceId as string;
    specs.push(c, b.approve(id), b.pay(id, 1000n), b.pay(id, 2000n));
  }
  return specs;
}

describe('projection leader election (PostgreSQL advisory lock)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let managers: ProjectionManager[] = [];
  let appended = 0;
  const b = new FinanceEventBuilder('tenant-leader');

  const leaders = () => managers.filter((m) => m.isLeader());
  const applied = () => managers.reduce((sum, m) => sum + m.stats().eventsApplied, 0);

  async function append(n: number): Promise<void> {
    const specs = invoicesWithPayments(b, n);
    await appendSpecs(store, specs);
    appended += specs.length;
  }

  async function caughtUp(): Promise<boolean> {
    return (await readCheckpoint(pool)) === (await store.headPosition());
  }

  async function expectExactlyOnce(): Promise<void> {
    const { rows } = await pool.query(
      `SELECT (SELECT count(*) FROM ${LIVE_TABLES.payments})::int AS payments,
              (SELECT count(*) FROM ${LIVE_TABLES.invoices} WHERE amount_paid_minor <> 3000 OR status <> 'PARTIALLY_PAID')::int AS wrong,
              (SELECT count(*) FROM ${LIVE_TABLES.journalEntries})::int AS entries`,
    );
    expect(rows[0]).toEqual({ payments: appended / 2, wrong: 0, entries: (appended / 4) * 3 });
    expect(applied()).toBe(appended);
  }

  beforeAll(async () => {
    db = await createTestDatabase('proj_leader');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 4 });
    store = new PostgresEventStore(db.pool({ max: 4 }));
    managers = [0, 1, 2].map(
      () => new ProjectionManager({ pool: db.pool({ max: 3 }), eventStore: store, idlePollMs: 50, leaderRetryMs: 1000, metricsRefreshMs: 0, batchSize: 50 }),
    );
  });

  afterAll(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await db?.drop();
  });

  it('three managers on one database: exactly one projects', async () => {
    await append(100);
    for (const m of managers) m.start();
    await waitFor(() => leaders().length === 1, 5000, 'a leader');
    await waitFor(caughtUp, 15000, 'catch-up');
    expect(leaders()).toHaveLength(1);
    const [leader] = leaders();
    for (const m of managers) if (m !== leader) expect(m.stats().eventsApplied).toBe(0);
    const holder = await advisoryLockHolder(pool);
    expect(holder?.pid).toBe(leader.leaderSessionPid());
    await expectExactlyOnce();
  });

  it('when the leader stops, another takes over within seconds', async () => {
    const [old] = leaders();
    await old.stop(); // stays in `managers`: a stopped manager is never leader, and its count still adds up
    // "Within seconds": the others retry the lock every second (leaderRetryMs); the deadline is the bound.
    await waitFor(() => leaders().length === 1, 5000, 'a new leader within 5 s');
    await append(30);
    await waitFor(caughtUp, 10000, 'catch-up by the new leader');
    await expectExactlyOnce();
  });

  it('a leader whose lock connection dies stops projecting, and another (or it, reconnected) takes over', async () => {
    const [current] = leaders();
    const pid = current.leaderSessionPid()!;
    await append(50);
    // The database ends the leader's lock session (as when its pod is partitioned away or killed).
    await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(() => current.leaderSessionPid() !== pid, 5000, 'the old session to be dropped');
    await waitFor(async () => {
      const holder = await advisoryLockHolder(pool);
      return holder !== undefined && holder.pid !== pid && leaders().length === 1;
    }, 5000, 'a new lock holder');
    await append(20);
    await waitFor(caughtUp, 10000, 'catch-up after the failover');
    await expectExactlyOnce();
  });
});
