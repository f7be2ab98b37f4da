/**
 * The rebuild's COPY reader against a real PostgreSQL event store: the same events as the store's own
 * readAll (prefix filter, target, order, batches), with the two things it leaves out by design, the
 * metadata other than tenantId and the content of an InvoiceCreated's lines (sent as a count).
 */
import { Client, Pool } from 'pg';
import { FINANCE_STREAM_PREFIXES } from '../../services/finance/src/domain/events';
import type { RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { appendSpecs, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { copyReadEvents } from '../../services/finance/src/rollback/postgres-copy-reader';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';

const LINE = { quantityMilli: 1000n, unitPriceMinor: 250n, vatRateBp: 1500 };

async function collect(batches: AsyncIterable<RecordedEvent[]>): Promise<{ events: RecordedEvent[]; sizes: number[] }> {
  const events: RecordedEvent[] = [];
  const sizes: number[] = [];
  for await (const batch of batches) {
    sizes.push(batch.length);
    events.push(...batch);
  }
  return { events, sizes };
}

/** What the projectors may read of an event: everything but metadata other than tenantId. */
function projected(event: RecordedEvent) {
  return { ...event, metadata: { tenantId: event.metadata.tenantId } };
}

describe('copyReadEvents (the rebuild reader of the PostgreSQL event store)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let client: Client;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('copy_reader');
    await migrateTestDatabase(db);
    pool = db.pool();
    store = new PostgresEventStore(pool);
    const b = new FinanceEventBuilder('tenant-a', 'user-1');
    const three = b.createInvoice({ lines: [LINE, LINE, { ...LINE, description: 'Tab\there, "quoted" \\ and ü' }] });
    const threeId = three.event.data.invoiceId as string;
    const one = b.createInvoice({ lines: [LINE] });
    await appendSpecs(store, [
      three,
      b.approve(threeId),
      one,
      b.journalEntry({ memo: 'Line\nbreak' }),
      b.custom('other-1', 'SomethingElse', { lines: [1, 2] }),
      // Not an array: sent as stored, for the projector to skip as malformed.
      b.custom('invoice-00000000-0000-4000-8000-000000000001', 'InvoiceCreated', { lines: 'three', invoiceId: '00000000-0000-4000-8000-000000000001' }),
      b.pay(threeId, 100n),
    ]);
    client = new Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.name });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it("reads what readAll reads, with each InvoiceCreated's lines as that many empty slots", async () => {
    const head = await store.headPosition();
    const viaStore = await collect(store.readAll({ toInclusive: head, batchSize: 2, streamPrefixes: [...FINANCE_STREAM_PREFIXES] }));
    const viaCopy = await collect(copyReadEvents(client, { toInclusive: head, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 2, highWater: 1 }));

    expect(viaStore.events.map((e) => e.type)).toEqual(['InvoiceCreated', 'InvoiceApproved', 'InvoiceCreated', 'JournalEntryPosted', 'InvoiceCreated', 'PaymentRecorded']);
    expect(viaCopy.sizes).toEqual([2, 2, 2]);
    const expected = viaStore.events.map((event) => {
      const data = event.data as Record<string, unknown>;
      const counted = event.type === 'InvoiceCreated' && Array.isArray(data.lines);
      return projected(counted ? { ...event, data: { ...data, lines: new Array((data.lines as unknown[]).length) } } : event);
    });
    expect(viaCopy.events.map(projected)).toEqual(expected);
    const lines = viaCopy.events.filter((e) => e.type === 'InvoiceCreated').map((e) => (e.data as { lines: unknown }).lines);
    expect(lines.map((l) => (Array.isArray(l) ? `${l.length} empty: ${l.every((x) => x === undefined)}` : l))).toEqual(['3 empty: true', '1 empty: true', 'three']);
  });

  it('reads thousands of rows that straddle the socket reads, and leaves the session usable', async () => {
    // Journal entries with memos of every length from 0 to 600 bytes, so rows end at every offset of a read.
    await pool.query(
      `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata)
       SELECT 'journal-' || id, 0, gen_random_uuid(), 'JournalEntryPosted',
              jsonb_build_object('journalEntryId', id, 'date', '2026-11-26', 'currency', 'BDT', 'memo', repeat('m', n % 601),
                                 'lines', jsonb_build_array(jsonb_build_object('accountCode', '1000', 'debitMinor', n::text, 'creditMinor', '0'),
                                                            jsonb_build_object('accountCode', '3000', 'debitMinor', '0', 'creditMinor', n::text))),
              jsonb_build_object('tenantId', 'tenant-b')
         FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, 3000) n) g`,
    );
    const head = await store.headPosition();
    const viaStore = await collect(store.readAll({ toInclusive: head, batchSize: 500, streamPrefixes: [...FINANCE_STREAM_PREFIXES] }));
    const viaCopy = await collect(copyReadEvents(client, { toInclusive: head, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 500, highWater: 1 }));
    expect(viaCopy.events).toHaveLength(viaStore.events.length);
    expect(viaCopy.events.slice(-3000).map(projected)).toEqual(viaStore.events.slice(-3000).map(projected));
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('fails with the server\'s error when the COPY cannot run, and the session stays usable', async () => {
    await client.query('CREATE TEMP VIEW events AS SELECT 1 AS nothing');
    try {
      await expect(collect(copyReadEvents(client, { toInclusive: 10n, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 10, highWater: 1 }))).rejects.toThrow(/column .* does not exist/);
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.query('DROP VIEW pg_temp.events');
    }
  });

  it('stops at the target and refuses metadata it does not read', async () => {
    const { events } = await collect(copyReadEvents(client, { toInclusive: 3n, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 10, highWater: 1 }));
    expect(events.map((e) => e.position)).toEqual([1n, 2n, 3n]);
    expect(events[0].metadata.tenantId).toBe('tenant-a');
    expect(() => events[0].metadata.userId).toThrow(/only tenantId/);
  });

  it('fails with the server\'s error when the session is ended in the middle of the COPY', async () => {
    // 30 MB of rows: more than the socket buffers hold, so the server is still sending when the session ends.
    await pool.query(
      `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata)
       SELECT 'journal-' || gen_random_uuid(), 0, gen_random_uuid(), 'Filler', jsonb_build_object('memo', repeat('f', 1000)), '{}'::jsonb
         FROM generate_series(1, 30000)`,
    );
    const doomed = new Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.name });
    await doomed.connect();
    doomed.on('error', () => undefined);
    const pid = (await doomed.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const head = await store.headPosition();
    const batches = copyReadEvents(doomed, { toInclusive: head, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 100, highWater: 1 })[Symbol.asyncIterator]();
    expect((await batches.next()).value).toHaveLength(100);
    await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const rest = (async () => {
      for (let step = await batches.next(); !step.done; step = await batches.next());
    })();
    await expect(rest).rejects.toThrow(/terminat|Connection terminated/i);
    await doomed.end().catch(() => undefined);
  });
});
