import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A short, plain id (request and correlation ids from callers must match it). */
export const SANE_ID = /^[\w.:-]{1,128}$/;

/** A caller's request id is kept when it is short and plain; anything else gets a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_ID.test(header) ? header : randomUUID();
}

/** Fastify adapter options: request ids for logs come from x-request-id or a new UUID. */
export const requestIdOptions = {
  genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFrom(req.headers[REQUEST_ID_HEADER]),
};

/** Echoes the request id so callers can quote it when reporting a problem. */
export function echoRequestId(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
