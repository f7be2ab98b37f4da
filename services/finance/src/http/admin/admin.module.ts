import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import type { AppLogger } from '../../logging/root-logger';
import { LOG_OPERATION, ProjectionRollbackService } from '../../rollback/projection-rollback.service';
import { rollbackTuningFromEnv } from '../../rollback/rollback-tuning';
import { APP_LOGGER, FinanceRuntime } from '../../runtime';
import { AdminGuard, JwtAuthGuard } from '../auth/jwt-auth.guard';
import { AdminController } from './admin.controller';

/**
 * Recovery of a rollback that died (its pod killed mid-rebuild): once at start, then every few seconds
 * on every pod. On shutdown a running rollback is aborted; it restores the previous state and records why.
 */
@Injectable()
export class RollbackLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(ProjectionRollbackService) private readonly rollback: ProjectionRollbackService,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.rollback.recoverInterrupted('service start');
    } catch (error) {
      // The database may be down at start: the periodic check retries.
      this.logger.warn({ operation: LOG_OPERATION, err: error }, 'rollback recovery check at start failed; will retry');
    }
    this.rollback.startRecoveryWatch();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.rollback.close('the service is shutting down');
  }
}

/**
 * The admin API and the rollback service. Register in features.ts: `AdminModule.register(runtime)`.
 * GET /admin/finance/projections uses PROJECTION_STATUS, exported by the (global) ProjectionsModule.
 */
@Module({})
export class AdminModule {
  static register(runtime: FinanceRuntime): DynamicModule {
    const rollback = new ProjectionRollbackService({
      pool: runtime.pool,
      eventStore: runtime.eventStore,
      logger: runtime.logger,
      metrics: runtime.metrics,
      tuning: rollbackTuningFromEnv(),
    });
    return {
      module: AdminModule,
      controllers: [AdminController],
      providers: [
        JwtAuthGuard,
        AdminGuard,
        RollbackLifecycle,
        { provide: ProjectionRollbackService, useValue: rollback },
      ],
    };
  }
}
