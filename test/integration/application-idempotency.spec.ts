/**
 * IdempotencyService against real PostgreSQL (both migrations): the key row and the events commit
 * together, concurrent retries run the command once, a reused key with another body is refused,
 * transient failures release the key, keys are per tenant.
 */
import { InvoiceService, invoiceStreamId } from '../../services/finance/src/application/invoice.service';
import { EventStore } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { IdempotencyKeyReusedError } from '../../services/finance/src/http/idempotency/idempotency.errors';
import { canonicalJson, IdempotencyService, requestFingerprint, StoredAnswer } from '../../services/finance/src/http/idempotency/idempotency.service';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';
import type { Pool } from 'pg';

const BODY = { customerId: 'C-1001', dueDate: '2026-12-31', lines: [{ description: 'Cement 50kg', quantity: 10, unitPrice: '550.00', vatRate: '0.15' }] };

describe('idempotency keys in PostgreSQL', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: EventStore;
  let idempotency: IdempotencyService;

  beforeAll(async () => {
    db = await createTestDatabase('finance_idempotency');
    await migrateTestDatabase(db);
    pool = db.pool({ max: 10 });
    store = new PostgresEventStore(pool);
    idempotency = new IdempotencyService(pool, store, { lockTimeoutMs: 5000 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function eventCount(): Promise<number> {
    return (await pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n;
  }

  /** A create-invoice command behind a key; `delayMs` holds the transaction open to let retries pile up. */
  function createInvoice(tenantId: string, key: string, body: unknown = BODY, delayMs = 0) {
    return idempotency.run({ tenantId, key, method: 'POST', path: '/invoices', body }, async (eventStore): Promise<StoredAnswer> => {
      const result = await new InvoiceService({ eventStore }).create(
        { customerId: 'C-1001', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'Cement', quantityMilli: 10000n, unitPriceMinor: 55000n, vatRateBp: 1500 }] },
        { tenantId, userId: 'u', correlationId: 'c', causationId: 'r', idempotencyKey: key },
      );
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { status: 201, body: { id: result.id, version: result.version } };
    });
  }

  it('fingerprints the request independently of key order and whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: '3' }] })).toBe('{"a":[{"c":"3","d":2}],"b":1}');
    expect(requestFingerprint({ method: 'POST', path: '/x', body: { a: 1, b: 2 } })).toBe(requestFingerprint({ method: 'post', path: '/x', body: { b: 2, a: 1 } }));
    expect(requestFingerprint({ method: 'POST', path: '/x', body: { a: 1 } })).not.toBe(requestFingerprint({ method: 'POST', path: '/y', body: { a: 1 } }));
  });

  it('replays the first answer for a retry and appends nothing more', async () => {
    const before = await eventCount();
    const first = await createInvoice('tenant-a', 'key-replay');
    expect(first).toMatchObject({ status: 201, replayed: false });
    const retry = await createInvoice('tenant-a', 'key-replay', JSON.parse(JSON.stringify(BODY)));
    expect(retry).toEqual({ ...first, replayed: true });
    expect(await eventCount()).toBe(before + 1);
  });

  it('refuses the same key with a different body', async () => {
    await createInvoice('tenant-a', 'key-reuse');
    const before = await eventCount();
    await expect(createInvoice('tenant-a', 'key-reuse', { ...BODY, customerId: 'C-2002' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await eventCount()).toBe(before);
  });

  it('scopes keys per tenant', async () => {
    const a = await createInvoice('tenant-a', 'shared-key');
    const b = await createInvoice('tenant-b', 'shared-key');
    expect(b.replayed).toBe(false);
    expect((b.body as { id: string }).id).not.toBe((a.body as { id: string }).id);
  });

  it('runs the command once when retries arrive concurrently', async () => {
    const before = await eventCount();
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => createInvoice('tenant-a', 'key-concurrent', BODY, 150)));
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    const ids = new Set(outcomes.map((o) => (o.body as { id: string }).id));
    expect(ids.size).toBe(1);
    expect(await eventCount()).toBe(before + 1);
  });

  it('stores nothing when the command fails transiently: the key can be used again', async () => {
    const before = await eventCount();
    const failing = idempotency.run({ tenantId: 'tenant-a', key: 'key-transient', method: 'POST', path: '/invoices', body: BODY }, async (eventStore) => {
      await new InvoiceService({ eventStore }).create(
        { customerId: 'C', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'x', quantityMilli: 1000n, unitPriceMinor: 100n, vatRateBp: 0 }] },
        { tenantId: 'tenant-a', userId: 'u', correlationId: 'c', causationId: 'r' },
      );
      throw new Error('boom after the append');
    });
    await expect(failing).rejects.toThrow('boom after the append');
    expect(await eventCount()).toBe(before); // the append rolled back with the key row
    const rows = await pool.query(`SELECT 1 FROM idempotency_keys WHERE idempotency_key = 'key-transient'`);
    expect(rows.rowCount).toBe(0);
    const retry = await createInvoice('tenant-a', 'key-transient');
    expect(retry.replayed).toBe(false);
    const events = await store.readStream(invoiceStreamId((retry.body as { id: string }).id));
    expect(events).toHaveLength(1);
  });

  it('replays stored failures (e.g. a 422) as they were', async () => {
    const answer = { status: 422, body: { code: 'OVERPAYMENT' } };
    const scope = { tenantId: 'tenant-a', key: 'key-422', method: 'POST', path: '/invoices/x/payments', body: { amount: '1.00' } };
    expect(await idempotency.run(scope, async () => answer)).toEqual({ ...answer, replayed: false });
    expect(await idempotency.run(scope, async () => ({ status: 201, body: {} }))).toEqual({ ...answer, replayed: true });
  });
});
