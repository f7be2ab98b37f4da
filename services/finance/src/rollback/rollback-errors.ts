/** Errors of the rollback application service; the admin controller maps them to HTTP statuses. */

/** 400: the request is malformed; `field` names the offending input. */
export class RollbackRequestError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RollbackRequestError';
  }
}

/** 409: another rollback holds the cluster-wide rollback lock. */
export class RollbackInProgressError extends Error {
  readonly code = 'ROLLBACK_IN_PROGRESS';
  constructor(readonly runningOperationId: string | undefined) {
    super(
      runningOperationId
        ? `a projection rollback is already running (operation ${runningOperationId})`
        : 'a projection rollback is already running in the cluster',
    );
    this.name = 'RollbackInProgressError';
  }
}

/** 409: the projection is not in a state the request applies to (e.g. resume while rebuilding). */
export class ProjectionStateError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly state: string,
  ) {
    super(message);
    this.name = 'ProjectionStateError';
  }
}

/** Raised inside a rollback; the message becomes the operation's recorded error. */
export class RollbackFailure extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RollbackFailure';
  }
}

/** Throws the failure a rollback records when it was aborted (service shutdown, lost session). */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  throw new RollbackFailure(`aborted: ${reason}`);
}
