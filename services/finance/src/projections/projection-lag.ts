import { FINANCE_STREAM_PREFIXES } from '../domain/events';
import type { EventStore } from '../event-store/event-store';
import type { Position } from '../event-store/position';

/** The most finance events one EventStoreDB lag count counts (every pod counts every refresh). */
export const LAG_COUNT_LIMIT = 2000;

/** The most events, other streams' included, it reads to count them (a shared store may hold many more). */
export const LAG_SCAN_LIMIT = 20_000;

export interface ProjectionLag {
  /** Finance events after the checkpoint, up to the head; a lower bound when not exact. */
  events: number;
  /** false when the count stopped at a limit. */
  exact: boolean;
}

/**
 * How many events the projection has yet to apply. PostgreSQL positions number the events one by one,
 * so the distance is the count. EventStoreDB positions are byte offsets in its log (one event moves
 * them by hundreds, and other streams' events move them too), so those events are read and counted,
 * up to the limits: enough for the lag alert (over 1,000) without reading a whole backlog, or a whole
 * shared log, on every pod.
 */
export async function projectionLag(store: EventStore, checkpoint: Position, head: Position, limit = LAG_COUNT_LIMIT, scanLimit = LAG_SCAN_LIMIT): Promise<ProjectionLag> {
  if (head <= checkpoint) return { events: 0, exact: true };
  if (store.kind === 'postgres') return { events: Number(head - checkpoint), exact: true };
  let events = 0;
  let scanned = checkpoint;
  const batches = store.readAll({
    fromExclusive: checkpoint,
    toInclusive: head,
    streamPrefixes: [...FINANCE_STREAM_PREFIXES],
    batchSize: Math.min(limit, 500),
    scanLimit,
    onScanned: (p) => (scanned = p),
  });
  for await (const batch of batches) {
    events += batch.length;
    if (events >= limit) return { events: limit, exact: false };
  }
  return { events, exact: scanned >= head };
}
