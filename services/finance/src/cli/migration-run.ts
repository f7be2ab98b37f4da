/**
 * `npm run migration:run`: the init step. Applies pending migrations from the compiled build,
 * exactly once even when several pods' init containers run it together, and exits 0;
 * a failing migration is rolled back (those before it stay applied) and exits 1.
 */
import 'reflect-metadata';
import { ConfigError, loadConfig } from '../config/app-config';
import { openDatabase } from '../database/infrastructure';
import { knownMigrationNames, pendingMigrationNames, runMigrationsExclusively } from '../database/migration-runner';
import { createRootLogger } from '../logging/root-logger';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`finance-service migration: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const logger = createRootLogger(config.logLevel, { component: 'migration' });
  const { dataSource, embedded } = await openDatabase(config, 'finance-service-migration');
  try {
    const { applied } = await runMigrationsExclusively(dataSource);
    logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'schema is up to date');
    return 0;
  } catch (error) {
    // TypeORM does not say which migration failed: the first one still pending is it.
    const pending = await pendingMigrationNames(knownMigrationNames(dataSource), (sql, params) => dataSource.query(sql, params)).catch(() => undefined);
    logger.error(
      { err: error, pending },
      pending?.length
        ? `migration failed at ${pending[0]}, which was rolled back; the migrations before it stay applied`
        : 'migration failed; the migration that failed was rolled back, those before it stay applied',
    );
    return 1;
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`finance-service migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
