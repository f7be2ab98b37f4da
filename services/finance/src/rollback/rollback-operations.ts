/**
 * The rollback operations / audit table (migration 1700000003000-RollbackAudit): progress of the running
 * rollback, readable from any pod, and the permanent record of every rollback.
 */
import type { Position } from '../event-store/position';
import type { Queryable } from '../projections/read-model-writer';

const OPERATIONS_TABLE = 'projection_rollback_operations';

export type RollbackStatus = 'running' | 'succeeded' | 'failed';
export type RollbackPhase = 'starting' | 'pausing' | 'replaying' | 'indexing' | 'verifying' | 'swapping' | 'done';

/** Row counts of the rebuilt read model, and of the one it replaced. */
export interface RollbackCounts {
  invoices?: number;
  payments?: number;
  journalEntries?: number;
  journalLines?: number;
  unknownEvents?: number;
  malformedEvents?: number;
  duplicateEvents?: number;
  previous?: { invoices: number; payments: number; journalEntries: number; journalLines: number };
  [extra: string]: unknown;
}

export interface RollbackOperation {
  id: string;
  requestedBy: string;
  tenantId: string;
  targetPosition: Position;
  resume: boolean;
  status: RollbackStatus;
  phase: RollbackPhase;
  eventsReplayed: number;
  lastReplayedPosition: Position | null;
  previousCheckpoint: Position | null;
  previousState: string | null;
  eventStore: string | null;
  runner: string | null;
  error: string | null;
  counts: RollbackCounts;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
}

const COLUMNS = `id::text AS id, requested_by, tenant_id, target_position::text AS target_position, resume, status, phase,
  events_replayed::text AS events_replayed, last_replayed_position::text AS last_replayed_position,
  previous_checkpoint::text AS previous_checkpoint, previous_state, event_store, runner, error, counts,
  started_at, updated_at, finished_at, duration_ms::text AS duration_ms`;

interface OperationRow {
  id: string;
  requested_by: string;
  tenant_id: string;
  target_position: string;
  resume: boolean;
  status: RollbackStatus;
  phase: RollbackPhase;
  events_replayed: string;
  last_replayed_position: string | null;
  previous_checkpoint: string | null;
  previous_state: string | null;
  event_store: string | null;
  runner: string | null;
  error: string | null;
  counts: RollbackCounts;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  duration_ms: string | null;
}

function toOperation(r: OperationRow): RollbackOperation {
  return {
    id: r.id,
    requestedBy: r.requested_by,
    tenantId: r.tenant_id,
    targetPosition: BigInt(r.target_position),
    resume: r.resume,
    status: r.status,
    phase: r.phase,
    eventsReplayed: Number(r.events_replayed),
    lastReplayedPosition: r.last_replayed_position === null ? null : BigInt(r.last_replayed_position),
    previousCheckpoint: r.previous_checkpoint === null ? null : BigInt(r.previous_checkpoint),
    previousState: r.previous_state,
    eventStore: r.event_store,
    runner: r.runner,
    error: r.error,
    counts: r.counts ?? {},
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  };
}

export interface NewOperation {
  id: string;
  requestedBy: string;
  tenantId: string;
  targetPosition: Position;
  resume: boolean;
  eventStore: string;
  runner: string;
}

export async function insertOperation(db: Queryable, op: NewOperation): Promise<RollbackOperation> {
  const { rows } = await db.query<OperationRow>(
    `INSERT INTO ${OPERATIONS_TABLE} (id, requested_by, tenant_id, target_position, resume, status, phase, event_store, runner)
     VALUES ($1, $2, $3, $4, $5, 'running', 'starting', $6, $7) RETURNING ${COLUMNS}`,
    [op.id, op.requestedBy, op.tenantId, op.targetPosition.toString(), op.resume, op.eventStore, op.runner],
  );
  return toOperation(rows[0]);
}

export interface OperationProgress {
  phase?: RollbackPhase;
  eventsReplayed?: number;
  lastReplayedPosition?: Position | null;
  previousCheckpoint?: Position;
  previousState?: string;
  counts?: RollbackCounts;
}

/** Records progress of a running operation (no effect once it has finished). */
export async function updateOperation(db: Queryable, id: string, progress: OperationProgress): Promise<void> {
  await db.query(
    `UPDATE ${OPERATIONS_TABLE} SET
       phase = coalesce($2, phase),
       events_replayed = coalesce($3::bigint, events_replayed),
       last_replayed_position = coalesce($4::bigint, last_replayed_position),
       previous_checkpoint = coalesce($5::bigint, previous_checkpoint),
       previous_state = coalesce($6, previous_state),
       counts = counts || coalesce($7::jsonb, '{}'::jsonb),
       updated_at = now()
     WHERE id = $1 AND status = 'running'`,
    [
      id,
      progress.phase ?? null,
      progress.eventsReplayed ?? null,
      progress.lastReplayedPosition?.toString() ?? null,
      progress.previousCheckpoint?.toString() ?? null,
      progress.previousState ?? null,
      progress.counts ? JSON.stringify(progress.counts) : null,
    ],
  );
}

/** Marks a running operation finished; returns false when it was not running any more. */
export async function finishOperation(
  db: Queryable,
  id: string,
  result: { status: 'succeeded' | 'failed'; phase?: RollbackPhase; error?: string; counts?: RollbackCounts; eventsReplayed?: number; lastReplayedPosition?: Position | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${OPERATIONS_TABLE} SET
       status = $2,
       phase = coalesce($3, phase),
       error = $4,
       counts = counts || coalesce($5::jsonb, '{}'::jsonb),
       events_replayed = coalesce($6::bigint, events_replayed),
       last_replayed_position = coalesce($7::bigint, last_replayed_position),
       finished_at = clock_timestamp(),
       updated_at = clock_timestamp(),
       duration_ms = floor(extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint
     WHERE id = $1 AND status = 'running'`,
    [
      id,
      result.status,
      result.phase ?? null,
      result.error ?? null,
      result.counts ? JSON.stringify(result.counts) : null,
      result.eventsReplayed ?? null,
      result.lastReplayedPosition?.toString() ?? null,
    ],
  );
  return (rowCount ?? 0) > 0;
}

export async function findOperation(db: Queryable, id: string): Promise<RollbackOperation | undefined> {
  const { rows } = await db.query<OperationRow>(`SELECT ${COLUMNS} FROM ${OPERATIONS_TABLE} WHERE id = $1`, [id]);
  return rows[0] ? toOperation(rows[0]) : undefined;
}

export async function listOperations(db: Queryable, limit: number): Promise<RollbackOperation[]> {
  const { rows } = await db.query<OperationRow>(`SELECT ${COLUMNS} FROM ${OPERATIONS_TABLE} ORDER BY started_at DESC, id LIMIT $1`, [limit]);
  return rows.map(toOperation);
}

export async function runningOperations(db: Queryable): Promise<RollbackOperation[]> {
  const { rows } = await db.query<OperationRow>(`SELECT ${COLUMNS} FROM ${OPERATIONS_TABLE} WHERE status = 'running'`);
  return rows.map(toOperation);
}

/** The JSON an operator sees (positions as decimal strings). */
export function operationView(op: RollbackOperation) {
  return {
    operationId: op.id,
    status: op.status,
    phase: op.phase,
    targetVersion: op.targetPosition.toString(),
    resume: op.resume,
    eventsReplayed: op.eventsReplayed,
    lastReplayedPosition: op.lastReplayedPosition?.toString() ?? null,
    previousCheckpoint: op.previousCheckpoint?.toString() ?? null,
    previousState: op.previousState,
    requestedBy: op.requestedBy,
    tenantId: op.tenantId,
    eventStore: op.eventStore,
    runner: op.runner,
    startedAt: op.startedAt.toISOString(),
    updatedAt: op.updatedAt.toISOString(),
    finishedAt: op.finishedAt?.toISOString() ?? null,
    durationMs: op.durationMs,
    error: op.error,
    counts: op.counts,
  };
}

export type RollbackOperationView = ReturnType<typeof operationView>;
