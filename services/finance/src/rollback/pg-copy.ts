import type { ClientBase } from 'pg';
import { CopyInStream } from './copy-in-stream';

/**
 * One `COPY <table> (<columns>) FROM STDIN` of one batch of rows (a CopyInStream written once).
 * A string is text format (columns separated by tabs, rows by newlines, NULL as \N; see copyText());
 * a Buffer holds binary rows as BinaryCopyWriter.rowBytes() gives them.
 *
 * `freeze` loads the rows already frozen (COPY ... FREEZE): only allowed when the table was created or
 * truncated in the session's current transaction.
 */
export async function copyFrom(client: ClientBase, table: string, columns: readonly string[], rows: string | Buffer, options: { freeze?: boolean } = {}): Promise<number> {
  if (rows.length === 0) return 0;
  const stream = CopyInStream.open(client, table, columns, { freeze: options.freeze, binary: typeof rows !== 'string' });
  await stream.write(rows);
  return stream.end();
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A text value as a COPY text-format field (backslash, tab, newline and CR escaped). */
export function copyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
