import { HttpException } from '@nestjs/common';
import { NotFoundError } from '../../domain/errors';
import { describeError, HttpAnswer, rethrowAsHttp, toHttpException } from '../finance/error-mapping';

/** 404 with the same body as the write API's NotFoundError. */
export function notFound(code: 'INVOICE_NOT_FOUND' | 'JOURNAL_ENTRY_NOT_FOUND', id: string): HttpException {
  return toHttpException(describeError(new NotFoundError(code, id)) as HttpAnswer);
}

/** Runs a parser; a ValidationError becomes a 400 HttpException (same body as the write API's validation errors). */
export function parseOr400<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    rethrowAsHttp(error);
  }
}
