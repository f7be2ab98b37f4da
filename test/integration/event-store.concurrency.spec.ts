/**
 * PostgreSQL: many concurrent writers while one reader follows readAll from its last position.
 * The reader must see every event exactly once, in strictly increasing positions: a position
 * that became visible after the reader had passed it would be skipped for good.
 */
import { randomUUID } from 'node:crypto';
import { NewEvent, RecordedEvent } from '../../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { Position, START_POSITION } from '../../services/finance/src/event-store/position';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';

const WRITERS = 16;
const APPENDS_PER_WRITER = 150;
const DEADLINE_MS = 90_000;


function event(writer: number, i: number): NewEvent {
  return {
    id: randomUUID(),
    type: i % 2 === 0 ? 'InvoiceCreated' : 'PaymentRecorded',
    data: { writer, i, amountMinor: String(1000 + i) },
    metadata: { tenantId: 't', userId: `w${writer}`, correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

describe('PostgreSQL event store under concurrent appends', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('event_store_concurrency');
    await migrateTestDatabase(db);
    const pool = db.pool({ max: WRITERS + 2 });
    pool.on('error', () => undefined); // db.drop() may cut a socket that pool.end() is still closing
    store = new PostgresEventStore(pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it(`a reader following readAll sees every event of ${WRITERS} writers exactly once, in order`, async () => {
    const appended = new Set<string>();
    let writersDone = false;

    /** Each writer: its own streams with exact expected versions, plus shared streams with 'any'. */
    async function writer(w: number): Promise<void> {
      const versions = new Map<string, number>();
      for (let i = 0; i < APPENDS_PER_WRITER; i++) {
        const events = i % 7 === 0 ? [event(w, i), event(w, i)] : [event(w, i)];
        if (i % 4 === 0) {
          await store.append(`journal-shared-${i % 3}`, events, 'any');
        } else {
          const stream = `invoice-w${w}-${i % 5}`;
          const result = await store.append(stream, events, versions.get(stream) ?? 'no_stream');
          versions.set(stream, result.nextExpectedVersion);
        }
        for (const e of events) appended.add(e.id);
      }
    }

    const seen: RecordedEvent[] = [];
    let passesWithNewEventsWhileWriting = 0;
    async function reader(): Promise<void> {
      let last: Position = START_POSITION;
      const deadline = Date.now() + DEADLINE_MS;
      for (;;) {
        const writing = !writersDone;
        let found = 0;
        for await (const batch of store.readAll({ fromExclusive: last, batchSize: 100 })) {
          seen.push(...batch);
          found += batch.length;
          last = batch[batch.length - 1].position;
        }
        if (writing && found > 0) passesWithNewEventsWhileWriting += 1;
        if (!writing && found === 0) return; // one full pass after the last append committed
        if (Date.now() > deadline) throw new Error(`reader gave up: ${seen.length} of ${appended.size} events after ${DEADLINE_MS} ms`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }

    const reading = reader();
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writersDone = true;
    await reading;

    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // nothing twice
    expect(ids.length).toBe(appended.size); // nothing skipped
    expect(ids.every((id) => appended.has(id))).toBe(true);
    for (let i = 1; i < seen.length; i++) {
      if (!(seen[i].position > seen[i - 1].position)) throw new Error(`position ${seen[i].position} after ${seen[i - 1].position}`);
    }
    expect(passesWithNewEventsWhileWriting).toBeGreaterThan(5);
    // Per stream, versions are dense 0..n-1 in position order.
    const byStream = new Map<string, number[]>();
    for (const e of seen) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.streamVersion]);
    for (const versions of byStream.values()) expect(versions).toEqual(versions.map((_, i) => i));
    expect(await store.headPosition()).toBe(seen[seen.length - 1].position);
    process.stdout.write(
      `concurrency: ${WRITERS} writers, ${appended.size} events, ${byStream.size} streams; reader saw each once over ${passesWithNewEventsWhileWriting} live passes\n`,
    );
  });
});
