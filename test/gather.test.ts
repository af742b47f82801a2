/**
 * gatherColumn against Arrow's own builders and readers: sources are built with
 * `vectorFromArray` (some sliced, so their Data starts at an offset), rows are picked as runs
 * and as scattered single rows, and every gathered value is compared with `Vector.get` of the
 * source row, converted by a rule written here independently of the gather code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Bool, Float32, Float64, Int32, Int64, TimestampMicrosecond, Utf8, makeData, makeVector, vectorFromArray, type Data, type DataType } from 'apache-arrow';
import { gatherColumn, newGatherStats, type RowRefs } from '../src/columnar/gather.js';
import type { TypeSpec } from '../src/schema/merge.js';
import { prng } from '../scripts/heap-like.js';

type Gen = (r: () => number, i: number) => unknown;

/** Source batches of `type`: values from `gen`, about a fifth null (none in some), every other one a slice. */
function sources(r: () => number, type: DataType, gen: Gen, count: number): Data[] {
  const out: Data[] = [];
  for (let b = 0; b < count; b++) {
    const len = 1 + Math.floor(r() * 300);
    const noNulls = b % 3 === 0;
    const values = Array.from({ length: len + 20 }, (_, i) => (!noNulls && r() < 0.2 ? null : gen(r, i)));
    const vector = vectorFromArray(values, type);
    const sliced = b % 2 === 1 ? vector.slice(7, 7 + len) : vector.slice(0, len);
    out.push(sliced.data[0]!);
  }
  return out;
}

/** Long runs of consecutive rows, single scattered rows and repeats, over every batch. */
function refsOver(r: () => number, batches: readonly (Data | undefined)[], lengths: readonly number[], n: number): RowRefs {
  const batch = new Int32Array(n);
  const row = new Int32Array(n);
  for (let i = 0; i < n; ) {
    const b = Math.floor(r() * batches.length);
    const len = lengths[b]!;
    if (r() < 0.5) {
      const start = Math.floor(r() * len);
      const run = Math.min(n - i, len - start, 1 + Math.floor(r() * 200));
      for (let k = 0; k < run; k++, i++) {
        batch[i] = b;
        row[i] = start + k;
      }
    } else {
      batch[i] = b;
      row[i] = Math.floor(r() * len);
      i++;
    }
  }
  return { batch, row, length: n };
}

function check(name: string, target: TypeSpec, batches: (Data | undefined)[], expected: (b: number, row: number) => unknown, seed: number): void {
  const r = prng(seed);
  const lengths = batches.map((d) => d?.length ?? 50);
  for (const n of [0, 1, 7, 1000, 5000]) {
    const refs = refsOver(r, batches, lengths, n);
    const out = makeVector(gatherColumn(target, batches, refs, newGatherStats()));
    assert.equal(out.length, n);
    for (let i = 0; i < n; i++) {
      const want = expected(refs.batch[i]!, refs.row[i]!);
      const got = out.get(i);
      if (got instanceof Uint8Array) assert.deepEqual([...got], [...(want as Uint8Array)], `${name}: row ${i}`);
      else assert.equal(got, want, `${name}: row ${i} (batch ${refs.batch[i]}, row ${refs.row[i]})`);
    }
    assert.equal(out.nullCount, [...Array(n).keys()].filter((i) => expected(refs.batch[i]!, refs.row[i]!) === null).length, `${name}: null count`);
  }
}

const word: Gen = (r) => 'xyzé漢🙂'.repeat(Math.floor(r() * 4)).slice(0, Math.floor(r() * 12)) + String(Math.floor(r() * 1e6));
const int64: Gen = (r) => BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
const int32: Gen = (r) => (Math.floor(r() * 2 ** 32) | 0);
const get = (batches: (Data | undefined)[]) => (b: number, row: number) => (batches[b] ? makeVector(batches[b]!).get(row) : null);

test('gather copies every type in its own type, from sliced sources, runs and single rows alike', () => {
  const r = prng(1);
  const utf8 = sources(r, new Utf8(), word, 12);
  check('utf8', 'utf8', utf8, get(utf8), 11);
  const binary = sources(r, new Binary(), (x) => new TextEncoder().encode(word(x, 0) as string), 9);
  check('binary', 'binary', binary, get(binary), 12);
  const longs = sources(r, new Int64(), int64, 10);
  check('int64', 'int64', longs, get(longs), 13);
  const ints = sources(r, new Int32(), int32, 10);
  check('int32', 'int32', ints, get(ints), 14);
  const doubles = sources(r, new Float64(), (x) => (x() - 0.5) * 1e12, 10);
  check('float64', 'float64', doubles, get(doubles), 15);
  const bools = sources(r, new Bool(), (x) => x() < 0.5, 11);
  check('bool', 'bool', bools, get(bools), 16);
});

test('gather converts to the merged type and fills absent columns with nulls', () => {
  const r = prng(2);
  // int64 ← int32 and int64, with a batch that lacks the column
  const ints = sources(r, new Int32(), int32, 5);
  const longs = sources(r, new Int64(), int64, 5);
  const mixed: (Data | undefined)[] = [...ints, undefined, ...longs];
  check('int64 ← int32', 'int64', mixed, (b, row) => {
    const v = get(mixed)(b, row);
    return typeof v === 'number' ? BigInt(v) : v;
  }, 21);
  // float64 ← float32, int32
  const floats = sources(r, new Float32(), (x) => Math.fround((x() - 0.5) * 1000), 5);
  const numbers = [...floats, ...ints];
  check('float64 ← float32, int32', 'float64', numbers, get(numbers), 22);
  // utf8 ← int64 (display text) next to utf8
  const text = sources(r, new Utf8(), word, 4);
  const both = [...text, ...longs];
  check('utf8 ← int64', 'utf8', both, (b, row) => {
    const v = get(both)(b, row);
    return typeof v === 'bigint' ? String(v) : v;
  }, 23);
});

test('gather parses time strings and counts those that are not timestamps', () => {
  const r = prng(3);
  const day = (x: () => number) => `2026-0${1 + Math.floor(x() * 9)}-1${Math.floor(x() * 10)} 0${Math.floor(x() * 10)}:1${Math.floor(x() * 10)}:2${Math.floor(x() * 10)}.${String(Math.floor(x() * 1e6)).padStart(6, '0')}`;
  const times = sources(r, new Utf8(), (x) => (x() < 0.05 ? 'not a time' : day(x)), 8);
  const stamps = sources(r, new TimestampMicrosecond('UTC'), (x) => Math.floor(x() * 1.8e12) * 1000, 4);
  const all = [...times, ...stamps];
  const expected = (b: number, row: number): unknown => {
    const v = get(all)(b, row);
    if (v === null) return null;
    if (typeof v === 'number') return v * 1000; // Vector.get of a Timestamp(µs) gives milliseconds
    if (v === 'not a time') return null;
    return Date.parse((v as string).slice(0, 23).replace(' ', 'T') + 'Z') * 1000 + Number((v as string).slice(23, 26));
  };
  const refs = refsOver(r, all, all.map((d) => d.length), 3000);
  const stats = newGatherStats();
  const out = makeVector(gatherColumn('timestamp[us,UTC]', all, refs, stats));
  const micros = out.data[0]!.values as BigInt64Array; // Vector.get gives milliseconds
  let unparsed = 0;
  for (let i = 0; i < refs.length; i++) {
    const want = expected(refs.batch[i]!, refs.row[i]!);
    assert.equal(out.isValid(i) ? Number(micros[i]) : null, want, `row ${i}`);
    if (get(all)(refs.batch[i]!, refs.row[i]!) === 'not a time') unparsed++;
  }
  assert.ok(unparsed > 0);
  assert.equal(stats.unparsedTimes, unparsed);
  assert.equal(out.nullCount, [...Array(refs.length).keys()].filter((i) => expected(refs.batch[i]!, refs.row[i]!) === null).length);
});

test('gather leaves out the bytes a null holds in its source', () => {
  // Arrow allows a null slot to span bytes; they must not reach the gathered column
  const bytes = new TextEncoder().encode('abcdefghi');
  const source = makeData({ type: new Utf8(), length: 3, nullCount: 1, nullBitmap: Uint8Array.of(0b101), valueOffsets: Int32Array.of(0, 3, 6, 9), data: bytes });
  const refs: RowRefs = { batch: Int32Array.of(0, 0, 0, 0), row: Int32Array.of(0, 1, 2, 1), length: 4 };
  const out = gatherColumn('utf8', [source], refs, newGatherStats());
  assert.deepEqual([...makeVector(out)], ['abc', null, 'ghi', null]);
  assert.equal((out.values as Uint8Array).length, 6);
});
