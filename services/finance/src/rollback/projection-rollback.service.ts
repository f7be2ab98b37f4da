/**
 * ProjectionRollbackService: rebuilds the finance read models as of an earlier event position, safely.
 *
 *   pause (every pod, through projection_control) → replay the finance events ≤ target into shadow tables
 *   through the live projector and writer → build indexes → verify → swap the shadows in, set the
 *   checkpoint and resume (or hold) in ONE transaction.
 *
 * Safety: readers keep the previous read model, complete, until the swap commits. Any failure (database
 * error, failed verification, shutdown) drops the shadows, puts the projection state back and records
 * the operation as failed with its reason. A rollback whose process dies holds nothing: its session
 * advisory lock goes with its session, and any pod's recovery (at start, before a new rollback, and
 * every few seconds) resets what it left behind.
 *
 * Plain class (no Nest imports): the admin module wires it, tests use it directly.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Client, ClientBase, Pool } from 'pg';
import { dedicatedClient } from '../database/dedicated-session';
import type { EventStore } from '../event-store/event-store';
import { parsePosition, Position, START_POSITION } from '../event-store/position';
import type { AppLogger } from '../logging/root-logger';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { PROJECTION_NAME, ProjectionState, readCheckpoint, readControl } from '../projections/projection-state';
import { LIVE_TABLES, ReadModelTables } from '../projections/read-model-rows';
import { quoteTable } from '../projections/read-model-writer';
import { FINANCE_STREAM_PREFIXES } from '../domain/events';
import { IntegrityReport, runIntegrityChecks } from './integrity-checks';
import { copyReadEvents } from './postgres-copy-reader';
import { checkAborted, ProjectionStateError, RollbackFailure, RollbackInProgressError, RollbackRequestError } from './rollback-errors';
import {
  finishOperation,
  findOperation,
  insertOperation,
  listOperations,
  operationView,
  RollbackCounts,
  RollbackOperation,
  RollbackOperationView,
  RollbackPhase,
  runningOperations,
  updateOperation,
} from './rollback-operations';
import { DEFAULT_ROLLBACK_TUNING, RollbackTuning } from './rollback-tuning';
import { rebuildShadow, RebuildProgress } from './shadow-rebuild';
import {
  createShadowTables,
  dropShadowTables,
  earlyIndexes,
  fillDailyBalancesSql,
  IndexPlan,
  lateIndexes,
  planShadowIndexes,
  SHADOW_TABLES,
  shadowTablesExist,
  swapShadowTables,
  TABLE_KEYS,
} from './shadow-tables';
import { runSpread, SqlLane } from './sql-lane';
import { DEADLOCK_TIMEOUT_MS_SQL, swapLockWaitMs } from './swap-lock-wait';

/** Session advisory lock held by the one running rollback for its whole run ("rollback" in ASCII). */
export const ROLLBACK_LOCK_KEY = 8_245_928_655_501_484_907n;

/** How long a request waits for a lock whose holder runs no rollback (one finishing its cleanup, or a recovery check). */
const LOCK_HANDOVER_WAIT_MS = 5_000;

export const LOG_OPERATION = 'projection-rollback';

export interface RollbackRequest {
  /** JSON integer or decimal string. */
  targetVersion: unknown;
  /** Default true; false holds the projection at the target until resumed. */
  resume?: unknown;
  requestedBy: string;
  tenantId: string;
}

export interface RollbackServiceDeps {
  pool: Pool;
  eventStore: EventStore;
  logger: AppLogger;
  metrics: FinanceMetrics;
  tuning?: Partial<RollbackTuning>;
  /** Test hooks (fault injection); never set by the service. */
  hooks?: {
    /** Runs on a writer session after the shadow tables are loaded and indexed, before verification. */
    beforeVerify?: (shadowSession: ClientBase) => Promise<void>;
    /** Runs after the operation is recorded as finished, before its sessions close and the lock is released. */
    beforeRelease?: () => Promise<void>;
  };
}

export interface VerifyResult extends IntegrityReport {
  checkpoint: string;
  head: string;
}

export interface ResumeResult {
  state: ProjectionState;
  previousState: ProjectionState;
  resumed: boolean;
  checkpoint: string;
}

interface ActiveRollback {
  id: string;
  abort: AbortController;
  done: Promise<void>;
}

type Log = AppLogger;

export class ProjectionRollbackService {
  private readonly tuning: RollbackTuning;
  /** Who runs rollbacks here (recorded on the operation). */
  private readonly runner = `${hostname()}:${process.pid}`;
  private active: ActiveRollback | undefined;
  private readonly pendingRequests = new Set<Promise<unknown>>();
  private recovering: Promise<string[]> | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private lastWatchError: string | undefined;
  private closed = false;

  constructor(private readonly deps: RollbackServiceDeps) {
    this.tuning = { ...DEFAULT_ROLLBACK_TUNING, ...deps.tuning };
  }

  // ------------------------------------------------------------------------------------------ API

  /**
   * Validates the request, takes the cluster-wide rollback lock (409 when taken), resets anything a dead
   * rollback left, records the operation and starts the rollback in the background.
   */
  async requestRollback(request: RollbackRequest): Promise<RollbackOperationView> {
    if (this.closed) throw new ProjectionStateError('SHUTTING_DOWN', 'the service is shutting down', 'unknown');
    // close() waits for requests under way: one that started its rollback after close() looked would run on alone.
    const pending = this.startRollback(request);
    this.pendingRequests.add(pending);
    try {
      return await pending;
    } finally {
      this.pendingRequests.delete(pending);
    }
  }

  private async startRollback(request: RollbackRequest): Promise<RollbackOperationView> {
    const target = parsePosition(request.targetVersion);
    if (target === undefined) {
      throw new RollbackRequestError(
        'targetVersion',
        `targetVersion must be a non-negative integer (a JSON integer or a decimal string), got ${describeValue(request.targetVersion)}`,
      );
    }
    const resume = parseResume(request.resume);
    const head = await this.deps.eventStore.headPosition();
    if (target > head) {
      throw new RollbackRequestError('targetVersion', `targetVersion ${target} is beyond the event store head ${head}`, { head: head.toString() });
    }
    await this.settleFinishedActive();

    const lock = await this.connect('lock');
    let locked = false;
    try {
      await this.acquireLock(lock);
      locked = true;
      await this.recoverLocked(lock, 'before a new rollback');
      const op = await insertOperation(lock, {
        id: randomUUID(),
        requestedBy: request.requestedBy,
        tenantId: request.tenantId,
        targetPosition: target,
        resume,
        eventStore: this.deps.eventStore.kind,
        runner: this.runner,
      });
      const abort = new AbortController();
      const done = this.execute(op, lock, abort.signal).finally(() => {
        if (this.active?.id === op.id) this.active = undefined;
      });
      this.active = { id: op.id, abort, done };
      return operationView(op);
    } catch (error) {
      if (locked) await unlock(lock);
      await endClient(lock);
      throw error;
    }
  }

  async getOperation(id: string): Promise<RollbackOperationView | undefined> {
    const op = await findOperation(this.deps.pool, id);
    return op ? operationView(op) : undefined;
  }

  async listOperations(limit = 20): Promise<RollbackOperationView[]> {
    return (await listOperations(this.deps.pool, limit)).map(operationView);
  }

  /**
   * This process's rollback refuses a new one while it runs. Once its operation is recorded as finished,
   * only its cleanup is left (closing sessions, releasing the lock): an operator who has just read
   * "succeeded" is answered after that cleanup, not with a 409.
   */
  private async settleFinishedActive(): Promise<void> {
    const active = this.active;
    if (!active) return;
    const op = await findOperation(this.deps.pool, active.id);
    if (op?.status === 'running') throw new RollbackInProgressError(active.id);
    await active.done;
  }

  /**
   * The cluster-wide rollback lock, or a 409 naming the running operation. A holder with no running
   * operation is not rebuilding anything: a rollback (on another pod) that has recorded its end and is
   * releasing the lock, or a recovery check. The lock is waited for then, with a deadline.
   */
  private async acquireLock(client: ClientBase): Promise<void> {
    if (await tryLock(client)) return;
    const running = await this.runningOperationId();
    if (running === undefined && (await waitForLock(client, LOCK_HANDOVER_WAIT_MS))) return;
    throw new RollbackInProgressError(running ?? (await this.runningOperationId()));
  }

  /**
   * Id of the operation holding the lock, for a 409. The holder records its operation right after
   * taking the lock, so a request that lost the race by a few milliseconds waits briefly for it.
   */
  private async runningOperationId(): Promise<string | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const [op] = await runningOperations(this.deps.pool).catch(() => []);
      if (op) return op.id;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  }

  /** The running operation (on any pod), or null. */
  async runningOperation(): Promise<RollbackOperationView | null> {
    const [op] = await runningOperations(this.deps.pool);
    return op ? operationView(op) : null;
  }

  /** The integrity checks on the live read model. */
  async verify(): Promise<VerifyResult> {
    const pool = this.deps.pool;
    const report = await runIntegrityChecks([pool, pool, pool], LIVE_TABLES, {
      checkpoint: 'stored',
      head: () => this.deps.eventStore.headPosition(),
    });
    // The position check reports both: the stored checkpoint it read and the head it compared with.
    const positions = report.checks.find((c) => c.name === 'checkpoint_not_beyond_head')?.details;
    return { ...report, checkpoint: String(positions?.checkpoint), head: String(positions?.head) };
  }

  /** held (or paused) → running. 409 while a rollback rebuilds. */
  async resume(by: { requestedBy: string; tenantId: string }): Promise<ResumeResult> {
    const client = await this.deps.pool.connect();
    try {
      await client.query('BEGIN');
      const previousState = (await readControl(client, { forUpdate: true })).state;
      if (previousState === 'rebuilding') {
        throw new ProjectionStateError('ROLLBACK_IN_PROGRESS', 'the projection is being rebuilt by a rollback; it resumes (or holds) when the rollback ends', previousState);
      }
      const resumed = previousState !== 'running';
      if (resumed) {
        await client.query(
          `UPDATE projection_control SET state = 'running', hold_position = NULL, operation_id = NULL, updated_at = now() WHERE name = $1`,
          [PROJECTION_NAME],
        );
      }
      const checkpoint = await readCheckpoint(client);
      await client.query('COMMIT');
      this.deps.logger.info(
        { operation: 'projection-resume', requestedBy: by.requestedBy, tenantId: by.tenantId, previousState, checkpoint: checkpoint.toString() },
        resumed ? `projection resumed (was ${previousState})` : 'projection already running',
      );
      return { state: 'running', previousState, resumed, checkpoint: checkpoint.toString() };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Resolves when the rollback this process runs (if any) has finished, successfully or not. */
  async whenIdle(): Promise<void> {
    await this.active?.done;
  }

  /**
   * Resets what a dead rollback left (state 'rebuilding' or an operation 'running' with nobody holding
   * the rollback lock; shadow tables): projection state back, shadows dropped, operation failed
   * "interrupted". Returns the ids of the operations it marked failed. Safe to call from every pod.
   */
  async recoverInterrupted(trigger: string): Promise<string[]> {
    this.recovering ??= this.recoverIfDead(trigger).finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  /** Runs recoverInterrupted every tuning.recoveryIntervalMs (each pod does; cheap when nothing is wrong). */
  startRecoveryWatch(): void {
    if (this.watchTimer || this.closed) return;
    this.watchTimer = setInterval(() => {
      this.recoverInterrupted('periodic check').then(
        () => (this.lastWatchError = undefined),
        (error: unknown) => {
          const message = errorMessage(error);
          if (message !== this.lastWatchError) this.deps.logger.warn({ operation: LOG_OPERATION, err: error }, `rollback recovery check failed: ${message}`);
          this.lastWatchError = message;
        },
      );
    }, this.tuning.recoveryIntervalMs);
    this.watchTimer.unref();
  }

  /** Shutdown: stops the periodic check, aborts a running rollback (it cleans up and records why) and waits for it. */
  async close(reason = 'the service is shutting down'): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    await Promise.allSettled(this.pendingRequests);
    const active = this.active;
    if (active) {
      active.abort.abort(new Error(reason));
      await active.done;
    }
    await this.recovering?.catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------ the run

  private async execute(op: RollbackOperation, lockClient: Client, signal: AbortSignal): Promise<void> {
    const target = op.targetPosition;
    const log = this.deps.logger.child({ operation: LOG_OPERATION, operationId: op.id, targetVersion: target.toString() });
    const startedAt = process.hrtime.bigint();
    const lock = new SqlLane('lock', lockClient);
    const abortOnSessionLoss = new AbortController();
    const aborted = AbortSignal.any([signal, abortOnSessionLoss.signal]);
    const onSessionError = (error: Error) => abortOnSessionLoss.abort(new Error(`database session lost: ${error.message}`));
    lockClient.on('error', onSessionError);

    let phase: RollbackPhase = 'pausing';
    let paused = false;
    let previousState: ProjectionState = 'running';
    let lanes: SqlLane<Client>[] = [];
    let readerClient: Client | undefined;
    let progress: RebuildProgress | undefined;
    const counts: RollbackCounts = {};
    log.info({ requestedBy: op.requestedBy, tenantId: op.tenantId, resume: op.resume, eventStore: op.eventStore, runner: op.runner }, 'projection rollback started');
    // The replay logs its own progress; the phases after it (indexes, verification, swap) log a heartbeat.
    const heartbeat = setInterval(() => {
      if (phase !== 'replaying') log.info({ phase, elapsedMs: Math.round(Number(process.hrtime.bigint() - startedAt) / 1e6) }, `still ${phase}`);
    }, Math.max(1000, this.tuning.progressIntervalMs * 2));
    heartbeat.unref();
    try {
      // 1. Pause every pod: the UPDATE waits for any in-flight batch transaction (they hold the row FOR SHARE).
      const pause = await lock.run((c) => this.pause(c, op));
      previousState = pause.previousState;
      paused = true;
      log.info({ previousState, previousCheckpoint: pause.previousCheckpoint.toString() }, 'projection paused on every pod (state rebuilding)');

      // 2. Shadow tables and the sessions that fill them.
      phase = 'replaying';
      const plans = await lock.run((c) => planShadowIndexes(c));
      // Indexes are built after loading (measured faster than maintaining them while loading), except
      // those the rebuild needs itself; tuning.indexesDuringLoad keeps them all from the start.
      const early = this.tuning.indexesDuringLoad ? plans : earlyIndexes(plans);
      await lock.run((c) => createShadowTables(c, plans, early));
      lanes = await this.openLanes(3 + this.tuning.journalLineLanes, onSessionError);
      // The PostgreSQL store lives in this database: one streaming COPY on its own session reads it fastest.
      if (this.tuning.copyReader && this.deps.eventStore.kind === 'postgres') {
        const [reader] = await this.openLanes(1, onSessionError, 'reader');
        lanes.push(reader);
        readerClient = reader.client;
      }
      // The replaced model's size, for the audit: counted on the (otherwise idle) lock session during the replay.
      const previousCounts = lock.run((c) => countRows(c, LIVE_TABLES));
      previousCounts.catch(() => undefined);

      // 3. Replay.
      const replayStarted = Date.now();
      let lastReport = replayStarted;
      progress = await rebuildShadow({
        eventStore: this.deps.eventStore,
        source: readerClient
          ? copyReadEvents(readerClient, { toInclusive: target, streamPrefixes: FINANCE_STREAM_PREFIXES, batchSize: this.tuning.batchSize, highWater: this.tuning.readAhead + 1 })
          : undefined,
        target,
        tables: SHADOW_TABLES,
        lanes: { invoices: lanes[0], payments: lanes[1], journalEntries: lanes[2], journalLines: lanes.slice(3, 3 + this.tuning.journalLineLanes) },
        batchSize: this.tuning.batchSize,
        invoiceCacheSize: this.tuning.invoiceCacheSize,
        readAhead: this.tuning.readAhead,
        batchDelayMs: this.tuning.batchDelayMs,
        signal: aborted,
        onBatch: (p, batch) => {
          this.deps.metrics.rollbackEventsReplayed.inc(batch.eventCount);
          this.deps.metrics.projectionEvents.inc({ mode: 'rebuild' }, batch.eventCount);
          if (batch.unknownEvents > 0) this.deps.metrics.projectionUnknownEvents.inc(batch.unknownEvents);
          const now = Date.now();
          if (now - lastReport < this.tuning.progressIntervalMs) return;
          lastReport = now;
          const eventsPerSecond = Math.round(p.eventsReplayed / Math.max(0.001, (now - replayStarted) / 1000));
          log.info(
            { phase, eventsReplayed: p.eventsReplayed, lastReplayedPosition: p.lastReplayedPosition?.toString(), eventsPerSecond },
            `replaying: ${p.eventsReplayed} events so far`,
          );
          const snapshot = { eventsReplayed: p.eventsReplayed, lastReplayedPosition: p.lastReplayedPosition ?? null };
          lock.run((c) => updateOperation(c, op.id, snapshot)).catch((error: unknown) => abortOnSessionLoss.abort(error));
        },
      });
      const lastReplayed = progress.lastReplayedPosition ?? START_POSITION;
      Object.assign(counts, {
        unknownEvents: progress.unknownEvents,
        malformedEvents: progress.malformedEvents,
        duplicateEvents: progress.duplicateEvents,
        invoicesReloaded: progress.invoicesReloaded,
      });
      const replaySeconds = (Date.now() - replayStarted) / 1000;
      log.info(
        {
          eventsReplayed: progress.eventsReplayed,
          lastReplayedPosition: lastReplayed.toString(),
          eventsPerSecond: Math.round(progress.eventsReplayed / Math.max(0.001, replaySeconds)),
          unknownEvents: progress.unknownEvents,
          malformedEvents: progress.malformedEvents,
        },
        `replayed ${progress.eventsReplayed} events into the shadow tables`,
      );
      if (progress.problems.length > 0) log.warn({ problems: progress.problems.map(problemView) }, `${progress.malformedEvents} event(s) could not be projected and were skipped (as the live projection skips them)`);

      // 4. Indexes and statistics.
      phase = 'indexing';
      await lock.run((c) => updateOperation(c, op.id, { phase, eventsReplayed: progress!.eventsReplayed, lastReplayedPosition: lastReplayed }));
      checkAborted(aborted);
      await this.buildIndexes(lanes, lateIndexes(plans, early));
      checkAborted(aborted);
      log.info({ indexes: plans.length }, 'shadow indexes built and analysed');

      // 5. Verify the rebuilt model before anyone can see it.
      phase = 'verifying';
      await lock.run((c) => updateOperation(c, op.id, { phase }));
      const beforeVerify = this.deps.hooks?.beforeVerify;
      if (beforeVerify) await lanes[0].run((c) => beforeVerify(c));
      const report = await runIntegrityChecks(lanes, SHADOW_TABLES, {
        checkpoint: async () => lastReplayed,
        head: () => this.deps.eventStore.headPosition(),
      });
      if (!report.ok) {
        const failed = report.checks.filter((c) => !c.ok);
        throw new RollbackFailure(`verification failed: ${failed.map((c) => `${c.name} (${c.failures})`).join(', ')}`, { checks: failed });
      }
      Object.assign(counts, {
        invoices: progress.invoices,
        payments: progress.payments,
        journalEntries: progress.journalEntries,
        journalLines: progress.journalLines,
        previous: await previousCounts,
      });
      log.info({ checks: report.checks.map((c) => c.name), durationMs: report.durationMs, counts }, 'rebuilt read model verified');
      checkAborted(aborted);

      // 6. Swap, checkpoint, resume/hold and the operation's success: one transaction.
      phase = 'swapping';
      await lock.run((c) => updateOperation(c, op.id, { phase }));
      await this.closeLanes(lanes);
      lanes = [];
      const finalState = await lock.run((c) => this.swap(c, op, plans, lastReplayed, progress!, counts, log, aborted));
      paused = false;

      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      this.deps.metrics.rollbackTotal.inc({ result: 'succeeded' });
      this.deps.metrics.rollbackDuration.observe(seconds);
      this.deps.metrics.projectionCheckpoint.set(Number(lastReplayed));
      log.info(
        {
          phase: 'done',
          state: finalState,
          checkpoint: lastReplayed.toString(),
          eventsReplayed: progress.eventsReplayed,
          durationMs: Math.round(seconds * 1000),
          eventsPerSecond: Math.round(progress.eventsReplayed / Math.max(0.001, seconds)),
          counts,
        },
        finalState === 'held'
          ? `projection rollback succeeded: read model live at position ${lastReplayed}, projection held until resumed`
          : `projection rollback succeeded: read model live at position ${lastReplayed}, projection resumed`,
      );
    } catch (error) {
      await this.fail(op, error, { phase, paused, previousState, lanes, lock: lockClient, progress, counts, startedAt, log });
      lanes = [];
    } finally {
      clearInterval(heartbeat);
      await this.deps.hooks?.beforeRelease?.();
      lockClient.off('error', onSessionError);
      lockClient.on('error', () => undefined);
      await this.closeLanes(lanes);
      await unlock(lockClient);
      await endClient(lockClient);
    }
  }

  private async pause(client: ClientBase, op: RollbackOperation): Promise<{ previousState: ProjectionState; previousCheckpoint: Position }> {
    await client.query('BEGIN');
    try {
      const { state } = await readControl(client, { forUpdate: true });
      const previousState = state === 'rebuilding' ? 'running' : state;
      await client.query(`UPDATE projection_control SET state = 'rebuilding', operation_id = $2, updated_at = now() WHERE name = $1`, [PROJECTION_NAME, op.id]);
      const previousCheckpoint = await readCheckpoint(client);
      // Recorded in the same transaction: a recovery after a crash knows what to restore.
      await updateOperation(client, op.id, { phase: 'replaying', previousState, previousCheckpoint });
      await client.query('COMMIT');
      return { previousState, previousCheckpoint };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async swap(
    client: ClientBase,
    op: RollbackOperation,
    plans: readonly IndexPlan[],
    lastReplayed: Position,
    progress: RebuildProgress,
    counts: RollbackCounts,
    log: Log,
    signal: AbortSignal,
  ): Promise<ProjectionState> {
    const finalState: ProjectionState = op.resume ? 'running' : 'held';
    const deadlockTimeoutMs = (await client.query<{ ms: number }>(DEADLOCK_TIMEOUT_MS_SQL)).rows[0].ms;
    for (let attempt = 1; ; attempt++) {
      checkAborted(signal);
      const waitMs = swapLockWaitMs(attempt, this.tuning.swapLockTimeoutMs, deadlockTimeoutMs);
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL lock_timeout = '${waitMs}ms'`);
        const control = await readControl(client, { forUpdate: true });
        if (control.state !== 'rebuilding' || control.operationId !== op.id) {
          throw new RollbackFailure(`projection state changed under the rollback (state ${control.state}, operation ${control.operationId ?? 'none'})`);
        }
        await swapShadowTables(client, plans);
        await client.query('UPDATE projection_checkpoint SET position = $2, updated_at = now() WHERE name = $1', [PROJECTION_NAME, lastReplayed.toString()]);
        await client.query(
          'UPDATE projection_control SET state = $2, operation_id = NULL, hold_position = $3, updated_at = now() WHERE name = $1',
          [PROJECTION_NAME, finalState, finalState === 'held' ? op.targetPosition.toString() : null],
        );
        const finished = await finishOperation(client, op.id, {
          status: 'succeeded',
          phase: 'done',
          counts,
          eventsReplayed: progress.eventsReplayed,
          lastReplayedPosition: lastReplayed,
        });
        if (!finished) throw new RollbackFailure('the operation is no longer running (it was reset by a recovery)');
        await client.query('COMMIT');
        return finalState;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (!(isLockTimeout(error) || isDeadlock(error)) || attempt >= this.tuning.swapAttempts) throw error;
        const why = isDeadlock(error)
          ? 'the swap deadlocked with a session that held one live table and waited for another (PostgreSQL cancelled the swap)'
          : 'another session (a reader or an autovacuum) held the live tables longer than the swap waits';
        log.warn({ attempt, lockTimeoutMs: waitMs, code: (error as { code?: string }).code }, `${why}; retrying the swap`);
      }
    }
  }

  private async fail(
    op: RollbackOperation,
    error: unknown,
    ctx: {
      phase: RollbackPhase;
      paused: boolean;
      previousState: ProjectionState;
      lanes: SqlLane<Client>[];
      lock: Client;
      progress: RebuildProgress | undefined;
      counts: RollbackCounts;
      startedAt: bigint;
      log: Log;
    },
  ): Promise<void> {
    const message = errorMessage(error);
    const details = error instanceof RollbackFailure ? error.details : {};
    ctx.log.error({ phase: ctx.phase, err: error, ...details }, `projection rollback failed in phase ${ctx.phase}: ${message}`);
    // Stop the writers first (ending a session aborts its statement), then clean up on the lock session.
    await this.closeLanes(ctx.lanes);
    try {
      await ctx.lock.query('ROLLBACK').catch(() => undefined);
      await dropShadowTables(ctx.lock);
      if (ctx.paused) {
        await ctx.lock.query(
          `UPDATE projection_control SET state = $3, operation_id = NULL, updated_at = now() WHERE name = $1 AND state = 'rebuilding' AND operation_id = $2`,
          [PROJECTION_NAME, op.id, ctx.previousState],
        );
      }
      await finishOperation(ctx.lock, op.id, {
        status: 'failed',
        phase: ctx.phase,
        error: message,
        counts: ctx.counts,
        eventsReplayed: ctx.progress?.eventsReplayed,
        lastReplayedPosition: ctx.progress?.lastReplayedPosition ?? null,
      });
      ctx.log.warn(
        { phase: ctx.phase, state: ctx.paused ? ctx.previousState : undefined },
        'previous read model and checkpoint kept; shadow tables dropped; projection state restored',
      );
    } catch (cleanupError) {
      // The lock goes with the session; the next recovery check (any pod) finishes the cleanup.
      ctx.log.error({ err: cleanupError }, `cleanup after the failed rollback did not complete (${errorMessage(cleanupError)}); the recovery check will reset it`);
    }
    this.deps.metrics.rollbackTotal.inc({ result: 'failed' });
    this.deps.metrics.rollbackDuration.observe(Number(process.hrtime.bigint() - ctx.startedAt) / 1e9);
  }

  // ------------------------------------------------------------------------------------------ recovery

  private async recoverIfDead(trigger: string): Promise<string[]> {
    if (this.active) return []; // this process's own rollback holds the lock: nothing is dead
    const { rows } = await this.deps.pool.query<{ state: string | null; running: boolean }>(
      `SELECT (SELECT state FROM projection_control WHERE name = $1) AS state,
              EXISTS (SELECT 1 FROM projection_rollback_operations WHERE status = 'running') AS running`,
      [PROJECTION_NAME],
    );
    const suspicious = rows[0]?.state === 'rebuilding' || rows[0]?.running === true || (await shadowTablesExist(this.deps.pool));
    if (!suspicious) return [];
    const client = await this.connect('recovery');
    try {
      if (!(await tryLock(client))) return []; // a live rollback holds the lock
      try {
        return await this.recoverLocked(client, trigger);
      } finally {
        await unlock(client);
      }
    } finally {
      await endClient(client);
    }
  }

  /** The reset itself; the caller holds the rollback lock, so no rollback is alive. */
  private async recoverLocked(client: ClientBase, trigger: string): Promise<string[]> {
    await client.query('BEGIN');
    try {
      await dropShadowTables(client);
      const ops = await client.query<{ id: string; target: string; phase: string; previous_state: string | null }>(
        `SELECT id::text AS id, target_position::text AS target, phase, previous_state FROM projection_rollback_operations WHERE status = 'running' FOR UPDATE`,
      );
      const control = await readControl(client);
      let restored: string | undefined;
      if (control.state === 'rebuilding') {
        const dead = ops.rows.find((o) => o.id === control.operationId);
        restored = dead?.previous_state && ['running', 'paused', 'held'].includes(dead.previous_state) ? dead.previous_state : 'running';
        await client.query(`UPDATE projection_control SET state = $2, operation_id = NULL, updated_at = now() WHERE name = $1`, [PROJECTION_NAME, restored]);
      }
      for (const dead of ops.rows) {
        await finishOperation(client, dead.id, {
          status: 'failed',
          error: `interrupted: the rollback's process or database session ended during phase ${dead.phase}; reset by ${this.runner} (${trigger})`,
        });
      }
      await client.query('COMMIT');
      for (const dead of ops.rows) {
        this.deps.metrics.rollbackTotal.inc({ result: 'failed' });
        this.deps.logger.warn(
          { operation: LOG_OPERATION, operationId: dead.id, targetVersion: dead.target, phase: dead.phase, trigger, restoredState: restored },
          'reset an interrupted projection rollback: shadow tables dropped, previous read model and checkpoint kept, projection state restored',
        );
      }
      if (ops.rows.length === 0 && restored) {
        this.deps.logger.warn({ operation: LOG_OPERATION, operationId: control.operationId, trigger, restoredState: restored }, 'projection state was left rebuilding with no rollback alive; restored');
      }
      return ops.rows.map((o) => o.id);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  // ------------------------------------------------------------------------------------------ helpers

  private async connect(purpose: string): Promise<Client> {
    const client = dedicatedClient(this.deps.pool, `finance-service rollback ${purpose}`);
    client.on('error', () => undefined); // a broken session surfaces as a failed query
    await client.connect();
    return client;
  }

  private async openLanes(count: number, onError: (error: Error) => void, role = 'writer'): Promise<SqlLane<Client>[]> {
    const lanes: SqlLane<Client>[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const name = count === 1 && role !== 'writer' ? role : `${role} ${i + 1}`;
        const client = await this.connect(name);
        client.on('error', onError);
        lanes.push(new SqlLane(name, client));
        // Shadow rows need no synchronous commit: the swap's own commit flushes all WAL before it.
        // (maintenance_)work_mem: sorts for index builds and the verification's hash aggregates stay in memory.
        await client.query(`SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET work_mem = '256MB'`);
      }
      return lanes;
    } catch (error) {
      await this.closeLanes(lanes);
      throw error;
    }
  }

  private async closeLanes(lanes: SqlLane<Client>[]): Promise<void> {
    await Promise.all(lanes.map((lane) => endClient(lane.client)));
  }

  private async buildIndexes(lanes: SqlLane<Client>[], plans: readonly IndexPlan[]): Promise<void> {
    // The daily balances are summed from the loaded lines, then indexed: one task, first (a short scan).
    const daily = plans.filter((p) => p.table === 'accountDailyBalances');
    const fillDaily = async (lane: SqlLane) => {
      await lane.query(fillDailyBalancesSql(SHADOW_TABLES));
      for (const plan of daily) await lane.query(plan.build);
    };
    // Then the largest tables first, so the sessions finish together; key constraints adopt their index after.
    const order: Record<string, number> = { journalLines: 0, journalEntries: 1, payments: 2, invoices: 3 };
    const late = plans.filter((p) => !daily.includes(p)).sort((a, b) => order[a.table] - order[b.table]);
    // As many builds at once as there are cores to spare; more only makes them fight over CPU and cache.
    await runSpread<SqlLane, unknown>(lanes.slice(0, this.tuning.indexBuilders), [fillDaily, ...late.map((plan) => (lane: SqlLane) => lane.query(plan.build))]);
    for (const plan of plans) if (plan.attach) await lanes[0].query(plan.attach);
    await runSpread(
      lanes,
      TABLE_KEYS.map((key) => (lane: SqlLane) => lane.query(`ANALYZE ${quoteTable(SHADOW_TABLES[key])}`)),
    );
  }

}

// ---------------------------------------------------------------------------------------------

async function countRows(client: ClientBase, tables: ReadModelTables): Promise<{ invoices: number; payments: number; journalEntries: number; journalLines: number }> {
  const { rows } = await client.query<{ invoices: string; payments: string; journal_entries: string; journal_lines: string }>(
    `SELECT (SELECT count(*) FROM ${quoteTable(tables.invoices)})::text AS invoices, (SELECT count(*) FROM ${quoteTable(tables.payments)})::text AS payments,
            (SELECT count(*) FROM ${quoteTable(tables.journalEntries)})::text AS journal_entries,
            (SELECT count(*) FROM ${quoteTable(tables.journalLines)})::text AS journal_lines`,
  );
  const r = rows[0];
  return { invoices: Number(r.invoices), payments: Number(r.payments), journalEntries: Number(r.journal_entries), journalLines: Number(r.journal_lines) };
}

async function tryLock(client: ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [ROLLBACK_LOCK_KEY.toString()]);
  return rows[0].locked;
}

/** Waits up to timeoutMs for the rollback lock (lock_timeout bounds an advisory lock wait too). */
async function waitForLock(client: ClientBase, timeoutMs: number): Promise<boolean> {
  await client.query(`SET lock_timeout = '${Math.max(1, Math.round(timeoutMs))}ms'`);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ROLLBACK_LOCK_KEY.toString()]);
    return true;
  } catch (error) {
    if (isLockTimeout(error)) return false;
    throw error;
  } finally {
    await client.query('RESET lock_timeout');
  }
}

async function unlock(client: ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1)', [ROLLBACK_LOCK_KEY.toString()]).catch(() => undefined);
}

async function endClient(client: Client): Promise<void> {
  await client.end().catch(() => undefined);
}

function parseResume(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new RollbackRequestError('resume', `resume must be a boolean, got ${describeValue(value)}`);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 60)}...` : text;
  } catch {
    return String(value);
  }
}

function isLockTimeout(error: unknown): boolean {
  return (error as { code?: string })?.code === '55P03';
}

/** deadlock_detected: the swap, which locks five tables, was the session PostgreSQL chose to cancel. */
function isDeadlock(error: unknown): boolean {
  return (error as { code?: string })?.code === '40P01';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function problemView(problem: { position: bigint; streamId: string; type: string; reason: string }) {
  return { position: problem.position.toString(), streamId: problem.streamId, type: problem.type, reason: problem.reason };
}
