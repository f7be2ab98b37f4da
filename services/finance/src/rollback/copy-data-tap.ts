/**
 * Reads the rows of a COPY ... TO STDOUT straight off the session's socket. node-postgres's parser
 * would make a Buffer slice and a message object for every row and pass it through two event
 * dispatches; for the millions of rows of a rebuild that was about 5% of the replay's Node CPU.
 *
 * From the moment the COPY is sent, the tap holds the socket's 'data' events and handles CopyOutResponse
 * and CopyData frames itself. At the first message of any other kind (CopyDone, an error, a notice) it
 * gives the socket back to the parser, starting with that message's bytes, and the parser handles the
 * rest as usual (a CopyData after a notice then reaches the query's handleCopyData). It relies on the
 * parser holding no partial message when the COPY is sent, which holds on a session that has just
 * received ReadyForQuery: the server sends the COPY's answer only after it has read the query.
 */

/** The socket as node-postgres exposes it (connection.stream). */
export interface TappableStream {
  listeners(event: 'data'): Function[];
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: Function): unknown;
}

/** Called with each row's bytes: `buffer` from `start` (inclusive) to `end` (exclusive); valid only during the call. */
export type RowHandler = (buffer: Buffer, start: number, end: number) => void;

const COPY_DATA = 0x64; // 'd'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const HEADER = 5; // type byte, int32 length (which counts itself)

export function tapCopyData(stream: TappableStream, onRow: RowHandler): void {
  const parserListeners = stream.listeners('data');
  /** A frame split between two reads: its first bytes. */
  let partial: Buffer | undefined;

  const giveBack = (rest: Buffer) => {
    stream.off('data', onData);
    for (const listener of parserListeners) stream.on('data', listener as (chunk: Buffer) => void);
    if (rest.length > 0) for (const listener of parserListeners) listener(rest);
  };

  /**
   * Handles the frames of `buffer` from `at`; returns where an unfinished frame starts, or -1 once
   * given back. A message of another kind is given back as soon as its type byte is seen, so an
   * unfinished frame is always CopyData or CopyOutResponse.
   */
  const frames = (buffer: Buffer, at: number): number => {
    while (at < buffer.length) {
      const type = buffer[at];
      if (type !== COPY_DATA && type !== COPY_OUT_RESPONSE) {
        giveBack(buffer.subarray(at));
        return -1;
      }
      if (buffer.length - at < HEADER) break;
      const next = at + 1 + buffer.readInt32BE(at + 1);
      if (next > buffer.length) break;
      if (type === COPY_DATA) onRow(buffer, at + HEADER, next);
      at = next;
    }
    return at;
  };

  function onData(chunk: Buffer): void {
    let from = 0;
    // Complete a frame split between reads with small copies (its header first, then its body), then
    // go on in the chunk itself.
    while (partial !== undefined) {
      const total = partial.length < HEADER ? HEADER : 1 + partial.readInt32BE(1);
      if (partial.length < total) {
        const take = Math.min(total - partial.length, chunk.length - from);
        if (take === 0) return;
        partial = Buffer.concat([partial, chunk.subarray(from, from + take)]);
        from += take;
        continue;
      }
      const frame = partial;
      partial = undefined;
      if (frames(frame, 0) === -1) return;
    }
    const at = frames(chunk, from);
    if (at === -1) return;
    if (at < chunk.length) partial = Buffer.from(chunk.subarray(at)); // a copy: a slice would keep the whole chunk alive
  }

  stream.on('data', onData);
  for (const listener of parserListeners) stream.off('data', listener);
}
