import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The trial balance is kept per currency: journal lines and daily account balances get a `currency`
 * (their entry's). Before, a tenant's BDT and USD amounts on an account were added together, and the
 * trial balance still said "balanced" (each entry is balanced in its own currency).
 *
 * Both tables are built anew beside the live ones and swapped in, as a rollback does, rather than
 * altered in place: an ALTER TABLE holds an exclusive lock to the end of the transaction, so every read
 * of journal entries and of the trial balance would wait for the whole backfill (an UPDATE of 1.8M
 * lines took 17 s here; this whole migration 5.1 s). Meanwhile reads go on; inserts into the lines wait.
 * - A line without an entry (none is ever written) gets 'XXX', ISO 4217's "no currency".
 * - Pods of the previous version keep projecting during a rolling deploy and insert lines without a
 *   currency: a row trigger gives them their entry's (their batch inserts the entry first). Its WHEN
 *   clause keeps it from running for lines that name their currency.
 * - The lines' statement trigger now adds to the daily balances per currency.
 * - A rollback by a pod of the previous version after this fails, changing nothing: its shadow tables
 *   are created LIKE these (currency NOT NULL) and it writes no currency.
 *
 * Like 1700000004000, this first waits for a running rollback (its advisory lock).
 */
export class BalancesByCurrency1700000007000 implements MigrationInterface {
  name = 'BalancesByCurrency1700000007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    await queryRunner.query(`LOCK TABLE ${LINES} IN SHARE ROW EXCLUSIVE MODE`);
    await queryRunner.query(`CREATE TABLE ${NEW_LINES} (LIKE ${LINES} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)`);
    await queryRunner.query(`ALTER TABLE ${NEW_LINES} ADD COLUMN currency text NOT NULL`);
    await queryRunner.query(`
      INSERT INTO ${NEW_LINES} SELECT l.*, coalesce(e.currency, 'XXX')
        FROM ${LINES} l LEFT JOIN journal_entry_read_model e ON e.id = l.journal_entry_id`);
    await queryRunner.query(`ALTER TABLE ${NEW_LINES} ADD CONSTRAINT ${NEW_LINES}_pkey PRIMARY KEY (journal_entry_id, line_no)`);
    await queryRunner.query(`
      CREATE TABLE ${NEW_DAILY} (
        tenant_id    text    NOT NULL,
        entry_date   date    NOT NULL,
        account_code text    NOT NULL,
        currency     text    NOT NULL,
        debit_minor  numeric NOT NULL,
        credit_minor numeric NOT NULL
      )`);
    await queryRunner.query(`
      INSERT INTO ${NEW_DAILY} (tenant_id, entry_date, account_code, currency, debit_minor, credit_minor)
      SELECT tenant_id, entry_date, account_code, currency, sum(debit_minor), sum(credit_minor)
        FROM ${NEW_LINES} GROUP BY tenant_id, entry_date, account_code, currency`);
    await queryRunner.query(`ALTER TABLE ${NEW_DAILY} ADD CONSTRAINT ${NEW_DAILY}_pkey PRIMARY KEY (tenant_id, entry_date, account_code, currency)`);

    // The swap: the old tables (and their triggers) go, the new ones take their names.
    await queryRunner.query(`LOCK TABLE ${LINES}, ${DAILY} IN ACCESS EXCLUSIVE MODE`);
    await queryRunner.query(`DROP TABLE ${LINES}, ${DAILY}`);
    await queryRunner.query(`ALTER TABLE ${NEW_LINES} RENAME TO ${LINES}`);
    await queryRunner.query(`ALTER INDEX ${NEW_LINES}_pkey RENAME TO ${LINES}_pkey`);
    await queryRunner.query(`ALTER TABLE ${NEW_DAILY} RENAME TO ${DAILY}`);
    await queryRunner.query(`ALTER INDEX ${NEW_DAILY}_pkey RENAME TO ${DAILY}_pkey`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION account_daily_balance_add_lines() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO account_daily_balance_read_model AS b (tenant_id, entry_date, account_code, currency, debit_minor, credit_minor)
        SELECT tenant_id, entry_date, account_code, currency, sum(debit_minor), sum(credit_minor)
          FROM new_lines GROUP BY tenant_id, entry_date, account_code, currency
        ON CONFLICT (tenant_id, entry_date, account_code, currency)
          DO UPDATE SET debit_minor = b.debit_minor + EXCLUDED.debit_minor, credit_minor = b.credit_minor + EXCLUDED.credit_minor;
        RETURN NULL;
      END
      $fn$`);
    await queryRunner.query(`
      CREATE FUNCTION journal_line_currency_from_entry() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        NEW.currency := coalesce((SELECT e.currency FROM journal_entry_read_model e WHERE e.id = NEW.journal_entry_id), 'XXX');
        RETURN NEW;
      END
      $fn$`);
    await queryRunner.query(`
      CREATE TRIGGER journal_line_currency_from_entry BEFORE INSERT ON ${LINES}
        FOR EACH ROW WHEN (NEW.currency IS NULL) EXECUTE FUNCTION journal_line_currency_from_entry()`);
    await queryRunner.query(`
      CREATE TRIGGER account_daily_balance_add_lines AFTER INSERT ON ${LINES}
        REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION account_daily_balance_add_lines()`);
    await queryRunner.query(`ANALYZE ${LINES}, ${DAILY}`);
  }

  /** Dropping a column and re-summing the small daily table are quick: done in place. */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${ROLLBACK_LOCK_KEY})`);
    await queryRunner.query(`LOCK TABLE ${LINES}, ${DAILY} IN ACCESS EXCLUSIVE MODE`);
    await queryRunner.query(`DROP TRIGGER journal_line_currency_from_entry ON ${LINES}`);
    await queryRunner.query('DROP FUNCTION journal_line_currency_from_entry()');
    await queryRunner.query(`ALTER TABLE ${LINES} DROP COLUMN currency`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION account_daily_balance_add_lines() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO account_daily_balance_read_model AS b (tenant_id, entry_date, account_code, debit_minor, credit_minor)
        SELECT tenant_id, entry_date, account_code, sum(debit_minor), sum(credit_minor)
          FROM new_lines GROUP BY tenant_id, entry_date, account_code
        ON CONFLICT (tenant_id, entry_date, account_code)
          DO UPDATE SET debit_minor = b.debit_minor + EXCLUDED.debit_minor, credit_minor = b.credit_minor + EXCLUDED.credit_minor;
        RETURN NULL;
      END
      $fn$`);
    await queryRunner.query(`DELETE FROM ${DAILY}`);
    await queryRunner.query(`ALTER TABLE ${DAILY} DROP CONSTRAINT ${DAILY}_pkey`);
    await queryRunner.query(`ALTER TABLE ${DAILY} DROP COLUMN currency`);
    await queryRunner.query(`ALTER TABLE ${DAILY} ADD CONSTRAINT ${DAILY}_pkey PRIMARY KEY (tenant_id, entry_date, account_code)`);
    await queryRunner.query(`
      INSERT INTO ${DAILY} (tenant_id, entry_date, account_code, debit_minor, credit_minor)
      SELECT tenant_id, entry_date, account_code, sum(debit_minor), sum(credit_minor)
        FROM ${LINES} GROUP BY tenant_id, entry_date, account_code`);
  }
}

const LINES = 'journal_entry_line_read_model';
const NEW_LINES = 'journal_entry_line_read_model_by_currency';
const DAILY = 'account_daily_balance_read_model';
const NEW_DAILY = 'account_daily_balance_read_model_by_currency';

/** The projection rollback's advisory lock key (a migration keeps its own copy: it must not change with the code). */
const ROLLBACK_LOCK_KEY = '8245928655501484907';
