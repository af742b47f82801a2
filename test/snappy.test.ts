/**
 * Our snappy codec (hysnappy's WebAssembly decoder behind our length and error checks)
 * against the reference implementation's encoder (the napi `snappy` package, a dev
 * dependency): random data with every run length and offset, and the corrupt inputs it
 * must refuse with a typed error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressSync } from 'snappy';
import { snappyBackend, unsnappyInto } from '../src/avro/snappy.js';
import { prng } from '../scripts/heap-like.js';
import { HeaplakeError } from '../src/errors.js';

test('decodes whatever the reference encoder writes, exactly', () => {
  const rand = prng(42);
  const scratch = { buf: new Uint8Array(0) };
  for (let t = 0; t < 400; t++) {
    const len = Math.floor(rand() ** 2 * 70_000);
    const data = Buffer.alloc(len);
    const alphabet = 1 + Math.floor(rand() * 255);
    for (let i = 0; i < len; i++) {
      // runs at short and long distances, so copies of every offset and length occur
      data[i] = i > 70 && rand() < 0.6 ? data[i - 1 - Math.floor(rand() ** 3 * 70)]! : Math.floor(rand() * alphabet);
    }
    // reuse one scratch across inputs: a smaller result after a larger one must not leak bytes
    const out = unsnappyInto(compressSync(data), scratch, 1 << 30);
    assert.ok(Buffer.from(out).equals(data), `case ${t} (${len} bytes)`);
  }
});

test('refuses corrupt snappy data without reading or writing out of bounds', () => {
  const good = compressSync(Buffer.from('abcdefgh'.repeat(100)));
  const cases: Uint8Array[] = [
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // a preamble that never ends
    Uint8Array.of(10, 0x01 << 2, 1, 2), // a literal running past the input
    Uint8Array.of(4, 0x01, 0x05), // a copy before the start of the output
    Uint8Array.of(2, 0x08, 0x61, 0x62, 0x63), // output longer than declared
    good.subarray(0, good.length - 3), // output shorter than declared
  ];
  for (const c of cases) {
    assert.throws(() => unsnappyInto(c, { buf: new Uint8Array(0) }, 1 << 20), (e: unknown) => e instanceof HeaplakeError && e.code === 'AVRO_CODEC');
  }
  assert.throws(() => unsnappyInto(good, { buf: new Uint8Array(0) }, 10), (e: unknown) => e instanceof HeaplakeError && e.code === 'AVRO_LIMIT');
});

test('decodes through the module directly into the reused buffer, growing its memory for large blocks', () => {
  // the fast path reads hysnappy's module out of its package; a new hysnappy that moves it
  // would silently fall back to the slower public function, so this says which one runs
  assert.equal(snappyBackend(), 'direct');
  const rand = prng(7);
  const scratch = { buf: new Uint8Array(0) };
  const big = Buffer.alloc(6 << 20);
  for (let i = 0; i < big.length; i++) big[i] = i % 4096 < 64 ? Math.floor(rand() * 256) : big[i - 64]!;
  const small = Buffer.from('heaplake '.repeat(50));
  // a corrupt block between good ones leaves nothing behind
  const corrupt = Uint8Array.of(4, 0x01, 0x05);
  assert.ok(Buffer.from(unsnappyInto(compressSync(small), scratch, 1 << 30)).equals(small));
  assert.throws(() => unsnappyInto(corrupt, scratch, 1 << 30), (e: unknown) => e instanceof HeaplakeError && e.code === 'AVRO_CODEC');
  const out = unsnappyInto(compressSync(big), scratch, 1 << 30);
  assert.equal(out.buffer, scratch.buf.buffer, 'the result is a view of the reused buffer');
  assert.ok(Buffer.from(out).equals(big));
  assert.ok(Buffer.from(unsnappyInto(compressSync(small), scratch, 1 << 30)).equals(small));
});
