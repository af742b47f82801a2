/**
 * Snappy raw-format decompression (github.com/google/snappy, format_description.txt).
 *
 * The work is done by `hysnappy` (hyparam, MIT, no dependencies): a small snappy decoder
 * compiled from C to WebAssembly. Its output is copied from the module's memory into the
 * reader's reused buffer. On the decode benchmark's blocks (82 MB) that takes ~61 ms, against
 * ~190 ms for the JavaScript decoder we had before and ~230 ms for the napi `snappy`
 * package, which allocates a fresh buffer per block (bench/README.md).
 *
 * What stays here is what a hostile file needs: the declared length is read and checked
 * against the caller's ceiling before any memory is grown, and every failure of the decoder
 * (a copy before the start of the output, an output longer or shorter than declared, input
 * that ends mid-element, a trap inside the module) becomes a typed AVRO_CODEC error. The
 * decoder works inside its own linear memory, so corrupt input cannot touch anything else.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { snappyUncompressor } from 'hysnappy';
import { AvroFormatError } from '../errors.js';

/** A reusable output buffer, grown on demand (one per reader). */
export interface Scratch {
  buf: Uint8Array;
}

function corrupt(message: string): AvroFormatError {
  return new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${message}`);
}

/** The uncompressed length declared by the preamble, and where the elements start. */
export function snappyLength(input: Uint8Array): { length: number; start: number } {
  let length = 0;
  let shift = 0;
  for (let i = 0; i < 5 && i < input.length; i++) {
    const b = input[i]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (length > 0xffffffff) break;
      return { length, start: i + 1 };
    }
    shift += 7;
  }
  throw corrupt('malformed length preamble');
}

/**
 * hysnappy's module, instantiated here so that its output can be copied into the reader's
 * reused buffer: its public function returns a fresh copy per block, and fresh memory is what
 * costs most on our machines (in a 1M-row conversion that copy took 3.4× as long as the
 * decompression itself). The module ships as base64 inside the package's one source file,
 * so it is read from there; the version is pinned, and if the file ever changes shape the
 * public function is used instead (test/snappy.test.ts checks which one runs).
 */
/** The few WebAssembly names used here (our TypeScript lib settings carry no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
  Global: abstract new (...args: never[]) => { value: unknown };
}

interface DirectModule {
  memory: WasmMemory;
  uncompress(input: number, inputLength: number, output: number): number;
  /** First byte past the module's own data and stack. */
  base: number;
}

function loadDirect(): DirectModule | undefined {
  try {
    const path = createRequire(import.meta.url).resolve('hysnappy/js/uncompress.js');
    const match = /const wasm64 = '([A-Za-z0-9+/=]+)'/.exec(readFileSync(path, 'utf8'));
    if (!match) return undefined;
    const { exports } = new Wasm.Instance(new Wasm.Module(Buffer.from(match[1]!, 'base64')));
    const { memory, uncompress, __heap_base: heapBase } = exports;
    if (!(memory instanceof Wasm.Memory) || typeof uncompress !== 'function') return undefined;
    const heap = heapBase instanceof Wasm.Global ? Number(heapBase.value) : 0;
    // hysnappy itself places input at 68,000 ("clang uses some wasm memory")
    return { memory, uncompress: uncompress as DirectModule['uncompress'], base: Math.max(68_000, align8(heap)) };
  } catch {
    return undefined;
  }
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** One instance per thread, made on first use. */
let direct: DirectModule | undefined | null = null;
let viaPublicApi: ((input: Uint8Array, outputLength: number) => Uint8Array) | undefined;

/** Which way blocks are decompressed in this thread (for the tests). */
export function snappyBackend(): 'direct' | 'public' {
  if (direct === null) direct = loadDirect();
  return direct ? 'direct' : 'public';
}

/**
 * Decompresses `input` into `scratch` (grown to fit) and returns the filled view: valid
 * until the next call with the same scratch.
 */
export function unsnappyInto(input: Uint8Array, scratch: Scratch, maxBytes: number): Uint8Array {
  const { length } = snappyLength(input);
  if (length > maxBytes) {
    throw new AvroFormatError('AVRO_LIMIT', `snappy block decompresses to ${length} bytes, over the limit of ${maxBytes} bytes`);
  }
  if (snappyBackend() === 'public') return viaPublic(input, length);
  const m = direct!;
  const inputAt = m.base;
  const outputAt = align8(inputAt + input.length);
  const need = outputAt + length;
  try {
    if (m.memory.buffer.byteLength < need) m.memory.grow(Math.ceil((need - m.memory.buffer.byteLength) / 65536));
    new Uint8Array(m.memory.buffer, inputAt, input.length).set(input);
    const status = m.uncompress(inputAt, input.length, outputAt);
    if (status !== 0) throw corrupt(STATUS[status] ?? `decoder status ${status}`);
  } catch (err) {
    if (err instanceof AvroFormatError) throw err;
    throw new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${(err as Error)?.message ?? String(err)}`, {}, { cause: err });
  }
  if (scratch.buf.length < length) scratch.buf = new Uint8Array(Math.max(length, Math.min(maxBytes, scratch.buf.length * 2)));
  scratch.buf.set(new Uint8Array(m.memory.buffer, outputAt, length));
  return scratch.buf.subarray(0, length);
}

/** hysnappy's status codes (its uncompress.c). */
const STATUS: Record<number, string> = {
  [-1]: 'invalid length preamble',
  [-2]: 'a copy reaches before the start of the output, or the output runs past its declared length',
  [-3]: 'the output is shorter than its declared length',
};

function viaPublic(input: Uint8Array, length: number): Uint8Array {
  viaPublicApi ??= snappyUncompressor();
  try {
    return viaPublicApi(input, length);
  } catch (err) {
    throw new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${(err as Error)?.message ?? String(err)}`, {}, { cause: err });
  }
}
