import { FINANCE_STREAM_PREFIXES } from '../domain/events';
import type { EventStore } from '../event-store/event-store';
import type { Position } from '../event-store/position';

/** The most events one EventStoreDB lag count reads (every pod counts every refresh). */
export const LAG_COUNT_LIMIT = 2000;

export interface ProjectionLag {
  /** Finance events after the checkpoint, up to the head; LAG_COUNT_LIMIT when there are at least that many. */
  events: number;
  /** false when the count stopped at the limit. */
  exact: boolean;
}

/**
 * How many events the projection has yet to apply. PostgreSQL positions number the events one by one,
 * so the distance is the count. EventStoreDB positions are byte offsets in its log (one event moves
 * them by hundreds, and other streams' events move them too), so those events are read and counted,
 * up to the limit: enough for the lag alert (over 1,000) without reading a whole backlog on every pod.
 */
export async function projectionLag(store: EventStore, checkpoint: Position, head: Position, limit = LAG_COUNT_LIMIT): Promise<ProjectionLag> {
  if (head <= checkpoint) return { events: 0, exact: true };
  if (store.kind === 'postgres') return { events: Number(head - checkpoint), exact: true };
  let events = 0;
  const batches = store.readAll({ fromExclusive: checkpoint, toInclusive: head, streamPrefixes: [...FINANCE_STREAM_PREFIXES], batchSize: Math.min(limit, 500) });
  for await (const batch of batches) {
    events += batch.length;
    if (events >= limit) return { events: limit, exact: false };
  }
  return { events, exact: true };
}
