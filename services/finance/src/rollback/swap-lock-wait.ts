/**
 * How long each swap attempt waits for the live tables' locks.
 *
 * An autovacuum of a live table holds a lock the swap's ALTER/DROP conflicts with. PostgreSQL cancels
 * such an autovacuum for a waiter, but only when the waiter's deadlock check runs, deadlock_timeout
 * (1 s by default) after it started waiting. A swap that gives up at or before that moment never gets
 * the autovacuum cancelled, and every retry loses the same way (seen after a freshly loaded model's
 * autovacuum started during the next rollback). So the first attempt waits the configured time (short,
 * because readers queue behind the swap while it waits), and later attempts wait past the deadlock check.
 */
/** Extra wait beyond deadlock_timeout, so the cancelled autovacuum has time to release its lock. */
const AFTER_DEADLOCK_CHECK_MS = 500;

export function swapLockWaitMs(attempt: number, configuredMs: number, deadlockTimeoutMs: number): number {
  const base = Math.max(1, configuredMs);
  return attempt <= 1 ? base : Math.max(base, deadlockTimeoutMs + AFTER_DEADLOCK_CHECK_MS);
}

/** The session's deadlock_timeout in milliseconds (SHOW gives e.g. "1s" or "200ms"). */
export const DEADLOCK_TIMEOUT_MS_SQL = `SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::int AS ms`;
