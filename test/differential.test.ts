/**
 * Differential test: random schemas and values are written by avsc (an independent encoder),
 * read back by avsc (BigInt longs) and by heaplake's columnar decoder; both must agree on
 * every value, including longs beyond 2^53, floats, unicode and nested collections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAvroBatches } from '../src/columnar/read-avro.js';
import { parseSchema, branchName, type AvroSchema } from '../src/avro/schema.js';
import { avscDecodeFile, writeAvro } from '../scripts/avsc-writer.js';
import { prng } from '../scripts/heap-like.js';
import { actualValue } from './helpers/avro-json.js';

type Rand = () => number;

class SchemaGen {
  private names = 0;
  constructor(private readonly rand: Rand) {}
  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  record(depth: number): Record<string, unknown> {
    const n = 1 + this.int(6);
    return { type: 'record', name: `R${this.names++}`, fields: Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: this.type(depth + 1) })) };
  }
  type(depth: number, inUnion = false): unknown {
    const r = this.rand();
    const prims = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'];
    if (depth > 2 || r < 0.45) return inUnion ? prims[1 + this.int(prims.length - 1)] : prims[this.int(prims.length)];
    if (r < 0.6 && !inUnion) return this.rand() < 0.5 ? ['null', this.type(depth + 1, true)] : [this.type(depth + 1, true), 'null'];
    if (r < 0.68) return { type: 'array', items: this.type(depth + 1) };
    if (r < 0.75) return { type: 'map', values: this.type(depth + 1) };
    if (r < 0.82) return { type: 'enum', name: `E${this.names++}`, symbols: ['A', 'B', 'C'].slice(0, 1 + this.int(3)) };
    if (r < 0.87) return { type: 'fixed', name: `F${this.names++}`, size: this.int(9) };
    if (r < 0.93 && !inUnion) {
      // a general union of distinct branch kinds
      const kinds = ['null', 'int', 'long', 'string', 'double', 'boolean'].sort(() => this.rand() - 0.5).slice(0, 2 + this.int(3));
      return kinds;
    }
    return this.record(depth + 1);
  }
}

const EXTREME_LONGS = [0n, -1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 123456789012345678n];

function randomValue(s: AvroSchema, rand: Rand): unknown {
  const int = (n: number) => Math.floor(rand() * n);
  switch (s.kind) {
    case 'null':
      return null;
    case 'boolean':
      return rand() < 0.5;
    case 'int':
      return rand() < 0.2 ? [0, -1, 2147483647, -2147483648][int(4)] : int(2 ** 32) - 2 ** 31;
    case 'long':
      return rand() < 0.4 ? EXTREME_LONGS[int(EXTREME_LONGS.length)] : BigInt.asIntN(64, (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32))) >> BigInt(int(60));
    case 'float':
      return rand() < 0.05 ? NaN : Math.fround((rand() - 0.5) * 10 ** int(30));
    case 'double':
      return rand() < 0.05 ? -Infinity : (rand() - 0.5) * 10 ** int(300);
    case 'bytes':
      return Buffer.from(Array.from({ length: int(12) }, () => int(256)));
    case 'string': {
      const alphabet = ['a', 'Z', ' ', 'é', 'ß', '東', '京', '🦆', '\u0000', '"', '\\', '\uFEFF'];
      return Array.from({ length: int(70) }, () => alphabet[int(alphabet.length)]).join('');
    }
    case 'enum':
      return s.symbols[int(s.symbols.length)];
    case 'fixed':
      return Buffer.from(Array.from({ length: s.size }, () => int(256)));
    case 'array':
      return Array.from({ length: int(5) }, () => randomValue(s.items, rand));
    case 'map':
      return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`k${i}${'é'.repeat(int(2))}`, randomValue(s.values, rand)]));
    case 'record':
      return Object.fromEntries(s.fields.map((f) => [f.name, randomValue(f.type, rand)]));
    case 'union': {
      const branch = s.branches[int(s.branches.length)]!;
      return branch.kind === 'null' ? null : { [branchName(branch)]: randomValue(branch, rand) };
    }
  }
}

/** avsc's decoded value (wrapped unions) in the canonical form of test/helpers/avro-json.ts. */
function canonical(s: AvroSchema, v: unknown): unknown {
  switch (s.kind) {
    case 'long':
      return BigInt(v as bigint);
    case 'bytes':
    case 'fixed':
      return Buffer.from(v as Buffer).toString('latin1');
    case 'array':
      return (v as unknown[]).map((x) => canonical(s.items, x));
    case 'map':
      return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, canonical(s.values, x)]));
    case 'record':
      return Object.fromEntries(s.fields.map((f) => [f.name, canonical(f.type, (v as Record<string, unknown>)[f.name])]));
    case 'union': {
      if (v === null) return null;
      const [[name, inner]] = Object.entries(v as object) as [[string, unknown]];
      const branch = s.branches.find((b) => branchName(b) === name)!;
      const c = canonical(branch, inner);
      return { union: branch.kind === 'int' ? BigInt(c as number) : c };
    }
    default:
      return v;
  }
}

test('random schemas and values: heaplake decodes what avsc decodes', async () => {
  const rand = prng(20261127);
  let checkedRows = 0;
  for (let i = 0; i < 60; i++) {
    const schemaJson = new SchemaGen(rand).record(0);
    const schema = parseSchema(schemaJson);
    const values = Array.from({ length: 1 + Math.floor(rand() * 60) }, () => randomValue(schema, rand));
    const codec = ['null', 'deflate', 'snappy'][i % 3]!;
    const file = await writeAvro(schemaJson, values, { codec, blockSize: 256 + Math.floor(rand() * 2048), wrapUnions: true });
    // avsc's own reading of the same bytes is the oracle
    const oracle = await avscDecodeFile(file, { wrapUnions: true });
    const { batches } = await readAvroBatches([file], { batch: { maxRows: 1 + Math.floor(rand() * 40) } });
    const ours: unknown[] = [];
    for (const b of batches) {
      for (let r = 0; r < b.numRows; r++) {
        if (schema.kind !== 'record') throw new Error('records only');
        ours.push(Object.fromEntries(schema.fields.map((f, k) => [f.name, actualValue(f.type, b.data.children[k]!, r)])));
      }
    }
    assert.equal(ours.length, values.length, `schema ${i}: row count`);
    for (let r = 0; r < ours.length; r++) {
      assert.deepStrictEqual(ours[r], canonical(schema, oracle[r]), `schema ${i} (${JSON.stringify(schemaJson)}) row ${r}`);
    }
    checkedRows += ours.length;
  }
  assert.ok(checkedRows > 500, `checked ${checkedRows} rows`);
});
