import { HttpException } from '@nestjs/common';
import { ValidationError } from '../../domain/errors';

/** 400 naming the field (same body as the write API's validation errors). */
export function badRequest(error: ValidationError): HttpException {
  return new HttpException(
    { statusCode: 400, error: 'Bad Request', code: error.code, message: error.message, field: error.field, errors: error.problems },
    400,
  );
}

export function notFound(code: 'INVOICE_NOT_FOUND' | 'JOURNAL_ENTRY_NOT_FOUND', id: string): HttpException {
  const what = code === 'INVOICE_NOT_FOUND' ? 'Invoice' : 'Journal entry';
  return new HttpException({ statusCode: 404, error: 'Not Found', code, message: `${what} ${id} not found` }, 404);
}

/** Runs a parser; a ValidationError becomes a 400 HttpException. */
export function parseOr400<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ValidationError) throw badRequest(error);
    throw error;
  }
}
