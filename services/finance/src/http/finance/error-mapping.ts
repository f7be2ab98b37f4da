/**
 * Domain and application errors → HTTP answers:
 * ValidationError 400 (naming `field`), NotFoundError 404, ConcurrencyError 409, DomainError 422 (with `code`),
 * IdempotencyKeyReusedError 422, IdempotencyKeyInProgressError 409. Anything else is not ours (→ 500 by the global filter).
 */
import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { ConcurrencyError } from '../../application/errors';
import { DomainError, NotFoundError, ValidationError } from '../../domain/errors';
import { IdempotencyKeyInProgressError, IdempotencyKeyReusedError } from '../idempotency/idempotency.errors';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

export function describeError(error: unknown): HttpAnswer | undefined {
  if (error instanceof ValidationError) {
    return answer(400, {
      code: error.code,
      message: error.message,
      field: error.field,
      errors: error.problems,
    });
  }
  if (error instanceof NotFoundError) return answer(404, { code: error.code, message: error.message });
  if (error instanceof ConcurrencyError) {
    return answer(409, {
      code: error.code,
      message: error.message,
      expectedVersion: error.expectedVersion,
      currentVersion: error.actualVersion,
    });
  }
  if (error instanceof DomainError) return answer(422, { code: error.code, message: error.message, details: error.details });
  if (error instanceof IdempotencyKeyReusedError) return answer(422, { code: error.code, message: error.message });
  if (error instanceof IdempotencyKeyInProgressError) return answer(409, { code: error.code, message: error.message });
  return undefined;
}

/** Whether a failed command's answer is final and may be replayed for the same Idempotency-Key. */
export function isReplayableFailure(status: number): boolean {
  // 422 (a rule said no) and 404 (no such invoice for this tenant) do not change by retrying.
  // 409 and 5xx are transient: the key is released and a retry runs the command again.
  return status === 404 || status === 422;
}

/** Throws the error as an HttpException the global filter renders as-is; unknown errors are rethrown untouched. */
export function rethrowAsHttp(error: unknown): never {
  const described = describeError(error);
  if (described) throw toHttpException(described);
  throw error;
}

export function toHttpException({ status, body }: HttpAnswer): HttpException {
  return new HttpException(body, status);
}

export function answer(status: number, fields: Record<string, unknown>): HttpAnswer {
  return { status, body: { statusCode: status, error: STATUS_CODES[status] ?? 'Error', ...fields } };
}
