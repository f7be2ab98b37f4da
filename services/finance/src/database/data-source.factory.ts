import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { Pool } from 'pg';
import type { DatabaseConfig } from '../config/app-config';
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

/** The node-postgres pool under a TypeORM postgres DataSource: shared for raw SQL and pool metrics. */
export function poolOf(dataSource: DataSource): Pool {
  const driver = dataSource.driver as unknown as { master?: Pool };
  if (!driver.master) throw new Error('DataSource is not initialised');
  return driver.master;
}
