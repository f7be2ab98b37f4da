/**
 * IdempotencyService against real PostgreSQL (both migrations): the key row and the events commit
 * together, concurrent retries run the command once, a reused key with another body is refused,
 * transient failures release the key, keys are per tenant. With EventStoreDB (the real client over
 * gRPC to the test server), whose appends cannot join the key's transaction: a retry after an attempt
 * that appended but lost its answer appends nothing again and answers with that attempt's result.
 */
import { CommandContext, newStreamId } from '../../services/finance/src/application/command-context';
import { InvoiceService, invoiceStreamId } from '../../services/finance/src/application/invoice.service';
import { JournalService, journalStreamId } from '../../services/finance/src/application/journal.service';
import { EventStore } from '../../services/finance/src/event-store/event-store';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { APPEND_LOCK_KEY, PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { IdempotencyKeyReusedError } from '../../services/finance/src/http/idempotency/idempotency.errors';
import {
  canonicalJson,
  IdempotencyScope,
  idempotencyToken,
  IdempotencyService,
  requestFingerprint,
  StoredAnswer,
} from '../../services/finance/src/http/idempotency/idempotency.service';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';
import { EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';
import type { Pool } from 'pg';
import { waitFor } from '../support/wait-for';

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

  /** A create-invoice command behind a key; `hold` keeps its transaction open until it resolves (retries pile up meanwhile). */
  function createInvoice(tenantId: string, key: string, body: unknown = BODY, hold?: Promise<void>) {
    return idempotency.run({ tenantId, key, method: 'POST', path: '/invoices', body }, async (eventStore): Promise<StoredAnswer> => {
      const result = await new InvoiceService({ eventStore }).create(
        { customerId: 'C-1001', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'Cement', quantityMilli: 10000n, unitPriceMinor: 55000n, vatRateBp: 1500 }] },
        { tenantId, userId: 'u', correlationId: 'c', causationId: 'r', idempotencyKey: key },
      );
      await hold;
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
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const running = Promise.all(Array.from({ length: 6 }, () => createInvoice('tenant-a', 'key-concurrent', BODY, hold)));
    // One runs the command and holds its key row; the five others must be waiting on that row, not arriving after.
    const waitingOnTheKey = async () =>
      (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n;
    await waitFor(async () => (await waitingOnTheKey()) === 5, 10_000, 'five retries blocked on the first one');
    release();
    const outcomes = await running;
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    const ids = new Set(outcomes.map((o) => (o.body as { id: string }).id));
    expect(ids.size).toBe(1);
    expect(await eventCount()).toBe(before + 1);
  });

  it('bounds only the wait for the key: the append waits for the event store lock beyond the key timeout, as without a key', async () => {
    const impatient = new IdempotencyService(pool, store, { lockTimeoutMs: 200 });
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::int8)', [APPEND_LOCK_KEY.toString()]);
      const before = await eventCount();
      const request = impatient.run({ tenantId: 't-lock', key: 'k-lock', method: 'POST', path: '/journal-entries', body: { memo: 'late' } }, async (eventStore) => {
        const posted = await new JournalService({ eventStore }).post(
          { date: '2026-11-26', memo: 'late', currency: 'BDT', lines: [{ accountCode: '1000', debitMinor: 100n, creditMinor: 0n }, { accountCode: '3000', debitMinor: 0n, creditMinor: 100n }] },
          { tenantId: 't-lock', userId: 'u', correlationId: 'c', causationId: 'r', idempotencyKey: 'k-lock' },
        );
        return { status: 201, body: { id: posted.id } };
      });
      let early: string | undefined;
      const settled = request.then(() => 'answered', (error: Error) => error.message);
      void settled.then((outcome) => (early = outcome));
      // The append has waited for the lock three times the key's timeout (a poll of its wait, not a sleep),
      // unless the request gave up first.
      await waitFor(async () => {
        if (early !== undefined) return true;
        // From another session: a transaction (the holder's) keeps its first snapshot of pg_stat_activity.
        const { rows } = await pool.query(
          `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()
             AND clock_timestamp() - a.state_change > interval '600 milliseconds'`,
        );
        return rows.length > 0;
      }, 10_000, 'the append to wait 600 ms for the lock');
      expect(early).toBeUndefined();
      await holder.query('COMMIT');
      expect(await settled).toBe('answered');
      expect(await eventCount()).toBe(before + 1);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
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

describe('idempotency keys with EventStoreDB (the events outside the key transaction)', () => {
  let db: TestDatabase;
  let esdb: EsdbTestServer;
  let store: EventStoreDbEventStore;
  let idempotency: IdempotencyService;

  beforeAll(async () => {
    db = await createTestDatabase('finance_idempotency_esdb');
    await migrateTestDatabase(db);
    esdb = await startEsdbTestServer();
    store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    idempotency = new IdempotencyService(db.pool({ max: 4 }), store, { lockTimeoutMs: 5000 });
  });

  afterAll(async () => {
    await store?.close();
    await esdb?.close();
    await db?.drop();
  });

  /** The context the HTTP layer gives a keyed request (write-request.handler.ts). */
  function keyedContext(scope: IdempotencyScope): CommandContext {
    return { tenantId: scope.tenantId, userId: 'u', correlationId: 'c', causationId: 'r', idempotencyKey: scope.key, idempotencyToken: idempotencyToken(scope) };
  }

  /**
   * Runs `command` under the key twice: the first attempt appends, then loses its answer (the process
   * dies before the key row commits: here an error after the append, which rolls the key row back);
   * the retry runs the command again. Returns both attempts' results and the retry's outcome.
   */
  async function appendThenRetry<R extends object>(scope: IdempotencyScope, command: (eventStore: EventStore, context: CommandContext) => Promise<R>) {
    let first: R | undefined;
    const lost = idempotency.run(scope, async (eventStore) => {
      first = await command(eventStore, keyedContext(scope));
      throw new Error('the process died before the answer was stored');
    });
    await expect(lost).rejects.toThrow('the process died');
    const keyRows = await db.pool().query('SELECT 1 FROM idempotency_keys WHERE tenant_id = $1 AND idempotency_key = $2', [scope.tenantId, scope.key]);
    expect(keyRows.rowCount).toBe(0); // the key is free again: the retry runs the command
    let second: R | undefined;
    const retry = await idempotency.run(scope, async (eventStore) => {
      second = await command(eventStore, keyedContext(scope));
      return { status: 201, body: null }; // the results hold bigints: compared below, not stored
    });
    return { first: first!, second: second!, retry };
  }

  const INVOICE = { customerId: 'C-1001', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'Cement', quantityMilli: 10000n, unitPriceMinor: 55000n, vatRateBp: 1500 }] };

  it('a retried invoice creation answers with the invoice the lost attempt created, and appends no second one', async () => {
    const scope = { tenantId: 'tenant-a', key: 'esdb-create', method: 'POST', path: '/invoices', body: BODY };
    const { first, second, retry } = await appendThenRetry(scope, (eventStore, context) => new InvoiceService({ eventStore }).create(INVOICE, context));
    expect(retry.replayed).toBe(false);
    expect(second).toEqual(first);
    const events = await store.readStream(invoiceStreamId(first.id));
    expect(events.map((e) => e.type)).toEqual(['InvoiceCreated']);
    expect(events[0].metadata.idempotencyToken).toBe(idempotencyToken(scope));
    // A third request with the key gets the stored answer.
    expect(await idempotency.run(scope, async () => ({ status: 500, body: null }))).toEqual({ ...retry, replayed: true });
  });

  it('a retried payment answers with the payment the lost attempt recorded, and records it once', async () => {
    const invoices = new InvoiceService({ eventStore: store });
    const plain = { tenantId: 'tenant-a', userId: 'u', correlationId: 'c', causationId: 'r' };
    const { id } = await invoices.create(INVOICE, plain);
    await invoices.approve(id, plain);
    const scope = { tenantId: 'tenant-a', key: 'esdb-pay', method: 'POST', path: `/invoices/${id}/payments`, body: { amount: '100.00' } };
    const pay = { amountMinor: 10000n, method: 'cash' as const, reference: 'R-1' };
    const { first, second } = await appendThenRetry(scope, (eventStore, context) => new InvoiceService({ eventStore }).recordPayment(id, pay, context));
    expect(second).toEqual(first); // same payment id, journal entry id, version and amounts
    const events = await store.readStream(invoiceStreamId(id));
    expect(events.map((e) => e.type)).toEqual(['InvoiceCreated', 'InvoiceApproved', 'PaymentRecorded']);
    expect(events[2].data.paymentId).toBe(first.paymentId);
    // Events after the lost attempt's do not change its answer.
    await invoices.recordPayment(id, { ...pay, reference: 'R-2' }, plain);
    expect(await new InvoiceService({ eventStore: store }).recordPayment(id, pay, keyedContext(scope))).toEqual(first);
    expect((await store.readStream(invoiceStreamId(id))).filter((e) => e.type === 'PaymentRecorded')).toHaveLength(2);
  });

  it('a retried journal entry answers with the entry the lost attempt posted', async () => {
    const scope = { tenantId: 'tenant-b', key: 'esdb-journal', method: 'POST', path: '/journal-entries', body: { memo: 'm' } };
    const entry = { date: '2026-11-27', memo: 'm', currency: 'BDT', lines: [{ accountCode: '1000', debitMinor: 500n, creditMinor: 0n }, { accountCode: '3000', debitMinor: 0n, creditMinor: 500n }] };
    const { first, second } = await appendThenRetry(scope, (eventStore, context) => new JournalService({ eventStore }).post(entry, context));
    expect(second).toEqual(first);
    expect(await store.readStream(journalStreamId(first.id))).toHaveLength(1);
  });

  it('gives another request (another body, key or tenant) another token', () => {
    const scope = { tenantId: 'tenant-a', key: 'k', method: 'POST', path: '/invoices', body: BODY };
    const token = idempotencyToken(scope);
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(idempotencyToken({ ...scope, body: JSON.parse(JSON.stringify(BODY)) })).toBe(token);
    for (const other of [{ ...scope, body: { ...BODY, customerId: 'C-2' } }, { ...scope, key: 'k2' }, { ...scope, tenantId: 'tenant-b' }]) {
      expect(idempotencyToken(other)).not.toBe(token);
    }
  });

  it('derives the ids a keyed request creates from its token: UUIDs (version 8), one per kind', () => {
    const context = { tenantId: 't', userId: 'u', correlationId: 'c', causationId: 'r', idempotencyToken: 'ab'.repeat(16) };
    const invoiceId = newStreamId(context, 'invoice', () => 'unused');
    expect(invoiceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newStreamId(context, 'invoice', () => 'unused')).toBe(invoiceId);
    expect(newStreamId(context, 'journal-entry', () => 'unused')).not.toBe(invoiceId);
    expect(newStreamId({ ...context, idempotencyToken: 'cd'.repeat(16) }, 'invoice', () => 'unused')).not.toBe(invoiceId);
    const { idempotencyToken: _token, ...unkeyed } = context;
    expect(newStreamId(unkeyed, 'invoice', () => 'fresh')).toBe('fresh');
  });
});
