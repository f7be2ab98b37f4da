import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { FinanceReadQueries } from './finance-read-queries';
import { notFound, parseOr400 } from './query-errors';
import { parseId, parseInvoiceListQuery } from './query-params';

/** Invoice reads (tenant-scoped by the token); the write routes live in http/finance. */
@Controller('invoices')
@UseGuards(JwtAuthGuard)
export class InvoiceQueriesController {
  constructor(@Inject(FinanceReadQueries) private readonly queries: FinanceReadQueries) {}

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    const parsed = parseOr400(() => parseInvoiceListQuery(query));
    return this.queries.listInvoices(principal.tenantId, parsed);
  }

  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') rawId: string) {
    const id = parseId(rawId);
    const invoice = id === undefined ? undefined : await this.queries.getInvoice(principal.tenantId, id);
    if (!invoice) throw notFound('INVOICE_NOT_FOUND', rawId);
    return invoice;
  }

  @Get(':id/payments')
  async payments(@CurrentPrincipal() principal: Principal, @Param('id') rawId: string) {
    const id = parseId(rawId);
    const items = id === undefined ? undefined : await this.queries.listPayments(principal.tenantId, id);
    if (!items) throw notFound('INVOICE_NOT_FOUND', rawId);
    return { invoiceId: id, items };
  }
}
