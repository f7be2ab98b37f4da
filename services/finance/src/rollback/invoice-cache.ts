import type { InvoiceLookup } from '../projections/finance-projector';
import type { InvoiceRow } from '../projections/read-model-rows';

/** Bits of the evicted-id Bloom filter (2 MiB): few false positives for millions of evicted ids. */
const BLOOM_BITS = 1 << 24;
/** Eviction brings the working set down to this share of capacity, so evictions come in batches. */
const LOW_WATER = 0.75;

/**
 * The rebuild's working set of invoice rows, bounded: the projector needs each touched invoice's
 * previous row, but holding every invoice of a large store in memory is what made the measured
 * "fold everything in memory" rebuild cost 655 MB. Least recently touched rows are evicted in bulk
 * (the caller writes the changed ones to the shadow table) and read back from the shadow table if an
 * event touches them again. A fixed-size Bloom filter of evicted ids tells, without a query, that an
 * id was never written (no false negatives), so new invoices never cost a round trip.
 */
export class InvoiceCache {
  /** Map order is recency order: a touched row is re-inserted at the end. `stored`: the shadow table has a version of it. */
  private readonly rows = new Map<string, { row: InvoiceRow; dirty: boolean; stored: boolean }>();
  private readonly evicted: BloomFilter;
  private evictedCount = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`invoice cache capacity must be a positive integer (got ${capacity})`);
    this.evicted = new BloomFilter(BLOOM_BITS, 4);
  }

  /**
   * The rows before a batch, for projectBatch, read straight from the working set. An id the cache
   * does not hold but may have evicted is answered "absent" and noted as a miss: the caller loads the
   * misses (takeMisses, addLoaded) and folds the batch again. Misses are rare (rows are evicted least
   * recently used), so batches do not pay for listing their invoice ids before the fold.
   */
  batchLookup(): BatchLookup {
    const misses = new Set<string>();
    const loaded = new Set<string>();
    return {
      get: (id) => {
        const entry = this.rows.get(id);
        if (entry !== undefined) return entry.row;
        if (this.evictedCount > 0 && !loaded.has(id) && this.evicted.mightContain(id)) misses.add(id);
        return undefined;
      },
      takeMisses: () => {
        const ids = [...misses];
        misses.clear();
        for (const id of ids) loaded.add(id); // read back once: absent from the shadow table means new
        return ids;
      },
    };
  }

  /** Rows read back from the shadow table (unchanged there). */
  addLoaded(rows: ReadonlyMap<string, InvoiceRow>): void {
    for (const [id, row] of rows) this.rows.set(id, { row, dirty: false, stored: true });
  }

  /** A batch's final invoice rows: changed, most recently used. */
  applyChanged(rows: ReadonlyMap<string, InvoiceRow>): void {
    for (const [id, row] of rows) {
      const stored = this.rows.get(id)?.stored ?? false;
      this.rows.delete(id);
      this.rows.set(id, { row, dirty: true, stored });
    }
  }

  /**
   * When over capacity, evicts the least recently touched rows down to LOW_WATER of capacity and
   * returns the changed ones to write: `fresh` (never written: plain inserts) and `stored` (newer
   * versions of rows the shadow table holds: upserts). Evicting in bulk keeps the writes batched.
   */
  evictOverflow(): EvictedRows {
    const out: EvictedRows = { fresh: new Map(), stored: new Map() };
    if (this.rows.size <= this.capacity) return out;
    const target = Math.floor(this.capacity * LOW_WATER);
    for (const [id, entry] of this.rows) {
      if (this.rows.size <= target) break;
      this.rows.delete(id);
      if (entry.dirty) (entry.stored ? out.stored : out.fresh).set(id, entry.row);
      this.evicted.add(id);
      this.evictedCount++;
    }
    return out;
  }

  /** Every changed row (for the final flush); the cache is left empty. */
  drain(): EvictedRows {
    const out: EvictedRows = { fresh: new Map(), stored: new Map() };
    for (const [id, entry] of this.rows) if (entry.dirty) (entry.stored ? out.stored : out.fresh).set(id, entry.row);
    this.rows.clear();
    return out;
  }
}

export interface BatchLookup extends InvoiceLookup {
  /** The ids answered "absent" that may be in the shadow table (each returned once); the batch must be folded again after loading them. */
  takeMisses(): string[];
}

export interface EvictedRows {
  fresh: Map<string, InvoiceRow>;
  stored: Map<string, InvoiceRow>;
}

/** A classic Bloom filter over strings (FNV-1a double hashing) in a fixed number of bits. */
class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(
    size: number,
    private readonly hashes: number,
  ) {
    if (size < 32 || (size & (size - 1)) !== 0) throw new RangeError('Bloom filter size must be a power of two >= 32');
    this.bits = new Uint32Array(size >>> 5);
    this.mask = size - 1;
  }

  add(value: string): void {
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  mightContain(value: string): boolean {
    const [h1, h2] = hashPair(value);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

function hashPair(value: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return [h1 >>> 0, (h2 | 1) >>> 0];
}
