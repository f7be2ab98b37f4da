import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandContext } from '../../application/command-context';
import { InvoiceService } from '../../application/invoice.service';
import { JournalService } from '../../application/journal.service';
import type { EventStore } from '../../event-store/event-store';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG, EVENT_STORE } from '../../runtime';
import type { Principal } from '../auth/principal';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { SANE_ID } from '../request-id';
import { describeError, isReplayableFailure, rethrowAsHttp, toHttpException } from './error-mapping';
import { parseIdempotencyKey, parseIfMatch } from './request-parsing';

export const IDEMPOTENCY_SERVICE = Symbol('IDEMPOTENCY_SERVICE');

/** The application services bound to one event store (the shared one, or an idempotency transaction's). */
export interface FinanceCommands {
  invoices: InvoiceService;
  journals: JournalService;
}

export interface WriteRequest {
  request: FastifyRequest;
  reply: FastifyReply;
  principal: Principal;
  /** 201 for creations, 200 for state changes. */
  successStatus: number;
  /** Parses the body (and path); ValidationError → 400. Runs before the idempotency key is looked at. */
  parse: () => void;
  execute: (commands: FinanceCommands, context: CommandContext) => Promise<Record<string, unknown>>;
  /** Location header for a created resource. */
  location?: (body: Record<string, unknown>) => string | undefined;
}

/**
 * The common path of every finance POST: headers (Idempotency-Key, If-Match, x-correlation-id), body
 * validation, the command (through the idempotency store when keyed) and the answer: status, body, ETag
 * (the stream version: the next If-Match), Location, Idempotent-Replayed.
 */
@Injectable()
export class WriteRequestHandler {
  private readonly shared: FinanceCommands;

  private readonly accountingTimeZone: string;

  constructor(
    @Inject(EVENT_STORE) eventStore: EventStore,
    @Inject(IDEMPOTENCY_SERVICE) private readonly idempotency: IdempotencyService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.accountingTimeZone = config.accountingTimeZone;
    this.shared = commandsOn(eventStore, this.accountingTimeZone);
  }

  async handle(write: WriteRequest): Promise<void> {
    const { request, reply } = write;
    let key: string | undefined;
    let context: CommandContext;
    try {
      key = parseIdempotencyKey(request.headers['idempotency-key']);
      const expectedVersion = parseIfMatch(request.headers['if-match']);
      write.parse();
      context = commandContext(request, write.principal, key, expectedVersion);
    } catch (error) {
      rethrowAsHttp(error);
    }
    reply.header('x-correlation-id', context.correlationId);

    if (key === undefined) {
      let body: Record<string, unknown>;
      try {
        body = await write.execute(this.shared, context);
      } catch (error) {
        rethrowAsHttp(error);
      }
      return this.send(write, write.successStatus, body);
    }

    let outcome;
    try {
      outcome = await this.idempotency.run(
        { tenantId: write.principal.tenantId, key, method: request.method, path: request.url.split('?')[0], body: request.body ?? null },
        async (eventStore, idempotencyToken) => {
          try {
            return { status: write.successStatus, body: await write.execute(commandsOn(eventStore, this.accountingTimeZone), { ...context, idempotencyToken }) };
          } catch (error) {
            const answer = describeError(error);
            if (answer && isReplayableFailure(answer.status)) return answer;
            throw error;
          }
        },
      );
    } catch (error) {
      rethrowAsHttp(error);
    }
    reply.header('idempotent-replayed', String(outcome.replayed));
    if (outcome.status >= 400) throw toHttpException({ status: outcome.status, body: outcome.body as Record<string, unknown> });
    return this.send(write, outcome.status, outcome.body as Record<string, unknown>);
  }

  private send(write: WriteRequest, status: number, body: Record<string, unknown>): void {
    if (typeof body.version === 'number') write.reply.header('etag', `"${body.version}"`);
    const location = write.location?.(body);
    if (location) write.reply.header('location', location);
    void write.reply.status(status).send(body);
  }
}

export function commandsOn(eventStore: EventStore, accountingTimeZone: string): FinanceCommands {
  return { invoices: new InvoiceService({ eventStore, accountingTimeZone }), journals: new JournalService({ eventStore }) };
}

/**
 * Event metadata for this request: tenant and user from the token; correlation id from x-correlation-id
 * (when sane) else the request id; causation id = the request id (the command that caused the events).
 */
function commandContext(request: FastifyRequest, principal: Principal, idempotencyKey: string | undefined, expectedVersion: number | undefined): CommandContext {
  // Fastify's id (genReqId in request-id.ts): the caller's x-request-id when sane, else a new UUID.
  const requestId = request.id;
  const given = request.headers['x-correlation-id'];
  const correlationId = typeof given === 'string' && SANE_ID.test(given) ? given : requestId;
  return {
    tenantId: principal.tenantId,
    userId: principal.userId,
    correlationId,
    causationId: requestId,
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
  };
}
