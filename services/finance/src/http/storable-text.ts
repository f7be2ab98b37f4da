/**
 * Characters PostgreSQL cannot store: NUL (refused in text and in jsonb) and unpaired UTF-16
 * surrogates (jsonb refuses their \u escapes, which JSON.stringify writes). A request carrying one
 * into an event, a query parameter or a stored idempotent answer would otherwise fail in the database
 * as a 500.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

export function hasUnstorableCharacters(value: string): boolean {
  return UNSTORABLE.test(value);
}

/** The text with each unstorable character replaced by U+FFFD (for echoing input back, not for accepting it). */
export function storableText(value: string): string {
  return value.replace(UNSTORABLE_ALL, '\ufffd');
}
