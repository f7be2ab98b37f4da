import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { DataSource } from 'typeorm';
import type { EventStore } from '../event-store/event-store';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { DATA_SOURCE, EVENT_STORE, FINANCE_METRICS, SHUTDOWN_STATE } from '../runtime';
import { checkDatabase, checkEventStore, checkSchema } from './readiness-checks';
import type { ShutdownState } from './shutdown-state';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Inject(SHUTDOWN_STATE) private readonly shutdown: ShutdownState,
    @Inject(FINANCE_METRICS) private readonly metrics: FinanceMetrics,
  ) {}

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
      () => this.indicators.check('database').attempt(() => checkDatabase(this.dataSource)),
      () => this.indicators.check('schema').attempt(() => checkSchema(this.dataSource)),
      () =>
        this.indicators
          .check('eventStore')
          .attempt(async () => {
            try {
              await checkEventStore(this.eventStore);
              this.metrics.eventStoreUp.set(1);
            } catch (error) {
              this.metrics.eventStoreUp.set(0);
              throw error;
            }
          }),
    ]);
  }
}
