/**
 * The projection's lag in events. EventStoreDB positions are byte offsets in its log, so the lag is
 * counted there (finance events only, up to a limit); PostgreSQL positions number the events.
 */
import type { EventStore, RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { projectionLag } from '../../services/finance/src/projections/projection-lag';
import { appendSpecs, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';
import { BEYOND_SAFE_INTEGER, EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';

async function everything(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for await (const batch of store.readAll()) all.push(...batch);
  return all;
}

/** Five finance events with two events of another stream among them. */
async function appendWorkload(store: EventStore): Promise<RecordedEvent[]> {
  const b = new FinanceEventBuilder('tenant-lag');
  const created = b.createInvoice();
  const invoiceId = created.event.data.invoiceId as string;
  await appendSpecs(store, [
    created,
    b.custom('customer-00000000-0000-4000-8000-000000000001', 'CustomerRegistered', { name: 'x' }),
    b.approve(invoiceId),
    b.journalEntry(),
    b.custom('customer-00000000-0000-4000-8000-000000000001', 'CustomerRenamed', { name: 'y' }),
    b.pay(invoiceId, 100n),
    b.journalEntry(),
  ]);
  return everything(store);
}

describe('projectionLag', () => {
  describe('EventStoreDB (gRPC test server, positions above 2^53)', () => {
    let esdb: EsdbTestServer;
    let store: EventStoreDbEventStore;

    beforeAll(async () => {
      esdb = await startEsdbTestServer({ startPosition: BEYOND_SAFE_INTEGER, systemEventEvery: 3 });
      store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    });

    afterAll(async () => {
      await store?.close();
      await esdb?.close();
    });

    it('counts the finance events after the checkpoint, not the distance between log positions, up to a limit', async () => {
      const events = await appendWorkload(store);
      const head = await store.headPosition();
      const first = events[0].position;
      expect(head - first).toBeGreaterThan(5n); // byte-like offsets: the distance is not a count
      expect(await projectionLag(store, first, head)).toEqual({ events: 4, exact: true });
      expect(await projectionLag(store, first, head, 3)).toEqual({ events: 3, exact: false });
      expect(await projectionLag(store, head, head)).toEqual({ events: 0, exact: true });
      // Only another stream's events after the checkpoint: nothing for the projection to do.
      const lastFinance = events[events.length - 1].position;
      await appendSpecs(store, [new FinanceEventBuilder('t').custom('customer-00000000-0000-4000-8000-000000000002', 'CustomerRegistered', {})]);
      expect(await projectionLag(store, lastFinance, await store.headPosition())).toEqual({ events: 0, exact: true });
    });

    it("stops reading other streams' events at the scan limit and says the count is not exact", async () => {
      const b = new FinanceEventBuilder('tenant-lag-scan');
      const checkpoint = await store.headPosition();
      // A shared log: 1,200 events of another stream, then two finance events.
      await appendSpecs(store, [
        ...Array.from({ length: 1200 }, (_, i) => b.custom(`inventory-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 'StockCounted', { n: i })),
        b.journalEntry(),
        b.journalEntry(),
      ]);
      const head = await store.headPosition();
      expect(await projectionLag(store, checkpoint, head)).toEqual({ events: 2, exact: true });
      // Pages are whole: a limit of 500 reads one page (or two) of the other stream, never the finance events.
      expect(await projectionLag(store, checkpoint, head, 2000, 500)).toEqual({ events: 0, exact: false });
    });
  });

  describe('PostgreSQL', () => {
    let db: TestDatabase;

    beforeAll(async () => {
      db = await createTestDatabase('projection_lag');
      await migrateTestDatabase(db);
    });

    afterAll(async () => {
      await db?.drop();
    });

    it('is the distance between positions, which number the events one by one', async () => {
      const store = new PostgresEventStore(db.pool({ max: 2 }));
      const events = await appendWorkload(store);
      const head = await store.headPosition();
      expect(await projectionLag(store, events[0].position, head)).toEqual({ events: events.length - 1, exact: true });
      expect(await projectionLag(store, head, head)).toEqual({ events: 0, exact: true });
    });
  });
});
