import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { EventStore } from '../../event-store/event-store';
import { EventStoreTimer, InstrumentedEventStore, unwrapEventStore } from '../../event-store/instrumented-event-store';
import { PostgresEventStore } from '../../event-store/postgres-event-store';
import { IdempotencyKeyInProgressError, IdempotencyKeyReusedError } from './idempotency.errors';
import { storableText } from '../storable-text';

/** What identifies one request under a key: the tenant, the key, and the request it was first used for. */
export interface IdempotencyScope {
  tenantId: string;
  key: string;
  method: string;
  /** The request path without query (e.g. /invoices/<id>/payments). */
  path: string;
  body: unknown;
}

/** A final answer to a request: stored under the key and replayed as-is. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface IdempotentOutcome extends StoredAnswer {
  /** true when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

export interface IdempotencyOptions {
  /** How long a retry waits for a concurrent request with the same key to finish (default 10 s). */
  lockTimeoutMs?: number;
  /** How long keys are kept (default 7 days); older ones are purged at most once an hour. */
  retentionMs?: number;
  /** Times the transaction-bound event store like the shared one. */
  timer?: EventStoreTimer;
}

interface StoredRow {
  fingerprint: string;
  status: number | null;
  body: unknown;
}

const UNIQUE_KEY = 'idempotency_keys_pkey';
const LOCK_NOT_AVAILABLE = '55P03';
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Idempotency-Key handling in PostgreSQL (table from migrations/1700000001000-WriteSide.ts), keys scoped per tenant.
 *
 * One transaction per keyed request, on one connection:
 *   1. INSERT the key row first (ON CONFLICT DO NOTHING). A concurrent request with the same key blocks on
 *      the primary key until the first commits or rolls back, so two retries can never both run the command.
 *   2. Key already there: same fingerprint → replay the stored status and body (nothing appended);
 *      another fingerprint (body or route) → 422 IDEMPOTENCY_KEY_REUSED.
 *   3. New key: the command runs with an event store bound to this transaction (PostgreSQL adapter), then
 *      the answer is stored and everything commits together: the events and the key row are atomic, a crash
 *      anywhere leaves neither. Transient failures (409, 5xx) roll back, releasing the key for a retry.
 *
 * With the EventStoreDB adapter the events cannot join the transaction: the key row still serialises
 * concurrent retries, but a crash between the append and the commit leaves events without a stored
 * answer. The retry then runs the command again, and the command finds those events by the request's
 * idempotency token (idempotencyToken below) and answers with their result instead of appending again.
 */
export class IdempotencyService {
  private readonly lockTimeoutMs: number;
  private readonly retentionMs: number;
  private lastPurge = 0;

  constructor(
    private readonly pool: Pool,
    private readonly eventStore: EventStore,
    private readonly options: IdempotencyOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.retentionMs = options.retentionMs ?? 7 * 24 * 60 * 60 * 1000;
  }

  /**
   * Runs `work` once per (tenant, key); `work` answers final results and throws transient failures. It
   * gets the request's idempotency token for the command's context.
   */
  async run(scope: IdempotencyScope, work: (eventStore: EventStore, token: string) => Promise<StoredAnswer>): Promise<IdempotentOutcome> {
    this.maybePurge();
    const fingerprint = requestFingerprint(scope);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let stored: StoredRow | undefined;
    try {
      await client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.lockTimeoutMs))}`);
      try {
        if (await this.claim(client, scope, fingerprint)) {
          // The timeout bounds the wait for another request's key row only: the command's append then
          // waits for the event store's lock as a request without a key does (a 500 otherwise).
          await client.query('SET LOCAL lock_timeout TO DEFAULT');
          const answer = await work(this.transactionStore(client), tokenOf(scope, fingerprint));
          await client.query(
            `UPDATE idempotency_keys SET response_status = $3, response_body = $4::jsonb, completed_at = now()
             WHERE tenant_id = $1 AND idempotency_key = $2`,
            [scope.tenantId, scope.key, answer.status, JSON.stringify(answer.body ?? null, storableStrings)],
          );
          await client.query('COMMIT');
          return { ...answer, replayed: false };
        }
        stored = await this.stored(client, scope);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
    // Committed rows always hold an answer; a missing one was purged or rolled back in between: let the client retry.
    if (!stored || stored.status === null) throw new IdempotencyKeyInProgressError(scope.key);
    if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError(scope.key);
    return { status: stored.status, body: stored.body, replayed: true };
  }

  /** true when this request inserted the key row (and so runs the command). */
  private async claim(client: PoolClient, scope: IdempotencyScope, fingerprint: string): Promise<boolean> {
    try {
      const { rowCount } = await client.query(
        `INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_fingerprint, request_method, request_path)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT ${UNIQUE_KEY} DO NOTHING`,
        [scope.tenantId, scope.key, fingerprint, scope.method, scope.path],
      );
      return rowCount === 1;
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new IdempotencyKeyInProgressError(scope.key);
      throw error;
    }
  }

  private async stored(client: PoolClient, scope: IdempotencyScope): Promise<StoredRow | undefined> {
    const { rows } = await client.query<{ request_fingerprint: string; response_status: number | null; response_body: string | null }>(
      `SELECT request_fingerprint, response_status, response_body::text AS response_body
       FROM idempotency_keys WHERE tenant_id = $1 AND idempotency_key = $2`,
      [scope.tenantId, scope.key],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { fingerprint: row.request_fingerprint, status: row.response_status, body: row.response_body === null ? null : JSON.parse(row.response_body) };
  }

  /** The PostgreSQL adapter on this transaction's connection; other adapters as they are. */
  private transactionStore(client: PoolClient): EventStore {
    if (unwrapEventStore(this.eventStore).kind !== 'postgres') return this.eventStore;
    // PostgresEventStore only ever calls query() on its pool; a checked-out client answers the same way.
    const store = new PostgresEventStore(client as unknown as Pool);
    return this.options.timer ? new InstrumentedEventStore(store, this.options.timer) : store;
  }

  /** Fire-and-forget purge of expired keys, at most once an hour per process. */
  private maybePurge(): void {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now;
    this.pool
      .query(`DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`, [Math.floor(this.retentionMs / 1000)])
      .catch(() => undefined);
  }
}

/**
 * Names one keyed request among all others: the tenant, the key and the request's fingerprint, hashed
 * (128 bits, hex). The command puts it on its events and derives the ids it creates from it (see
 * CommandContext.idempotencyToken), so a retry can find what an earlier attempt appended. A key reused
 * with another body gets another token, as a key reused after it expired does with another body.
 */
export function idempotencyToken(scope: IdempotencyScope): string {
  return tokenOf(scope, requestFingerprint(scope));
}

function tokenOf(scope: Pick<IdempotencyScope, 'tenantId' | 'key'>, fingerprint: string): string {
  return createHash('sha256').update(`${scope.tenantId}\n${scope.key}\n${fingerprint}`).digest('hex').slice(0, 32);
}

/** JSON.stringify replacer: an answer echoing unstorable input is stored (and replayed) with U+FFFD in its place. */
function storableStrings(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? storableText(value) : value;
}

/** sha256 over method, path and the body with object keys sorted (key order and whitespace do not matter). */
export function requestFingerprint(scope: Pick<IdempotencyScope, 'method' | 'path' | 'body'>): string {
  return createHash('sha256').update(`${scope.method.toUpperCase()} ${scope.path}\n${canonicalJson(scope.body)}`).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
