import { BadRequestException, CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { Observable } from 'rxjs';

/**
 * A request body that could not be parsed, kept as the body instead of failing the request at once.
 * Fastify parses bodies before Nest's guards run: a malformed body without a token was answered 400
 * where the contract says 401. UnparsableBodyInterceptor, which runs after the guards, answers the 400.
 */
export class UnparsableBody {
  constructor(readonly message: string) {}
}

/**
 * JSON bodies through Fastify's own parser (prototype-poisoning checks included), with a parse failure
 * kept as an UnparsableBody. An empty body is no body: `POST .../approve` with a JSON content type and
 * nothing else is a request without a payload, not a malformed one.
 */
export function deferJsonBodyErrors(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, (error, value) => done(null, error ? unparsableJson(error) : value));
  });
}

export function unparsableJson(error: Error): UnparsableBody {
  return new UnparsableBody(`Malformed JSON body: ${error.message}`);
}

/** The 400 for an UnparsableBody, after authentication and authorization have had their say. */
@Injectable()
export class UnparsableBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const body = context.switchToHttp().getRequest<{ body?: unknown }>().body;
    if (body instanceof UnparsableBody) throw new BadRequestException(body.message);
    return next.handle();
  }
}
