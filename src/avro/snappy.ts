/**
 * Snappy raw-format decompression (github.com/google/snappy, format_description.txt).
 *
 * The work is done by `hysnappy` (hyparam, MIT, no dependencies): a small snappy decoder
 * compiled from C to WebAssembly. Its output is copied from the module's memory into the
 * reader's reused buffer. `npm run bench:snappy` (the decode benchmark's 82 MB of blocks)
 * measured 64–80 ms for that, run after run; hysnappy's public function and the napi
 * `snappy` package allocate per block and took 66–266 ms, depending on whether the process
 * happened to reuse freed memory. Our former JavaScript decoder (removed in 467e08c) took
 * ~190 ms in the same loop.
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

function corrupt(message: string, cause?: unknown): AvroFormatError {
  return new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${message}`, {}, cause === undefined ? undefined : { cause });
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

/** Decompresses a block whose declared length is `length` (already checked against the limit). */
type Backend = (input: Uint8Array, length: number, scratch: Scratch, maxBytes: number) => Uint8Array;

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** hysnappy's status codes (its uncompress.c). */
const STATUS: Record<number, string> = {
  [-1]: 'invalid length preamble',
  [-2]: 'a copy reaches before the start of the output, or the output runs past its declared length',
  [-3]: 'the output is shorter than its declared length',
};

/**
 * hysnappy's module, instantiated here so that its output can be copied into the reader's
 * reused buffer: its public function returns a fresh copy per block, and fresh memory is what
 * costs most on our machines (in a 1M-row conversion profile that copy took 3.4× as long as
 * the decompression itself). The module ships as base64 inside the package's one source
 * file, so it is read from there; the version is pinned, and if the file ever changes shape
 * the public function is used instead (test/snappy.test.ts checks which one runs).
 */
function directBackend(): Backend | undefined {
  let memory: WebAssembly.Memory;
  let uncompress: (input: number, inputLength: number, output: number) => number;
  let base: number;
  try {
    const path = createRequire(import.meta.url).resolve('hysnappy/js/uncompress.js');
    const match = /const wasm64 = '([A-Za-z0-9+/=]+)'/.exec(readFileSync(path, 'utf8'));
    if (!match) return undefined;
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(match[1]!, 'base64')));
    const heapBase = exports['__heap_base'];
    if (!(exports['memory'] instanceof WebAssembly.Memory) || typeof exports['uncompress'] !== 'function') return undefined;
    memory = exports['memory'];
    uncompress = exports['uncompress'] as typeof uncompress;
    // input goes past the module's own data and stack (hysnappy itself uses 68,000)
    base = Math.max(68_000, align8(heapBase instanceof WebAssembly.Global ? Number(heapBase.value) : 0));
  } catch {
    return undefined;
  }
  return (input, length, scratch, maxBytes) => {
    const outputAt = align8(base + input.length);
    const need = outputAt + length;
    let status: number;
    try {
      if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
      new Uint8Array(memory.buffer, base, input.length).set(input);
      status = uncompress(base, input.length, outputAt);
    } catch (err) {
      throw corrupt((err as Error)?.message ?? String(err), err); // a trap inside the module
    }
    if (status !== 0) throw corrupt(STATUS[status] ?? `decoder status ${status}`);
    if (scratch.buf.length < length) scratch.buf = new Uint8Array(Math.max(length, Math.min(maxBytes, scratch.buf.length * 2)));
    scratch.buf.set(new Uint8Array(memory.buffer, outputAt, length));
    return scratch.buf.subarray(0, length);
  };
}

/** hysnappy's public function: a new array per block, `scratch` unused. */
function publicBackend(): Backend {
  const decode = snappyUncompressor();
  return (input, length) => {
    try {
      return decode(input, length);
    } catch (err) {
      throw corrupt((err as Error)?.message ?? String(err), err);
    }
  };
}

/** This thread's backend, chosen on first use. */
let backend: { name: 'direct' | 'public'; run: Backend } | undefined;
function chosen(): { name: 'direct' | 'public'; run: Backend } {
  if (!backend) {
    const direct = directBackend();
    backend = direct ? { name: 'direct', run: direct } : { name: 'public', run: publicBackend() };
  }
  return backend;
}

/** Which way blocks are decompressed in this thread (for the tests). */
export function snappyBackend(): 'direct' | 'public' {
  return chosen().name;
}

/**
 * Decompresses `input` and returns the bytes: on the direct path a view of `scratch` (grown
 * to fit), valid until the next call with the same scratch.
 */
export function unsnappyInto(input: Uint8Array, scratch: Scratch, maxBytes: number): Uint8Array {
  const { length } = snappyLength(input);
  if (length > maxBytes) {
    throw new AvroFormatError('AVRO_LIMIT', `snappy block decompresses to ${length} bytes, over the limit of ${maxBytes} bytes`);
  }
  return chosen().run(input, length, scratch, maxBytes);
}
