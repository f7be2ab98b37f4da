/**
 * One contract, both adapters: the same cases run against PostgreSQL (a fresh database with the
 * real migration) and against EventStoreDB (the real client over gRPC to the test server), once
 * through BatchAppend with positions above 2^53 and once through the Append fallback.
 */
import { randomUUID } from 'node:crypto';
import { binaryEvent, EventStoreDBClient } from '@eventstore/db-client';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { EventStore1700000000000 } from '../../migrations/1700000000000-EventStore';
import { EventStore, NewEvent, RecordedEvent, WrongExpectedVersionError } from '../../services/finance/src/event-store/event-store';
import { loadConfig } from '../../services/finance/src/config/app-config';
import { createEventStore } from '../../services/finance/src/event-store/event-store.factory';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { InstrumentedEventStore, unwrapEventStore } from '../../services/finance/src/event-store/instrumented-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { projectBatch } from '../../services/finance/src/projections/finance-projector';
import { Position, START_POSITION } from '../../services/finance/src/event-store/position';
import { createTestDatabase, migrateTestDatabase } from '../support/database';
import { BEYOND_SAFE_INTEGER, EsdbTestServer, EsdbTestServerOptions, startEsdbTestServer } from '../support/esdb-test-server';
import { waitFor } from '../support/wait-for';

interface Harness {
  store: EventStore;
  esdb?: EsdbTestServer;
  /** EventStoreDB: whether the client should append through BatchAppend (else Append). */
  batchAppend?: boolean;
  /** Operations recorded by the metrics timer, when the store is instrumented. */
  timed?: Set<string>;
  /** A store of the same kind pointed at nothing. */
  unreachable(): EventStore;
  close(): Promise<void>;
}


async function postgresHarness(instrumented = false): Promise<Harness> {
  const db = await createTestDatabase('event_store_contract');
  await migrateTestDatabase(db);
  const adapter = new PostgresEventStore(db.pool({ max: 4 }));
  const timed = new Set<string>();
  const timer = {
    timeEventStore<T>(operation: string, work: () => Promise<T>): Promise<T> {
      timed.add(operation);
      return work();
    },
  };
  return {
    store: instrumented ? new InstrumentedEventStore(adapter, timer) : adapter,
    timed: instrumented ? timed : undefined,
    unreachable: () => new PostgresEventStore(db.pool({ port: 1, connectionTimeoutMillis: 500 }), { pingTimeoutMs: 500 }),
    close: () => db.drop(),
  };
}

function esdbHarness(options: EsdbTestServerOptions): () => Promise<Harness> {
  return async () => {
    const esdb = await startEsdbTestServer(options);
    const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    const opened: EventStore[] = [store];
    return {
      store,
      esdb,
      batchAppend: options.advertiseBatchAppend ?? true,
      unreachable: () => {
        const s = EventStoreDbEventStore.fromConnectionString('esdb://127.0.0.1:1?tls=false', { pingTimeoutMs: 500 });
        opened.push(s);
        return s;
      },
      async close() {
        for (const s of opened) await s.close();
        await esdb.close();
      },
    };
  };
}

const ADAPTERS: Array<[string, () => Promise<Harness>]> = [
  ['postgres', () => postgresHarness()],
  ['postgres behind the metrics wrapper', () => postgresHarness(true)],
  ['eventstoredb via BatchAppend, positions above 2^53', esdbHarness({ startPosition: BEYOND_SAFE_INTEGER, systemEventEvery: 3 })],
  ['eventstoredb via Append fallback', esdbHarness({ advertiseBatchAppend: false, systemEventEvery: 5 })],
];

function event(type: string, data: Record<string, unknown> = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { tenantId: 't1', userId: 'u1', correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

async function collect(batches: AsyncIterable<RecordedEvent[]>): Promise<RecordedEvent[][]> {
  const all: RecordedEvent[][] = [];
  for await (const batch of batches) all.push(batch);
  return all;
}

async function readAllFlat(store: EventStore, options: Parameters<EventStore['readAll']>[0] = {}): Promise<RecordedEvent[]> {
  return (await collect(store.readAll(options))).flat();
}

function expectStrictlyIncreasing(positions: Position[]): void {
  for (let i = 1; i < positions.length; i++) expect(positions[i] > positions[i - 1]).toBe(true);
}

async function pollUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(ADAPTERS)('EventStore contract: %s', (_name, open) => {
  let h: Harness;
  let store: EventStore;

  beforeAll(async () => {
    h = await open();
    store = h.store;
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Appends one event per stream in the given order; returns the recorded positions in that order. */
  async function appendEach(streams: string[], type = 'TestEvent'): Promise<Position[]> {
    const versions = new Map<string, number>();
    const positions: Position[] = [];
    for (const stream of streams) {
      const expected = versions.has(stream) ? versions.get(stream)! : 'no_stream';
      const result = await store.append(stream, [event(type, { stream })], expected);
      versions.set(stream, result.nextExpectedVersion);
      positions.push(result.position);
    }
    return positions;
  }

  it('reports START_POSITION as the head of an empty store (system events do not count)', async () => {
    expect(await store.headPosition()).toBe(START_POSITION);
    expect(await readAllFlat(store)).toEqual([]);
  });

  it('appends and reads a stream back in version order', async () => {
    const stream = `invoice-${randomUUID()}`;
    const first = [event('InvoiceCreated', { totalMinor: '632500', lines: [{ q: '1000' }] }), event('InvoiceApproved', { ok: true })];
    const r1 = await store.append(stream, first, 'no_stream');
    expect(r1.nextExpectedVersion).toBe(1);
    const third = event('PaymentRecorded', { amountMinor: '100' });
    const r2 = await store.append(stream, [third], 1);
    expect(r2.nextExpectedVersion).toBe(2);
    expect(typeof r2.position).toBe('bigint');
    expect(r2.position > r1.position).toBe(true);

    const read = await store.readStream(stream);
    expect(read.map((e) => e.streamVersion)).toEqual([0, 1, 2]);
    expect(read.map((e) => e.id)).toEqual([...first, third].map((e) => e.id));
    expect(read.map((e) => e.type)).toEqual(['InvoiceCreated', 'InvoiceApproved', 'PaymentRecorded']);
    expect(read[0].data).toEqual({ totalMinor: '632500', lines: [{ q: '1000' }] });
    expect(read[2].metadata).toEqual(third.metadata);
    expect(read.every((e) => e.streamId === stream)).toBe(true);
    expect(read[1].position).toBe(r1.position);
    expect(read[2].position).toBe(r2.position);
    expectStrictlyIncreasing(read.map((e) => e.position));
    for (const e of read) {
      expect(e.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(e.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    }
    expect(await store.readStream(`invoice-${randomUUID()}`)).toEqual([]);
  });

  it('enforces expected versions: number, no_stream and any', async () => {
    const stream = `journal-${randomUUID()}`;
    await expect(store.append(stream, [event('A')], 0)).rejects.toMatchObject({ name: 'WrongExpectedVersionError', streamId: stream, expected: 0, actual: 'no_stream' });
    await store.append(stream, [event('A'), event('B')], 'no_stream');

    const stale = store.append(stream, [event('C')], 0);
    await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(store.append(stream, [event('C')], 0)).rejects.toMatchObject({ expected: 0, actual: 1 });
    await expect(store.append(stream, [event('C')], 5)).rejects.toMatchObject({ expected: 5, actual: 1 });
    await expect(store.append(stream, [event('C')], 'no_stream')).rejects.toMatchObject({ expected: 'no_stream', actual: 1 });
    expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);

    expect((await store.append(stream, [event('C')], 'any')).nextExpectedVersion).toBe(2);
    expect((await store.append(`journal-${randomUUID()}`, [event('D')], 'any')).nextExpectedVersion).toBe(0);
    expect((await store.append(stream, [event('E')], 2)).nextExpectedVersion).toBe(3);
  });

  it('reads all events in global order with positions equal to the append results', async () => {
    const before = await store.headPosition();
    const a = `invoice-${randomUUID()}`;
    const b = `journal-${randomUUID()}`;
    const c = `invoice-${randomUUID()}`;
    const order = [a, b, a, c, b, a];
    const positions = await appendEach(order);
    const read = await readAllFlat(store, { fromExclusive: before });
    expect(read.map((e) => e.streamId)).toEqual(order);
    expect(read.map((e) => e.position)).toEqual(positions);
    expectStrictlyIncreasing(read.map((e) => e.position));
    expect(await store.headPosition()).toBe(positions[positions.length - 1]);
  });

  it('honours fromExclusive and toInclusive bounds', async () => {
    const before = await store.headPosition();
    const stream = `invoice-${randomUUID()}`;
    const p = await appendEach([stream, stream, stream, stream, stream]);
    const between = await readAllFlat(store, { fromExclusive: p[1], toInclusive: p[3] });
    expect(between.map((e) => e.position)).toEqual([p[2], p[3]]);
    expect((await readAllFlat(store, { fromExclusive: before, toInclusive: p[0] })).map((e) => e.position)).toEqual([p[0]]);
    expect((await readAllFlat(store, { fromExclusive: p[4] })).length).toBe(0);
    expect(await readAllFlat(store, { fromExclusive: p[2], toInclusive: p[2] })).toEqual([]);
    expect((await readAllFlat(store, { fromExclusive: p[3], toInclusive: p[4] + 1n })).map((e) => e.position)).toEqual([p[4]]);
  });

  it('cuts batches at batchSize', async () => {
    const before = await store.headPosition();
    const stream = `journal-${randomUUID()}`;
    const positions = await appendEach(Array.from({ length: 7 }, () => stream));
    const batches = await collect(store.readAll({ fromExclusive: before, batchSize: 3 }));
    expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(batches.flat().map((e) => e.position)).toEqual(positions);
    expect((await collect(store.readAll({ fromExclusive: before, batchSize: 7 }))).map((b) => b.length)).toEqual([7]);
    await expect(collect(store.readAll({ batchSize: 0 }))).rejects.toThrow(RangeError);
  });

  it('filters by stream prefix, taking LIKE wildcards literally', async () => {
    const before = await store.headPosition();
    const tag = randomUUID().slice(0, 8);
    const streams = [`invoice-${tag}`, `journal-${tag}`, `other-${tag}`, `a_b%-${tag}`, `axb%-${tag}`, `a_bc-${tag}`];
    await appendEach(streams);
    const finance = await readAllFlat(store, { fromExclusive: before, streamPrefixes: ['invoice-', 'journal-'] });
    expect(finance.map((e) => e.streamId)).toEqual([`invoice-${tag}`, `journal-${tag}`]);
    const literal = await readAllFlat(store, { fromExclusive: before, streamPrefixes: ['a_b%-'] });
    expect(literal.map((e) => e.streamId)).toEqual([`a_b%-${tag}`]);
    expect(await readAllFlat(store, { fromExclusive: before, streamPrefixes: [] })).toEqual([]);
    const batches = await collect(store.readAll({ fromExclusive: before, streamPrefixes: ['invoice-', 'journal-', 'other-'], batchSize: 2 }));
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
  });

  it('lets a reader break out early and keeps working afterwards', async () => {
    const before = await store.headPosition();
    const stream = `invoice-${randomUUID()}`;
    const positions = await appendEach(Array.from({ length: 5 }, () => stream));
    let seen: RecordedEvent[] = [];
    for await (const batch of store.readAll({ fromExclusive: before, batchSize: 2 })) {
      seen = batch;
      break;
    }
    expect(seen.map((e) => e.position)).toEqual(positions.slice(0, 2));
    if (h.esdb) {
      const esdb = h.esdb;
      await pollUntil(() => esdb.calls.openReads === 0, 'the abandoned $all read to be cancelled');
    }
    // A throw inside the loop is an early exit too.
    await expect(
      (async () => {
        for await (const batch of store.readAll({ fromExclusive: before, batchSize: 1 })) if (batch.length) throw new Error('consumer failed');
      })(),
    ).rejects.toThrow('consumer failed');
    await store.append(stream, [event('AfterBreak')], 4);
    expect((await readAllFlat(store, { fromExclusive: before })).map((e) => e.type).slice(-1)).toEqual(['AfterBreak']);
  });

  it('answers ping, and fails ping when the store cannot answer', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    const started = Date.now();
    await expect(h.unreachable().ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('carries positions as bigint, exactly', async () => {
    const before = await store.headPosition();
    const [position] = await appendEach([`invoice-${randomUUID()}`]);
    const [read] = await readAllFlat(store, { fromExclusive: before });
    expect(typeof read.position).toBe('bigint');
    expect(read.position).toBe(position);
    if (h.esdb && h.esdb.log.all[0].position >= BEYOND_SAFE_INTEGER) {
      expect(position > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      // A float would have collapsed neighbouring positions; bigint keeps them distinct and exact.
      const stored = h.esdb.log.all.find((e) => e.id === read.id)!;
      expect(read.position).toBe(stored.position);
    }
  });

  it('reports a scanned position past other streams but never past the head (system events last in the log)', async () => {
    const before = await store.headPosition();
    const [finance, other] = await appendEach([`journal-${randomUUID()}`, `inventory-${randomUUID()}`]);
    if (h.esdb) {
      h.esdb.log.appendSystemEvent();
      h.esdb.log.appendSystemEvent('$$inventory-x', '$metadata');
    }
    let scanned: bigint | undefined;
    const read = await readAllFlat(store, { fromExclusive: before, streamPrefixes: ['journal-'], onScanned: (p) => (scanned = p) });
    expect(read.map((e) => e.position)).toEqual([finance]);
    const head = await store.headPosition();
    expect(head).toBe(other);
    // An adapter that filters in the database reports nothing; one that filters in code reports the other stream's event.
    if (h.esdb) expect(scanned).toBe(head);
    else expect(scanned === undefined || scanned <= head).toBe(true);
  });

  it('never returns system events and keeps the head on a readable event', async () => {
    const [last] = await appendEach([`journal-${randomUUID()}`]);
    if (h.esdb) {
      h.esdb.log.appendSystemEvent();
      h.esdb.log.appendSystemEvent('$$journal-x', '$metadata');
      expect(h.esdb.log.all.filter((e) => e.type.startsWith('$')).length).toBeGreaterThan(3);
    }
    const all = await readAllFlat(store);
    expect(all.some((e) => e.type.startsWith('$') || e.streamId.startsWith('$'))).toBe(false);
    expectStrictlyIncreasing(all.map((e) => e.position));
    expect(await store.headPosition()).toBe(last);
    expect(all[all.length - 1].position).toBe(last);
    if (h.esdb) {
      const userEvents = h.esdb.log.all.filter((e) => !e.type.startsWith('$') && !e.streamId.startsWith('$'));
      expect(all.map((e) => e.id)).toEqual(userEvents.map((e) => e.id));
    }
  });

  it('went through the intended gRPC append path, and the metrics wrapper timed every operation', () => {
    if (h.timed) expect([...h.timed].sort()).toEqual(['append', 'head_position', 'ping', 'read_all_batch', 'read_stream']);
    if (!h.esdb) return;
    const { calls } = h.esdb;
    if (h.batchAppend) expect([calls.batchAppend > 0, calls.append]).toEqual([true, 0]);
    else expect([calls.batchAppend, calls.append > 0]).toEqual([0, true]);
  });
});

describe('EventStoreDB adapter: a binary event in a finance stream', () => {
  it('is read with null data, so the projector skips it as malformed instead of the read failing', async () => {
    const esdb = await startEsdbTestServer();
    const raw = EventStoreDBClient.connectionString(esdb.connectionString);
    const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    try {
      const stream = `invoice-${randomUUID()}`;
      await raw.appendToStream(stream, binaryEvent({ type: 'InvoiceCreated', data: Buffer.from([0, 159, 146, 150]) }));
      const read: RecordedEvent[] = [];
      for await (const batch of store.readAll({ streamPrefixes: ['invoice-'] })) read.push(...batch);
      expect(read.map((e) => [e.streamId, e.type, e.data])).toEqual([[stream, 'InvoiceCreated', null]]);
      const projected = projectBatch(read, new Map());
      expect(projected.malformedEvents).toBe(1);
      expect(projected.problems[0].reason).toMatch(/data must be an object/);
    } finally {
      await raw.dispose();
      // dispose() leaves the HTTP/2 channel open (see EventStoreDbEventStore.close).
      await (raw as unknown as { getChannel(): Promise<{ close(): void }> }).getChannel().then((c) => c.close()).catch(() => undefined);
      await store.close();
      await esdb.close();
    }
  });
});

describe('EventStoreDB adapter: events whose JSON is not an object', () => {
  it('are read with null data and empty metadata (the client hands over a string for JSON it cannot parse)', async () => {
    const esdb = await startEsdbTestServer();
    const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    try {
      const stream = `invoice-${randomUUID()}`;
      const json = (id: string, data: string, metadata: string) => ({
        id, type: 'InvoiceCreated', contentType: 'application/json', data: Buffer.from(data), customMetadata: Buffer.from(metadata),
      });
      esdb.log.append(stream, { kind: 'any' }, [json(randomUUID(), 'not json {', 'also not json'), json(randomUUID(), '[1,2]', '"a string"')]);
      const read = await readAllFlat(store, { streamPrefixes: ['invoice-'] });
      expect(read.map((e) => [e.data, e.metadata])).toEqual([[null, {}], [null, {}]]);
      expect(await store.readStream(stream)).toEqual([expect.objectContaining({ data: null, metadata: {} }), expect.objectContaining({ data: null, metadata: {} })]);
    } finally {
      await store.close();
      await esdb.close();
    }
  });
});

describe('EventStoreDB adapter: a server that accepts reads and never answers', () => {
  it('gives up each read at its deadline and cancels it (the client applies none)', async () => {
    const esdb = await startEsdbTestServer();
    const store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString, { pingTimeoutMs: 300, readTimeoutMs: 500 });
    try {
      await store.append(`journal-${randomUUID()}`, [event('JournalEntryPosted')], 'any');
      esdb.stallReads = true;
      await expect(store.ping()).rejects.toThrow(/EventStoreDB did not answer within 300 ms/);
      await expect(store.headPosition()).rejects.toThrow(/did not answer within 500 ms/);
      await expect(readAllFlat(store)).rejects.toThrow(/did not answer within 500 ms/);
      await expect(store.readStream('journal-x')).rejects.toThrow(/did not answer within 500 ms/);
      // Each given-up read was cancelled: the server saw it close.
      await waitFor(() => esdb.calls.openReads === 0, 5000, 'the stalled reads to be cancelled');
      esdb.stallReads = false;
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
      await esdb.close();
    }
  });
});

describe('createEventStore', () => {
  it('picks the adapter from EVENT_STORE and wraps it when given metrics', async () => {
    const pool = { query: () => Promise.reject(new Error('unused')) } as unknown as Pool;
    expect(createEventStore(loadConfig({}), pool)).toBeInstanceOf(PostgresEventStore);
    const esdbConfig = loadConfig({ EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'esdb://127.0.0.1:1?tls=false' });
    const esdb = createEventStore(esdbConfig, pool);
    expect(esdb).toBeInstanceOf(EventStoreDbEventStore);
    await esdb.close();
    const timed = createEventStore(loadConfig({}), pool, { timeEventStore: (_op, work) => work() });
    expect(timed).toBeInstanceOf(InstrumentedEventStore);
    expect(unwrapEventStore(timed)).toBeInstanceOf(PostgresEventStore);
    expect(timed.kind).toBe('postgres');
  });
});

describe('PostgreSQL event store migration', () => {
  it('goes down and up again cleanly', async () => {
    const db = await createTestDatabase('event_store_migration');
    try {
      const dataSource = new DataSource({
        type: 'postgres',
        host: db.host,
        port: db.port,
        username: db.user,
        password: db.password,
        database: db.name,
        migrations: [EventStore1700000000000],
      });
      await dataSource.initialize();
      await dataSource.runMigrations();
      await dataSource.undoLastMigration();
      const gone = await dataSource.query(`SELECT to_regclass('events') AS t, to_regproc('append_events') AS f`);
      expect(gone[0]).toEqual({ t: null, f: null });
      await dataSource.runMigrations();
      const store = new PostgresEventStore(db.pool());
      const result = await store.append('invoice-1', [event('InvoiceCreated')], 'no_stream');
      expect(result).toEqual({ nextExpectedVersion: 0, position: 1n });
      await dataSource.destroy();
    } finally {
      await db.drop();
    }
  });
});
