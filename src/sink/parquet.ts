/**
 * Arrow RecordBatches → Parquet bytes with parquet-wasm (the only module that imports it).
 *
 * Batches are streamed through `transformParquetStream`, one row group at a time, so wasm
 * memory stays bounded by the row group, not the file (parquet-wasm's wasm memory never
 * shrinks; see shared/docs/js-libraries.md §Q3). The Node entry of parquet-wasm (CommonJS)
 * loads its wasm synchronously, so it is required on first use: a conversion whose files all
 * go through heaplake's own writer never loads it (importing the package took 78.4 MiB of RSS
 * with it loaded, 67.2 without, 2026-12-07).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform, pipeline as streamPipeline } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type * as PW from 'parquet-wasm';
import { RecordBatch, RecordBatchStreamWriter, Table, tableFromIPC, tableToIPC, type Schema, Type, type Field, type DataType } from 'apache-arrow';
import { nearlyUniqueColumns } from './dictionary-choice.js';
import { columnLayouts } from './parquet-format.js';
import { CODEC_ID, pageCompressor } from './page-codecs.js';
import { writeParquetNative, type NativeWriteSettings } from './parquet-writer.js';
import { HeaplakeError, SinkError, UnsupportedError } from '../errors.js';
import { DEFAULT_PARQUET_COMPRESSION, DEFAULT_ROW_GROUP_ROWS, type ParquetCompression } from '../defaults.js';

/** A Parquet file as delivered: its size and SHA-256 (hex). */
export interface WrittenFile {
  readonly bytes: number;
  readonly sha256: string;
}

export interface ParquetWriteOptions {
  compression?: ParquetCompression;
  /** Most rows per row group. */
  rowGroupRows?: number;
  /** Key/value metadata stored in the Parquet footer (as one JSON object under the key `heaplake`). */
  metadata?: ReadonlyMap<string, string>;
  /**
   * Which encoder writes the file: heaplake's own (parquet-writer.ts, the default for flat
   * tables whose codec loads here) or parquet-wasm (every other table, or when asked).
   */
  writer?: ParquetWriter;
}

export type ParquetWriter = 'heaplake' | 'parquet-wasm';

/**
 * The writer a file of `schema` gets with `options`: heaplake's own unless it cannot write it.
 * HEAPLAKE_PARQUET_WRITER=parquet-wasm in the environment (inherited by worker processes) asks
 * for parquet-wasm everywhere: a switch for comparing the two writers in one conversion.
 */
export function chosenWriter(schema: Schema, options: ParquetWriteOptions = {}): ParquetWriter {
  if ((options.writer ?? process.env['HEAPLAKE_PARQUET_WRITER']) === 'parquet-wasm') return 'parquet-wasm';
  return columnLayouts(schema) && pageCompressor(options.compression ?? DEFAULT_PARQUET_COMPRESSION) ? 'heaplake' : 'parquet-wasm';
}

let loaded: typeof PW | undefined;

/** parquet-wasm, loaded on first use. */
function parquetWasm(): typeof PW {
  return (loaded ??= createRequire(import.meta.url)('parquet-wasm') as typeof PW);
}

function codec(compression: ParquetCompression): PW.Compression {
  const { Compression } = parquetWasm();
  const codecs: Record<ParquetCompression, PW.Compression> = {
    zstd: Compression.ZSTD,
    snappy: Compression.SNAPPY,
    gzip: Compression.GZIP,
    brotli: Compression.BROTLI,
    lz4: Compression.LZ4_RAW,
    none: Compression.UNCOMPRESSED,
  };
  return codecs[compression];
}

/** Throws UnsupportedError when a column has a type Parquet cannot store (Arrow unions). */
export function checkParquetCompatible(schema: Schema): void {
  const visit = (field: Field, path: string): void => {
    const type: DataType = field.type;
    if (type.typeId === Type.Union || type.typeId === Type.DenseUnion || type.typeId === Type.SparseUnion) {
      throw new UnsupportedError('UNSUPPORTED', `column "${path}" is an Avro union of several types; Parquet has no union type`, { field: path });
    }
    for (const child of type.children ?? []) visit(child, `${path}.${child.name}`);
  };
  for (const f of schema.fields) visit(f, f.name);
}

/** The footer's key/value metadata: one key, `heaplake`, holding all of `metadata` as JSON. */
function footerMetadata(options: ParquetWriteOptions): Map<string, string> {
  if (!options.metadata || options.metadata.size === 0) return new Map();
  const entries = [...options.metadata].sort(([a], [b]) => (a < b ? -1 : 1));
  return new Map([['heaplake', JSON.stringify(Object.fromEntries(entries))]]);
}

function writerProperties(options: ParquetWriteOptions, plainColumns: readonly string[]): PW.WriterProperties {
  let builder = new (parquetWasm().WriterPropertiesBuilder)()
    .setCompression(codec(options.compression ?? DEFAULT_PARQUET_COMPRESSION))
    .setMaxRowGroupSize(options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS)
    .setCreatedBy('heaplake');
  for (const name of plainColumns) builder = builder.setColumnDictionaryEnabled(name, false);
  // parquet-wasm keeps key/value metadata in a Rust HashMap, whose order is random per run:
  // several keys would make identical runs write different bytes. One key, JSON of them all,
  // keeps files byte-for-byte reproducible.
  const metadata = footerMetadata(options);
  if (metadata.size > 0) builder = builder.setKeyValueMetadata(metadata);
  return builder.build();
}

/** Converts one Arrow JS batch into parquet-wasm's representation (through Arrow IPC). */
function toWasmBatches(batch: RecordBatch): PW.RecordBatch[] {
  const table = parquetWasm().Table.fromIPCStream(ipcStream(batch)); // copies the bytes into wasm memory
  try {
    return table.recordBatches(); // reference-counted copies: the table itself must be freed
  } finally {
    table.free();
  }
}

let ipcScratch = new Uint8Array(0);

/**
 * One batch as an Arrow IPC stream, in a buffer reused from call to call (valid until the next
 * call). Arrow JS's writer hands its sink the batch's own buffers plus small headers; joining
 * them into memory that is already touched, instead of the fresh buffer `tableToIPC` makes
 * per batch, is what the path saves (on these VMs, touching new pages costs more than the copy).
 * The chunks are read from the writer's sink, a field Arrow does not document: if a later
 * version moves it, `tableToIPC` is used, and a test says which path runs.
 */
export function ipcStream(batch: RecordBatch): Uint8Array {
  const writer = RecordBatchStreamWriter.writeAll([batch]);
  const chunks = (writer as unknown as { _sink?: { _values?: unknown } })._sink?._values;
  if (!Array.isArray(chunks) || !chunks.every((c) => c instanceof Uint8Array)) return tableToIPC(new Table([batch]), 'stream');
  let size = 0;
  for (const c of chunks as Uint8Array[]) size += c.byteLength;
  if (ipcScratch.length < size) ipcScratch = new Uint8Array(Math.max(size, Math.floor(ipcScratch.length * 1.5)));
  let at = 0;
  for (const c of chunks as Uint8Array[]) {
    ipcScratch.set(c, at);
    at += c.byteLength;
  }
  return ipcScratch.subarray(0, size);
}

/**
 * What heaplake's own writer needs for a file of `schema` whose columns `plainColumns` skip the
 * dictionary; undefined when parquet-wasm writes such files (chosenWriter).
 */
export function nativeSettings(schema: Schema, options: ParquetWriteOptions, plainColumns: readonly string[]): NativeWriteSettings | undefined {
  if (chosenWriter(schema, options) !== 'heaplake') return undefined;
  const compression = options.compression ?? DEFAULT_PARQUET_COMPRESSION;
  return {
    layouts: columnLayouts(schema)!,
    compress: pageCompressor(compression)!,
    codec: CODEC_ID[compression],
    rowGroupRows: options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS,
    plainColumns: new Set(plainColumns),
    keyValues: footerMetadata(options),
    createdBy: 'heaplake',
  };
}

/** Streams batches into Parquet bytes (a Node Readable, for a file or an upload body). */
export async function encodeParquetStream(schema: Schema, batches: AsyncIterable<RecordBatch>, options: ParquetWriteOptions = {}): Promise<Readable> {
  checkParquetCompatible(schema);
  const iterator = batches[Symbol.asyncIterator]();
  // the first batch is read before the writer starts: its values choose the column encodings
  let first: IteratorResult<RecordBatch> | undefined = await iterator.next();
  const plainColumns = first.done ? [] : nearlyUniqueColumns(first.value);
  const native = nativeSettings(schema, options, plainColumns);
  if (native) {
    async function* all(): AsyncGenerator<RecordBatch> {
      if (first && !first.done) yield first.value;
      first = undefined;
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) yield step.value;
    }
    return Readable.from(writeParquetNative(schema, all(), native), { objectMode: false });
  }
  let wroteAny = false;
  const input = new ReadableStream<PW.RecordBatch>({
    async pull(controller) {
      try {
        const step = first ?? (await iterator.next());
        first = undefined;
        if (step.done) {
          // an empty input still makes a valid file with the schema
          if (!wroteAny) for (const b of toWasmBatches(new RecordBatch(schema))) controller.enqueue(b);
          controller.close();
          return;
        }
        wroteAny = true;
        if (step.value.numRows > 0) for (const b of toWasmBatches(step.value)) controller.enqueue(b);
      } catch (err) {
        controller.error(err);
      }
    },
  });
  const output = await parquetWasm().transformParquetStream(input, writerProperties(options, plainColumns));
  return Readable.fromWeb(output as import('node:stream/web').ReadableStream<Uint8Array>);
}

/**
 * Encodes batches as Parquet and hands the byte stream to `deliver` (a file, an upload), then
 * checks the outcome: parquet-wasm rewraps an error raised by its input and may even end the
 * file normally after one, so a file counts as complete only when every batch was consumed
 * without an error. `abandon` undoes a partial delivery (a temporary file, an upload). Errors
 * are HeaplakeErrors: the input's own, or a SinkError naming `name`.
 */
export async function deliverParquet(
  name: string,
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
  options: ParquetWriteOptions,
  deliver: (bytes: Readable) => Promise<void>,
  abandon: () => Promise<void>,
): Promise<WrittenFile> {
  let sourceError: unknown;
  let consumed = false;
  async function* watched(): AsyncGenerator<RecordBatch> {
    try {
      yield* batches;
      consumed = true;
    } catch (err) {
      sourceError = err;
      throw err;
    }
  }
  // the last bytes pass only if the input was read to its end without an error: a file or an
  // upload is never completed from a stream that stopped early
  const guard = new Transform({
    transform: (chunk, _encoding, done) => done(null, chunk),
    flush: (done) => done(sourceError !== undefined ? asError(sourceError) : consumed ? null : new Error('the Parquet writer stopped before the last batch')),
  });
  // what is delivered is counted and hashed on the way (the receipt and the state record both)
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform: (chunk: Buffer, _encoding, done) => {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await deliver(streamPipeline(await encodeParquetStream(schema, watched(), options), guard, measure, () => undefined));
    return { bytes: size, sha256: hash.digest('hex') };
  } catch (err) {
    await abandon();
    if (sourceError !== undefined) throw sourceError;
    if (err instanceof HeaplakeError) throw err; // bad input found while streaming: already typed
    const io = err instanceof Error && 'syscall' in err;
    throw new SinkError(io ? 'IO' : 'PARQUET', `cannot write ${name}: ${(err as Error).message ?? String(err)}`, { file: name }, { cause: err });
  }
}

/**
 * Writes batches to a Parquet file atomically: into a temporary file beside it, renamed into
 * place only when complete. On any failure nothing is left at `path`.
 */
export async function writeParquetFile(
  path: string,
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
  options: ParquetWriteOptions = {},
): Promise<WrittenFile> {
  const tmp = join(dirname(path), `.heaplake-tmp-${process.pid}-${randomBytes(6).toString('hex')}-${basename(path)}`);
  const written = await deliverParquet(
    path,
    schema,
    batches,
    options,
    (bytes) => pipeline(bytes, createWriteStream(tmp)),
    () => rm(tmp, { force: true }),
  );
  await rename(tmp, path);
  return written;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Reads a Parquet file (written by heaplake) back into Arrow RecordBatches: all columns, or `columns`. */
export function readParquetBytes(bytes: Uint8Array, columns?: string[]): Table {
  const wasmTable = parquetWasm().readParquet(bytes, { batchSize: 64 * 1024, ...(columns ? { columns } : {}) });
  return tableFromIPC(wasmTable.intoIPCStream()); // intoIPCStream consumes (frees) the wasm table
}
