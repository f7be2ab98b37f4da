import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppLogger } from '../logging/root-logger';
import type { RouteTable } from './route-table';

function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The JSON error body every failure gets: a status, a short error name and a clear message; never a stack. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  [extra: string]: unknown;
}

/**
 * Last line of defence for the HTTP layer: HttpExceptions keep their status and body, framework errors
 * that carry a 4xx (malformed JSON, wrong content type, body too large) keep theirs, a path served
 * under another method answers 405 with Allow, and anything else is a 500 logged with its stack.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(
    private readonly routes: RouteTable,
    private readonly logger: AppLogger,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { status, body, headers } = this.describe(exception, request);
    if (status >= 500) this.logger.error({ err: exception, reqId: request.id }, 'unhandled error');
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    reply.status(status).send(body);
  }

  private describe(exception: unknown, request: FastifyRequest): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (exception instanceof NotFoundException && !request.routeOptions?.url) {
      const path = request.url.split('?')[0];
      const allowed = this.routes.methodsFor(path, METHODS).filter((method) => method !== request.method);
      if (allowed.length > 0) {
        return {
          status: HttpStatus.METHOD_NOT_ALLOWED,
          body: { statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}` },
          headers: { Allow: allowed.join(', ') },
        };
      }
      return { status: 404, body: { statusCode: 404, error: 'Not Found', message: `No route for ${request.method} ${path}` }, headers: {} };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const body: ErrorBody =
        typeof response === 'string'
          ? { statusCode: status, error: statusText(status), message: response }
          : { statusCode: status, error: statusText(status), message: exception.message, ...(response as object) };
      return { status, body, headers: {} };
    }
    const framework = exception as { statusCode?: number; message?: string; code?: string };
    if (typeof framework?.statusCode === 'number' && framework.statusCode >= 400 && framework.statusCode < 500) {
      const message = framework.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || framework.code?.startsWith('FST_ERR_CTP_EMPTY_JSON')
        ? `Malformed JSON body: ${framework.message}`
        : framework.message ?? 'Bad request';
      return { status: framework.statusCode, body: { statusCode: framework.statusCode, error: statusText(framework.statusCode), message }, headers: {} };
    }
    return { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' }, headers: {} };
  }
}
