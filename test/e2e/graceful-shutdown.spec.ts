import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { Client } from 'pg';
import { tempDataDir } from '../support/postgres-process';
import { spawn } from 'node:child_process';
import { MIGRATION_LOCK_KEY } from '../../services/finance/src/database/migration-runner';
import { freePort, freePorts, PROJECT_ROOT, SERVICE_MAIN, ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { waitFor } from '../support/wait-for';

const journalEntry = {
  date: '2026-11-26',
  memo: 'Opening cash',
  lines: [
    { accountCode: '1000', debit: '100.00' },
    { accountCode: '3000', credit: '100.00' },
  ],
};

const token = signToken({ tenantId: 'tenant-drain', roles: [] }, TEST_JWT_SECRET);

type Queryable = Pick<Client, 'query'>;

/**
 * Locks the events table in `blocker`'s open transaction and posts a journal entry, whose append then
 * waits on that lock: the request stays in flight until the blocker commits. Resolves once the append
 * waits, as seen from `watcher` (another session: a transaction keeps its own snapshot of pg_stat_activity).
 */
async function startHeldAppend(baseUrl: string, blocker: Queryable, watcher: Queryable): Promise<{ response: Promise<Response> }> {
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
  const response = fetch(`${baseUrl}/journal-entries`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(journalEntry),
  });
  await waitFor(async () => {
    const { rows } = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
    return rows[0].n > 0;
  }, 10000, 'the append to wait on the lock');
  return { response };
}

async function readinessStatus(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0; // listener closed: also "not ready" to kubelet
  }
}

describe('SIGTERM', () => {
  let db: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    db = await createTestDatabase('finance_shutdown');
    service = await startService({ ...db.env(), PROJECTION_ENABLED: 'false' });
  });

  afterAll(async () => {
    await service?.kill();
    await db?.drop();
  });

  it('stops being ready at once, lets the in-flight request finish, then exits 0', async () => {
    const pool = db.pool();
    const blocker = await pool.connect();
    const { response: inFlight } = await startHeldAppend(service.baseUrl, blocker, pool);

    const terminatedAt = Date.now();
    service.process.kill('SIGTERM');
    await waitFor(async () => (await readinessStatus(service.baseUrl)) !== 200, 2000, 'readiness to stop answering 200 within 2 s');
    expect(service.process.exitCode).toBeNull(); // still draining

    await blocker.query('COMMIT');
    blocker.release();
    const response = await inFlight;
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };

    expect(await service.exited).toBe(0);
    expect(Date.now() - terminatedAt).toBeLessThan(30000);
    const stored = await pool.query('SELECT count(*)::int AS n FROM events WHERE stream_id = $1', [`journal-${id}`]);
    expect(stored.rows[0].n).toBe(1);
    expect(service.output()).toMatch(/shutdown complete/);
  });
});

describe('SIGTERM with the embedded PostgreSQL (npm start)', () => {
  let service: ServiceProcess;
  let pgPort: number;

  beforeAll(async () => {
    pgPort = await freePort();
    // No DATABASE_HOST: the service starts its own PostgreSQL, whose package listens for SIGTERM too.
    service = await startService({ EMBEDDED_PG_DATA_DIR: tempDataDir('finance-shutdown-'), EMBEDDED_PG_PORT: String(pgPort), PROJECTION_ENABLED: 'false' }, { timeoutMs: 90_000 });
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
  });

  it('drains the in-flight request before stopping PostgreSQL, ignores a second SIGTERM, and exits 0', async () => {
    const session = () => new Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password: 'postgres', database: 'finance' });
    const blocker = session();
    // The service stops its PostgreSQL once drained, which ends this session too (57P01) if it is still open.
    blocker.on('error', () => undefined);
    await blocker.connect();
    try {
      const watcher = session();
      await watcher.connect();
      const { response: inFlight } = await startHeldAppend(service.baseUrl, blocker, watcher).finally(() => watcher.end());

      service.process.kill('SIGTERM');
      await waitFor(async () => (await readinessStatus(service.baseUrl)) !== 200, 2000, 'readiness to stop answering 200');
      service.process.kill('SIGTERM'); // a repeated signal must not cut the drain short
      await waitFor(async () => /already shutting down/.test(service.output()), 5000, 'the second SIGTERM to be logged');
      expect(service.process.exitCode).toBeNull();
      expect((await blocker.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]); // PostgreSQL still up

      await blocker.query('COMMIT');
      await blocker.end();
      const response = await inFlight;
      expect(response.status).toBe(201);
    } finally {
      await blocker.end().catch(() => undefined);
    }
    expect(await service.exited).toBe(0);
    expect(service.output()).toMatch(/shutdown complete/);
  });
});

describe('SIGTERM while starting', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('finance_start_stop');
  });

  afterAll(async () => {
    await db?.drop();
  });

  // A pod deleted mid-start: as PID 1 a signal with no listener is ignored, and the pod would wait out its grace period.
  it('exits at once (143) while waiting for the migration lock, before accepting any request', async () => {
    const pool = db.pool();
    const holder = await pool.connect(); // another pod migrating: it holds the migration lock
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const [port, metricsPort] = await freePorts(2);
      const child = spawn(process.execPath, [SERVICE_MAIN], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, MIGRATE_ON_START: 'true', ...db.env(), PORT: String(port), METRICS_PORT: String(metricsPort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (c) => (output += c));
      child.stderr!.on('data', (c) => (output += c));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      try {
        await waitFor(
          async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'advisory' AND datname = current_database()`)).rows[0].n === 1,
          30_000,
          'the service to wait for the migration lock',
        );
        child.kill('SIGTERM');
        let result: { code: number | null; signal: NodeJS.Signals | null } | undefined;
        void exited.then((r) => (result = r));
        await waitFor(() => result !== undefined, 5000, 'the service to exit within 5 s');
        expect(result).toEqual({ code: 143, signal: null });
        expect(output).toMatch(/stop signal while starting/);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      holder.release();
    }
  });
});
