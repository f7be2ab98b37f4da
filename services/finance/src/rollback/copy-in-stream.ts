import type { ClientBase } from 'pg';
import { BINARY_COPY_FRAMING } from './pg-binary-copy';

/**
 * ONE `COPY <table> (<columns>) FROM STDIN` kept open across many batches: each write() sends a
 * batch's rows as CopyData, end() sends CopyDone. A rebuild loads each shadow table this way instead
 * of one COPY per batch, which saves the server a statement per table per batch (start-up, bulk-insert
 * state, flush: measured 0.2 ms of server CPU per COPY here, thousands of them per rollback), and Node
 * never waits for a batch's COPY to finish before sending the next.
 *
 * Memory stays bounded by the socket: when more than HIGH_WATER bytes wait in Node's write buffer,
 * write() resolves only once it drains (TCP backpressure from the server does the rest).
 *
 * A binary stream sends the COPY header before the first rows and the trailer before CopyDone, so
 * each write() takes bare rows (BinaryCopyWriter.rowBytes()).
 *
 * Should the server fail the COPY, it answers at once and drops whatever follows; the next write()
 * or end() rejects with its error. The session stays usable (the caller rolls back or ends it).
 */
export class CopyInStream {
  private connection: PgConnection | undefined;
  private submitted!: () => void;
  private readonly whenSubmitted = new Promise<void>((resolve) => (this.submitted = resolve));
  private failure: Error | undefined;
  private settled = false;
  private ending = false;
  private rowCount = 0;
  private wakeWriter: (() => void) | undefined;
  private settle!: (error: Error | null) => void;
  /** Resolves with the rows copied once the server has finished the COPY; rejects with its error. */
  readonly finished: Promise<number>;

  private constructor(
    readonly text: string,
    private readonly binary: boolean,
  ) {
    this.finished = new Promise<number>((resolve, reject) => {
      this.settle = (error) => (error ? reject(error) : resolve(this.rowCount));
    });
    this.finished.catch(() => undefined); // observed through write(), end() or the caller's await
  }

  /**
   * Queues the COPY on the client (it starts when the client's earlier queries have finished).
   * `binary`: PostgreSQL's binary COPY format (rows as BinaryCopyWriter writes them); else text format.
   */
  static open(
    client: ClientBase,
    table: string,
    columns: readonly string[],
    options: { binary?: boolean; freeze?: boolean } = {},
  ): CopyInStream {
    const copyOptions = [...(options.binary ? ['FORMAT binary'] : []), ...(options.freeze ? ['FREEZE'] : [])];
    const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN${copyOptions.length ? ` (${copyOptions.join(', ')})` : ''}`;
    const stream = new CopyInStream(sql, options.binary === true);
    (client as unknown as { query(submittable: unknown): void }).query(stream);
    return stream;
  }

  /** Sends rows; resolves when there is room for more. Rejects once the COPY has failed. */
  async write(rows: Buffer | string): Promise<void> {
    if (!this.connection) await this.whenSubmitted;
    this.throwIfFailed();
    if (rows.length === 0) return;
    const connection = this.connection!;
    sendCopyData(connection, typeof rows === 'string' ? Buffer.from(rows, 'utf8') : rows);
    if (connection.stream.writableLength > HIGH_WATER) await this.drained(connection);
    this.throwIfFailed();
  }

  /** Ends the COPY; resolves with the rows copied. Calling it again only waits for the same result. */
  async end(): Promise<number> {
    if (!this.connection) await this.whenSubmitted;
    if (!this.failure && !this.ending) {
      this.ending = true;
      if (this.binary) sendCopyData(this.connection!, BINARY_COPY_FRAMING.trailer);
      this.connection!.endCopyFrom();
    }
    return this.finished;
  }

  // The node-postgres "submittable" hooks (as pg-copy-streams uses them).

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
    // Rows follow the Query at once, without waiting for CopyInResponse (a failed COPY statement makes
    // the server drop them, as the protocol specifies).
    if (this.binary) sendCopyData(connection, BINARY_COPY_FRAMING.header);
    this.submitted();
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)/.exec(message.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  handleError(error: Error): void {
    this.failure ??= error;
    this.finish(error);
    this.submitted(); // a query that fails before it starts (the session ended) must not leave writers waiting
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private finish(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(error);
    this.wakeWriter?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
    if (this.settled || this.ending) throw new Error(`COPY already ended: ${this.text}`);
  }

  private drained(connection: PgConnection): Promise<void> {
    return new Promise<void>((resolve) => {
      const socket = connection.stream;
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        this.wakeWriter = undefined;
        resolve();
      };
      this.wakeWriter = done;
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}

/**
 * One CopyData message: its 5-byte header and the rows as they are, in one writev. (node-postgres's
 * sendCopyFromChunk copies every chunk into its message buffer first: hundreds of MB per rollback.)
 */
function sendCopyData(connection: PgConnection, rows: Buffer): void {
  const header = Buffer.allocUnsafe(5);
  header[0] = COPY_DATA;
  header.writeInt32BE(4 + rows.length, 1);
  const socket = connection.stream;
  socket.cork();
  socket.write(header);
  socket.write(rows);
  socket.uncork();
}

/** The CopyData message type ('d'). */
const COPY_DATA = 0x64;

/** Bytes waiting in Node's socket buffer above which write() waits for it to drain. */
const HIGH_WATER = 1 << 20;

interface PgConnection {
  query(text: string): void;
  endCopyFrom(): void;
  stream: {
    writableLength: number;
    cork(): void;
    uncork(): void;
    write(chunk: Buffer): boolean;
    on(event: 'drain' | 'close', listener: () => void): unknown;
    off(event: 'drain' | 'close', listener: () => void): unknown;
  };
}
