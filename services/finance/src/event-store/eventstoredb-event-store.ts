import {
  ANY,
  AppendExpectedRevision,
  BACKWARDS,
  END,
  ErrorType,
  EventStoreDBClient,
  FORWARDS,
  JSONType,
  NO_STREAM,
  ReadPosition,
  START,
  StreamingRead,
  jsonEvent,
} from '@eventstore/db-client';
import type { Channel } from '@grpc/grpc-js';
import {
  AppendResult,
  EventMetadata,
  EventStore,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  RecordedEvent,
  WrongExpectedVersionError,
} from './event-store';
import { DEFAULT_BATCH_SIZE, checkBatchSize, checkExpectedVersion } from './event-store.options';
import { Position, START_POSITION } from './position';

/** The part of a recorded event this adapter reads (the client's JSON and binary variants share it). */
interface EsdbRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata?: unknown;
  isJson: boolean;
  created: Date;
  position?: { commit: bigint; prepare: bigint };
}

interface AllPosition {
  commit: bigint;
  prepare: bigint;
}

interface EsdbResolvedEvent {
  event?: EsdbRecordedEvent;
  commitPosition?: bigint;
}

/** Old servers mark "no log position" in stream reads with uint64 max. */
const NO_LOG_POSITION = 2n ** 64n - 1n;

/** Smallest $all page: a page must hold more than the one event it starts at. */
const MIN_PAGE_SIZE = 256;

/** Events per backwards page when looking for the last non-system event. */
const HEAD_SCAN_PAGE = 32;

export interface EventStoreDbEventStoreOptions {
  /** Deadline of ping()'s read. */
  pingTimeoutMs?: number;
  /** Deadline of every other read (one stream, one $all page, one head page). Default 30 s. */
  readTimeoutMs?: number;
}

/**
 * The EventStoreDB adapter (@eventstore/db-client 6.x over gRPC).
 * Global position = the `$all` commit position. Events appended over gRPC are each committed at
 * their own log position, so commit positions are unique and increasing (legacy TCP explicit
 * transactions share one commit position; readAll refuses such a log rather than skip events).
 * System events (`$` types or streams) are never returned and never count as the head.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly pingTimeoutMs: number;
  private readonly readTimeoutMs: number;

  static fromConnectionString(connectionString: string, options: EventStoreDbEventStoreOptions = {}): EventStoreDbEventStore {
    return new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), options);
  }

  constructor(
    private readonly client: EventStoreDBClient,
    options: EventStoreDbEventStoreOptions = {},
  ) {
    this.pingTimeoutMs = options.pingTimeoutMs ?? 1000;
    this.readTimeoutMs = options.readTimeoutMs ?? 30_000;
  }

  async append(streamId: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult> {
    if (events.length === 0) throw new TypeError('append needs at least one event');
    const expectedRevision = toExpectedRevision(expectedVersion);
    try {
      const result = await this.client.appendToStream(
        streamId,
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: e.metadata })),
        { expectedRevision },
      );
      if (!result.position) throw new Error(`EventStoreDB returned no position for the append to ${streamId}`);
      return { nextExpectedVersion: Number(result.nextExpectedRevision), position: result.position.commit };
    } catch (error) {
      if (isErrorOfType(error, ErrorType.WRONG_EXPECTED_VERSION)) {
        const actual = (error as { actualVersion?: bigint | string }).actualVersion;
        throw new WrongExpectedVersionError(streamId, expectedVersion, typeof actual === 'bigint' ? Number(actual) : 'no_stream');
      }
      throw error;
    }
  }

  async readStream(streamId: string): Promise<RecordedEvent[]> {
    let read: EsdbResolvedEvent[];
    try {
      // Read to the end before converting: leaving a gRPC read early can hang dispose() (see readAll).
      read = await collectWithin(this.client.readStream(streamId) as StreamingRead<EsdbResolvedEvent>, this.readTimeoutMs, `EventStoreDB read of ${streamId}`);
    } catch (error) {
      if (isErrorOfType(error, ErrorType.STREAM_NOT_FOUND)) return [];
      throw error;
    }
    return read.flatMap((resolved) => (resolved.event ? [toRecordedEvent(resolved.event)] : []));
  }

  /**
   * `$all` in bounded pages, each read to its natural end before anything is yielded. The client
   * ignores read filters, so system events and other streams are dropped here.
   * Why pages and not one long read: leaving a read early needs `stream.cancel()`, and cancel is a
   * no-op once the server has sent its last message; the unread tail then never ends and
   * `client.dispose()` waits for it forever. A completed page leaves nothing open, so a consumer
   * may stop between batches at any time.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent[]> {
    const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
    const from = options.fromExclusive ?? START_POSITION;
    const to = options.toInclusive;
    const prefixes = options.streamPrefixes;
    if ((prefixes && prefixes.length === 0) || (to !== undefined && to <= from)) return;
    const pageSize = Math.max(batchSize, MIN_PAGE_SIZE);
    // -1: "before the log". A real $all starts with the server's own events at commit 0.
    let cursor: AllPosition = from === START_POSITION ? { commit: -1n, prepare: -1n } : { commit: from, prepare: from };
    let exhausted = false;
    let pending: RecordedEvent[] = [];
    // Reported to onScanned: the last non-system event read. Never a system event's position: the head is
    // the last non-system event, and a checkpoint moved beyond it would stand after the head.
    let scanned: Position | undefined;
    let read = 0;
    for (;;) {
      while (!exhausted && pending.length < batchSize) {
        const page = await this.readAllPage(cursor, pageSize);
        read += page.length;
        exhausted = page.length < pageSize || (options.scanLimit !== undefined && read >= options.scanLimit);
        for (const [index, resolved] of page.entries()) {
          const position = commitPositionOf(resolved);
          // A read starts AT its position: the event there was delivered by the previous page.
          if (index === 0 && position === cursor.commit) continue;
          if (position <= cursor.commit) throw new Error(`$all commit position ${position} does not increase (after ${cursor.commit}): explicit transactions are not supported`);
          if (to !== undefined && position > to) {
            exhausted = true;
            break;
          }
          const recorded = resolved.event;
          cursor = { commit: position, prepare: recorded?.position?.prepare ?? position };
          if (!recorded || isSystemEvent(recorded)) continue;
          scanned = position;
          if (prefixes && !prefixes.some((p) => recorded.streamId.startsWith(p))) continue;
          pending.push(toRecordedEvent(recorded, position));
        }
        if (scanned !== undefined) options.onScanned?.(scanned);
      }
      if (pending.length === 0) return;
      const batch = pending.slice(0, batchSize);
      pending = pending.slice(batchSize);
      yield batch;
    }
  }

  /** One bounded forward read of `$all`, consumed to its end (see readAll). */
  private async readAllPage(from: AllPosition, maxCount: number): Promise<EsdbResolvedEvent[]> {
    const fromPosition: ReadPosition = from.commit < 0n ? START : from;
    return collectWithin(this.client.readAll({ fromPosition, direction: FORWARDS, maxCount }) as StreamingRead<EsdbResolvedEvent>, this.readTimeoutMs, 'EventStoreDB $all read');
  }

  /** Commit position of the last non-system event: a position a reader of readAll does reach. */
  async headPosition(): Promise<Position> {
    let fromPosition: ReadPosition = END;
    for (;;) {
      // A bounded read ends by itself: no cancel needed.
      const page: EsdbResolvedEvent[] = await collectWithin(
        this.client.readAll({ direction: BACKWARDS, fromPosition, maxCount: HEAD_SCAN_PAGE }) as StreamingRead<EsdbResolvedEvent>,
        this.readTimeoutMs,
        'EventStoreDB head read',
      );
      for (const resolved of page) {
        if (resolved.event && !isSystemEvent(resolved.event)) return commitPositionOf(resolved);
      }
      const oldest = page[page.length - 1]?.event?.position;
      if (page.length < HEAD_SCAN_PAGE || !oldest) return START_POSITION;
      fromPosition = oldest; // backwards reads exclude the given position
    }
  }

  async ping(): Promise<void> {
    await collectWithin(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }) as StreamingRead<EsdbResolvedEvent>, this.pingTimeoutMs, 'EventStoreDB');
  }

  async close(): Promise<void> {
    await this.client.dispose();
    // dispose() ends the calls but leaves the HTTP/2 channel open, which keeps a CLI process alive.
    const channel = (this.client as unknown as { getChannel(): Promise<Channel> }).getChannel;
    await channel?.()
      .then((c) => c.close())
      .catch(() => undefined);
  }
}

/**
 * A bounded read's events, all of them, within `ms`. The client applies no deadline to reads (its
 * readAll passes `deadline: Infinity` whatever it is given), so a server that accepts a read and never
 * answers would hold it forever: past `ms` this rejects, the stream is destroyed (a cancelled read never
 * ends by itself) and the call cancelled (the server sees it close).
 */
async function collectWithin<T>(read: StreamingRead<T>, ms: number, what: string): Promise<T[]> {
  const items: T[] = [];
  const collected = (async () => {
    for await (const item of read) items.push(item);
    return items;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not answer within ${ms} ms`));
      // Destroyed at once (cancel() first waits for the call, which may wait for a connection that hangs).
      read.destroy();
      void read.cancel().catch(() => undefined);
    }, ms);
  });
  try {
    return await Promise.race([collected, timeout]);
  } finally {
    clearTimeout(timer);
    collected.catch(() => undefined); // after a timeout its end (an error or nothing) no longer matters
  }
}

function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  const checked = checkExpectedVersion(expected);
  if (checked === 'any') return ANY;
  if (checked === 'no_stream') return NO_STREAM;
  return BigInt(checked);
}

function commitPositionOf(resolved: EsdbResolvedEvent): Position {
  const position = resolved.event?.position?.commit ?? resolved.commitPosition;
  if (position === undefined) throw new Error(`EventStoreDB event ${resolved.event?.id} has no $all position`);
  return position;
}

function isSystemEvent(event: EsdbRecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

/**
 * A binary (non-JSON) event, or a "JSON" one whose data is not a JSON object, which another writer may
 * put in a finance stream, is handed on with null data (and metadata that is not an object as empty):
 * the projector skips it as malformed, counted and logged, rather than the reader failing every batch
 * (and every rollback) that reaches it.
 */
function toRecordedEvent(event: EsdbRecordedEvent, position?: Position): RecordedEvent {
  return {
    id: event.id,
    streamId: event.streamId,
    streamVersion: Number(event.revision),
    position: position ?? streamReadPosition(event),
    type: event.type,
    data: (event.isJson && isObject(event.data) ? event.data : null) as Record<string, unknown>,
    metadata: (event.isJson && isObject(event.metadata) ? event.metadata : {}) as EventMetadata,
    createdAt: event.created,
  };
}

/** A JSON object: what the client hands over for JSON it could parse (a string or bytes when it could not). */
function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Stream reads of older servers carry no log position; START_POSITION then stands for "unknown". */
function streamReadPosition(event: EsdbRecordedEvent): Position {
  const commit = event.position?.commit;
  return commit === undefined || commit === NO_LOG_POSITION ? START_POSITION : commit;
}

function isErrorOfType(error: unknown, type: ErrorType): boolean {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === type;
}
