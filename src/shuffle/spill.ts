/**
 * Spill files: the rows a map task sends to one bucket, kept in the run's staging area until
 * the bucket's reduce task reads them. A spill holds one segment per input file (files differ
 * in schema), each an Arrow IPC stream of that file's rows in file order:
 *
 *   u32 LE header length · header JSON { format, segments: [{ dumpId, file, rows, length }] } ·
 *   the segments' IPC streams, back to back
 *
 * Spills are never seen by the lake's readers and are removed with the staging area.
 */
import { RecordBatch, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { HeaplakeError } from '../errors.js';

export interface SpillSegment {
  /** The dump the rows come from (decimal text). */
  readonly dumpId: string;
  /** The input file they were read from (for errors and reports). */
  readonly file: string;
  readonly batches: readonly RecordBatch[];
}

interface SegmentHeader {
  readonly dumpId: string;
  readonly file: string;
  readonly rows: number;
  readonly length: number;
}

const FORMAT = 'heaplake-spill-1';

export function encodeSpill(segments: readonly SpillSegment[]): Uint8Array {
  const streams = segments.map((s) => tableToIPC(new Table(s.batches as RecordBatch[]), 'stream'));
  const headers: SegmentHeader[] = segments.map((s, i) => ({
    dumpId: s.dumpId,
    file: s.file,
    rows: s.batches.reduce((n, b) => n + b.numRows, 0),
    length: streams[i]!.byteLength,
  }));
  // spaces pad the header so every IPC stream starts 8-byte aligned (Arrow reads its buffers in place)
  const json = new TextEncoder().encode(JSON.stringify({ format: FORMAT, segments: headers }));
  const header = new Uint8Array(json.length + ((8 - ((4 + json.length) % 8)) % 8)).fill(0x20);
  header.set(json);
  const out = new Uint8Array(4 + header.length + streams.reduce((n, s) => n + s.byteLength, 0));
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  for (const s of streams) {
    out.set(s, at);
    at += s.byteLength;
  }
  return out;
}

/** The segments of a spill; `path` names it in errors (a damaged spill means: run its map task again). */
export function decodeSpill(given: Uint8Array, path: string): SpillSegment[] {
  const bytes = given.byteOffset % 8 === 0 ? given : given.slice();
  const fail = (message: string, offset: number): never => {
    throw new HeaplakeError('PLAN', `spill file ${path} is damaged (${message}): run the map tasks of this table again`, { file: path, offset });
  };
  if (bytes.byteLength < 4) fail('shorter than its header', 0);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headerLength > bytes.byteLength) fail(`header of ${headerLength} bytes past the end`, 0);
  let header: { format?: string; segments?: SegmentHeader[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
  } catch {
    return fail('header is not JSON', 4);
  }
  if (header.format !== FORMAT || !Array.isArray(header.segments)) return fail(`not a ${FORMAT} file`, 4);
  const segments: SpillSegment[] = [];
  let at = 4 + headerLength;
  for (const s of header.segments) {
    if (!Number.isInteger(s.length) || s.length < 0 || at + s.length > bytes.byteLength) fail(`segment of ${s.length} bytes past the end`, at);
    const table = tableFromIPC(bytes.subarray(at, at + s.length));
    if (table.numRows !== s.rows) fail(`segment holds ${table.numRows} rows, its header says ${s.rows}`, at);
    segments.push({ dumpId: s.dumpId, file: s.file, batches: table.batches });
    at += s.length;
  }
  if (at !== bytes.byteLength) fail(`${bytes.byteLength - at} bytes after the last segment`, at);
  return segments;
}
