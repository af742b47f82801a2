/**
 * Writes Avro container files with avsc: the independent encoder for fixtures, tests and
 * benchmark data (heaplake's own code never writes Avro). Longs are BigInt, so values beyond
 * 2^53 round-trip exactly (avsc's default long would refuse them).
 */
import avro from 'avsc';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { compressSync, uncompressSync } from 'snappy';

/** avsc's long, as BigInt (mtth/avsc#159: the default loses precision above 2^53). */
export const BigLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** An avsc Type with BigInt longs (for `"long"` written as a plain string). */
export function avscType(schema: unknown, wrapUnions = false): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } as never, wrapUnions });
}

type CodecFn = (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => void;

/** Compressors for every Avro codec (xz and bzip2 through the system tools, for fixtures only). */
export const COMPRESSORS: Record<string, CodecFn> = {
  null: (buf, cb) => cb(null, buf),
  deflate: (buf, cb) => cb(null, zlib.deflateRawSync(buf)),
  snappy: (buf, cb) => {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(buf) >>> 0);
    cb(null, Buffer.concat([compressSync(buf), crc]));
  },
  xz: (buf, cb) => cb(null, execFileSync('xz', ['--format=xz', '-c'], { input: buf })),
  bzip2: (buf, cb) => cb(null, execFileSync('bzip2', ['-c'], { input: buf })),
  zstandard: (buf, cb) => cb(null, execFileSync('zstd', ['-q', '-c'], { input: buf })),
};

export interface WriteOptions {
  codec?: string;
  /** Uncompressed bytes per block (avsc's blockSize). */
  blockSize?: number;
  /** A fixed 16-byte sync marker, for reproducible files. */
  syncMarker?: Buffer;
  /** Union values given as { branchName: value } (needed when branches are ambiguous). */
  wrapUnions?: boolean;
}

/** Encodes records into one Avro container file (the schema JSON is written as given). */
export function writeAvro(schema: unknown, records: Iterable<unknown>, options: WriteOptions = {}): Promise<Buffer> {
  const codec = options.codec ?? 'null';
  const type = avscType(schema, options.wrapUnions ?? false);
  const encoder = new avro.streams.BlockEncoder(schema as avro.Schema, {
    codec,
    codecs: { [codec]: COMPRESSORS[codec]! } as never,
    blockSize: options.blockSize ?? 64 * 1024,
    syncMarker: options.syncMarker ?? Buffer.from('heaplake-fixture'),
    writeHeader: 'always', // a file with no rows still has its header
  } as never);
  (encoder as unknown as { _type: avro.Type })._type = type;
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('error', reject);
    encoder.on('end', () => resolve(Buffer.concat(chunks)));
    for (const r of records) encoder.write(r);
    encoder.end();
  });
}

/** Decompressors for avsc's BlockDecoder (its defaults are only null and deflate). */
export const AVSC_DECOMPRESSORS = {
  null: (b: Buffer, cb: (e: Error | null, o?: Buffer) => void) => cb(null, b),
  deflate: (b: Buffer, cb: (e: Error | null, o?: Buffer) => void) => zlib.inflateRaw(b, cb),
  snappy: (b: Buffer, cb: (e: Error | null, o?: Buffer) => void) => cb(null, uncompressSync(b.subarray(0, b.length - 4)) as Buffer),
};

/** Decodes a whole container file with avsc (BigInt longs): the independent oracle's reader. */
export function avscDecodeFile(bytes: Buffer, options: { wrapUnions?: boolean } = {}): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, unknown>[] = [];
    const decoder = new avro.streams.BlockDecoder({
      parseHook: (schema: unknown) => avscType(schema, options.wrapUnions ?? false),
      codecs: AVSC_DECOMPRESSORS,
    } as never);
    decoder.on('data', (r: Record<string, unknown>) => rows.push({ ...r }));
    decoder.on('end', () => resolve(rows));
    decoder.on('error', reject);
    decoder.end(bytes);
  });
}
