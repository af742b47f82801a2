/**
 * Snappy decompression alone, on the decode benchmark's blocks: the way heaplake decodes them
 * (hysnappy's module, output copied into one reused buffer), hysnappy's public function (a
 * new array per block) and the napi `snappy` package (a new Buffer per block). One process,
 * contenders alternating pass after pass; every output's length is checked.
 *
 *   npm run bench:snappy [-- --rows 200000 --passes 7]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { snappyUncompressor } from 'hysnappy';
import { uncompressSync } from 'snappy';
import { BlockReader } from '../src/avro/block-reader.js';
import { snappyBackend, snappyLength, unsnappyInto } from '../src/avro/snappy.js';
import { decodeDataset } from './decode-data.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, passes: { type: 'string', default: '7' } } });
const file = readFileSync(await decodeDataset(Number(args.rows), 'snappy'));
const reader = new BlockReader();
reader.push(file);
reader.end();
// raw snappy data of every block (the Avro CRC32 trailer cut off), and its declared length
const blocks: { data: Uint8Array; length: number }[] = [];
for (let e = reader.next(); e; e = reader.next()) {
  if (e.kind !== 'block') continue;
  const data = e.block.data.slice(0, e.block.data.length - 4);
  blocks.push({ data, length: snappyLength(data).length });
}
const total = blocks.reduce((n, b) => n + b.length, 0);

const scratch = { buf: new Uint8Array(0) };
const hysnappyPublic = snappyUncompressor();
const contenders: Record<string, (b: { data: Uint8Array; length: number }) => number> = {
  [`heaplake (hysnappy ${snappyBackend()}, reused buffer)`]: (b) => unsnappyInto(b.data, scratch, 1 << 30).length,
  'hysnappy public function': (b) => hysnappyPublic(b.data, b.length).length,
  'napi snappy': (b) => (uncompressSync(b.data) as Buffer).length,
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let pass = 0; pass <= Number(args.passes); pass++) {
  for (const [name, fn] of Object.entries(contenders)) {
    const t0 = performance.now();
    let out = 0;
    for (const b of blocks) out += fn(b);
    const ms = performance.now() - t0;
    if (out !== total) throw new Error(`${name} produced ${out} bytes, expected ${total}: figure void`);
    if (pass > 0) times[name]!.push(ms); // pass 0 warms up
  }
}
console.log(`${blocks.length} blocks, ${(total / 1e6).toFixed(1)} MB decompressed; median of ${args.passes} passes (${process.version})`);
for (const [name, t] of Object.entries(times)) {
  const ms = [...t].sort((a, b) => a - b)[t.length >> 1]!;
  console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms  ${(total / 1e6 / (ms / 1000)).toFixed(0).padStart(5)} MB/s`);
}
