/**
 * The integrity checks against real tables: the journal check runs as two statements (one per half of
 * the entry ids) and must still report every broken entry, whichever half it is in, as one check.
 */
import type { Pool } from 'pg';
import { LIVE_TABLES } from '../../services/finance/src/projections/read-model-rows';
import { runIntegrityChecks } from '../../services/finance/src/rollback/integrity-checks';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';
import { INTEGRITY_CHECK_NAMES } from '../support/integrity-check-names';

const LOW = '10000000-0000-4000-8000-000000000001'; // first half of the uuid range
const HIGH = 'f0000000-0000-4000-8000-000000000001'; // second half
const BOUNDARY = '80000000-0000-4000-8000-000000000000'; // the first id of the second half

describe('integrity checks (journal entries in two halves)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const positions = { checkpoint: async () => 100n, head: async () => 100n };

  beforeAll(async () => {
    db = await createTestDatabase('integrity');
    await migrateTestDatabase(db);
    pool = db.pool();
  });

  afterAll(async () => {
    await db.drop();
  });

  beforeEach(async () => {
    await pool.query(`TRUNCATE ${Object.values(LIVE_TABLES).join(', ')}`);
  });

  async function entry(id: string, debit: number, credit: number, lines: Array<[number, number]>): Promise<void> {
    await pool.query(
      `INSERT INTO journal_entry_read_model (id, tenant_id, source, source_id, entry_date, memo, currency, total_debit_minor, total_credit_minor, position, created_at)
       VALUES ($1, 't', 'manual', NULL, '2026-01-01', 'm', 'EUR', $2, $3, 1, now())`,
      [id, debit, credit],
    );
    await lines.reduce(
      (previous, [d, c], i) =>
        previous.then(() =>
          pool.query(
            `INSERT INTO journal_entry_line_read_model (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
             VALUES ($1, $2, 't', $3, $4, $5, '2026-01-01', 'EUR')`,
            [id, i + 1, d > 0 ? '1000' : '3000', d, c],
          ),
        ),
      Promise.resolve() as Promise<unknown>,
    );
  }

  async function journalCheck(runners: Pool[]) {
    const report = await runIntegrityChecks(runners, LIVE_TABLES, positions);
    expect(report.checks.map((c) => c.name)).toEqual(INTEGRITY_CHECK_NAMES);
    return report.checks.find((c) => c.name === 'journal_entries_balanced')!;
  }

  it("reports lines that do not carry their entry's currency or tenant (the daily balances are summed from them)", async () => {
    await entry(LOW, 500, 500, [[500, 0], [0, 500]]);
    await entry(HIGH, 900, 900, [[900, 0], [0, 900]]);
    await entry(BOUNDARY, 700, 700, [[700, 0], [0, 700]]);
    expect(await journalCheck([pool, pool])).toMatchObject({ ok: true, failures: 0 });
    await pool.query(`UPDATE journal_entry_line_read_model SET currency = 'USD' WHERE journal_entry_id = $1 AND line_no = 2`, [LOW]);
    await pool.query(`UPDATE journal_entry_line_read_model SET currency = 'AAA' WHERE journal_entry_id = $1 AND line_no = 1`, [HIGH]);
    await pool.query(`UPDATE journal_entry_line_read_model SET tenant_id = 'other' WHERE journal_entry_id = $1 AND line_no = 1`, [BOUNDARY]);
    const check = await journalCheck([pool, pool]);
    expect(check).toMatchObject({ ok: false, failures: 3 });
    expect([...check.sample!].sort()).toEqual([LOW, BOUNDARY, HIGH].sort());
  });

  it('passes balanced entries in both halves, including the first id of the second half', async () => {
    await entry(LOW, 500, 500, [[500, 0], [0, 500]]);
    await entry(BOUNDARY, 700, 700, [[700, 0], [0, 700]]);
    await entry(HIGH, 900, 900, [[900, 0], [0, 900]]);
    expect(await journalCheck([pool, pool])).toMatchObject({ ok: true, failures: 0 });
    expect((await journalCheck([pool, pool])).sample).toBeUndefined();
  });

  it('reports broken entries from both halves as one check, with one runner or several', async () => {
    await entry(LOW, 500, 400, [[500, 0], [0, 400]]); // unbalanced totals
    await entry(BOUNDARY, 700, 700, []); // no lines
    await entry(HIGH, 900, 900, [[900, 0], [0, 800]]); // lines do not sum to the totals
    await pool.query(
      `INSERT INTO journal_entry_line_read_model (journal_entry_id, line_no, tenant_id, account_code, debit_minor, credit_minor, entry_date, currency)
       VALUES ('20000000-0000-4000-8000-000000000002', 1, 't', '1000', 5, 0, '2026-01-01', 'EUR')`, // lines without an entry
    );
    for (const runners of [[pool], [pool, pool, pool]]) {
      const check = await journalCheck(runners);
      expect(check.ok).toBe(false);
      expect(check.failures).toBe(4);
      expect([...check.sample!].sort()).toEqual([LOW, '20000000-0000-4000-8000-000000000002', BOUNDARY, HIGH].sort());
    }
  });

  it("reads the stored checkpoint in the same statement as the rows' positions (a swap moves both at once)", async () => {
    await entry(LOW, 500, 500, [[500, 0], [0, 500]]); // its row holds position 1
    const positionCheck = async () =>
      (await runIntegrityChecks([pool], LIVE_TABLES, { checkpoint: 'stored', head: async () => 10n })).checks.find((c) => c.name === 'checkpoint_not_beyond_head')!;
    const before = (await pool.query(`SELECT position FROM projection_checkpoint`)).rows[0].position;
    try {
      await pool.query(`UPDATE projection_checkpoint SET position = 1`);
      expect(await positionCheck()).toMatchObject({ ok: true, details: { checkpoint: '1', head: '10', highestRowPosition: '1' } });
      await pool.query(`UPDATE projection_checkpoint SET position = 0`);
      expect(await positionCheck()).toMatchObject({ ok: false, sample: ['rows hold events up to position 1, beyond the checkpoint 0'] });
    } finally {
      await pool.query(`UPDATE projection_checkpoint SET position = $1`, [before]);
    }
  });

  it('reports daily balances that disagree with the lines (and the trial balance read from them)', async () => {
    await entry(LOW, 500, 500, [[500, 0], [0, 500]]);
    await entry(HIGH, 900, 900, [[900, 0], [0, 900]]);
    const checks = async () => Object.fromEntries((await runIntegrityChecks([pool, pool], LIVE_TABLES, positions)).checks.map((c) => [c.name, c]));
    // Kept by the lines' trigger: the two entries' lines summed per day, account and currency.
    expect((await checks()).account_daily_balances_match_lines).toMatchObject({ ok: true, failures: 0 });
    expect((await pool.query(`SELECT account_code, currency, debit_minor::int AS d, credit_minor::int AS c FROM account_daily_balance_read_model ORDER BY 1`)).rows).toEqual([
      { account_code: '1000', currency: 'EUR', d: 1400, c: 0 },
      { account_code: '3000', currency: 'EUR', d: 0, c: 1400 },
    ]);

    await pool.query(`UPDATE account_daily_balance_read_model SET debit_minor = debit_minor + 1 WHERE account_code = '1000'`);
    await pool.query(`UPDATE account_daily_balance_read_model SET currency = 'USD' WHERE account_code = '3000'`); // the right sum in the wrong currency
    await pool.query(
      `INSERT INTO account_daily_balance_read_model (tenant_id, entry_date, account_code, currency, debit_minor, credit_minor) VALUES ('t', '2026-02-01', '9999', 'EUR', 0, 0)`,
    ); // a balance without lines
    const broken = await checks();
    expect(broken.account_daily_balances_match_lines).toMatchObject({ ok: false, failures: 4 });
    expect([...broken.account_daily_balances_match_lines.sample!].sort()).toEqual(['t 2026-01-01 1000 EUR', 't 2026-01-01 3000 EUR', 't 2026-01-01 3000 USD', 't 2026-02-01 9999 EUR']);
    expect(broken.trial_balance_balanced).toMatchObject({ ok: false, failures: 2 });
    expect([...broken.trial_balance_balanced.sample!].sort()).toEqual(['t EUR', 't USD']);
  });
});
