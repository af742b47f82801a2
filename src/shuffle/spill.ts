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

/** The segments of a spill; `path` names it in errors (a damaged spill means: run its map task again). */
export function decodeSpill(given: Uint8Array, path: string): SpillSegment[] {
  const bytes = given.byteOffset % 8 === 0 ? given : given.slice();
  const fail = (message: string, offset: number): never => {
    throw new HeaplakeError('PLAN', `spill file ${path} is damaged (${message}): run the map tasks of this table again`, { file: path, offset });
  };
  if (bytes.byteLength < 4) fail('shorter than its header', 0);
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + jsonLength > bytes.byteLength) fail(`header of ${jsonLength} bytes past the end`, 0);
  let header: { format?: string; segments?: SegmentHeader[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + jsonLength)));
  } catch {
    return fail('header is not JSON', 4);
  }
  if (header.format !== FORMAT || !Array.isArray(header.segments)) return fail(`not a ${FORMAT} file`, 4);
  let at = 4 + jsonLength + pad(4 + jsonLength);
  const take = (length: number): Uint8Array => {
    if (!Number.isInteger(length) || length < 0 || at + length > bytes.byteLength) fail(`a buffer of ${length} bytes past the end`, at);
    const view = bytes.subarray(at, at + length);
    at += length + (length > 0 ? pad(length) : 0);
    return view;
  };
  return header.segments.map((s) => {
    const rows = s.rows;
    const children: Data[] = s.columns.map((c) => {
      const type = arrowType(c.type);
      const validity = take(c.validity);
      const offsets = take(c.offsets);
      const data = take(c.data);
      if (type.typeId === Type.Null) return makeData({ type, length: rows } as never);
      if (c.nulls > 0 && validity.length < Math.ceil(rows / 8)) fail(`column ${c.name}: validity of ${validity.length} bytes for ${rows} rows`, at);
      const ArrayType = (type as unknown as { ArrayType: { new (b: ArrayBufferLike, o: number, n: number): ArrayBufferView; BYTES_PER_ELEMENT: number } }).ArrayType;
      const values = new ArrayType(data.buffer, data.byteOffset, data.byteLength / ArrayType.BYTES_PER_ELEMENT);
      if (type.typeId === Type.Utf8 || type.typeId === Type.Binary) {
        const o = new Int32Array(offsets.buffer, offsets.byteOffset, offsets.byteLength / 4);
        if (o.length !== rows + 1 || o[0] !== 0 || o[rows]! > data.length) fail(`column ${c.name}: offsets do not fit ${rows} rows of ${data.length} bytes`, at);
        return makeData({ type, length: rows, nullCount: c.nulls, nullBitmap: c.nulls > 0 ? validity : undefined, valueOffsets: o, data: values } as never);
      }
      const needed = type.typeId === Type.Bool ? Math.ceil(rows / 8) : rows * widthOf(c.type);
      if (data.length < needed) fail(`column ${c.name}: ${data.length} bytes of values for ${rows} rows`, at);
      return makeData({ type, length: rows, nullCount: c.nulls, nullBitmap: c.nulls > 0 ? validity : undefined, data: values } as never);
    });
    const schema = new Schema(s.columns.map((c) => new Field(c.name, arrowType(c.type), true)));
    for (const d of children) if (d.length !== rows) fail(`a column of ${d.length} rows in a segment of ${rows}`, at);
    return { dumpId: s.dumpId, file: s.file, batches: [new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children }))] };
  }).concat(at === bytes.byteLength ? [] : fail(`${bytes.byteLength - at} bytes after the last segment`, at));
}
