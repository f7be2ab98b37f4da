import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The daily account balances become `numeric`: a balance sums every line of a tenant's day on an
 * account, and nothing bounds how many lines that is. Each amount fits a bigint with room to spare
 * (at most 999999999999999.99), but 93 such lines on one day and account did not: the trigger's
 * addition failed with "bigint out of range", and with it every retry of the projection's batch, for
 * every tenant. `numeric` holds any sum exactly; the lines and every other amount stay bigint.
 *
 * The trigger function and a rollback's rebuild need no change: both add with `sum()`, which already
 * yields numeric, and a rebuild's shadow table is created LIKE the live one. Like 1700000004000, this
 * first waits for a running rollback (its advisory lock), which would otherwise swap the old table back.
 */
export class DailyBalancesNumeric1700000006000 implements MigrationInterface {
  name = 'DailyBalancesNumeric1700000006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    await queryRunner.query(
      'ALTER TABLE account_daily_balance_read_model ALTER COLUMN debit_minor TYPE numeric, ALTER COLUMN credit_minor TYPE numeric',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    // Fails, changing nothing, if a balance has grown beyond a bigint since.
    await queryRunner.query(
      'ALTER TABLE account_daily_balance_read_model ALTER COLUMN debit_minor TYPE bigint, ALTER COLUMN credit_minor TYPE bigint',
    );
  }
}

/** The projection rollback's advisory lock key (a migration keeps its own copy: it must not change with the code). */
const ROLLBACK_LOCK_KEY = '8245928655501484907';
