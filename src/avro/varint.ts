/**
 * Avro's variable-length zig-zag integers (spec: "Binary Encoding", int and long).
 *
 * 64-bit values are decoded as two 32-bit halves so that no BigInt is made per value and
 * values beyond 2^53 stay exact. The hot path inlines the one-byte case and calls these
 * for the rest.
 */

/** Where a decoded long lands: signed low and high 32-bit words. */
export interface LongSlot {
  lo: number;
  hi: number;
}

/** Returned by the readers when the varint runs past `end` (more input may complete it). */
export const INCOMPLETE = -1;
/** Returned when a varint has more than 10 bytes or overflows 64 bits. */
export const MALFORMED = -2;

/**
 * Reads one zig-zag varint long at `pos` into `out` and returns the position after it,
 * or INCOMPLETE / MALFORMED.
 */
export function readLongInto(buf: Uint8Array, pos: number, end: number, out: LongSlot): number {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let b = 0;
  // bytes 1-4 carry bits 0-27
  do {
    if (pos >= end) return INCOMPLETE;
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80 && shift < 28);
  if (b & 0x80) {
    // byte 5 carries bits 28-34: 4 into lo, 3 into hi
    if (pos >= end) return INCOMPLETE;
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >>> 4;
    shift = 3;
    while (b & 0x80) {
      if (shift > 31) return MALFORMED; // an 11th byte
      if (pos >= end) return INCOMPLETE;
      b = buf[pos++]!;
      // the 10th byte may only carry the top bit of the 64
      if (shift === 31 && (b & 0x7e) !== 0) return MALFORMED;
      hi |= (b & 0x7f) << shift;
      shift += 7;
    }
  }
  // zig-zag: (n >>> 1) ^ -(n & 1) over 64 bits
  const mask = -(lo & 1);
  out.lo = ((lo >>> 1) | (hi << 31)) ^ mask;
  out.hi = (hi >>> 1) ^ mask;
  return pos;
}

/** The exact value of a long as a JS number, or NaN when it is outside ±2^53. */
export function longToNumber(lo: number, hi: number): number {
  if (hi >= -0x200000 && hi < 0x200000) return hi * 0x100000000 + (lo >>> 0);
  return NaN;
}

/** Encodes a long (as BigInt) the way Avro does; used by tests and fixture scripts. */
export function encodeLong(value: bigint): Uint8Array {
  let n = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Uint8Array.from(out);
}

/**
 * Reads one zig-zag varint int (at most 5 bytes, 32 bits) at `pos` into `out.lo` and returns
 * the position after it, or INCOMPLETE / MALFORMED (more than 32 bits).
 */
export function readIntInto(buf: Uint8Array, pos: number, end: number, out: LongSlot): number {
  let n = 0;
  let shift = 0;
  let b = 0;
  do {
    if (pos >= end) return INCOMPLETE;
    b = buf[pos++]!;
    if (shift === 28 && (b & 0xf0) !== 0) return MALFORMED;
    n |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  out.lo = (n >>> 1) ^ -(n & 1);
  return pos;
}
