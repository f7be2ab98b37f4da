/**
 * One projector in the cluster, with real service processes: three instances of the compiled service
 * on one database. Exactly one projects; SIGKILL it in the middle of a catch-up and another takes
 * over within seconds, finishing the backlog with every event applied exactly once (rows and
 * checkpoint commit together, so the killed leader's last batch is either all there or not at all).
 */
import type { Pool } from 'pg';
import { APPEND_LOCK_KEY } from '../../services/finance/src/event-store/postgres-event-store';
import { advisoryLockHolder, readCheckpoint } from '../../services/finance/src/projections/projection-state';
import { EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, TestDatabase } from '../support/database';
import { ServiceProcess, startService } from '../support/service-process';
import { waitFor } from '../support/wait-for';

/** Bulk-inserts new streams' events (under the append lock, as append_events would). */
async function insertEvents(pool: Pool, specs: EventSpec[]): Promise<void> {
  const versions = new Map<string, number>();
  for (let offset = 0; offset < specs.length; offset += 5000) {
    const chunk = specs.slice(offset, offset + 5000);
    const columns: unknown[][] = [[], [], [], [], [], []];
    for (const s of chunk) {
      const version = (versions.get(s.streamId) ?? -1) + 1;
      versions.set(s.streamId, version);
      columns[0].push(s.streamId);
      columns[1].push(version);
      columns[2].push(s.event.id);
      columns[3].push(s.event.type);
      columns[4].push(JSON.stringify(s.event.data));
      columns[5].push(JSON.stringify(s.event.metadata));
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::int8)', [APPEND_LOCK_KEY.toString()]);
      await client.query(
        `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata)
         SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])`,
        columns,
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
}

function backlog(b: FinanceEventBuilder, invoices: number): { specs: EventSpec[]; paid: bigint; payments: number } {
  const specs: EventSpec[] = [];
  let paid = 0n;
  let payments = 0;
  for (let i = 0; i < invoices; i++) {
    const c = b.createInvoice();
    const id = c.event.data.invoiceId as string;
    const amount = 1000n + BigInt(i % 100);
    specs.push(c, b.approve(id), b.pay(id, amount), b.pay(id, 500n));
    paid += amount + 500n;
    payments += 2;
  }
  return { specs, paid, payments };
}

async function liveEvents(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(service.metricsUrl)).text();
  return Number(/^finance_projection_events_total\{mode="live"\} (\S+)$/m.exec(text)?.[1] ?? 'NaN');
}

describe('projection leadership across service instances', () => {
  let db: TestDatabase;
  let pool: Pool;
  let services: ServiceProcess[] = [];
  const b = new FinanceEventBuilder('tenant-cluster');
  let expectedPaid = 0n;
  let expectedPayments = 0;

  async function caughtUp(): Promise<boolean> {
    const head = (await pool.query('SELECT coalesce(max(global_position), 0)::text AS h FROM events')).rows[0].h;
    return (await readCheckpoint(pool)).toString() === head;
  }

  async function expectExactlyOnce(): Promise<void> {
    const { rows } = await pool.query(
      `SELECT (SELECT count(*) FROM payment_read_model)::int AS payments,
              (SELECT coalesce(sum(amount_paid_minor), 0) FROM invoice_read_model)::text AS paid,
              (SELECT count(*) FROM invoice_read_model WHERE amount_paid_minor <> (SELECT coalesce(sum(p.amount_minor), 0) FROM payment_read_model p WHERE p.invoice_id = invoice_read_model.id))::int AS mismatched`,
    );
    expect(rows[0]).toEqual({ payments: expectedPayments, paid: expectedPaid.toString(), mismatched: 0 });
  }

  beforeAll(async () => {
    db = await createTestDatabase('proj_cluster');
    // The first instance applies the migrations; the others then start together.
    services.push(await startService({ ...db.env(), LOG_LEVEL: 'warn' }));
    services.push(...(await Promise.all([1, 2].map(() => startService({ ...db.env(), LOG_LEVEL: 'warn' })))));
    pool = db.pool({ max: 4 });
  }, 120000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db?.drop();
  });

  it('exactly one of three instances projects', async () => {
    const { specs, paid, payments } = backlog(b, 500);
    await insertEvents(pool, specs);
    expectedPaid += paid;
    expectedPayments += payments;
    await waitFor(caughtUp, 20000, 'catch-up', 50);
    const counts = await Promise.all(services.map(liveEvents));
    expect(counts.filter((n) => n > 0)).toEqual([specs.length]);
    expect((await advisoryLockHolder(pool))?.applicationName).toMatch(/^finance-projection@/);
    await expectExactlyOnce();
  });

  it('SIGKILL of the leader mid catch-up: another instance takes over within seconds, nothing applied twice', async () => {
    const { specs, paid, payments } = backlog(b, 6000);
    const before = await readCheckpoint(pool);
    await insertEvents(pool, specs);
    expectedPaid += paid;
    expectedPayments += payments;
    const leaderIndex = (await Promise.all(services.map(liveEvents))).findIndex((n) => n > 0);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const leader = services[leaderIndex];
    // Mid-way: past where it started, not yet at the head.
    await waitFor(async () => (await readCheckpoint(pool)) > before, 20000, 'the catch-up to start', 5);
    const caught = await caughtUp();
    const oldHolder = await advisoryLockHolder(pool);
    await leader.kill(); // SIGKILL: no shutdown hook, the lock session dies with the process
    services = services.filter((s) => s !== leader);
    expect(caught).toBe(false); // killed mid catch-up, or this test would not test it

    const takeoverMs = await waitFor(async () => {
      const holder = await advisoryLockHolder(pool);
      return holder !== undefined && holder.pid !== oldHolder?.pid;
    }, 10000, 'a new leader within 10 s', 50);
    await waitFor(caughtUp, 30000, 'the new leader to finish the backlog', 50);
    await expectExactlyOnce();
    expect((await Promise.all(services.map(liveEvents))).filter((n) => n > 0)).toHaveLength(1);
    console.log(`takeover after SIGKILL: ${takeoverMs} ms`);
  });
});
