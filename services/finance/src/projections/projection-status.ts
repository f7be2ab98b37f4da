/**
 * What GET /admin/finance/projections shows: the control state (from PostgreSQL, so any pod answers
 * the same), checkpoint, head, lag, and who leads the projection (pg_locks + pg_stat_activity).
 * Plain class (no Nest); positions are decimal strings.
 */
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import type { EventStore } from '../event-store/event-store';
import { formatPosition } from '../event-store/position';
import { projectionLag } from './projection-lag';
import { advisoryLockHolder, PROJECTION_LEADER_LOCK_KEY, PROJECTION_NAME, ProjectionState, readCheckpoint, readControl } from './projection-state';

export interface ProjectionLeaderInfo {
  /** Backend pid of the session holding the leader lock. */
  pid: number;
  /** Its application_name: `finance-projection@<pod hostname>` for the service's managers. */
  applicationName: string | null;
  clientAddr: string | null;
  /** When that session started (ISO). */
  since: string | null;
}

export interface ProjectionStatus {
  name: string;
  /** running | paused | rebuilding | held */
  state: ProjectionState;
  /** The rollback operation that set the state, if any. */
  operationId: string | null;
  holdPosition: string | null;
  stateUpdatedAt: string;
  checkpoint: string;
  head: string;
  /** Finance events after the checkpoint, up to the head (see projection-lag.ts). */
  lag: string;
  /** false when the count stopped at its limit (EventStoreDB): the lag is at least `lag`. */
  lagExact: boolean;
  /** The pod projecting right now, or null when nobody holds the leader lock. */
  leader: ProjectionLeaderInfo | null;
  /** The pod answering this request. */
  thisPod: { host: string; projectionEnabled: boolean; isLeader: boolean };
}

/** The manager's side of the status (optional: a pod with projection disabled has none). */
export interface LocalProjectionManager {
  isLeader(): boolean;
  isRunning(): boolean;
}

export class ProjectionStatusReader {
  constructor(
    private readonly pool: Pool,
    private readonly eventStore: EventStore,
    private readonly manager?: LocalProjectionManager,
  ) {}

  async read(): Promise<ProjectionStatus> {
    const [control, checkpoint, head, holder] = await Promise.all([
      readControl(this.pool),
      readCheckpoint(this.pool),
      this.eventStore.headPosition(),
      advisoryLockHolder(this.pool, PROJECTION_LEADER_LOCK_KEY),
    ]);
    const lag = await projectionLag(this.eventStore, checkpoint, head);
    return {
      name: PROJECTION_NAME,
      state: control.state,
      operationId: control.operationId,
      holdPosition: control.holdPosition === null ? null : formatPosition(control.holdPosition),
      stateUpdatedAt: control.updatedAt.toISOString(),
      checkpoint: formatPosition(checkpoint),
      head: formatPosition(head),
      lag: String(lag.events),
      lagExact: lag.exact,
      leader: holder
        ? {
            pid: holder.pid,
            applicationName: holder.applicationName,
            clientAddr: holder.clientAddr,
            since: holder.backendStart ? holder.backendStart.toISOString() : null,
          }
        : null,
      thisPod: {
        host: hostname(),
        projectionEnabled: this.manager?.isRunning() ?? false,
        isLeader: this.manager?.isLeader() ?? false,
      },
    };
  }
}
