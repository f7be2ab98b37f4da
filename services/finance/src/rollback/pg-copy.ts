import type { ClientBase } from 'pg';

/**
 * `COPY <table> (<columns>) FROM STDIN` through node-postgres without an extra dependency: a minimal
 * "submittable" (the hook pg-copy-streams uses) that sends the prepared rows as CopyData once the
 * server enters copy-in mode. One call copies one batch; the payload is bounded by the caller's batch.
 *
 * A string payload is text format (columns separated by tabs, rows by newlines, NULL as \N; see
 * copyText()); a Buffer is binary format, as BinaryCopyWriter (pg-binary-copy.ts) writes it.
 *
 * `freeze` loads the rows already frozen (COPY ... FREEZE): only allowed when the table was created or
 * truncated in the session's current transaction.
 */
export function copyFrom(client: ClientBase, table: string, columns: readonly string[], payload: string | Buffer, options: { freeze?: boolean } = {}): Promise<number> {
  if (payload.length === 0) return Promise.resolve(0);
  const binary = typeof payload !== 'string';
  const copyOptions = [...(binary ? ['FORMAT binary'] : []), ...(options.freeze ? ['FREEZE'] : [])];
  const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN${copyOptions.length ? ` (${copyOptions.join(', ')})` : ''}`;
  return new Promise<number>((resolve, reject) => {
    const query = new CopyFromQuery(sql, binary ? payload : Buffer.from(payload, 'utf8'), (error, rows) => (error ? reject(error) : resolve(rows)));
    (client as unknown as { query(submittable: unknown): void }).query(query);
  });
}

interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** Rows per CopyData message: the protocol allows up to 1 GB; 1 MB chunks keep the socket busy without huge buffers. */
const CHUNK_BYTES = 1 << 20;

class CopyFromQuery {
  private rowCount = 0;
  private settled = false;

  constructor(
    readonly text: string,
    private readonly payload: Buffer,
    private readonly done: (error: Error | null, rows: number) => void,
  ) {}

  /**
   * Called by pg when the query reaches the head of the client's queue. The data follows the Query
   * at once instead of after the server's CopyInResponse: no round trip, and the server can load
   * while Node works on the next batch. (Should the COPY statement itself fail, the server ignores
   * the CopyData/CopyDone that follow, as the protocol specifies.)
   */
  submit(connection: PgConnection): void {
    connection.query(this.text);
    for (let offset = 0; offset < this.payload.length; offset += CHUNK_BYTES) {
      connection.sendCopyFromChunk(this.payload.subarray(offset, offset + CHUNK_BYTES));
    }
    connection.endCopyFrom();
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)/.exec(message.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {
    this.settle(null);
  }

  handleError(error: Error): void {
    this.settle(error);
  }

  // Messages a COPY FROM never produces; pg may still call these hooks.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private settle(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.done(error, this.rowCount);
  }
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A text value as a COPY text-format field (backslash, tab, newline and CR escaped). */
export function copyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
