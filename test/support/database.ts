import type { DataSource } from 'typeorm';
import { randomBytes } from 'node:crypto';
import { Client, Pool, PoolConfig } from 'pg';

/** Connection settings of the PostgreSQL server the test run uses (set by global-setup.mjs). */
export function testServer() {
  return {
    host: process.env.TEST_PG_HOST ?? '127.0.0.1',
    port: Number(process.env.TEST_PG_PORT ?? 5432),
    user: process.env.TEST_PG_USER ?? 'postgres',
    password: process.env.TEST_PG_PASSWORD ?? '',
    adminDatabase: process.env.TEST_PG_ADMIN_DB ?? 'postgres',
  };
}

export interface TestDatabase {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  pool(config?: PoolConfig): Pool;
  /** Environment for a service process pointed at this database. */
  env(): Record<string, string>;
  drop(): Promise<void>;
}

/** A pg_locks condition: the lock is in this database (pg_locks spans the server, where other test files hold and wait for theirs). */
export const LOCK_IN_THIS_DATABASE = 'database = (SELECT oid FROM pg_database WHERE datname = current_database())';

/** A fresh, empty database on the test server; each test file gets its own. */
export async function createTestDatabase(prefix = 'finance_test'): Promise<TestDatabase> {
  const server = testServer();
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ ...server, database: server.adminDatabase });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pools: Pool[] = [];
  return {
    name,
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    pool(config: PoolConfig = {}) {
      const pool = new Pool({ ...server, database: name, max: 5, ...config });
      // drop() terminates the database's connections: an idle client's error then must not crash the run.
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    env() {
      return {
        DATABASE_HOST: server.host,
        DATABASE_PORT: String(server.port),
        DATABASE_USER: server.user,
        DATABASE_PASSWORD: server.password,
        DATABASE_NAME: name,
      };
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      const c = new Client({ ...server, database: server.adminDatabase });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Applies every migration in migrations/ to a test database, the way `npm run migration:run` does. */
export async function migrateTestDatabase(db: TestDatabase): Promise<void> {
  // Imported here so tests that only need a bare database do not load TypeORM.
  const { runMigrationsExclusively } = await import('../../services/finance/src/database/migration-runner');
  await withDataSource(db, 'finance-test-migrate', (dataSource) => runMigrationsExclusively(dataSource));
}

/** Runs `work` with the service's TypeORM DataSource (migrations included) on a test database. */
export async function withDataSource<T>(db: TestDatabase, applicationName: string, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const { createDataSource } = await import('../../services/finance/src/database/data-source.factory');
  const dataSource = createDataSource({ embedded: false, host: db.host, port: db.port, user: db.user, password: db.password, name: db.name, poolMax: 2 }, applicationName);
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
