import type { FastifyInstance } from 'fastify';
import type { ShutdownState } from '../health/shutdown-state';

/**
 * While draining, every response says `Connection: close`: a keep-alive connection whose request was
 * in flight at SIGTERM closes after its response instead of holding the server open until its idle timeout.
 */
export function closeConnectionsOnShutdown(fastify: FastifyInstance, shutdown: ShutdownState): void {
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (shutdown.shuttingDown) reply.header('connection', 'close');
    return payload;
  });
}
