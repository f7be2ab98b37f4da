/**
 * events:inspect's core against both adapters: a fresh PostgreSQL database with the real migration,
 * and the real EventStoreDB client against the gRPC test server (positions above 2^53, system events).
 */
import { randomUUID } from 'node:crypto';
import { eventsInspect, parseInspectArgs, UsageError } from '../../services/finance/src/cli/events-inspect';
import { EventStore, NewEvent } from '../../services/finance/src/event-store/event-store';
import { EventStoreDbEventStore } from '../../services/finance/src/event-store/eventstoredb-event-store';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { Position } from '../../services/finance/src/event-store/position';
import { createTestDatabase, TestDatabase, migrateTestDatabase } from '../support/database';
import { BEYOND_SAFE_INTEGER, EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';

const T0 = Date.parse('2026-11-20T09:00:00Z');
const MINUTE = 60_000;

function event(type: string): NewEvent {
  return {
    id: randomUUID(),
    type,
    data: { amountMinor: '632500' },
    metadata: { tenantId: 't', userId: 'u', correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

/** Five events, one a minute from 09:00 UTC: 3 in invoice streams, 2 in journal streams. */
const SCRIPT: Array<[string, string]> = [
  ['invoice-a', 'InvoiceCreated'],
  ['journal-x', 'JournalEntryPosted'],
  ['invoice-a', 'InvoiceApproved'],
  ['invoice-b', 'InvoiceCreated'],
  ['journal-y', 'JournalEntryPosted'],
];

/** Appends SCRIPT; `beforeEach(i)` runs before the i-th append (to set the clock). */
async function appendScript(store: EventStore, beforeEach: (i: number) => void = () => undefined): Promise<Position[]> {
  const versions = new Map<string, number>();
  const positions: Position[] = [];
  for (const [i, [stream, type]] of SCRIPT.entries()) {
    beforeEach(i);
    const result = await store.append(stream, [event(type)], versions.get(stream) ?? 'no_stream');
    versions.set(stream, result.nextExpectedVersion);
    positions.push(result.position);
  }
  return positions;
}

interface JsonReport {
  kind: string;
  headPosition: string;
  totalEvents: number;
  byCategory: Array<{ name: string; count: number }>;
  byType: Array<{ name: string; count: number }>;
  lastEvents: Array<{ position: string; createdAt: string; streamId: string; type: string }>;
  before?: { at: string; position: string };
}

async function inspectJson(store: EventStore, argv: string[]): Promise<JsonReport> {
  return JSON.parse(await eventsInspect(store, parseInspectArgs([...argv, '--json']))) as JsonReport;
}

function expectReport(report: JsonReport, kind: string, positions: Position[]): void {
  expect(report.kind).toBe(kind);
  expect(report.headPosition).toBe(positions[4].toString());
  expect(report.totalEvents).toBe(5);
  expect(report.byCategory).toEqual([
    { name: 'invoice', count: 3 },
    { name: 'journal', count: 2 },
  ]);
  expect(report.byType).toEqual([
    { name: 'InvoiceApproved', count: 1 },
    { name: 'InvoiceCreated', count: 2 },
    { name: 'JournalEntryPosted', count: 2 },
  ]);
  expect(report.lastEvents).toEqual([
    { position: positions[2].toString(), createdAt: '2026-11-20T09:02:00.000Z', streamId: 'invoice-a', type: 'InvoiceApproved' },
    { position: positions[3].toString(), createdAt: '2026-11-20T09:03:00.000Z', streamId: 'invoice-b', type: 'InvoiceCreated' },
    { position: positions[4].toString(), createdAt: '2026-11-20T09:04:00.000Z', streamId: 'journal-y', type: 'JournalEntryPosted' },
  ]);
  expect(report.before).toEqual({ at: '2026-11-20T09:02:30.000Z', position: positions[2].toString() });
}

describe('events:inspect on PostgreSQL', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let positions: Position[];

  beforeAll(async () => {
    db = await createTestDatabase('events_inspect');
    await migrateTestDatabase(db);
    const pool = db.pool();
    pool.on('error', () => undefined); // db.drop() may cut a socket that pool.end() is still closing
    store = new PostgresEventStore(pool);
    expect((await inspectJson(store, [])).headPosition).toBe('0');
    positions = await appendScript(store);
    // The database stamps created_at itself; pin it to known minutes (this test owns the database).
    await pool.query(`UPDATE events SET created_at = to_timestamp($1::float8 / 1000) + (global_position - $2::bigint) * interval '1 minute'`, [T0, positions[0].toString()]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reports head, counts, the newest events and the position at a time, as JSON', async () => {
    expectReport(await inspectJson(store, ['--last', '3', '--before', '2026-11-20T09:02:30Z']), 'postgres', positions);
    const early = await inspectJson(store, ['--before=2026-11-20T08:00:00Z']);
    expect(early.before?.position).toBe('0');
    expect(early.lastEvents).toHaveLength(5);
    expect((await inspectJson(store, ['--before', '2026-11-20T09:00:00Z'])).before?.position).toBe(positions[0].toString());
  });

  it('prints a human-readable table by default', async () => {
    const text = await eventsInspect(store, parseInspectArgs(['--last', '2', '--before', '2026-11-20T10:00:00+01:00']));
    expect(text).toContain('Event store:   postgres');
    expect(text).toContain(`Head position: ${positions[4]}`);
    expect(text).toMatch(/invoice\s+3\n/);
    expect(text).toMatch(/JournalEntryPosted\s+2\n/);
    expect(text).toContain('Last 2 event(s):');
    expect(text).toMatch(new RegExp(`${positions[4]}\\s+2026-11-20T09:04:00.000Z\\s+journal-y\\s+JournalEntryPosted`));
    expect(text).toContain(`Last position at or before 2026-11-20T09:00:00.000Z: ${positions[0]}`);
  });
});

describe('events:inspect on EventStoreDB', () => {
  let esdb: EsdbTestServer;
  let store: EventStoreDbEventStore;
  let positions: Position[];
  let now = T0;

  beforeAll(async () => {
    esdb = await startEsdbTestServer({ startPosition: BEYOND_SAFE_INTEGER, systemEventEvery: 2, clock: () => new Date(now) });
    store = EventStoreDbEventStore.fromConnectionString(esdb.connectionString);
    positions = await appendScript(store, (i) => (now = T0 + i * MINUTE));
    now = T0 + 10 * MINUTE;
    esdb.log.appendSystemEvent(); // the newest record in $all is a system event
  });
  afterAll(async () => {
    await store?.close();
    await esdb?.close();
  });

  it('reports the same, with exact positions above 2^53 and without system events', async () => {
    expect(positions[0] > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expectReport(await inspectJson(store, ['--last', '3', '--before', '2026-11-20T09:02:30Z']), 'eventstoredb', positions);
    const text = await eventsInspect(store, parseInspectArgs([]));
    expect(text).toContain('Event store:   eventstoredb');
    expect(text).toContain('Last 5 event(s):');
    expect(text).not.toContain('$');
  });
});

describe('events:inspect arguments', () => {
  it('parses flags and rejects bad ones', () => {
    expect(parseInspectArgs([])).toEqual({ last: 10, json: false });
    expect(parseInspectArgs(['--json', '--last=0', '--before', '2026-11-20T10:00:00Z'])).toEqual({
      last: 0,
      json: true,
      before: new Date('2026-11-20T10:00:00Z'),
    });
    for (const bad of [['--last', '-1'], ['--last', 'x'], ['--last'], ['--before', '2026-11-20'], ['--before', 'yesterday'], ['--nope'], ['--help']]) {
      expect(() => parseInspectArgs(bad)).toThrow(UsageError);
    }
  });
});
