// Decodes hostile inputs (made here) in a process whose heap is capped by the caller
// (node --max-old-space-size=…); prints one line per input: its name and the outcome.
import zlib from 'node:zlib';
import { readAvroBatches } from '../../src/columnar/read-avro.js';
import { HeaplakeError } from '../../src/errors.js';
import { concat, container, header, long } from './container.js';

const schemaLong = '"long"';
const deep = '{"type":"array","items":'.repeat(5000) + '"int"' + '}'.repeat(5000);
const bomb = zlib.deflateRawSync(new Uint8Array(200 * 1024 * 1024)); // 200 MiB of zeros in ~200 KB
const inputs: [string, Uint8Array][] = [
  ['declared block size beyond the file', concat(header({ schema: schemaLong }), long(1), long(200_000_000), long(1))],
  ['block count 2^62', concat(header({ schema: schemaLong }), long(2n ** 62n), long(1), long(1))],
  ['metadata count 2^40', concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(2n ** 40n))],
  ['array count 2^40', container({ schema: { type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'array', items: 'null' } }] }, blocks: [{ count: 1, data: concat(long(2n ** 40n), long(0)) }] })],
  ['5000 nested arrays', container({ schema: deep })],
  ['deflate bomb', container({ schema: schemaLong, codec: 'deflate', blocks: [{ count: 1, data: bomb }] })],
];
for (const [name, bytes] of inputs) {
  const started = performance.now();
  let outcome: string;
  try {
    await readAvroBatches([bytes], { limits: { maxDecompressedBlockBytes: 64 * 1024 * 1024 } });
    outcome = 'ok';
  } catch (err) {
    outcome = err instanceof HeaplakeError ? err.code : `UNTYPED ${String(err)}`;
  }
  process.stdout.write(`${name}\t${outcome}\t${((performance.now() - started) / 1000).toFixed(2)}\n`);
}
