/**
 * Projection state in PostgreSQL (tables projection_checkpoint and projection_control, migration
 * 1700000002000): the checkpoint, the control row of the pause protocol, and the leader lock.
 * Shared by the live projection manager, its status reader and the rollback.
 */
import type { Position } from '../event-store/position';
import type { Queryable } from './read-model-writer';

/** The row name of the finance read models in projection_checkpoint / projection_control. */
export const PROJECTION_NAME = 'finance';

export type ProjectionState = 'running' | 'paused' | 'rebuilding' | 'held';

/**
 * Session advisory lock (bigint key) held by the one projecting pod on a dedicated connection.
 * Other keys in the service: 7431100001 (migrations), 7366034862003122753 (event store appends).
 */
export const PROJECTION_LEADER_LOCK_KEY = 7_431_100_002n;

/** How pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
export function advisoryLockParts(key: bigint): { classid: string; objid: string } {
  return { classid: ((key >> 32n) & 0xffffffffn).toString(), objid: (key & 0xffffffffn).toString() };
}

export interface ProjectionControl {
  state: ProjectionState;
  operationId: string | null;
  holdPosition: Position | null;
  updatedAt: Date;
}

export async function readCheckpoint(db: Queryable, name = PROJECTION_NAME): Promise<Position> {
  const { rows } = await db.query<{ position: string }>('SELECT position::text AS position FROM projection_checkpoint WHERE name = $1', [name]);
  if (rows.length === 0) throw new Error(`projection_checkpoint has no row '${name}' (migration 1700000002000 not applied?)`);
  return BigInt(rows[0].position);
}

/** The projection's control row; `forUpdate` locks it until the caller's transaction ends. */
export async function readControl(db: Queryable, options: { forUpdate?: boolean } = {}): Promise<ProjectionControl> {
  const name = PROJECTION_NAME;
  const { rows } = await db.query<{ state: ProjectionState; operation_id: string | null; hold_position: string | null; updated_ms: number }>(
    `SELECT state, operation_id::text AS operation_id, hold_position::text AS hold_position,
       floor(extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms
     FROM projection_control WHERE name = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  );
  if (rows.length === 0) throw new Error(`projection_control has no row '${name}' (migration 1700000002000 not applied?)`);
  const r = rows[0];
  return {
    state: r.state,
    operationId: r.operation_id,
    holdPosition: r.hold_position === null ? null : BigInt(r.hold_position),
    updatedAt: new Date(r.updated_ms),
  };
}

export interface LockHolder {
  pid: number;
  applicationName: string | null;
  clientAddr: string | null;
  backendStart: Date | null;
}

/** The session holding an advisory lock in this database (via pg_locks + pg_stat_activity), if any. */
export async function advisoryLockHolder(db: Queryable, key: bigint = PROJECTION_LEADER_LOCK_KEY): Promise<LockHolder | undefined> {
  const { classid, objid } = advisoryLockParts(key);
  const { rows } = await db.query<{ pid: number; application_name: string | null; client_addr: string | null; backend_start_ms: number | null }>(
    `SELECT l.pid, a.application_name, a.client_addr::text AS client_addr,
       floor(extract(epoch FROM a.backend_start) * 1000)::float8 AS backend_start_ms
     FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     LIMIT 1`,
    [classid, objid],
  );
  if (rows.length === 0) return undefined;
  const r = rows[0];
  return {
    pid: r.pid,
    applicationName: r.application_name,
    clientAddr: r.client_addr,
    backendStart: r.backend_start_ms === null ? null : new Date(r.backend_start_ms),
  };
}
