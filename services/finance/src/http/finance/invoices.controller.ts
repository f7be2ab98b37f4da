import { Body, Controller, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CreateInvoiceInput, RecordPaymentInput } from '../../application/invoice.service';
import { NotFoundError } from '../../domain/errors';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { parseApproveInvoice, parseCancelInvoice, parseCreateInvoice, parseEntityId, parseRecordPayment } from './request-parsing';
import { invoiceBody, paymentBody } from './response-mapping';
import { WriteRequestHandler } from './write-request.handler';
import { storableText } from '../storable-text';

/**
 * Invoice commands. All routes need a bearer token; its tenantId scopes everything: another tenant's
 * invoice is answered exactly like a missing one (404). Reads (GET) are served by the read models.
 */
@Controller('invoices')
@UseGuards(JwtAuthGuard)
export class InvoicesController {
  constructor(private readonly writes: WriteRequestHandler) {}

  /** 201 {id, version, status: "DRAFT", subtotal, vat, total, ...} */
  @Post()
  async create(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<void> {
    let input: CreateInvoiceInput;
    await this.writes.handle({
      request,
      reply,
      principal,
      successStatus: 201,
      parse: () => (input = parseCreateInvoice(body)),
      execute: async ({ invoices }, context) => invoiceBody(await invoices.create(input, context)),
      location: (result) => `/invoices/${String(result.id)}`,
    });
  }

  /** 200 {id, version, status: "APPROVED"}; 422 INVOICE_ALREADY_APPROVED / INVOICE_CANCELLED. */
  @Post(':id/approve')
  async approve(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<void> {
    await this.writes.handle({
      request,
      reply,
      principal,
      successStatus: 200,
      parse: () => parseApproveInvoice(body),
      execute: async ({ invoices }, context) => invoiceBody(await invoices.approve(invoiceId(id), context)),
    });
  }

  /** 200 {id, version, status: "CANCELLED"}; 422 INVOICE_HAS_PAYMENTS / INVOICE_ALREADY_CANCELLED. */
  @Post(':id/cancel')
  async cancel(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<void> {
    let reason = '';
    await this.writes.handle({
      request,
      reply,
      principal,
      successStatus: 200,
      parse: () => ({ reason } = parseCancelInvoice(body)),
      execute: async ({ invoices }, context) => invoiceBody(await invoices.cancel(invoiceId(id), reason, context)),
    });
  }

  /** 201 {paymentId, invoiceId, version, status, amount, outstanding}; 422 OVERPAYMENT / INVOICE_NOT_APPROVED / INVOICE_CANCELLED. */
  @Post(':id/payments')
  async recordPayment(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<void> {
    let input: RecordPaymentInput;
    await this.writes.handle({
      request,
      reply,
      principal,
      successStatus: 201,
      parse: () => (input = parseRecordPayment(body)),
      execute: async ({ invoices }, context) => paymentBody(await invoices.recordPayment(invoiceId(id), input, context), input.amountMinor),
    });
  }
}

/** A path id that is not a UUID cannot name an invoice: 404 like any unknown id. */
function invoiceId(raw: string): string {
  const id = parseEntityId(raw);
  // Echoed in the 404, which an Idempotency-Key stores: only storable text.
  if (!id) throw new NotFoundError('INVOICE_NOT_FOUND', storableText(raw.slice(0, 64)));
  return id;
}
