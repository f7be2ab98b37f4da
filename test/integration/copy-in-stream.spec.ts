/**
 * CopyInStream against a real PostgreSQL: one COPY across many writes (binary and text), a failure in
 * the middle surfacing at the next write, and writes held back while the server does not read.
 */
import type { Pool, PoolClient } from 'pg';
import { CopyInStream } from '../../services/finance/src/rollback/copy-in-stream';
import { BinaryCopyWriter } from '../../services/finance/src/rollback/pg-binary-copy';
import { createTestDatabase, TestDatabase } from '../support/database';

function binaryRows(from: number, count: number): Buffer {
  const w = new BinaryCopyWriter();
  for (let n = from; n < from + count; n++) w.row(2).int4(n).text(`row ${n}`);
  return w.rowBytes();
}

/** Whether `promise` settles before the event loop's next turn (a write that waits for a drain does not). */
async function settlesNow(promise: Promise<unknown>): Promise<boolean> {
  const turn = new Promise<false>((resolve) => setImmediate(() => resolve(false)));
  return Promise.race([promise.then(() => true), turn]);
}

describe('CopyInStream (one COPY across batches)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let client: PoolClient;

  beforeAll(async () => {
    db = await createTestDatabase('copy_stream');
    pool = db.pool();
    await pool.query('CREATE TABLE t (n int NOT NULL CHECK (n >= 0), label text)');
  });

  beforeEach(async () => {
    await pool.query('TRUNCATE t');
    client = await pool.connect();
  });

  afterEach(() => client.release(true));

  afterAll(async () => {
    await db.drop();
  });

  it('loads the rows of every write, binary or text, in one statement (FREEZE inside the transaction that emptied the table)', async () => {
    await client.query('BEGIN; TRUNCATE t');
    const binary = CopyInStream.open(client, 't', ['n', 'label'], { binary: true, freeze: true });
    for (let batch = 0; batch < 5; batch++) await binary.write(binaryRows(batch * 100, 100));
    expect(await binary.end()).toBe(500);
    const text = CopyInStream.open(client, 't', ['n', 'label'], { freeze: true });
    await text.write('500\tfive hundred\n501\t\\N\n');
    await text.write('');
    await text.write(Buffer.from('502\tlast\n'));
    expect(await text.end()).toBe(3);
    expect(await text.end()).toBe(3); // a second end() sends nothing more
    await expect(text.write('503\tlate\n')).rejects.toThrow(/COPY already ended/);
    await client.query('COMMIT');
    const { rows } = await pool.query<{ count: number; sum: string; nulls: number }>(
      `SELECT count(*)::int AS count, sum(n)::text AS sum, count(*) FILTER (WHERE label IS NULL)::int AS nulls FROM t`,
    );
    expect(rows[0]).toEqual({ count: 503, sum: String((502 * 503) / 2), nulls: 1 });
    expect((await pool.query(`SELECT label FROM t WHERE n IN (0, 499, 500) ORDER BY n`)).rows.map((r) => r.label)).toEqual(['row 0', 'row 499', 'five hundred']);
  });

  it('a row the server refuses fails the next write or the end, and the session stays usable', async () => {
    const stream = CopyInStream.open(client, 't', ['n', 'label'], { binary: true });
    await stream.write(binaryRows(0, 10));
    const bad = new BinaryCopyWriter();
    bad.row(2).int4(-1).text('breaks the CHECK');
    await stream.write(bad.rowBytes()).catch(() => undefined); // may already see the error, or not yet
    // The server answers the failed COPY at once: a round trip on this session later, the stream has failed.
    const failure = await stream.finished.then(() => null, (error: Error) => error);
    expect(failure?.message).toMatch(/violates check constraint/);
    await expect(stream.write(binaryRows(10, 1))).rejects.toThrow(/violates check constraint/);
    await expect(stream.end()).rejects.toThrow(/violates check constraint/);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
  });

  it('holds writes back while the server does not read (bounded memory), and finishes once it does', async () => {
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE'); // the COPY waits for the lock, reading nothing
      const stream = CopyInStream.open(client, 't', ['n', 'label'], { binary: true });
      const chunk = binaryRows(0, 20_000); // about 460 KB
      let written = 0;
      let held: Promise<void> | undefined;
      while (written < 400) {
        const write = stream.write(chunk);
        written++;
        if (!(await settlesNow(write))) {
          held = write;
          break;
        }
      }
      // Held back after the kernel's socket buffers and HIGH_WATER filled, long before 400 chunks (180 MB).
      expect(held).toBeDefined();
      expect(written).toBeLessThan(100);
      await blocker.query('COMMIT');
      await held;
      expect(await stream.end()).toBe(written * 20_000);
    } finally {
      blocker.release();
    }
  });
});
