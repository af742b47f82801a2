/**
 * Spill files: the rows a map task sends to one bucket, kept in the run's staging area until
 * the bucket's reduce task reads them. A spill holds segments, each one batch of one input
 * file's rows in file order (files differ in schema), with every column's Arrow buffers as
 * they are in memory:
 *
 *   u32 LE header length · header JSON { format, segments: [{ dumpId, file, rows,
 *     columns: [{ name, type, nulls, validity, offsets, data }] }] } (lengths in bytes) ·
 *   each segment's columns' validity, offsets and data buffers, each padded to 8 bytes
 *
 * Lake columns are flat (src/schema/merge.ts), so three buffers describe any of them. Writing
 * hands those buffers to the store as they are and reading makes views into the bytes read:
 * the rows are copied once, by the map task's gather (Arrow IPC would copy them twice more).
 * Spills are never seen by the lake's readers and are removed with the staging area.
 */
import { Field, RecordBatch, Schema, Struct, Type, makeData, type Data } from 'apache-arrow';
import { HeaplakeError } from '../errors.js';
import { arrowType, typeSpec, type TypeSpec } from '../schema/merge.js';
import { widthOf } from '../columnar/gather.js';

export interface SpillSegment {
  /** The dump the rows come from (decimal text). */
  readonly dumpId: string;
  /** The input file they were read from (for errors and reports). */
  readonly file: string;
  readonly batches: readonly RecordBatch[];
}

interface ColumnHeader {
  readonly name: string;
  readonly type: TypeSpec;
  readonly nulls: number;
  readonly validity: number;
  readonly offsets: number;
  readonly data: number;
}

interface SegmentHeader {
  readonly dumpId: string;
  readonly file: string;
  readonly rows: number;
  readonly columns: readonly ColumnHeader[];
}

const FORMAT = 'heaplake-spill-2';
const pad = (n: number) => (8 - (n % 8)) % 8;
const ZEROS = new Uint8Array(8);
const bytesOf = (v: ArrayBufferView | undefined | null): Uint8Array => (v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(0));

/** The spill's bytes, as parts to write one after another. */
export function encodeSpill(segments: readonly SpillSegment[]): Uint8Array[] {
  const headers: SegmentHeader[] = [];
  const body: Uint8Array[] = [];
  for (const s of segments) {
    for (const batch of s.batches) {
      const columns = batch.schema.fields.map((f, c): ColumnHeader => {
        const d = batch.data.children[c]!;
        if (d.offset !== 0) throw new Error(`spill: column ${f.name} is a slice`); // gathered columns never are
        const validity = d.nullCount > 0 ? bytesOf(d.nullBitmap) : new Uint8Array(0);
        const offsets = bytesOf(d.valueOffsets);
        const data = d.typeId === Type.Null ? new Uint8Array(0) : bytesOf(d.values as ArrayBufferView);
        for (const b of [validity, offsets, data]) if (b.length > 0) body.push(b, ZEROS.subarray(0, pad(b.length)));
        return { name: f.name, type: typeSpec(f.type, f.name), nulls: d.nullCount, validity: validity.length, offsets: offsets.length, data: data.length };
      });
      headers.push({ dumpId: s.dumpId, file: s.file, rows: batch.numRows, columns });
    }
  }
  const json = new TextEncoder().encode(JSON.stringify({ format: FORMAT, segments: headers }));
  // spaces pad the header so every buffer starts 8-byte aligned (read back as views in place)
  const header = new Uint8Array(4 + json.length + pad(4 + json.length)).fill(0x20);
  new DataView(header.buffer).setUint32(0, json.length, true);
  header.set(json, 4);
  return [header, ...body];
}

/** Where one segment's column lies in a spill: its buffers, one after another from `at`. */
export interface SpillColumn extends ColumnHeader {
  /** Byte offset of the column's first buffer in the spill, and the byte after its last (padding included). */
  readonly at: number;
  readonly end: number;
}

export interface SpillSegmentLayout {
  readonly dumpId: string;
  readonly file: string;
  readonly rows: number;
  readonly columns: readonly SpillColumn[];
}

const damaged = (path: string, message: string, offset: number): never => {
  throw new HeaplakeError('PLAN', `spill file ${path} is damaged (${message}): run the map tasks of this table again`, { file: path, offset });
};

/** The header's length in bytes, from the spill's first 4 bytes. */
export function spillHeaderLength(first: Uint8Array, size: number, path: string): number {
  if (first.byteLength < 4 || size < 4) damaged(path, 'shorter than its header', 0);
  const jsonLength = new DataView(first.buffer, first.byteOffset, 4).getUint32(0, true);
  if (4 + jsonLength > size) damaged(path, `header of ${jsonLength} bytes past the end`, 0);
  return jsonLength;
}

/**
 * Every segment's columns and where their bytes lie, from the header JSON (the bytes after the
 * first 4) of a spill of `size` bytes: checked against the size, so a column read later is
 * within the file.
 */
export function spillLayout(json: Uint8Array, size: number, path: string): SpillSegmentLayout[] {
  let header: { format?: string; segments?: SegmentHeader[] };
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return damaged(path, 'header is not JSON', 4);
  }
  if (header.format !== FORMAT || !Array.isArray(header.segments)) return damaged(path, `not a ${FORMAT} file`, 4);
  let at = 4 + json.length + pad(4 + json.length);
  const skip = (length: number) => {
    if (!Number.isInteger(length) || length < 0 || at + length > size) damaged(path, `a buffer of ${length} bytes past the end`, at);
    at += length + (length > 0 ? pad(length) : 0);
  };
  const segments = header.segments.map((s) => {
    if (!s || !Array.isArray(s.columns) || !Number.isInteger(s.rows) || s.rows < 0) return damaged(path, 'a segment without rows or columns', 4);
    return {
      dumpId: String(s.dumpId),
      file: String(s.file),
      rows: s.rows,
      columns: s.columns.map((c) => {
        if (!c || typeof c.name !== 'string' || typeof c.type !== 'string' || !Number.isInteger(c.nulls)) return damaged(path, 'a column without a name, type or null count', 4);
        const start = at;
        skip(c.validity);
        skip(c.offsets);
        skip(c.data);
        return { ...c, at: start, end: at };
      }),
    };
  });
  if (at !== size) damaged(path, `${size - at} bytes after the last segment`, at);
  return segments;
}

/** A segment's column from its bytes (`bytes` holds exactly `c.at..c.end` of the spill). */
export function spillColumn(given: Uint8Array, c: SpillColumn, rows: number, path: string): Data {
  const bytes = given.byteOffset % 8 === 0 ? given : given.slice();
  const type = arrowType(c.type);
  let at = 0;
  const take = (length: number): Uint8Array => {
    const view = bytes.subarray(at, at + length);
    at += length + (length > 0 ? pad(length) : 0);
    return view;
  };
  const validity = take(c.validity);
  const offsets = take(c.offsets);
  const data = take(c.data);
  const fail = (message: string) => damaged(path, `column ${c.name}: ${message}`, c.at);
  if (at !== bytes.byteLength) fail(`${bytes.byteLength} bytes read for ${at}`);
  if (type.typeId === Type.Null) return makeData({ type, length: rows } as never);
  if (c.nulls > 0 && validity.length < Math.ceil(rows / 8)) fail(`validity of ${validity.length} bytes for ${rows} rows`);
  const ArrayType = (type as unknown as { ArrayType: { new (b: ArrayBufferLike, o: number, n: number): ArrayBufferView; BYTES_PER_ELEMENT: number } }).ArrayType;
  const values = new ArrayType(data.buffer, data.byteOffset, data.byteLength / ArrayType.BYTES_PER_ELEMENT);
  if (type.typeId === Type.Utf8 || type.typeId === Type.Binary) {
    const o = new Int32Array(offsets.buffer, offsets.byteOffset, offsets.byteLength / 4);
    if (o.length !== rows + 1 || o[0] !== 0 || o[rows]! > data.length) fail(`offsets do not fit ${rows} rows of ${data.length} bytes`);
    return makeData({ type, length: rows, nullCount: c.nulls, nullBitmap: c.nulls > 0 ? validity : undefined, valueOffsets: o, data: values } as never);
  }
  const needed = type.typeId === Type.Bool ? Math.ceil(rows / 8) : rows * widthOf(c.type);
  if (data.length < needed) fail(`${data.length} bytes of values for ${rows} rows`);
  return makeData({ type, length: rows, nullCount: c.nulls, nullBitmap: c.nulls > 0 ? validity : undefined, data: values } as never);
}

/**
 * The Arrow bytes a segment's columns take once read (what `dataBytes` counts of the batch
 * decodeSpill makes): validity only where there are nulls, as the encoder writes it.
 */
export function spillColumnBytes(c: SpillColumn): number {
  if (c.type === 'null') return 0;
  return (c.nulls > 0 ? c.validity : 0) + c.offsets + c.data;
}

/** A segment's batch from its columns (in the segment's order). */
export function segmentBatch(s: SpillSegmentLayout, children: readonly Data[], path: string): RecordBatch {
  const schema = new Schema(s.columns.map((c) => new Field(c.name, arrowType(c.type), true)));
  for (const d of children) if (d.length !== s.rows) damaged(path, `a column of ${d.length} rows in a segment of ${s.rows}`, 0);
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: s.rows, nullCount: 0, children: [...children] }));
}

/** The segments of a spill read whole; `path` names it in errors (a damaged spill means: run its map task again). */
export function decodeSpill(given: Uint8Array, path: string): SpillSegment[] {
  const bytes = given.byteOffset % 8 === 0 ? given : given.slice();
  const jsonLength = spillHeaderLength(bytes, bytes.byteLength, path);
  const layout = spillLayout(bytes.subarray(4, 4 + jsonLength), bytes.byteLength, path);
  return layout.map((s) => ({
    dumpId: s.dumpId,
    file: s.file,
    batches: [segmentBatch(s, s.columns.map((c) => spillColumn(bytes.subarray(c.at, c.end), c, s.rows, path)), path)],
  }));
}
