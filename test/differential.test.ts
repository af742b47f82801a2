/**
 * Differential test: random schemas and values are written by avsc (an independent encoder),
 * read back by avsc (BigInt longs) and by heaplake's columnar decoder; both must agree on
 * every value, including longs beyond 2^53, floats, unicode and nested collections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableToIPC, Table, type RecordBatch } from 'apache-arrow';
import { openAvro, readAvroBatches, type AvroReadOptions } from '../src/columnar/read-avro.js';
import { RecordDecoder, compileWriterSchema, pooledKernelBytes } from '../src/columnar/record-decoder.js';
import { HeaplakeError } from '../src/errors.js';
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
  /** A record of flat fields only (what the WebAssembly kernel decodes), with logical types and wide fixed sizes. */
  flatRecord(): Record<string, unknown> {
    const prims = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'];
    // (a logical long would bypass the test writer's BigInt long type)
    const logical = [{ type: 'int', logicalType: 'date' }, { type: 'int', logicalType: 'time-millis' }, { type: 'string', logicalType: 'uuid' }];
    const one = (): unknown => {
      const r = this.rand();
      if (r < 0.55) return prims[this.int(prims.length)];
      if (r < 0.7) return logical[this.int(logical.length)];
      if (r < 0.8) return { type: 'enum', name: `E${this.names++}`, symbols: ['A', 'B', 'C', 'D'].slice(0, 1 + this.int(4)) };
      return { type: 'fixed', name: `F${this.names++}`, size: 1 + this.int(24) };
    };
    const n = 1 + this.int(12);
    const fields = Array.from({ length: n }, (_, i) => {
      let type = one();
      if (type !== 'null' && this.rand() < 0.5) type = this.rand() < 0.5 ? ['null', type] : [type, 'null'];
      return { name: `f${i}`, type };
    });
    return { type: 'record', name: `R${this.names++}`, fields };
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

function rowsOf(schema: AvroSchema, batches: readonly RecordBatch[]): unknown[] {
  if (schema.kind !== 'record') throw new Error('records only');
  const rows: unknown[] = [];
  for (const b of batches) {
    for (let r = 0; r < b.numRows; r++) rows.push(Object.fromEntries(schema.fields.map((f, k) => [f.name, actualValue(f.type, b.data.children[k]!, r)])));
  }
  return rows;
}

/** A typed error as comparable data (anything else is thrown on). */
function errorRecord(err: unknown): { code: string; message: string; context: unknown } {
  if (!(err instanceof HeaplakeError)) throw err;
  return { code: err.code, message: err.message, context: err.context };
}

/** A read's outcome: its batches as Arrow IPC bytes, or its error's code, message and context. */
async function outcome(file: Uint8Array, options: AvroReadOptions): Promise<{ engine?: string; ipc?: Uint8Array; error?: unknown }> {
  try {
    const { batches, reader } = await readAvroBatches([file], options);
    return { engine: reader.engine, ipc: tableToIPC(new Table(reader.schema, batches)) };
  } catch (err) {
    return { error: errorRecord(err) };
  }
}

/** Every batch of one block, the last one flushed. */
function decodeAll(decoder: RecordDecoder, block: Uint8Array, count: number): RecordBatch[] {
  const batches = decoder.decodeBlock(block, count);
  const last = decoder.flush();
  if (last) batches.push(last);
  return batches;
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
    const ours = rowsOf(schema, batches);
    assert.equal(ours.length, values.length, `schema ${i}: row count`);
    for (let r = 0; r < ours.length; r++) {
      assert.deepStrictEqual(ours[r], canonical(schema, oracle[r]), `schema ${i} (${JSON.stringify(schemaJson)}) row ${r}`);
    }
    checkedRows += ours.length;
  }
  assert.ok(checkedRows > 500, `checked ${checkedRows} rows`);
});

test('flat random schemas: the WebAssembly kernel decodes what avsc decodes, byte for byte what the JavaScript decoder builds', async () => {
  const rand = prng(20261128);
  let checkedRows = 0;
  for (let i = 0; i < 40; i++) {
    const schemaJson = new SchemaGen(rand).flatRecord();
    const schema = parseSchema(schemaJson);
    const values = Array.from({ length: 1 + Math.floor(rand() * 300) }, () => randomValue(schema, rand));
    const codec = ['null', 'snappy'][i % 2]!;
    const file = await writeAvro(schemaJson, values, { codec, blockSize: 256 + Math.floor(rand() * 4096), wrapUnions: true });
    const batch = { maxRows: 1 + Math.floor(rand() * 200), maxBytes: 64 + Math.floor(rand() * 8192) };
    const oracle = await avscDecodeFile(file, { wrapUnions: true });
    const { batches, reader } = await readAvroBatches([file], { batch });
    assert.equal(reader.engine, 'wasm', `schema ${i} is flat`);
    const ours = rowsOf(schema, batches);
    assert.equal(ours.length, values.length, `schema ${i}: row count`);
    for (let r = 0; r < ours.length; r++) {
      assert.deepStrictEqual(ours[r], canonical(schema, oracle[r]), `schema ${i} (${JSON.stringify(schemaJson)}) row ${r}`);
    }
    const js = await outcome(file, { batch, engine: 'js' });
    assert.equal(js.engine, 'js');
    assert.deepStrictEqual(tableToIPC(new Table(reader.schema, batches)), js.ipc, `schema ${i}: the two engines' batches differ`);
    checkedRows += ours.length;
  }
  assert.ok(checkedRows > 3000, `checked ${checkedRows} rows`);
});

test('flat schemas, corrupted bytes: the kernel accepts and rejects exactly what the JavaScript decoder does', async () => {
  const rand = prng(7);
  let rejected = 0;
  let accepted = 0;
  for (let i = 0; i < 12; i++) {
    const schemaJson = new SchemaGen(rand).flatRecord();
    const schema = parseSchema(schemaJson);
    const values = Array.from({ length: 80 }, () => randomValue(schema, rand));
    const file = await writeAvro(schemaJson, values, { codec: 'null', blockSize: 1024, wrapUnions: true });
    const headerEnd = file.indexOf('"}', file.indexOf('avro.schema')) + 40; // past the schema, roughly: mutate block bytes
    for (let m = 0; m < 40; m++) {
      const bad = Uint8Array.from(file);
      for (let j = 0; j < 1 + Math.floor(rand() * 3); j++) {
        const at = headerEnd + Math.floor(rand() * (bad.length - headerEnd));
        // small values are the interesting ones for varints, union indices, booleans and lengths
        bad[at] = rand() < 0.5 ? Math.floor(rand() * 256) : [0, 1, 2, 3, 0x7f, 0x80, 0xff][Math.floor(rand() * 7)]!;
      }
      const wasm = await outcome(bad, {});
      const js = await outcome(bad, { engine: 'js' });
      assert.deepStrictEqual({ ...wasm, engine: undefined }, { ...js, engine: undefined }, `schema ${i} mutation ${m}`);
      if (wasm.error) rejected++;
      else accepted++;
    }
  }
  assert.ok(rejected > 100 && accepted > 20, `rejected ${rejected}, accepted ${accepted}`);
});

test('the kernel grows its string regions mid-row: values up to 300 KiB, batches bounded by rows and bytes', async () => {
  const schemaJson = { type: 'record', name: 'Big', fields: [
    { name: 'id', type: 'long' },
    { name: 'a', type: ['null', 'string'] },
    { name: 'b', type: 'bytes' },
    { name: 'c', type: ['string', 'null'] },
  ] };
  const rand = prng(11);
  const text = (n: number) => 'ab\u00e9\u6771'.repeat(Math.ceil(n / 4)).slice(0, n);
  const values = Array.from({ length: 60 }, (_, i) => ({
    id: BigInt(i) * 2n ** 56n + 1n,
    a: i % 5 === 0 ? null : { string: text(Math.floor(rand() ** 3 * 300_000)) },
    b: Buffer.alloc(Math.floor(rand() * 70_000), i),
    c: i % 7 === 0 ? null : { string: text(Math.floor(rand() * 100)) },
  }));
  const file = await writeAvro(schemaJson, values, { codec: 'null', blockSize: 1 << 20, wrapUnions: true });
  for (const batch of [{}, { maxRows: 7 }, { maxBytes: 200_000 }]) {
    const wasm = await outcome(file, { batch });
    const js = await outcome(file, { batch, engine: 'js' });
    assert.equal(wasm.engine, 'wasm');
    assert.ok(wasm.ipc && js.ipc);
    assert.deepStrictEqual(wasm.ipc, js.ipc, JSON.stringify(batch));
  }
  const { batches } = await readAvroBatches([file], { batch: { maxRows: 7 } });
  const schema = parseSchema(schemaJson);
  const oracle = await avscDecodeFile(file, { wrapUnions: true });
  assert.deepStrictEqual(rowsOf(schema, batches), oracle.map((v) => canonical(schema, v)));
});

/** Decodes one block with the given engine: its batches as IPC bytes, or its error. */
function decodeBlockWith(engine: 'auto' | 'js', schemaJson: unknown, block: Uint8Array, count: number): { ipc?: Uint8Array; error?: unknown } {
  const { compiled } = compileWriterSchema(JSON.stringify(schemaJson));
  const decoder = new RecordDecoder(compiled, { engine });
  assert.equal(decoder.engine, engine === 'auto' ? 'wasm' : 'js');
  try {
    return { ipc: tableToIPC(new Table(decoder.schema, decodeAll(decoder, block, count))) };
  } catch (err) {
    return { error: errorRecord(err) };
  }
}

test('flat schemas at the edges: every truncation of a block, and 10- and 11-byte longs, fail or pass alike on both engines', async () => {
  const schemaJson = { type: 'record', name: 'Edge', fields: [
    { name: 'id', type: 'long' },
    { name: 's', type: ['null', 'string'] },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
    { name: 'f', type: ['null', { type: 'fixed', name: 'F', size: 3 }] },
    { name: 'd', type: 'double' },
    { name: 'b', type: ['boolean', 'null'] },
    { name: 'i', type: 'int' },
    { name: 'y', type: 'bytes' },
  ] };
  const schema = parseSchema(schemaJson);
  const rand = prng(99);
  const values = Array.from({ length: 6 }, () => randomValue(schema, rand));
  const file = await writeAvro(schemaJson, values, { codec: 'null', blockSize: 1 << 16, wrapUnions: true });
  // the one block's data: the reader's framing gives it
  const reader = await openAvro([file]);
  let block: Uint8Array | undefined;
  for await (const b of reader.blocks()) block = b.data.slice();
  assert.ok(block && block.length > 40);
  let errors = 0;
  for (let cut = 0; cut <= block.length; cut++) {
    const data = block.subarray(0, cut);
    const wasm = decodeBlockWith('auto', schemaJson, data, values.length);
    assert.deepStrictEqual(wasm, decodeBlockWith('js', schemaJson, data, values.length), `block cut at ${cut} of ${block.length}`);
    if (wasm.error) errors++;
  }
  assert.equal(errors, block.length, 'every truncation fails, the whole block decodes');

  // longs of 10 bytes (the 10th may carry only bit 63) and 11 bytes, then an empty string column etc.
  // the other fields: s null, e = B, f null, d = 0.0, b = false ([boolean, null] branch 0, then 0), i = 0, y empty
  const rest = Uint8Array.from([0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00]);
  const longs: number[][] = [
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
  ];
  const outcomes: string[] = [];
  for (const long of longs) {
    const data = Uint8Array.from([...long, ...rest]);
    const wasm = decodeBlockWith('auto', schemaJson, data, 1);
    assert.deepStrictEqual(wasm, decodeBlockWith('js', schemaJson, data, 1), `long ${Buffer.from(long).toString('hex')}`);
    outcomes.push(wasm.error ? (wasm.error as { code: string }).code : 'ok');
  }
  assert.deepStrictEqual(outcomes, ['ok', 'ok', 'AVRO_BAD_VALUE', 'AVRO_BAD_VALUE', 'ok']);
});

test('kernel pool: kernels of schemas that left the compile cache leave the pool\'s byte count, so the pool keeps working (300 schemas, a cache of 64)', () => {
  const schema = (i: number) => JSON.stringify({ type: 'record', name: `pool${i}`, fields: [{ name: `f${i}`, type: 'long' }] });
  const decodeOnce = (i: number) => {
    const decoder = new RecordDecoder(compileWriterSchema(schema(i)).compiled);
    assert.equal(decoder.engine, 'wasm');
    const batches = decodeAll(decoder, Uint8Array.of(2 * (i % 60)), 1); // zigzag: one byte
    assert.equal(batches.reduce((n, b) => n + b.numRows, 0), 1);
    decoder.close(); // the kernel goes back to its schema's pool
  };
  // 300 schemas of ~1 MiB kernels: more than the pool's 128 MiB if evicted ones were still counted
  for (let i = 0; i < 300; i++) decodeOnce(i);
  const pooled = pooledKernelBytes();
  // the latest schema's kernel was pooled: a new decoder of it takes it out again
  const decoder = new RecordDecoder(compileWriterSchema(schema(299)).compiled);
  assert.ok(pooledKernelBytes() < pooled, `no kernel taken from a pool holding ${pooled} bytes`);
  decoder.close();
});

test('a decoder that failed never hands its kernel back: closing it after the error leaves the next decoder of the schema clean', () => {
  const schemaJson = { type: 'record', name: 'Failed', fields: [{ name: 'a', type: ['null', 'long'] }, { name: 'b', type: ['null', 'boolean'] }] };
  // two rows with values (validity and value bits set), then a union index that is no branch
  const bad = Uint8Array.from([0x02, 0x04, 0x02, 0x01, 0x02, 0x06, 0x02, 0x01, 0x08]);
  const { compiled } = compileWriterSchema(JSON.stringify(schemaJson));
  const failed = new RecordDecoder(compiled);
  assert.throws(() => failed.decodeBlock(bad, 3), (e: unknown) => e instanceof HeaplakeError);
  failed.close(); // against the contract, but it must not poison the pool
  // two null rows: no validity or value bit may survive from the failed rows
  const nulls = Uint8Array.from([0x00, 0x00, 0x00, 0x00]);
  assert.deepStrictEqual(decodeBlockWith('auto', schemaJson, nulls, 2), decodeBlockWith('js', schemaJson, nulls, 2));
});
