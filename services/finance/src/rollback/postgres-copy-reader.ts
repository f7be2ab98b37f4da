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
import { tapCopyData, TappableStream } from './copy-data-tap';
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
  stream: TappableStream & { pause(): void; resume(): void };
}

/**
 * The events whose `lines` are sent as a count, not as content: an InvoiceCreated's invoice lines
 * (a fifth of all the event text in a typical store), of which the projector reads only the number
 * (finance-projector.ts, `lineCount`; a projector test holds it to that). The reader hands them on
 * as an array of that many empty slots.
 */
const COUNTED_ONLY_LINES = `type = 'InvoiceCreated' AND jsonb_typeof(data->'lines') = 'array'`;

/** Streams the events in batches; closing the generator early ends the session's COPY (the caller ends the session). */
export async function* copyReadEvents(client: Client, options: CopyReadOptions): AsyncGenerator<RecordedEvent[]> {
  const prefixes = options.streamPrefixes.map((p) => escapeLiteral(likePrefix(p)));
  if (prefixes.length === 0) return;
  // Metadata is not sent: the projectors read only its tenantId, which PostgreSQL extracts (the rest
  // of the metadata would be about a quarter of the text to produce, send and split). Nor are the
  // lines of an InvoiceCreated: the projector counts them only (see COUNTED_ONLY_LINES).
  const sql = `COPY (SELECT global_position, stream_id, stream_version, event_id, type,
      CASE WHEN ${COUNTED_ONLY_LINES} THEN data - 'lines' ELSE data END,
      floor(extract(epoch FROM created_at) * 1000)::int8,
      CASE WHEN jsonb_typeof(metadata->'tenantId') = 'string' THEN metadata->>'tenantId' END,
      CASE WHEN ${COUNTED_ONLY_LINES} THEN jsonb_array_length(data->'lines') END
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
    tapCopyData(connection.stream, (buffer, start, end) => this.row(buffer, start, end));
  }

  /** A row that reached node-postgres's parser instead of the tap (after a notice, say). */
  handleCopyData(message: { chunk: Buffer }): void {
    this.row(message.chunk, 0, message.chunk.length);
  }

  private row(buffer: Buffer, start: number, end: number): void {
    if (this.failure) return;
    try {
      this.current.push(parseEventLine(buffer, start, end));
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
const NEWLINE = 10;
const BACKSLASH = 92;
const CAPITAL_N = 78;
const MINUS = 45;
const ZERO = 48;
const FIELDS = 9;

/**
 * One COPY text row (9 tab-separated columns, `chunk` from `start` to `rowEnd`) as a RecordedEvent.
 * Fields are decoded straight from the row's bytes (no string of the whole line split again),
 * numbers parsed from their digits.
 */
function parseEventLine(chunk: Buffer, start: number, rowEnd: number): RecordedEvent {
  const end = chunk[rowEnd - 1] === NEWLINE ? rowEnd - 1 : rowEnd;
  const tabs = fieldEnds(chunk, start, end);
  // \N is NULL: the stored tenantId is missing or not a string, and the projector skips the event as malformed.
  const tenant = isNull(chunk, tabs[6] + 1, tabs[7]) ? undefined : field(chunk, tabs[6] + 1, tabs[7]);
  const data = JSON.parse(field(chunk, tabs[4] + 1, tabs[5])) as Record<string, unknown>;
  if (!isNull(chunk, tabs[7] + 1, end)) data.lines = new Array(numberField(chunk, tabs[7] + 1, end));
  return {
    position: bigintField(chunk, start, tabs[0]),
    streamId: field(chunk, tabs[0] + 1, tabs[1]),
    streamVersion: numberField(chunk, tabs[1] + 1, tabs[2]),
    id: field(chunk, tabs[2] + 1, tabs[3]),
    type: field(chunk, tabs[3] + 1, tabs[4]),
    data,
    metadata: new TenantOnlyMetadata(tenant),
    createdAt: new Date(numberField(chunk, tabs[5] + 1, tabs[6])),
  };
}

function isNull(chunk: Buffer, start: number, end: number): boolean {
  return end - start === 2 && chunk[start] === BACKSLASH && chunk[start + 1] === CAPITAL_N;
}

/** Where the first 8 fields end (their tabs); throws unless the row has exactly 9 fields. */
function fieldEnds(chunk: Buffer, start: number, end: number): number[] {
  const tabs: number[] = [];
  let from = start;
  for (let at = chunk.indexOf(TAB, from); at !== -1 && at < end; at = chunk.indexOf(TAB, from)) {
    tabs.push(at);
    from = at + 1;
  }
  if (tabs.length !== FIELDS - 1) throw new Error(`unexpected COPY row from the events table (${tabs.length + 1} columns)`);
  return tabs;
}

/** A text field, unescaped only when it holds a backslash (COPY's escape). */
function field(chunk: Buffer, start: number, end: number): string {
  const value = chunk.toString('utf8', start, end);
  const backslash = chunk.indexOf(BACKSLASH, start);
  return backslash !== -1 && backslash < end ? unescapeCopy(value) : value;
}

/** An integer column as a Number: parsed from its digits when it has at most 15 (exact in a double). */
function numberField(chunk: Buffer, start: number, end: number): number {
  const negative = chunk[start] === MINUS;
  const first = negative ? start + 1 : start;
  if (end - first === 0 || end - first > 15) return Number(chunk.toString('latin1', start, end));
  let value = 0;
  for (let i = first; i < end; i++) {
    const digit = chunk[i] - ZERO;
    if (digit < 0 || digit > 9) throw new Error(`unexpected integer in a COPY row from the events table: ${chunk.toString('latin1', start, end)}`);
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** A bigint column: through numberField when that is exact, else from its text. */
function bigintField(chunk: Buffer, start: number, end: number): bigint {
  return end - start <= 15 ? BigInt(numberField(chunk, start, end)) : BigInt(chunk.toString('latin1', start, end));
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
  get idempotencyToken(): string | undefined {
    return notRead('idempotencyToken');
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
