import { Writable } from 'node:stream';
import pino from 'pino';
import { QueryFailedError } from 'typeorm';
import { REDACTED_PATHS } from '../../services/finance/src/logging/root-logger';

function logged(write: (logger: pino.Logger) => void): Record<string, any> {
  let line = '';
  const sink = new Writable({ write: (chunk, _enc, done) => ((line += chunk), done()) });
  write(pino({ redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } }, sink));
  return JSON.parse(line);
}

describe('root logger redaction', () => {
  it("keeps a failed query's SQL but not its bound values (clients' data)", () => {
    const error = new QueryFailedError('INSERT INTO events (data) VALUES ($1)', ['{"customerId":"C-1001","amount":"6325.00"}'], new Error('boom'));
    const line = logged((logger) => logger.error({ err: error }, 'unhandled error'));
    expect(line.err.query).toBe('INSERT INTO events (data) VALUES ($1)');
    expect(line.err.parameters).toBe('[REDACTED]');
    expect(JSON.stringify(line)).not.toContain('C-1001');
  });

  it('redacts credentials in request headers', () => {
    const line = logged((logger) => logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'request'));
    expect(line.req.headers.authorization).toBe('[REDACTED]');
  });
});
