import type { InvoiceRow } from '../../services/finance/src/projections/read-model-rows';
import { InvoiceCache } from '../../services/finance/src/rollback/invoice-cache';

function row(id: string, version = 0): InvoiceRow {
  const at = new Date('2026-11-26T12:00:00.000Z');
  return {
    id, tenantId: 't', customerId: 'C-1', currency: 'BDT', status: 'DRAFT', subtotalMinor: 100n, vatMinor: 15n, totalMinor: 115n,
    amountPaidMinor: 0n, balanceDueMinor: 115n, dueDate: '2026-12-31', lineCount: 1, version, lastPosition: BigInt(version + 1), createdAt: at, updatedAt: at,
  };
}

describe('InvoiceCache (the rebuild working set)', () => {
  it('answers from the working set, and names an evicted id as a miss once, until it is loaded back', () => {
    const cache = new InvoiceCache(2);
    cache.applyChanged(new Map([['a', row('a')], ['b', row('b')], ['c', row('c')]]));
    const evicted = cache.evictOverflow(); // down to 75% of 2: one row left, the most recent
    expect([...evicted.fresh.keys()]).toEqual(['a', 'b']);

    const lookup = cache.batchLookup();
    expect(lookup.get('c')?.id).toBe('c');
    expect(lookup.get('a')).toBeUndefined();
    expect(lookup.get('never-seen')).toBeUndefined(); // the Bloom filter knows it was never evicted
    expect(lookup.takeMisses()).toEqual(['a']);
    expect(lookup.takeMisses()).toEqual([]);

    cache.addLoaded(new Map([['a', row('a', 3)]]));
    expect(lookup.get('a')?.version).toBe(3);
    expect(lookup.get('b')).toBeUndefined();
    expect(lookup.takeMisses()).toEqual(['b']);
    // b was read back and not found (say): from now on it is absent without another read.
    expect(lookup.get('b')).toBeUndefined();
    expect(lookup.takeMisses()).toEqual([]);
  });

  it('reports no misses before anything was evicted', () => {
    const cache = new InvoiceCache(10);
    const lookup = cache.batchLookup();
    expect(lookup.get('x')).toBeUndefined();
    expect(lookup.takeMisses()).toEqual([]);
  });
});
