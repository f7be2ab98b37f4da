import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { AppConfig } from './config/app-config';
import type { EventStore } from './event-store/event-store';
import type { ShutdownState } from './health/shutdown-state';
import type { AppLogger } from './logging/root-logger';
import type { FinanceMetrics } from './metrics/metrics-registry';

/** Injection tokens for the process-wide parts built in main.ts before Nest starts. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const APP_LOGGER = Symbol('APP_LOGGER');
export const FINANCE_METRICS = Symbol('FINANCE_METRICS');
export const PG_POOL = Symbol('PG_POOL');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const SHUTDOWN_STATE = Symbol('SHUTDOWN_STATE');
export const DATA_SOURCE = Symbol('DATA_SOURCE');

/** Everything long-lived that the HTTP layer, CLIs and background work share. */
export interface FinanceRuntime {
  config: AppConfig;
  logger: AppLogger;
  metrics: FinanceMetrics;
  dataSource: DataSource;
  pool: Pool;
  eventStore: EventStore;
  shutdown: ShutdownState;
}
