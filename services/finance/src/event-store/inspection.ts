import type { EventStore, RecordedEvent } from './event-store';
import { unwrapEventStore } from './instrumented-event-store';
import { PostgresEventStore } from './postgres-event-store';
import { Position, START_POSITION } from './position';

/**
 * What `events:inspect` reports, for either adapter: PostgreSQL answers in SQL, any other store
 * (EventStoreDB) by one streaming pass over readAll up to the head (bounded memory).
 */
export interface InspectOptions {
  /** How many of the newest events to list (default 10). */
  last?: number;
  /** Also find the last position at or before this time. */
  before?: Date;
}

export interface EventLine {
  position: Position;
  createdAt: Date;
  streamId: string;
  type: string;
}

export interface Count {
  name: string;
  count: number;
}

export interface EventStoreInspection {
  kind: EventStore['kind'];
  headPosition: Position;
  totalEvents: number;
  /** Category = the stream id up to its first '-' (`invoice-<uuid>` → `invoice`), as EventStoreDB defines it. */
  byCategory: Count[];
  byType: Count[];
  /** The newest events, oldest first. */
  lastEvents: EventLine[];
  /** Last position whose event was recorded at or before `at`; START_POSITION when none was. */
  before?: { at: Date; position: Position };
}

export const DEFAULT_LAST = 10;

export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
}

export async function inspectEventStore(store: EventStore, options: InspectOptions = {}): Promise<EventStoreInspection> {
  const last = options.last ?? DEFAULT_LAST;
  if (!Number.isSafeInteger(last) || last < 0) throw new RangeError(`last must be a non-negative integer (got ${last})`);
  const adapter = unwrapEventStore(store);
  if (adapter instanceof PostgresEventStore) return inspectPostgres(adapter, last, options.before);
  return inspectByScan(store, last, options.before);
}

/** One REPEATABLE READ snapshot, so head, counts and the listing agree with each other. */
async function inspectPostgres(store: PostgresEventStore, last: number, before?: Date): Promise<EventStoreInspection> {
  const client = await store.pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = await client.query<{ head: string; total: string }>('SELECT coalesce(max(global_position), 0)::text AS head, count(*)::text AS total FROM events');
    const byCategory = await client.query<{ name: string; n: string }>(
      `SELECT name, count(*)::text AS n
       FROM (SELECT CASE WHEN strpos(stream_id, '-') = 0 THEN stream_id ELSE split_part(stream_id, '-', 1) END AS name FROM events) e
       GROUP BY name ORDER BY name COLLATE "C"`,
    );
    const byType = await client.query<{ name: string; n: string }>('SELECT type AS name, count(*)::text AS n FROM events GROUP BY type ORDER BY type COLLATE "C"');
    const lastRows = await client.query<{ position: string; stream_id: string; type: string; created_ms: number }>(
      `SELECT global_position::text AS position, stream_id, type, round(date_part('epoch', date_trunc('milliseconds', created_at)) * 1000) AS created_ms
       FROM events ORDER BY global_position DESC LIMIT $1`,
      [last],
    );
    let atOrBefore: Position | undefined;
    if (before) {
      // created_at follows position order (clock_timestamp() under the append lock), but max() does not rely on it.
      const { rows } = await client.query<{ p: string }>('SELECT coalesce(max(global_position), 0)::text AS p FROM events WHERE created_at <= $1', [before.toISOString()]);
      atOrBefore = BigInt(rows[0].p);
    }
    await client.query('COMMIT');
    return {
      kind: store.kind,
      headPosition: BigInt(head.rows[0].head),
      totalEvents: Number(head.rows[0].total),
      byCategory: byCategory.rows.map((r) => ({ name: r.name, count: Number(r.n) })),
      byType: byType.rows.map((r) => ({ name: r.name, count: Number(r.n) })),
      lastEvents: lastRows.rows.reverse().map((r) => ({ position: BigInt(r.position), createdAt: new Date(r.created_ms), streamId: r.stream_id, type: r.type })),
      before: before && atOrBefore !== undefined ? { at: before, position: atOrBefore } : undefined,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Streams every event up to the head once: counts, a ring of the newest `last`, and the time cut. */
async function inspectByScan(store: EventStore, last: number, before?: Date): Promise<EventStoreInspection> {
  const headPosition = await store.headPosition();
  const categories = new Map<string, number>();
  const types = new Map<string, number>();
  const newest: RecordedEvent[] = [];
  let total = 0;
  let atOrBefore = START_POSITION;
  if (headPosition > START_POSITION) {
    for await (const batch of store.readAll({ toInclusive: headPosition })) {
      for (const event of batch) {
        total += 1;
        increment(categories, streamCategory(event.streamId));
        increment(types, event.type);
        if (last > 0) {
          newest.push(event);
          if (newest.length > last) newest.shift();
        }
        if (before && event.createdAt.getTime() <= before.getTime() && event.position > atOrBefore) atOrBefore = event.position;
      }
    }
  }
  return {
    kind: store.kind,
    headPosition,
    totalEvents: total,
    byCategory: sortedCounts(categories),
    byType: sortedCounts(types),
    lastEvents: newest.map((e) => ({ position: e.position, createdAt: e.createdAt, streamId: e.streamId, type: e.type })),
    before: before ? { at: before, position: atOrBefore } : undefined,
  };
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function sortedCounts(counts: Map<string, number>): Count[] {
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, count]) => ({ name, count }));
}
