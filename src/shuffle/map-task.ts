/**
 * A map task: the first stage of a table too big for one task. It reads a group of the
 * table's Avro files (files of dumps a later full resync supersedes: their headers only) and
 * sends every row to its key's bucket (bucket.ts), as spill files in the run's staging area.
 * Rows keep their file's own types (`time` stays text): the reduce task of each bucket
 * (src/table-task.ts) does everything else exactly as a whole-table task would.
 *
 * Memory is bounded: decoded rows are held until they reach `spillBytes`, then written out,
 * one spill per bucket. A spill's name carries the task's tag and a sequence number, and what
 * is held before each spill depends only on the input: a retried task writes the same objects.
 */
import { Field, RecordBatch, Schema, Struct, makeData, type Data } from 'apache-arrow';
import type { Source } from '../source/source.js';
import type { Target } from '../sink/target.js';
import type { TablePlan } from '../manifest/plan.js';
import { STAGING_DIR } from '../manifest/tables.js';
import { openAvro } from '../columnar/read-avro.js';
import { dataBytes, gatherColumn, newGatherStats, type RowRefs } from '../columnar/gather.js';
import { placeRows, scatterColumn, scatterSupports, type PlacedRows } from '../columnar/scatter.js';
import { giveBackSpillArena, takeSpillArena, type SpillArena } from './spill-arena.js';
import { SPILL_BYTES, SPILL_IO_AT_ONCE } from '../defaults.js';
import { arrowType, typeSpec, type TypeSpec } from '../schema/merge.js';
import { avroReadOptions, columnMismatch, emptyStats, fileColumns, headerColumns, type ReadSettings, type TableStats } from '../table-task.js';
import { bucketsOfRows } from './bucket.js';
import { encodeSpill, type SpillSegment } from './spill.js';

export interface MapContext extends ReadSettings {
  readonly source: Source;
  /** Where spills go: the lake's staging area, or a local folder when every task runs on this machine. */
  readonly spill: Target;
  readonly runId: string;
  /** The task's tag: part of every spill name. */
  readonly fileTag: string;
  readonly buckets: number;
  /** Decoded bytes held before they are spilled (default SPILL_BYTES, 64 MiB). */
  readonly spillBytes?: number;
}

export interface MapSpill {
  readonly bucket: number;
  readonly path: string;
  readonly bytes: number;
  readonly rows: number;
}

/** A file a map task read, with its columns as the schema merge sees them. */
export interface MapFile {
  readonly key: string;
  readonly dumpId: string;
  readonly columns: readonly { name: string; type: TypeSpec }[];
  /** A file of a superseded dump: only its header was read. */
  readonly schemaOnly: boolean;
}

export interface MapResult {
  readonly table: string;
  /** In the order the reduce reads them (spill sequence, then bucket). */
  readonly spills: readonly MapSpill[];
  readonly files: readonly MapFile[];
  /** Files, bytes and rows read, and the manifest-mismatch warnings (the reduce counts the rest). */
  readonly stats: TableStats;
}

interface Held {
  readonly dumpId: string;
  readonly file: string;
  readonly batch: RecordBatch;
  /** Row numbers of the batch grouped by bucket: bucket k's are order[start[k]..start[k+1]). */
  readonly order: Int32Array;
  readonly start: Int32Array;
}

export const spillPath = (runId: string, table: string, tag: string, seq: number, bucket: number) => `${STAGING_DIR}/${runId}/spill/${table}/${tag}-${seq}-b${bucket}.arrows`;

export async function runMapTask(plan: TablePlan, ctx: MapContext): Promise<MapResult> {
  const started = performance.now();
  const { table } = plan;
  const B = ctx.buckets;
  const limit = ctx.spillBytes ?? SPILL_BYTES;
  const stats = emptyStats(table, plan.mode, plan.dumps.map((d) => String(d.dumpId)));
  const files: MapFile[] = [];
  const spills: MapSpill[] = [];

  for (const dump of plan.superseded) {
    for (const f of dump.files) files.push({ key: f.key, dumpId: String(dump.dumpId), columns: await headerColumns(table, f, ctx), schemaOnly: true });
  }

  // the scattered columns of a spill live in this arena until the spill is written
  const arena = takeSpillArena();
  let held: Held[] = [];
  let heldBytes = 0;
  let seq = 0;
  let rowBase = 0;
  // one spill's writes run while the next rows are decoded, and end before the next spill is
  // encoded: its buffers and the next one's were held at once (10M rows in 51 buckets, in-process,
  // one process: 365-367 against 392-393 MiB peak, 196 against 238 MiB of ArrayBuffers, same time)
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (held.length === 0) return;
    await writing;
    const encoded: { bucket: number; path: string; bytes: Uint8Array[]; rows: number }[] = [];
    // the held batches are let go here: each column is dropped once scattered (bucketSegments)
    const groups = fileGroups(held);
    held = [];
    heldBytes = 0;
    arena.reset(); // the last spill's writes are done: its buffers are free
    const byBucket = bucketSegments(groups, B, arena);
    for (let k = 0; k < B; k++) {
      const segments = byBucket[k]!;
      const rows = segments.reduce((n, s) => n + s.batches[0]!.numRows, 0);
      if (rows > 0) encoded.push({ bucket: k, path: spillPath(ctx.runId, table, ctx.fileTag, seq, k), bytes: encodeSpill(segments), rows });
    }
    seq++;
    for (const w of encoded) spills.push({ bucket: w.bucket, path: w.path, bytes: w.bytes.reduce((n, b) => n + b.byteLength, 0), rows: w.rows });
    writing = (async () => {
      let next = 0;
      const writer = async () => {
        while (next < encoded.length) {
          const w = encoded[next++]!;
          await ctx.spill.writeAtomic(w.path, w.bytes);
        }
      };
      await Promise.all(Array.from({ length: SPILL_IO_AT_ONCE }, writer));
    })();
    writing.catch(() => undefined); // awaited (and its failure thrown) by the next flush or the end
  };

  for (const dump of plan.dumps) {
    const dumpId = String(dump.dumpId);
    for (const f of dump.files) {
      const reader = await openAvro(ctx.source.read(f.key, f.etag), avroReadOptions(ctx, f.key, f.size));
      for await (const batch of reader.batches()) {
        const keyIndex = plan.key === undefined ? -1 : batch.schema.fields.findIndex((x) => x.name === plan.key);
        const buckets = bucketsOfRows(keyIndex < 0 ? undefined : batch.data.children[keyIndex], batch.numRows, B, rowBase);
        rowBase += batch.numRows;
        held.push({ dumpId, file: f.key, batch, ...groupByBucket(buckets, B) });
        heldBytes += dataBytes(batch.data);
        if (heldBytes >= limit) await flush();
      }
      const columns = fileColumns(table, reader.schema);
      files.push({ key: f.key, dumpId, columns, schemaOnly: false });
      if (dump.columns) stats.warnings.push(...columnMismatch(dump.dumpId, f.key, columns, dump.columns));
      stats.files++;
      stats.bytesIn += f.size;
      stats.rowsIn += reader.stats.records;
      ctx.onProgress?.({ table, file: f.key, rows: reader.stats.records, bytes: f.size });
    }
  }
  await flush();
  await writing;
  giveBackSpillArena(arena);
  stats.seconds = (performance.now() - started) / 1000;
  return { table, spills, files, stats };
}

/** A counting sort of row numbers by bucket. */
export function groupByBucket(buckets: Uint32Array, B: number): { order: Int32Array; start: Int32Array } {
  const start = new Int32Array(B + 1);
  for (let r = 0; r < buckets.length; r++) start[buckets[r]! + 1]!++;
  for (let k = 0; k < B; k++) start[k + 1]! += start[k]!;
  const next = start.slice(0, B);
  const order = new Int32Array(buckets.length);
  for (let r = 0; r < buckets.length; r++) order[next[buckets[r]!]!++] = r;
  return { order, start };
}

/** A run of held batches of one file, with what every bucket's segment of it needs. */
interface FileGroup {
  /** The batches' rows by bucket (not the batches: their columns are in `columns`). */
  readonly held: readonly Omit<Held, 'batch'>[];
  readonly specs: readonly TypeSpec[];
  /** Column c of every batch of the group, until it is scattered. */
  readonly columns: (Data | undefined)[][];
  readonly schema: Schema;
}

/** The held batches in runs of one file (a file's batches share its schema), prepared once per spill. */
function fileGroups(held: readonly Held[]): FileGroup[] {
  const groups: FileGroup[] = [];
  for (let first = 0; first < held.length; ) {
    let end = first + 1;
    while (end < held.length && held[end]!.file === held[first]!.file) end++;
    const group = held.slice(first, end);
    first = end;
    const fields = group[0]!.batch.schema.fields;
    const specs = fields.map((f) => typeSpec(f.type, f.name));
    groups.push({
      held: group.map(({ batch: _, ...rows }) => rows),
      specs,
      columns: fields.map((_, c) => group.map((h) => h.batch.data.children[c])),
      schema: new Schema(fields.map((f, c) => new Field(f.name, arrowType(specs[c]!), true))),
    });
  }
  return groups;
}

/**
 * Every bucket's segments of the held batches: one segment (one batch) per file group with rows
 * in that bucket. Each column is scattered to all buckets at once by the WebAssembly kernel
 * (columnar/scatter.ts); a column it does not take (a null column) is gathered bucket by bucket.
 */
function bucketSegments(groups: readonly FileGroup[], B: number, arena: SpillArena): SpillSegment[][] {
  const perBucket: SpillSegment[][] = Array.from({ length: B }, () => []);
  for (const g of groups) {
    const counts = new Int32Array(B);
    for (const h of g.held) for (let k = 0; k < B; k++) counts[k]! += h.start[k + 1]! - h.start[k]!;
    // the rows of bucket k, for columns gathered: made once per bucket, on first use
    const refs: RowRefs[] = [];
    let placed: PlacedRows | undefined; // the group's rows in the scatter kernel's memory, once
    const columns = g.specs.map((spec, c): (Data | undefined)[] => {
      const sources = g.columns[c]!;
      g.columns[c] = []; // scattered: the held copy can go (the spill's rows and the batches' were held at once)
      if (scatterSupports(spec, sources)) return scatterColumn(spec, sources as Data[], (placed ??= placeRows(g.held, B)), arena.copy);
      return Array.from({ length: B }, (_, k) => (counts[k]! > 0 ? gatherColumn(spec, sources, (refs[k] ??= bucketRefs(g, k, counts[k]!)), newGatherStats()) : undefined));
    });
    const first = g.held[0]!;
    const type = new Struct(g.schema.fields);
    for (let k = 0; k < B; k++) {
      const length = counts[k]!;
      if (length === 0) continue;
      const children = columns.map((col) => col[k]!);
      perBucket[k]!.push({ dumpId: first.dumpId, file: first.file, batches: [new RecordBatch(g.schema, makeData({ type, length, nullCount: 0, children }))] });
    }
  }
  return perBucket;
}

/** Bucket k's rows of a file group's batches, batch after batch. */
function bucketRefs(g: FileGroup, k: number, count: number): RowRefs {
  const refs: RowRefs = { batch: new Int32Array(count), row: new Int32Array(count), length: count };
  let i = 0;
  g.held.forEach((h, b) => {
    for (let j = h.start[k]!; j < h.start[k + 1]!; j++, i++) {
      refs.batch[i] = b;
      refs.row[i] = h.order[j]!;
    }
  });
  return refs;
}
