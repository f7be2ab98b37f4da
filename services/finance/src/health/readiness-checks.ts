import type { EventStore } from '../event-store/event-store';
import { pendingMigrationNames } from '../database/migration-runner';
import { withTimeout } from '../util/with-timeout';
import type { ProbeSession } from './probe-session';

/** How long the database may take to answer a readiness probe (kubelet's timeout is 3 s). */
export const DATABASE_PROBE_TIMEOUT_MS = 1000;

export async function checkDatabase(session: ProbeSession): Promise<void> {
  await session.query('SELECT 1');
}

export async function checkSchema(session: ProbeSession, knownMigrations: readonly string[]): Promise<{ pending: string[] }> {
  const pending = await pendingMigrationNames(knownMigrations, (sql, params) => session.query(sql, params));
  if (pending.length > 0) throw new Error(`schema is behind this build: pending migrations ${pending.join(', ')}`);
  return { pending };
}

/** The PostgreSQL event store lives in the service's database: asked on the probe's session, not through the pool. */
export async function checkEventStore(eventStore: EventStore, session: ProbeSession): Promise<void> {
  if (eventStore.kind === 'postgres') await session.query('SELECT 1');
  else await withTimeout(eventStore.ping(), DATABASE_PROBE_TIMEOUT_MS, `event store (${eventStore.kind})`);
}
