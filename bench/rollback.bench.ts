/**
 * `npm run bench:rollback`: a projection rollback of a large PostgreSQL event store, end to end.
 *
 * 1. Seeds 1,000,000 realistic events in SQL (BENCH_INVOICES / BENCH_JOURNAL_ENTRIES change the size).
 * 2. Fills the live read model (a first rollback to the head: a full rebuild through the same path),
 *    then settles the database as a production one would be before an incident: VACUUM ANALYZE and a
 *    CHECKPOINT, so the timed run does not compete with the autovacuum of the 3 million rows just loaded.
 * 3. Times a rollback to a position near the head (pause, replay, index, verify, swap, resume), the
 *    way an operator runs it: ProjectionRollbackService, the same code behind the admin API.
 * 4. Runs the same rollback the seed's way (one awaited statement per event, one transaction): the
 *    same events, up to the same target. BENCH_SEED_WAY_EVENTS stops it after that many events, for a
 *    quicker, rougher run (it then starts on small tables and flatters the seed's way).
 * Peak RSS is the process's lifetime maximum (getrusage), so it covers everything above. The timed
 * rollback's phases are printed too (wall time, Node CPU and, for the embedded server, PostgreSQL CPU).
 *
 * The last line reads: `rollback <X> events/s, peak RSS <M> MB, seed way <Y> events/s, <R>x`.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Pool } from 'pg';
import { PostgresEventStore } from '../services/finance/src/event-store/postgres-event-store';
import { FinanceMetrics } from '../services/finance/src/metrics/metrics-registry';
import { LIVE_TABLES } from '../services/finance/src/projections/read-model-rows';
import { ProjectionRollbackService } from '../services/finance/src/rollback/projection-rollback.service';
import { rollbackTuningFromEnv } from '../services/finance/src/rollback/rollback-tuning';
import { cpuDescription } from './cpu-description';
import { migrateBenchDatabase, openBenchServer, withAdmin } from './bench-postgres';
import { PhaseClock } from './phase-clock';
import { eventCount, MILLION_EVENTS, seedEvents, SeedPlan } from './seed-events';
import { seedWay } from './seed-way';

const plan: SeedPlan = {
  invoices: Number(process.env.BENCH_INVOICES ?? MILLION_EVENTS.invoices),
  journalEntries: Number(process.env.BENCH_JOURNAL_ENTRIES ?? MILLION_EVENTS.journalEntries),
  tenants: MILLION_EVENTS.tenants,
};
const SEED_WAY_EVENTS = process.env.BENCH_SEED_WAY_EVENTS ? Number(process.env.BENCH_SEED_WAY_EVENTS) : undefined;
/** The timed rollback's target: this many events before the head. */
const BEHIND_HEAD = 1000;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}


async function rollback(service: ProjectionRollbackService, target: bigint, label: string) {
  (globalThis as { gc?: () => void }).gc?.();
  const started = process.hrtime.bigint();
  const { operationId } = await service.requestRollback({ targetVersion: target.toString(), requestedBy: 'bench', tenantId: 'bench' });
  await service.whenIdle();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const op = await service.getOperation(operationId);
  if (!op || op.status !== 'succeeded') throw new Error(`${label} rollback did not succeed: ${op?.error ?? 'unknown operation'}`);
  const rate = op.eventsReplayed / seconds;
  out(
    `${label}: ${op.eventsReplayed} events to position ${target} in ${seconds.toFixed(2)} s = ${Math.round(rate)} events/s ` +
      `(invoices ${op.counts.invoices}, payments ${op.counts.payments}, journal entries ${op.counts.journalEntries}, lines ${op.counts.journalLines}, ` +
      `invoices re-read ${op.counts.invoicesReloaded}; peak RSS so far ${Math.round(peakRssMb())} MB)`,
  );
  return { rate, seconds, events: op.eventsReplayed };
}

async function main(): Promise<void> {
  const server = await openBenchServer();
  const database = `finance_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin(server, (c) => c.query(`CREATE DATABASE ${database}`));
  const pool = new Pool({ ...server.connection, database, max: 10 });
  pool.on('error', () => undefined);
  try {
    await migrateBenchDatabase(server, database);
    const version = await withAdmin(server, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v);
    out(`bench:rollback: Node ${process.version}, ${cpuDescription()}, PostgreSQL ${version}, ${server.describe}`);

    const seedStarted = Date.now();
    const seedClient = await pool.connect();
    let seeded: number;
    try {
      seeded = await seedEvents(seedClient, plan);
    } finally {
      seedClient.release(true);
    }
    if (seeded !== eventCount(plan)) throw new Error(`seeded ${seeded} events, expected ${eventCount(plan)}`);
    out(`seeded ${seeded} events (${plan.invoices} invoices with 3 lines, approved, paid in 1-2 instalments; ${plan.journalEntries} journal entries) in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

    const store = new PostgresEventStore(pool);
    const metrics = new FinanceMetrics('bench', 'bench');
    const forwardLevel = pino.levels.values[process.env.BENCH_LOG_LEVEL ?? 'warn'] ?? pino.levels.values.warn;
    const phases = new PhaseClock(server.postmasterPidFile, forwardLevel);
    const logger = pino({ level: 'info' }, phases);
    const tuning = rollbackTuningFromEnv();
    const service = new ProjectionRollbackService({ pool, eventStore: store, logger, metrics, tuning });
    out(`tuning: batch ${tuning.batchSize} events, invoice working set ${tuning.invoiceCacheSize} rows, ${tuning.journalLineLanes} journal line writer(s)`);

    const head = await store.headPosition();
    await rollback(service, head, 'fill the live read model (rollback to the head)');
    const settleStarted = Date.now();
    await pool.query(`VACUUM ANALYZE events, ${Object.values(LIVE_TABLES).join(', ')}`);
    await pool.query('CHECKPOINT').catch((error: Error) => out(`CHECKPOINT skipped: ${error.message}`)); // needs superuser or pg_checkpoint
    out(`settled (VACUUM ANALYZE, CHECKPOINT) in ${((Date.now() - settleStarted) / 1000).toFixed(1)} s`);
    const timed = await rollback(service, head - BigInt(BEHIND_HEAD), `timed rollback (${BEHIND_HEAD} events before the head)`);
    out(`phases: ${phases.report()}`);
    const verify = await service.verify();
    if (!verify.ok) throw new Error(`the rolled-back read model fails verification: ${JSON.stringify(verify.checks.filter((c) => !c.ok))}`);
    out(`verify: ok (${verify.checks.map((c) => c.name).join(', ')}) in ${verify.durationMs} ms`);

    const seed = await seedWay(pool, { toInclusive: head - BigInt(BEHIND_HEAD), limit: SEED_WAY_EVENTS });
    out(`seed way: ${seed.events} events, one awaited statement each in one transaction, in ${seed.seconds.toFixed(2)} s = ${Math.round(seed.eventsPerSecond)} events/s`);

    const peak = Math.round(peakRssMb());
    const ratio = timed.rate / seed.eventsPerSecond;
    out(`rollback ${Math.round(timed.rate)} events/s, peak RSS ${peak} MB, seed way ${Math.round(seed.eventsPerSecond)} events/s, ${ratio.toFixed(1)}x`);
  } finally {
    await pool.end().catch(() => undefined);
    await withAdmin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:rollback failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
