/**
 * One column chunk (a row group's rows of one flat column) into Parquet page bodies, on the
 * WebAssembly kernel kernel/page-encoder.c: the parts (row ranges of the row group's batches)
 * are copied into the kernel's memory as one column, then encoded as a dictionary page and
 * dictionary-indexed data pages, or as PLAIN data pages when the dictionary is off or would
 * pass DICTIONARY_BYTES. Bodies are handed to `page` as views of the kernel's memory, valid
 * until the callback returns (the writer compresses them there).
 */
import type { Data } from 'apache-arrow';
import { bytesOf } from '../bytes.js';
import { KERNEL_WASM_BASE64 } from './kernel/page-encoder.wasm.js';
import { HEAP_START, growTo, instantiateKernel } from '../columnar/kernel/instantiate.js';

/** The kernel's kinds of column (page-encoder.c). */
export const K_BOOL = 0;
export const K_I32 = 1;
export const K_I64 = 2;
export const K_F32 = 3;
export const K_F64 = 4;
export const K_VAR = 5;

/** A dictionary's PLAIN bytes at most (parquet-rs's default dictionary page limit). */
export const DICTIONARY_BYTES = 1024 * 1024;
/** A data page holds at most this many rows, and at most PAGE_BYTES of values (unless one value is larger). */
export const PAGE_ROWS = 20_000;
export const PAGE_BYTES = 1024 * 1024;

/** Rows [from, to) of one batch's column. */
export interface Part {
  readonly data: Data;
  readonly from: number;
  readonly to: number;
}

export interface PageInfo {
  readonly dictionary: boolean;
  /** Rows in the page (dictionary pages: distinct values). */
  readonly count: number;
  /** PLAIN (0) or RLE_DICTIONARY (8). */
  readonly encoding: number;
}

export interface ChunkSummary {
  readonly rows: number;
  readonly nulls: number;
  /** Whether the data pages index a dictionary. */
  readonly dictionary: boolean;
  /** Min and max of the non-null values as PLAIN bytes (undefined: none, or too long to keep). */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

/** Longest byte-array min or max kept in statistics (longer ones are left out, never cut). */
const STATS_BYTES = 64;

type Fn = (...args: number[]) => number;
let kernel: { memory: WebAssembly.Memory; fn: Record<string, Fn> } | undefined;

function instance(): { memory: WebAssembly.Memory; fn: Record<string, Fn> } {
  if (!kernel) {
    const { memory, exports } = instantiateKernel(KERNEL_WASM_BASE64);
    kernel = { memory, fn: exports as Record<string, Fn> };
  }
  return kernel;
}

const align = (n: number) => (n + 15) & ~15;

/**
 * Encodes `parts` (all of one column, of kind `kind`) and reports each page body in order: the
 * dictionary page first when there is one. `dictionary` false skips the dictionary.
 */
export function encodeChunk(kind: number, parts: readonly Part[], dictionary: boolean, page: (body: Uint8Array, info: PageInfo) => void): ChunkSummary {
  const k = instance();
  const width = kind === K_I64 || kind === K_F64 ? 8 : kind === K_BOOL ? 0 : 4;
  let n = 0;
  let nulls = 0;
  let bytes = 0;
  for (const p of parts) {
    n += p.to - p.from;
    if (p.data.nullCount > 0) nulls += countNulls(p);
    if (kind === K_VAR) {
      const o = p.data.valueOffsets as Int32Array;
      bytes += o[p.to]! - o[p.from]!;
    }
  }
  const useDict = dictionary && kind !== K_BOOL && n - nulls > 0;
  const tableSlots = useDict ? 1 << Math.max(4, Math.ceil(Math.log2(2 * (n - nulls)))) : 0;
  // regions, from HEAP_START: status words, validity, values, offsets, indices, hash table, entries, scratch, out
  const status = HEAP_START;
  const valid = status + 64;
  const values = valid + align((n >> 3) + 8);
  const valueBytes = kind === K_VAR ? bytes : kind === K_BOOL ? (n >> 3) + 8 : n * width;
  const offsets = values + align(valueBytes + 8);
  const idx = offsets + (kind === K_VAR ? align((n + 1) * 4) : 0);
  const table = idx + (useDict ? align(n * 4) : 0);
  const entries = table + tableSlots * 4;
  const scratch = entries + (useDict ? align(n * (kind === K_VAR ? 8 : width)) : 0);
  const out = scratch + align(PAGE_ROWS * 4);
  // the out region grows again below once the pages are known; it must hold bit staging now
  growTo(k.memory, out + align((n >> 3) + 16));
  let mem = new Uint8Array(k.memory.buffer);
  const fn = k.fn;

  // the parts, joined into one column
  let row = 0;
  let at = 0;
  for (const p of parts) {
    const d = p.data;
    const len = p.to - p.from;
    if (nulls > 0) copyBits(mem, fn, valid, row, d.nullCount > 0 ? d.nullBitmap : undefined, d.offset + p.from, len, out);
    if (kind === K_BOOL) copyBits(mem, fn, values, row, d.values as Uint8Array, d.offset + p.from, len, out);
    else if (kind === K_VAR) {
      const o = d.valueOffsets as Int32Array;
      const from = o[p.from]!;
      const size = o[p.to]! - from;
      mem.set((d.values as Uint8Array).subarray(from, from + size), values + at);
      mem.set(bytesOf(o.subarray(p.from, p.to + 1)), offsets + row * 4);
      fn['add_u32']!(offsets + row * 4, len + 1, at - from);
      at += size;
    } else mem.set(bytesOf(d.values as ArrayBufferView).subarray(p.from * width, p.to * width), values + row * width);
    row += len;
  }
  const pages = pageBounds(fn, kind, offsets, n, width);
  const outBytes = Math.max(pages.maxBytes + 5 * PAGE_ROWS + 1024, useDict ? DICTIONARY_BYTES + 8 * PAGE_ROWS : 0);
  if (growTo(k.memory, out + outBytes)) mem = new Uint8Array(k.memory.buffer);
  const validAt = nulls > 0 ? valid : 0;

  // the dictionary: every non-null value's index, or none when it would be too large
  let distinct = -1;
  if (useDict) {
    mem.fill(0, table, table + tableSlots * 4);
    distinct = fn['dict_build']!(kind, n, validAt, values, offsets, idx, table, tableSlots - 1, entries, n, DICTIONARY_BYTES);
  }
  const bw = distinct > 0 ? Math.max(1, Math.ceil(Math.log2(distinct))) : 0;
  if (distinct > 0) {
    const size = fn['dict_page']!(kind, distinct, entries, values, out) >>> 0;
    page(new Uint8Array(k.memory.buffer, out, size), { dictionary: true, count: distinct, encoding: 0 });
  }
  let first = 0;
  for (let i = 0; i + 1 < pages.bounds.length; i++) {
    const from = pages.bounds[i]!;
    const to = pages.bounds[i + 1]!;
    const size = fn['data_page']!(kind, from, to, validAt, values, offsets, idx, first, bw, scratch, out, status) >>> 0;
    first += new Uint32Array(k.memory.buffer, status, 1)[0]!;
    page(new Uint8Array(k.memory.buffer, out, size), { dictionary: false, count: to - from, encoding: bw > 0 ? 8 : 0 });
  }

  // min and max: over the distinct values when there is a dictionary
  if (distinct > 0) fn['chunk_stats']!(kind, distinct, 0, values, offsets, entries, status);
  else fn['chunk_stats']!(kind, n, validAt, values, offsets, 0, status);
  const stats = minMax(kind, new Uint8Array(k.memory.buffer), status, values);
  return { rows: n, nulls, dictionary: bw > 0, ...stats };
}

/** Page boundaries (row numbers, first 0, last n) and the largest page's value bytes. */
function pageBounds(fn: Record<string, Fn>, kind: number, offsets: number, n: number, width: number): { bounds: number[]; maxBytes: number } {
  const bounds = [0];
  if (kind !== K_VAR) {
    const rows = kind === K_BOOL ? PAGE_ROWS : Math.max(1, Math.min(PAGE_ROWS, Math.floor(PAGE_BYTES / width)));
    for (let r = rows; r < n; r += rows) bounds.push(r);
    bounds.push(n);
    return { bounds, maxBytes: kind === K_BOOL ? (rows >> 3) + 8 : rows * width };
  }
  // strings: cut by rows and by bytes, on the joined offsets
  const o = new Uint32Array(instance().memory.buffer, offsets, n + 1);
  let maxBytes = 0;
  for (let from = 0; from < n; ) {
    const to = fn['page_end']!(offsets, n, from, PAGE_ROWS, PAGE_BYTES) >>> 0;
    maxBytes = Math.max(maxBytes, o[to]! - o[from]!);
    bounds.push(to);
    from = to;
  }
  if (n === 0) bounds.push(0);
  return { bounds, maxBytes };
}

function countNulls(p: Part): number {
  const d = p.data;
  if (p.from === 0 && p.to === d.length) return d.nullCount;
  const bits = d.nullBitmap!;
  let valid = 0;
  for (let r = p.from; r < p.to; r++) {
    const at = d.offset + r;
    valid += (bits[at >> 3]! >> (at & 7)) & 1;
  }
  return p.to - p.from - valid;
}

/** Copies `len` bits of `src` from bit `sbit` to bit `dbit` of the region at `dst` (src undefined: sets them). */
function copyBits(mem: Uint8Array, fn: Record<string, Fn>, dst: number, dbit: number, src: Uint8Array | undefined, sbit: number, len: number, staging: number): void {
  if (!src || src.length === 0) {
    fn['copy_bits']!(dst, dbit, 0, 0, len);
    return;
  }
  const fromByte = sbit >> 3;
  const toByte = (sbit + len + 7) >> 3;
  mem.set(src.subarray(fromByte, toByte), staging);
  fn['copy_bits']!(dst, dbit, staging, sbit & 7, len);
}

function minMax(kind: number, mem: Uint8Array, status: number, values: number): { min?: Uint8Array; max?: Uint8Array } {
  const words = new Uint32Array(mem.buffer, status, 8);
  if (words[0] === 0) return {};
  if (kind === K_BOOL) return { min: Uint8Array.of(words[1] ? 0 : 1), max: Uint8Array.of(words[2] ? 1 : 0) };
  if (kind === K_VAR) {
    if (words[2]! > STATS_BYTES || words[4]! > STATS_BYTES) return {};
    return { min: mem.slice(values + words[1]!, values + words[1]! + words[2]!), max: mem.slice(values + words[3]!, values + words[3]! + words[4]!) };
  }
  const min = mem.slice(status + 8, status + 16);
  const max = mem.slice(status + 16, status + 24);
  if (kind === K_I64 || kind === K_F64) return { min, max };
  if (kind === K_I32) return { min: min.subarray(0, 4), max: max.subarray(0, 4) };
  // float: the kernel gives doubles
  const f = (b: Uint8Array) => new Uint8Array(Float32Array.of(new Float64Array(b.buffer, b.byteOffset, 1)[0]!).buffer);
  return { min: f(min), max: f(max) };
}
