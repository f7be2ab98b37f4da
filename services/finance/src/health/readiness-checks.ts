import type { DataSource } from 'typeorm';
import type { EventStore } from '../event-store/event-store';
import { pendingMigrationNames } from '../database/migration-runner';
import { withTimeout } from '../util/with-timeout';

/** How long the database may take to answer a readiness probe (kubelet's timeout is 3 s). */
export const DATABASE_PROBE_TIMEOUT_MS = 1000;

export async function checkDatabase(dataSource: DataSource): Promise<void> {
  await withTimeout(dataSource.query('SELECT 1'), DATABASE_PROBE_TIMEOUT_MS, 'database');
}

export async function checkSchema(dataSource: DataSource): Promise<{ pending: string[] }> {
  const pending = await withTimeout(pendingMigrationNames(dataSource), DATABASE_PROBE_TIMEOUT_MS, 'database');
  if (pending.length > 0) throw new Error(`schema is behind this build: pending migrations ${pending.join(', ')}`);
  return { pending };
}

export async function checkEventStore(eventStore: EventStore): Promise<void> {
  await withTimeout(eventStore.ping(), DATABASE_PROBE_TIMEOUT_MS, `event store (${eventStore.kind})`);
}
