import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The trial balance reads daily account balances instead of every journal line:
 * `account_daily_balance_read_model` holds the debits and credits per tenant, entry date and account.
 * - A trial balance reads at most (days x accounts) rows of the tenant, whatever the number of lines.
 * - Every projection rollback rebuilt the lines' trial-balance index, the largest build of the rollback
 *   (3.8 s of one core for 1.8M lines here); summing the lines into this table takes about 0.3 s.
 *   That index is dropped: the lines keep their primary key (an entry's lines).
 *
 * The table is derived from the lines by PostgreSQL itself: a statement trigger adds each INSERT's
 * new lines (its transition table) to the balances, in the same transaction. So every writer keeps it
 * current, including pods of the previous version projecting during a rolling deploy. Lines are
 * insert-only; `ON CONFLICT DO NOTHING` re-deliveries are not in the transition table, so they add
 * nothing. A rollback rebuilds the table from the rebuilt lines and puts the trigger on them.
 *
 * Like 1700000004000, this first waits for a running rollback (its advisory lock), then locks the lines
 * so that no insert falls between the backfill and the trigger.
 *
 * The balances are `numeric` from the start (they were `bigint` until 1700000006000 showed a day's sum
 * can outgrow one): created `bigint`, the first fill failed on a database whose lines already summed
 * past it, and the upgrade could never get to 1700000006000. Databases that ran this as it was get
 * `numeric` from 1700000006000; either way the schema ends the same.
 */
export class AccountDailyBalances1700000005000 implements MigrationInterface {
  name = 'AccountDailyBalances1700000005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    await queryRunner.query('LOCK TABLE journal_entry_line_read_model IN SHARE ROW EXCLUSIVE MODE');
    await queryRunner.query(`
      CREATE TABLE account_daily_balance_read_model (
        tenant_id    text   NOT NULL,
        entry_date   date   NOT NULL,
        account_code text   NOT NULL,
        debit_minor  numeric NOT NULL,
        credit_minor numeric NOT NULL,
        PRIMARY KEY (tenant_id, entry_date, account_code)
      )`);
    await queryRunner.query(`
      INSERT INTO account_daily_balance_read_model (tenant_id, entry_date, account_code, debit_minor, credit_minor)
      SELECT tenant_id, entry_date, account_code, sum(debit_minor), sum(credit_minor)
        FROM journal_entry_line_read_model GROUP BY tenant_id, entry_date, account_code`);
    await queryRunner.query(`
      CREATE FUNCTION account_daily_balance_add_lines() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO account_daily_balance_read_model AS b (tenant_id, entry_date, account_code, debit_minor, credit_minor)
        SELECT tenant_id, entry_date, account_code, sum(debit_minor), sum(credit_minor)
          FROM new_lines GROUP BY tenant_id, entry_date, account_code
        ON CONFLICT (tenant_id, entry_date, account_code)
          DO UPDATE SET debit_minor = b.debit_minor + EXCLUDED.debit_minor, credit_minor = b.credit_minor + EXCLUDED.credit_minor;
        RETURN NULL;
      END
      $fn$`);
    await queryRunner.query(`
      CREATE TRIGGER account_daily_balance_add_lines AFTER INSERT ON journal_entry_line_read_model
        REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION account_daily_balance_add_lines()`);
    await queryRunner.query('DROP INDEX IF EXISTS journal_entry_line_read_model_tenant_date_idx');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    await queryRunner.query('DROP TRIGGER IF EXISTS account_daily_balance_add_lines ON journal_entry_line_read_model');
    await queryRunner.query('DROP FUNCTION IF EXISTS account_daily_balance_add_lines()');
    await queryRunner.query('DROP TABLE IF EXISTS account_daily_balance_read_model');
    await queryRunner.query(
      'CREATE INDEX journal_entry_line_read_model_tenant_date_idx ON journal_entry_line_read_model (tenant_id, entry_date) INCLUDE (account_code, debit_minor, credit_minor)',
    );
  }
}

/** The projection rollback's advisory lock key (a migration keeps its own copy: it must not change with the code). */
const ROLLBACK_LOCK_KEY = '8245928655501484907';
