// De-duplication against a plain oracle: a Map of BigInt keys walked row by row, with the
// spec's precedence (latest wins; users: within a dump the higher last_modified, ties to the
// later row), on random batches with repeated keys above 2^53, nulls and several dumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Int64, vectorFromArray, type Data } from 'apache-arrow';
import { dedupe } from '../src/dedupe/dedupe.js';
import type { RowRefs } from '../src/columnar/gather.js';
import { prng } from '../scripts/heap-like.js';

interface Case {
  keys: (bigint | null)[][];
  lastModified?: (bigint | null)[][];
  dumpOf: number[];
}

function oracle(c: Case, refs: RowRefs) {
  const seen = new Map<bigint, number>(); // key → index in refs of the row that stays
  const keep = new Array<boolean>(refs.length).fill(true);
  let duplicates = 0;
  let nullKeys = 0;
  for (let i = 0; i < refs.length; i++) {
    const b = refs.batch[i]!;
    const key = c.keys[b]![refs.row[i]!]!;
    if (key === null) {
      nullKeys++;
      continue;
    }
    const prev = seen.get(key);
    if (prev === undefined) {
      seen.set(key, i);
      continue;
    }
    duplicates++;
    const pb = refs.batch[prev]!;
    const lm = (k: number) => c.lastModified![refs.batch[k]!]![refs.row[k]!] ?? -(1n << 62n);
    const laterWins = !c.lastModified || c.dumpOf[pb] !== c.dumpOf[b] || lm(i) >= lm(prev);
    if (laterWins) {
      keep[prev] = false;
      seen.set(key, i);
    } else keep[i] = false;
  }
  const kept = [...keep.keys()].filter((i) => keep[i]);
  return { kept, duplicates, nullKeys };
}

function randomCase(r: () => number, users: boolean): Case {
  const batches = 1 + Math.floor(r() * 5);
  // few distinct keys, so that they repeat within and across batches; all above 2^53
  const pool = Array.from({ length: 5 + Math.floor(r() * 200) }, () => (1n << 60n) + BigInt(Math.floor(r() * 2 ** 40)) * 4099n);
  const keys = Array.from({ length: batches }, () => Array.from({ length: Math.floor(r() * 300) }, () => (r() < 0.05 ? null : pool[Math.floor(r() * pool.length)]!)));
  let dump = 0;
  const dumpOf = keys.map((_, b) => (b > 0 && r() < 0.5 ? ++dump : dump));
  const lastModified = users ? keys.map((k) => k.map(() => (r() < 0.1 ? null : BigInt(Math.floor(r() * 20))))) : undefined;
  return { keys, dumpOf, ...(lastModified ? { lastModified } : {}) };
}

// last_modified as Int64 too: dedupe reads its 64-bit values, whatever the column's timestamp type
const dataOf = (values: (bigint | null)[]): Data => vectorFromArray(values, new Int64()).data[0]!;

test('dedupe keeps what a row-by-row oracle keeps: the same rows, in order, with the same counts', () => {
  const r = prng(42);
  let compared = 0;
  let duplicates = 0;
  for (let round = 0; round < 200; round++) {
    const users = round % 2 === 1;
    const c = randomCase(r, users);
    const batch: number[] = [];
    const row: number[] = [];
    c.keys.forEach((k, b) => k.forEach((_, i) => (batch.push(b), row.push(i))));
    const refs: RowRefs = { batch: Int32Array.from(batch), row: Int32Array.from(row), length: batch.length };
    const got = dedupe(refs, {
      keys: c.keys.map((k) => dataOf(k)),
      dumpOf: c.dumpOf,
      ...(c.lastModified ? { lastModified: c.lastModified.map((l) => dataOf(l)) } : {}),
    });
    const want = oracle(c, refs);
    assert.deepStrictEqual([...got.index], want.kept, `round ${round}`);
    assert.deepStrictEqual([...got.winners.batch], want.kept.map((i) => batch[i]));
    assert.deepStrictEqual([...got.winners.row], want.kept.map((i) => row[i]));
    assert.equal(got.duplicates, want.duplicates, `round ${round}: duplicates`);
    assert.equal(got.nullKeys, want.nullKeys, `round ${round}: null keys`);
    compared += refs.length;
    duplicates += want.duplicates;
  }
  assert.ok(compared > 10_000 && duplicates > 1_000, `${compared} rows, ${duplicates} duplicates compared`);
});
