import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { DataSource } from 'typeorm';
import type { Pool } from 'pg';
import type { DatabaseConfig, DatabaseTls } from '../config/app-config';
import { deadPeerDetectionOptions } from './dead-peer-detection';

/** Compiled (dist) and source (jest) layouts both resolve: migrations/ sits at the project root. */
const PROJECT_ROOT = join(__dirname, '..', '..', '..', '..');

export const MIGRATIONS_TABLE = 'migrations';

export function createDataSource(db: DatabaseConfig, applicationName = 'finance-service'): DataSource {
  return new DataSource({
    type: 'postgres',
    host: db.host,
    port: db.port,
    username: db.user,
    password: db.password,
    database: db.name,
    applicationName,
    entities: [join(__dirname, '..', '**', '*.entity.{js,ts}')],
    migrations: [join(PROJECT_ROOT, 'migrations', '*.{js,ts}')],
    migrationsTableName: MIGRATIONS_TABLE,
    ssl: tlsOptions(db.ssl),
    synchronize: false,
    logging: false,
    extra: {
      max: db.poolMax,
      // Bounded waits: a dead database must surface as an error, not a hung request or probe.
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30000,
      // A dead peer is noticed on both ends: the server drops a vanished pod's sessions (and locks), and
      // the client's keepalive notices a vanished server.
      options: deadPeerDetectionOptions(),
      keepAlive: true,
    },
  });
}

/**
 * node-postgres TLS options for DATABASE_SSL (libpq's sslmode names). The pool's dedicated sessions copy
 * them with the rest of its options. The CA file is read here, at start: a missing file stops the start.
 */
export function tlsOptions(tls: DatabaseTls | undefined): false | (TlsOptions & Pick<ConnectionOptions, 'checkServerIdentity'>) {
  if (!tls) return false;
  if (tls.mode === 'require') return { rejectUnauthorized: false };
  const ca = tls.caFile ? { ca: readFileSync(tls.caFile, 'utf8') } : {};
  // verify-ca: the chain must lead to the CA, whatever name the certificate carries.
  return tls.mode === 'verify-ca' ? { rejectUnauthorized: true, ...ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: true, ...ca };
}

/** The node-postgres pool under a TypeORM postgres DataSource: shared for raw SQL and pool metrics. */
export function poolOf(dataSource: DataSource): Pool {
  const driver = dataSource.driver as unknown as { master?: Pool };
  if (!driver.master) throw new Error('DataSource is not initialised');
  return driver.master;
}
