import type { ExpectedVersion } from './event-store';

/** Shared argument checks of both adapters. */
export const DEFAULT_BATCH_SIZE = 1000;

export function checkBatchSize(batchSize: number): number {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  return batchSize;
}

export function checkExpectedVersion(expected: ExpectedVersion): ExpectedVersion {
  if (expected === 'any' || expected === 'no_stream') return expected;
  if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`expected version must be 'any', 'no_stream' or a version >= 0 (got ${String(expected)})`);
  return expected;
}
