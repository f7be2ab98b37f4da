import { DynamicModule, Global, Module } from '@nestjs/common';
import {
  APP_CONFIG,
  APP_LOGGER,
  DATA_SOURCE,
  EVENT_STORE,
  FINANCE_METRICS,
  FinanceRuntime,
  PG_POOL,
  SHUTDOWN_STATE,
} from './runtime';

/** Makes the process-wide parts built in main.ts injectable everywhere. */
@Global()
@Module({})
export class CoreModule {
  static register(runtime: FinanceRuntime): DynamicModule {
    const providers = [
      { provide: APP_CONFIG, useValue: runtime.config },
      { provide: APP_LOGGER, useValue: runtime.logger },
      { provide: FINANCE_METRICS, useValue: runtime.metrics },
      { provide: DATA_SOURCE, useValue: runtime.dataSource },
      { provide: PG_POOL, useValue: runtime.pool },
      { provide: EVENT_STORE, useValue: runtime.eventStore },
      { provide: SHUTDOWN_STATE, useValue: runtime.shutdown },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}
