import { Controller, Get, Inject, OnModuleDestroy } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { EventStore } from '../event-store/event-store';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { knownMigrationNames } from '../database/migration-runner';
import { DATA_SOURCE, EVENT_STORE, FINANCE_METRICS, PG_POOL, SHUTDOWN_STATE } from '../runtime';
import { ProbeSession } from './probe-session';
import { checkDatabase, checkEventStore, checkSchema, DATABASE_PROBE_TIMEOUT_MS } from './readiness-checks';
import type { ShutdownState } from './shutdown-state';

@Controller('health')
export class HealthController implements OnModuleDestroy {
  private readonly probe: ProbeSession;
  private readonly knownMigrations: readonly string[];

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(DATA_SOURCE) dataSource: DataSource,
    @Inject(PG_POOL) pool: Pool,
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(SHUTDOWN_STATE) private readonly shutdown: ShutdownState,
    @Inject(FINANCE_METRICS) private readonly metrics: FinanceMetrics,
  ) {
    this.probe = new ProbeSession(pool, DATABASE_PROBE_TIMEOUT_MS);
    this.knownMigrations = knownMigrationNames(dataSource);
  }

  async onModuleDestroy(): Promise<void> {
    await this.probe.close();
  }

  /** Liveness: the process can serve. Never touches the database, so an outage does not restart pods. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up({ uptimeSeconds: Math.round(process.uptime()) })]);
  }

  /** Readiness: database answers quickly, schema matches this build, event store answers, not shutting down. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.readiness();
  }

  /** Alias of readiness for the blue-green runbook's `curl .../health`. */
  @Get()
  @HealthCheck()
  overall() {
    return this.readiness();
  }

  private readiness() {
    return this.health.check([
      () => (this.shutdown.shuttingDown ? this.indicators.check('shutdown').down('shutting down') : this.indicators.check('shutdown').up()),
      () => this.indicators.check('database').attempt(() => checkDatabase(this.probe)),
      () => this.indicators.check('schema').attempt(() => checkSchema(this.probe, this.knownMigrations)),
      () =>
        this.indicators
          .check('eventStore')
          .attempt(async () => {
            try {
              await checkEventStore(this.eventStore, this.probe);
              this.metrics.eventStoreUp.set(1);
            } catch (error) {
              this.metrics.eventStoreUp.set(0);
              throw error;
            }
          }),
    ]);
  }
}
