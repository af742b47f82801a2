/**
 * Snappy raw-format decompression (github.com/google/snappy, format_description.txt) into a
 * caller-owned, reusable buffer.
 *
 * Why not the `snappy` npm package: it allocates a new output buffer per block, and on the
 * machines we measure on, touching freshly allocated memory costs more than decompressing
 * (bench/README.md). Decoding into one buffer per reader that is reused block after block
 * made the snappy path faster end to end (`npm run bench:decode`).
 *
 * Every length and offset is checked: a back-reference before the start of the output, an
 * output longer or shorter than the preamble declares, or input that ends mid-element is an
 * error, never a read or write out of bounds.
 */
import { AvroFormatError } from '../errors.js';

/** A reusable output buffer, grown on demand (one per reader). */
export interface Scratch {
  buf: Uint8Array;
}

function corrupt(message: string): AvroFormatError {
  return new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${message}`);
}

/** The uncompressed length declared by the preamble, and where the elements start. */
export function snappyLength(input: Uint8Array): { length: number; start: number } {
  let length = 0;
  let shift = 0;
  for (let i = 0; i < 5 && i < input.length; i++) {
    const b = input[i]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (length > 0xffffffff) break;
      return { length, start: i + 1 };
    }
    shift += 7;
  }
  throw corrupt('malformed length preamble');
}

/** Decompresses `input` into `scratch` (grown to fit) and returns the filled view. */
export function unsnappyInto(input: Uint8Array, scratch: Scratch, maxBytes: number): Uint8Array {
  const { length, start } = snappyLength(input);
  if (length > maxBytes) {
    throw new AvroFormatError('AVRO_LIMIT', `snappy block decompresses to ${length} bytes, over the limit of ${maxBytes} bytes`);
  }
  if (scratch.buf.length < length) scratch.buf = new Uint8Array(Math.max(length, Math.min(maxBytes, scratch.buf.length * 2)));
  const out = scratch.buf;
  // 4-byte moves through DataViews beat byte loops for the short runs snappy is made of
  const iv = new DataView(input.buffer, input.byteOffset, input.length);
  const ov = new DataView(out.buffer, out.byteOffset, out.length);
  const end = input.length;
  const cap = out.length;
  let ip = start;
  let op = 0;
  while (ip < end) {
    const tag = input[ip++]!;
    const kind = tag & 3;
    if (kind === 0) {
      // literal: length-1 in the tag, or in the 1-4 bytes after it
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (ip + bytes > end) throw corrupt('truncated literal length');
        len = 0;
        for (let k = 0; k < bytes; k++) len += input[ip + k]! * 2 ** (8 * k);
        ip += bytes;
      }
      len += 1;
      if (len > end - ip) throw corrupt('literal runs past the input');
      if (len > length - op) throw corrupt('output longer than declared');
      if (len <= 16 && op + 16 <= cap && ip + 16 <= end) {
        // short literal with slack on both sides: move 16 bytes, the excess is overwritten later
        ov.setUint32(op, iv.getUint32(ip, true), true);
        ov.setUint32(op + 4, iv.getUint32(ip + 4, true), true);
        ov.setUint32(op + 8, iv.getUint32(ip + 8, true), true);
        ov.setUint32(op + 12, iv.getUint32(ip + 12, true), true);
      } else if (len < 64) {
        let k = 0;
        for (; k + 4 <= len; k += 4) ov.setUint32(op + k, iv.getUint32(ip + k, true), true);
        for (; k < len; k++) out[op + k] = input[ip + k]!;
      } else {
        out.set(input.subarray(ip, ip + len), op);
      }
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (ip >= end) throw corrupt('truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[ip++]!;
    } else if (kind === 2) {
      if (ip + 2 > end) throw corrupt('truncated copy');
      len = (tag >>> 2) + 1;
      offset = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > end) throw corrupt('truncated copy');
      len = (tag >>> 2) + 1;
      offset = (input[ip]! | (input[ip + 1]! << 8) | (input[ip + 2]! << 16) | (input[ip + 3]! << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op) throw corrupt(`copy offset ${offset} at output byte ${op}`);
    if (len > length - op) throw corrupt('output longer than declared');
    const from = op - offset;
    if (offset >= 4 && len <= 16 && op + 16 <= cap) {
      // short copy with slack: four forward 4-byte moves (right for any offset ≥ 4)
      ov.setUint32(op, ov.getUint32(from, true), true);
      ov.setUint32(op + 4, ov.getUint32(from + 4, true), true);
      ov.setUint32(op + 8, ov.getUint32(from + 8, true), true);
      ov.setUint32(op + 12, ov.getUint32(from + 12, true), true);
    } else if (offset >= 4) {
      // forward 4-byte moves are right even when the ranges overlap, as long as offset ≥ 4
      let k = 0;
      for (; k + 4 <= len; k += 4) ov.setUint32(op + k, ov.getUint32(from + k, true), true);
      for (; k < len; k++) out[op + k] = out[from + k]!;
    } else {
      // offset 1-3: a short repeating pattern, byte by byte
      for (let k = 0; k < len; k++) out[op + k] = out[from + k]!;
    }
    op += len;
  }
  if (op !== length) throw corrupt(`output is ${op} bytes, the preamble declares ${length}`);
  return out.subarray(0, length);
}
