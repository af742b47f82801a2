/**
 * The map task's shuffle of one column on a WebAssembly kernel (kernel/scatter.c): every row of
 * a group of batches goes to its key's bucket, each bucket's rows batch after batch in the
 * order the task grouped them. The result is, per bucket, exactly the column gather.ts would
 * build for that bucket's rows (test/scatter.test.ts compares them), without gather's
 * per-row JavaScript: map rows land in ~50 buckets at random, so gather's runs are one row
 * long and its per-run work is the whole cost.
 *
 * Only copies in a column's own type: fixed-width values, booleans, strings and binary.
 * `scatterSupports` says when a column qualifies; the caller gathers the others.
 */
import { type Data, makeData, Type } from 'apache-arrow';
import { arrowType, typeSpec, type TypeSpec } from '../schema/merge.js';
import { bytesOf } from '../bytes.js';
import { fixedWidthData } from './columns.js';
import { widthOf } from './gather.js';
import { KERNEL_WASM_BASE64 } from './kernel/scatter.wasm.js';
import { HEAP_START, growTo, instantiateKernel } from './kernel/instantiate.js';

/** A batch's rows grouped by bucket: bucket k's are order[start[k] .. start[k+1]). */
export interface BucketRows {
  readonly order: Int32Array;
  readonly start: Int32Array;
}

const S_FIXED = 0;
const S_BOOL = 1;
const S_VAR = 2;
/** Bytes readable and writable past a string region: the kernel moves short values 16 bytes at a time. */
const SLACK = 16;

type ScatterFn = (kind: number, width: number, sources: number, nsrc: number, buckets: number, out: number) => void;

let kernel: { memory: WebAssembly.Memory; scatter: ScatterFn } | undefined;

function instance(): { memory: WebAssembly.Memory; scatter: ScatterFn } {
  if (!kernel) {
    const { memory, exports } = instantiateKernel(KERNEL_WASM_BASE64);
    kernel = { memory, scatter: exports['scatter'] as ScatterFn };
  }
  return kernel;
}

/** Whether the kernel can scatter this column: every batch has it, in the target's own type. */
export function scatterSupports(spec: TypeSpec, sources: readonly (Data | undefined)[]): boolean {
  if (spec === 'null') return false;
  const kind = kindOf(spec);
  if (kind === undefined) return false;
  return sources.every((d) => d !== undefined && typeSpec(d.type, 'column') === spec && (kind !== S_VAR || d.typeId === Type.Utf8 || d.typeId === Type.Binary));
}

function kindOf(spec: TypeSpec): number | undefined {
  if (spec === 'utf8' || spec === 'binary') return S_VAR;
  if (spec === 'bool') return S_BOOL;
  return widthOf(spec) > 0 ? S_FIXED : undefined;
}

/**
 * A group's rows by bucket, placed in the kernel's memory once for all its columns, which all
 * read the same row order. Copied per column, the order was 4 bytes a row against ~12 bytes
 * of values for an average Heap-like pageviews column (~410 bytes a row over 35 columns); the
 * time saved was within noise in an in-process A/B (scratch/scab.mjs).
 */
export interface PlacedRows {
  readonly buckets: number;
  /** Bucket k's first output row (first[buckets]: all rows), and the byte where its bits start. */
  readonly first: Uint32Array;
  readonly vfirst: Uint32Array;
  /** Per source batch: its order and start arrays in the kernel's memory. */
  readonly order: readonly number[];
  readonly start: readonly number[];
  readonly firstAt: number;
  readonly vfirstAt: number;
  /** Where a column's regions may begin. */
  readonly top: number;
  /** Which placement this is: a column is scattered only with the latest one. */
  readonly generation: number;
}

let placements = 0;

/** Places `rows` (one per source batch) in the kernel's memory for the group's columns to use. */
export function placeRows(rows: readonly BucketRows[], buckets: number): PlacedRows {
  // rows per bucket, and where each bucket's rows and validity bytes start
  const first = new Uint32Array(buckets + 1);
  const vfirst = new Uint32Array(buckets + 1);
  for (let k = 0; k < buckets; k++) {
    let n = 0;
    for (const r of rows) n += r.start[k + 1]! - r.start[k]!;
    first[k + 1] = first[k]! + n;
    vfirst[k + 1] = vfirst[k]! + ((n + 7) >> 3);
  }
  const layout = new Layout(instance().memory, HEAP_START);
  const order = rows.map((r) => layout.put(bytesOf(r.order)));
  const start = rows.map((r) => layout.put(bytesOf(r.start)));
  const firstAt = layout.put(bytesOf(first));
  const vfirstAt = layout.put(bytesOf(vfirst));
  return { buckets, first, vfirst, order, start, firstAt, vfirstAt, top: layout.top, generation: ++placements };
}

/** Whether `rows` are still the latest placement (another group's `placeRows` replaces them). */
export const isCurrent = (rows: PlacedRows): boolean => rows.generation === placements;

/**
 * Column `spec` of every bucket (undefined where a bucket has no rows), from `sources[b]`
 * whose rows were placed by `placeRows` (the latest call). Check `scatterSupports` first.
 */
export function scatterColumn(spec: TypeSpec, sources: readonly Data[], rows: PlacedRows, copyOut: (bytes: Uint8Array) => Uint8Array<ArrayBuffer> = (b) => b.slice()): (Data | undefined)[] {
  if (!isCurrent(rows)) throw new Error('scatterColumn: the rows were placed before another group\'s');
  const { buckets, first, vfirst } = rows;
  const kind = kindOf(spec)!;
  const width = kind === S_FIXED ? widthOf(spec) : 0;
  const type = arrowType(spec);
  const total = first[buckets]!;
  const validBytes = vfirst[buckets]!;

  const k = instance();
  const layout = new Layout(k.memory, rows.top);
  const table = layout.take(sources.length * 32);
  const entries: number[][] = [];
  let sourceBytes = 0;
  for (let b = 0; b < sources.length; b++) {
    const d = sources[b]!;
    const values = layout.put(bytesOf(d.values as ArrayBufferView), SLACK);
    const offsets = kind === S_VAR ? layout.put(bytesOf(d.valueOffsets as Int32Array)) : 0;
    const hasNulls = d.nullCount > 0 && d.nullBitmap && d.nullBitmap.length > 0;
    const valid = hasNulls ? layout.put(d.nullBitmap!) : 0;
    entries.push([values, offsets, valid, d.offset, rows.order[b]!, rows.start[b]!, 0, 0]);
    if (kind === S_VAR) sourceBytes += (d.values as Uint8Array).byteLength;
  }
  const out = {
    values: layout.take(kind === S_FIXED ? total * width : kind === S_VAR ? sourceBytes + SLACK : 0),
    offsets: layout.take(kind === S_VAR ? (total + buckets) * 4 : 0),
    valid: layout.take(validBytes),
    bits: layout.take(kind === S_BOOL ? validBytes : 0),
    first: rows.firstAt,
    vfirst: rows.vfirstAt,
    nulls: layout.take(buckets * 4),
    dfirst: layout.take((buckets + 1) * 4),
  };
  const header = layout.take(32);
  // every address is known: write the tables (the memory no longer grows)
  const u8 = new Uint8Array(k.memory.buffer);
  const u32 = new Uint32Array(k.memory.buffer);
  entries.forEach((e, b) => u32.set(e, table / 4 + b * 8));
  u32.set([out.values, out.offsets, out.valid, out.bits, out.first, out.vfirst, out.nulls, out.dfirst], header / 4);
  u8.fill(0, out.valid, out.valid + validBytes);
  if (kind === S_BOOL) u8.fill(0, out.bits, out.bits + validBytes);

  k.scatter(kind, width, table, sources.length, buckets, header);

  const result: (Data | undefined)[] = [];
  for (let b = 0; b < buckets; b++) {
    const length = first[b + 1]! - first[b]!;
    if (length === 0) {
      result.push(undefined);
      continue;
    }
    const nullCount = u32[out.nulls / 4 + b]!;
    const vAt = out.valid + vfirst[b]!;
    const nullBitmap = nullCount > 0 ? copyOut(u8.subarray(vAt, vAt + ((length + 7) >> 3))) : undefined;
    if (kind === S_VAR) {
      const oAt = out.offsets + (first[b]! + b) * 4;
      const offsetBytes = copyOut(u8.subarray(oAt, oAt + (length + 1) * 4));
      const valueOffsets = new Int32Array(offsetBytes.buffer, offsetBytes.byteOffset, length + 1);
      const data = copyOut(u8.subarray(out.values + u32[out.dfirst / 4 + b]!, out.values + u32[out.dfirst / 4 + b + 1]!));
      result.push(makeData({ type, length, nullCount, nullBitmap, valueOffsets, data } as never));
    } else if (kind === S_BOOL) {
      const bAt = out.bits + vfirst[b]!;
      result.push(makeData({ type, length, nullCount, nullBitmap, data: copyOut(u8.subarray(bAt, bAt + ((length + 7) >> 3))) } as never));
    } else {
      result.push(fixedWidthData(type, length, nullCount, nullBitmap, copyOut(u8.subarray(out.values + first[b]! * width, out.values + first[b + 1]! * width))));
    }
  }
  return result;
}

/** Regions of the kernel's memory from `top` up (the memory grows as needed). */
class Layout {
  constructor(
    private readonly memory: WebAssembly.Memory,
    public top: number,
  ) {}

  /** A region of `bytes` (8-byte aligned). */
  take(bytes: number): number {
    const at = (this.top + 7) & ~7;
    this.top = at + bytes;
    growTo(this.memory, this.top);
    return at;
  }

  /** A region holding a copy of `bytes`, with `slack` bytes after it. */
  put(bytes: Uint8Array, slack = 0): number {
    const at = this.take(bytes.length + slack);
    new Uint8Array(this.memory.buffer, at, bytes.length).set(bytes);
    return at;
  }
}
