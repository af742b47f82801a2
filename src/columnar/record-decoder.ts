/**
 * Decodes blocks of records into bounded Arrow RecordBatches, on the WebAssembly kernel when
 * the schema is flat (flat-kernel.ts) and with the generated JavaScript otherwise (compile.ts).
 *
 * Batches are cut at `maxRows` rows or `maxBytes` bytes of decoded block data, whichever
 * comes first: a batch may span blocks and a block may yield several batches. Every block
 * must be consumed exactly: bytes left over after its declared records are an error, as is
 * a record that runs past its end. Strings are validated as UTF-8 after each slice of rows.
 */
import { isUtf8 } from 'node:buffer';
import { RecordBatch, Struct, makeData, type Schema } from 'apache-arrow';
import { AvroFormatError } from '../errors.js';
import { DEFAULT_BATCH, DEFAULT_LIMITS, type BatchBounds, type ReadLimits } from '../defaults.js';
import { parseSchema, type AvroSchema } from '../avro/schema.js';
import { planColumns } from './arrow-mapping.js';
import { compileSchema, type CompiledSchema, type DecoderInstance } from './compile.js';
import { FlatKernel, kernelSupports } from './flat-kernel.js';

/** Rows decoded per call of the generated function, so the byte bound is checked often. */
const SLICE_ROWS = 8192;

const cache = new Map<string, CompiledSchema>();
const CACHE_SIZE = 64;

/** The compiled decoder for a writer schema, cached by its JSON text. */
export function compileWriterSchema(schemaJson: string, limits: Partial<ReadLimits> = {}): { avro: AvroSchema; compiled: CompiledSchema } {
  const maxDepth = limits.maxSchemaDepth ?? DEFAULT_LIMITS.maxSchemaDepth;
  const key = `${maxDepth}\u0000${schemaJson}`;
  let compiled = cache.get(key);
  const avro = parseSchema(schemaJson, { maxDepth });
  if (!compiled) {
    compiled = compileSchema(planColumns(avro));
    if (cache.size >= CACHE_SIZE) {
      const oldest = cache.keys().next().value!;
      const evicted = cache.get(oldest)!;
      dropKernels(evicted); // its pooled kernels go with it, and out of the byte count
      cached.delete(evicted);
      cache.delete(oldest);
    }
    cache.set(key, compiled);
    cached.add(compiled);
  }
  return { avro, compiled };
}

/** Which decoder runs: the WebAssembly kernel when the schema is flat (`auto`), or always the generated JavaScript. */
export type DecoderEngine = 'auto' | 'js';

/**
 * Released kernels per compiled schema: their memory is already grown and touched. A kernel's
 * memory never shrinks, so the pool is bounded in bytes over all schemas (an export may have
 * hundreds of event tables, each its own schema).
 */
const POOLED_KERNEL_BYTES = 128 * 1024 * 1024;
const kernels = new WeakMap<CompiledSchema, FlatKernel[]>();
/** The schemas in the cache: a kernel released after its schema left the cache is not pooled. */
const cached = new WeakSet<CompiledSchema>();
let pooledBytes = 0;

function takeKernel(compiled: CompiledSchema): FlatKernel {
  const kernel = kernels.get(compiled)?.pop();
  if (!kernel) return new FlatKernel(compiled.plan);
  pooledBytes -= kernel.memoryBytes;
  return kernel;
}

function dropKernels(compiled: CompiledSchema): void {
  for (const kernel of kernels.get(compiled) ?? []) pooledBytes -= kernel.memoryBytes;
  kernels.delete(compiled);
}

/** Bytes of kernel memory held in the pools (for tests: bounded whatever the number of schemas). */
export function pooledKernelBytes(): number {
  return pooledBytes;
}

function returnKernel(compiled: CompiledSchema, kernel: FlatKernel): void {
  if (!cached.has(compiled)) return;
  const pool = kernels.get(compiled) ?? [];
  if (pool.length >= 4 || pooledBytes + kernel.memoryBytes > POOLED_KERNEL_BYTES) return;
  pool.push(kernel);
  pooledBytes += kernel.memoryBytes;
  kernels.set(compiled, pool);
}

export class RecordDecoder {
  readonly schema: Schema;
  /** The engine decoding the rows (the JavaScript decoder also names the errors the kernel only detects). */
  readonly engine: 'wasm' | 'js';
  private readonly compiled: CompiledSchema;
  private readonly maxItems: number;
  private instance: DecoderInstance | undefined;
  private readonly kernel: FlatKernel | undefined;
  private released = false;
  private readonly bounds: BatchBounds;
  private readonly minRecordBytes: number;
  private readonly structType: Struct;
  private rows = 0;
  private bytes = 0;

  constructor(compiled: CompiledSchema, options: { batch?: Partial<BatchBounds>; limits?: Partial<ReadLimits>; engine?: DecoderEngine } = {}) {
    this.schema = compiled.plan.schema;
    this.minRecordBytes = compiled.plan.minRecordBytes;
    this.bounds = { ...DEFAULT_BATCH, ...options.batch };
    if (!(this.bounds.maxRows >= 1) || !(this.bounds.maxBytes >= 1)) throw new RangeError('batch bounds must be at least 1');
    this.compiled = compiled;
    this.maxItems = options.limits?.maxCollectionItems ?? DEFAULT_LIMITS.maxCollectionItems;
    if ((options.engine ?? 'auto') === 'auto' && kernelSupports(compiled.plan)) {
      this.kernel = takeKernel(compiled);
      this.engine = 'wasm';
    } else {
      this.instance = compiled.acquire(this.maxItems);
      this.engine = 'js';
    }
    this.structType = new Struct(this.schema.fields);
  }

  /** Rows decoded but not yet handed out. */
  get pendingRows(): number {
    return this.rows;
  }

  /**
   * Decodes one decompressed block of `count` records; returns the batches it completed.
   * Errors carry the record index and the offset inside the block; the caller adds file and block.
   */
  decodeBlock(block: Uint8Array, count: number): RecordBatch[] {
    // one element kind at the generated code's `buf[...]` sites (a Node Buffer is another map)
    const data = block.constructor === Uint8Array ? block : new Uint8Array(block.buffer, block.byteOffset, block.length);
    const end = data.length;
    if (count * this.minRecordBytes > end) {
      throw new AvroFormatError(
        'AVRO_BLOCK_OVERRUN',
        `block declares ${count} records of at least ${this.minRecordBytes} bytes each, but holds ${end} bytes`,
        { blockOffset: 0 },
      );
    }
    const out: RecordBatch[] = [];
    this.kernel?.load(data);
    let pos = 0;
    let done = 0;
    while (done < count) {
      // rows that fit the batch's remaining row and byte budgets (bytes per row estimated from the block)
      const room = this.bounds.maxRows - this.rows;
      const byteRoom = Math.max(1, Math.floor((this.bounds.maxBytes - this.bytes) / Math.max(1, end / count)));
      const k = Math.min(count - done, room, byteRoom, SLICE_ROWS);
      const start = pos;
      try {
        pos = this.kernel ? this.decodeOnKernel(this.kernel, data, pos, end, k, done) : this.decodeOnJs(this.instance!, data, pos, end, k, done, this.rows);
      } catch (err) {
        // the failed rows are half written (validity bits, values): never hand the engine back
        this.released = true;
        throw err;
      }
      done += k;
      this.rows += k;
      this.bytes += pos - start;
      if (this.rows >= this.bounds.maxRows || this.bytes >= this.bounds.maxBytes) out.push(this.flushBatch());
    }
    if (pos !== end) {
      throw new AvroFormatError('AVRO_BLOCK_UNREAD', `block has ${end - pos} unread bytes after its ${count} records`, { blockOffset: pos });
    }
    return out;
  }

  /** The rows decoded so far as a batch, or undefined when there are none. */
  flush(): RecordBatch | undefined {
    return this.rows > 0 ? this.flushBatch() : undefined;
  }

  /**
   * Hands the builders (or the kernel) back for the next reader of this schema. Call after the
   * last flush; after an error they hold partial rows and are dropped, whether or not this is called.
   */
  close(): void {
    if (this.released || this.rows > 0) return;
    this.released = true;
    if (this.instance) this.compiled.release(this.instance);
    if (this.kernel) returnKernel(this.compiled, this.kernel);
  }

  /** Decodes `k` rows with the generated JavaScript into `instance`, whose builders hold `base` rows. */
  private decodeOnJs(instance: DecoderInstance, data: Uint8Array, pos: number, end: number, k: number, done: number, base: number): number {
    const { decode, perRow, perRowVar, utf8 } = instance;
    for (const c of perRow) c.reserve(k);
    for (const v of perRowVar) v.reserveData(end - pos);
    const marks = utf8.map((u) => u.column.n);
    const next = decode(data, pos, end, k, done, base);
    for (let i = 0; i < utf8.length; i++) checkUtf8(utf8[i]!.column, marks[i]!, utf8[i]!.path, utf8[i]!.perRow ? done : undefined);
    return next;
  }

  /**
   * Decodes `k` rows on the kernel. When it finds them invalid, the JavaScript decoder decodes
   * the same rows into builders of its own to throw the error with its field and offset.
   */
  private decodeOnKernel(kernel: FlatKernel, data: Uint8Array, pos: number, end: number, k: number, done: number): number {
    const from = kernel.rows;
    const next = kernel.decode(pos, k);
    if (next < 0) {
      this.decodeOnJs(this.compiled.acquire(this.maxItems), data, pos, end, k, done, 0);
      throw new Error(`the WebAssembly decoder rejected records ${done}..${done + k - 1} of a block that the JavaScript decoder accepts`);
    }
    for (const s of kernel.strings()) checkUtf8(s, from, s.path, done);
    return next;
  }

  private flushBatch(): RecordBatch {
    const length = this.rows;
    const children = this.kernel ? this.kernel.finish() : this.instance!.roots.map((c) => c.finish());
    this.rows = 0;
    this.bytes = 0;
    return new RecordBatch(this.schema, makeData({ type: this.structType, length, nullCount: 0, children }));
  }
}

/**
 * Validates the strings appended since value `from`. The whole range is checked at once
 * (native `isUtf8`); valid UTF-8 whose every value starts on a character boundary splits
 * into valid values, so the per-value work is one byte test — which the kernel has already
 * done when it gives `midChar`.
 */
function checkUtf8(
  col: { data: Uint8Array; off: Int32Array; n: number; dn: number; midChar?: boolean },
  from: number,
  path: string,
  firstRecord: number | undefined,
): void {
  const startByte = col.off[from]!;
  const endByte = col.dn;
  if (endByte === startByte) return;
  const { data, off } = col;
  let ok = isUtf8(data.subarray(startByte, endByte));
  if (ok && col.midChar !== undefined) ok = !col.midChar;
  else if (ok) {
    for (let i = from + 1; i < col.n; i++) {
      const o = off[i]!;
      if (o < endByte && (data[o]! & 0xc0) === 0x80) {
        ok = false;
        break;
      }
    }
  }
  if (ok) return;
  for (let i = from; i < col.n; i++) {
    if (!isUtf8(data.subarray(off[i]!, off[i + 1]!))) {
      const context: { field: string; record?: number } = { field: path };
      if (firstRecord !== undefined) context.record = firstRecord + (i - from);
      throw new AvroFormatError('AVRO_INVALID_UTF8', 'string is not valid UTF-8', context);
    }
  }
}
