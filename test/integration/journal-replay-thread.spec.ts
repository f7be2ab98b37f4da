/**
 * The replay's second thread against a real PostgreSQL: the COPY reader's event-type filter splits the
 * store's events exactly, the worker's encoded rows are those the main thread would encode for the same
 * events, and a worker that fails (or is left early) ends cleanly.
 */
import type { Pool } from 'pg';
import { FINANCE_STREAM_PREFIXES } from '../../services/finance/src/domain/events';
import type { RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { projectBatch } from '../../services/finance/src/projections/finance-projector';
import { appendSpecs, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { EncodedJournalBatch, replayJournalEntriesInWorker, WORKER_EVENT_TYPES } from '../../services/finance/src/rollback/journal-replay-thread';
import { copyReadEvents, EventTypeFilter } from '../../services/finance/src/rollback/postgres-copy-reader';
import { journalEntriesCopyRows, journalLinesCopyRows } from '../../services/finance/src/rollback/shadow-copy';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait-for';

jest.setTimeout(60_000);

describe('the journal replay thread', () => {
  let db: TestDatabase;
  let pool: Pool;
  let head: bigint;

  beforeAll(async () => {
    db = await createTestDatabase('journal_thread');
    await migrateTestDatabase(db);
    pool = db.pool();
    const a = new FinanceEventBuilder('tenant-a', 'user-a');
    const specs: EventSpec[] = [];
    for (let i = 0; i < 9; i++) {
      const created = a.createInvoice({ customerId: `C-${i}`, dueDate: '2026-12-31', lines: [{ quantityMilli: 1000n, unitPriceMinor: 500n + BigInt(i), vatRateBp: 1500 }] });
      specs.push(created, a.approve(created.event.data.invoiceId as string));
      specs.push(a.journalEntry({ memo: `manual ${i} ৳\t\\`, date: `2026-11-${String(10 + i)}` }));
      if (i === 5) specs.push(a.journalEntry({ memo: 'unbalanced', lines: [{ accountCode: '1000', debitMinor: '5', creditMinor: '0' }] }));
    }
    specs.push(a.custom('journal-unknown', 'JournalNoteAdded', { note: 'an unknown type on a journal stream' }));
    specs.push(a.custom('customer-1', 'JournalEntryPosted', { note: 'not a finance stream' }));
    head = await appendSpecs(new PostgresEventStore(pool), specs);
  });

  afterAll(() => db.drop());

  async function read(eventTypes?: EventTypeFilter, toInclusive = head): Promise<RecordedEvent[]> {
    const client = await pool.connect();
    try {
      const out: RecordedEvent[] = [];
      for await (const batch of copyReadEvents(client, { toInclusive, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 4, highWater: 2, eventTypes })) out.push(...batch);
      return out;
    } finally {
      client.release();
    }
  }

  function connection(database = db.name) {
    return { host: db.host, port: db.port, user: db.user, password: db.password, database };
  }

  async function collect(batches: AsyncIterable<EncodedJournalBatch>): Promise<EncodedJournalBatch[]> {
    const out: EncodedJournalBatch[] = [];
    for await (const batch of batches) out.push(batch);
    return out;
  }

  it("the COPY reader's type filter splits the finance events in two, each in position order", async () => {
    const all = await read();
    const only = await read({ only: WORKER_EVENT_TYPES });
    const except = await read({ except: WORKER_EVENT_TYPES });
    expect(only.map((e) => e.type)).toEqual(Array(10).fill('JournalEntryPosted'));
    expect(except.some((e) => e.type === 'JournalEntryPosted')).toBe(false);
    expect([...only, ...except].map((e) => e.position).sort((x, y) => Number(x - y))).toEqual(all.map((e) => e.position));
    expect(await read({ only: [] })).toEqual([]);
  });

  it("encodes, batch by batch, the rows the main thread would encode for the same events, and counts what it skipped", async () => {
    const target = head - 1n; // before the last event
    const batches = await collect(replayJournalEntriesInWorker({ connection: connection(), target, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 4, highWater: 2 }));
    const events = await read({ only: WORKER_EVENT_TYPES }, target);
    const expected = [0, 4, 8].map((from) => projectBatch(events.slice(from, from + 4), new Map()));
    expect(batches).toHaveLength(3);
    batches.forEach((batch, i) => {
      expect(Buffer.from(batch.entries)).toEqual(journalEntriesCopyRows(expected[i].journalEntries));
      expect(Buffer.from(batch.lines)).toEqual(journalLinesCopyRows(expected[i].journalEntries));
      expect(batch).toMatchObject({ entryCount: expected[i].journalEntries.length, eventCount: expected[i].eventCount, lastPosition: expected[i].lastPosition });
    });
    expect(batches.reduce((n, b) => n + b.lineCount, 0)).toBe(18);
    expect(batches.map((b) => b.malformedEvents)).toEqual([0, 1, 0]);
    expect(batches[1].problems).toEqual([expect.objectContaining({ reason: expect.stringMatching(/not balanced/) })]);
    expect(batches.at(-1)!.lastPosition).toBe(events.at(-1)!.position);
  });

  it('fails with the reason when its session cannot be opened', async () => {
    const batches = replayJournalEntriesInWorker({ connection: connection('no_such_database'), target: head, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 4, highWater: 2 });
    await expect(collect(batches)).rejects.toThrow(/journal replay thread failed: .*no_such_database/);
  });

  it('left early, it stops and its session ends', async () => {
    const marked = { ...connection(), application_name: 'journal thread left early' };
    for await (const batch of replayJournalEntriesInWorker({ connection: marked, target: head, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: 1, highWater: 1 })) {
      expect(batch.entryCount).toBe(1);
      break;
    }
    await waitFor(
      async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [marked.application_name])).rows[0].n === 0,
      10_000,
      "the worker's session to end",
      25,
    );
  });
});
