import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { QueriesModule } from '../http/queries/queries.module';
import type { FinanceRuntime } from '../runtime';
import { APP_LOGGER } from '../runtime';
import type { AppLogger } from '../logging/root-logger';
import { DEFAULT_GAUGE_REFRESH_MS, ProjectionGauges } from './projection-gauges';
import { ProjectionManager } from './projection-manager';
import { ProjectionStatusReader } from './projection-status';
import { PROJECTION_GAUGES, PROJECTION_MANAGER, PROJECTION_STATUS } from './projection.tokens';

/**
 * Starts the live projection manager after bootstrap (when PROJECTION_ENABLED) and stops it on
 * shutdown; a pod that does not project still refreshes the projection gauges.
 */
@Injectable()
export class ProjectionLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Optional() @Inject(PROJECTION_MANAGER) private readonly manager: ProjectionManager | null,
    @Optional() @Inject(PROJECTION_GAUGES) private readonly gauges: ProjectionGauges | null,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.manager) {
      this.logger.info('projection disabled on this pod (PROJECTION_ENABLED=false)');
      this.gauges?.start(DEFAULT_GAUGE_REFRESH_MS);
      return;
    }
    this.manager.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.gauges?.stop();
    await this.manager?.stop();
  }
}

/**
 * The read side: live projection (one leader in the cluster) and the query API.
 * Register in features.ts: `ProjectionsModule.register(runtime)`.
 * Exports PROJECTION_MANAGER (null when disabled) and PROJECTION_STATUS (a ProjectionStatusReader).
 */
@Global()
@Module({})
export class ProjectionsModule {
  static register(runtime: FinanceRuntime): DynamicModule {
    const manager = runtime.config.projectionEnabled
      ? new ProjectionManager({
          pool: runtime.pool,
          eventStore: runtime.eventStore,
          metrics: runtime.metrics,
          logger: runtime.logger.child({ component: 'projection' }),
        })
      : null;
    // The manager keeps its own gauges; without one, these keep the pod's /metrics current.
    const gauges = manager ? null : new ProjectionGauges(runtime.pool, runtime.eventStore, runtime.metrics);
    const status = new ProjectionStatusReader(runtime.pool, runtime.eventStore, manager ?? undefined);
    return {
      module: ProjectionsModule,
      imports: [QueriesModule],
      providers: [
        { provide: PROJECTION_MANAGER, useValue: manager },
        { provide: PROJECTION_GAUGES, useValue: gauges },
        { provide: PROJECTION_STATUS, useValue: status },
        ProjectionLifecycle,
      ],
      exports: [PROJECTION_MANAGER, PROJECTION_STATUS],
    };
  }
}
