import { Client, ClientConfig, Pool } from 'pg';

/**
 * A session outside the pool, with the pool's settings (host, credentials, keepalives, timeouts): for work
 * that must not wait behind requests for a free connection, nor hold one for long.
 */
export function dedicatedClient(pool: Pool, applicationName: string, overrides: ClientConfig = {}): Client {
  const options = (pool as unknown as { options: ClientConfig }).options;
  // pg.Pool keeps the password non-enumerable (out of logs): a spread alone would drop it.
  return new Client({ ...options, password: options.password, application_name: applicationName.slice(0, 63), ...overrides });
}
