/**
 * Compiles a column plan into a decoder: JavaScript source specialised to the writer schema,
 * turned into a function once per schema (cached) and bound to fresh column builders per
 * reader. The generated loop reads rows × fields straight from the block bytes into the
 * builders' typed arrays: no object per row, no BigInt per long, no JS string per string,
 * no dispatch on type names per value.
 *
 * Why generated code rather than a tree of closures: the per-row loop over ~30 fields is the
 * hot path, and a closure per field makes every call site megamorphic; the generated body
 * inlines the one-byte varint case and the short-string copy. `bench/decode.bench.ts` is
 * where that choice is measured. Every generated line comes from the small emitters below;
 * `compileSchema(...).source` shows the result for a schema.
 *
 * Safety: every length is checked against the bytes left in the block before it is used;
 * a varint or index that runs past the block reads `undefined`, which fails the fast-path
 * test and lands in a checked helper. Collection counts are checked against the bytes left
 * (given the fewest bytes an item takes) and a limit before anything is reserved.
 */
import { AvroFormatError, HeaplakeError } from '../errors.js';
import { INCOMPLETE, MALFORMED, longToNumber, readIntInto, readLongInto, type LongSlot } from '../avro/varint.js';
import { minBytes, type ColumnPlan, type RootPlan } from './arrow-mapping.js';
import { BoolColumn, FixedColumn, ListColumn, NullColumn, StructColumn, UnionColumn, VarColumn, type Column } from './columns.js';

/**
 * Decodes `rows` records from `buf` starting at `pos`; returns the position after them.
 * `rowBase` is the first record's index in its block (for errors); `base` is how many rows
 * the builders already hold in this batch.
 */
export type DecodeRows = (buf: Uint8Array, pos: number, end: number, rows: number, rowBase: number, base: number) => number;

export interface CompiledSchema {
  readonly plan: RootPlan;
  /** The generated function body (for debugging and docs). */
  readonly source: string;
  /**
   * A decoder bound to its own column builders: a pooled one when a reader of the same schema
   * has released it (its JIT-optimised code and warm buffers carry over), else a new one.
   */
  acquire(maxCollectionItems: number): DecoderInstance;
  /** Returns an instance whose builders are empty (every batch finished) to the pool. */
  release(instance: DecoderInstance): void;
}

export interface DecoderInstance {
  readonly decode: DecodeRows;
  /** One builder per top-level column. */
  readonly roots: readonly Column[];
  /** Builders that receive at most one value per row (capacity reserved per call). */
  readonly perRow: readonly Column[];
  /** Per-row string/binary builders (data capacity reserved per call). */
  readonly perRowVar: readonly VarColumn[];
  /** Every Utf8 builder, for UTF-8 validation (perRow: exactly one value per row). */
  readonly utf8: readonly { column: VarColumn; path: string; perRow: boolean }[];
}

type Factory = (C: Column[], H: Helpers) => DecodeRows;

/** Compiles the plan's decoder source and factory (call once per writer schema). */
export function compileSchema(plan: RootPlan): CompiledSchema {
  const gen = new Generator();
  const body = gen.generate(plan);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the point of this module
  const factory = new Function('C', 'H', body) as Factory;
  // Why a pool: each new closure gets its own feedback and is optimised again by TurboFan
  // (~150 ms for a 35-column schema here), and new builders grow and first-touch their
  // buffers again; a table's many files share one schema, so reuse pays on every file.
  const pool: (DecoderInstance & { maxItems: number })[] = [];
  return {
    plan,
    source: body,
    acquire(maxCollectionItems: number): DecoderInstance {
      const i = pool.findIndex((p) => p.maxItems === maxCollectionItems);
      if (i >= 0) return pool.splice(i, 1)[0]!;
      const built = buildColumns(plan);
      const helpers = new Helpers(gen.paths, maxCollectionItems);
      return { ...built, decode: factory(built.all, helpers), maxItems: maxCollectionItems } as DecoderInstance;
    },
    release(instance: DecoderInstance): void {
      if (pool.length < 4 && instance.roots.every((c) => c.n === 0)) pool.push(instance as DecoderInstance & { maxItems: number });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Column builders for a plan, in the same order the generator numbers them.

interface BuiltColumns {
  all: Column[];
  roots: Column[];
  perRow: Column[];
  perRowVar: VarColumn[];
  utf8: { column: VarColumn; path: string; perRow: boolean }[];
}

function buildColumns(plan: RootPlan): BuiltColumns {
  const out: BuiltColumns = { all: [], roots: [], perRow: [], perRowVar: [], utf8: [] };
  // perRow: at most one value per row (capacity reserved per call); exact: exactly one (so value i is row i)
  const build = (p: ColumnPlan, perRow: boolean, exact: boolean): Column => {
    const nullable = p.nullIndex >= 0;
    const id = out.all.length;
    out.all.push(undefined as unknown as Column); // reserve the id before the children
    let column: Column;
    switch (p.kind) {
      case 'int32':
      case 'int64':
      case 'float32':
      case 'float64':
      case 'fixed':
      case 'decimal':
        column = new FixedColumn(p.field.type, nullable, p.width);
        break;
      case 'enum':
        column = new FixedColumn(p.field.type, nullable, 4, p.symbols);
        break;
      case 'bool':
        column = new BoolColumn(p.field.type, nullable);
        break;
      case 'utf8':
      case 'binary': {
        const v = new VarColumn(p.field.type, nullable);
        if (perRow) out.perRowVar.push(v);
        if (p.kind === 'utf8') out.utf8.push({ column: v, path: p.path, perRow: exact });
        column = v;
        break;
      }
      case 'null':
        column = new NullColumn(p.field.type);
        break;
      case 'struct':
        column = new StructColumn(p.field.type, nullable, p.children.map((c) => build(c, perRow, exact)));
        break;
      case 'list':
        column = new ListColumn(p.field.type, nullable, build(p.children[0]!, false, false));
        break;
      case 'map': {
        const keys = new VarColumn(mapKeyType(p), false);
        out.all.push(keys); // the id right after the map's own
        out.utf8.push({ column: keys, path: `${p.path}{key}`, perRow: false });
        column = new ListColumn(p.field.type, nullable, keys, build(p.children[0]!, false, false));
        break;
      }
      case 'union': {
        const nullBranch = p.children.findIndex((c) => c.kind === 'null');
        column = new UnionColumn(p.field.type, p.children.map((c) => build(c, perRow, false)), Math.max(0, nullBranch));
        break;
      }
    }
    out.all[id] = column;
    if (perRow) out.perRow.push(column);
    return column;
  };
  for (const p of plan.columns) out.roots.push(build(p, true, true));
  return out;
}

function mapKeyType(p: ColumnPlan) {
  const entries = (p.field.type as unknown as { children: { type: { children: { type: unknown }[] } }[] }).children[0]!;
  return entries.type.children[0]!.type as VarColumn['type'];
}

// ---------------------------------------------------------------------------------------------
// Code generation. Column k is the local `cK`; ids follow buildColumns' numbering.
//
// Three ways to address a column, chosen per column at compile time:
// - exact: exactly one value per row (top-level fields and fields of records below them).
//   Its slot is the row index `ri`, its buffers are hoisted into locals once per call
//   (capacity is reserved before the call) and its counters are written back at the end.
// - row: at most one value per row (union branches): addressed through `cK.n`, capacity
//   reserved before the call.
// - dynamic: any number per row (inside arrays and maps): `cK.n` and `cK.reserve(1)` per value.

type Mode = 'exact' | 'row' | 'dynamic';

class Generator {
  readonly paths: string[] = [];
  private nextColumn = 0;
  private nextTemp = 0;
  private readonly prologue: string[] = [];
  private readonly epilogue: string[] = [];

  generate(plan: RootPlan): string {
    const rowCode = plan.columns.map((p) => this.append(p, 'exact')).join('\n');
    const locals = Array.from({ length: this.nextColumn }, (_, i) => `c${i} = C[${i}]`);
    return [
      `'use strict';`,
      locals.length > 0 ? `const ${locals.join(', ')};` : '',
      `return function decodeRows(buf, pos, end, rows, rowBase, base) {`,
      `  const BV = new DataView(buf.buffer, buf.byteOffset, buf.length);`,
      indent(this.prologue.join('\n'), 2),
      `  let r = 0;`,
      `  try {`,
      `    for (; r < rows; r++) {`,
      `      const ri = base + r;`,
      indent(rowCode, 6),
      `    }`,
      `  } catch (e) { throw H.locate(e, rowBase + r, pos); }`,
      indent(this.epilogue.join('\n'), 2),
      `  return pos;`,
      `};`,
    ].join('\n');
  }

  private pathId(path: string): number {
    this.paths.push(path);
    return this.paths.length - 1;
  }

  private temp(prefix: string): string {
    return `${prefix}${this.nextTemp++}`;
  }

  /** Hoists an exact column's buffers into locals and schedules the write-back of its counters. */
  private hoist(p: ColumnPlan, id: number): void {
    const c = `c${id}`;
    switch (p.kind) {
      case 'int32':
      case 'int64':
      case 'enum':
        this.prologue.push(`const I${id} = ${c}.i32;`);
        break;
      case 'float32':
      case 'float64':
      case 'fixed':
      case 'decimal':
        this.prologue.push(`const B${id} = ${c}.b;`);
        break;
      case 'bool':
        this.prologue.push(`const T${id} = ${c}.bits;`);
        break;
      case 'utf8':
      case 'binary':
        this.prologue.push(`const D${id} = ${c}.data, O${id} = ${c}.off, W${id} = new DataView(D${id}.buffer, D${id}.byteOffset, D${id}.length);`, `let d${id} = ${c}.dn;`);
        this.epilogue.push(`${c}.dn = d${id};`);
        break;
      case 'list':
      case 'map':
        this.prologue.push(`const O${id} = ${c}.off;`);
        break;
      case 'union':
        this.prologue.push(`const TI${id} = ${c}.ti, VO${id} = ${c}.vo;`);
        break;
      default:
        break;
    }
    if (p.nullIndex >= 0) {
      this.prologue.push(`const V${id} = ${c}.valid;`, `let z${id} = 0;`);
      this.epilogue.push(`${c}.nulls += z${id};`);
    }
    this.epilogue.push(`${c}.n = base + rows;`);
  }

  /** Code that appends one value of `p` (reading its null-union index, if any). */
  private append(p: ColumnPlan, mode: Mode): string {
    const id = this.nextColumn++;
    if (p.kind === 'map') this.nextColumn++; // the keys column takes the next id
    const c = `c${id}`;
    const pid = this.pathId(p.path);
    if (mode === 'exact') this.hoist(p, id);
    const reserve = mode === 'dynamic' ? `${c}.reserve(1);\n` : '';
    const value = this.value(p, id, pid, mode);
    const count = mode === 'exact' ? '' : `\n${c}.n++;`;
    if (p.nullIndex < 0) return `{\n${indent(reserve + value + count, 2)}\n}`;
    const u = this.temp('u');
    const setValid = mode === 'exact' ? `V${id}[ri >> 3] |= 1 << (ri & 7);` : `${c}.valid[${c}.n >> 3] |= 1 << (${c}.n & 7);`;
    const onNull = mode === 'exact' ? `z${id}++;\n${this.nullCode(p, id)}` : `${c}.appendNull();`;
    return [
      `{`,
      indent(readInt(u, pid), 2),
      `  if (${u} === ${p.nullIndex}) {`,
      indent(onNull, 4),
      `  } else if (${u} === ${1 - p.nullIndex}) {`,
      indent(reserve + value, 4),
      indent(setValid + count, 4),
      `  } else H.badUnion(${u}, 2, ${pid}, pos);`,
      `}`,
    ].join('\n');
  }

  /**
   * What a null (or a null parent) leaves in an exact column's slot `ri`: zeros, an empty
   * string, an empty list, the placeholder branch. Children of a record get the same.
   * Advances `nextColumn` past the column's children, as `value` would.
   */
  private nullCode(p: ColumnPlan, id: number): string {
    const c = `c${id}`;
    switch (p.kind) {
      case 'int32':
      case 'enum':
        return `I${id}[ri] = 0;`;
      case 'int64':
        return `I${id}[ri << 1] = 0;\nI${id}[(ri << 1) + 1] = 0;`;
      case 'float32':
      case 'float64':
      case 'fixed':
      case 'decimal':
        if (p.width === 0) return '';
        if (p.width > 16) return `B${id}.fill(0, ri * ${p.width}, (ri + 1) * ${p.width});`;
        return Array.from({ length: p.width }, (_, k) => `B${id}[ri * ${p.width} + ${k}] = 0;`).join('\n');
      case 'utf8':
      case 'binary':
        return `O${id}[ri + 1] = d${id};`;
      case 'list':
      case 'map':
        // the child ids come right after (and after the keys column of a map)
        return `O${id}[ri + 1] = c${id + 1}.n;`;
      case 'union': {
        const placeholder = Math.max(0, p.children.findIndex((b) => b.kind === 'null'));
        let childId = id + 1;
        const ids = p.children.map((b) => {
          const at = childId;
          childId += countColumns(b);
          return at;
        });
        return `TI${id}[ri] = ${placeholder};\nVO${id}[ri] = c${ids[placeholder]}.n;\nc${ids[placeholder]}.appendNull();`;
      }
      case 'struct': {
        // children are exact columns too: give each its null placeholder (a null record has null fields)
        let childId = id + 1;
        const parts = p.children.map((child) => {
          const at = childId;
          childId += countColumns(child);
          return (child.nullIndex >= 0 ? `z${at}++;\n` : '') + this.nullCode(child, at);
        });
        return parts.filter(Boolean).join('\n');
      }
      default:
        void c;
        return '';
    }
  }

  /** Code that decodes one non-null value of `p` into its slot (without counting it). */
  private value(p: ColumnPlan, id: number, pid: number, mode: Mode): string {
    const exact = mode === 'exact';
    const c = `c${id}`;
    const slot = exact ? 'ri' : `${c}.n`;
    const i32 = exact ? `I${id}` : `${c}.i32`;
    const bytes = exact ? `B${id}` : `${c}.b`;
    switch (p.kind) {
      case 'null':
        return '';
      case 'int32': {
        const v = this.temp('v');
        return `${readInt(v, pid)}\n${i32}[${slot}] = ${v};`;
      }
      case 'enum': {
        const v = this.temp('v');
        return `${readInt(v, pid)}\nif (${v} < 0 || ${v} >= ${p.symbols.length}) H.badEnum(${v}, ${p.symbols.length}, ${pid}, pos);\n${i32}[${slot}] = ${v};`;
      }
      case 'int64': {
        const lo = this.temp('lo');
        const hi = this.temp('hi');
        return `${readLong(lo, hi, pid)}\n${i32}[${slot} << 1] = ${lo};\n${i32}[(${slot} << 1) + 1] = ${hi};`;
      }
      case 'float32':
      case 'float64':
      case 'fixed':
        return copyFixed(bytes, slot, p.width, pid);
      case 'bool': {
        const v = this.temp('v');
        const bits = exact ? `T${id}` : `${c}.bits`;
        return [
          `const ${v} = buf[pos++];`,
          `if (${v} === 1) ${bits}[${slot} >> 3] |= 1 << (${slot} & 7);`,
          `else if (${v} !== 0) H.badBool(${v}, ${pid}, pos - 1, end);`,
        ].join('\n');
      }
      case 'utf8':
      case 'binary': {
        const len = this.temp('len');
        return `${readLen(len, pid)}\n${exact ? copyVarExact(id, len) : copyVar(c, len, mode === 'dynamic')}`;
      }
      case 'decimal': {
        const len = this.temp('len');
        const read =
          p.fixedSize > 0
            ? `const ${len} = ${p.fixedSize};\nif (pos + ${len} > end) H.overrun(${pid}, pos, end);`
            : readLen(len, pid);
        return `${read}\nH.decimal(buf, pos, ${len}, ${bytes}, ${slot} * ${p.width}, ${p.width}, ${pid});\npos += ${len};`;
      }
      case 'struct':
        return p.children.map((child) => this.append(child, mode)).join('\n');
      case 'list': {
        const item = p.children[0]!;
        const child = `c${this.nextColumn}`;
        const body = this.append(item, 'dynamic');
        const off = exact ? `O${id}[ri + 1]` : `${c}.off[${c}.n + 1]`;
        return `${this.blocks(pid, minBytes(item), body)}\n${off} = ${child}.n;`;
      }
      case 'map': {
        const keys = `c${id + 1}`;
        const keyPid = this.pathId(`${p.path}{key}`);
        const len = this.temp('len');
        const keyCode = `${keys}.reserve(1);\n${readLen(len, keyPid)}\n${copyVar(keys, len, true)}\n${keys}.n++;`;
        const valueCode = this.append(p.children[0]!, 'dynamic');
        const off = exact ? `O${id}[ri + 1]` : `${c}.off[${c}.n + 1]`;
        return `${this.blocks(pid, 1 + minBytes(p.children[0]!), `{\n${indent(keyCode, 2)}\n}\n${valueCode}`)}\n${off} = ${keys}.n;`;
      }
      case 'union': {
        const u = this.temp('u');
        const ti = exact ? `TI${id}` : `${c}.ti`;
        const vo = exact ? `VO${id}` : `${c}.vo`;
        const branchMode: Mode = mode === 'dynamic' ? 'dynamic' : 'row';
        const cases = p.children.map((branch, i) => {
          const bc = `c${this.nextColumn}`;
          return `case ${i}:\n  ${ti}[${slot}] = ${i};\n  ${vo}[${slot}] = ${bc}.n;\n${indent(this.append(branch, branchMode), 2)}\n  break;`;
        });
        return [
          readInt(u, pid),
          `switch (${u}) {`,
          indent(cases.join('\n'), 2),
          `  default: H.badUnion(${u}, ${p.children.length}, ${pid}, pos);`,
          `}`,
        ].join('\n');
      }
    }
  }

  /** The block-count loop of arrays and maps (spec: a negative count is followed by a byte size). */
  private blocks(pid: number, minItemBytes: number, itemCode: string): string {
    const n = this.temp('n');
    const i = this.temp('i');
    return [
      `for (;;) {`,
      `  pos = H.count(buf, pos, end, ${pid}, ${minItemBytes});`,
      `  const ${n} = H.s.lo;`,
      `  if (${n} === 0) break;`,
      `  for (let ${i} = 0; ${i} < ${n}; ${i}++) {`,
      indent(itemCode, 4),
      `  }`,
      `}`,
    ].join('\n');
  }
}

/** How many builders a plan takes (itself, a map's keys, and every child). */
function countColumns(p: ColumnPlan): number {
  return 1 + (p.kind === 'map' ? 1 : 0) + p.children.reduce((s, c) => s + countColumns(c), 0);
}

/** Reads a zig-zag int into a new local `v`: inline one-byte case, checked helper otherwise. */
function readInt(v: string, pid: number): string {
  return `let ${v} = buf[pos];\nif (${v} < 128) { pos++; ${v} = (${v} >>> 1) ^ -(${v} & 1); } else { pos = H.int(buf, pos, end, ${pid}); ${v} = H.s.lo; }`;
}

/** Reads a zig-zag long into new locals `lo`, `hi` (signed 32-bit halves). */
function readLong(lo: string, hi: string, pid: number): string {
  return `let ${lo} = buf[pos], ${hi};\nif (${lo} < 128) { pos++; ${lo} = (${lo} >>> 1) ^ -(${lo} & 1); ${hi} = ${lo} >> 31; } else { pos = H.long(buf, pos, end, ${pid}); ${lo} = H.s.lo; ${hi} = H.s.hi; }`;
}

/** Reads a string/bytes length and checks it against the bytes left in the block. */
function readLen(len: string, pid: number): string {
  return `let ${len} = buf[pos];\nif (${len} < 128 && (${len} & 1) === 0) { pos++; ${len} >>>= 1; if (${len} > end - pos) H.overrun(${pid}, pos, end); } else { pos = H.len(buf, pos, end, ${pid}); ${len} = H.s.lo; }`;
}

/** Copies `len` bytes into a Utf8/Binary builder; short values byte by byte (cheaper than subarray+set). */
function copyVar(c: string, len: string, dynamic: boolean): string {
  return [
    dynamic ? `${c}.reserveData(${len});` : '',
    `{`,
    `  const o = ${c}.dn, d = ${c}.data;`,
    `  if (${len} < 48) { for (let k = 0; k < ${len}; k++) d[o + k] = buf[pos + k]; }`,
    `  else d.set(buf.subarray(pos, pos + ${len}), o);`,
    `  pos += ${len};`,
    `  ${c}.dn = o + ${len};`,
    `  ${c}.off[${c}.n + 1] = o + ${len};`,
    `}`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Copies a string/bytes value into an exact column's hoisted buffer; short values byte by byte. */
function copyVarExact(id: number, len: string): string {
  return [
    // up to 16 bytes with slack on both sides: four unconditional 4-byte moves (the excess is
    // overwritten by the next value, and never counted); longer values as before
    `if (${len} <= 16 && pos + 16 <= end && d${id} + 16 <= D${id}.length) { W${id}.setUint32(d${id}, BV.getUint32(pos, true), true); W${id}.setUint32(d${id} + 4, BV.getUint32(pos + 4, true), true); W${id}.setUint32(d${id} + 8, BV.getUint32(pos + 8, true), true); W${id}.setUint32(d${id} + 12, BV.getUint32(pos + 12, true), true); }`,
    `else if (${len} < 512 && pos + ${len} + 4 <= end && d${id} + ${len} + 4 <= D${id}.length) { for (let k = 0; k < ${len}; k += 4) W${id}.setUint32(d${id} + k, BV.getUint32(pos + k, true), true); }`,
    `else if (${len} < 48) { let k = 0; for (; k + 4 <= ${len}; k += 4) W${id}.setUint32(d${id} + k, BV.getUint32(pos + k, true), true); for (; k < ${len}; k++) D${id}[d${id} + k] = buf[pos + k]; }`,
    `else D${id}.set(buf.subarray(pos, pos + ${len}), d${id});`,
    `pos += ${len};`,
    `d${id} += ${len};`,
    `O${id}[ri + 1] = d${id};`,
  ].join('\n');
}

/** Copies a fixed number of bytes (float, double, fixed) as they are: IEEE 754 little-endian is Arrow's layout too. */
function copyFixed(bytes: string, slot: string, width: number, pid: number): string {
  if (width === 0) return '';
  const head = `if (pos + ${width} > end) H.overrun(${pid}, pos, end);\n`;
  if (width > 16) return `${head}${bytes}.set(buf.subarray(pos, pos + ${width}), ${slot} * ${width});\npos += ${width};`;
  const lines = [`{`, `  const b = ${bytes}, o = ${slot} * ${width};`];
  for (let k = 0; k < width; k++) lines.push(`  b[o + ${k}] = buf[pos + ${k}];`);
  lines.push(`  pos += ${width};`, `}`);
  return head + lines.join('\n');
}

function indent(code: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return code
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Checked slow paths the generated code calls. They throw AvroFormatError with the field path
// and the byte offset in the block; `locate` adds the record index.

export class Helpers {
  readonly s: LongSlot = { lo: 0, hi: 0 };

  constructor(
    private readonly paths: readonly string[],
    private readonly maxItems: number,
  ) {}

  int(buf: Uint8Array, pos: number, end: number, pid: number): number {
    const next = readIntInto(buf, pos, end, this.s);
    if (next === INCOMPLETE) this.overrun(pid, pos, end);
    if (next === MALFORMED) throw this.error('AVRO_BAD_VALUE', 'malformed varint: an int longer than 5 bytes or wider than 32 bits', pid, pos);
    return next;
  }

  long(buf: Uint8Array, pos: number, end: number, pid: number): number {
    const next = readLongInto(buf, pos, end, this.s);
    if (next === INCOMPLETE) this.overrun(pid, pos, end);
    if (next === MALFORMED) throw this.error('AVRO_BAD_VALUE', 'malformed varint: a long longer than 10 bytes', pid, pos);
    return next;
  }

  /** A string/bytes length: 0 ≤ len ≤ bytes left. Leaves it in `s.lo`. */
  len(buf: Uint8Array, pos: number, end: number, pid: number): number {
    const next = this.long(buf, pos, end, pid);
    const len = longToNumber(this.s.lo, this.s.hi);
    if (this.s.hi < 0) throw this.error('AVRO_BAD_VALUE', `negative length ${len}`, pid, pos);
    if (Number.isNaN(len) || len > end - next) {
      throw this.error('AVRO_BLOCK_OVERRUN', `length ${Number.isNaN(len) ? 'beyond 2^53' : len} runs past the end of the block (${end - next} bytes left)`, pid, pos);
    }
    this.s.lo = len;
    return next;
  }

  /** An array/map block count, made positive (its byte size skipped), checked. Leaves it in `s.lo`. */
  count(buf: Uint8Array, pos: number, end: number, pid: number, minItemBytes: number): number {
    let next = this.long(buf, pos, end, pid);
    let n = longToNumber(this.s.lo, this.s.hi);
    if (n < 0) {
      n = -n;
      next = this.long(buf, next, end, pid); // the block's size in bytes, not needed
      if (this.s.hi < 0) throw this.error('AVRO_BAD_VALUE', 'negative collection block size', pid, pos);
    }
    if (Number.isNaN(n) || n > this.maxItems) {
      throw this.error('AVRO_LIMIT', `collection block of ${Number.isNaN(n) ? 'more than 2^53' : n} items exceeds the limit of ${this.maxItems}`, pid, pos);
    }
    if (n * minItemBytes > end - next) {
      throw this.error('AVRO_BLOCK_OVERRUN', `collection block of ${n} items needs at least ${n * minItemBytes} bytes, ${end - next} left in the block`, pid, pos);
    }
    this.s.lo = n;
    return next;
  }

  /** Big-endian two's-complement bytes → little-endian, sign-extended to `width` bytes. */
  decimal(buf: Uint8Array, pos: number, len: number, out: Uint8Array, o: number, width: number, pid: number): void {
    const negative = len > 0 && (buf[pos]! & 0x80) !== 0;
    const fill = negative ? 0xff : 0;
    // leading sign bytes beyond the width are fine; anything else does not fit
    let start = pos;
    while (pos + len - start > width) {
      if (buf[start] !== fill || ((buf[start + 1]! & 0x80) !== 0) !== negative) {
        throw this.error('AVRO_BAD_VALUE', `decimal of ${len} bytes does not fit in ${width * 8} bits`, pid, pos);
      }
      start++;
    }
    const n = pos + len - start;
    for (let k = 0; k < n; k++) out[o + k] = buf[pos + len - 1 - k]!;
    out.fill(fill, o + n, o + width);
  }

  overrun(pid: number, pos: number, end: number): never {
    throw this.error('AVRO_BLOCK_OVERRUN', `record runs past the end of the block (${Math.max(0, end - pos)} bytes left)`, pid, pos);
  }

  badUnion(index: number, branches: number, pid: number, pos: number): never {
    throw this.error('AVRO_BAD_VALUE', `union index ${index} out of range (the union has ${branches} branches)`, pid, pos);
  }

  badEnum(index: number, symbols: number, pid: number, pos: number): never {
    throw this.error('AVRO_BAD_VALUE', `enum index ${index} out of range (the enum has ${symbols} symbols)`, pid, pos);
  }

  badBool(value: number | undefined, pid: number, pos: number, end: number): never {
    if (value === undefined) this.overrun(pid, pos, end);
    throw this.error('AVRO_BAD_VALUE', `boolean byte is ${value}, expected 0 or 1`, pid, pos);
  }

  /** Adds the record index to an error thrown inside the row loop. */
  locate(err: unknown, record: number, pos: number): unknown {
    if (err instanceof HeaplakeError) return err.withContext({ record, blockOffset: pos });
    if (err instanceof RangeError && /allocation|Array buffer|Invalid typed array length|exceeds 2 GiB/i.test(err.message)) {
      return new AvroFormatError('AVRO_LIMIT', `out of room while decoding: ${err.message}`, { record, blockOffset: pos }, { cause: err });
    }
    return err;
  }

  private error(code: 'AVRO_BAD_VALUE' | 'AVRO_BLOCK_OVERRUN' | 'AVRO_LIMIT', message: string, pid: number, pos: number): AvroFormatError {
    return new AvroFormatError(code, message, { field: this.paths[pid] ?? '?', blockOffset: pos });
  }
}
