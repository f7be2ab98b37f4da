import type { AppendResult, EventStore, ExpectedVersion, NewEvent, ReadAllOptions, RecordedEvent } from './event-store';
import type { Position } from './position';

/** What the wrapper needs from FinanceMetrics (kept structural so the event store does not import metrics). */
export interface EventStoreTimer {
  timeEventStore<T>(operation: string, work: () => Promise<T>): Promise<T>;
}

/** Times every event store operation into finance_event_store_operation_duration_seconds{operation}. */
export class InstrumentedEventStore implements EventStore {
  readonly kind: EventStore['kind'];

  constructor(
    readonly inner: EventStore,
    private readonly timer: EventStoreTimer,
  ) {
    this.kind = inner.kind;
  }

  append(streamId: string, events: NewEvent[], expectedVersion: ExpectedVersion): Promise<AppendResult> {
    return this.timer.timeEventStore('append', () => this.inner.append(streamId, events, expectedVersion));
  }

  readStream(streamId: string): Promise<RecordedEvent[]> {
    return this.timer.timeEventStore('read_stream', () => this.inner.readStream(streamId));
  }

  /** Times the fetch of each batch, not the consumer's work between batches. */
  async *readAll(options?: ReadAllOptions): AsyncGenerator<RecordedEvent[]> {
    const batches = this.inner.readAll(options)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.timer.timeEventStore('read_all_batch', () => batches.next());
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await batches.return?.();
    }
  }

  headPosition(): Promise<Position> {
    return this.timer.timeEventStore('head_position', () => this.inner.headPosition());
  }

  ping(): Promise<void> {
    return this.timer.timeEventStore('ping', () => this.inner.ping());
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The adapter under any instrumentation wrapper. */
export function unwrapEventStore(store: EventStore): EventStore {
  return store instanceof InstrumentedEventStore ? unwrapEventStore(store.inner) : store;
}
