import type { Pool } from 'pg';
import type { AppConfig } from '../config/app-config';
import type { EventStore } from './event-store';
import { EventStoreDbEventStore } from './eventstoredb-event-store';
import { EventStoreTimer, InstrumentedEventStore } from './instrumented-event-store';
import { PostgresEventStore } from './postgres-event-store';

/**
 * The adapter chosen by EVENT_STORE. The PostgreSQL adapter uses the given pool (the service's
 * shared one) and does not close it; the EventStoreDB adapter owns its client.
 */
export function createEventStore(config: AppConfig, pool: Pool, metrics?: EventStoreTimer): EventStore {
  const store = config.eventStore === 'eventstoredb' ? createEventStoreDb(config) : new PostgresEventStore(pool);
  return metrics ? new InstrumentedEventStore(store, metrics) : store;
}

/** The EventStoreDB adapter alone: a CLI needs no PostgreSQL for it. */
export function createEventStoreDb(config: AppConfig): EventStoreDbEventStore {
  if (!config.eventStoreConnectionString) throw new Error('EVENTSTORE_CONNECTION_STRING is required when EVENT_STORE=eventstoredb');
  return EventStoreDbEventStore.fromConnectionString(config.eventStoreConnectionString);
}
