import { DynamicModule, Module } from '@nestjs/common';
import type { Pool } from 'pg';
import type { EventStore } from '../../event-store/event-store';
import type { FinanceMetrics } from '../../metrics/metrics-registry';
import { EVENT_STORE, FINANCE_METRICS, FinanceRuntime, PG_POOL } from '../../runtime';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { InvoicesController } from './invoices.controller';
import { JournalEntriesController } from './journal-entries.controller';
import { IDEMPOTENCY_SERVICE, WriteRequestHandler } from './write-request.handler';

/**
 * The finance write API: POST /invoices, /invoices/:id/approve|cancel|payments, /journal-entries.
 * Register in features.ts: `FinanceApiModule.register(runtime)`. Uses the runtime's event store and
 * pool through the global CoreModule tokens.
 */
@Module({})
export class FinanceApiModule {
  static register(_runtime?: FinanceRuntime): DynamicModule {
    return {
      module: FinanceApiModule,
      controllers: [InvoicesController, JournalEntriesController],
      providers: [
        JwtAuthGuard,
        WriteRequestHandler,
        {
          provide: IDEMPOTENCY_SERVICE,
          inject: [PG_POOL, EVENT_STORE, FINANCE_METRICS],
          useFactory: (pool: Pool, eventStore: EventStore, metrics: FinanceMetrics) => new IdempotencyService(pool, eventStore, { timer: metrics }),
        },
      ],
    };
  }
}
