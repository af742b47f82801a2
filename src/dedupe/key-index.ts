/**
 * A hash index from 64-bit keys (as two int32 halves) to row ids: open addressing over typed
 * arrays, so de-duplicating millions of ids makes no BigInt and no JS object per row.
 */
export class KeyIndex {
  private lo: Int32Array;
  private hi: Int32Array;
  private ids: Int32Array; // -1 = empty slot
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.ids = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  private slot(lo: number, hi: number): number {
    // a murmur-style mix of both halves
    let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi ^ 0x7f4a7c15, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    let i = h & this.mask;
    while (this.ids[i] !== -1 && (this.lo[i] !== lo || this.hi[i] !== hi)) i = (i + 1) & this.mask;
    return i;
  }

  /** The id stored for the key, or -1. */
  get(lo: number, hi: number): number {
    return this.ids[this.slot(lo, hi)]!;
  }

  /** Stores `id` for the key (replacing any earlier id). */
  set(lo: number, hi: number, id: number): void {
    let i = this.slot(lo, hi);
    if (this.ids[i] === -1) {
      if ((this.size + 1) * 2 > this.ids.length) {
        this.grow();
        i = this.slot(lo, hi);
      }
      this.size++;
      this.lo[i] = lo;
      this.hi[i] = hi;
    }
    this.ids[i] = id;
  }

  private grow(): void {
    const { lo, hi, ids } = this;
    const cap = ids.length * 2;
    this.lo = new Int32Array(cap);
    this.hi = new Int32Array(cap);
    this.ids = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === -1) continue;
      const j = this.slot(lo[i]!, hi[i]!);
      this.lo[j] = lo[i]!;
      this.hi[j] = hi[i]!;
      this.ids[j] = ids[i]!;
    }
  }
}
