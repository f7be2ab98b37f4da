import type { FastifyInstance } from 'fastify';
import { parse } from 'node:querystring';

/**
 * The seed runbook posts JSON with `curl -d '{"targetVersion": 12345}'` and no Content-Type, so curl
 * labels it application/x-www-form-urlencoded. Operators paste it under pressure: a body that is
 * JSON is read as JSON whatever the label; anything else is read as a form.
 */
export function acceptJsonSentAsForm(fastify: FastifyInstance): void {
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body).trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        done(null, JSON.parse(text));
      } catch (error) {
        const failure = new Error(`Malformed JSON body: ${(error as Error).message}`) as Error & { statusCode: number };
        failure.statusCode = 400;
        done(failure, undefined);
      }
      return;
    }
    done(null, parse(text));
  });
}
