import { randomUUID } from 'node:crypto';

/**
 * The in-memory transaction log behind the EventStoreDB test server: streams, `$all` with
 * large, sparse, strictly increasing commit positions (commit = prepare, as for events appended
 * over gRPC), and the system events a real server writes into `$all`.
 */
export interface StoredEvent {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
  /** 100-ns ticks since the Unix epoch, as the server's "created" metadata carries them. */
  createdTicks: bigint;
  position: bigint;
}

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export type ExpectedRevision = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: bigint };

export type AppendOutcome =
  | { ok: true; revision: bigint; position: bigint }
  | { ok: false; current: bigint | undefined };

export interface EsdbTestLogOptions {
  /** Commit position of the first record. */
  startPosition?: bigint;
  /** After every N appended user events a `$statsCollected` system event is written. 0 = never. */
  systemEventEvery?: number;
  clock?: () => Date;
}

const TICKS_PER_MS = 10_000n;

export class EsdbTestLog {
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private nextPosition: bigint;
  private userEventsSinceSystem = 0;
  private readonly systemEventEvery: number;
  private readonly clock: () => Date;

  constructor(options: EsdbTestLogOptions = {}) {
    this.nextPosition = options.startPosition ?? 0n;
    this.systemEventEvery = options.systemEventEvery ?? 0;
    this.clock = options.clock ?? (() => new Date());
    // A real $all starts with the server's own records.
    this.appendSystemEvent('$settings', '$settings');
    this.appendSystemEvent('$users', '$UserCreated');
    this.appendSystemEvent('$scavenges', '$scavengeIndexInitialized', 'application/octet-stream');
  }

  revisionOf(streamId: string): bigint | undefined {
    const stream = this.streams.get(streamId);
    return stream ? BigInt(stream.length - 1) : undefined;
  }

  stream(streamId: string): StoredEvent[] | undefined {
    return this.streams.get(streamId);
  }

  append(streamId: string, expected: ExpectedRevision, events: ProposedEvent[]): AppendOutcome {
    const current = this.revisionOf(streamId);
    const matches =
      expected.kind === 'any' ||
      (expected.kind === 'no_stream' && current === undefined) ||
      (expected.kind === 'stream_exists' && current !== undefined) ||
      (expected.kind === 'revision' && current === expected.revision);
    if (!matches) return { ok: false, current };
    let last: StoredEvent | undefined;
    for (const event of events) last = this.write(streamId, event);
    for (const _ of events) this.countUserEvent();
    if (!last) return { ok: true, revision: current ?? -1n, position: this.all[this.all.length - 1]?.position ?? 0n };
    return { ok: true, revision: last.revision, position: last.position };
  }

  appendSystemEvent(streamId = '$stats-127.0.0.1:2113', type = '$statsCollected', contentType = 'application/json'): StoredEvent {
    const data = contentType === 'application/json' ? Buffer.from(JSON.stringify({ system: true })) : Buffer.from([0, 1, 2, 3]);
    return this.write(streamId, { id: randomUUID(), type, contentType, data, customMetadata: new Uint8Array() });
  }

  private countUserEvent(): void {
    if (this.systemEventEvery <= 0) return;
    this.userEventsSinceSystem += 1;
    if (this.userEventsSinceSystem >= this.systemEventEvery) {
      this.userEventsSinceSystem = 0;
      this.appendSystemEvent();
    }
  }

  private write(streamId: string, event: ProposedEvent): StoredEvent {
    const stream = this.streams.get(streamId) ?? [];
    const stored: StoredEvent = {
      ...event,
      streamId,
      revision: BigInt(stream.length),
      createdTicks: BigInt(this.clock().getTime()) * TICKS_PER_MS,
      position: this.nextPosition,
    };
    // Sparse like a real log: the next record starts after this one's bytes plus framing.
    this.nextPosition += 1_000n + BigInt(event.data.length + event.customMetadata.length);
    stream.push(stored);
    this.streams.set(streamId, stream);
    this.all.push(stored);
    return stored;
  }
}
