/**
 * The gauges' refresh runs on every pod every couple of seconds: against a stalled database it must not
 * start a new read each interval (they would pile up and take every pooled connection).
 */
import type { Pool } from 'pg';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { FinanceMetrics } from '../../services/finance/src/metrics/metrics-registry';
import { ProjectionGauges } from '../../services/finance/src/projections/projection-gauges';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';
import { startEsdbTestServer } from '../support/esdb-test-server';
import { waitFor } from '../support/wait-for';

describe('ProjectionGauges refresh', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('projection_gauges');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 5 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('runs one refresh at a time while the checkpoint read is stuck, then resumes', async () => {
    const metrics = new FinanceMetrics('test', 'none');
    const gauges = new ProjectionGauges(pool, new PostgresEventStore(pool), metrics);
    const blocker = await pool.connect();
    // Watched from a pool of its own (the gauges' pool may fill up) and outside the blocker's transaction
    // (a transaction keeps one snapshot of pg_stat_activity).
    const observer = db.pool({ max: 1 });
    const waitingOnLock = async () =>
      (await observer.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n as number;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE projection_checkpoint IN ACCESS EXCLUSIVE MODE');
      await blocker.query('UPDATE projection_checkpoint SET position = 7');
      gauges.start(20);
      await waitFor(async () => (await waitingOnLock()) === 1, 5000, 'the first refresh to wait on the lock');
      // What must not happen within 100 intervals: a second refresh queued behind the first.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(await waitingOnLock()).toBe(1);
      const refreshedAt = async () => (await metrics.projectionGaugesRefreshed.get()).values[0]?.value ?? 0;
      // Stuck: the gauges keep their values, and the refresh time tells how old they are.
      expect(await refreshedAt()).toBe(0);
      await blocker.query('COMMIT');
      await waitFor(async () => (await metrics.projectionCheckpoint.get()).values[0]?.value === 7, 5000, 'a refresh to read the checkpoint');
      expect(await refreshedAt()).toBeGreaterThan(Date.now() / 1000 - 60);
    } finally {
      gauges.stop();
      blocker.release();
    }
  });

  it('on EventStoreDB, finance_event_store_up follows the head read (down while reads time out, up again after)', async () => {
    const esdb = await startEsdbTestServer();
    const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString, { readTimeoutMs: 300 });
    const metrics = new FinanceMetrics('test', 'none');
    const gauges = new ProjectionGauges(pool, store, metrics);
    const up = async () => (await metrics.eventStoreUp.get()).values[0]?.value;
    try {
      gauges.start(50);
      await waitFor(async () => (await up()) === 1, 5000, 'up after a head read');
      esdb.stallReads = true;
      await waitFor(async () => (await up()) === 0, 5000, 'down while reads time out');
      esdb.stallReads = false;
      await waitFor(async () => (await up()) === 1, 5000, 'up again');
    } finally {
      gauges.stop();
      await store.close();
      await esdb.close();
    }
  });
});
