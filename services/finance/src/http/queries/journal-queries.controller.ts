import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { FinanceReadQueries } from './finance-read-queries';
import { notFound, parseOr400 } from './query-errors';
import { parseId, parseJournalListQuery, parseTrialBalanceQuery } from './query-params';
import { rethrowAsHttp } from '../finance/error-mapping';

@Controller('journal-entries')
@UseGuards(JwtAuthGuard)
export class JournalQueriesController {
  constructor(@Inject(FinanceReadQueries) private readonly queries: FinanceReadQueries) {}

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const parsed = parseOr400(() => parseJournalListQuery(query));
    return this.queries.listJournalEntries(principal.tenantId, parsed);
  }

  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') rawId: string) {
    const id = parseId(rawId);
    const entry = id === undefined ? undefined : await this.queries.getJournalEntry(principal.tenantId, id);
    if (!entry) throw notFound('JOURNAL_ENTRY_NOT_FOUND', rawId);
    return entry;
  }
}

@Controller('ledger')
@UseGuards(JwtAuthGuard)
export class LedgerQueriesController {
  constructor(@Inject(FinanceReadQueries) private readonly queries: FinanceReadQueries) {}

  /** Sum of debits and credits per account in one currency (?currency=, ?from=YYYY-MM-DD&to=YYYY-MM-DD by entry date). */
  @Get('trial-balance')
  async trialBalance(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const parsed = parseOr400(() => parseTrialBalanceQuery(query));
    return this.queries.trialBalance(principal.tenantId, parsed).catch(rethrowAsHttp);
  }
}
