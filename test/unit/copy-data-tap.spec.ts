import { EventEmitter } from 'node:events';
import { tapCopyData } from '../../services/finance/src/rollback/copy-data-tap';

function frame(type: string, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** A socket stand-in: emits the given bytes in pieces, to whichever 'data' listeners are attached. */
class FakeSocket extends EventEmitter {
  feed(bytes: Buffer, pieces: number[]): void {
    let at = 0;
    for (const size of pieces) {
      this.emit('data', bytes.subarray(at, at + size));
      at += size;
    }
    if (at < bytes.length) this.emit('data', bytes.subarray(at));
  }
}

const ROWS = ['1\tinvoice-a\t0\n', '2\tjournal-b\t0\n', '', '3\t' + 'ü'.repeat(40) + '\n'];
const STREAM = Buffer.concat([
  frame('H', '\0\0\0'), // CopyOutResponse (its body does not matter to the tap)
  ...ROWS.map((row) => frame('d', row)),
  frame('c', ''), // CopyDone: handed back
  frame('C', 'COPY 4\0'),
  frame('Z', 'I'),
]);
const HANDED_BACK = STREAM.subarray(STREAM.indexOf(frame('c', '')));

function run(pieces: number[]): { rows: string[]; parser: Buffer; listeners: number } {
  const socket = new FakeSocket();
  const parserSaw: Buffer[] = [];
  const parser = (chunk: Buffer) => parserSaw.push(Buffer.from(chunk));
  socket.on('data', parser);
  const rows: string[] = [];
  tapCopyData(socket, (buffer, start, end) => rows.push(buffer.toString('utf8', start, end)));
  socket.feed(STREAM, pieces);
  return { rows, parser: Buffer.concat(parserSaw), listeners: socket.listeners('data').length };
}

describe('tapCopyData (COPY rows read off the socket)', () => {
  it('delivers every row and hands the parser exactly the bytes from the first other message, in one read', () => {
    const { rows, parser, listeners } = run([STREAM.length]);
    expect(rows).toEqual(ROWS);
    expect(parser.equals(HANDED_BACK)).toBe(true);
    expect(listeners).toBe(1);
  });

  it('does the same whatever the reads split: at every byte, and in reads of every size', () => {
    for (let split = 1; split < STREAM.length; split++) {
      const once = run([split]);
      expect({ split, rows: once.rows, parser: once.parser.toString('latin1') }).toEqual({ split, rows: ROWS, parser: HANDED_BACK.toString('latin1') });
      const even = run(Array.from({ length: Math.ceil(STREAM.length / split) }, () => split));
      expect({ split, rows: even.rows, parser: even.parser.toString('latin1') }).toEqual({ split, rows: ROWS, parser: HANDED_BACK.toString('latin1') });
    }
  });

  it('hands an error that comes first straight to the parser', () => {
    const socket = new FakeSocket();
    const parserSaw: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => parserSaw.push(chunk));
    const rows: string[] = [];
    tapCopyData(socket, (buffer, start, end) => rows.push(buffer.toString('utf8', start, end)));
    const error = Buffer.concat([frame('E', 'SERROR\0'), frame('Z', 'I')]);
    socket.feed(error, [3]);
    expect(rows).toEqual([]);
    expect(Buffer.concat(parserSaw).equals(error)).toBe(true);
  });
});
