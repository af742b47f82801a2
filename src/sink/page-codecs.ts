/**
 * Compression of Parquet pages for heaplake's own writer (parquet-writer.ts): each codec takes a
 * page body (a view of the encoder's memory, valid until the next page) and returns bytes of
 * its own. zstd is the optional native package `zstd-napi` (the zstd library itself, level 1:
 * parquet-rs's default level, so files compare with parquet-wasm's); gzip and brotli are
 * node:zlib; snappy is the `snappy` package when it is installed. A codec that cannot be loaded
 * here is `undefined`, and the file is written by parquet-wasm instead (parquet.ts).
 */
import { createRequire } from 'node:module';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { ParquetCompression } from '../defaults.js';

/** parquet-format's CompressionCodec. */
export const CODEC_ID: Record<ParquetCompression, number> = { none: 0, snappy: 1, gzip: 2, brotli: 4, lz4: 7, zstd: 6 };

export type PageCompressor = (body: Uint8Array) => Uint8Array;

const require = createRequire(import.meta.url);
const loaded = new Map<ParquetCompression, PageCompressor | undefined>();

/** The compressor for `codec`, or undefined when this process cannot load one. */
export function pageCompressor(codec: ParquetCompression): PageCompressor | undefined {
  if (!loaded.has(codec)) loaded.set(codec, load(codec));
  return loaded.get(codec);
}

function load(codec: ParquetCompression): PageCompressor | undefined {
  try {
    switch (codec) {
      case 'none':
        return (body) => body.slice();
      case 'gzip':
        return (body) => gzipSync(body, { level: 6 });
      case 'brotli':
        return (body) => brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
      case 'snappy': {
        const { compressSync } = require('snappy') as { compressSync: (b: Uint8Array) => Buffer };
        return (body) => compressSync(body);
      }
      case 'zstd':
        return zstd();
      case 'lz4':
        return undefined; // LZ4_RAW: no maintained block compressor here; parquet-wasm writes it
    }
  } catch {
    return undefined; // an optional native package that did not install
  }
}

interface ZstdBinding {
  CCtx: new () => { setParameter(p: number, v: number): void; compress2(dst: Uint8Array, src: Uint8Array): number };
  CParameter: { compressionLevel: number };
  compressBound(n: number): number;
}

/** zstd level 1 through one reused context and output buffer: the page's bytes are copied once, out. */
function zstd(): PageCompressor {
  const binding = require('zstd-napi/binding') as ZstdBinding;
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, 1);
  let out = new Uint8Array(0);
  return (body) => {
    const bound = binding.compressBound(body.length);
    if (out.length < bound) out = new Uint8Array(Math.max(bound, out.length * 2));
    const n = cctx.compress2(out, body);
    return out.slice(0, n);
  };
}
