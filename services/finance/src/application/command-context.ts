import { EVENT_SCHEMA_VERSION } from '../domain/events';
import type { EventMetadata } from '../event-store/event-store';

/** Who asks and why: becomes every appended event's metadata. */
export interface CommandContext {
  tenantId: string;
  userId: string;
  /** The x-correlation-id header, else the request id. */
  correlationId: string;
  /** What caused these events: the request (command) id. */
  causationId: string;
  /** Informational copy of the Idempotency-Key, when the request had one. */
  idempotencyKey?: string;
  /**
   * The stream version the caller last saw (If-Match). When given, the command fails with a
   * ConcurrencyError unless the stream is still at exactly this version.
   */
  expectedVersion?: number;
}

export function eventMetadata(context: CommandContext): EventMetadata {
  const metadata: EventMetadata = {
    tenantId: context.tenantId,
    userId: context.userId,
    correlationId: context.correlationId,
    causationId: context.causationId,
    schemaVersion: EVENT_SCHEMA_VERSION,
  };
  if (context.idempotencyKey !== undefined) metadata.idempotencyKey = context.idempotencyKey;
  return metadata;
}
