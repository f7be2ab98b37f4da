import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import type { EventStore } from '../event-store/event-store';
import { createEventStore } from '../event-store/event-store.factory';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { createDataSource, poolOf } from './data-source.factory';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres';

/** The database and event store connections of one process (service or CLI). */
export interface Infrastructure {
  dataSource: DataSource;
  pool: Pool;
  eventStore: EventStore;
  /** Closes the event store, the pool and (when this process started it) the embedded PostgreSQL. */
  close(): Promise<void>;
}

export async function openDatabase(config: AppConfig, applicationName: string): Promise<{ dataSource: DataSource; embedded?: EmbeddedPostgresHandle }> {
  const embedded = config.database.embedded ? await startEmbeddedPostgres(config) : undefined;
  const dataSource = createDataSource(config.database, applicationName);
  try {
    await dataSource.initialize();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { dataSource, embedded };
}

export async function openInfrastructure(config: AppConfig, applicationName: string, metrics?: FinanceMetrics): Promise<Infrastructure> {
  const { dataSource, embedded } = await openDatabase(config, applicationName);
  const pool = poolOf(dataSource);
  const eventStore = createEventStore(config, pool, metrics);
  return {
    dataSource,
    pool,
    eventStore,
    async close() {
      await eventStore.close().catch(() => undefined);
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
