import { createHash } from 'node:crypto';
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
   * For a keyed request: what names it among all requests (see idempotency.service.ts idempotencyToken).
   * Its events carry it, and the ids it creates derive from it, so a retry whose first attempt appended
   * but never stored its answer finds those events instead of appending again (with EventStoreDB the
   * events and the key row cannot commit together).
   */
  idempotencyToken?: string;
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
  if (context.idempotencyToken !== undefined) metadata.idempotencyToken = context.idempotencyToken;
  return metadata;
}

/**
 * The id of a stream a command creates: derived from the request's idempotency token when it has one
 * (so every attempt of one keyed request names the same stream), else new. The derived id has the
 * UUID layout with version 8 (RFC 9562: application-defined).
 */
export function newStreamId(context: CommandContext, kind: string, newId: () => string): string {
  if (context.idempotencyToken === undefined) return newId();
  const hex = createHash('sha256').update(`${context.idempotencyToken}:${kind}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
