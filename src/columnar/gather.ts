/**
 * Builds one output column of a lake table from rows picked out of many source batches
 * (row references: batch index + row index), converting each source to the merged type on
 * the way: int32 → int64, integers and float32 → float64, epoch-µs longs → timestamp, `time`
 * strings → timestamp (parsed), anything → utf8 (display text), missing column → null.
 * Values are read from and written to typed arrays; no JS object per row.
 */
import { type Data, makeData, Type } from 'apache-arrow';
import { parseTimeMicros } from './timestamps.js';
import { displayText } from './json-rows.js';
import { arrowType, typeSpec, type TypeSpec } from '../schema/merge.js';

/** Rows to gather, in output order: parallel arrays of source batch and row. */
export interface RowRefs {
  readonly batch: Int32Array;
  readonly row: Int32Array;
  readonly length: number;
}

/** What the conversions met, for the run report. */
export interface GatherStats {
  /** Strings that are not timestamps (the value became null). */
  unparsedTimes: number;
  /** Up to five of them, as found. */
  unparsedExamples: string[];
  /** int64 values beyond 2^53 that became inexact doubles. */
  inexactDoubles: number;
}

export function newGatherStats(): GatherStats {
  return { unparsedTimes: 0, unparsedExamples: [], inexactDoubles: 0 };
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const encoder = new TextEncoder();

/** Whether row `i` of `d` holds a value (not null); `i` is relative to the Data's offset. */
export function isValid(d: Data, i: number): boolean {
  if (d.typeId === Type.Null) return false;
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return true;
  const at = d.offset + i;
  return ((d.nullBitmap[at >> 3]! >> (at & 7)) & 1) === 1;
}

function bytesOf(d: Data): Uint8Array {
  const v = d.values as ArrayBufferView;
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

const WIDTH: Record<string, number> = { int32: 4, int64: 8, float32: 4, float64: 8, date32: 4, 'time32[ms]': 4, 'time64[us]': 8 };

/** Bytes of a column's (or batch's) Arrow buffers, its children's included. */
export function dataBytes(d: Data): number {
  return (d.values?.byteLength ?? 0) + (d.valueOffsets?.byteLength ?? 0) + (d.nullBitmap?.byteLength ?? 0) + d.children.reduce((n, c) => n + dataBytes(c), 0);
}

/** Bytes per value of a fixed-width column type (0: variable or bit-packed). */
export function widthOf(spec: TypeSpec): number {
  if (WIDTH[spec] !== undefined) return WIDTH[spec]!;
  if (spec.startsWith('timestamp')) return 8;
  const fixed = /^fixed\[(\d+)\]$/.exec(spec);
  if (fixed) return Number(fixed[1]);
  const dec = /^decimal(128|256)/.exec(spec);
  if (dec) return Number(dec[1]) / 8;
  return 0;
}

/**
 * Gathers `refs` from `sources[refs.batch[i]]` (undefined: the batch lacks the column) into a
 * column of type `target`.
 */
export function gatherColumn(target: TypeSpec, sources: readonly (Data | undefined)[], refs: RowRefs, stats: GatherStats): Data {
  // the per-source set-up below is O(sources): with many small source batches (a split table's
  // reduce reads thousands) and few of them referenced, narrow the sources to those first
  if (sources.length > 64 && sources.length > refs.length >> 4) {
    const narrowed = narrow(sources, refs);
    if (narrowed) return gatherColumn(target, narrowed.sources, narrowed.refs, stats);
  }
  const type = arrowType(target);
  const n = refs.length;
  const specs = sources.map((d, b) => (d ? typeSpec(d.type, `batch ${b}`) : undefined));
  const valid = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  const setValid = (i: number) => {
    valid[i >> 3]! |= 1 << (i & 7);
  };

  if (target === 'null') return makeData({ type, length: n } as never);

  if (target === 'utf8' || target === 'binary') {
    const offsets = new Int32Array(n + 1);
    const texts = sources.map((d, b) => (d && specs[b] !== 'utf8' && specs[b] !== 'binary' ? displayText(d.type) : undefined));
    if (texts.some((t) => t !== undefined)) return gatherText(type, sources, texts, refs, offsets, valid);
    // two passes over typed arrays, no object per value: the offsets first, then the bytes
    const srcOffsets = sources.map((d) => d?.valueOffsets as Int32Array | undefined);
    const srcBytes = sources.map((d) => d?.values as Uint8Array | undefined);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const b = refs.batch[i]!;
      const d = sources[b];
      const r = refs.row[i]!;
      if (d && isValid(d, r)) {
        const o = srcOffsets[b]!;
        const at = d.offset + r;
        total += o[at + 1]! - o[at]!;
        setValid(i);
      } else nulls++;
      offsets[i + 1] = total;
    }
    const data = new Uint8Array(total);
    for (let i = 0; i < n; i++) {
      const start = offsets[i]!;
      const len = offsets[i + 1]! - start;
      if (len === 0) continue;
      const b = refs.batch[i]!;
      const from = srcOffsets[b]![sources[b]!.offset + refs.row[i]!]!;
      const src = srcBytes[b]!;
      if (len <= 32) for (let k = 0; k < len; k++) data[start + k] = src[from + k]!;
      else data.set(src.subarray(from, from + len), start);
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls > 0 ? valid : undefined, valueOffsets: offsets, data } as never);
  }

  if (target === 'bool') {
    const bits = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) {
      const d = sources[refs.batch[i]!];
      const r = refs.row[i]!;
      if (d && isValid(d, r)) {
        const at = d.offset + r;
        if (((d.values as Uint8Array)[at >> 3]! >> (at & 7)) & 1) bits[i >> 3]! |= 1 << (i & 7);
        setValid(i);
      } else nulls++;
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls > 0 ? valid : undefined, data: bits } as never);
  }

  const width = widthOf(target);
  const out = new Uint8Array(n * width);
  const out32 = new Int32Array(out.buffer, 0, width >= 4 ? (n * width) >> 2 : 0);
  const outDouble = target === 'float64' ? new Float64Array(out.buffer) : undefined;
  const isTimestamp = target.startsWith('timestamp');
  // per source batch: how to move one value
  const modes = specs.map((s) => {
    if (s === undefined) return 'absent';
    if (s === target || (isTimestamp && s === 'int64') || (isTimestamp && s.startsWith('timestamp'))) return 'copy';
    if (target === 'int64' && s === 'int32') return 'widen32';
    if (target === 'float64' && (s === 'int32' || s === 'float32')) return 'number';
    if (target === 'float64' && s === 'int64') return 'int64ToDouble';
    if (isTimestamp && s === 'utf8') return 'parseTime';
    if (s === 'null') return 'absent';
    throw new Error(`no conversion from ${s} to ${target}`);
  });
  const srcBytes = sources.map((d) => (d && d.typeId !== Type.Null ? bytesOf(d) : undefined));
  // 8-byte values move as two int32 halves when the source is 4-byte aligned (Arrow's are)
  const src32 = srcBytes.map((u) => (u && width === 8 && u.byteOffset % 4 === 0 ? new Int32Array(u.buffer, u.byteOffset, u.byteLength >> 2) : undefined));
  for (let i = 0; i < n; i++) {
    const b = refs.batch[i]!;
    const r = refs.row[i]!;
    const d = sources[b];
    if (!d || !isValid(d, r)) {
      nulls++;
      continue;
    }
    const at = d.offset + r;
    switch (modes[b]) {
      case 'copy': {
        const s32 = src32[b];
        if (s32) {
          out32[i * 2] = s32[at * 2]!;
          out32[i * 2 + 1] = s32[at * 2 + 1]!;
        } else {
          const src = srcBytes[b]!;
          for (let k = 0; k < width; k++) out[i * width + k] = src[at * width + k]!;
        }
        break;
      }
      case 'widen32': {
        const v = (d.values as Int32Array)[at]!;
        out32[i * 2] = v;
        out32[i * 2 + 1] = v >> 31;
        break;
      }
      case 'number':
        outDouble![i] = Number((d.values as ArrayLike<number>)[at]);
        break;
      case 'int64ToDouble': {
        const v = (d.values as BigInt64Array)[at]!;
        const x = Number(v);
        if (BigInt(x) !== v) stats.inexactDoubles++;
        outDouble![i] = x;
        break;
      }
      case 'parseTime': {
        const o = d.valueOffsets as Int32Array;
        const bytes = d.values as Uint8Array;
        const micros = parseTimeMicros(bytes, o[at]!, o[at + 1]!);
        if (Number.isNaN(micros)) {
          stats.unparsedTimes++;
          if (stats.unparsedExamples.length < 5) stats.unparsedExamples.push(utf8.decode(bytes.subarray(o[at]!, o[at + 1]!)));
          nulls++;
          continue;
        }
        out32[i * 2] = micros % 0x100000000 | 0;
        out32[i * 2 + 1] = Math.floor(micros / 0x100000000);
        break;
      }
      default:
        nulls++;
        continue;
    }
    setValid(i);
  }
  const ArrayType = (type as unknown as { ArrayType: new (b: ArrayBuffer) => ArrayLike<unknown> }).ArrayType;
  const data = ArrayType === Uint8Array ? out : new ArrayType(out.buffer);
  return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls > 0 ? valid : undefined, data } as never);
}

/** The referenced sources only, and refs renumbered to them (undefined: nearly all are referenced). */
function narrow(sources: readonly (Data | undefined)[], refs: RowRefs): { sources: (Data | undefined)[]; refs: RowRefs } | undefined {
  const slot = new Int32Array(sources.length).fill(-1);
  const used: (Data | undefined)[] = [];
  const batch = new Int32Array(refs.length);
  for (let i = 0; i < refs.length; i++) {
    const b = refs.batch[i]!;
    let s = slot[b]!;
    if (s === -1) {
      s = slot[b] = used.length;
      used.push(sources[b]);
    }
    batch[i] = s;
  }
  if (used.length * 2 > sources.length) return undefined;
  return { sources: used, refs: { batch, row: refs.row, length: refs.length } };
}

/** Text columns fed by sources of other types (display text): the general, slower path. */
function gatherText(type: ReturnType<typeof arrowType>, sources: readonly (Data | undefined)[], texts: readonly (((d: Data, r: number) => string) | undefined)[], refs: RowRefs, offsets: Int32Array, valid: Uint8Array): Data {
  const n = refs.length;
  const parts: Uint8Array[] = [];
  let total = 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const b = refs.batch[i]!;
    const r = refs.row[i]!;
    const d = sources[b];
    if (d && isValid(d, r)) {
      let value: Uint8Array;
      const text = texts[b];
      if (text) value = encoder.encode(text(d, r));
      else {
        const o = d.valueOffsets as Int32Array;
        const at = d.offset + r;
        value = (d.values as Uint8Array).subarray(o[at]!, o[at + 1]!);
      }
      parts.push(value);
      total += value.length;
      valid[i >> 3]! |= 1 << (i & 7);
    } else nulls++;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls > 0 ? valid : undefined, valueOffsets: offsets, data } as never);
}
