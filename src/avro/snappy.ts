/**
 * Snappy raw-format decompression (github.com/google/snappy, format_description.txt).
 *
 * The work is done by `hysnappy` (hyparam, MIT, no dependencies): a small snappy decoder
 * compiled from C to WebAssembly. It decompresses the benchmark's blocks 2.5× faster than
 * the JavaScript decoder we had before (190 → 75 ms for 82 MB, `scratch`-free figures in
 * bench/README.md), and faster than the napi `snappy` package, which allocates per block.
 *
 * What stays here is what a hostile file needs: the declared length is read and checked
 * against the caller's ceiling before any memory is grown, and every failure of the decoder
 * (a copy before the start of the output, an output longer or shorter than declared, input
 * that ends mid-element, a trap inside the module) becomes a typed AVRO_CODEC error. The
 * decoder works inside its own linear memory, so corrupt input cannot touch anything else.
 */
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

/** One WebAssembly instance per thread, made on first use. */
let decoder: ((input: Uint8Array, outputLength: number) => Uint8Array) | undefined;

/**
 * Decompresses `input` and returns the bytes: a new array of exactly the declared length.
 * `scratch` is not used (the module decodes in its own memory); it stays in the signature
 * that every codec shares.
 */
export function unsnappyInto(input: Uint8Array, _scratch: Scratch, maxBytes: number): Uint8Array {
  const { length } = snappyLength(input);
  if (length > maxBytes) {
    throw new AvroFormatError('AVRO_LIMIT', `snappy block decompresses to ${length} bytes, over the limit of ${maxBytes} bytes`);
  }
  decoder ??= snappyUncompressor();
  try {
    return decoder(input, length);
  } catch (err) {
    // hysnappy: "invalid snappy length header", "missing eof marker" (a bad copy or an
    // output longer than declared), "premature end of input" (shorter), or a wasm trap
    throw new AvroFormatError('AVRO_CODEC', `snappy data is corrupt: ${(err as Error)?.message ?? String(err)}`, {}, { cause: err });
  }
}
