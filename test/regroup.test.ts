/**
 * A reduce task's regrouping of its rows by partition (src/columnar/regroup.ts) against
 * gather.ts: random source batches of several columns (kernel types, a column to convert, a
 * column some batches lack), rows sent to random groups in batch-major order (some groups
 * empty), and every group's columns compared buffer by buffer with what gatherColumn builds
 * from the same rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bool, Int32, Int64, Utf8, vectorFromArray, type Data, type DataType } from 'apache-arrow';
import { gatherColumn, newGatherStats, type GatherStats, type RowRefs } from '../src/columnar/gather.js';
import { planRegroup, regroupColumn } from '../src/columnar/regroup.js';
import type { TypeSpec } from '../src/schema/merge.js';
import { prng } from '../scripts/heap-like.js';

const buffers = (d: Data) => ({
  type: String(d.type),
  length: d.length,
  nullCount: d.nullCount,
  nullBitmap: d.nullCount > 0 ? Buffer.from(d.nullBitmap!.subarray(0, (d.length + 7) >> 3)) : undefined,
  offsets: d.valueOffsets ? Buffer.from(d.valueOffsets.subarray(0, d.length + 1).buffer, d.valueOffsets.byteOffset, (d.length + 1) * 4) : undefined,
  values: d.length === 0 ? undefined : Buffer.from((d.values as Uint8Array).buffer, (d.values as Uint8Array).byteOffset, (d.values as Uint8Array).byteLength),
});

/** Column specs and, per source batch, each column's Data (or undefined when the batch lacks it). */
function sources(r: () => number, lengths: number[]) {
  const word = () => (r() < 0.3 ? null : ['', 'a', 'é東', '🦆🦆', 'pageview'][Math.floor(r() * 5)]!);
  const columns: { spec: TypeSpec; make: (len: number, b: number) => Data | undefined }[] = [
    { spec: 'utf8', make: (len) => col(Array.from({ length: len }, word), new Utf8()) },
    { spec: 'int64', make: (len) => col(Array.from({ length: len }, () => (r() < 0.1 ? null : 2n ** 60n + BigInt(Math.floor(r() * 1e9)))), new Int64()) },
    { spec: 'bool', make: (len) => col(Array.from({ length: len }, () => (r() < 0.2 ? null : r() < 0.5)), new Bool()) },
    // int32 in the sources, int64 in the lake: a conversion, left to gather
    { spec: 'int64', make: (len) => col(Array.from({ length: len }, () => Math.floor(r() * 1000)), new Int32()) },
    // missing from every other batch (a custom property added later): left to gather
    { spec: 'utf8', make: (len, b) => (b % 2 ? undefined : col(Array.from({ length: len }, word), new Utf8())) },
  ];
  const data = columns.map(({ make }) => lengths.map((len, b) => make(len, b)));
  return { specs: columns.map((c) => c.spec), columnOf: (c: number) => data[c]! };
}

function col(values: unknown[], type: DataType): Data {
  // some batches are slices of a longer vector, as decoded batches cut into output batches are
  const v = vectorFromArray([null, ...values, null], type);
  return v.slice(1, 1 + values.length).data[0]!;
}

/** Rows of every batch sent to random groups, each group's rows batch after batch. */
function groupsOf(r: () => number, lengths: number[], G: number): RowRefs[] {
  const parts: { batch: number[]; row: number[] }[] = Array.from({ length: G }, () => ({ batch: [], row: [] }));
  lengths.forEach((len, b) => {
    for (let i = 0; i < len; i++) {
      if (r() < 0.1) continue; // a row no group takes (a loser of dedupe)
      // groups 1 and G-1 stay empty when there are enough groups
      let k = Math.floor(r() * G);
      if (G > 3 && (k === 1 || k === G - 1)) k = 0;
      parts[k]!.batch.push(b);
      parts[k]!.row.push(i);
    }
  });
  return parts.map((p) => ({ batch: Int32Array.from(p.batch), row: Int32Array.from(p.row), length: p.batch.length }));
}

/**
 * Per group, its columns, regrouped column after column as a reduce task does; between two
 * columns, another set of groups is placed in the kernel (another task's, in the same
 * process), so each column finds its placement stale and places its rows again.
 */
function regroupRows(specs: readonly TypeSpec[], columnOf: (c: number) => readonly (Data | undefined)[], sourceCount: number, groups: readonly RowRefs[], stats: GatherStats, interleave?: () => void): Data[][] {
  const plan = planRegroup(sourceCount, groups);
  const byColumn = specs.map((spec, c) => {
    interleave?.();
    return regroupColumn(plan, spec, columnOf(c), stats);
  });
  return groups.map((_, k) => byColumn.map((col) => col[k]!));
}

test('regrouped rows are, group by group and column by column, what gather builds from the same rows', () => {
  const r = prng(9001);
  let compared = 0;
  for (const G of [1, 2, 7, 40]) {
    const lengths = Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * 500));
    lengths.splice(1, 0, 0); // an empty batch
    const { specs, columnOf } = sources(r, lengths);
    const groups = groupsOf(r, lengths, G);
    const stats = newGatherStats();
    // every other size with another task's groups placed between columns
    const other = G % 2 ? groupsOf(r, lengths, 3) : undefined;
    const otherPlan = other && planRegroup(lengths.length, other);
    const interleave = otherPlan ? () => void regroupColumn(otherPlan, specs[0]!, columnOf(0), newGatherStats()) : undefined;
    const got = regroupRows(specs, columnOf, lengths.length, groups, stats, interleave);
    assert.equal(got.length, G);
    groups.forEach((refs, k) => {
      assert.equal(got[k]!.length, specs.length);
      specs.forEach((spec, c) => {
        const expected = gatherColumn(spec, columnOf(c), refs, newGatherStats());
        assert.deepStrictEqual(buffers(got[k]![c]!), buffers(expected), `${G} groups, group ${k}, column ${c} (${spec})`);
        compared += refs.length;
      });
    });
    if (G > 3) assert.ok(groups[1]!.length === 0 && got[1]!.every((d) => d.length === 0), 'an empty group has empty columns');
  }
  assert.ok(compared > 10_000, `compared ${compared} values`);
});

test('a group whose rows go back to an earlier batch is refused (callers list rows batch after batch)', () => {
  const r = prng(5);
  const lengths = [20, 20];
  const { specs, columnOf } = sources(r, lengths);
  const inOrder: RowRefs = { batch: Int32Array.of(0, 0, 1), row: Int32Array.of(3, 1, 0), length: 3 };
  const backwards: RowRefs = { batch: Int32Array.of(1, 0), row: Int32Array.of(2, 5), length: 2 };
  assert.ok(regroupRows(specs, columnOf, 2, [inOrder], newGatherStats()), 'rows within a batch may come in any order');
  assert.throws(() => regroupRows(specs, columnOf, 2, [inOrder, backwards], newGatherStats()), /go back to an earlier source batch/);
});
