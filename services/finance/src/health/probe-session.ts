import type { Client, Pool } from 'pg';
import { dedicatedClient } from '../database/dedicated-session';
import { withTimeout } from '../util/with-timeout';

/**
 * The readiness probe's own PostgreSQL session. Through the pool, a probe queued behind requests for a
 * free connection: when requests held every connection (a slow database, a lock), every pod failed
 * readiness at once and the Service had no endpoints left, a full outage made of a slow one. On its own
 * session the probe asks only whether PostgreSQL answers.
 *
 * A query that fails or does not answer in time drops the session (a late answer must not serve the
 * next probe); the next probe connects anew.
 */
export class ProbeSession {
  private client?: Promise<Client>;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly timeoutMs: number,
  ) {}

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (this.closed) throw new Error('database: the service is shutting down');
    const client = (this.client ??= this.connect());
    try {
      return await withTimeout(
        client.then((c) => c.query<T>(sql, params)).then((r) => r.rows),
        this.timeoutMs,
        'database',
      );
    } catch (error) {
      if (this.client === client) this.client = undefined;
      void client.then((c) => c.end()).catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.then((c) => c.end()).catch(() => undefined);
  }

  private connect(): Promise<Client> {
    const client = dedicatedClient(this.pool, 'finance-service readiness', { connectionTimeoutMillis: this.timeoutMs });
    // A session the server ends (a restart, a failover) is dropped at once, not found dead by the next probe.
    const forget = () => {
      if (this.client === connected) this.client = undefined;
    };
    client.on('error', forget);
    client.on('end', forget);
    const connected = client.connect().then(() => client);
    return connected;
  }
}
