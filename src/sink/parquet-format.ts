/**
 * Parquet's metadata as heaplake writes it (parquet-format's parquet.thrift): the schema of a
 * flat lake table, page headers, and the footer's FileMetaData. Field ids are the spec's.
 */
import { type DataType, type Field as ArrowField, type Schema, Type } from 'apache-arrow';
import { binary, bool, encodeStruct, i32, i64, list, string, struct, type Field, type Value } from './thrift.js';
import { K_BOOL, K_F32, K_F64, K_I32, K_I64, K_VAR, type ChunkSummary } from './page-encoder.js';

// parquet-format enums
const T = { BOOLEAN: 0, INT32: 1, INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const OPTIONAL = 1;
const CONVERTED = { UTF8: 0, DATE: 6, TIME_MILLIS: 7, TIME_MICROS: 8, TIMESTAMP_MILLIS: 9, TIMESTAMP_MICROS: 10 } as const;
export const ENCODING = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;
const PAGE = { DATA: 0, DICTIONARY: 2 } as const;

/** How one Arrow column is stored: the kernel's kind and its Parquet schema element. */
export interface ColumnLayout {
  readonly name: string;
  readonly kind: number;
  readonly physical: number;
  readonly element: Value;
}

const empty = () => struct();
const unit = (u: 'ms' | 'us' | 'ns') => struct([u === 'ms' ? 1 : u === 'us' ? 2 : 3, empty()]);

/**
 * The layout of each column of `schema`, or undefined when a column has a type this writer
 * does not write (nested, null, fixed-size, decimal, dictionary, second timestamps: parquet-wasm does).
 */
export function columnLayouts(schema: Schema): ColumnLayout[] | undefined {
  const out: ColumnLayout[] = [];
  for (const f of schema.fields) {
    const layout = layoutOf(f);
    if (!layout) return undefined;
    out.push(layout);
  }
  return out;
}

/**
 * Whether data of `type` is laid out in memory as the column is stored (the same kernel kind
 * and physical type): the encoder reads the buffers as `layout` says, so data of another type
 * would be written as garbage, not refused.
 */
export function fitsLayout(layout: ColumnLayout, type: DataType): boolean {
  const own = storageOf(type);
  return own !== undefined && own.kind === layout.kind && own.physical === layout.physical;
}

function layoutOf(f: ArrowField): ColumnLayout | undefined {
  const storage = storageOf(f.type);
  if (!storage) return undefined;
  const { kind, physical, converted, logical } = storage;
  // the lake's stable column ids (schema/merge.ts), where Arrow keeps them for Parquet writers
  const id = f.metadata.get('PARQUET:field_id');
  const fieldId = id !== undefined && /^-?\d+$/.test(id) ? i32(Number(id)) : undefined;
  const element = struct([1, i32(physical)], [3, i32(OPTIONAL)], [4, string(f.name)], [6, converted === undefined ? undefined : i32(converted)], [9, fieldId], [10, logical]);
  return { name: f.name, kind, physical, element };
}

/** How values of an Arrow type are stored: the kernel's kind, the physical type and the annotations (undefined: not by this writer). */
function storageOf(type: DataType): { kind: number; physical: number; converted: number | undefined; logical: Value | undefined } | undefined {
  const t = type as unknown as { typeId: Type; bitWidth?: number; isSigned?: boolean; precision?: number; unit?: number; timezone?: string | null };
  let kind: number;
  let physical: number;
  let converted: number | undefined;
  let logical: Value | undefined;
  switch (t.typeId) {
    case Type.Bool:
      [kind, physical] = [K_BOOL, T.BOOLEAN];
      break;
    case Type.Int:
      if (!t.isSigned || (t.bitWidth !== 32 && t.bitWidth !== 64)) return undefined;
      [kind, physical] = t.bitWidth === 32 ? [K_I32, T.INT32] : [K_I64, T.INT64];
      break;
    case Type.Float:
      if (t.precision === 1) [kind, physical] = [K_F32, T.FLOAT];
      else if (t.precision === 2) [kind, physical] = [K_F64, T.DOUBLE];
      else return undefined;
      break;
    case Type.Utf8:
      [kind, physical, converted, logical] = [K_VAR, T.BYTE_ARRAY, CONVERTED.UTF8, struct([1, empty()])];
      break;
    case Type.Binary:
      [kind, physical] = [K_VAR, T.BYTE_ARRAY];
      break;
    case Type.Date:
      if (t.unit !== 0) return undefined; // DateDay only
      [kind, physical, converted, logical] = [K_I32, T.INT32, CONVERTED.DATE, struct([6, empty()])];
      break;
    case Type.Time:
      if (t.unit === 1 && t.bitWidth === 32) [kind, physical, converted, logical] = [K_I32, T.INT32, CONVERTED.TIME_MILLIS, struct([7, struct([1, bool(false)], [2, unit('ms')])])];
      else if (t.unit === 2 && t.bitWidth === 64) [kind, physical, converted, logical] = [K_I64, T.INT64, CONVERTED.TIME_MICROS, struct([7, struct([1, bool(false)], [2, unit('us')])])];
      else return undefined;
      break;
    case Type.Timestamp: {
      const u = t.unit === 1 ? 'ms' : t.unit === 2 ? 'us' : t.unit === 3 ? 'ns' : undefined;
      if (!u) return undefined; // seconds: Parquet has no such unit
      [kind, physical] = [K_I64, T.INT64];
      const utc = t.timezone !== null && t.timezone !== undefined;
      logical = struct([8, struct([1, bool(utc)], [2, unit(u)])]);
      // the legacy annotation means UTC-adjusted: only written for such columns, as parquet-rs does
      converted = utc && u !== 'ns' ? (u === 'ms' ? CONVERTED.TIMESTAMP_MILLIS : CONVERTED.TIMESTAMP_MICROS) : undefined;
      break;
    }
    default:
      return undefined;
  }
  return { kind, physical, converted, logical };
}

/** A page header's bytes. */
export function pageHeader(dictionary: boolean, uncompressed: number, compressed: number, count: number, encoding: number): Uint8Array {
  const fields: Field[] = [
    [1, i32(dictionary ? PAGE.DICTIONARY : PAGE.DATA)],
    [2, i32(uncompressed)],
    [3, i32(compressed)],
  ];
  if (dictionary) fields.push([7, struct([1, i32(count)], [2, i32(ENCODING.PLAIN)])]);
  else fields.push([5, struct([1, i32(count)], [2, i32(encoding)], [3, i32(ENCODING.RLE)], [4, i32(ENCODING.RLE)])]);
  return encodeStruct(fields);
}

/** A written column chunk, for the footer. */
export interface ChunkMeta {
  readonly layout: ColumnLayout;
  readonly summary: ChunkSummary;
  readonly codec: number;
  readonly encodings: readonly number[];
  /** Absolute file offsets. */
  readonly start: number;
  readonly dataPageOffset: number;
  readonly dictionaryPageOffset?: number;
  readonly compressed: number;
  readonly uncompressed: number;
}

export interface RowGroupMeta {
  readonly rows: number;
  readonly chunks: readonly ChunkMeta[];
}

function chunkValue(c: ChunkMeta): Value {
  const s = c.summary;
  const stats = struct([3, i64(s.nulls)], [5, s.max ? binary(s.max) : undefined], [6, s.min ? binary(s.min) : undefined]);
  const meta = struct(
    [1, i32(c.layout.physical)],
    [2, list(c.encodings.map(i32), 'i32')],
    [3, list([string(c.layout.name)])],
    [4, i32(c.codec)],
    [5, i64(s.rows)],
    [6, i64(c.uncompressed)],
    [7, i64(c.compressed)],
    [9, i64(c.dataPageOffset)],
    [11, c.dictionaryPageOffset === undefined ? undefined : i64(c.dictionaryPageOffset)],
    [12, stats],
  );
  return struct([2, i64(c.start)], [3, meta]);
}

/** The footer's FileMetaData bytes. */
export function fileMetadata(layouts: readonly ColumnLayout[], groups: readonly RowGroupMeta[], keyValues: ReadonlyMap<string, string>, createdBy: string): Uint8Array {
  const root = struct([4, string('schema')], [5, i32(layouts.length)]);
  const rows = groups.reduce((n, g) => n + g.rows, 0);
  const rowGroups = groups.map((g) => {
    const uncompressed = g.chunks.reduce((n, c) => n + c.uncompressed, 0);
    const compressed = g.chunks.reduce((n, c) => n + c.compressed, 0);
    return struct([1, list(g.chunks.map(chunkValue), 'struct')], [2, i64(uncompressed)], [3, i64(g.rows)], [5, i64(g.chunks[0]?.start ?? 4)], [6, i64(compressed)]);
  });
  const kv = [...keyValues].map(([k, v]) => struct([1, string(k)], [2, string(v)]));
  return encodeStruct([
    [1, i32(1)],
    [2, list([root, ...layouts.map((l) => l.element)], 'struct')],
    [3, i64(rows)],
    [4, list(rowGroups, 'struct')],
    [5, kv.length > 0 ? list(kv, 'struct') : undefined],
    [6, string(createdBy)],
    // every column's statistics use the type's own order (TypeDefinedOrder)
    [7, list(layouts.map(() => struct([1, empty()])), 'struct')],
  ]);
}
