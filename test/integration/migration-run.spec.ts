import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROLLBACK_LOCK_KEY } from '../../services/finance/src/rollback/projection-rollback.service';
import { createTestDatabase, LOCK_IN_THIS_DATABASE, TestDatabase, withDataSource } from '../support/database';
import { PROJECT_ROOT } from '../support/service-process';
import { waitFor } from '../support/wait-for';

const MIGRATION_CLI = join(PROJECT_ROOT, 'dist', 'services', 'finance', 'src', 'cli', 'migration-run.js');

function runMigrationCli(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MIGRATION_CLI], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run migration:run (compiled CLI)', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('finance_migrate');
  });
  afterEach(async () => {
    await db.drop();
  });

  it('applies every migration exactly once when three copies start together, and all exit 0', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => runMigrationCli(db.env())));
    for (const run of runs) expect({ code: run.code, output: run.output }).toMatchObject({ code: 0 });
    const rows = (await db.pool().query('SELECT name, count(*)::int AS n FROM migrations GROUP BY name')).rows;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.n).toBe(1);
    const again = await runMigrationCli(db.env());
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/schema is up to date/);
    const after = await db.pool().query('SELECT count(*)::int AS n FROM migrations');
    expect(after.rows[0].n).toBe(rows.length);
  });

  it('exits non-zero when a migration fails: that one changes nothing, those before it stay, and the next run goes on from it', async () => {
    const pool = db.pool();
    // A table in the way of 1700000002000 (read models) makes it fail after the two before it committed.
    await pool.query('CREATE TABLE invoice_read_model (blocking int)');
    const run = await runMigrationCli(db.env());
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/migration failed at ReadModels1700000002000, which was rolled back/);
    const applied = async () => (await pool.query('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name);
    expect(await applied()).toEqual(['EventStore1700000000000', 'WriteSide1700000001000']);
    const exists = async (table: string) => (await pool.query('SELECT to_regclass($1) AS t', [table])).rows[0].t !== null;
    expect(await exists('events')).toBe(true);
    expect(await exists('payment_read_model')).toBe(false); // the failed migration's other tables were rolled back
    expect((await pool.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'invoice_read_model'`)).rows).toEqual([{ column_name: 'blocking' }]);

    await pool.query('DROP TABLE invoice_read_model');
    expect((await runMigrationCli(db.env())).code).toBe(0);
    expect((await applied()).slice(0, 3)).toEqual(['EventStore1700000000000', 'WriteSide1700000001000', 'ReadModels1700000002000']);
    expect(await exists('payment_read_model')).toBe(true);
  });

  it('commits each migration before the next: a database two behind serves the trial balance while the last one waits for the lines', async () => {
    const pool = db.pool();
    expect((await runMigrationCli(db.env())).code).toBe(0);
    await withDataSource(db, 'test-undo', async (dataSource) => {
      for (let i = 0; i < 2; i++) await dataSource.undoLastMigration(); // back to 1700000005000
    });
    // A projection batch in flight on the lines (its lock stands in for one) holds up 1700000007000...
    const batch = await pool.connect();
    try {
      await batch.query('BEGIN');
      await batch.query('LOCK TABLE journal_entry_line_read_model IN ROW EXCLUSIVE MODE');
      const run = runMigrationCli(db.env());
      await waitFor(
        async () =>
          (await pool.query(`SELECT 1 FROM pg_locks WHERE relation = 'journal_entry_line_read_model'::regclass AND mode = 'ShareRowExclusiveLock' AND NOT granted
            AND ${LOCK_IN_THIS_DATABASE}`)).rowCount! > 0,
        20_000,
        '1700000007000 to wait for the lines',
      );
      // ...but 1700000006000, which altered the daily balances, has committed: the trial balance reads on.
      const reader = await pool.connect();
      try {
        await reader.query(`SET lock_timeout = '1s'`);
        expect((await reader.query('SELECT count(*)::int AS n FROM account_daily_balance_read_model')).rows).toEqual([{ n: 0 }]);
      } finally {
        await reader.query('RESET lock_timeout');
        reader.release();
      }
      await batch.query('COMMIT');
      expect((await run).code).toBe(0);
    } finally {
      await batch.query('ROLLBACK').catch(() => undefined);
      batch.release();
    }
  });

  it('upgrades a database whose lines already sum beyond a bigint on one day and account (from before the daily balances)', async () => {
    const pool = db.pool();
    expect((await runMigrationCli(db.env())).code).toBe(0);
    await withDataSource(db, 'test-undo', async (dataSource) => {
      for (let i = 0; i < 3; i++) await dataSource.undoLastMigration(); // back to 1700000004000: no daily balances
    });
    // 93 entries at the largest amount, each debiting 1000 and crediting 4000 on the same day: 93 x 99999999999999999 > 2^63.
    const largest = '99999999999999999';
    await pool.query(`INSERT INTO journal_entry_read_model (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
      SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 't', 'manual', NULL, '2026-01-01', 'm', 'BDT', ${largest}, ${largest}, i, now() FROM generate_series(1, 93) i`);
    await pool.query(`INSERT INTO journal_entry_line_read_model (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date)
      SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, n, 't', CASE n WHEN 1 THEN '1000' ELSE '4000' END,
             CASE n WHEN 1 THEN ${largest} ELSE 0 END, CASE n WHEN 1 THEN 0 ELSE ${largest} END, '2026-01-01'
        FROM generate_series(1, 93) i, generate_series(1, 2) n`);
    const run = await runMigrationCli(db.env());
    expect({ code: run.code, output: run.output }).toMatchObject({ code: 0 });
    const { rows } = await pool.query(`SELECT account_code, debit_minor::text AS debit, credit_minor::text AS credit FROM account_daily_balance_read_model ORDER BY 1`);
    const sum = (93n * BigInt(largest)).toString();
    expect(rows).toEqual([
      { account_code: '1000', debit: sum, credit: '0' },
      { account_code: '4000', debit: '0', credit: sum },
    ]);
  });

  it('changes the trial-balance schema only once no projection rollback holds its lock (it would swap the old tables back in)', async () => {
    const pool = db.pool();
    const rollback = await pool.connect(); // stands in for a running rollback: it holds the rollback's advisory lock
    try {
      await rollback.query('SELECT pg_advisory_lock($1)', [ROLLBACK_LOCK_KEY.toString()]);
      const run = runMigrationCli(db.env());
      await waitFor(
        async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'advisory' AND datname = current_database()`)).rows[0].n === 1,
        20_000,
        'the migration to wait for the rollback lock',
      );
      await rollback.query('SELECT pg_advisory_unlock($1)', [ROLLBACK_LOCK_KEY.toString()]);
      expect((await run).code).toBe(0);
    } finally {
      rollback.release();
    }
    // The lines keep only their key; the trial balance has its daily balances, kept by a trigger on the lines.
    const indexes = (await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'journal_entry_line_read_model' ORDER BY 1`)).rows;
    expect(indexes.map((i) => i.indexname)).toEqual(['journal_entry_line_read_model_pkey']);
    const daily = (await pool.query(`SELECT indexdef FROM pg_indexes WHERE tablename = 'account_daily_balance_read_model'`)).rows;
    expect(daily.map((i) => i.indexdef)).toEqual([expect.stringMatching(/UNIQUE INDEX account_daily_balance_read_model_pkey .*\(tenant_id, entry_date, account_code, currency\)/)]);
    const triggers = (await pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'journal_entry_line_read_model'::regclass AND NOT tgisinternal ORDER BY 1`)).rows;
    expect(triggers).toEqual([{ tgname: 'account_daily_balance_add_lines' }, { tgname: 'journal_line_currency_from_entry' }]);
  });

  it('fills the daily balances per currency from the lines already there, and the triggers add new lines (re-deliveries add nothing)', async () => {
    const pool = db.pool();
    expect((await runMigrationCli(db.env())).code).toBe(0);
    // Back to the schema before 1700000005000, with entries and lines written then (no trigger, no daily
    // table, no currency on lines): 1700000007000, 1700000006000 and 1700000005000 are undone, newest first.
    await withDataSource(db, 'test-undo', async (dataSource) => {
      for (let i = 0; i < 3; i++) await dataSource.undoLastMigration();
    });
    expect((await pool.query(`SELECT to_regclass('account_daily_balance_read_model') AS t`)).rows[0].t).toBeNull();
    const E1 = `'00000000-0000-4000-8000-000000000001'`;
    const E2 = `'00000000-0000-4000-8000-000000000002'`;
    const E3 = `'00000000-0000-4000-8000-000000000003'`;
    const ORPHAN = `'00000000-0000-4000-8000-000000000009'`;
    const insertEntries = (rows: string) =>
      pool.query(`INSERT INTO journal_entry_read_model (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
        SELECT id::uuid, 't', 'manual', NULL, d::date, 'm', c, 0, 0, 1, now() FROM (VALUES ${rows}) v(id, d, c)`);
    // Lines as a pod of the version before 1700000007000 writes them: without a currency.
    const insertLines = (rows: string) =>
      pool.query(`INSERT INTO journal_entry_line_read_model (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date)
        VALUES ${rows} ON CONFLICT (journal_entry_id, line_no) DO NOTHING`);
    await insertEntries(`(${E1}, '2026-01-01', 'BDT'), (${E2}, '2026-01-01', 'USD')`);
    await insertLines(`(${E1}, 1, 't', '1000', 700, 0, '2026-01-01'), (${E1}, 2, 't', '4000', 0, 700, '2026-01-01'), (${E2}, 1, 't', '1000', 300, 0, '2026-01-01'), (${E2}, 2, 't', '4000', 0, 300, '2026-01-01'), (${ORPHAN}, 1, 't', '1000', 5, 0, '2026-01-01')`);

    expect((await runMigrationCli(db.env())).code).toBe(0);
    const balances = async () =>
      (await pool.query(`SELECT tenant_id, to_char(entry_date, 'YYYY-MM-DD') AS date, account_code, currency, debit_minor::text AS debit, credit_minor::text AS credit
        FROM account_daily_balance_read_model ORDER BY 1, 2, 3, 4`)).rows;
    // BDT and USD on the same day and account stay apart; a line without an entry gets 'XXX' (no currency).
    expect(await balances()).toEqual([
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'BDT', debit: '700', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'USD', debit: '300', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'XXX', debit: '5', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '4000', currency: 'BDT', debit: '0', credit: '700' },
      { tenant_id: 't', date: '2026-01-01', account_code: '4000', currency: 'USD', debit: '0', credit: '300' },
    ]);
    // A previous-version pod still projecting: E1's first line again (a re-delivery, skipped by ON CONFLICT)
    // and a new USD entry on another day, its lines without a currency; they take their entry's.
    await insertEntries(`(${E3}, '2026-01-02', 'USD')`);
    await insertLines(`(${E1}, 1, 't', '1000', 700, 0, '2026-01-01'), (${E3}, 1, 't', '1000', 50, 0, '2026-01-02'), (${E3}, 2, 't', '4000', 0, 50, '2026-01-02')`);
    expect((await pool.query(`SELECT DISTINCT currency FROM journal_entry_line_read_model WHERE journal_entry_id = ${E3}`)).rows).toEqual([{ currency: 'USD' }]);
    const afterOldPod = [
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'BDT', debit: '700', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'USD', debit: '300', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '1000', currency: 'XXX', debit: '5', credit: '0' },
      { tenant_id: 't', date: '2026-01-01', account_code: '4000', currency: 'BDT', debit: '0', credit: '700' },
      { tenant_id: 't', date: '2026-01-01', account_code: '4000', currency: 'USD', debit: '0', credit: '300' },
      { tenant_id: 't', date: '2026-01-02', account_code: '1000', currency: 'USD', debit: '50', credit: '0' },
      { tenant_id: 't', date: '2026-01-02', account_code: '4000', currency: 'USD', debit: '0', credit: '50' },
    ];
    expect(await balances()).toEqual(afterOldPod);
    // The swapped-in tables keep the names the rollback copies: the key, both triggers.
    expect((await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename IN ('journal_entry_line_read_model', 'account_daily_balance_read_model') ORDER BY 1`)).rows).toEqual([
      { indexname: 'account_daily_balance_read_model_pkey' },
      { indexname: 'journal_entry_line_read_model_pkey' },
    ]);

    // Undoing 1700000007000 alone: the daily balances are summed across currencies again, kept by the trigger as before.
    await withDataSource(db, 'test-undo', (dataSource) => dataSource.undoLastMigration());
    const summed = async () =>
      (await pool.query(`SELECT to_char(entry_date, 'YYYY-MM-DD') AS date, account_code, debit_minor::text AS debit, credit_minor::text AS credit
        FROM account_daily_balance_read_model ORDER BY 1, 2`)).rows;
    expect(await summed()).toEqual([
      { date: '2026-01-01', account_code: '1000', debit: '1005', credit: '0' },
      { date: '2026-01-01', account_code: '4000', debit: '0', credit: '1000' },
      { date: '2026-01-02', account_code: '1000', debit: '50', credit: '0' },
      { date: '2026-01-02', account_code: '4000', debit: '0', credit: '50' },
    ]);
    await insertLines(`(${E3}, 3, 't', '1000', 1, 0, '2026-01-02')`);
    expect((await summed())[2]).toEqual({ date: '2026-01-02', account_code: '1000', debit: '51', credit: '0' });
    expect((await runMigrationCli(db.env())).code).toBe(0);
    expect((await balances()).find((b) => b.date === '2026-01-02' && b.account_code === '1000')).toEqual({
      tenant_id: 't', date: '2026-01-02', account_code: '1000', currency: 'USD', debit: '51', credit: '0',
    });
  });

  it('stops with exit 1 naming every bad variable when production configuration is missing', async () => {
    const run = await runMigrationCli({ NODE_ENV: 'production' });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/DATABASE_HOST.*DATABASE_USER.*DATABASE_PASSWORD/s);
  });
});
