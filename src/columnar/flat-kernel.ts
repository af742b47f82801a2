/**
 * The WebAssembly fast path of the columnar decoder, for flat records: every field an int,
 * long, float, double, boolean, string, bytes, enum, fixed or null, each optionally in a
 * `[null, T]` union (all of Heap's tables). The kernel (`kernel/flat-decoder.c`) decodes
 * rows × fields straight into Arrow buffers laid out in its own memory; `finish()` copies
 * them out as Arrow `Data`, as the JavaScript builders' `finish()` does.
 *
 * Why: in a profile of the generated JavaScript decoder (compile.ts) on the decode bench's
 * 200k-row file, its row loop was 60% of the time and the hottest lines were the short-string
 * copies; the kernel copies eight bytes at a time into one flat memory. Same file, in-process
 * A/B (2026-11-28): ~185–260 ms a pass before, ~105–155 ms with the kernel; `npm run
 * bench:decode` compares both engines (`heaplake`, `heaplake-js`) in one run.
 *
 * The kernel only detects bad input. On any invalid value the caller decodes the same rows
 * with the JavaScript decoder, which throws the error with its field, record and offset, so
 * the two paths report errors identically by construction.
 */
import { type Data, type DataType, makeData } from 'apache-arrow';
import type { ColumnPlan, RootPlan } from './arrow-mapping.js';
import { fixedWidthData, grown } from './columns.js';
import { KERNEL_WASM_BASE64 } from './kernel/flat-decoder.wasm.js';
import { HEAP_START, growTo, instantiateKernel } from './kernel/instantiate.js';

/** Column kinds as the kernel numbers them (flat-decoder.c). */
const KIND: Partial<Record<ColumnPlan['kind'], number>> = {
  null: 0,
  int32: 1,
  int64: 2,
  float32: 3,
  float64: 3,
  fixed: 3,
  bool: 4,
  utf8: 5,
  binary: 5,
  enum: 6,
};
const K_BOOL = 4;
const K_VAR = 5;
const K_NULL = 0;
/** Added to a kind for a `[null, T]` union. */
const NULLABLE = 8;

/** The kernel's BAD and ROOM (0xffffffff, 0xfffffffe) as JavaScript sees a wasm i32. */
const BAD = -1;
const ROOM = -2;
/** u32 words per column in the kernel's table. */
const COL_WORDS = 10;
/** Where the kernel reports a row that did not fit (three words, below HEAP_START). */
const ROOM_STATUS = 60 * 1024;
/** Readable bytes after a block: a varint or fixed value that runs past the end reads these, then fails the end check. */
const SLACK = 64;
const MIN_DATA = 64 * 1024;

type DecodeFn = (cols: number, ncols: number, buf: number, pos: number, end: number, rows: number, base: number, room: number) => number;

/** True when every column of the plan is one the kernel decodes. */
export function kernelSupports(plan: RootPlan): boolean {
  return plan.columns.length > 0 && plan.columns.every((c) => KIND[c.kind] !== undefined && !(c.kind === 'fixed' && c.width === 0));
}

interface Region {
  at: number;
  cap: number;
}

interface KernelColumn {
  readonly plan: ColumnPlan;
  readonly kind: number;
  /** Bytes per value in `values` (0 for bool bits and var offsets). */
  readonly width: number;
  /** Word index of this column's entry in the kernel's table. */
  readonly word: number;
  values: Region;
  valid: Region | undefined;
  data: Region | undefined;
}

/** A string column's decoded values, as views into the kernel's memory (valid until the next call). */
export interface KernelStrings {
  readonly path: string;
  data: Uint8Array;
  off: Int32Array;
  n: number;
  dn: number;
  /** Whether a value decoded since the last call starts with a UTF-8 continuation byte. */
  midChar: boolean;
}

/**
 * One kernel instance (its own memory) bound to a plan. Not thread-safe; pooled by the caller.
 */
export class FlatKernel {
  private readonly memory: WebAssembly.Memory;
  private readonly decodeFn: DecodeFn;
  private readonly columns: KernelColumn[];
  private u8: Uint8Array;
  private u32: Uint32Array;
  private top: number;
  private rowCap = 0;
  private input: Region = { at: 0, cap: 0 };
  /** Bytes of the block `load` copied in. */
  private loaded = 0;
  /** Rows held (the slots base .. base + rows - 1 are the next ones). */
  private n = 0;

  constructor(readonly plan: RootPlan) {
    const { memory, exports } = instantiateKernel(KERNEL_WASM_BASE64);
    this.memory = memory;
    this.decodeFn = exports['decode'] as DecodeFn;
    this.u8 = new Uint8Array(this.memory.buffer);
    this.u32 = new Uint32Array(this.memory.buffer);
    this.top = HEAP_START + plan.columns.length * COL_WORDS * 4;
    this.columns = plan.columns.map((p, i) => {
      const kind = KIND[p.kind]!;
      const word = HEAP_START / 4 + i * COL_WORDS;
      const width = kind === K_BOOL || kind === K_VAR || kind === K_NULL ? 0 : p.width;
      return { plan: p, kind, width, word, values: { at: 0, cap: 0 }, valid: undefined, data: undefined };
    });
    for (const c of this.columns) {
      const w = this.u32;
      w[c.word] = c.kind | (c.plan.nullIndex >= 0 ? NULLABLE : 0);
      w[c.word + 1] = c.plan.nullIndex >>> 0; // -1 as 0xffffffff
      w[c.word + 8] = c.plan.kind === 'enum' ? c.plan.symbols.length : c.width;
    }
    this.reserveRows(1024);
    for (const c of this.columns) if (c.kind === K_VAR) this.growData(c, MIN_DATA);
  }

  get rows(): number {
    return this.n;
  }

  /** Bytes of memory this instance holds (it never shrinks). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Copies a block into the kernel's memory: the next `decode` calls read it (once per block, not per slice). */
  load(block: Uint8Array): void {
    if (this.input.cap < block.length + SLACK) this.input = this.alloc(grown(this.input.cap, block.length + SLACK));
    this.u8.set(block, this.input.at);
    this.loaded = block.length;
  }

  /**
   * Decodes `rows` records of the loaded block from `pos`; returns the position after them, or
   * -1 when the input is invalid (the rows decoded by this call are then in an undefined state:
   * the caller throws).
   */
  decode(pos: number, rows: number): number {
    this.reserveRows(this.n + rows);
    let p = pos;
    let left = rows;
    for (;;) {
      const r = this.decodeFn(HEAP_START, this.columns.length, this.input.at, p, this.loaded, left, this.n, ROOM_STATUS);
      if (r === BAD) return -1;
      if (r !== ROOM) {
        this.n += left;
        return r;
      }
      const status = this.u32;
      const done = status[ROOM_STATUS / 4]!;
      p = status[ROOM_STATUS / 4 + 1]!;
      const column = this.columns[status[ROOM_STATUS / 4 + 2]!]!;
      this.n += done;
      left -= done;
      this.growData(column, column.data!.cap * 2);
    }
  }

  /** The string columns' values decoded so far, for UTF-8 validation (resets their `midChar`). */
  strings(): KernelStrings[] {
    const out: KernelStrings[] = [];
    for (const c of this.columns) {
      if (c.plan.kind !== 'utf8') continue;
      const dn = this.u32[c.word + 6]!;
      const midChar = this.u32[c.word + 9] !== 0;
      this.u32[c.word + 9] = 0;
      out.push({
        midChar,
        path: c.plan.path,
        data: this.u8.subarray(c.data!.at, c.data!.at + dn),
        off: new Int32Array(this.memory.buffer, c.values.at, this.n + 1),
        n: this.n,
        dn,
      });
    }
    return out;
  }

  /** Hands the rows over as one Arrow Data per column (copies) and starts the next batch. */
  finish(): Data[] {
    const length = this.n;
    const w = this.u32;
    const u8 = this.u8;
    const out = this.columns.map((c): Data => {
      const type = c.plan.field.type as DataType;
      const nulls = w[c.word + 7]!;
      w[c.word + 7] = 0;
      let nullBitmap: Uint8Array | undefined;
      if (c.valid) {
        const bytes = (length + 7) >> 3;
        if (nulls > 0) nullBitmap = u8.slice(c.valid.at, c.valid.at + bytes);
        u8.fill(0, c.valid.at, c.valid.at + bytes);
      }
      const v = c.values.at;
      switch (c.kind) {
        case K_NULL:
          return makeData({ type, length } as never);
        case K_BOOL: {
          const bytes = (length + 7) >> 3;
          const data = u8.slice(v, v + bytes);
          u8.fill(0, v, v + bytes);
          return makeData({ type, length, nullCount: nulls, nullBitmap, data } as never);
        }
        case K_VAR: {
          const dn = w[c.word + 6]!;
          w[c.word + 6] = 0;
          const valueOffsets = new Int32Array(this.memory.buffer, v, length + 1).slice();
          const data = u8.slice(c.data!.at, c.data!.at + dn);
          return makeData({ type, length, nullCount: nulls, nullBitmap, valueOffsets, data } as never);
        }
        default:
          return fixedWidthData(type, length, nulls, nullBitmap, u8.slice(v, v + length * c.width), c.plan.kind === 'enum' ? c.plan.symbols : undefined);
      }
    });
    this.n = 0;
    return out;
  }

  /** Makes every per-row region hold `rows` rows (copying what they hold). */
  private reserveRows(rows: number): void {
    if (rows <= this.rowCap) return;
    const cap = grown(this.rowCap, rows);
    const used = this.n;
    for (const c of this.columns) {
      const bits = (cap + 7) >> 3;
      if (c.plan.nullIndex >= 0) c.valid = this.move(c.valid, bits, (used + 7) >> 3);
      if (c.kind === K_BOOL) c.values = this.move(c.values, bits, (used + 7) >> 3);
      else if (c.kind === K_VAR) c.values = this.move(c.values, 4 * (cap + 1), 4 * (used + 1));
      else c.values = this.move(c.values, c.width * cap, c.width * used);
      this.writeRegions(c);
    }
    this.rowCap = cap;
  }

  /** Gives a string column's data region at least `cap` bytes (copying what it holds). */
  private growData(c: KernelColumn, cap: number): void {
    c.data = this.move(c.data, grown(c.data?.cap ?? 0, cap), this.u32[c.word + 6]!);
    this.writeRegions(c);
  }

  /**
   * A new region of `cap` bytes holding the first `used` bytes of `from`, zero past them (the
   * bitmaps rely on it): regions are bump-allocated, never reused, and a wasm memory's new
   * pages are zero.
   */
  private move(from: Region | undefined, cap: number, used: number): Region {
    const to = this.alloc(cap);
    if (from && used > 0) this.u8.copyWithin(to.at, from.at, from.at + used);
    return to;
  }

  private writeRegions(c: KernelColumn): void {
    const w = this.u32;
    w[c.word + 2] = c.values.at;
    w[c.word + 3] = c.valid?.at ?? 0;
    w[c.word + 4] = c.data?.at ?? 0;
    w[c.word + 5] = c.data?.cap ?? 0;
  }

  /** Bump allocation: regions that are outgrown are left behind (growth doubles, so at most half is waste). */
  private alloc(cap: number): Region {
    const at = (this.top + 15) & ~15;
    const top = at + cap;
    if (growTo(this.memory, top)) {
      this.u8 = new Uint8Array(this.memory.buffer);
      this.u32 = new Uint32Array(this.memory.buffer);
    }
    this.top = top;
    return { at, cap };
  }
}

