/**
 * The map task's shuffle kernel (src/columnar/scatter.ts) against gather.ts: random batches of
 * every type the kernel takes (some sliced, some with nulls, some without), rows sent to random
 * buckets (some buckets empty), and every bucket's column compared buffer by buffer with what
 * gatherColumn builds from the same rows in the same order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Bool, FixedSizeBinary, Float64, Int32, Int64, TimestampMicrosecond, Utf8, makeData, makeVector, vectorFromArray, type Data, type DataType } from 'apache-arrow';
import { gatherColumn, newGatherStats } from '../src/columnar/gather.js';
import { placeRows, scatterColumn, scatterSupports } from '../src/columnar/scatter.js';
import { groupByBucket } from '../src/shuffle/map-task.js';
import { spillArena } from '../src/shuffle/spill-arena.js';
import { typeSpec } from '../src/schema/merge.js';
import { prng } from '../scripts/heap-like.js';

const text = (r: () => number) => Array.from({ length: Math.floor(r() ** 2 * 60) }, () => ['a', 'é', '東', '🦆', ' '][Math.floor(r() * 5)]).join('');
const kinds: { type: DataType; gen: (r: () => number) => unknown }[] = [
  { type: new Int32(), gen: (r) => Math.floor(r() * 2 ** 32) - 2 ** 31 },
  { type: new Int64(), gen: (r) => BigInt(Math.floor(r() * 2 ** 53)) * (r() < 0.5 ? -1n : 1n) * 1024n },
  { type: new Float64(), gen: (r) => (r() - 0.5) * 1e300 },
  { type: new TimestampMicrosecond('UTC'), gen: (r) => Math.floor(r() * 2 ** 50) },
  { type: new Bool(), gen: (r) => r() < 0.5 },
  { type: new Utf8(), gen: text },
  { type: new Binary(), gen: (r) => Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)) },
  { type: new FixedSizeBinary(3), gen: (r) => Uint8Array.from({ length: 3 }, () => Math.floor(r() * 256)) },
];

function batches(r: () => number, type: DataType, gen: (r: () => number) => unknown, count: number): Data[] {
  return Array.from({ length: count }, (_, b) => {
    const len = Math.floor(r() * 400);
    const noNulls = b % 3 === 0;
    const values = Array.from({ length: len + 10 }, () => (!noNulls && r() < 0.25 ? null : gen(r)));
    const vector = vectorFromArray(values, type);
    return (b % 2 === 1 ? vector.slice(5, 5 + len) : vector.slice(0, len)).data[0]!;
  });
}

const buffers = (d: Data | undefined) =>
  d && {
    length: d.length,
    nullCount: d.nullCount,
    nullBitmap: d.nullCount > 0 ? Buffer.from(d.nullBitmap!.subarray(0, (d.length + 7) >> 3)) : undefined,
    offsets: d.valueOffsets ? Buffer.from(d.valueOffsets.buffer, d.valueOffsets.byteOffset, d.valueOffsets.byteLength) : undefined,
    values: Buffer.from((d.values as Uint8Array).buffer, (d.values as Uint8Array).byteOffset, (d.values as Uint8Array).byteLength),
  };

test('the scatter kernel builds, per bucket, exactly the column gather builds from the same rows', () => {
  const r = prng(4242);
  let compared = 0;
  for (const { type, gen } of kinds) {
    for (const B of [1, 3, 51]) {
      const sources = batches(r, type, gen, 1 + Math.floor(r() * 6));
      const spec = typeSpec(type, 'column');
      assert.ok(scatterSupports(spec, sources), spec);
      // some buckets get nothing: rows go to the even buckets only when B > 1
      const rows = sources.map((d) => groupByBucket(Uint32Array.from({ length: d.length }, () => (B > 1 ? 2 * Math.floor((r() * B) / 2) : 0)), B));
      const scattered = scatterColumn(spec, sources, placeRows(rows, B));
      // copied out into a map task's spill arena instead (views into shared, reused chunks): the same columns
      const arena = spillArena();
      arena.copy(Uint8Array.of(1, 2, 3)); // later copies start past other bytes
      const inArena = scatterColumn(spec, sources, placeRows(rows, B), arena.copy);
      // (sizes first: a view over a whole chunk would make the comparison's message huge)
      assert.deepStrictEqual(inArena.map((d) => d && (d.values as Uint8Array).byteLength), scattered.map((d) => d && (d.values as Uint8Array).byteLength), `${spec}, ${B} buckets, in an arena: value bytes`);
      assert.deepStrictEqual(inArena.map(buffers), scattered.map(buffers), `${spec}, ${B} buckets, in an arena`);
      for (const [k, d] of inArena.entries()) if (d) assert.deepStrictEqual([...makeVector(d)].map(String), [...makeVector(scattered[k]!)].map(String), `${spec}, bucket ${k}, values`);
      for (let k = 0; k < B; k++) {
        const count = rows.reduce((n, x) => n + x.start[k + 1]! - x.start[k]!, 0);
        const batch = new Int32Array(count);
        const row = new Int32Array(count);
        let i = 0;
        rows.forEach((x, b) => {
          for (let j = x.start[k]!; j < x.start[k + 1]!; j++, i++) {
            batch[i] = b;
            row[i] = x.order[j]!;
          }
        });
        const expected = count === 0 ? undefined : gatherColumn(spec, sources, { batch, row, length: count }, newGatherStats());
        assert.deepStrictEqual(buffers(scattered[k]), buffers(expected), `${spec}, ${B} buckets, bucket ${k}`);
        if (count > 0) compared += count;
      }
    }
  }
  assert.ok(compared > 5000, `compared ${compared} values`);
});

test('one placement of the rows serves every column of a group, as in a map task; a placement superseded by another is refused', () => {
  const r = prng(77);
  const B = 51;
  const lengths = [300, 7, 180, 0, 250];
  // every kind over the same batches of rows
  const columns = kinds.map(({ type, gen }) => lengths.map((len) => vectorFromArray(Array.from({ length: len }, () => (r() < 0.2 ? null : gen(r))), type).data[0]!));
  const rows = lengths.map((len) => groupByBucket(Uint32Array.from({ length: len }, () => Math.floor(r() * B)), B));
  const placed = placeRows(rows, B);
  const together = columns.map((sources) => scatterColumn(typeSpec(sources[0]!.type, 'column'), sources, placed).map(buffers));
  const alone = columns.map((sources) => scatterColumn(typeSpec(sources[0]!.type, 'column'), sources, placeRows(rows, B)).map(buffers));
  assert.deepStrictEqual(together, alone);
  assert.ok(together.flat().filter((b) => b !== undefined).length > kinds.length * 40, 'most buckets hold rows');
  assert.throws(() => scatterColumn('int32', columns[0]!, placed), /placed before another group/);
});

test('columns the scatter kernel does not take are left to gather', () => {
  const ints = vectorFromArray([1, 2, 3], new Int32()).data[0]!;
  const longs = vectorFromArray([1n, 2n], new Int64()).data[0]!;
  assert.equal(scatterSupports('int64', [ints]), false, 'a batch of another type (a conversion)');
  assert.equal(scatterSupports('int64', [longs, undefined]), false, 'a batch without the column');
  assert.equal(scatterSupports('null', [ints]), false);
  assert.equal(scatterSupports('int64', [longs]), true);
});

test('a null slot that holds bytes or a set bit gives nothing: as gather does', () => {
  // rows 1 and 2 are null, but their slots hold "def" and a set bit
  const nullBitmap = Uint8Array.of(0b1001);
  const text = makeData({ type: new Utf8(), length: 4, nullCount: 2, nullBitmap, valueOffsets: Int32Array.of(0, 3, 6, 7, 9), data: new TextEncoder().encode('abcdefghi') });
  const bools = makeData({ type: new Bool(), length: 4, nullCount: 2, nullBitmap, data: Uint8Array.of(0b1111) });
  for (const d of [text, bools]) {
    const spec = typeSpec(d.type, 'column');
    const rows = [groupByBucket(Uint32Array.of(1, 0, 1, 1), 2)];
    const scattered = scatterColumn(spec, [d], placeRows(rows, 2));
    const expected = [Int32Array.of(1), Int32Array.of(0, 2, 3)].map((row) => gatherColumn(spec, [d], { batch: new Int32Array(row.length), row, length: row.length }, newGatherStats()));
    assert.deepStrictEqual(scattered.map(buffers), expected.map(buffers), spec);
    assert.equal(scattered[1]!.nullCount, 1);
  }
});
