/**
 * The live projection manager: follows the event store in global order from the checkpoint and
 * applies each batch to the read models, with ONE pod in the cluster projecting at a time.
 * Plain class (no Nest): projections.module.ts starts and stops it.
 *
 * Leadership: a session advisory lock (PROJECTION_LEADER_LOCK_KEY) taken with pg_try_advisory_lock on
 * a dedicated connection kept open. Followers retry every leaderRetryMs. When the leader dies its
 * session ends, PostgreSQL releases the lock and a follower takes over. A leader whose connection
 * fails stops projecting at once, and every batch transaction re-checks in pg_locks that this pod's
 * session still holds the lock (a fence), so a partitioned ex-leader can never write.
 *
 * One batch = one transaction (the pause protocol):
 *   BEGIN
 *   SELECT state FROM projection_control WHERE name = 'finance' FOR SHARE     -- nothing unless 'running'
 *   SELECT position, <leader fence> FROM projection_checkpoint ... FOR UPDATE   -- must equal where we read from
 *   load the touched invoices, project, write rows (bulk)
 *   UPDATE projection_checkpoint SET position = <last event of the batch>
 *   COMMIT
 * A crash anywhere before COMMIT applies nothing; after it, everything: never double-applied or skipped.
 * A rollback that moved the checkpoint makes the compare fail, and the manager re-reads from the new one.
 */
import { hostname } from 'node:os';
import { Client, ClientConfig, Pool } from 'pg';
import { dedicatedClient } from '../database/dedicated-session';
import type { EventStore, RecordedEvent } from '../event-store/event-store';
import type { Position } from '../event-store/position';
import { FINANCE_STREAM_PREFIXES } from '../domain/events';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { invoiceIdsReferenced, projectBatch } from './finance-projector';
import { DEFAULT_GAUGE_REFRESH_MS, ProjectionGauges } from './projection-gauges';
import type { ProjectionBatch } from './read-model-rows';
import { LIVE_TABLES, loadInvoices, writeBatch } from './read-model-writer';
import {
  advisoryLockParts,
  PROJECTION_LEADER_LOCK_KEY,
  PROJECTION_NAME,
  ProjectionState,
} from './projection-state';
import { ProjectionStatus, ProjectionStatusReader } from './projection-status';
import { nextHandled } from '../util/next-handled';
import { withTimeout } from '../util/with-timeout';

/** The subset of a pino logger the manager uses. */
export interface ProjectionLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ProjectionManagerOptions {
  /** Pool for the batch transactions (and reads of the checkpoint). */
  pool: Pool;
  eventStore: EventStore;
  metrics?: FinanceMetrics;
  logger?: ProjectionLogger;
  /**
   * Opens the dedicated connection that holds the leader lock. Default: a new pg Client with the
   * pool's connection settings and application_name `finance-projection@<hostname>`.
   */
  connectLeaderSession?: () => Promise<Client>;
  /** Events per batch (default 2000). */
  batchSize?: number;
  /** Wait between polls when caught up (default 150 ms). */
  idlePollMs?: number;
  /** Followers try the lock this often (default 1000 ms). */
  leaderRetryMs?: number;
  /** The leader pings its lock connection when it has been quiet this long (default 1000 ms). */
  leaderCheckMs?: number;
  /** Wait after an error before trying again (default 1000 ms). */
  errorBackoffMs?: number;
  /** How often head, checkpoint and lag gauges are refreshed on every pod (default 2000 ms; 0 = never). */
  metricsRefreshMs?: number;
  /** Called (at most every 5 s) when the leader finds state 'rebuilding': the rollback's recovery hook. */
  onRebuildingSeen?: () => void | Promise<void>;
  /** Test hook: runs inside the batch transaction after the rows are written, before COMMIT. */
  beforeCommit?: (batch: ProjectionBatch) => void | Promise<void>;
}

export interface ProjectionManagerStats {
  batchesApplied: number;
  eventsApplied: number;
  /** Batch transactions that found projection_control.state other than 'running' (and applied nothing). */
  notRunningPolls: number;
  /** Times the checkpoint had moved under this manager (a rollback), so it re-read from the new one. */
  checkpointMoves: number;
  leadershipsTaken: number;
}

type BatchOutcome =
  | { kind: 'applied'; position: Position }
  | { kind: 'not-running'; state: ProjectionState }
  | { kind: 'moved'; position: Position }
  | { kind: 'not-leader' };

export class ProjectionManager {
  private readonly pool: Pool;
  private readonly eventStore: EventStore;
  private readonly metrics?: FinanceMetrics;
  private readonly logger?: ProjectionLogger;
  private readonly batchSize: number;
  private readonly idlePollMs: number;
  private readonly leaderRetryMs: number;
  private readonly leaderCheckMs: number;
  private readonly errorBackoffMs: number;
  private readonly metricsRefreshMs: number;
  private readonly statusReader: ProjectionStatusReader;
  private readonly gauges: ProjectionGauges;
  private readonly lockParts = advisoryLockParts(PROJECTION_LEADER_LOCK_KEY);

  private loop?: Promise<void>;
  private stopping = false;
  private wake?: () => void;

  private session?: Client;
  private sessionPid?: number;
  private sessionLost = false;
  private leader = false;
  private lastSessionCheck = 0;
  private lastRebuildingHook = 0;
  private lastErrorLog = 0;
  private readonly counters: ProjectionManagerStats = { batchesApplied: 0, eventsApplied: 0, notRunningPolls: 0, checkpointMoves: 0, leadershipsTaken: 0 };

  constructor(private readonly options: ProjectionManagerOptions) {
    this.pool = options.pool;
    this.eventStore = options.eventStore;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.batchSize = options.batchSize ?? 2000;
    this.idlePollMs = options.idlePollMs ?? 150;
    this.leaderRetryMs = options.leaderRetryMs ?? 1000;
    this.leaderCheckMs = options.leaderCheckMs ?? 1000;
    this.errorBackoffMs = options.errorBackoffMs ?? 1000;
    this.metricsRefreshMs = options.metricsRefreshMs ?? DEFAULT_GAUGE_REFRESH_MS;
    this.statusReader = new ProjectionStatusReader(this.pool, this.eventStore, this);
    this.gauges = new ProjectionGauges(this.pool, this.eventStore, this.metrics);
  }

  /** Starts following the event store (idempotent). */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run().catch((error: unknown) => this.logger?.error({ err: error }, 'projection manager stopped unexpectedly'));
    this.gauges.start(this.metricsRefreshMs);
  }

  /** Stops: waits for an in-flight batch to commit or roll back, then releases the leader lock. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.gauges.stop();
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.dropLeadership('stopped');
  }

  /** Whether this instance holds the leader lock right now. */
  isLeader(): boolean {
    return this.leader;
  }

  isRunning(): boolean {
    return this.loop !== undefined && !this.stopping;
  }

  /** Backend pid of this instance's lock session (while it has one). */
  leaderSessionPid(): number | undefined {
    return this.leader ? this.sessionPid : undefined;
  }

  /** What this instance did since it was created. */
  stats(): Readonly<ProjectionManagerStats> {
    return { ...this.counters };
  }

  /** State, checkpoint, head, lag and leader, for GET /admin/finance/projections. */
  status(): Promise<ProjectionStatus> {
    return this.statusReader.read();
  }

  // -------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.leader || this.sessionLost) {
          if (this.leader) await this.dropLeadership('lock connection lost');
          if (!(await this.tryAcquireLeadership())) {
            await this.sleep(this.leaderRetryMs);
            continue;
          }
        }
        if (!(await this.checkSession())) continue;
        const more = await this.catchUp();
        if (!more) await this.sleep(this.idlePollMs);
      } catch (error) {
        const now = Date.now();
        if (now - this.lastErrorLog > 10_000 || this.logger === undefined) {
          this.lastErrorLog = now;
          this.logger?.error({ err: error }, 'projection: batch failed; retrying');
        }
        await this.sleep(this.errorBackoffMs);
      }
    }
  }

  /**
   * Applies batches until caught up. Returns true when it should run again at once (the checkpoint
   * moved under it, e.g. after a rollback), false when it should wait a poll interval.
   */
  private async catchUp(): Promise<boolean> {
    // A cheap look first: while a rollback runs (or an operator paused), read no events at all.
    const { rows } = await this.pool.query<{ state: ProjectionState; position: string }>(
      `SELECT c.state, k.position::text AS position FROM projection_control c, projection_checkpoint k WHERE c.name = $1 AND k.name = $1`,
      [PROJECTION_NAME],
    );
    if (rows.length === 0) throw new Error(`projection state rows '${PROJECTION_NAME}' are missing (migration 1700000002000 not applied?)`);
    if (rows[0].state !== 'running') {
      this.counters.notRunningPolls++;
      await this.onNotRunning(rows[0].state);
      return false;
    }
    let checkpoint = BigInt(rows[0].position);
    let scanned = checkpoint;
    const iterator = this.eventStore
      .readAll({ fromExclusive: checkpoint, batchSize: this.batchSize, streamPrefixes: [...FINANCE_STREAM_PREFIXES], onScanned: (p) => (scanned = p) })
      [Symbol.asyncIterator]();
    // A page read ahead may fail while the batch before it is written: awaiting it below throws the
    // error, which the loop logs and retries.
    let pending: Promise<IteratorResult<RecordedEvent[]>> | undefined = nextHandled(iterator);
    try {
      while (pending !== undefined) {
        const next: IteratorResult<RecordedEvent[]> = await pending;
        pending = undefined;
        if (next.done) {
          // Only other streams' events after the checkpoint (a shared EventStoreDB): move past them, or
          // every idle poll would read them all again, more of them each time.
          if (scanned > checkpoint) await this.applyBatch([], checkpoint, scanned);
          return false;
        }
        const events = next.value;
        if (events.length === 0) {
          pending = nextHandled(iterator);
          continue;
        }
        const full = events.length >= this.batchSize;
        // Read the next page while this one is written: Node and PostgreSQL take turns otherwise.
        if (full) pending = nextHandled(iterator);
        const outcome = await this.applyBatch(events, checkpoint);
        switch (outcome.kind) {
          case 'applied':
            checkpoint = outcome.position;
            break;
          case 'moved':
            this.counters.checkpointMoves++;
            this.logger?.info({ checkpoint: outcome.position.toString() }, 'projection: checkpoint moved (rollback?); re-reading from it');
            return true;
          case 'not-running':
            this.counters.notRunningPolls++;
            await this.onNotRunning(outcome.state);
            return false;
          case 'not-leader':
            return false;
        }
        if (this.stopping || !this.leader) return false;
      }
      return false;
    } finally {
      await iterator.return?.(undefined).catch(() => undefined);
    }
  }

  /** Applies `events` (or, with none, only moves the checkpoint to `skipTo`) in one guarded transaction. */
  private async applyBatch(events: RecordedEvent[], expectedCheckpoint: Position, skipTo?: Position): Promise<BatchOutcome> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const control = await client.query<{ state: ProjectionState }>('SELECT state FROM projection_control WHERE name = $1 FOR SHARE', [PROJECTION_NAME]);
      const state = control.rows[0]?.state;
      if (state !== 'running') {
        await client.query('ROLLBACK');
        return { kind: 'not-running', state: state ?? 'paused' };
      }
      const cp = await client.query<{ position: string; leader: boolean }>(
        `SELECT position::text AS position,
           EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $2
                   AND classid = $3::oid AND objid = $4::oid AND objsubid = 1) AS leader
         FROM projection_checkpoint WHERE name = $1 FOR UPDATE`,
        [PROJECTION_NAME, this.sessionPid ?? -1, this.lockParts.classid, this.lockParts.objid],
      );
      if (!cp.rows[0]?.leader) {
        await client.query('ROLLBACK');
        this.sessionLost = true;
        this.logger?.warn({ pid: this.sessionPid }, 'projection: this pod no longer holds the leader lock; stopping projection');
        return { kind: 'not-leader' };
      }
      const current = BigInt(cp.rows[0].position);
      if (current !== expectedCheckpoint) {
        await client.query('ROLLBACK');
        return { kind: 'moved', position: current };
      }
      const before = await loadInvoices(client, invoiceIdsReferenced(events), LIVE_TABLES);
      const batch = projectBatch(events, before);
      await writeBatch(client, batch, LIVE_TABLES);
      const position = (batch.lastPosition ?? skipTo) as Position;
      await client.query('UPDATE projection_checkpoint SET position = $2, updated_at = now() WHERE name = $1', [PROJECTION_NAME, position.toString()]);
      if (this.options.beforeCommit) await this.options.beforeCommit(batch);
      await client.query('COMMIT');
      this.afterCommit(batch, position);
      return { kind: 'applied', position };
    } catch (error) {
      broken = error as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction is discarded rather than reused.
      client.release(broken !== undefined && isConnectionError(broken) ? broken : undefined);
    }
  }

  private afterCommit(batch: ProjectionBatch, position: Position): void {
    if (batch.eventCount > 0) this.counters.batchesApplied++; // not a checkpoint moved past other streams' events
    this.counters.eventsApplied += batch.eventCount;
    if (batch.malformedEvents > 0) {
      for (const problem of batch.problems.slice(0, 20)) {
        this.logger?.error(
          { position: problem.position.toString(), streamId: problem.streamId, type: problem.type, reason: problem.reason },
          'projection: skipped an event whose data cannot be projected',
        );
      }
    }
    if (batch.unknownEvents > 0) this.logger?.warn({ count: batch.unknownEvents }, 'projection: skipped events of unknown type');
    const m = this.metrics;
    if (m) {
      m.projectionEvents.inc({ mode: 'live' }, batch.eventCount);
      if (batch.unknownEvents > 0) m.projectionUnknownEvents.inc(batch.unknownEvents);
    }
    this.gauges.applied(position);
  }

  private async onNotRunning(state: ProjectionState): Promise<void> {
    if (state !== 'rebuilding' || !this.options.onRebuildingSeen) return;
    const now = Date.now();
    if (now - this.lastRebuildingHook < 5000) return;
    this.lastRebuildingHook = now;
    try {
      await this.options.onRebuildingSeen();
    } catch (error) {
      this.logger?.warn({ err: error }, 'projection: rebuilding-state hook failed');
    }
  }

  // ---------------------------------------------------------------------------------- leadership

  private async tryAcquireLeadership(): Promise<boolean> {
    if (this.session === undefined || this.sessionLost) {
      await this.closeSession();
      await this.openSession();
    }
    const session = this.session as Client;
    const { rows } = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::int8) AS locked', [PROJECTION_LEADER_LOCK_KEY.toString()]);
    if (!rows[0].locked) return false;
    this.leader = true;
    this.counters.leadershipsTaken++;
    this.lastSessionCheck = Date.now();
    this.logger?.info({ pid: this.sessionPid }, 'projection: this pod is now the projection leader');
    return true;
  }

  private async openSession(): Promise<void> {
    const client = this.options.connectLeaderSession ? await this.options.connectLeaderSession() : await this.defaultSession();
    const lost = (error?: Error) => {
      if (this.session !== client) return; // an old session closing
      if (error && !this.sessionLost) this.logger?.warn({ err: error }, 'projection: leader lock connection failed');
      this.sessionLost = true;
      this.wake?.();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    this.session = client;
    this.sessionLost = false;
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.sessionPid = rows[0].pid;
  }

  private async defaultSession(): Promise<Client> {
    const base = (this.pool as unknown as { options: ClientConfig }).options;
    const client = dedicatedClient(this.pool, `finance-projection@${hostname()}`, {
      keepAlive: true,
      connectionTimeoutMillis: base.connectionTimeoutMillis ?? 5000,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  /** Pings the lock connection when it has been quiet for leaderCheckMs; false (and not leader) if it is gone. */
  private async checkSession(): Promise<boolean> {
    if (this.sessionLost || this.session === undefined) {
      await this.dropLeadership('lock connection lost');
      return false;
    }
    if (Date.now() - this.lastSessionCheck < this.leaderCheckMs) return true;
    try {
      await withTimeout(this.session.query('SELECT 1'), Math.max(this.leaderCheckMs, 2000), 'leader lock connection');
      this.lastSessionCheck = Date.now();
      return true;
    } catch (error) {
      this.logger?.warn({ err: error }, 'projection: leader lock connection does not answer; stopping projection');
      this.sessionLost = true;
      await this.dropLeadership('lock connection lost');
      return false;
    }
  }

  private async dropLeadership(reason: string): Promise<void> {
    const was = this.leader;
    this.leader = false;
    await this.closeSession();
    if (was) this.logger?.info({ reason }, 'projection: this pod stopped leading the projection');
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.sessionPid = undefined;
    if (session === undefined) return;
    // Ending the session releases its advisory lock.
    await withTimeout(session.end(), 2000, 'leader lock connection').catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

function isConnectionError(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === undefined || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}
