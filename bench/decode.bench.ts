/**
 * Decode benchmark: Heap-like Avro → Arrow RecordBatches (heaplake) against avsc decoding the
 * same files, in the same run, alternating so machine drift hits every contender alike.
 *
 *   npm run bench:decode [-- --rows 200000 --runs 5]
 *
 * Contenders (all exact on 64-bit ids: avsc uses a BigInt long type, since its default long
 * throws on ids above 2^53):
 *   heaplake        framing + decompression + columnar decode into RecordBatches (defaults:
 *                   one thread, the WebAssembly kernel for these flat records)
 *   heaplake-2threads the same with blocks decompressed on a second thread (parallelDecompression)
 *   heaplake-js     one thread, rows decoded by the generated JavaScript decoder instead of the
 *                   WebAssembly kernel (the engine for schemas that are not flat)
 *   avsc-loop       our framing + decompression, then avsc `type.decode` per record (avsc's fastest path)
 *   avsc-stream     avsc's own BlockDecoder stream (what most JS code does)
 *   floor-inflate   framing + decompression only (the floor under every contender)
 * Each measurement runs in a fresh child process (one cold pass, then `--passes` timed passes;
 * the child reports their median), and the parent alternates contenders run after run, so
 * every contender starts from the same clean heap and none inherits another's garbage.
 * Results go to bench/results/decode-<date>.{json,md}.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import avro from 'avsc';
import { openAvro } from '../src/columnar/read-avro.js';
import { BlockReader } from '../src/avro/block-reader.js';
import { getDecompressor } from '../src/avro/codecs.js';
import { AVSC_DECOMPRESSORS, BigLong } from '../scripts/avsc-writer.js';
import { decodeDataset } from './decode-data.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
    passes: { type: 'string', default: '5' },
    // internal: measure one contender on one codec in this process and print JSON
    child: { type: 'string' },
    codec: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const PASSES = Number(args.passes);
const root = join(import.meta.dirname, '..');

type Contender = (file: Buffer) => Promise<number>;

const chunksOf = (file: Buffer, size = 1 << 20): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < file.length; i += size) out.push(file.subarray(i, i + size));
  return out;
};

/** Framing + decompression, the shared floor. Calls `each` with every decompressed block. */
async function blocks(file: Buffer, each: (data: Uint8Array, count: number, header: { schemaJson: string }) => void): Promise<void> {
  const reader = new BlockReader();
  for (const c of chunksOf(file)) reader.push(c);
  reader.end();
  let header: { schemaJson: string; codec: string } | undefined;
  let decompress: ReturnType<typeof getDecompressor> | undefined;
  const scratch = { buf: new Uint8Array(0) };
  for (let e = reader.next(); e; e = reader.next()) {
    if (e.kind === 'header') {
      header = e.header;
      decompress = getDecompressor(e.header.codec);
    } else {
      each(await decompress!(e.block.data, 1 << 30, scratch), e.block.count, header!);
    }
  }
}

const heaplake = (parallelDecompression: boolean, engine: 'auto' | 'js' = 'auto'): Contender => async (file) => {
  const reader = await openAvro(chunksOf(file), { parallelDecompression, engine });
  let rows = 0;
  for await (const b of reader.batches()) rows += b.numRows;
  return rows;
};

const contenders: Record<string, Contender> = {
  heaplake: heaplake(false),
  'heaplake-2threads': heaplake(true),
  'heaplake-js': heaplake(false, 'js'),
  'avsc-loop': async (file) => {
    let rows = 0;
    let type: avro.Type | undefined;
    await blocks(file, (data, count, header) => {
      type ??= avro.Type.forSchema(JSON.parse(header.schemaJson), { registry: { long: BigLong } as never });
      const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
      let pos = 0;
      for (let i = 0; i < count; i++) {
        const r = type.decode(buf, pos);
        pos = r.offset;
        rows++;
      }
    });
    return rows;
  },
  'avsc-stream': (file) =>
    new Promise((resolve, reject) => {
      let rows = 0;
      const decoder = new avro.streams.BlockDecoder({
        parseHook: (schema: unknown) => avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } as never }),
        codecs: AVSC_DECOMPRESSORS,
      } as never);
      decoder.on('data', () => rows++);
      decoder.on('end', () => resolve(rows));
      decoder.on('error', reject);
      for (const c of chunksOf(file)) decoder.write(c);
      decoder.end();
    }),
  'floor-inflate': async (file) => {
    let rows = 0;
    await blocks(file, (_data, count) => {
      rows += count;
    });
    return rows;
  },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Child mode: one cold pass, then PASSES timed passes; prints { cold, seconds } (median). */
async function measureHere(name: string, codec: string): Promise<void> {
  const fn = contenders[name];
  if (!fn) throw new Error(`unknown contender ${name}`);
  const file = readFileSync(await decodeDataset(ROWS, codec));
  const times: number[] = [];
  let cold = 0;
  for (let pass = 0; pass <= PASSES; pass++) {
    const t0 = performance.now();
    const rows = await fn(file);
    const s = (performance.now() - t0) / 1000;
    if (rows !== ROWS) throw new Error(`${name} decoded ${rows} rows, expected ${ROWS}: figure void`);
    if (pass === 0) cold = s;
    else times.push(s);
  }
  process.stdout.write(JSON.stringify({ cold, seconds: median(times) }) + '\n');
}

/** Runs one measurement in a fresh process. */
function measureInChild(name: string, codec: string): { cold: number; seconds: number } {
  const res = spawnSync(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, '--child', name, '--codec', codec, '--rows', String(ROWS), '--passes', String(PASSES)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (res.status !== 0) throw new Error(`${name} on ${codec} failed (exit ${res.status})`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as { cold: number; seconds: number };
}

if (args.child) {
  await measureHere(args.child, args.codec ?? 'snappy');
  process.exit(0);
}

interface Row {
  codec: string;
  contender: string;
  seconds: number;
  coldSeconds: number;
  rowsPerSecond: number;
  inputMBps: number;
  vsAvscLoop: number;
  vsAvscStream: number;
}

const results: Row[] = [];
for (const codec of ['snappy', 'null']) {
  // the parent needs only the size; each child reads the file itself
  const fileBytes = statSync(await decodeDataset(ROWS, codec)).size;
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  const colds: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  // alternate contenders run after run, each run a fresh process
  for (let run = 0; run < RUNS; run++) {
    for (const name of Object.keys(contenders)) {
      const m = measureInChild(name, codec);
      times[name]!.push(m.seconds);
      colds[name]!.push(m.cold);
    }
  }
  const cold = Object.fromEntries(Object.entries(colds).map(([k, v]) => [k, median(v)]));
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  for (const name of Object.keys(contenders)) {
    const seconds = med[name]!;
    results.push({
      codec,
      contender: name,
      seconds,
      coldSeconds: cold[name]!,
      rowsPerSecond: ROWS / seconds,
      inputMBps: fileBytes / 1e6 / seconds,
      vsAvscLoop: med['avsc-loop']! / seconds,
      vsAvscStream: med['avsc-stream']! / seconds,
    });
  }
}

const date = new Date().toISOString().slice(0, 10);
const env = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', date: new Date().toISOString(), rows: ROWS, runs: RUNS, passes: PASSES };
const table = [
  `# Decode benchmark (${date})`,
  '',
  `${ROWS} Heap-like pageview rows (35 columns: 3 longs above 2^53, a time string, 28 nullable strings, nullable int/boolean/double), 256 KiB blocks.`,
  `Node ${env.node}, ${env.cpus} CPUs (${env.cpu}). Each run is a fresh process per contender (one cold pass, then the median of ${PASSES} passes); the table gives the median over ${RUNS} alternating runs, and the cold pass's median apart. Command: \`npm run bench:decode -- --rows ${ROWS} --runs ${RUNS} --passes ${PASSES}\`.`,
  '',
  '| codec | contender | median s | cold s | rows/s | input MB/s | × avsc-loop | × avsc-stream |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.codec} | ${r.contender} | ${r.seconds.toFixed(3)} | ${r.coldSeconds.toFixed(3)} | ${Math.round(r.rowsPerSecond).toLocaleString('en-US')} | ${r.inputMBps.toFixed(1)} | ${r.vsAvscLoop.toFixed(2)} | ${r.vsAvscStream.toFixed(2)} |`,
  ),
].join('\n');
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `decode-${date}.json`), JSON.stringify({ env, results }, null, 2) + '\n');
writeFileSync(join(root, 'bench', 'results', `decode-${date}.md`), table + '\n');
console.log(table);
