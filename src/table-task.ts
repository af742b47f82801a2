/**
 * One table's task: read the planned Avro files, merge their schemas with the lake's, apply
 * the start date, de-duplicate on the key, merge with the rows already in the lake, and write
 * the affected partitions as Parquet into the run's staging area. The task changes nothing
 * the lake's readers see: the commit (src/commit/commit.ts) publishes every task at once.
 *
 * Tasks are independent of each other (one table each), so a later issue can run them on a
 * cluster; their results are plain data.
 */
import { RecordBatch, makeData, Struct, type Data, type Schema } from 'apache-arrow';
import { HeaplakeError, asHeaplakeError } from './errors.js';
import { SPILL_IO_AT_ONCE, type BatchBounds, type ParquetCompression, type ReadLimits } from './defaults.js';
import type { Source } from './source/source.js';
import type { Target } from './sink/target.js';
import type { TablePlan } from './manifest/plan.js';
import { isEventLike, microsColumns } from './manifest/tables.js';
import { openAvro } from './columnar/read-avro.js';
import { dataBytes, gatherColumn, isValid, newGatherStats, type GatherStats, type RowRefs } from './columnar/gather.js';
import { planRegroup, regroupColumn } from './columnar/regroup.js';
import { lakeSchema, mergeColumns, typeSpec, type TypeSpec } from './schema/merge.js';
import { dedupe } from './dedupe/dedupe.js';
import { KeyIndex } from './dedupe/key-index.js';
import type { LongSlot } from './avro/varint.js';
import { nativeSettings, readParquetBytes } from './sink/parquet.js';
import { columnFiles } from './sink/column-files.js';
import type { MapFile } from './shuffle/map-task.js';
import { decodeSpill } from './shuffle/spill.js';
import { openSpillColumns, readsByColumn, type SpillColumns } from './shuffle/spill-columns.js';
import { STAGING_DIR, type LakeColumn, type LakeFile, type LakeState, type TableState } from './commit/state.js';

/** How a task reads its Avro files, and what it reports while it does (shared by every kind of task). */
export interface ReadSettings {
  readonly limits?: Partial<ReadLimits>;
  readonly batch?: Partial<BatchBounds>;
  /** Decompress on a second thread (default false). */
  readonly parallelDecompression?: boolean;
  readonly onProgress?: (p: { table: string; file: string; rows: number; bytes: number }) => void;
}

export interface TaskContext extends ReadSettings {
  readonly source: Source;
  readonly target: Target;
  readonly state: LakeState;
  readonly runId: string;
  /**
   * Part of every output file name: a digest of the task's inputs and options, so two
   * different tasks never write the same path and a repeated task writes the same one.
   */
  readonly fileTag: string;
  readonly startMicros: number | undefined;
  /** Unparseable `time` values are an error instead of a null. */
  readonly strict: boolean;
  readonly compression: ParquetCompression;
  /** Most rows per output file (row groups are bounded by bytes inside it). */
  readonly maxRowsPerFile: number;
  /**
   * A reduce task: the table is split into `count` key buckets and this task does bucket
   * `index`, reading the rows the map tasks spilled for it (not the Avro files) and only the
   * lake files of its bucket. Counts of the input are the map tasks'.
   */
  readonly bucket?: {
    readonly index: number;
    readonly count: number;
    /** Where the map tasks put the spills, and their paths there, in order. */
    readonly store: Target;
    readonly spills: readonly string[];
    readonly files: readonly MapFile[];
  };
}

export interface TableStats {
  table: string;
  mode: 'replace' | 'merge';
  dumps: string[];
  files: number;
  bytesIn: number;
  rowsIn: number;
  duplicates: number;
  nullKeys: number;
  filtered: number;
  rowsOut: number;
  filesWritten: number;
  filesRemoved: number;
  bytesOut: number;
  seconds: number;
  unparsedTimes: number;
  unparsedExamples: string[];
  inexactDoubles: number;
  warnings: string[];
}

export interface TaskResult {
  readonly table: string;
  readonly state: TableState;
  /** Files written into staging, and where the commit moves them. */
  readonly staged: readonly { from: string; to: string }[];
  /** Live files the commit makes obsolete (deleted after the state is written). */
  readonly obsolete: readonly string[];
  readonly stats: TableStats;
}

interface SourceBatch {
  readonly batch: RecordBatch;
  /** Dump ordinal (0-based within this run); -1 for rows already in the lake. */
  readonly dump: number;
}

const DAY_MICROS = 86_400_000_000;
const NULL_PARTITION = 'dt=__HIVE_DEFAULT_PARTITION__';

/** Heap's timestamp columns get their Arrow type before merging (§3.3 of the spec). */
export function fileColumns(table: string, schema: Schema): { name: string; type: TypeSpec }[] {
  const micros = microsColumns(table);
  return schema.fields.map((f) => {
    let type = typeSpec(f.type, f.name);
    if (isEventLike(table) && f.name === 'time' && (type === 'utf8' || type.startsWith('timestamp'))) type = 'timestamp[us,UTC]';
    if (micros.includes(f.name) && type === 'int64') type = 'timestamp[us,UTC]';
    return { name: f.name, type };
  });
}

/** A warning when a file's fields differ from the columns the manifest announces (§7.1.20). */
export function columnMismatch(dumpId: bigint, key: string, cols: readonly { name: string }[], announced: readonly string[]): string[] {
  const inFile = new Set(cols.map((c) => c.name));
  const inManifest = new Set(announced);
  const extra = [...inFile].filter((c) => !inManifest.has(c));
  const absent = [...inManifest].filter((c) => !inFile.has(c));
  if (extra.length + absent.length === 0) return [];
  return [`dump ${dumpId}: ${key} differs from the manifest's columns (only in the file: ${extra.join(', ') || '-'}; only in the manifest: ${absent.join(', ') || '-'})`];
}

function column(batch: RecordBatch, name: string): Data | undefined {
  const i = batch.schema.fields.findIndex((f) => f.name === name);
  return i < 0 ? undefined : batch.data.children[i];
}

const dayNames = new Map<number, string>();

/** `dt=YYYY-MM-DD` of a day since the epoch: one Date per day, not per row. */
function dayName(day: number): string {
  let name = dayNames.get(day);
  if (name === undefined) {
    if (dayNames.size > 100_000) dayNames.clear();
    dayNames.set(day, (name = 'dt=' + new Date(day * 86_400_000).toISOString().slice(0, 10)));
  }
  return name;
}

/** µs of a gathered Timestamp(µs) column, per row (NaN when null). */
function microsOf(d: Data): Float64Array {
  const out = new Float64Array(d.length);
  const v = d.values as BigInt64Array;
  const i32 = new Int32Array(v.buffer, v.byteOffset, v.length * 2);
  for (let i = 0; i < d.length; i++) out[i] = isValid(d, i) ? i32[i * 2 + 1]! * 0x100000000 + (i32[i * 2]! >>> 0) : NaN;
  return out;
}

function refsFrom(batches: readonly SourceBatch[], from = 0): RowRefs {
  let n = 0;
  for (let b = from; b < batches.length; b++) n += batches[b]!.batch.numRows;
  const batch = new Int32Array(n);
  const row = new Int32Array(n);
  let i = 0;
  for (let b = from; b < batches.length; b++) {
    for (let r = 0; r < batches[b]!.batch.numRows; r++, i++) {
      batch[i] = b;
      row[i] = r;
    }
  }
  return { batch, row, length: n };
}

function pick(refs: RowRefs, indices: ArrayLike<number>, count = indices.length): RowRefs {
  const batch = new Int32Array(count);
  const row = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    batch[i] = refs.batch[indices[i]!]!;
    row[i] = refs.row[indices[i]!]!;
  }
  return { batch, row, length: count };
}

function pickMicros(micros: Float64Array, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = micros[indices[i]!]!;
  return out;
}

/**
 * Row indices by partition, each list in row order: by the day of `micros` (NaN: the null
 * partition), or every row under null for a table without days. Days are grouped as numbers
 * and named once each: a name per row and a second lookup by it took 138 ms of a pinned
 * 1M-row profile.
 */
function rowsByPartition(n: number, micros: Float64Array | undefined): Map<string | null, Int32Array> {
  if (n === 0) return new Map();
  if (!micros) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return new Map([[null, all]]);
  }
  const ids = new Map<number, number>(); // day (NaN: no day) → group
  const days: number[] = [];
  const counts: number[] = [];
  const groupOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const m = micros[i]!;
    const day = m === m ? Math.floor(m / DAY_MICROS) : NaN; // a Map finds NaN like any key
    let id = ids.get(day);
    if (id === undefined) {
      ids.set(day, (id = days.length));
      days.push(day);
      counts.push(0);
    }
    groupOf[i] = id;
    counts[id]!++;
  }
  const lists = counts.map((c) => new Int32Array(c));
  const filled = counts.map(() => 0);
  for (let i = 0; i < n; i++) {
    const id = groupOf[i]!;
    lists[id]![filled[id]!++] = i;
  }
  return new Map(days.map((day, id) => [Number.isNaN(day) ? NULL_PARTITION : dayName(day), lists[id]!]));
}

function concatRefs(a: RowRefs, b: RowRefs): RowRefs {
  const batch = new Int32Array(a.length + b.length);
  const row = new Int32Array(a.length + b.length);
  batch.set(a.batch.subarray(0, a.length));
  batch.set(b.batch.subarray(0, b.length), a.length);
  row.set(a.row.subarray(0, a.length));
  row.set(b.row.subarray(0, b.length), a.length);
  return { batch, row, length: a.length + b.length };
}

/** How a task opens one of its Avro files. */
export function avroReadOptions(ctx: ReadSettings, key: string, size: number) {
  return {
    file: key,
    totalBytes: size,
    ...(ctx.limits ? { limits: ctx.limits } : {}),
    ...(ctx.batch ? { batch: ctx.batch } : {}),
    ...(ctx.parallelDecompression === undefined ? {} : { parallelDecompression: ctx.parallelDecompression }),
  };
}

/** A table's counters before any work. */
export function emptyStats(table: string, mode: 'replace' | 'merge', dumps: string[]): TableStats {
  return {
    table,
    mode,
    dumps,
    files: 0,
    bytesIn: 0,
    rowsIn: 0,
    duplicates: 0,
    nullKeys: 0,
    filtered: 0,
    rowsOut: 0,
    filesWritten: 0,
    filesRemoved: 0,
    bytesOut: 0,
    seconds: 0,
    unparsedTimes: 0,
    unparsedExamples: [],
    inexactDoubles: 0,
    warnings: [],
  };
}

export async function runTableTask(plan: TablePlan, ctx: TaskContext): Promise<TaskResult> {
  const started = performance.now();
  const stats = emptyStats(plan.table, plan.mode, plan.dumps.map((d) => String(d.dumpId)));

  // 1. the new rows, in precedence order (dump, file in manifest order, row), and the columns
  // of every file of the run — files of superseded dumps too (their headers only), so one run
  // and many agree on the schema
  const inputs = ctx.bucket ? await readSpills(plan, ctx.bucket) : await readAvroFiles(plan, ctx, stats);
  try {
    return await writeTable(plan, ctx, inputs, stats, started);
  } finally {
    await inputs.spilled?.columns.close();
  }
}

/** Steps 2 to 5 of a table's task, from its inputs. */
async function writeTable(plan: TablePlan, ctx: TaskContext, inputs: TaskInputs, stats: TableStats, started: number): Promise<TaskResult> {
  const { table } = plan;
  const previous = ctx.state.tables[table];
  const { sources, applied, superseded, spilled } = inputs;

  // 2. schemas: the lake's columns first (they never disappear), then every file's
  const lakeColumns = previous ? previous.columns.map((c) => ({ name: c.name, type: c.type })) : [];
  const merged = mergeColumns([lakeColumns, ...superseded, ...applied]);
  for (const c of merged.conflicts) stats.warnings.push(`column "${c.name}" has conflicting types ${c.seen.join(', ')}: stored as utf8`);
  let nextId = Math.max(0, ...(previous?.columns.map((c) => c.fieldId) ?? [0]));
  const columns: LakeColumn[] = merged.columns.map((c) => ({ name: c.name, type: c.type, fieldId: previous?.columns.find((p) => p.name === c.name)?.fieldId ?? ++nextId }));
  const schema = lakeSchema(columns, new Map([['heaplake.table', table]]));
  const retyped = previous?.columns.some((p) => columns.find((c) => c.name === p.name)?.type !== p.type) ?? false;

  const gatherStats = newGatherStats();
  // `time` of the new rows, parsed once for partitioning: the output copies it from here
  const parsedTime = new Map<RecordBatch, Data>();
  // each column of every source batch, looked up once per set of batches (not per output batch)
  const columnsOf = new WeakMap<readonly SourceBatch[], Map<string, (Data | undefined)[]>>();
  const sourceColumn = (batches: readonly SourceBatch[], name: string) => {
    let byName = columnsOf.get(batches);
    if (!byName) columnsOf.set(batches, (byName = new Map()));
    let list = byName.get(name);
    if (!list) byName.set(name, (list = batches.map((s) => (name === 'time' ? parsedTime.get(s.batch) : undefined) ?? column(s.batch, name))));
    return list;
  };
  const gather = (spec: TypeSpec, name: string, refs: RowRefs, batches: readonly SourceBatch[]): Data => gatherColumn(spec, sourceColumn(batches, name), refs, gatherStats);
  const timeSpec = columns.find((c) => c.name === 'time')?.type;
  const partitioned = plan.partitioned && timeSpec?.startsWith('timestamp') === true;

  // 3. start date, then de-duplication among the new rows
  let newRefs = refsFrom(sources);
  let newMicros: Float64Array | undefined;
  if (partitioned) {
    const time = gatherColumn(timeSpec!, sources.map((s) => column(s.batch, 'time')), newRefs, gatherStats);
    newMicros = microsOf(time);
    for (let b = 0, start = 0; b < sources.length; start += sources[b]!.batch.numRows, b++) parsedTime.set(sources[b]!.batch, time.slice(start, sources[b]!.batch.numRows));
    if (ctx.strict && gatherStats.unparsedTimes > 0) {
      throw new HeaplakeError('TIME_PARSE', `table "${table}": ${gatherStats.unparsedTimes} "time" value(s) are not timestamps, e.g. ${JSON.stringify(gatherStats.unparsedExamples[0])}`, { field: 'time' });
    }
    if (ctx.startMicros !== undefined) {
      const keep = rowsFrom(newMicros, ctx.startMicros);
      stats.filtered = newRefs.length - keep.length;
      newRefs = pick(newRefs, keep);
      newMicros = pickMicros(newMicros, keep);
    }
  }
  let winners = newRefs;
  let winnerMicros = newMicros;
  // a reduce task owns the lake files of its bucket only (the other buckets' tasks the rest)
  const oldFiles = (previous?.files ?? []).filter((f) => !ctx.bucket || (f.bucket ?? 0) === ctx.bucket.index);
  // the winners' keys, to find the lake rows they replace (a merge): dedupe's own index
  let keyIndex = new KeyIndex(0);
  if (plan.key) {
    const lastModified = table === 'users' ? sources.map((s) => column(s.batch, 'last_modified')) : undefined;
    const result = dedupe(newRefs, {
      keys: sources.map((s) => column(s.batch, plan.key!)),
      dumpOf: sources.map((s) => s.dump),
      ...(lastModified ? { lastModified } : {}),
    });
    winners = result.winners;
    stats.duplicates = result.duplicates;
    stats.nullKeys = result.nullKeys;
    if (newMicros) winnerMicros = pickMicros(newMicros, result.index);
    if (plan.mode === 'merge') keyIndex = result.keys; // else let it go with the rest of dedupe's work
  }

  // 4. which partitions change: those receiving rows, and (merge) those holding replaced rows
  const incoming = rowsByPartition(winners.length, partitioned ? winnerMicros : undefined);
  const affected = new Set<string | null>(incoming.keys());
  if (plan.mode === 'merge') {
    for (const f of oldFiles) {
      if (affected.has(f.partition) || retyped) {
        affected.add(f.partition);
        continue;
      }
      if (!plan.key || keyIndex.size === 0) continue;
      // a lake row whose key arrives again is replaced, wherever its new copy lands: decode only
      // the key column to find out (a partition that is affected is read in full below)
      const keys = await readLakeFile(ctx.target, f.path, [plan.key]);
      if (keys.some((b) => hasKeyIn(column(b, plan.key!), keyIndex))) affected.add(f.partition);
    }
  }

  // 5. write every affected partition: kept lake rows, then the new winners
  const staged: { from: string; to: string }[] = [];
  const keptFiles: LakeFile[] = [];
  const newFiles: LakeFile[] = [];
  const obsolete: string[] = [];
  for (const f of oldFiles) {
    if (plan.mode === 'replace' || affected.has(f.partition)) obsolete.push(f.path);
    else keptFiles.push(f);
  }
  const partitions = [...affected].sort((a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1));
  // row groups of about 128 MiB and files of at most about 1 GiB of Arrow data (parquet-wasm's
  // memory stays bounded by what one write holds), from the input's bytes per row
  // (spills read by column: from their headers, the same figure as of the whole batches)
  const batchesIn = sources.map((s) => s.batch);
  const rowBytes = Math.max(1, bytesPerRow(batchesIn, spilled?.columns.bytes ?? batchesIn.reduce((n, b) => n + dataBytes(b.data), 0)));
  const rowGroupRows = Math.min(1 << 20, Math.max(1024, Math.floor((128 << 20) / rowBytes)));
  const rowsPerFile = Math.max(1, Math.min(ctx.maxRowsPerFile, Math.floor((1 << 30) / rowBytes)));
  // the columns of every source batch: read from the spills when they were read by column
  const columnsNamed = async (names: readonly string[]): Promise<Map<string, readonly (Data | undefined)[]>> => {
    const read = spilled ? names.filter((n) => !spilled.held.has(n)) : [];
    const result: Map<string, readonly (Data | undefined)[]> = read.length > 0 ? await spilled!.columns.load(read) : new Map();
    for (const n of names) if (!result.has(n)) result.set(n, sourceColumn(sources, n));
    return result;
  };
  const writeOptions = {
    compression: ctx.compression,
    rowGroupRows,
    metadata: new Map([
      ['heaplake.table', table],
      ['heaplake.dump_id', String(plan.lastDumpId)],
    ]),
  };
  // partitions whose files hold new rows only are written a column at a time, each column as it
  // is regrouped (sink/column-files.ts); the others (lake rows to merge, or a table parquet-wasm
  // writes) are regrouped into batches first, and written from them
  const native = ctx.target.writeEncoded ? nativeSettings(schema, writeOptions, []) : undefined;
  const direct = new Set(native ? partitions.filter((p) => incoming.has(p) && (plan.mode === 'replace' || !oldFiles.some((o) => o.partition === p))) : []);
  const directFiles = [...direct].flatMap((partition) => fileRanges(incoming.get(partition)!.length, rowsPerFile).map((r, seq) => ({ partition, seq, ...r })));
  const columnWriter = native && directFiles.length > 0 ? columnFiles(schema, directFiles.map((f) => f.count), native, OUTPUT_BATCH_ROWS) : undefined;
  const written = columnWriter && { partitions: direct, add: (c: number, of: (p: string | null) => Data) => columnWriter.add(c, directFiles.map((f) => of(f.partition).slice(f.start, f.count))) };
  // the new rows regrouped by partition (regroup.ts); the sources are then let go
  const regrouped = await regroupByPartition(columns, schema, partitions, incoming, winners, sources.length, columnsNamed, gatherStats, written);
  await spilled?.columns.close(); // every column is read
  columnsOf.delete(sources);
  parsedTime.clear();
  sources.length = 0;
  const fileName = (partition: string | null, seq: number) => `${partition === null ? table : `${table}/${partition}`}/part-${plan.lastDumpId}-${ctx.fileTag}-${seq}.parquet`;
  const staging = (to: string) => `${STAGING_DIR}/${ctx.runId}/${to}`;
  const recordFile = (partition: string | null, to: string, rows: number, file: { bytes: number; sha256: string }) => {
    staged.push({ from: staging(to), to });
    newFiles.push({ path: to, partition, rows, bytes: file.bytes, sha256: file.sha256, ...(ctx.bucket ? { bucket: ctx.bucket.index } : {}) });
    stats.rowsOut += rows;
    stats.bytesOut += file.bytes;
  };
  for (const partition of partitions) {
    if (direct.has(partition)) {
      for (const [f, d] of directFiles.entries()) {
        if (d.partition !== partition) continue;
        const to = fileName(partition, d.seq);
        recordFile(partition, to, d.count, await ctx.target.writeEncoded!(staging(to), columnWriter!.take(f)));
      }
      continue;
    }
    // a partition without new rows has only the lake's (merge) or nothing left (replace)
    const part = regrouped.get(partition);
    const batches: SourceBatch[] = part ? [part] : [];
    let refs = refsFrom(batches);
    if (plan.mode === 'merge') {
      const lakeRefs: { batch: number[]; row: number[] } = { batch: [], row: [] };
      for (const f of oldFiles.filter((o) => o.partition === partition)) {
        const read = await readLakeFile(ctx.target, f.path);
        for (const b of read) {
          batches.push({ batch: b, dump: -1 });
          stats.duplicates += keepUnreplaced(b, batches.length - 1, plan.key ? column(b, plan.key) : undefined, keyIndex, lakeRefs);
        }
      }
      refs = concatRefs({ batch: Int32Array.from(lakeRefs.batch), row: Int32Array.from(lakeRefs.row), length: lakeRefs.batch.length }, refs);
    }
    if (refs.length === 0) continue;
    for (const [seq, { start, count }] of fileRanges(refs.length, rowsPerFile).entries()) {
      const fileRefs = { batch: refs.batch.subarray(start, start + count), row: refs.row.subarray(start, start + count), length: count };
      const to = fileName(partition, seq);
      recordFile(partition, to, count, await ctx.target.writeParquet(staging(to), schema, outputBatches(columns, schema, fileRefs, batches, gather), writeOptions));
    }
  }
  stats.filesWritten = newFiles.length;
  stats.filesRemoved = obsolete.length;
  stats.unparsedTimes = gatherStats.unparsedTimes;
  stats.unparsedExamples = gatherStats.unparsedExamples;
  stats.inexactDoubles = gatherStats.inexactDoubles;
  // a bucket's counts are summed with the other buckets' before they are worded (combine.ts)
  if (!ctx.bucket) stats.warnings.push(...countWarnings(stats, plan.key));
  stats.seconds = (performance.now() - started) / 1000;
  const files = [...keptFiles, ...newFiles].sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    table,
    state: { lastDumpId: String(plan.lastDumpId), key: plan.key ?? null, partitioned, columns, files, ...(ctx.bucket ? { buckets: ctx.bucket.count } : {}) },
    staged,
    obsolete,
    stats,
  };
}

// The row loops of a task live in functions of their own: inside runTableTask, a loop made V8
// compile the whole (large) function on the stack, and again at each later call that took
// another branch (14 compilations, ~0.8 s of compiler time in a 1M-row run)

/** The rows whose time is not before `startMicros` (an unparsed time, NaN, is kept). */
function rowsFrom(micros: Float64Array, startMicros: number): number[] {
  const keep: number[] = [];
  for (let i = 0; i < micros.length; i++) if (!(micros[i]! < startMicros)) keep.push(i);
  return keep;
}

/** Adds to `refs` the rows of lake batch `b` (batch number `bi`) whose key does not arrive again; returns how many do. */
function keepUnreplaced(b: RecordBatch, bi: number, key: Data | undefined, keyIndex: KeyIndex, refs: { batch: number[]; row: number[] }): number {
  const slot: LongSlot = { lo: 0, hi: 0 };
  let replaced = 0;
  for (let r = 0; r < b.numRows; r++) {
    if (key && int64Into(key, r, slot) && keyIndex.get(slot.lo, slot.hi) !== -1) {
      replaced++;
      continue; // replaced by a newer row
    }
    refs.batch.push(bi);
    refs.row.push(r);
  }
  return replaced;
}

/** The warnings a table's counts call for. */
export function countWarnings(stats: TableStats, key: string | undefined): string[] {
  const warnings: string[] = [];
  if (stats.unparsedTimes > 0) warnings.push(`${stats.unparsedTimes} "time" value(s) are not timestamps and were stored as null (e.g. ${JSON.stringify(stats.unparsedExamples[0])})`);
  if (stats.inexactDoubles > 0) warnings.push(`${stats.inexactDoubles} integer value(s) beyond 2^53 widened to inexact doubles`);
  if (stats.nullKeys > 0) warnings.push(`${stats.nullKeys} row(s) with a null "${key}" kept without de-duplication`);
  if (stats.table === 'user_migrations' && stats.duplicates > 0) {
    warnings.push(`${stats.duplicates} from_user_id value(s) appear more than once in one delivery: the last mapping in file order wins`);
  }
  return warnings;
}

type FileColumns = { name: string; type: TypeSpec }[];

interface TaskInputs {
  readonly sources: SourceBatch[];
  /** Per file read, its columns; per file of a superseded dump, its header's. */
  readonly applied: FileColumns[];
  readonly superseded: FileColumns[];
  /** Spills read by column: the source batches hold only the columns `held`; the rest are read when needed. */
  readonly spilled?: { readonly columns: SpillColumns; readonly held: ReadonlySet<string> };
}

/** A whole table: every Avro file of the dumps applied, and the headers of superseded ones. */
async function readAvroFiles(plan: TablePlan, ctx: TaskContext, stats: TableStats): Promise<TaskInputs> {
  const inputs: TaskInputs = { sources: [], applied: [], superseded: [] };
  for (const [d, dump] of plan.dumps.entries()) {
    for (const f of dump.files) {
      const reader = await openAvro(ctx.source.read(f.key, f.etag), avroReadOptions(ctx, f.key, f.size));
      for await (const batch of reader.batches()) inputs.sources.push({ batch, dump: d });
      const cols = fileColumns(plan.table, reader.schema);
      inputs.applied.push(cols);
      if (dump.columns) stats.warnings.push(...columnMismatch(dump.dumpId, f.key, cols, dump.columns));
      stats.files++;
      stats.bytesIn += f.size;
      stats.rowsIn += reader.stats.records;
      ctx.onProgress?.({ table: plan.table, file: f.key, rows: reader.stats.records, bytes: f.size });
    }
  }
  for (const dump of plan.superseded) for (const f of dump.files) inputs.superseded.push(await headerColumns(plan.table, f, ctx));
  return inputs;
}

/** A superseded file's columns, from its header alone. */
export async function headerColumns(table: string, f: { key: string; size: number; etag?: string }, ctx: ReadSettings & { source: Source }): Promise<FileColumns> {
  const reader = await openAvro(ctx.source.read(f.key, f.etag), avroReadOptions(ctx, f.key, f.size));
  await reader.close();
  return fileColumns(table, reader.schema);
}

/** A reduce task: the rows the map tasks sent to this bucket, in the same precedence order. */
async function readSpills(plan: TablePlan, bucket: NonNullable<TaskContext['bucket']>): Promise<TaskInputs> {
  const ordinal = new Map(plan.dumps.map((d, i) => [String(d.dumpId), i]));
  const dumpOf = (dumpId: string, path: string): number => {
    const dump = ordinal.get(dumpId);
    if (dump === undefined) throw new HeaplakeError('PLAN', `spill file ${path} holds rows of dump ${dumpId}, which the plan does not apply to ${plan.table}`, { file: path });
    return dump;
  };
  const applied: FileColumns[] = [];
  const superseded: FileColumns[] = [];
  for (const f of bucket.files) (f.schemaOnly ? superseded : applied).push(f.columns.map((c) => ({ ...c })));
  const { spills, store } = bucket;
  if (readsByColumn(store)) {
    // what dedupe and partitioning read of every row; each other column is read when it is regrouped
    const held = new Set([plan.key, 'time', 'last_modified'].filter((n): n is string => n !== undefined));
    const columns = await openSpillColumns(store, spills);
    try {
      const batches = await columns.batches([...held]);
      const sources = batches.map((batch, i) => ({ batch, dump: dumpOf(columns.segments[i]!.dumpId, columns.segments[i]!.path) }));
      return { sources, applied, superseded, spilled: { columns, held } };
    } catch (err) {
      await columns.close(); // the task closes them once it has its inputs
      throw err;
    }
  }
  const sources: SourceBatch[] = [];
  // a few spills are read at once (the reads, not their decoding, are the cost: a spill's
  // buffers are used where they are read); all of them are held by the task in the end anyway
  const reads: Promise<Uint8Array>[] = [];
  const readAhead = (i: number) => {
    if (i >= spills.length) return;
    const read = store.readBytes(spills[i]!);
    read.catch(() => undefined); // awaited in its turn
    reads[i] = read;
  };
  for (let i = 0; i < SPILL_IO_AT_ONCE; i++) readAhead(i);
  for (let i = 0; i < spills.length; i++) {
    const path = spills[i]!;
    const bytes = await reads[i]!;
    readAhead(i + SPILL_IO_AT_ONCE);
    for (const segment of decodeSpill(bytes, path)) {
      const dump = dumpOf(segment.dumpId, path);
      for (const batch of segment.batches) sources.push({ batch, dump });
    }
  }
  return { sources, applied, superseded };
}

/**
 * Rows per batch handed to the Parquet writer (row groups are larger: the writer fills them
 * batch by batch). Each batch is held three times while it is written: gathered, as Arrow IPC,
 * and copied into parquet-wasm's memory. 32k rows of Heap-like pageviews (~13 MB) instead of
 * 64k took the 10M-row conversion's peak from 522 to 486 MiB (one core, one run each; 1M rows:
 * 394-434 against 419-449 MiB, three runs each), at the same speed within the VM's noise.
 */
const OUTPUT_BATCH_ROWS = 32 * 1024;

/** Output batches of OUTPUT_BATCH_ROWS rows at most, each column gathered and converted to the lake type. */
async function* outputBatches(
  columns: readonly LakeColumn[],
  schema: Schema,
  refs: RowRefs,
  batches: readonly SourceBatch[],
  gather: (spec: TypeSpec, name: string, refs: RowRefs, batches: readonly SourceBatch[]) => Data,
): AsyncGenerator<RecordBatch> {
  for (let start = 0; start < refs.length; start += OUTPUT_BATCH_ROWS) {
    const count = Math.min(OUTPUT_BATCH_ROWS, refs.length - start);
    const slice = { batch: refs.batch.subarray(start, start + count), row: refs.row.subarray(start, start + count), length: count };
    const run = singleRun(slice);
    const children = columns.map((c) => {
      // consecutive rows of one batch, already of the lake's type (a regrouped partition's): a slice, no copy
      const d = run ? column(batches[run.batch]!.batch, c.name) : undefined;
      if (d && typeSpec(d.type, 'column') === c.type) return d.slice(run!.row, count);
      return gather(c.type, c.name, slice, batches);
    });
    yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: count, nullCount: 0, children }));
  }
}

/**
 * Each partition's new rows as one batch of the lake's schema, in the order they are written
 * (columnar/regroup.ts). Column after column: `columnsNamed` may read each from the spills,
 * and it is let go once regrouped. The partitions of `written` get each column as it is
 * regrouped instead (their files are written a column at a time) and no batch.
 */
async function regroupByPartition(
  columns: readonly LakeColumn[],
  schema: Schema,
  partitions: readonly (string | null)[],
  incoming: ReadonlyMap<string | null, Int32Array>,
  winners: RowRefs,
  sourceCount: number,
  columnsNamed: (names: readonly string[]) => Promise<ReadonlyMap<string, readonly (Data | undefined)[]>>,
  stats: GatherStats,
  written?: { partitions: ReadonlySet<string | null>; add(c: number, of: (partition: string | null) => Data): void },
): Promise<Map<string | null, SourceBatch>> {
  const groups = partitions.filter((p) => incoming.has(p));
  const refs = groups.map((p) => pick(winners, incoming.get(p)!));
  const plan = planRegroup(sourceCount, refs);
  const kept = groups.flatMap((p, k) => (written?.partitions.has(p) ? [] : [k]));
  const groupOf = new Map(groups.map((p, k) => [p, k]));
  const children: Data[][] = groups.map(() => []);
  for (const [c, column] of columns.entries()) {
    const sources = (await columnsNamed([column.name])).get(column.name)!;
    const out = regroupColumn(plan, column.type, sources, stats);
    written?.add(c, (p) => out[groupOf.get(p)!]!);
    for (const k of kept) children[k]!.push(out[k]!);
  }
  const type = new Struct(schema.fields);
  return new Map(kept.map((k) => [groups[k]!, { batch: new RecordBatch(schema, makeData({ type, length: refs[k]!.length, nullCount: 0, children: children[k]! })), dump: -1 }]));
}

/** A partition's `rows` in files of `rowsPerFile` rows at most: each file's first row and count. */
function fileRanges(rows: number, rowsPerFile: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  for (let start = 0; start < rows; start += rowsPerFile) out.push({ start, count: Math.min(rowsPerFile, rows - start) });
  return out;
}

/** The batch and first row when `refs` are consecutive rows of one batch. */
function singleRun(refs: RowRefs): { batch: number; row: number } | undefined {
  if (refs.length === 0) return undefined;
  const b = refs.batch[0]!;
  const r0 = refs.row[0]!;
  for (let i = 1; i < refs.length; i++) if (refs.batch[i] !== b || refs.row[i] !== r0 + i) return undefined;
  return { batch: b, row: r0 };
}

/** Average bytes of Arrow buffers per row, of `bytes` in all of the batches. */
function bytesPerRow(batches: readonly RecordBatch[], bytes: number): number {
  const rows = batches.reduce((n, b) => n + b.numRows, 0);
  return rows === 0 ? 256 : bytes / rows;
}

async function readLakeFile(target: Target, path: string, columns?: string[]): Promise<RecordBatch[]> {
  try {
    return readParquetBytes(await target.readBytes(path), columns).batches;
  } catch (err) {
    throw asHeaplakeError(err, 'STATE', { file: path });
  }
}

const halvesViews = new WeakMap<Data, Int32Array>();

/** Puts row r's 64-bit (or 32-bit) integer key into `out` as two int32 halves; false when null or not an integer. */
function int64Into(d: Data, r: number, out: LongSlot): boolean {
  if (!isValid(d, r)) return false;
  const v = d.values as ArrayBufferView;
  if (v instanceof BigInt64Array) {
    let view = halvesViews.get(d);
    if (!view) halvesViews.set(d, (view = new Int32Array(v.buffer, v.byteOffset, v.length * 2)));
    out.lo = view[r * 2]!;
    out.hi = view[r * 2 + 1]!;
    return true;
  }
  if (v instanceof Int32Array) {
    out.lo = v[r]!;
    out.hi = out.lo >> 31;
    return true;
  }
  return false;
}

function hasKeyIn(d: Data | undefined, index: KeyIndex): boolean {
  if (!d) return false;
  const slot: LongSlot = { lo: 0, hi: 0 };
  for (let r = 0; r < d.length; r++) if (int64Into(d, r, slot) && index.get(slot.lo, slot.hi) !== -1) return true;
  return false;
}
