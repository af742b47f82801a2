/**
 * heaplake's own Parquet writer (src/sink/parquet-writer.ts, page-encoder.c), checked by three
 * readers it shares no code with: parquet-wasm (the Rust parquet crate), hyparquet and DuckDB.
 * Every value of every type it writes must come back as written, across row groups that cut
 * batches, pages cut by rows and by bytes, dictionaries that overflow, every codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  Binary,
  Bool,
  DateDay,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int32,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeMicrosecond,
  TimeMillisecond,
  Timestamp,
  TimeUnit,
  Utf8,
  makeData,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DuckDBInstance } from '@duckdb/node-api';
import { chosenWriter, encodeParquetStream, nativeSettings, readParquetBytes, writeParquetFile, type ParquetWriteOptions } from '../src/sink/parquet.js';
import { columnFiles } from '../src/sink/column-files.js';
import { prng } from '../scripts/heap-like.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'heaplake-pw-'));

interface Col {
  type: DataType;
  make: (i: number, r: () => number) => unknown;
}

function batch(columns: Record<string, Col>, rows: number, first: number, seed: number): RecordBatch {
  const r = prng(seed);
  const fields = Object.entries(columns).map(([name, c]) => new Field(name, c.type, true));
  const children = Object.values(columns).map((c) => vectorFromArray(Array.from({ length: rows }, (_, i) => c.make(first + i, r)), c.type as never).data[0]!);
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }));
}

const words = ['', 'a', 'é', 'naïve', '日本語', 'https://example.com/a?b=c', 'x'.repeat(200)];
const I64 = [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 9_007_199_254_740_993n];
const F64 = [NaN, -0, 0, Infinity, -Infinity, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE];

/** Every type the writer takes, with nulls, extremes and repeats. */
const EVERY_TYPE: Record<string, Col> = {
  b: { type: new Bool(), make: (i, r) => (i % 7 === 3 ? null : r() < 0.5) },
  i32: { type: new Int32(), make: (i, r) => (i % 5 === 0 ? null : [-(2 ** 31), 2 ** 31 - 1, 0, Math.floor(r() * 1000)][i % 4]) },
  i64: { type: new Int64(), make: (i, r) => (i % 11 === 0 ? null : i % 3 === 0 ? I64[i % I64.length] : BigInt(Math.floor(r() * 2 ** 40)) * 4099n) },
  f32: { type: new Float32(), make: (i, r) => (i % 9 === 0 ? null : i % 4 === 0 ? F64[i % F64.length] : Math.fround(r() * 100 - 50)) },
  f64: { type: new Float64(), make: (i, r) => (i % 6 === 0 ? null : i % 5 === 0 ? F64[i % F64.length] : r() * 1e6) },
  s: { type: new Utf8(), make: (i, r) => (i % 4 === 0 ? null : words[Math.floor(r() * words.length)]) },
  unique: { type: new Utf8(), make: (i) => `user-${i}-${'q'.repeat(i % 40)}` },
  bin: { type: new Binary(), make: (i) => (i % 3 === 0 ? null : Uint8Array.of(i & 255, 0, 255, (i >> 8) & 255)) },
  day: { type: new DateDay(), make: (i) => (i % 8 === 0 ? null : new Date(Date.UTC(2026, 0, 1) + (i % 400) * 86_400_000)) },
  ms: { type: new TimeMillisecond(), make: (i) => (i % 8 === 1 ? null : (i * 997) % 86_400_000) },
  us: { type: new TimeMicrosecond(), make: (i) => (i % 8 === 2 ? null : BigInt(i) * 1_000_003n) },
  ts: { type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), make: (i) => (i % 10 === 0 ? null : 1_780_000_000_000 + i * 13) },
  local: { type: new Timestamp(TimeUnit.MILLISECOND), make: (i) => 1_780_000_000_000 + i },
  empty: { type: new Utf8(), make: () => null },
  path: { type: new Utf8(), make: (i) => `/p/${'x'.repeat(70)}${i % 50}` },
};

async function bytesOf(readable: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readable) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

async function write(batches: RecordBatch[], options: ParquetWriteOptions = {}): Promise<Buffer> {
  async function* all() {
    yield* batches;
  }
  return bytesOf(await encodeParquetStream(batches[0]!.schema, all(), { writer: 'heaplake', ...options }));
}

/** A value as text, the same whichever reader gave it. */
function norm(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  return String(v);
}

function assertSameTable(back: Table, batches: RecordBatch[]): void {
  const source = new Table(batches);
  assert.equal(back.numRows, source.numRows);
  assert.equal(back.schema.toString(), source.schema.toString(), 'the Arrow schema comes back');
  for (const f of source.schema.fields) {
    const a = source.getChild(f.name)!;
    const b = back.getChild(f.name)!;
    for (let i = 0; i < source.numRows; i++) {
      if (norm(a.get(i)) !== norm(b.get(i))) assert.fail(`${f.name} row ${i}: wrote ${norm(a.get(i))}, read ${norm(b.get(i))}`);
    }
  }
}

test('every column type round-trips through parquet-wasm, across row groups that cut batches and pages of every size', async () => {
  // 3 batches of 25,000 rows into row groups of 30,000: groups cut batches, pages cut at 20,000 rows
  const batches = [0, 1, 2].map((k) => batch(EVERY_TYPE, 25_000, k * 25_000, k + 1));
  const bytes = await write(batches, { rowGroupRows: 30_000 });
  assertSameTable(readParquetBytes(bytes), batches);
  const meta = parquetMetadata((bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer));
  assert.deepEqual(meta.row_groups.map((g) => Number(g.num_rows)), [30_000, 30_000, 15_000]);
  assert.equal(meta.created_by, 'heaplake');
});

test('columns that are slices at any offset (a regrouped partition cut into output batches) are written as their own rows', async () => {
  // one long batch, cut at offsets that are not multiples of 8 (bitmaps start mid-byte) into
  // batches whose children are each a slice, as a reduce task's outputBatches makes them
  const whole = batch(EVERY_TYPE, 20_011, 0, 21);
  // (the first batch is long: the dictionary choice is a sample of a file's first batch)
  const cuts = [0, 5_003, 5_004, 9_999, 13_001, 20_011];
  const fields = whole.schema.fields;
  const sliced = cuts.slice(1).map((end, k) => {
    const start = cuts[k]!;
    const children = whole.data.children.map((d) => d.slice(start, end - start));
    return new RecordBatch(whole.schema, makeData({ type: new Struct(fields), length: end - start, nullCount: 0, children }));
  });
  assert.ok(sliced.some((b) => b.data.children.every((d) => d.offset % 8 !== 0)), 'some batch starts mid-byte');
  const bytes = await write(sliced, { rowGroupRows: 7_000, compression: 'snappy' });
  assertSameTable(readParquetBytes(bytes), [whole]);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file: buffer, compressors, utf8: true })) as Record<string, unknown>[];
  assert.equal(rows.length, whole.numRows);
  // (bin is left to the parquet-wasm readback above: with utf8, hyparquet hands it back as a string)
  const asMs = (v: unknown) => norm(v instanceof Date ? v.getTime() : v);
  for (const name of ['b', 'i64', 's', 'day', 'ts']) {
    const col = whole.getChild(name)!;
    for (let i = 0; i < rows.length; i++) {
      if (asMs(rows[i]![name]) !== asMs(col.get(i))) assert.fail(`${name} row ${i}: wrote ${asMs(col.get(i))}, hyparquet read ${asMs(rows[i]![name])}`);
    }
  }
  // the same rows written unsliced are the same file
  assert.ok(bytes.equals(await write([whole], { rowGroupRows: 7_000, compression: 'snappy' })), 'slices and the whole batch give the same bytes');
});

function columnFilesOf(whole: RecordBatch, ranges: readonly (readonly [number, number])[], settingsOf: (s: Schema) => Parameters<typeof columnFiles>[2], sample: number): Uint8Array[][] {
  const files = columnFiles(whole.schema, ranges.map(([a, b]) => b - a), settingsOf(whole.schema), sample);
  whole.data.children.forEach((d, c) => files.add(c, ranges.map(([a, b]) => d.slice(a, b - a))));
  return ranges.map((_, f) => files.take(f));
}

test('files written a column at a time (column-files.ts, a reduce task\'s way) are the bytes the row-by-row writer makes, and read back', async () => {
  // columns whose dictionary choice differs by file, and one repetitive in its first rows only:
  // its dictionary is wanted and overflows in a later row group (the rest of the file goes PLAIN)
  const cols: Record<string, Col> = {
    ...EVERY_TYPE,
    late: { type: new Utf8(), make: (i) => (i % 30_000 < 7_000 ? 'same' : `${String(i).padStart(9, '0')}${'w'.repeat(190)}`) },
  };
  const SAMPLE = 7_000;
  const settingsOf = (schema: Schema) => nativeSettings(schema, { rowGroupRows: 10_000, compression: 'snappy' }, [])!;
  // several files of one schema, each a slice at an odd offset of one long batch (a regrouped partition)
  const whole = batch(cols, 61_003, 0, 5);
  const ranges = [
    [0, 1],
    [1, 9_999],
    [10_001, 30_000],
    [30_000, 61_003],
  ] as const;
  const written = columnFilesOf(whole, ranges, settingsOf, SAMPLE);
  for (const [f, [a, b]] of ranges.entries()) {
    const got = Buffer.concat(written[f]!);
    // the row path: the file's rows as batches of SAMPLE rows (its first batch picks the dictionaries)
    const batches: RecordBatch[] = [];
    for (let at = a; at < b; at += SAMPLE) {
      const n = Math.min(SAMPLE, b - at);
      batches.push(new RecordBatch(whole.schema, makeData({ type: new Struct(whole.schema.fields), length: n, nullCount: 0, children: whole.data.children.map((d) => d.slice(at, n)) })));
    }
    const want = await write(batches, { rowGroupRows: 10_000, compression: 'snappy' });
    assert.ok(got.equals(want), `file ${f} (${b - a} rows): ${got.length} bytes, the row path ${want.length}`);
    assertSameTable(readParquetBytes(got), batches);
  }
  // the last file: 'late' keeps its dictionary in row group 0, overflows in 1, and 2 and 3 go PLAIN at once
  const last = Buffer.concat(written.at(-1)!);
  const meta = parquetMetadata(last.buffer.slice(last.byteOffset, last.byteOffset + last.length) as ArrayBuffer);
  const late = meta.row_groups.map((g) => g.columns.find((c) => c.meta_data!.path_in_schema[0] === 'late')!.meta_data!.encodings.join(','));
  assert.deepEqual(late, ['PLAIN,RLE,RLE_DICTIONARY', 'PLAIN,RLE', 'PLAIN,RLE', 'PLAIN,RLE']);
  const partial = columnFiles(whole.schema, [5], settingsOf(whole.schema), SAMPLE);
  assert.throws(() => partial.take(0), /not complete/, 'a file is complete only with every column');
  assert.throws(() => partial.add(1, [whole.data.children[1]!.slice(0, 5)]), /column 1 given, column 0/);
  assert.throws(() => partial.add(0, [whole.data.children[0]!.slice(0, 4)]), /4 rows, the file 5/);
  // a column whose buffers are not laid out as the file stores it (Int64 for a Bool column) is refused, not written as garbage
  assert.throws(() => columnFiles(whole.schema, [5], settingsOf(whole.schema), SAMPLE).add(0, [whole.data.children[2]!.slice(0, 5)]), /column "b": data of type Int64 given for a column stored as another type/);
});

test('hyparquet reads the same values, and the statistics hold the true min, max and null count', async () => {
  const batches = [batch(EVERY_TYPE, 9_000, 0, 7), batch(EVERY_TYPE, 4_000, 9_000, 8)];
  const bytes = await write(batches, { rowGroupRows: 10_000, compression: 'snappy' });
  const buffer = (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  const rows = (await parquetReadObjects({ file: buffer, compressors, utf8: true })) as Record<string, unknown>[];
  const source = new Table(batches);
  assert.equal(rows.length, source.numRows);
  for (const name of ['b', 'i32', 'i64', 'f64', 's', 'unique', 'us']) {
    const col = source.getChild(name)!;
    for (let i = 0; i < rows.length; i++) {
      const want = norm(col.get(i));
      if (norm(rows[i]![name]) !== want) assert.fail(`${name} row ${i}: wrote ${want}, hyparquet read ${norm(rows[i]![name])}`);
    }
  }
  // statistics of the first row group, against the values themselves
  const meta = parquetMetadata(buffer);
  const group = meta.row_groups[0]!;
  const first = source.slice(0, 10_000);
  const stats = (name: string) => group.columns.find((c) => c.meta_data!.path_in_schema[0] === name)!.meta_data!.statistics!;
  const present = (name: string) => [...first.getChild(name)!].filter((v) => v !== null);
  const i64 = present('i64') as bigint[];
  assert.equal(stats('i64').min_value, i64.reduce((a, b) => (b < a ? b : a)));
  assert.equal(stats('i64').max_value, i64.reduce((a, b) => (b > a ? b : a)));
  assert.equal(Number(stats('i64').null_count), 10_000 - i64.length);
  const f64 = (present('f64') as number[]).filter((v) => !Number.isNaN(v));
  assert.equal(stats('f64').min_value, Math.min(...f64));
  assert.equal(stats('f64').max_value, Math.max(...f64));
  const s = (present('s') as string[]).map((v) => Buffer.from(v));
  const sorted = s.sort(Buffer.compare);
  assert.equal(stats('s').min_value, sorted[0]!.toString());
  assert.equal(stats('s').max_value, sorted[sorted.length - 1]!.toString());
  // a string stat longer than 64 bytes is left out, never cut
  assert.equal(stats('path').min_value, undefined);
  assert.equal(stats('path').max_value, undefined);
  assert.equal(Number(stats('empty').null_count), 10_000);
  assert.equal(stats('empty').min_value, undefined);
});

test('DuckDB reads the file: counts, sums and distinct values agree with the data', async () => {
  const dir = tmp();
  try {
    const batches = [batch(EVERY_TYPE, 50_000, 0, 3)];
    const path = join(dir, 'x.parquet');
    await writeParquetFile(path, batches[0]!.schema, (async function* () { yield* batches; })(), { writer: 'heaplake', rowGroupRows: 16_384 });
    assert.equal(chosenWriter(batches[0]!.schema), 'heaplake');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const got = (await c.runAndReadAll(`SELECT count(*) AS n, count(i64) AS i64s, sum(i32)::BIGINT AS i32sum, count(DISTINCT s) AS words, count(DISTINCT "unique") AS uniq, sum(CASE WHEN b THEN 1 ELSE 0 END)::BIGINT AS trues, max(length(s)) AS longest, min(day)::VARCHAR AS firstday FROM '${path}'`)).getRowObjects()[0]!;
    const t = new Table(batches);
    const vals = (name: string) => [...t.getChild(name)!].filter((v) => v !== null);
    assert.equal(Number(got['n']), 50_000);
    assert.equal(Number(got['i64s']), vals('i64').length);
    assert.equal(BigInt(got['i32sum'] as bigint), (vals('i32') as number[]).reduce((a, b) => a + BigInt(b), 0n));
    assert.equal(Number(got['words']), new Set(vals('s')).size);
    assert.equal(Number(got['uniq']), 50_000);
    assert.equal(Number(got['trues']), vals('b').filter((v) => v === true).length);
    assert.equal(Number(got['longest']), 200);
    assert.equal(got['firstday'], '2026-01-02'); // row 0's day is null
    const sumI64 = (await c.runAndReadAll(`SELECT sum(i64::HUGEINT)::VARCHAR AS s FROM '${path}'`)).getRowObjects()[0]!['s'];
    assert.equal(sumI64, (vals('i64') as bigint[]).reduce((a, b) => a + b, 0n).toString(), 'int64 values exact, extremes included');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a dictionary that would pass 1 MiB falls back to PLAIN for the chunk and the rest of the file; strings cut pages by bytes', async () => {
  // 40,000 distinct 100-byte strings: 4 MB of values, and a repetitive column that keeps its dictionary
  const cols: Record<string, Col> = {
    long: { type: new Utf8(), make: (i) => `${String(i).padStart(8, '0')}${'z'.repeat(92)}` },
    few: { type: new Utf8(), make: (i) => ['a', 'b', 'c'][i % 3] },
    huge: { type: new Utf8(), make: (i) => (i === 5 ? 'h'.repeat(3 * 1024 * 1024) : 'k') },
  };
  const batches = [batch(cols, 40_000, 0, 1), batch(cols, 40_000, 40_000, 2)];
  const bytes = await write(batches, { rowGroupRows: 40_000, compression: 'none' });
  assertSameTable(readParquetBytes(bytes), batches);
  const meta = parquetMetadata((bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer));
  const enc = (g: number, name: string) => meta.row_groups[g]!.columns.find((c) => c.meta_data!.path_in_schema[0] === name)!.meta_data!;
  assert.deepEqual(enc(0, 'few').encodings, ['PLAIN', 'RLE', 'RLE_DICTIONARY']);
  assert.deepEqual(enc(0, 'long').encodings, ['PLAIN', 'RLE']);
  assert.equal(enc(0, 'long').dictionary_page_offset, undefined);
  assert.deepEqual(enc(1, 'long').encodings, ['PLAIN', 'RLE']);
  // 4 MB of PLAIN values in pages of at most 1 MiB: more than four pages (each page header counts)
  assert.ok(Number(enc(0, 'long').total_uncompressed_size) > 40_000 * 104);
});

test('every codec the writer takes reads back; an empty input is a valid file with the schema', async () => {
  const batches = [batch(EVERY_TYPE, 3_000, 0, 9)];
  for (const compression of ['zstd', 'snappy', 'gzip', 'brotli', 'none'] as const) {
    assert.equal(chosenWriter(batches[0]!.schema, { compression }), 'heaplake', compression);
    assertSameTable(readParquetBytes(await write(batches, { compression })), batches);
  }
  const schema = batches[0]!.schema;
  const empty = await bytesOf(await encodeParquetStream(schema, (async function* () {})(), { writer: 'heaplake' }));
  const back = readParquetBytes(empty);
  assert.equal(back.numRows, 0);
  assert.equal(back.schema.toString(), schema.toString());
});

test('tables the writer does not take go to parquet-wasm, and so do files it is told to leave', async () => {
  const fixed = new Schema([new Field('f', new FixedSizeBinary(4), true)]);
  assert.equal(chosenWriter(fixed), 'parquet-wasm');
  assert.equal(chosenWriter(new Schema([new Field('s', new Timestamp(TimeUnit.SECOND), true)])), 'parquet-wasm');
  const plain = new Schema([new Field('s', new Utf8(), true)]);
  assert.equal(chosenWriter(plain, { compression: 'lz4' }), 'parquet-wasm');
  assert.equal(chosenWriter(plain, { writer: 'parquet-wasm' }), 'parquet-wasm');
  // the same rows through both writers read back the same
  const batches = [batch(EVERY_TYPE, 5_000, 0, 4)];
  const ours = readParquetBytes(await write(batches));
  const theirs = readParquetBytes(await write(batches, { writer: 'parquet-wasm' }));
  assertSameTable(ours, batches);
  assertSameTable(theirs, batches);
});

test('the key/value metadata and the lake field ids are kept, and a file is the same bytes every time', async () => {
  const plain = batch(EVERY_TYPE, 2_000, 0, 5);
  // the lake schema's stable ids (schema/merge.ts) ride on the Arrow fields
  const schema = new Schema(plain.schema.fields.map((f, k) => new Field(f.name, f.type, true, new Map([['PARQUET:field_id', String(100 + k)]]))));
  const batches = [new RecordBatch(schema, plain.data)];
  const metadata = new Map([['b', '2'], ['a', '1']]);
  const one = await write(batches, { metadata });
  const two = await write(batches, { metadata });
  assert.ok(one.equals(two), 'deterministic bytes');
  const meta = parquetMetadata((one.buffer.slice(one.byteOffset, one.byteOffset + one.length) as ArrayBuffer));
  const kv = new Map(meta.key_value_metadata!.map((e) => [e.key, e.value]));
  assert.equal(kv.get('heaplake'), JSON.stringify({ a: '1', b: '2' }));
  assert.ok(kv.get('ARROW:schema'), 'the Arrow schema is stored as parquet-rs stores it');
  assert.deepEqual(meta.schema.slice(1).map((e) => e.field_id), schema.fields.map((_, k) => 100 + k));
  // and it is read from a real file written through the sink
  const dir = tmp();
  try {
    const path = join(dir, 'm.parquet');
    await writeParquetFile(path, batches[0]!.schema, (async function* () { yield* batches; })(), { metadata });
    assert.ok(readFileSync(path).equals(one));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
