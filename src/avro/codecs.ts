/**
 * Block codecs (spec: "Required Codecs" null, deflate; "Optional Codecs" snappy, bzip2,
 * xz, zstandard). Each decompressor takes one block's bytes and a ceiling on the output
 * size (the decompression-bomb guard) and returns the decompressed bytes.
 *
 * Libraries: node:zlib (deflate, CRC32), our own snappy decoder (./snappy.ts: it writes into
 * a reused buffer, see there why), `fzstd` (pure JS; no zstd in Node 20's zlib), `seek-bzip`
 * (pure JS), `xz-decompress` (wasm). Errors carry no location: the
 * container reader adds file, block and offset.
 */
import zlib from 'node:zlib';
import * as fzstd from 'fzstd';
import { AvroFormatError } from '../errors.js';
import { unsnappyInto, type Scratch } from './snappy.js';
import { concatBytes } from '../bytes.js';

/**
 * Decompresses one block. `scratch` is the reader's reusable output buffer: a codec may
 * decompress into it, so the result is valid only until the next block of the same reader.
 */
export type Decompressor = (data: Uint8Array, maxBytes: number, scratch: Scratch) => Uint8Array | Promise<Uint8Array>;

export type { Scratch };

export const CODECS: Readonly<Record<string, Decompressor>> = Object.freeze({
  null: (data: Uint8Array, maxBytes: number) => {
    if (data.length > maxBytes) throw tooLarge(data.length, maxBytes);
    return data;
  },
  deflate: inflate,
  snappy: unsnappy,
  zstandard: unzstd,
  bzip2: unbzip2,
  xz: unxz,
});

/** The decompressor for a codec name; an unknown name is an error that names it. */
export function getDecompressor(codec: string): Decompressor {
  const fn = Object.hasOwn(CODECS, codec) ? CODECS[codec] : undefined;
  if (!fn) {
    throw new AvroFormatError(
      'AVRO_UNSUPPORTED_CODEC',
      `unsupported codec ${JSON.stringify(codec)} (supported: ${Object.keys(CODECS).join(', ')})`,
    );
  }
  return fn;
}

function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  let result: { buffer: Buffer; engine: zlib.InflateRaw };
  try {
    result = zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes), info: true }) as unknown as typeof result;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(undefined, maxBytes, 'deflate');
    throw new AvroFormatError('AVRO_CODEC', `deflate data is corrupt: ${e.message}`, {}, { cause: err });
  }
  // zlib stops at the end of the deflate stream; anything after it in the block is corruption
  const used = (result.engine as unknown as { bytesWritten: number }).bytesWritten;
  if (used !== data.length) {
    throw new AvroFormatError('AVRO_CODEC', `deflate stream ends after ${used} of the block's ${data.length} bytes`);
  }
  return new Uint8Array(result.buffer.buffer, result.buffer.byteOffset, result.buffer.length);
}

/** Avro snappy: raw snappy data followed by the big-endian CRC32 of the uncompressed bytes. */
function unsnappy(data: Uint8Array, maxBytes: number, scratch: Scratch): Uint8Array {
  if (data.length < 4) throw new AvroFormatError('AVRO_CODEC', `snappy block of ${data.length} bytes is too short to hold its CRC32`);
  const out = unsnappyInto(data.subarray(0, data.length - 4), scratch, maxBytes);
  const expected = ((data[data.length - 4]! << 24) | (data[data.length - 3]! << 16) | (data[data.length - 2]! << 8) | data[data.length - 1]!) >>> 0;
  const actual = zlib.crc32(out) >>> 0;
  if (actual !== expected) {
    throw new AvroFormatError('AVRO_CRC_MISMATCH', `snappy CRC32 mismatch: block says ${hex32(expected)}, data has ${hex32(actual)}`);
  }
  return out;
}

function unzstd(data: Uint8Array, maxBytes: number): Uint8Array {
  // fzstd allocates what the frame header declares, so check that first
  const declared = zstdDeclaredSize(data);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes, 'zstandard');
  let out: Uint8Array;
  try {
    out = fzstd.decompress(data);
  } catch (err) {
    throw new AvroFormatError('AVRO_CODEC', `zstandard data is corrupt: ${(err as Error).message}`, {}, { cause: err });
  }
  if (out.length > maxBytes) throw tooLarge(out.length, maxBytes, 'zstandard');
  return out;
}

/** The larger of a zstd frame's declared content size and window size (RFC 8878 §3.1.1.1). */
function zstdDeclaredSize(data: Uint8Array): number {
  if (data.length < 6) return 0; // fzstd reports the truncation
  const magic = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (magic !== 0xfd2fb528) return 0;
  const fhd = data[4]!;
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  let pos = 5;
  let window = 0;
  if (!singleSegment) {
    const wd = data[pos++]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  pos += dictBytes;
  const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
  let fcs = 0;
  for (let i = 0; i < fcsBytes && pos + i < data.length; i++) fcs += data[pos + i]! * 2 ** (8 * i);
  if (fcsBytes === 2) fcs += 256;
  return Math.max(fcs, window);
}

function unbzip2(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return import('seek-bzip').then((mod) => {
    const Bunzip = (mod.default ?? mod) as { decode(input: Buffer, output: unknown): unknown };
    const sink = new GrowingSink(maxBytes, 'bzip2');
    try {
      Bunzip.decode(Buffer.from(data.buffer, data.byteOffset, data.length), sink);
    } catch (err) {
      if (err instanceof AvroFormatError) throw err;
      throw new AvroFormatError('AVRO_CODEC', `bzip2 data is corrupt: ${(err as Error).message ?? String(err)}`, {}, { cause: err });
    }
    return sink.bytes();
  });
}

async function unxz(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  // a CommonJS package: its export sits on `default` when imported from compiled ESM
  type XzModule = { XzReadableStream: new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };
  const mod = (await import('xz-decompress')) as unknown as XzModule & { default?: XzModule };
  const XzReadableStream = mod.XzReadableStream ?? mod.default!.XzReadableStream;
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = new XzReadableStream(input).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw tooLarge(undefined, maxBytes, 'xz');
      }
      parts.push(value.slice());
    }
  } catch (err) {
    if (err instanceof AvroFormatError) throw err;
    throw new AvroFormatError('AVRO_CODEC', `xz data is corrupt: ${(err as Error).message ?? String(err)}`, {}, { cause: err });
  }
  return concatBytes(parts, total);
}

/** seek-bzip's byte-wise output interface, with the size ceiling enforced as it grows. */
class GrowingSink {
  private buf = new Uint8Array(64 * 1024);
  private pos = 0;
  constructor(
    private readonly max: number,
    private readonly codec: string,
  ) {}
  writeByte(b: number): void {
    if (this.pos === this.buf.length) {
      if (this.pos >= this.max) throw tooLarge(undefined, this.max, this.codec);
      const next = new Uint8Array(Math.min(this.max, this.buf.length * 2));
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.pos++] = b;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function tooLarge(size: number | undefined, max: number, codec = 'null'): AvroFormatError {
  const what = size === undefined ? 'more than' : `${size} bytes, over`;
  return new AvroFormatError('AVRO_LIMIT', `${codec} block decompresses to ${what} the limit of ${max} bytes`);
}

function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

