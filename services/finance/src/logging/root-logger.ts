import pino, { Logger } from 'pino';
import type { LogLevel } from '../config/app-config';

export type AppLogger = Logger;

/** Paths never written to logs: credentials travel in these. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.jwtSecret',
  '*.token',
  'config.database.password',
  'config.jwtSecret',
  // A failed query's bound values (TypeORM's QueryFailedError): clients' and events' data, not for logs.
  'err.parameters',
];

/** One JSON logger for the process: HTTP request logs, projections and rollbacks all write through it. */
export function createRootLogger(level: LogLevel, base: Record<string, unknown> = {}): AppLogger {
  return pino({
    level,
    base: { service: 'finance-service', ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
  });
}
