import type { DataSource } from 'typeorm';
import { MIGRATIONS_TABLE } from './data-source.factory';

/** Arbitrary constant shared by every copy of this service: "finance-service migrations". */
export const MIGRATION_LOCK_KEY = 7_431_100_001;

export interface MigrationRunResult {
  applied: string[];
}

/**
 * Applies pending migrations once across the cluster. TypeORM takes no lock itself, so several
 * init containers starting together would race; a session advisory lock serialises them and the
 * late comers find nothing pending.
 * Each migration commits on its own (transaction "each"): a failing one changes nothing, the ones
 * before it stay applied, and the next run starts from it. In one transaction for all, the exclusive
 * lock a short migration takes on a hot table (1700000006000's ALTER of the daily balances) would last
 * until the last one's copy ended (1700000007000: seconds per million journal lines), and readers
 * would wait all that time on a database several migrations behind.
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<MigrationRunResult> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return { applied: applied.map((m) => m.name) };
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}

/** Runs one SQL statement and returns its rows (a DataSource, a pool or a dedicated session). */
export type RowsQuery = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** Names of the migrations this build knows, in the order they run (TypeORM's: the 13-digit timestamp ending each name). */
export function knownMigrationNames(dataSource: DataSource): string[] {
  const timestamp = (name: string) => Number(/(\d{13})$/.exec(name)?.[1] ?? 0);
  // The file glob lists them in directory order, which is not the order they run in.
  return dataSource.migrations.map((m) => m.name ?? m.constructor.name).sort((a, b) => timestamp(a) - timestamp(b));
}

/** Names of migrations this build knows but the database has not applied. */
export async function pendingMigrationNames(known: readonly string[], query: RowsQuery): Promise<string[]> {
  const exists = await query(`SELECT to_regclass($1) AS t`, [MIGRATIONS_TABLE]);
  if (!exists[0]?.t) return [...known];
  const rows = await query(`SELECT name FROM "${MIGRATIONS_TABLE}"`);
  const applied = new Set(rows.map((r) => r.name));
  return known.filter((name) => !applied.has(name));
}
