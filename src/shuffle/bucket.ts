/**
 * Key buckets: how a table too big for one task is split. Every row goes to bucket
 * `hash(key) mod B`, so all copies of a key meet in one reduce task, which de-duplicates them
 * (src/shuffle/map-task.ts sends the rows, src/table-task.ts reduces one bucket).
 *
 * The hash depends only on the key's value: an int32 or int64 key, and a text key (a key
 * column widened to text by a type conflict) that spells a canonical decimal integer, land in
 * the same bucket for the same number. Rows without a key (null, or a table without one) are
 * spread in runs of rows: they are never de-duplicated, any bucket will do.
 */
import { type Data, Type } from 'apache-arrow';
import { isValid } from '../columnar/gather.js';

/** Buckets for a table of `inputBytes` when a task should read at most `maxTaskBytes`. */
export function bucketCount(inputBytes: number, maxTaskBytes: number): number {
  return Math.max(1, Math.ceil(inputBytes / Math.max(1, maxTaskBytes)));
}

/** Rows without a key go to buckets in runs of this many (any spread would do). */
const KEYLESS_RUN = 4096;

/** A 32-bit mix of a 64-bit value's halves (unlike KeyIndex's, so buckets do not cluster its slots). */
function mix(lo: number, hi: number): number {
  let h = Math.imul(lo ^ 0x2c1b3c6d, 0x297a2d39) + Math.imul(hi ^ 0x5bd1e995, 0x1b873593);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return h >>> 0;
}

/** The high bits pick the bucket: uniform for any B, not only powers of two. */
const scale = (h: number, buckets: number) => Math.floor((h * buckets) / 0x100000000);

/** The bucket of a 64-bit key given as int32 halves. */
export function bucketOfHalves(lo: number, hi: number, buckets: number): number {
  return buckets === 1 ? 0 : scale(mix(lo, hi), buckets);
}

/**
 * A canonical decimal int64 ("0", "-12", not "012", "+1" or "-0") as two's-complement halves,
 * or undefined. No BigInt per value: the digits are read as two exact doubles (all but the
 * last nine, and the last nine) and combined in 16- and 32-bit pieces.
 */
function decimalHalves(bytes: Uint8Array, start: number, end: number): [number, number] | undefined {
  const neg = bytes[start] === 0x2d;
  const first = neg ? start + 1 : start;
  const digits = end - first;
  // 2^63 has 19 digits; a leading zero is only canonical as "0" itself
  if (digits === 0 || digits > 19 || (bytes[first] === 0x30 && (digits > 1 || neg))) return undefined;
  let high = 0; // the digits before the last nine: below 10^10 < 2^34
  let low = 0; // the last nine: below 10^9 < 2^30
  const split = end - Math.min(9, digits);
  for (let i = first; i < end; i++) {
    const c = bytes[i]! - 0x30;
    if (c < 0 || c > 9) return undefined;
    if (i < split) high = high * 10 + c;
    else low = low * 10 + c;
  }
  // v = high * 10^9 + low = hA * 10^9 * 2^16 + (hB * 10^9 + low), each product below 2^48
  const hA = Math.floor(high / 65536);
  const t1 = (high % 65536) * 1e9 + low;
  const t2 = hA * 1e9;
  const x = (t2 % 65536) * 65536 + t1;
  let lo = x % 0x100000000;
  let hi = Math.floor(t2 / 65536) + Math.floor(x / 0x100000000);
  // |v| fits when it is below 2^63, or exactly 2^63 and negative
  if (hi > 0x7fffffff && !(neg && hi === 0x80000000 && lo === 0)) return undefined;
  if (neg) {
    // two's complement of (hi, lo)
    lo = (0x100000000 - lo) % 0x100000000;
    hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
  }
  return [lo | 0, hi | 0];
}

/** FNV-1a of a byte range (text keys that are not integers). */
function fnv(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * The bucket of each of a batch's rows. `key` is the batch's key column (undefined: none);
 * `rowBase` is the rows the task saw before this batch (for the keyless runs).
 */
export function bucketsOfRows(key: Data | undefined, length: number, buckets: number, rowBase: number): Uint32Array {
  const out = new Uint32Array(length);
  if (buckets === 1) return out;
  const keyless = (r: number) => Math.floor((rowBase + r) / KEYLESS_RUN) % buckets;
  if (!key) {
    for (let r = 0; r < length; r++) out[r] = keyless(r);
    return out;
  }
  const values = key.values as ArrayBufferView;
  if (values instanceof BigInt64Array) {
    const halves = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
    for (let r = 0; r < length; r++) out[r] = isValid(key, r) ? scale(mix(halves[r * 2]!, halves[r * 2 + 1]!), buckets) : keyless(r);
  } else if (values instanceof Int32Array) {
    for (let r = 0; r < length; r++) {
      const v = values[r]!;
      out[r] = isValid(key, r) ? scale(mix(v, v >> 31), buckets) : keyless(r);
    }
  } else if (values instanceof Float64Array || values instanceof Float32Array) {
    // ids read as doubles: integral values hash as the integer (a widened int64 column)
    for (let r = 0; r < length; r++) {
      const v = values[r]!;
      if (!isValid(key, r) || !Number.isSafeInteger(v)) out[r] = keyless(r);
      else out[r] = scale(mix(v % 0x100000000 | 0, Math.floor(v / 0x100000000) | 0), buckets);
    }
  } else if (key.typeId === Type.Utf8 && key.valueOffsets) {
    const offsets = key.valueOffsets as Int32Array;
    const bytes = key.values as Uint8Array;
    for (let r = 0; r < length; r++) {
      if (!isValid(key, r)) {
        out[r] = keyless(r);
        continue;
      }
      const halves = decimalHalves(bytes, offsets[r]!, offsets[r + 1]!);
      out[r] = scale(halves ? mix(halves[0], halves[1]) : fnv(bytes, offsets[r]!, offsets[r + 1]!), buckets);
    }
  } else {
    for (let r = 0; r < length; r++) out[r] = keyless(r);
  }
  return out;
}
