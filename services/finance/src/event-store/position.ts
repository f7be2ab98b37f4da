/**
 * A global event position: a non-negative integer, totally ordered across the whole store.
 * Carried as bigint inside (EventStoreDB commit positions exceed 2^53) and as a decimal string in JSON.
 */
export type Position = bigint;

export const START_POSITION: Position = 0n;

const DECIMAL = /^(0|[1-9]\d*)$/;

/** Parses a JSON integer or decimal string; returns undefined for anything that is not a non-negative integer. */
export function parsePosition(value: unknown): Position | undefined {
  if (typeof value === 'bigint') return value >= 0n ? value : undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) return BigInt(value.trim());
  return undefined;
}

export function formatPosition(position: Position): string {
  return position.toString(10);
}

export function maxPosition(a: Position, b: Position): Position {
  return a > b ? a : b;
}
