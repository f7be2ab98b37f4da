/** Errors of the application layer (the domain's own errors live in domain/errors.ts). */

/**
 * The stream moved on: an If-Match version that is no longer current, or a concurrent writer that won
 * the race twice. HTTP 409; the client re-reads and decides again.
 */
export class ConcurrencyError extends Error {
  readonly code = 'VERSION_CONFLICT';

  constructor(
    readonly streamId: string,
    readonly expectedVersion: number | 'no_stream',
    readonly actualVersion: number | 'no_stream',
  ) {
    super(
      `Version conflict on ${streamId}: expected version ${String(expectedVersion)}, current version ${String(actualVersion)}; re-read and retry`,
    );
    this.name = 'ConcurrencyError';
  }
}
