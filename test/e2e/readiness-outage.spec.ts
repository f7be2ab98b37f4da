import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { PostgresProcess, tempDataDir } from '../support/postgres-process';
import { freePort, ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { waitFor } from '../support/wait-for';

/** Status of a probe, or 0 when nothing answers. */
async function statusOf(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return 0;
  }
}

describe('readiness follows PostgreSQL; liveness does not', () => {
  let postgres: PostgresProcess;
  let service: ServiceProcess;

  beforeAll(async () => {
    postgres = new PostgresProcess(tempDataDir('finance-outage-'), await freePort());
    await postgres.start();
    service = await startService({ ...postgres.env(), PROJECTION_ENABLED: 'false' });
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await postgres?.stop();
  });

  it('turns 503 within 10 s when PostgreSQL stops, keeps liveness 200, and recovers without a restart', async () => {
    expect(await statusOf(`${service.baseUrl}/health/ready`)).toBe(200);

    await postgres.stop();
    // The deadline is the claim: counted from PostgreSQL having stopped (its own shutdown is not the service's time).
    await waitFor(async () => (await statusOf(`${service.baseUrl}/health/ready`)) === 503, 10000, 'readiness 503 within 10 s');

    const body = (await (await fetch(`${service.baseUrl}/health/ready`)).json()) as { status: string; error: Record<string, unknown> };
    expect(body.status).toBe('error');
    expect(Object.keys(body.error)).toContain('database');
    for (let i = 0; i < 3; i++) expect(await statusOf(`${service.baseUrl}/health/live`)).toBe(200);

    await postgres.start();
    await waitFor(async () => (await statusOf(`${service.baseUrl}/health/ready`)) === 200, 20000, 'readiness 200 again');
    expect(await statusOf(`${service.baseUrl}/health/live`)).toBe(200);
    expect(service.process.exitCode).toBeNull();
  });
});

describe('readiness when requests hold every pooled connection', () => {
  let db: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    db = await createTestDatabase('finance_busy_pool');
    service = await startService({ ...db.env(), PROJECTION_ENABLED: 'false', DATABASE_POOL_MAX: '2' });
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  // Busy is not down: failing readiness on every pod at once would leave the Service with no endpoints.
  it('stays 200 while both pooled connections wait on a lock, because the probe has its own session', async () => {
    const pool = db.pool();
    const blocker = await pool.connect();
    const token = signToken({ tenantId: 'tenant-busy', roles: [] }, TEST_JWT_SECRET);
    const post = () =>
      fetch(`${service.baseUrl}/journal-entries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ date: '2026-11-26', memo: 'busy', lines: [{ accountCode: '1000', debit: '1.00' }, { accountCode: '3000', credit: '1.00' }] }),
      });
    let held: Promise<Response>[] = [];
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      held = [post(), post(), post()];
      await waitFor(
        async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n === 2,
        10000,
        'both pooled connections to wait on the lock',
      );
      expect(await statusOf(`${service.baseUrl}/health/ready`)).toBe(200);
      expect(await statusOf(`${service.baseUrl}/health/ready`)).toBe(200);
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([201, 201, 201]);
  });
});
