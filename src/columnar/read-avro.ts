/**
 * Reads an Avro object container file, given as chunks of bytes from any source, into Arrow
 * RecordBatches: framing (avro/block-reader) → decompression (avro/codecs) → columnar
 * decoding (record-decoder). Errors name the file, the block, the byte offset and, inside a
 * block, the record and field.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { RecordBatch, Schema } from 'apache-arrow';
import { HeaplakeError, asHeaplakeError, type ErrorContext } from '../errors.js';
import { DEFAULT_LIMITS, type BatchBounds, type ReadLimits } from '../defaults.js';
import { BlockReader, type RawBlock } from '../avro/block-reader.js';
import { getDecompressor, type Decompressor, type Scratch } from '../avro/codecs.js';
import { decompressOnWorker, parallelDecompressionAvailable, type Decompressed } from '../avro/decompress-pool.js';
import type { AvroHeader } from '../avro/header.js';
import type { AvroSchema } from '../avro/schema.js';
import { RecordDecoder, compileWriterSchema, type DecoderEngine } from './record-decoder.js';

export type ByteChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface AvroReadOptions {
  /** Name used in errors: a path or an S3 key. */
  file?: string;
  /** The file's size when known: declared sizes beyond it fail at once. */
  totalBytes?: number;
  limits?: Partial<ReadLimits>;
  batch?: Partial<BatchBounds>;
  /**
   * Decompress blocks on a second thread when the machine has more than one core (default false:
   * since the WebAssembly kernel, handing blocks between threads costs more than it saves — the
   * 200k-row snappy decode benchmark took 0.263 and 0.304 s with the thread against 0.204 and
   * 0.219 s without, in two runs of `npm run bench:decode` on 2026-11-28).
   */
  parallelDecompression?: boolean;
  /** `auto` (default): the WebAssembly kernel for flat schemas, else the generated JavaScript; `js`: always the latter. */
  engine?: DecoderEngine;
}

export interface AvroFileStats {
  blocks: number;
  records: number;
  /** Bytes of block data as stored (after the header, without counts, sizes and sync markers). */
  compressedBytes: number;
  decompressedBytes: number;
}

export interface DecompressedBlock {
  /** The block's framing; its `data` (the compressed bytes) may already be reused: use `data` below. */
  readonly block: RawBlock;
  /** The decompressed bytes, valid until the next block is requested. */
  readonly data: Uint8Array;
}

export interface AvroReader {
  readonly header: AvroHeader;
  readonly avroSchema: AvroSchema;
  /** The Arrow schema every batch has. */
  readonly schema: Schema;
  /** Counts so far (complete once iteration has finished). */
  readonly stats: AvroFileStats;
  /** What decodes the records: the WebAssembly kernel (flat schemas) or the generated JavaScript. */
  readonly engine: 'wasm' | 'js';
  /** The decoded batches. Iterate once, and only one of `batches()` / `blocks()`. */
  batches(): AsyncGenerator<RecordBatch>;
  /** The decompressed blocks, without decoding the records (each valid until the next one is requested). */
  blocks(): AsyncGenerator<DecompressedBlock>;
  /** Stops reading (closes the input) when the rest is not needed, e.g. after the header. */
  close(): Promise<void>;
}

/** Reads up to the header and returns a reader for the rest. */
export async function openAvro(chunks: ByteChunks, options: AvroReadOptions = {}): Promise<AvroReader> {
  const limits: ReadLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const where: ErrorContext = options.file === undefined ? {} : { file: options.file };
  const framer = new BlockReader({
    ...(options.file === undefined ? {} : { file: options.file }),
    ...(options.totalBytes === undefined ? {} : { totalBytes: options.totalBytes }),
    limits,
  });
  const input = (Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]()) as
    | AsyncIterator<Uint8Array>
    | Iterator<Uint8Array>;

  /** The next framing event, pulling input as needed. */
  const nextEvent = async () => {
    for (;;) {
      const event = framer.next();
      if (event) return event;
      if (framerDone) return undefined;
      let step: IteratorResult<Uint8Array>;
      try {
        step = await input.next();
      } catch (err) {
        throw asHeaplakeError(err, 'SOURCE_IO', where);
      }
      if (step.done) {
        framer.end();
        framerDone = true;
      } else {
        framer.push(step.value);
      }
    }
  };
  let framerDone = false;

  const first = await nextEvent();
  if (!first || first.kind !== 'header') throw new Error('block reader yielded no header'); // the framer throws first
  const header = first.header;
  let decompress: Decompressor;
  let avroSchema: AvroSchema;
  let decoder: RecordDecoder;
  try {
    decompress = getDecompressor(header.codec);
    const { avro, compiled } = compileWriterSchema(header.schemaJson, limits);
    avroSchema = avro;
    decoder = new RecordDecoder(compiled, { limits, ...(options.batch ? { batch: options.batch } : {}), ...(options.engine ? { engine: options.engine } : {}) });
  } catch (err) {
    throw asHeaplakeError(err, 'AVRO_SCHEMA', where);
  }
  const stats: AvroFileStats = { blocks: 0, records: 0, compressedBytes: 0, decompressedBytes: 0 };
  const scratch: Scratch = { buf: new Uint8Array(0) };
  let started = false;

  // decompress on a second thread while this one decodes (the worker keeps the block order)
  const parallel = (options.parallelDecompression ?? false) && header.codec !== 'null' && parallelDecompressionAvailable();

  async function* blocks(): AsyncGenerator<DecompressedBlock> {
    if (started) throw new Error('an AvroReader can be iterated only once');
    started = true;
    const queue: { block: RawBlock; compressed: number; result: Promise<Decompressed> }[] = [];
    let inputDone = false;
    let previous: Decompressed | undefined;
    for (;;) {
      previous?.release(); // the consumer is done with the block yielded last
      previous = undefined;
      // keep a few blocks in flight; block.data is valid only until the next framing event
      while (!inputDone && queue.length < (parallel ? 3 : 1)) {
        const event = await nextEvent();
        if (!event) {
          inputDone = true;
          break;
        }
        if (event.kind !== 'block') continue;
        const { block } = event;
        let result: Promise<Decompressed>;
        if (parallel) {
          result = decompressOnWorker(header.codec, block.data, limits.maxDecompressedBlockBytes);
        } else {
          try {
            result = Promise.resolve({ data: await decompress(block.data, limits.maxDecompressedBlockBytes, scratch), release() {} });
          } catch (err) {
            result = Promise.reject(err);
          }
        }
        result.catch(() => undefined); // handled when the block's turn comes
        queue.push({ block, compressed: block.data.length, result });
      }
      const next = queue.shift();
      if (!next) return;
      let data: Uint8Array;
      try {
        previous = await next.result;
        data = previous.data;
      } catch (err) {
        throw locate(err, next.block, where, 'AVRO_CODEC');
      }
      stats.blocks++;
      stats.records += next.block.count;
      stats.compressedBytes += next.compressed;
      stats.decompressedBytes += data.length;
      yield { block: next.block, data };
    }
  }

  async function* batches(): AsyncGenerator<RecordBatch> {
    for await (const { block, data } of blocks()) {
      let out: RecordBatch[];
      try {
        out = decoder.decodeBlock(data, block.count);
      } catch (err) {
        throw locate(err, block, where, 'AVRO_BAD_VALUE');
      }
      yield* out;
    }
    const last = decoder.flush();
    decoder.close();
    if (last) yield last;
  }

  const close = async () => {
    await input.return?.();
  };
  return { header, avroSchema, schema: decoder.schema, stats, engine: decoder.engine, batches, blocks, close };
}

/** Opens a local file (streamed in 1 MiB chunks). */
export async function openAvroFile(path: string, options: Omit<AvroReadOptions, 'file' | 'totalBytes'> = {}): Promise<AvroReader> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw asHeaplakeError(err, 'SOURCE_IO', { file: path });
  }
  return openAvro(createReadStream(path, { highWaterMark: 1024 * 1024 }), { ...options, file: path, totalBytes: size });
}

/** Every batch of a file, in order (convenience for small files and tests). */
export async function readAvroBatches(chunks: ByteChunks, options: AvroReadOptions = {}): Promise<{ schema: Schema; batches: RecordBatch[]; reader: AvroReader }> {
  const reader = await openAvro(chunks, options);
  const batches: RecordBatch[] = [];
  for await (const b of reader.batches()) batches.push(b);
  return { schema: reader.schema, batches, reader };
}

function locate(err: unknown, block: RawBlock, where: ErrorContext, fallback: 'AVRO_CODEC' | 'AVRO_BAD_VALUE'): HeaplakeError {
  if (!(err instanceof HeaplakeError) && !(err instanceof RangeError)) throw err; // a bug: let it surface as is
  return asHeaplakeError(err, fallback === 'AVRO_CODEC' ? 'AVRO_CODEC' : 'AVRO_LIMIT', { ...where, block: block.index, offset: block.dataOffset });
}
