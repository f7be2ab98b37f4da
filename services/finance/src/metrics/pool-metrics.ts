import { Gauge } from 'prom-client';
import type { Pool } from 'pg';
import type { FinanceMetrics } from './metrics-registry';

/** Database pool gauges, read at scrape time, so "pool above 90%" can be alerted on (in_use / max). */
export function registerPoolMetrics(metrics: FinanceMetrics, pool: () => Pool | undefined): void {
  const gauge = (name: string, help: string, read: (p: Pool) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        const p = pool();
        this.set(p ? read(p) : 0);
      },
    });
  gauge('finance_db_pool_in_use', 'Database connections checked out', (p) => p.totalCount - p.idleCount);
  gauge('finance_db_pool_idle', 'Database connections open and idle', (p) => p.idleCount);
  gauge('finance_db_pool_waiting', 'Requests waiting for a database connection', (p) => p.waitingCount);
  gauge('finance_db_pool_max', 'Maximum database connections in the pool', (p) => (p.options as { max?: number }).max ?? 10);
}
