import { Module } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../../runtime';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { FinanceReadQueries } from './finance-read-queries';
import { InvoiceQueriesController } from './invoice-queries.controller';
import { JournalQueriesController, LedgerQueriesController } from './journal-queries.controller';

/** GET routes over the read models: invoices, payments, journal entries, trial balance. */
@Module({
  controllers: [InvoiceQueriesController, JournalQueriesController, LedgerQueriesController],
  providers: [
    JwtAuthGuard,
    { provide: FinanceReadQueries, useFactory: (pool: Pool) => new FinanceReadQueries(pool), inject: [PG_POOL] },
  ],
})
export class QueriesModule {}
