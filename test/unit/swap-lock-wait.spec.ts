import { swapLockWaitMs } from '../../services/finance/src/rollback/swap-lock-wait';

describe('swapLockWaitMs', () => {
  it('waits the configured time on the first attempt, so readers queue behind the swap only briefly', () => {
    expect(swapLockWaitMs(1, 1000, 1000)).toBe(1000);
    expect(swapLockWaitMs(1, 20, 1000)).toBe(20);
  });

  it('waits past deadlock_timeout on later attempts, so PostgreSQL cancels an autovacuum holding the tables', () => {
    expect(swapLockWaitMs(2, 1000, 1000)).toBeGreaterThan(1000);
    expect(swapLockWaitMs(7, 50, 1000)).toBeGreaterThan(1000);
    expect(swapLockWaitMs(2, 50, 200)).toBeGreaterThan(200);
  });

  it('keeps a configured wait that is already longer', () => {
    expect(swapLockWaitMs(3, 5000, 1000)).toBe(5000);
  });

  it('never sets lock_timeout to 0 (which would mean wait forever)', () => {
    expect(swapLockWaitMs(1, 0, 1000)).toBe(1);
  });
});
