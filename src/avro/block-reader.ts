/**
 * Resumable block framing for object container files: accepts the file in chunks of any
 * size (S3 bodies arrive in pieces) and yields the header, then each block's raw
 * (still compressed) bytes, checking every sync marker.
 *
 * State machine: header → block header (count, size) → block data + sync → block header …
 * Input is kept as a list of chunks and copied once per block, so a large block fed in small
 * chunks costs O(block), not O(block × chunks). No declared size is trusted for allocation:
 * bytes are only copied once they have arrived, and every size is checked against the
 * configured limits (and the file size, when known) as soon as it is read.
 */
import { AvroFormatError, type ErrorContext } from '../errors.js';
import { DEFAULT_LIMITS, type ReadLimits } from '../defaults.js';
import { MAGIC, SYNC_SIZE, checkMagic, parseHeader, type AvroHeader } from './header.js';
import { INCOMPLETE, MALFORMED, longToNumber, readLongInto, type LongSlot } from './varint.js';

export interface RawBlock {
  /** Zero-based block index. */
  readonly index: number;
  /** Number of records the block declares. */
  readonly count: number;
  /**
   * The block's bytes as written (compressed with the file's codec). A view into the input or
   * into the reader's scratch buffer: valid until the next call of `next()`; copy to keep.
   */
  readonly data: Uint8Array;
  /** File offset where the block starts (its count varint). */
  readonly offset: number;
  /** File offset where the block's data starts. */
  readonly dataOffset: number;
}

export type ContainerEvent = { kind: 'header'; header: AvroHeader } | { kind: 'block'; block: RawBlock };

export interface BlockReaderOptions {
  /** Name used in errors (path or S3 key). */
  file?: string;
  limits?: Partial<ReadLimits>;
  /** Total size of the file when known (lets a lying size fail before waiting for bytes). */
  totalBytes?: number;
}

type State = 'header' | 'blockHeader' | 'blockData' | 'done';

export class BlockReader {
  private readonly queue = new ChunkQueue();
  private readonly limits: ReadLimits;
  private readonly file: string | undefined;
  private readonly totalBytes: number | undefined;
  private readonly slot: LongSlot = { lo: 0, hi: 0 };
  private state: State = 'header';
  private header: AvroHeader | undefined;
  private headerNeed = MAGIC.length;
  private blockIndex = 0;
  private blockCount = 0;
  private blockSize = 0;
  private blockOffset = 0;
  private ended = false;

  constructor(options: BlockReaderOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.file = options.file;
    this.totalBytes = options.totalBytes;
  }

  /** Adds the next piece of the file. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('BlockReader.push after end()');
    if (chunk.length > 0) this.queue.push(chunk);
  }

  /** Marks the end of input; `next()` then reports anything left incomplete. */
  end(): void {
    this.ended = true;
  }

  /**
   * The next header or block, or undefined when more input is needed (or, after `end()`,
   * when the file is complete). Throws AvroFormatError on malformed or incomplete input.
   */
  next(): ContainerEvent | undefined {
    for (;;) {
      switch (this.state) {
        case 'header': {
          if (this.queue.available < this.headerNeed) {
            if (this.queue.available > 0) checkMagic(this.queue.peek(Math.min(this.queue.available, MAGIC.length)));
            if (this.ended) this.failTruncatedHeader();
            return undefined;
          }
          // parse a bounded prefix (not everything buffered): usually the whole header fits in 64 KiB
          const prefix = Math.min(this.queue.available, Math.max(this.headerNeed, 64 * 1024));
          const result = this.guard(() => parseHeader(this.queue.peek(prefix), this.limits));
          if ('needBytes' in result) {
            this.headerNeed = result.needBytes;
            if (this.totalBytes !== undefined && result.needBytes > this.totalBytes) this.failTruncatedHeader();
            continue;
          }
          this.header = result.header;
          this.queue.skip(result.header.byteLength);
          this.state = 'blockHeader';
          return { kind: 'header', header: result.header };
        }
        case 'blockHeader': {
          if (this.queue.available === 0) {
            if (this.ended) this.state = 'done';
            return undefined;
          }
          if (!this.readBlockHeader()) {
            if (this.ended) this.failIncompleteBlockHeader();
            return undefined;
          }
          this.state = 'blockData';
          continue;
        }
        case 'blockData': {
          const need = this.blockSize + SYNC_SIZE;
          if (this.queue.available < need) {
            if (this.ended) {
              throw this.error('AVRO_TRUNCATED', `truncated block: ${this.blockSize} data bytes and a ${SYNC_SIZE}-byte sync marker declared, only ${this.queue.available} bytes remain`, this.blockOffset);
            }
            return undefined;
          }
          const dataOffset = this.queue.consumed;
          const data = this.queue.take(this.blockSize, true);
          const syncOffset = this.queue.consumed;
          const sync = this.queue.peek(SYNC_SIZE);
          if (!equalBytes(sync, this.header!.sync)) {
            throw this.error('AVRO_SYNC_MISMATCH', `sync marker mismatch after block ${this.blockIndex} at offset ${syncOffset} (data corruption, a wrong block size, or concatenated Avro files)`, syncOffset);
          }
          this.queue.skip(SYNC_SIZE);
          const block: RawBlock = { index: this.blockIndex, count: this.blockCount, data, offset: this.blockOffset, dataOffset };
          this.blockIndex++;
          this.state = 'blockHeader';
          return { kind: 'block', block };
        }
        case 'done':
          return undefined;
      }
    }
  }

  /** Number of blocks framed so far. */
  get blocksRead(): number {
    return this.blockIndex;
  }

  /** Reads count and size; false when the bytes for them have not all arrived. */
  private readBlockHeader(): boolean {
    const start = this.queue.consumed;
    const head = this.queue.peek(Math.min(this.queue.available, 20));
    if (head.length >= 4 && equalBytes(head.subarray(0, 4), MAGIC)) {
      throw this.error('AVRO_BAD_BLOCK', `another Avro header starts at offset ${start}: concatenated container files are not one valid file`, start);
    }
    const afterCount = readLongInto(head, 0, head.length, this.slot);
    if (afterCount === INCOMPLETE) return false;
    if (afterCount === MALFORMED) throw this.error('AVRO_BAD_BLOCK', 'malformed varint in block count', start);
    // the count is checked as soon as it is read, before waiting for the size
    const count = longToNumber(this.slot.lo, this.slot.hi);
    if (this.slot.hi < 0) throw this.error('AVRO_BAD_BLOCK', `negative block count ${bigText(this.slot.lo, this.slot.hi)}`, start);
    if (Number.isNaN(count) || count > this.limits.maxBlockRecords) {
      throw this.error('AVRO_LIMIT', `block count ${bigText(this.slot.lo, this.slot.hi)} exceeds the limit of ${this.limits.maxBlockRecords} records`, start);
    }
    const afterSize = readLongInto(head, afterCount, head.length, this.slot);
    if (afterSize === INCOMPLETE) return false;
    if (afterSize === MALFORMED) throw this.error('AVRO_BAD_BLOCK', 'malformed varint in block size', start + afterCount);
    const size = longToNumber(this.slot.lo, this.slot.hi);
    if (this.slot.hi < 0) throw this.error('AVRO_BAD_BLOCK', `negative block size ${bigText(this.slot.lo, this.slot.hi)}`, start);
    if (Number.isNaN(size) || size > this.limits.maxBlockBytes) {
      throw this.error('AVRO_LIMIT', `block size ${bigText(this.slot.lo, this.slot.hi)} exceeds the limit of ${this.limits.maxBlockBytes} bytes`, start);
    }
    if (count === 0 && size > 0) throw this.error('AVRO_BAD_BLOCK', `block declares 0 records but ${size} data bytes`, start);
    const remaining = this.totalBytes === undefined ? undefined : this.totalBytes - start - afterSize;
    if (remaining !== undefined && size + SYNC_SIZE > remaining) {
      throw this.error('AVRO_TRUNCATED', `block size ${size} plus its sync marker exceeds the ${remaining} bytes that remain in the file`, start);
    }
    this.queue.skip(afterSize);
    this.blockOffset = start;
    this.blockCount = count;
    this.blockSize = size;
    return true;
  }

  private failTruncatedHeader(): never {
    if (this.queue.available === 0) throw new AvroFormatError('AVRO_BAD_MAGIC', 'not an Avro object container file: empty file', this.ctx(0));
    throw this.error('AVRO_TRUNCATED', `truncated header: the file ends after ${this.queue.available} bytes`, this.queue.available);
  }

  private failIncompleteBlockHeader(): never {
    const at = this.queue.consumed;
    throw this.error(
      'AVRO_TRAILING_DATA',
      `trailing data at offset ${at}: ${this.queue.available} bytes after the last sync marker do not form a block header (truncated file or garbage)`,
      at,
    );
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AvroFormatError) throw err.withContext(this.ctx());
      throw err;
    }
  }

  private ctx(offset?: number): ErrorContext {
    const c: ErrorContext = {};
    if (this.file !== undefined) c.file = this.file;
    if (this.state === 'blockData' || this.state === 'blockHeader') c.block = this.blockIndex;
    if (offset !== undefined) c.offset = offset;
    return c;
  }

  private error(code: 'AVRO_TRUNCATED' | 'AVRO_TRAILING_DATA' | 'AVRO_SYNC_MISMATCH' | 'AVRO_BAD_BLOCK' | 'AVRO_LIMIT', message: string, offset: number): AvroFormatError {
    return new AvroFormatError(code, message, this.ctx(offset));
  }
}

/** A FIFO of byte chunks with cheap peeks; copies only when a read spans chunks. */
class ChunkQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // read position inside chunks[0]
  available = 0;
  /** Bytes consumed so far: the file offset of the next unread byte. */
  consumed = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** Reused for blocks that span chunks (freshly allocated memory is slow to touch; see bench/README.md). */
  private scratch = new Uint8Array(0);

  /**
   * The next n bytes (n ≤ available), as a view when they sit in one chunk; otherwise copied,
   * into the reusable scratch buffer when `reuse` is set (valid until the next reuse).
   */
  peek(n: number, reuse = false): Uint8Array {
    const first = this.chunks[0];
    if (n === 0 || !first) return new Uint8Array(0);
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    if (reuse && this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    const out = reuse ? this.scratch.subarray(0, n) : new Uint8Array(n);
    let filled = 0;
    let pos = this.head;
    for (const c of this.chunks) {
      const take = Math.min(c.length - pos, n - filled);
      out.set(c.subarray(pos, pos + take), filled);
      filled += take;
      pos = 0;
      if (filled === n) break;
    }
    return out;
  }

  take(n: number, reuse = false): Uint8Array {
    const out = this.peek(n, reuse);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.available -= n;
    this.consumed += n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bigText(lo: number, hi: number): string {
  return ((BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString();
}
