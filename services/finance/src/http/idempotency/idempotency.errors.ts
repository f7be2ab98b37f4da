/** The same Idempotency-Key was used for a different request (another body or route): HTTP 422. */
export class IdempotencyKeyReusedError extends Error {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';

  constructor(readonly key: string) {
    super(`Idempotency-Key "${key}" was already used for a different request; use a new key for a new request`);
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** A request with this key is still running and did not finish within the wait: HTTP 409, retry later. */
export class IdempotencyKeyInProgressError extends Error {
  readonly code = 'IDEMPOTENCY_KEY_IN_PROGRESS';

  constructor(readonly key: string) {
    super(`A request with Idempotency-Key "${key}" is still in progress; retry shortly`);
    this.name = 'IdempotencyKeyInProgressError';
  }
}
