import { Position } from './position';

/** Metadata every finance event carries. */
export interface EventMetadata {
  tenantId: string;
  userId: string;
  correlationId: string;
  causationId: string;
  schemaVersion: number;
  /** Set by the application service for idempotent commands; informational only. */
  idempotencyKey?: string;
  /**
   * Names the keyed request that appended the event (tenant, key and request fingerprint hashed: see
   * idempotencyToken). A retry of that request finds its events by it instead of appending them again.
   */
  idempotencyToken?: string;
}

/** An event about to be appended. */
export interface NewEvent<D = Record<string, unknown>> {
  /** UUID; the adapters keep it as the event id. */
  id: string;
  type: string;
  data: D;
  metadata: EventMetadata;
}

/** An event as stored, with its stream version and global position. */
export interface RecordedEvent<D = Record<string, unknown>> {
  id: string;
  streamId: string;
  /** 0-based version of the event inside its stream. */
  streamVersion: number;
  /** Global position: strictly increasing in the order readers see events. */
  position: Position;
  type: string;
  data: D;
  metadata: EventMetadata;
  createdAt: Date;
}

/**
 * Expected version of a stream on append:
 * - a number: the stream's current last version (0-based), i.e. the version of its last event;
 * - 'no_stream': the stream must not exist yet;
 * - 'any': no check.
 */
export type ExpectedVersion = number | 'no_stream' | 'any';

export interface AppendResult {
  /** Version of the last event appended (0-based). */
  nextExpectedVersion: number;
  /** Global position of the last event appended. */
  position: Position;
}

export interface ReadAllOptions {
  /** Exclusive lower bound: events with position > from are returned. Default START_POSITION (everything). */
  fromExclusive?: Position;
  /** Inclusive upper bound. */
  toInclusive?: Position;
  /** Events per batch (the unit of memory). Default 1000. */
  batchSize?: number;
  /** Only streams whose id starts with one of these prefixes (adapters may filter in code). */
  streamPrefixes?: string[];
  /**
   * Told the furthest position read, filtered-out events included (system events excepted: it never
   * passes the head), by an adapter that filters in code (EventStoreDB). Once the iteration has ended,
   * every event up to it that passed the filter has been yielded: a follower may move its checkpoint
   * there instead of reading the same other streams again.
   */
  onScanned?: (position: Position) => void;
  /**
   * Stop after reading about this many events, filtered-out ones included (an adapter that filters in
   * code; whole pages, so a little more). onScanned then tells how far the read got.
   */
  scanLimit?: number;
}

export class WrongExpectedVersionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number | 'no_stream',
  ) {
    super(`Wrong expected version for stream ${streamId}: expected ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedVersionError';
  }
}

/**
 * The event store port. Two adapters: PostgreSQL (default) and EventStoreDB.
 * Readers that follow the global order never skip an event: readAll only returns events
 * whose position is final (no smaller position can still appear later).
 */
export interface EventStore {
  readonly kind: 'postgres' | 'eventstoredb';
  append(streamId: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult>;
  /** All events of one stream in version order; [] when the stream does not exist. */
  readStream(streamId: string): Promise<RecordedEvent[]>;
  /** Events in global order, in batches, with bounded memory. Breaking out early must be safe. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent[]>;
  /** Position of the last event readers may see (START_POSITION when empty). */
  headPosition(): Promise<Position>;
  /** Throws when the store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
