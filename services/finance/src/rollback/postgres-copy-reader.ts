/**
 * The rebuild's reader for the PostgreSQL event store: ONE `COPY (SELECT ... ORDER BY global_position)
 * TO STDOUT` streaming every event up to the target, parsed here from COPY text (no per-row objects
 * from node-postgres, no page round trips), in batches. Memory stays bounded: when `highWater`
 * batches wait for the consumer, the socket is paused and TCP backpressure stops the server.
 *
 * Same result as PostgresEventStore.readAll({toInclusive, streamPrefixes}): the events table of the
 * database the session is connected to (the service keeps its event store and read models in one
 * database), positions <= toInclusive, ascending. Appends are serialised, so every
 * position up to the head (>= target) is committed and visible to this one snapshot.
 */
import type { Client } from 'pg';
import { escapeLiteral } from 'pg';
import type { EventMetadata, RecordedEvent } from '../event-store/event-store';
import { likePrefix } from '../event-store/postgres-event-store';
import type { Position } from '../event-store/position';

export interface CopyReadOptions {
  toInclusive: Position;
  streamPrefixes: readonly string[];
  batchSize: number;
  /** Batches parsed ahead of the consumer before the socket is paused. */
  highWater: number;
}

interface PgConnection {
  query(text: string): void;
  stream: { pause(): void; resume(): void };
}

/** Streams the events in batches; closing the generator early ends the session's COPY (the caller ends the session). */
export async function* copyReadEvents(client: Client, options: CopyReadOptions): AsyncGenerator<RecordedEvent[]> {
  const prefixes = options.streamPrefixes.map((p) => escapeLiteral(likePrefix(p)));
  if (prefixes.length === 0) return;
  // Metadata is not sent: the projectors read only its tenantId, which PostgreSQL extracts (the rest
  // of the metadata would be about a quarter of the text to produce, send and split).
  const sql = `COPY (SELECT global_position, stream_id, stream_version, event_id, type, data,
      floor(extract(epoch FROM created_at) * 1000)::int8,
      CASE WHEN jsonb_typeof(metadata->'tenantId') = 'string' THEN metadata->>'tenantId' END
    FROM events
    WHERE global_position <= ${options.toInclusive.toString()}
      AND stream_id LIKE ANY (ARRAY[${prefixes.join(', ')}])
    ORDER BY global_position) TO STDOUT`;
  const reader = new CopyOutQuery(sql, options.batchSize, options.highWater);
  client.query(reader as never);
  for (;;) {
    const batch = await reader.next();
    if (batch === undefined) return;
    yield batch;
  }
}

class CopyOutQuery {
  private readonly ready: RecordedEvent[][] = [];
  private current: RecordedEvent[] = [];
  private connection: PgConnection | undefined;
  private paused = false;
  private finished = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly text: string,
    private readonly batchSize: number,
    private readonly highWater: number,
  ) {}

  /** The next batch, or undefined at the end. */
  async next(): Promise<RecordedEvent[] | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const batch = this.ready.shift();
      if (batch !== undefined) {
        if (this.paused && this.ready.length < this.highWater) {
          this.paused = false;
          this.connection?.stream.resume();
        }
        return batch;
      }
      if (this.finished) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.failure) return;
    try {
      this.current.push(parseEventLine(message.chunk));
    } catch (error) {
      this.failure = error as Error;
      this.notify();
      return;
    }
    if (this.current.length >= this.batchSize) {
      this.ready.push(this.current);
      this.current = [];
      if (this.ready.length >= this.highWater && !this.paused) {
        this.paused = true;
        this.connection?.stream.pause();
      }
      this.notify();
    }
  }

  handleCommandComplete(): void {
    if (this.current.length > 0) this.ready.push(this.current);
    this.current = [];
  }

  handleReadyForQuery(): void {
    this.finished = true;
    this.notify();
  }

  handleError(error: Error): void {
    this.failure ??= error;
    this.finished = true;
    this.notify();
  }

  handleCopyInResponse(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

const TAB = 9;

/** One COPY text row (8 tab-separated columns) as a RecordedEvent. */
function parseEventLine(chunk: Buffer): RecordedEvent {
  const end = chunk[chunk.length - 1] === 10 ? chunk.length - 1 : chunk.length;
  const f = chunk.toString('utf8', 0, end).split('\t');
  if (f.length !== 8) throw new Error(`unexpected COPY row from the events table (${f.length} columns)`);
  // The tenant id outlives the event (it is copied into rows): decoded on its own, so it does not keep
  // the whole line alive the way a slice of it would.
  const tenant = f[7] === '\\N' ? undefined : unescapeCopy(chunk.toString('utf8', chunk.lastIndexOf(TAB, end - 1) + 1, end));
  return {
    position: BigInt(f[0]),
    streamId: unescapeCopy(f[1]),
    streamVersion: Number(f[2]),
    id: f[3],
    type: unescapeCopy(f[4]),
    data: JSON.parse(unescapeCopy(f[5])) as Record<string, unknown>,
    metadata: new TenantOnlyMetadata(tenant),
    createdAt: new Date(Number(f[6])),
  };
}

/**
 * The metadata a rebuild reads: the tenant id only (what the projectors use). Reading another field
 * is a programming error, reported as such rather than answered with undefined.
 */
class TenantOnlyMetadata implements EventMetadata {
  constructor(private readonly tenant: string | undefined) {}

  get tenantId(): string {
    return this.tenant as string; // undefined when the stored tenantId is missing or not a string: the projector skips the event as malformed
  }
  get userId(): string {
    return notRead('userId');
  }
  get correlationId(): string {
    return notRead('correlationId');
  }
  get causationId(): string {
    return notRead('causationId');
  }
  get schemaVersion(): number {
    return notRead('schemaVersion');
  }
  get idempotencyKey(): string | undefined {
    return notRead('idempotencyKey');
  }
  toJSON(): Pick<EventMetadata, 'tenantId'> {
    return { tenantId: this.tenantId };
  }
}

function notRead(field: string): never {
  throw new Error(`the rebuild's event reader does not load metadata.${field} (only tenantId): read it in postgres-copy-reader.ts first`);
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Undoes COPY text escaping (\\, \t, \n, ..., \ooo octal, \xhh hex). */
function unescapeCopy(value: string): string {
  if (value.indexOf('\\') === -1) return value;
  return value.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/g, (_match, octal: string | undefined, hex: string | undefined, other: string | undefined) => {
    if (octal !== undefined) return String.fromCharCode(parseInt(octal, 8));
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    return ESCAPES[other as string] ?? (other as string);
  });
}
