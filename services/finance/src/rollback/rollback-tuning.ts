/** Knobs of the rollback (defaults suit production; env overrides exist for tests and benchmarks). */
export interface RollbackTuning {
  /** Events per page read from the event store. */
  batchSize: number;
  /** Invoice rows held in memory during a rebuild (bounded memory whatever the store's size). */
  invoiceCacheSize: number;
  /**
   * Sessions writing journal lines (the largest table); invoices, payments and entries get one each.
   * With one, lines load with COPY FREEZE too (shadow-rebuild.ts); with more, they cannot.
   */
  journalLineLanes: number;
  /** Pages read ahead while a batch is folded. */
  readAhead: number;
  /** Index builds run at once after loading. */
  indexBuilders: number;
  /** 1: create the shadow tables with all their indexes (maintained while loading); 0: build them after loading. */
  indexesDuringLoad: number;
  /** 1: read the PostgreSQL event store with one streaming COPY (same database); 0: through EventStore.readAll. */
  copyReader: number;
  /** How often progress is logged and stored on the operation row while replaying. */
  progressIntervalMs: number;
  /** How long the first swap attempt waits for readers to release the live tables; later attempts wait past deadlock_timeout (swap-lock-wait.ts). */
  swapLockTimeoutMs: number;
  swapAttempts: number;
  /** How often every pod checks for a rollback that died (state 'rebuilding' with no lock holder). */
  recoveryIntervalMs: number;
  /** TEST-ONLY: delay after each replayed batch so tests can observe or kill a rebuild in progress. */
  batchDelayMs: number;
}

export const DEFAULT_ROLLBACK_TUNING: Readonly<RollbackTuning> = Object.freeze({
  batchSize: 1000,
  invoiceCacheSize: 5_000,
  journalLineLanes: 1,
  readAhead: 1,
  copyReader: 1,
  indexesDuringLoad: 0,
  indexBuilders: 2,
  progressIntervalMs: 1000,
  swapLockTimeoutMs: 1000,
  swapAttempts: 10,
  recoveryIntervalMs: 5000,
  batchDelayMs: 0,
});

const ENV: Record<keyof RollbackTuning, string> = {
  batchSize: 'ROLLBACK_BATCH_SIZE',
  invoiceCacheSize: 'ROLLBACK_INVOICE_CACHE_SIZE',
  journalLineLanes: 'ROLLBACK_JOURNAL_LINE_LANES',
  readAhead: 'ROLLBACK_READ_AHEAD',
  copyReader: 'ROLLBACK_COPY_READER',
  indexesDuringLoad: 'ROLLBACK_INDEXES_DURING_LOAD',
  indexBuilders: 'ROLLBACK_INDEX_BUILDERS',
  progressIntervalMs: 'ROLLBACK_PROGRESS_INTERVAL_MS',
  swapLockTimeoutMs: 'ROLLBACK_SWAP_LOCK_TIMEOUT_MS',
  swapAttempts: 'ROLLBACK_SWAP_ATTEMPTS',
  recoveryIntervalMs: 'ROLLBACK_RECOVERY_INTERVAL_MS',
  // Test-only: never set in production.
  batchDelayMs: 'ROLLBACK_BATCH_DELAY_MS',
};

const MINIMUM: Partial<Record<keyof RollbackTuning, number>> = { indexBuilders: 1, batchSize: 1, invoiceCacheSize: 1, journalLineLanes: 1, readAhead: 1, swapAttempts: 1, recoveryIntervalMs: 100 };

/** Defaults overridden by the ROLLBACK_* variables that are set; malformed values are ignored. */
export function rollbackTuningFromEnv(env: Record<string, string | undefined> = process.env): RollbackTuning {
  const tuning: RollbackTuning = { ...DEFAULT_ROLLBACK_TUNING };
  for (const key of Object.keys(ENV) as Array<keyof RollbackTuning>) {
    const raw = env[ENV[key]];
    if (raw === undefined || !/^\d+$/.test(raw.trim())) continue;
    const value = Number(raw);
    if (Number.isSafeInteger(value) && value >= (MINIMUM[key] ?? 0)) tuning[key] = value;
  }
  return tuning;
}
