/**
 * Container framing, header and codecs: chunk independence, truncation at every offset,
 * and the container part of the bad-input catalogue (shared/docs/reliability.md A1–A17, A28).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { compressSync } from 'snappy';
import { openAvro, readAvroBatches, type ByteChunks } from '../src/columnar/read-avro.js';
import { rowsAsJson } from '../src/columnar/json-rows.js';
import { HeaplakeError } from '../src/errors.js';
import { CONFORMANCE, FIXTURES } from './helpers/paths.js';
import { SYNC, concat, container, header, long, str } from './helpers/container.js';
import { prng } from '../scripts/heap-like.js';

const WEATHER = readFileSync(join(CONFORMANCE, 'apache-avro/weather.avro'));
const SCHEMA_LONG = '"long"';

async function decodeAll(chunks: ByteChunks, options: Parameters<typeof openAvro>[1] = {}): Promise<string[]> {
  const { batches } = await readAvroBatches(chunks, options);
  return batches.flatMap((b) => [...rowsAsJson(b)]);
}

async function expectCode(chunks: ByteChunks, code: string, options: Parameters<typeof openAvro>[1] = {}): Promise<HeaplakeError> {
  let caught: unknown;
  try {
    await decodeAll(chunks, options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HeaplakeError, `expected ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

test('chunk independence: weather.avro split in two at every byte decodes identically', async () => {
  const whole = await decodeAll([WEATHER]);
  assert.equal(whole.length, 5);
  for (let k = 0; k <= WEATHER.length; k++) {
    assert.deepStrictEqual(await decodeAll([WEATHER.subarray(0, k), WEATHER.subarray(k)]), whole, `split at ${k}`);
  }
  assert.deepStrictEqual(await decodeAll(splitEvery(WEATHER, 1)), whole, 'one byte at a time');
});

test('chunk independence: multi-block files in random chunk sizes decode identically', async () => {
  const rand = prng(7);
  for (const file of [join(CONFORMANCE, 'apache-avro/syncInMeta.avro'), join(FIXTURES, 'avro/pageviews.snappy.avro'), join(CONFORMANCE, 'fastavro/test-deflate-1.avro')]) {
    const bytes = readFileSync(file);
    const whole = await decodeAll([bytes], { batch: { maxRows: 1000 } });
    for (let trial = 0; trial < 5; trial++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(rand() ** 3 * 5000);
        chunks.push(bytes.subarray(i, i + n));
        i += n;
      }
      assert.deepStrictEqual(await decodeAll(chunks, { batch: { maxRows: 1000 } }), whole, `${file} trial ${trial}`);
    }
  }
});

test('A2/A13: every truncation of weather.avro is an error, never fewer rows', async () => {
  // Avro has no end marker: a cut exactly at a block boundary is a valid, shorter file. The only
  // such cut in this one-block file is right after the header; the source layer checks sizes.
  const headerLength = 237;
  assert.deepStrictEqual(await decodeAll([WEATHER.subarray(0, headerLength)]), []);
  for (let k = 0; k < WEATHER.length; k++) {
    if (k === headerLength) continue;
    let caught: unknown;
    try {
      await decodeAll([WEATHER.subarray(0, k)]);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof HeaplakeError, `cut at ${k}: ${String(caught)}`);
    const expected = k === 0 ? ['AVRO_BAD_MAGIC'] : k < headerLength ? ['AVRO_TRUNCATED'] : ['AVRO_TRUNCATED', 'AVRO_TRAILING_DATA'];
    assert.ok(expected.includes(caught.code), `cut at ${k}: ${caught.code} ${caught.message}`);
    assert.equal(typeof caught.context.offset, 'number');
  }
  // when the size is known up front, a lying block size fails at once
  for (const k of [3, 100, 250, WEATHER.length - 1]) await expectCode([WEATHER.subarray(0, k)], 'AVRO_TRUNCATED', { totalBytes: k });
});

test('A1: bad magic and empty files', async () => {
  for (const magic of ['Obj\x02', 'OBJ\x01', 'PAR1']) {
    const err = await expectCode([concat(Buffer.from(magic, 'latin1'), WEATHER.subarray(4))], 'AVRO_BAD_MAGIC');
    assert.equal(err.context.offset, 0);
  }
  await expectCode([], 'AVRO_BAD_MAGIC');
  await expectCode([concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x00), WEATHER.subarray(4))], 'AVRO_LEGACY_CONTAINER');
});

test('A3: a metadata map written with a negative count and a byte size is read', async () => {
  const entries = concat(str('avro.schema'), str(SCHEMA_LONG), str('avro.codec'), str('null'));
  const bytes = concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(-2), long(entries.length), entries, long(0), SYNC, long(1), long(1), long(-11), SYNC);
  assert.deepStrictEqual(await decodeAll([bytes]), ['{"value":-11}']);
});

test('A4/A5: hostile or inconsistent metadata', async () => {
  // a huge count, a key longer than the file
  await expectCode([concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(2n ** 40n))], 'AVRO_LIMIT');
  await expectCode([concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(1), long(2n ** 40n))], 'AVRO_LIMIT');
  await expectCode([concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(1), long(1000), Buffer.from('abc'))], 'AVRO_TRUNCATED');
  // duplicate avro.schema; no avro.schema; a key that is not UTF-8
  await expectCode([header({ schema: SCHEMA_LONG, meta: { 'avro.schema': SCHEMA_LONG } })], 'AVRO_BAD_HEADER');
  const noSchema = concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(1), str('avro.codec'), str('null'), long(0), SYNC);
  await expectCode([noSchema], 'AVRO_BAD_HEADER');
  const badKey = concat(Uint8Array.of(0x4f, 0x62, 0x6a, 0x01), long(2), str('avro.schema'), str(SCHEMA_LONG), str(Uint8Array.of(0xff, 0xfe)), str('x'), long(0), SYNC);
  await expectCode([badKey], 'AVRO_BAD_HEADER');
  // a non-UTF-8 value under another key is fine (syncInMeta.avro is the real-world case)
  assert.deepStrictEqual(await decodeAll([container({ schema: SCHEMA_LONG, meta: { 'x.bin': Uint8Array.of(0xff, 0x00, 0xfe) }, blocks: [{ count: 1, data: long(5) }] })]), ['{"value":5}']);
});

test('A6: unknown codecs are errors naming the codec; a missing codec means null', async () => {
  for (const codec of ['lzo', 'Snappy', '']) {
    const err = await expectCode([container({ schema: SCHEMA_LONG, codec, blocks: [] })], 'AVRO_UNSUPPORTED_CODEC');
    assert.ok(err.message.includes(JSON.stringify(codec)), err.message);
  }
  assert.deepStrictEqual(await decodeAll([container({ schema: SCHEMA_LONG, blocks: [{ count: 1, data: long(1) }] })]), ['{"value":1}']);
});

test('A7/A8: a wrong sync marker, and two files concatenated', async () => {
  const bad = container({ schema: SCHEMA_LONG, blocks: [{ count: 1, data: long(1) }, { count: 1, data: long(2), sync: Buffer.from('fedcba9876543210') }] });
  const err = await expectCode([bad], 'AVRO_SYNC_MISMATCH');
  assert.equal(err.context.block, 1);
  const twice = concat(WEATHER, WEATHER);
  const cat = await expectCode([twice], 'AVRO_BAD_BLOCK');
  assert.match(cat.message, /concatenated/);
  assert.equal(cat.context.offset, WEATHER.length);
});

test('A9: empty blocks are fine; a negative count or an empty block with data is not', async () => {
  const ok = container({ schema: SCHEMA_LONG, blocks: [{ count: 0, data: new Uint8Array(0) }, { count: 2, data: concat(long(1), long(2)) }, { count: 0, data: new Uint8Array(0) }] });
  assert.deepStrictEqual(await decodeAll([ok]), ['{"value":1}', '{"value":2}']);
  await expectCode([concat(header({ schema: SCHEMA_LONG }), long(-1), long(1), long(1), SYNC)], 'AVRO_BAD_BLOCK');
  await expectCode([container({ schema: SCHEMA_LONG, blocks: [{ count: 0, data: long(1) }] })], 'AVRO_BAD_BLOCK');
});

test('A10: enormous counts and sizes fail before allocation', async () => {
  for (const count of [2n ** 31n, 2n ** 62n]) await expectCode([concat(header({ schema: SCHEMA_LONG }), long(count), long(1), long(1), SYNC)], 'AVRO_LIMIT');
  for (const size of [2n ** 31n, 2n ** 62n]) await expectCode([concat(header({ schema: SCHEMA_LONG }), long(1), long(size), long(1), SYNC)], 'AVRO_LIMIT');
  // within the limits but beyond the bytes that remain: fails at once when the size is known
  const lying = concat(header({ schema: SCHEMA_LONG }), long(1), long(100_000_000), long(1));
  await expectCode([lying], 'AVRO_TRUNCATED', { totalBytes: lying.length });
  // a count that a record's minimal size cannot back
  await expectCode([container({ schema: SCHEMA_LONG, blocks: [{ count: 1000, data: long(1) }] })], 'AVRO_BLOCK_OVERRUN');
});

test('A11/A12: a record running past its block, and bytes left unread in a block', async () => {
  const over = await expectCode([container({ schema: SCHEMA_LONG, blocks: [{ count: 2, data: Uint8Array.of(0x02, 0x80) }] })], 'AVRO_BLOCK_OVERRUN');
  assert.equal(over.context.record, 1);
  const unread = await expectCode([container({ schema: SCHEMA_LONG, blocks: [{ count: 1, data: concat(long(1), long(2)) }] })], 'AVRO_BLOCK_UNREAD');
  assert.equal(unread.context.block, 0);
});

test('A14: trailing bytes after the last block', async () => {
  const err = await expectCode([concat(WEATHER, Uint8Array.of(0x0a))], 'AVRO_TRAILING_DATA');
  assert.equal(err.context.offset, WEATHER.length);
  await expectCode([concat(WEATHER, Buffer.from('twenty random bytes!'))], 'AVRO_BAD_BLOCK'); // 'w' reads as a negative size
});

test('A15/P6: snappy payload, CRC and framing damage give distinct errors', async () => {
  const values = concat(long(7), long(8), long(9));
  const payload = compressSync(Buffer.from(values));
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(values) >>> 0);
  const block = (data: Uint8Array) => [container({ schema: SCHEMA_LONG, codec: 'snappy', blocks: [{ count: 3, data }] })];
  assert.deepStrictEqual(await decodeAll(block(concat(payload, crc))), ['{"value":7}', '{"value":8}', '{"value":9}']);
  const flippedCrc = Buffer.from(crc);
  flippedCrc[0]! ^= 1;
  await expectCode(block(concat(payload, flippedCrc)), 'AVRO_CRC_MISMATCH');
  const flippedPayload = Buffer.from(payload);
  flippedPayload[flippedPayload.length - 1]! ^= 0x40;
  await expectCode(block(concat(flippedPayload, crc)), 'AVRO_CRC_MISMATCH');
  await expectCode(block(payload.subarray(0, 2)), 'AVRO_CODEC');
  await expectCode(block(concat(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01), crc)), 'AVRO_CODEC');
});

test('A16: deflate that is truncated, zlib-wrapped, or followed by junk', async () => {
  const values = concat(long(1), long(2));
  const raw = zlib.deflateRawSync(values);
  const block = (data: Uint8Array) => [container({ schema: SCHEMA_LONG, codec: 'deflate', blocks: [{ count: 2, data }] })];
  assert.deepStrictEqual(await decodeAll(block(raw)), ['{"value":1}', '{"value":2}']);
  await expectCode(block(raw.subarray(0, raw.length - 2)), 'AVRO_CODEC');
  await expectCode(block(zlib.deflateSync(values)), 'AVRO_CODEC');
  await expectCode(block(concat(raw, Uint8Array.of(1, 2, 3))), 'AVRO_CODEC');
});

test('A17: decompression bombs stop at the configured limit', async () => {
  const zeros = new Uint8Array(4 * 1024 * 1024); // 4 MiB of long(0)
  const limits = { maxDecompressedBlockBytes: 1024 * 1024 };
  const deflated = zlib.deflateRawSync(zeros);
  assert.ok(deflated.length < 10_000);
  await expectCode([container({ schema: SCHEMA_LONG, codec: 'deflate', blocks: [{ count: zeros.length, data: deflated }] })], 'AVRO_LIMIT', { limits });
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(zeros) >>> 0);
  await expectCode([container({ schema: SCHEMA_LONG, codec: 'snappy', blocks: [{ count: zeros.length, data: concat(compressSync(Buffer.from(zeros)), crc) }] })], 'AVRO_LIMIT', { limits });
  // under the default limit the same block decodes
  const rows = await decodeAll([container({ schema: SCHEMA_LONG, codec: 'deflate', blocks: [{ count: 1000, data: zlib.deflateRawSync(zeros.subarray(0, 1000)) }] })]);
  assert.equal(rows.length, 1000);
});

test('every codec decodes the same rows: xz fixture against the weather corpus', async () => {
  const xz = await decodeAll([readFileSync(join(FIXTURES, 'avro/weather.xz.avro'))]);
  const plain = await decodeAll([WEATHER]);
  assert.deepStrictEqual(xz, plain);
});

test('A28: a header with no blocks is an empty, valid file', async () => {
  for (const codec of ['null', 'snappy', 'deflate']) {
    const { batches, reader } = await readAvroBatches([container({ schema: { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] }, codec })]);
    assert.equal(batches.length, 0);
    assert.equal(reader.stats.records, 0);
    assert.deepStrictEqual(reader.schema.fields.map((f) => f.name), ['a']);
  }
});
