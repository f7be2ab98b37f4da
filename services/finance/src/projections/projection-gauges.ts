import type { Pool } from 'pg';
import type { EventStore } from '../event-store/event-store';
import type { Position } from '../event-store/position';
import type { FinanceMetrics } from '../metrics/metrics-registry';
import { projectionLag } from './projection-lag';
import { readCheckpoint } from './projection-state';

/** How often the gauges are re-read, on every pod, projecting or not. */
export const DEFAULT_GAUGE_REFRESH_MS = 2000;

/**
 * The head, checkpoint and lag gauges. Every pod reports them, projecting or not (a pod with
 * PROJECTION_ENABLED=false too), so whichever pod Prometheus scrapes shows the cluster's lag.
 */
export class ProjectionGauges {
  private knownHead: Position = 0n;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  constructor(
    private readonly pool: Pool,
    private readonly eventStore: EventStore,
    private readonly metrics: FinanceMetrics | undefined,
  ) {}

  /**
   * Refreshes every refreshMs (0: never) and once now. One refresh at a time: against a stalled store or
   * a lock, a new read every interval would pile up on every pod and take the pool's connections; the
   * gauges keep their values until the refresh in flight ends (readiness reports the database).
   */
  start(refreshMs: number): void {
    if (this.timer || refreshMs <= 0 || !this.metrics) return;
    const tick = () => {
      if (this.refreshing) return;
      this.refreshing = this.refresh().finally(() => (this.refreshing = undefined));
    };
    this.timer = setInterval(tick, refreshMs);
    this.timer.unref();
    tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the head and the checkpoint. On a failed read the gauges keep their last values; readiness reports the database. */
  async refresh(): Promise<void> {
    const m = this.metrics;
    if (!m) return;
    try {
      const headRead = this.eventStore.headPosition();
      // On EventStoreDB, finance_event_store_up follows this read too, not only readiness probes (none
      // before the first). A PostgreSQL store's head is read through the pool: readiness alone says
      // whether it answers (a busy pool is not a store that is down).
      if (this.eventStore.kind === 'eventstoredb') void headRead.then(() => m.eventStoreUp.set(1), () => m.eventStoreUp.set(0));
      const [head, checkpoint] = await Promise.all([headRead, readCheckpoint(this.pool)]);
      const lag = await projectionLag(this.eventStore, checkpoint, head);
      this.knownHead = head;
      this.setPositions(m, checkpoint);
      m.projectionLag.set(lag.events);
      m.projectionGaugesRefreshed.set(Date.now() / 1000);
    } catch {
      // Keep the last values.
    }
  }

  /**
   * A live batch committed up to `position` (no extra reads: the head is at least that far). The lag is
   * a distance on PostgreSQL; on EventStoreDB it is counted, so it waits for the next refresh.
   */
  applied(position: Position): void {
    const m = this.metrics;
    if (!m) return;
    if (position > this.knownHead) this.knownHead = position;
    this.setPositions(m, position);
    if (this.eventStore.kind === 'postgres') m.projectionLag.set(Number(this.knownHead - position));
  }

  private setPositions(m: FinanceMetrics, checkpoint: Position): void {
    m.eventStoreHead.set(Number(this.knownHead));
    m.projectionCheckpoint.set(Number(checkpoint));
  }
}
