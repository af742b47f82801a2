/**
 * Column builders: growable typed arrays that the generated decoder writes into directly,
 * and that `finish()` turns into Arrow `Data` with `makeData` (no per-value Builder calls).
 *
 * The generated code reads and writes the public fields (`n`, `b`, `i32`, `off`, `data`, …)
 * itself; these classes only own growth, nulls and the hand-over to Arrow. `finish()` copies
 * the used part of each buffer out (so no two batches, and no two columns, ever share a
 * typed array) and keeps the builder's buffers for the next batch, so decoding writes into
 * memory that is already touched.
 */
import { type DataType, type Data, type Dictionary, type Map_, type Struct, makeData, Utf8, vectorFromArray } from 'apache-arrow';

export interface Column {
  /** Number of values appended since the last finish. */
  n: number;
  /** Validity bitmap (bit set = valid), or null when the column cannot hold nulls. */
  valid: Uint8Array | null;
  nulls: number;
  readonly type: DataType;
  /** Makes room for `extra` more values. */
  reserve(extra: number): void;
  /** Appends a null (or, in a column that cannot be null, an empty placeholder under a null parent). */
  appendNull(): void;
  /** Hands the values over as Arrow Data and starts the next batch. */
  finish(): Data;
  /** Every column below this one, including itself (for per-batch checks). */
  walk(visit: (c: Column) => void): void;
}

const INITIAL = 1024;

/** A capacity of at least `needed`: `current` (at least 1024) doubled as often as it takes. */
export function grown(current: number, needed: number): number {
  let cap = Math.max(current, INITIAL);
  while (cap < needed) cap *= 2;
  return cap;
}

/** `arr` itself when it holds `need` entries, else a larger copy of its first `used` entries. */
function withRoom<T extends Int32Array | Int8Array>(arr: T, used: number, need: number): T {
  if (arr.length >= need) return arr;
  const next = new (arr.constructor as new (n: number) => T)(grown(arr.length, need));
  next.set(arr.subarray(0, used));
  return next;
}

/** Validity bookkeeping shared by every column kind. */
abstract class BaseColumn {
  n = 0;
  valid: Uint8Array | null;
  nulls = 0;

  constructor(
    readonly type: DataType,
    nullable: boolean,
  ) {
    this.valid = nullable ? new Uint8Array(INITIAL >> 3) : null;
  }

  protected reserveValid(capacity: number): void {
    if (this.valid && this.valid.length * 8 < capacity) {
      const next = new Uint8Array(grown(this.valid.length * 8, capacity) >> 3);
      next.set(this.valid);
      this.valid = next;
    }
  }

  /** The used part of the validity bitmap (copied), and a cleared bitmap for the next batch. */
  protected takeValidity(): Uint8Array | undefined {
    if (!this.valid || this.nulls === 0) {
      if (this.valid) this.valid.fill(0, 0, (this.n + 7) >> 3);
      return undefined;
    }
    const bytes = (this.n + 7) >> 3;
    const out = this.valid.slice(0, bytes);
    this.valid.fill(0, 0, bytes);
    return out;
  }

  walk(visit: (c: Column) => void): void {
    visit(this as unknown as Column);
  }
}

/**
 * Fixed-width values: ints, longs (as lo/hi int32 pairs), floats, dates, times, timestamps,
 * decimals, fixed, enum indices. `b` is the byte view; `i32` an Int32 view of the same buffer.
 */
export class FixedColumn extends BaseColumn implements Column {
  b: Uint8Array;
  i32: Int32Array;

  constructor(
    type: DataType,
    nullable: boolean,
    readonly width: number,
    private readonly dictionarySymbols?: readonly string[],
  ) {
    super(type, nullable);
    this.b = new Uint8Array(INITIAL * width);
    this.i32 = new Int32Array(this.b.buffer, 0, this.b.length >> 2);
  }

  reserve(extra: number): void {
    const need = this.n + extra;
    if (need * this.width > this.b.length) {
      const next = new Uint8Array(grown(this.b.length / this.width, need) * this.width);
      next.set(this.b.subarray(0, this.n * this.width));
      this.b = next;
      this.i32 = new Int32Array(next.buffer, 0, next.length >> 2);
    }
    this.reserveValid(need);
  }

  appendNull(): void {
    this.reserve(1);
    this.b.fill(0, this.n * this.width, (this.n + 1) * this.width);
    if (this.valid) this.nulls++;
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const bytes = this.b.slice(0, length * this.width);
    const nullBitmap = this.takeValidity();
    const nullCount = this.nulls;
    this.n = 0;
    this.nulls = 0;
    return fixedWidthData(this.type, length, nullCount, nullBitmap, bytes, this.dictionarySymbols);
  }
}

/**
 * Arrow Data over fixed-width value bytes (this batch's own copy): the type's typed array over
 * them, or enum indices with the symbols as the dictionary.
 */
export function fixedWidthData(
  type: DataType,
  length: number,
  nullCount: number,
  nullBitmap: Uint8Array | undefined,
  bytes: Uint8Array<ArrayBuffer>,
  dictionarySymbols?: readonly string[],
): Data {
  if (dictionarySymbols) {
    const dict = vectorFromArray(dictionarySymbols as string[], new Utf8());
    return makeData({ type: type as Dictionary<Utf8>, length, nullCount, nullBitmap, data: new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2), dictionary: dict });
  }
  // `bytes` may be a view into a larger buffer (a spill arena's): the array covers the view only
  const ArrayType = (type as unknown as { ArrayType: { new (b: ArrayBuffer, offset: number, length: number): ArrayLike<unknown>; BYTES_PER_ELEMENT: number } }).ArrayType;
  const data = ArrayType === Uint8Array ? bytes : new ArrayType(bytes.buffer, bytes.byteOffset, bytes.byteLength / ArrayType.BYTES_PER_ELEMENT);
  return makeData({ type, length, nullCount, nullBitmap, data } as never);
}

/** Booleans, bit-packed. */
export class BoolColumn extends BaseColumn implements Column {
  bits = new Uint8Array(INITIAL >> 3);

  reserve(extra: number): void {
    const need = this.n + extra;
    if (this.bits.length * 8 < need) {
      const next = new Uint8Array(grown(this.bits.length * 8, need) >> 3);
      next.set(this.bits);
      this.bits = next;
    }
    this.reserveValid(need);
  }

  appendNull(): void {
    this.reserve(1);
    if (this.valid) this.nulls++;
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const bytes = (length + 7) >> 3;
    const data = this.bits.slice(0, bytes);
    this.bits.fill(0, 0, bytes);
    const nullBitmap = this.takeValidity();
    const nullCount = this.nulls;
    this.n = 0;
    this.nulls = 0;
    return makeData({ type: this.type, length, nullCount, nullBitmap, data } as never);
  }
}

/** Utf8 and Binary: Int32 offsets (`off`, n+1 entries) into a byte buffer (`data`, `dn` used). */
export class VarColumn extends BaseColumn implements Column {
  off = new Int32Array(INITIAL + 1);
  data = new Uint8Array(INITIAL * 16);
  dn = 0;

  reserve(extra: number): void {
    const need = this.n + extra + 1;
    this.off = withRoom(this.off, this.n + 1, need);
    this.reserveValid(need);
  }

  /** Makes room for `extra` more bytes of values. */
  reserveData(extra: number): void {
    const need = this.dn + extra;
    if (need > 0x7fffffff) throw new RangeError('a column batch exceeds 2 GiB of values');
    if (this.data.length < need) {
      const next = new Uint8Array(grown(this.data.length, need));
      next.set(this.data.subarray(0, this.dn));
      this.data = next;
    }
  }

  appendNull(): void {
    this.reserve(1);
    this.off[this.n + 1] = this.dn;
    if (this.valid) this.nulls++;
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const valueOffsets = this.off.slice(0, length + 1);
    const data = this.data.slice(0, this.dn);
    const nullBitmap = this.takeValidity();
    const nullCount = this.nulls;
    this.n = 0;
    this.nulls = 0;
    this.dn = 0;
    return makeData({ type: this.type, length, nullCount, nullBitmap, valueOffsets, data } as never);
  }
}

/** The Avro `null` type: nothing but a length. */
export class NullColumn extends BaseColumn implements Column {
  constructor(type: DataType) {
    super(type, false);
  }
  reserve(): void {}
  appendNull(): void {
    this.n++;
  }
  finish(): Data {
    const length = this.n;
    this.n = 0;
    return makeData({ type: this.type, length } as never);
  }
}

/** Records: one child column per field. */
export class StructColumn extends BaseColumn implements Column {
  constructor(
    type: DataType,
    nullable: boolean,
    readonly children: Column[],
  ) {
    super(type, nullable);
  }

  reserve(extra: number): void {
    this.reserveValid(this.n + extra);
  }

  appendNull(): void {
    this.reserve(1);
    for (const c of this.children) c.appendNull();
    if (this.valid) this.nulls++;
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const children = this.children.map((c) => c.finish());
    const nullBitmap = this.takeValidity();
    const nullCount = this.nulls;
    this.n = 0;
    this.nulls = 0;
    return makeData({ type: this.type as Struct, length, nullCount, nullBitmap, children });
  }

  override walk(visit: (c: Column) => void): void {
    visit(this);
    for (const c of this.children) c.walk(visit);
  }
}

/** Arrays (List) and maps (Map of key/value entries): Int32 offsets into child columns. */
export class ListColumn extends BaseColumn implements Column {
  off = new Int32Array(INITIAL + 1);

  constructor(
    type: DataType,
    nullable: boolean,
    /** Items; for a map, the keys. */
    readonly child: Column,
    /** For a map, the values. */
    readonly values?: Column,
  ) {
    super(type, nullable);
  }

  reserve(extra: number): void {
    const need = this.n + extra + 1;
    this.off = withRoom(this.off, this.n + 1, need);
    this.reserveValid(need);
  }

  appendNull(): void {
    this.reserve(1);
    this.off[this.n + 1] = this.child.n;
    if (this.valid) this.nulls++;
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const valueOffsets = this.off.slice(0, length + 1);
    const nullBitmap = this.takeValidity();
    const nullCount = this.nulls;
    this.n = 0;
    this.nulls = 0;
    let child: Data;
    if (this.values) {
      const entriesType = (this.type as Map_).children[0]!.type as Struct;
      const keys = this.child.finish();
      const values = this.values.finish();
      child = makeData({ type: entriesType, length: keys.length, nullCount: 0, children: [keys, values] });
    } else {
      child = this.child.finish();
    }
    return makeData({ type: this.type, length, nullCount, nullBitmap, valueOffsets, child } as never);
  }

  override walk(visit: (c: Column) => void): void {
    visit(this);
    this.child.walk(visit);
    this.values?.walk(visit);
  }
}

/** Unions other than [null, T]: a dense union with one child per branch. */
export class UnionColumn extends BaseColumn implements Column {
  ti = new Int8Array(INITIAL);
  vo = new Int32Array(INITIAL);

  constructor(
    type: DataType,
    readonly children: Column[],
    /** Branch used when a null parent needs a placeholder: the null branch if any, else 0. */
    private readonly placeholderBranch: number,
  ) {
    super(type, false);
  }

  reserve(extra: number): void {
    const need = this.n + extra;
    this.ti = withRoom(this.ti, this.n, need);
    this.vo = withRoom(this.vo, this.n, need);
  }

  appendNull(): void {
    this.reserve(1);
    const child = this.children[this.placeholderBranch]!;
    this.ti[this.n] = this.placeholderBranch;
    this.vo[this.n] = child.n;
    child.appendNull();
    this.n++;
  }

  finish(): Data {
    const length = this.n;
    const typeIds = this.ti.slice(0, length);
    const valueOffsets = this.vo.slice(0, length);
    this.n = 0;
    const children = this.children.map((c) => c.finish());
    return makeData({ type: this.type, length, nullCount: 0, typeIds, valueOffsets, children } as never);
  }

  override walk(visit: (c: Column) => void): void {
    visit(this);
    for (const c of this.children) c.walk(visit);
  }
}
