import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the service exports, in one registry. Names are part of the contract with the
 * Kubernetes alert rules and rollout analysis (k8s/): tests cross-check them.
 * No ids in labels: cardinality stays bounded.
 */
export class FinanceMetrics {
  readonly registry = new Registry();

  /** Buckets cluster around the 300 ms P95 SLO so the quantile is precise where it matters. */
  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly httpRequestsTotal = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly appInfo = new Gauge({
    name: 'finance_app_info',
    help: 'Build and rollout information (always 1)',
    labelNames: ['version', 'rollout_stage'] as const,
    registers: [this.registry],
  });

  readonly eventStoreUp = new Gauge({
    name: 'finance_event_store_up',
    help: '1 when the event store answered its last ping, else 0',
    registers: [this.registry],
  });

  readonly eventStoreOperationDuration = new Histogram({
    name: 'finance_event_store_operation_duration_seconds',
    help: 'Event store operation duration in seconds',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly projectionCheckpoint = new Gauge({
    name: 'finance_projection_checkpoint_position',
    help: 'Global position of the last event applied to the read models',
    registers: [this.registry],
  });

  readonly eventStoreHead = new Gauge({
    name: 'finance_event_store_head_position',
    help: 'Global position of the last event in the event store',
    registers: [this.registry],
  });

  readonly projectionGaugesRefreshed = new Gauge({
    name: 'finance_projection_gauges_refreshed_timestamp_seconds',
    help: 'Unix time of the last complete refresh of the head, checkpoint and lag gauges (they keep their values while a refresh is stuck)',
    registers: [this.registry],
  });

  readonly projectionLag = new Gauge({
    name: 'finance_projection_lag_events',
    help: 'Finance events in the store not yet applied to the read models (after the checkpoint, up to the head; with EventStoreDB counted up to 2000)',
    registers: [this.registry],
  });

  readonly projectionEvents = new Counter({
    name: 'finance_projection_events_total',
    help: 'Events applied to read models',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });

  readonly projectionUnknownEvents = new Counter({
    name: 'finance_projection_unknown_events_total',
    help: 'Events of unknown type skipped by the projectors',
    registers: [this.registry],
  });

  readonly rollbackTotal = new Counter({
    name: 'finance_projection_rollback_total',
    help: 'Projection rollbacks by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly rollbackDuration = new Histogram({
    name: 'finance_projection_rollback_duration_seconds',
    help: 'Projection rollback duration in seconds',
    buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });

  readonly rollbackEventsReplayed = new Counter({
    name: 'finance_projection_rollback_events_replayed_total',
    help: 'Events replayed by projection rollbacks',
    registers: [this.registry],
  });

  constructor(version: string, rolloutStage: string) {
    collectDefaultMetrics({ register: this.registry });
    this.appInfo.set({ version, rollout_stage: rolloutStage }, 1);
    // Counters with labels appear only once used; start them at 0 so alerts and dashboards see them.
    for (const mode of ['live', 'rebuild']) this.projectionEvents.inc({ mode }, 0);
    for (const result of ['succeeded', 'failed']) this.rollbackTotal.inc({ result }, 0);
  }

  /** Times an event store operation into finance_event_store_operation_duration_seconds. */
  async timeEventStore<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const end = this.eventStoreOperationDuration.startTimer({ operation });
    try {
      return await work();
    } finally {
      end();
    }
  }
}
