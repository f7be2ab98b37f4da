/**
 * `npm run bench:append`: appends/s of the PostgreSQL event store with 1 and 16 concurrent writers.
 * Each append is one event to the writer's own stream with an exact expected version.
 *
 * PostgreSQL: as bench-postgres.ts chooses (TEST_DATABASE_URL, DATABASE_HOST, else a fresh embedded one).
 * Runs in a throw-away database `finance_bench_<random>`.
 * BENCH_SECONDS (default 3) sets the measured time per run.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { NewEvent } from '../services/finance/src/event-store/event-store';
import { PostgresEventStore } from '../services/finance/src/event-store/postgres-event-store';
import { migrateBenchDatabase, openBenchServer, withAdmin } from './bench-postgres';

const WRITER_COUNTS = [1, 16];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 500;


function newEvent(i: number): NewEvent {
  return {
    id: randomUUID(),
    type: 'JournalEntryPosted',
    data: { journalEntryId: randomUUID(), date: '2026-11-20', memo: `bench ${i}`, currency: 'BDT', lines: [{ accountCode: '1000', debitMinor: '632500', creditMinor: '0' }] },
    metadata: { tenantId: 'bench', userId: 'bench', correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
  };
}

interface RunResult {
  appends: number;
  seconds: number;
  latenciesMs: number[];
}

/** `writers` loops, each appending to its own stream with the exact expected version, until the deadline. */
async function run(store: PostgresEventStore, writers: number, runId: string, ms: number): Promise<RunResult> {
  const latenciesMs: number[] = [];
  const started = process.hrtime.bigint();
  const deadline = Date.now() + ms;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const stream = `bench-${runId}-w${w}`;
      let expected: number | 'no_stream' = 'no_stream';
      for (let i = 0; Date.now() < deadline; i++) {
        const t0 = process.hrtime.bigint();
        expected = (await store.append(stream, [newEvent(i)], expected)).nextExpectedVersion;
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  return { appends: latenciesMs.length, seconds: Number(process.hrtime.bigint() - started) / 1e9, latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const server = await openBenchServer();
  const database = `finance_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin(server, (c) => c.query(`CREATE DATABASE ${database}`));
  try {
    await migrateBenchDatabase(server, database);
    const version = await withAdmin(server, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v);
    process.stdout.write(`bench:append: PostgreSQL ${version}, ${server.describe}, database ${database}, ${SECONDS} s per run\n`);
    for (const writers of WRITER_COUNTS) {
      const pool = new Pool({ ...server.connection, database, max: writers + 1 });
      // pool.end() resolves before every socket has closed; the final DROP ... WITH (FORCE) may cut one.
      pool.on('error', () => undefined);
      const store = new PostgresEventStore(pool);
      try {
        await run(store, writers, `warmup${writers}`, WARMUP_MS);
        const result = await run(store, writers, `run${writers}`, SECONDS * 1000);
        const sorted = [...result.latenciesMs].sort((a, b) => a - b);
        const rate = Math.round(result.appends / result.seconds);
        process.stdout.write(
          `${String(writers).padStart(2)} writer${writers === 1 ? ' ' : 's'}: ${String(rate).padStart(6)} appends/s ` +
            `(${result.appends} appends in ${result.seconds.toFixed(1)} s; latency p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms)\n`,
        );
      } finally {
        await pool.end();
      }
    }
  } finally {
    await withAdmin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:append failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
