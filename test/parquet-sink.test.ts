/**
 * The Parquet sink's two shortcuts: IPC bytes joined into a reused buffer, and dictionary
 * encoding left out for nearly unique columns. Files are read back with hyparquet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Int64, Utf8, Field, Schema, RecordBatch, makeData, Struct, tableFromIPC, vectorFromArray, tableToIPC, Table } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ipcStream, writeParquetFile } from '../src/sink/parquet.js';
import { nearlyUniqueColumns } from '../src/sink/dictionary-choice.js';
import { prng } from '../scripts/heap-like.js';

function batchOf(columns: Record<string, { type: Utf8 | Int64 | Int32; values: unknown[] }>): RecordBatch {
  const fields = Object.entries(columns).map(([name, c]) => new Field(name, c.type, true));
  const children = Object.values(columns).map((c) => vectorFromArray(c.values, c.type).data[0]!);
  const schema = new Schema(fields);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: children[0]!.length, nullCount: 0, children }));
}

const N = 20_000;
const sample = () =>
  batchOf({
    id: { type: new Int64(), values: Array.from({ length: N }, (_, i) => 9_007_199_254_740_993n + BigInt(i) * 7919n) },
    url: { type: new Utf8(), values: Array.from({ length: N }, (_, i) => (i % 10 === 0 ? null : `https://example.com/p?q=${i}`)) },
    country: { type: new Utf8(), values: Array.from({ length: N }, (_, i) => ['US', 'FR', 'DE', null][i % 4]) },
    tier: { type: new Int32(), values: Array.from({ length: N }, (_, i) => i % 5) },
    // 5,000 values over 20,000 rows: repeats, but far from nearly unique in the sample
    visitor: { type: new Int64(), values: Array.from({ length: N }, (_, i) => BigInt((i * 7) % 5000)) },
  });

test('the IPC bytes of a batch are Arrow IPC, written into one reused buffer', () => {
  const a = sample();
  const first = ipcStream(a);
  // byte for byte what Arrow's own tableToIPC writes, and read back the same
  assert.deepEqual(Buffer.from(first), Buffer.from(tableToIPC(new Table([a]), 'stream')));
  assert.deepEqual(tableFromIPC(first).getChild('id')!.toArray(), new Table([a]).getChild('id')!.toArray());
  const small = batchOf({ x: { type: new Int32(), values: [1, 2, 3] } });
  const second = ipcStream(small);
  // the direct path: the second call reuses the first one's memory (the fallback would not)
  assert.equal(second.buffer, first.buffer);
  assert.deepEqual(tableFromIPC(second).getChild('x')!.toArray(), Int32Array.of(1, 2, 3));
});

test('the dictionary choice tells nearly unique int32 columns from repetitive ones', () => {
  // values drawn from n equally common ones in 128 Ki rows: the sample of 4,096 shows ~93 %
  // distinct for 30,000 and ~85 % for 12,000 (small integers: before their hash was mixed,
  // 2k and 2k + 1 counted as one value and 30,000 looked like 15,000)
  const r = prng(7);
  const rows = 1 << 17;
  const drawn = (n: number) => Array.from({ length: rows }, () => Math.floor(r() * n));
  const batch = batchOf({
    n500: { type: new Int32(), values: drawn(500) },
    n5000: { type: new Int32(), values: drawn(5000) },
    n12000: { type: new Int32(), values: drawn(12000) },
    n30000: { type: new Int32(), values: drawn(30000) },
    unique: { type: new Int32(), values: Array.from({ length: rows }, (_, i) => i) },
    // repetitive in its first tenth only (~92 % distinct in the whole sample): the first 512
    // values, which may settle a column early, are spread over the batch, not its first eighth
    clustered: { type: new Int32(), values: Array.from({ length: rows }, (_, i) => (i < rows / 10 ? i % 100 : i)) },
  });
  assert.deepEqual(nearlyUniqueColumns(batch), ['n30000', 'unique', 'clustered']);
});

test('nearly unique columns are written without a dictionary, the others with one', async () => {
  const batch = sample();
  assert.deepEqual(nearlyUniqueColumns(batch), ['id', 'url']);
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-sink-'));
  try {
    const path = join(dir, 'x.parquet');
    await writeParquetFile(path, batch.schema, (async function* () {
      yield batch;
      yield sample();
    })());
    const bytes = readFileSync(path);
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const encodings = new Map(meta.row_groups[0]!.columns.map((c) => [c.meta_data!.path_in_schema.join('.'), c.meta_data!.encodings]));
    for (const name of ['id', 'url']) assert.ok(!encodings.get(name)!.includes('RLE_DICTIONARY'), `${name}: ${encodings.get(name)}`);
    for (const name of ['country', 'tier', 'visitor']) assert.ok(encodings.get(name)!.includes('RLE_DICTIONARY'), `${name}: ${encodings.get(name)}`);
    // and every value is there
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), compressors });
    assert.equal(rows.length, 2 * N);
    assert.equal(rows[N - 1]!.id, 9_007_199_254_740_993n + BigInt(N - 1) * 7919n);
    assert.equal(rows[N + 11]!.url, 'https://example.com/p?q=11');
    assert.equal(rows[N + 10]!.url, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
