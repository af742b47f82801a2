/**
 * The ways of turning a Heap export into Parquet that `npm run bench` compares (see
 * bench/README.md). Each takes the export folder and an empty output folder and converts every
 * table's Avro files; bench/run-contender.ts runs one in a fresh process and reports its time
 * and peak memory. Peers come from bench/peers/ (npm run bench:install), never from the root
 * package: `npm ci` for the tests stays lean.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import avro from 'avsc';
import { Bool, Field, Float64, Int32, Int64, RecordBatch, Schema, Struct, Utf8, makeBuilder, makeData, type Builder, type DataType } from 'apache-arrow';
import { BlockReader } from '../src/avro/block-reader.js';
import { getDecompressor } from '../src/avro/codecs.js';
import { writeParquetFile } from '../src/sink/parquet.js';
import { AVSC_DECOMPRESSORS, BigLong } from '../scripts/avsc-writer.js';

/** The project folder: this module runs from bench/ (tsx) or compiled, from bench/.build/bench/. */
const ROOT = projectRoot(import.meta.dirname);

function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'heaplake') return dir;
    if (dirname(dir) === dir) throw new Error(`no heaplake package.json above ${from}`);
  }
}
const peers = createRequire(join(ROOT, 'bench', 'peers', 'package.json'));

export interface ContenderResult {
  /** Rows the contender says it wrote (the suite checks them against the Parquet it reads back). */
  readonly rows: number;
  /** Rows it decoded (floors write nothing). */
  readonly rowsRead: number;
}

export interface Contender {
  readonly name: string;
  readonly description: string;
  /** Writes Parquet (false: a floor that only reads). */
  readonly writes: boolean;
  /** De-duplicates on the key as heaplake does (the expected row count differs). */
  readonly dedupes: boolean;
  /** Environment the process needs (e.g. a thread count). */
  readonly env?: Record<string, string>;
  /**
   * CPUs the process is pinned to (`taskset -c`, Linux). A thread count of one is not one core:
   * heaplake in one process keeps ~1.5 cores busy (V8's collector and compiler threads, libuv's
   * file I/O), so the `-1cpu` contenders pin everything to CPU 0 to measure one core.
   */
  readonly cpus?: string;
  /**
   * The work runs in a process the harness (run-contender) starts: its memory is that
   * process's tree, without the harness itself, which only waits (69 MiB of RSS at 1M rows).
   */
  readonly spawnsWork?: boolean;
  run(input: string, output: string): Promise<ContenderResult>;
}

/** Every table's Avro files, in dump order (what a plain converter walks). */
export function avroFiles(input: string): { table: string; path: string }[] {
  const dumps = readdirSync(input)
    .filter((d) => /^sync_\d+$/.test(d))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return dumps.flatMap((d) =>
    readdirSync(join(input, d))
      .filter((t) => statSync(join(input, d, t)).isDirectory())
      .sort()
      .flatMap((t) =>
        readdirSync(join(input, d, t))
          .filter((f) => f.endsWith('.avro'))
          .sort()
          .map((f) => ({ table: t, path: join(input, d, t, f) })),
      ),
  );
}

const outputName = (output: string, f: { table: string; path: string }) => {
  mkdirSync(join(output, f.table), { recursive: true });
  return join(output, f.table, `${f.path.split('/').slice(-3, -2)[0]}-${f.path.split('/').pop()!.replace(/\.avro$/, '')}.parquet`);
};

const heaplake = (name: string, description: string, options: { workers: number; parallelDecompression?: boolean; maxTaskBytes?: number }, env?: Record<string, string>, cpus?: string): Contender => ({
  name,
  description,
  writes: true,
  dedupes: true,
  ...(env ? { env } : {}),
  ...(cpus ? { cpus } : {}),
  async run(input, output) {
    // the built package, as users run it (its worker processes are plain JavaScript too)
    const { convert } = (await import(join(ROOT, 'dist', 'index.js'))) as typeof import('../src/index.js');
    const report = await convert({
      source: input,
      target: output,
      workers: options.workers,
      ...(options.parallelDecompression === undefined ? {} : { parallelDecompression: options.parallelDecompression }),
      ...(options.maxTaskBytes === undefined ? {} : { maxTaskBytes: options.maxTaskBytes }),
    });
    return { rows: report.tables.reduce((n, t) => n + t.rowsOut, 0), rowsRead: report.tables.reduce((n, t) => n + t.rowsIn, 0) };
  },
});

/** avsc's BlockDecoder over a file, with exact 64-bit longs (avsc's default long throws above 2^53). */
function avscRecords(path: string, onSchema?: (schema: avro.Schema) => void): AsyncIterable<Record<string, unknown>> {
  const decoder = createReadStream(path).pipe(
    new avro.streams.BlockDecoder({ codecs: AVSC_DECOMPRESSORS as never, parseHook: (schema: unknown) => avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } as never }) } as never),
  );
  if (onSchema) decoder.on('metadata', (type: avro.Type) => onSchema(type.schema() as avro.Schema));
  return decoder as unknown as AsyncIterable<Record<string, unknown>>;
}

/** A file's writer fields (known once avsc has read its header) and its records. */
async function avscFile(path: string): Promise<{ fields: AvroField[]; records: AsyncIterable<Record<string, unknown>> }> {
  let fields: AvroField[] = [];
  const iterator = avscRecords(path, (s) => (fields = (s as unknown as { fields: AvroField[] }).fields))[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* records(): AsyncGenerator<Record<string, unknown>> {
    for (let r = first; !r.done; r = await iterator.next()) yield r.value;
  }
  return { fields, records: records() };
}

interface AvroField {
  name: string;
  type: unknown;
}

/** The Arrow type of a (nullable) primitive Avro field. */
function arrowType(type: unknown): DataType {
  const t = Array.isArray(type) ? type.find((b) => b !== 'null') : type;
  const name = typeof t === 'object' && t !== null ? (t as { type: string }).type : (t as string);
  switch (name) {
    case 'long':
      return new Int64();
    case 'int':
      return new Int32();
    case 'boolean':
      return new Bool();
    case 'double':
      return new Float64();
    default:
      return new Utf8();
  }
}

const avscArrowParquetWasm: Contender = {
  name: 'avsc-arrow-parquetwasm',
  description: 'avsc decodes records; apache-arrow builders make RecordBatches; parquet-wasm writes them (the naive Arrow way)',
  writes: true,
  dedupes: false,
  async run(input, output) {
    let rows = 0;
    for (const f of avroFiles(input)) {
      const { fields, records } = await avscFile(f.path);
      const schema = new Schema(fields.map((x) => new Field(x.name, arrowType(x.type), true)));
      const isLong = schema.fields.map((x) => x.type instanceof Int64);
      async function* batches(): AsyncGenerator<RecordBatch> {
        let builders: Builder[] = schema.fields.map((x) => makeBuilder({ type: x.type, nullValues: [null, undefined] }));
        let n = 0;
        const flush = () => {
          const children = builders.map((b) => b.finish().flush());
          const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }));
          builders = schema.fields.map((x) => makeBuilder({ type: x.type, nullValues: [null, undefined] }));
          n = 0;
          return batch;
        };
        for await (const rec of records) {
          for (let i = 0; i < fields.length; i++) {
            const v = rec[fields[i]!.name];
            // avsc gives logical-type longs (timestamps) as numbers; Arrow's Int64 wants BigInts
            builders[i]!.append(isLong[i] && typeof v === 'number' ? BigInt(v) : v);
          }
          rows++;
          if (++n === 65536) yield flush();
        }
        if (n > 0) yield flush();
      }
      await writeParquetFile(outputName(output, f), schema, batches(), { compression: 'zstd' });
    }
    return { rows, rowsRead: rows };
  },
};

const avscParquetjs: Contender = {
  name: 'avsc-parquetjs',
  description: 'avsc decodes records; @dsnp/parquetjs writes them row by row (the typical JS way)',
  writes: true,
  dedupes: false,
  async run(input, output) {
    const parquet = peers('@dsnp/parquetjs') as {
      ParquetSchema: new (fields: unknown) => unknown;
      ParquetWriter: { openFile(schema: unknown, path: string): Promise<{ appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void> }> };
    };
    let rows = 0;
    for (const f of avroFiles(input)) {
      const { fields, records } = await avscFile(f.path);
      const typeOf = (type: unknown) => {
        const t = arrowType(type);
        return t instanceof Int64 ? 'INT64' : t instanceof Int32 ? 'INT32' : t instanceof Bool ? 'BOOLEAN' : t instanceof Float64 ? 'DOUBLE' : 'UTF8';
      };
      const schema = new parquet.ParquetSchema(Object.fromEntries(fields.map((x) => [x.name, { type: typeOf(x.type), optional: Array.isArray(x.type), compression: 'SNAPPY' }])));
      const writer = await parquet.ParquetWriter.openFile(schema, outputName(output, f));
      for await (const rec of records) {
        const row: Record<string, unknown> = {};
        for (const x of fields) if (rec[x.name] !== null) row[x.name] = rec[x.name];
        await writer.appendRow(row);
        rows++;
      }
      await writer.close();
    }
    return { rows, rowsRead: rows };
  },
};

const polars = (name: string, threads: number | undefined, cpus?: string): Contender => ({
  name,
  description: `nodejs-polars readAvro → writeParquet per file (native Rust reader${threads ? `, POLARS_MAX_THREADS=${threads}` : ', all cores'}${cpus ? `, pinned to CPU ${cpus}` : ''})`,
  writes: true,
  dedupes: false,
  ...(threads ? { env: { POLARS_MAX_THREADS: String(threads) } } : {}),
  ...(cpus ? { cpus } : {}),
  async run(input, output) {
    const pl = peers('nodejs-polars') as { readAvro(path: string): { height: number; writeParquet(path: string, options: { compression: string }): void } };
    let rows = 0;
    for (const f of avroFiles(input)) {
      const df = pl.readAvro(f.path);
      df.writeParquet(outputName(output, f), { compression: 'zstd' });
      rows += df.height;
    }
    return { rows, rowsRead: rows };
  },
});

const floorRead: Contender = {
  name: 'floor-read',
  description: 'read every byte of every file (no decompression)',
  writes: false,
  dedupes: false,
  async run(input) {
    for (const f of avroFiles(input)) for await (const c of createReadStream(f.path, { highWaterMark: 1 << 20 })) void c;
    return { rows: 0, rowsRead: 0 };
  },
};

const floorDecompress: Contender = {
  name: 'floor-decompress',
  description: 'read, frame and decompress every block (heaplake’s reader, no record decoding)',
  writes: false,
  dedupes: false,
  async run(input) {
    let rows = 0;
    for (const f of avroFiles(input)) {
      const reader = new BlockReader();
      let decompress: ReturnType<typeof getDecompressor> | undefined;
      const scratch = { buf: new Uint8Array(0) };
      const drain = async () => {
        for (let e = reader.next(); e; e = reader.next()) {
          if (e.kind === 'header') decompress = getDecompressor(e.header.codec);
          else {
            await decompress!(e.block.data, 1 << 30, scratch);
            rows += e.block.count;
          }
        }
      };
      for await (const c of createReadStream(f.path, { highWaterMark: 1 << 20 })) {
        reader.push(c as Buffer);
        await drain();
      }
      reader.end();
      await drain();
    }
    return { rows: 0, rowsRead: rows };
  },
};

const floorAvsc: Contender = {
  name: 'floor-avsc-decode',
  description: 'avsc BlockDecoder over every file, records decoded and dropped (exact longs)',
  writes: false,
  dedupes: false,
  async run(input) {
    let rows = 0;
    for (const f of avroFiles(input)) for await (const r of avscRecords(f.path)) rows += r ? 1 : 0;
    return { rows: 0, rowsRead: rows };
  },
};

const cli: Contender = {
  name: 'heaplake-cli',
  description: 'the heaplake command line (convert, default options: workers = cores)',
  writes: true,
  spawnsWork: true,
  dedupes: true,
  async run(input, output) {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'convert', '--source', input, '--target', output, '--report', join(output, '..', `${output.split('/').pop()}.report.json`), '--quiet'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`heaplake convert failed: ${r.stderr}`);
    const report = JSON.parse(readFileSync(join(output, '..', `${output.split('/').pop()}.report.json`), 'utf8')) as { tables: { rowsIn: number; rowsOut: number }[] };
    return { rows: report.tables.reduce((n, t) => n + t.rowsOut, 0), rowsRead: report.tables.reduce((n, t) => n + t.rowsIn, 0) };
  },
};

export const CONTENDERS: readonly Contender[] = [
  heaplake('heaplake', `heaplake library, convert() with workers = cores (${availableParallelism()}: this process and ${availableParallelism() - 1} worker process(es))`, { workers: availableParallelism() }),
  heaplake('heaplake-1core', 'heaplake library on one core: one process, no decompression thread', { workers: 1, parallelDecompression: false }),
  heaplake('heaplake-1cpu', 'heaplake-1core pinned to CPU 0 (taskset): its helper threads share the one core', { workers: 1, parallelDecompression: false }, undefined, '0'),
  heaplake('heaplake-1core-parquetwasm', 'heaplake on one core with every file written by parquet-wasm (HEAPLAKE_PARQUET_WRITER=parquet-wasm), the writer before 2026-12-05', { workers: 1, parallelDecompression: false }, { HEAPLAKE_PARQUET_WRITER: 'parquet-wasm' }),
  heaplake('heaplake-1core-whole', 'heaplake on one core with tables never split into key buckets (one task per table: memory grows with the table)', {
    workers: 1,
    parallelDecompression: false,
    maxTaskBytes: Number.MAX_SAFE_INTEGER,
  }),
  cli,
  polars('polars', undefined),
  polars('polars-1core', 1),
  polars('polars-1cpu', 1, '0'),
  avscArrowParquetWasm,
  avscParquetjs,
  floorRead,
  floorDecompress,
  floorAvsc,
];
