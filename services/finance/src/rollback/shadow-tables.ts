/**
 * Shadow copies of the five read-model tables: a rollback rebuilds into them while readers keep using
 * the live tables, then swaps them in by rename inside one transaction.
 *
 * A shadow table is created `LIKE` its live table (columns, defaults, NOT NULL and CHECK constraints),
 * without indexes; the live table's indexes and key constraints are recreated after loading (bulk load
 * first, index build after is the cheap order) under temporary names, and take the live names at the
 * swap so the schema after a rollback is exactly the schema before it. The invoice shadow gets its
 * primary key at once: the rebuild reads invoices back by id and upserts them.
 */
import type { ClientBase } from 'pg';
import { LIVE_TABLES, readModelTables, ReadModelTables } from '../projections/read-model-rows';
import { quoteTable } from '../projections/read-model-writer';

const SHADOW_SUFFIX = '_rollback_shadow';
export const SHADOW_TABLES: Readonly<ReadModelTables> = Object.freeze(readModelTables(SHADOW_SUFFIX));

type TableKey = keyof ReadModelTables;
export const TABLE_KEYS: readonly TableKey[] = ['invoices', 'payments', 'journalEntries', 'journalLines', 'accountDailyBalances'];

/**
 * Fills the daily account balances from the journal lines: a rebuild loads the lines, then sums them
 * once here (the live lines' trigger does it per insert; the shadow lines get it only at the swap).
 */
export function fillDailyBalancesSql(tables: Pick<ReadModelTables, 'journalLines' | 'accountDailyBalances'>): string {
  return `INSERT INTO ${quoteTable(tables.accountDailyBalances)} (tenant_id, entry_date, account_code, currency, debit_minor, credit_minor)
    SELECT tenant_id, entry_date, account_code, currency, sum(debit_minor), sum(credit_minor)
      FROM ${quoteTable(tables.journalLines)} GROUP BY tenant_id, entry_date, account_code, currency`;
}

/**
 * The triggers of the live lines: one keeps the daily balances current (function from migration
 * 1700000005000, per currency since 1700000007000); the other gives lines inserted without a currency
 * (by a pod of the version before 1700000007000) their entry's. A table created LIKE another has no
 * triggers, so the swap puts them on the rebuilt lines, by name: a live lines table that lost them (a
 * rollback by a pod older than the migrations) gets them back.
 */
function linesTriggersSql(linesTable: string): string[] {
  const table = quoteTable(linesTable);
  return [
    `CREATE TRIGGER journal_line_currency_from_entry BEFORE INSERT ON ${table}
      FOR EACH ROW WHEN (NEW.currency IS NULL) EXECUTE FUNCTION journal_line_currency_from_entry()`,
    `CREATE TRIGGER account_daily_balance_add_lines AFTER INSERT ON ${table}
      REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION account_daily_balance_add_lines()`,
  ];
}

/** One index (or key constraint) of a live table, and the temporary name its shadow copy gets. */
export interface IndexPlan {
  table: TableKey;
  liveName: string;
  shadowName: string;
  /** SQL building the shadow copy's index (CREATE [UNIQUE] INDEX: several may run on one table at once). */
  build: string;
  /** For a primary key or unique constraint: SQL attaching the built index as the constraint. */
  attach?: string;
  primaryKey: boolean;
}

interface IndexRow {
  index_oid: string;
  index_name: string;
  indexdef: string;
  constraint_type: string | null;
  constraintdef: string | null;
}

const INDEX_DEF = /^CREATE (UNIQUE )?INDEX (\S+) ON (?:ONLY )?(\S+) (USING .+)$/s;

/** The statements recreating every index and key constraint of the live tables on the shadows. */
export async function planShadowIndexes(client: ClientBase): Promise<IndexPlan[]> {
  const plans: IndexPlan[] = [];
  for (const key of TABLE_KEYS) {
    const { rows } = await client.query<IndexRow>(
      `SELECT ix.indexrelid::text AS index_oid, i.relname AS index_name, pg_get_indexdef(ix.indexrelid) AS indexdef,
              con.contype::text AS constraint_type, pg_get_constraintdef(con.oid) AS constraintdef
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u', 'x')
        WHERE ix.indrelid = $1::regclass
        ORDER BY ix.indisprimary DESC, i.relname`,
      [LIVE_TABLES[key]],
    );
    for (const row of rows) {
      const shadowName = `rb_shadow_idx_${row.index_oid}`;
      const shadowTable = quoteTable(SHADOW_TABLES[key]);
      const match = INDEX_DEF.exec(row.indexdef);
      if (row.constraint_type === 'x' || !match) {
        // Exclusion constraints cannot adopt an index: created whole (not expected on read models).
        if (row.constraintdef === null) throw new Error(`cannot copy index ${row.index_name}: unexpected definition ${row.indexdef}`);
        plans.push({ table: key, liveName: row.index_name, shadowName, build: `ALTER TABLE ${shadowTable} ADD CONSTRAINT ${shadowName} ${row.constraintdef}`, primaryKey: false });
        continue;
      }
      const build = `CREATE ${match[1] ?? ''}INDEX ${shadowName} ON ${shadowTable} ${match[4]}`;
      const kind = row.constraint_type === 'p' ? 'PRIMARY KEY' : row.constraint_type === 'u' ? 'UNIQUE' : undefined;
      plans.push({
        table: key,
        liveName: row.index_name,
        shadowName,
        build,
        ...(kind ? { attach: `ALTER TABLE ${shadowTable} ADD CONSTRAINT ${shadowName} ${kind} USING INDEX ${shadowName}` } : {}),
        primaryKey: kind === 'PRIMARY KEY',
      });
    }
  }
  return plans;
}

/**
 * Drops any leftover shadow tables and creates empty ones with the indexes `early` selects (the
 * invoice primary key at least: the rebuild reads invoices back by id and upserts them).
 */
export async function createShadowTables(client: ClientBase, plans: readonly IndexPlan[], early: readonly IndexPlan[]): Promise<void> {
  await dropShadowTables(client);
  for (const key of TABLE_KEYS) {
    await client.query(
      // No autovacuum while the rebuild fills them (it would compete for the CPU and, at the swap, for
      // the tables); the rebuild ANALYZEs them itself, and the swap turns autovacuum back on.
      `CREATE TABLE ${quoteTable(SHADOW_TABLES[key])} (LIKE ${quoteTable(LIVE_TABLES[key])} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) ${NO_AUTOVACUUM}`,
    );
  }
  for (const plan of early) {
    await client.query(plan.build);
    if (plan.attach) await client.query(plan.attach);
  }
}

const NO_AUTOVACUUM = 'WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)';

/** The indexes a rebuild needs before loading: the invoice primary key. */
export function earlyIndexes(plans: readonly IndexPlan[]): IndexPlan[] {
  const first = plans.find((p) => p.table === 'invoices' && p.primaryKey);
  return first ? [first] : [];
}

/** The indexes not in `early`. */
export function lateIndexes(plans: readonly IndexPlan[], early: readonly IndexPlan[]): IndexPlan[] {
  const set = new Set(early);
  return plans.filter((p) => !set.has(p));
}

export async function dropShadowTables(client: ClientBase): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${TABLE_KEYS.map((k) => quoteTable(SHADOW_TABLES[k])).join(', ')}`);
}

/** Whether any shadow table exists (left by a rollback that died). */
export async function shadowTablesExist(client: Pick<ClientBase, 'query'>): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    'SELECT bool_or(to_regclass(t) IS NOT NULL) AS found FROM unnest($1::text[]) AS t',
    [TABLE_KEYS.map((k) => SHADOW_TABLES[k])],
  );
  return rows[0]?.found === true;
}

/**
 * The swap, run inside the caller's transaction: the live tables are locked together (or not at all,
 * within the transaction's lock_timeout), dropped, and the shadows take their names and their
 * indexes' names. Readers queued on the old tables re-resolve the names once the transaction commits
 * and read the new tables; nobody ever sees an empty or partial read model.
 */
export async function swapShadowTables(client: ClientBase, plans: readonly IndexPlan[]): Promise<void> {
  const live = TABLE_KEYS.map((k) => quoteTable(LIVE_TABLES[k])).join(', ');
  await client.query(`LOCK TABLE ${live} IN ACCESS EXCLUSIVE MODE`);
  await client.query(`DROP TABLE ${live}`);
  for (const key of TABLE_KEYS) {
    await client.query(`ALTER TABLE ${quoteTable(SHADOW_TABLES[key])} RENAME TO ${quoteTable(LIVE_TABLES[key])}`);
    await client.query(`ALTER TABLE ${quoteTable(LIVE_TABLES[key])} RESET (autovacuum_enabled, toast.autovacuum_enabled)`);
  }
  for (const plan of plans) {
    // Renaming a constraint's index renames the constraint too.
    await client.query(`ALTER INDEX ${quoteTable(plan.shadowName)} RENAME TO ${quoteTable(plan.liveName)}`);
  }
  for (const sql of linesTriggersSql(LIVE_TABLES.journalLines)) await client.query(sql);
}
