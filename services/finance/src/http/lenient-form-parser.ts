import type { FastifyInstance } from 'fastify';
import { parse } from 'node:querystring';
import { unparsableJson } from './unparsable-body';

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
        done(null, unparsableJson(error as Error)); // answered 400 after the guards (unparsable-body.ts)
      }
      return;
    }
    done(null, parse(text));
  });
}
