import type { FastifyInstance } from 'fastify';
import type { FinanceMetrics } from './metrics-registry';

/** Label for requests that matched no route: one value, whatever the path, to bound cardinality. */
export const UNMATCHED_ROUTE = '<unmatched>';

/** Records every response under its route template (never the raw URL, which carries ids). */
export function installHttpMetrics(fastify: FastifyInstance, metrics: FinanceMetrics): void {
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions?.url ?? UNMATCHED_ROUTE;
    const labels = { method: request.method, route: reply.statusCode === 404 && !request.routeOptions?.url ? UNMATCHED_ROUTE : route, status_code: String(reply.statusCode) };
    metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
    metrics.httpRequestsTotal.inc(labels);
  });
}
