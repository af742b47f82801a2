/**
 * The command line, run as a user runs it (a child process), and the Parquet it writes read
 * back with an independent reader (hyparquet).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { type Data, Type, type DataType } from 'apache-arrow';
import { readAvroBatches } from '../src/columnar/read-avro.js';
import { CONFORMANCE, FIXTURES, ROOT } from './helpers/paths.js';

const work = mkdtempSync(join(tmpdir(), 'heaplake-cli-'));

function heaplake(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Our decoded value, in plain JS: bigint, number, string, latin1 bytes, ms for dates and timestamps. */
function plain(type: DataType, d: Data, i: number): unknown {
  const at = d.offset + i;
  if (d.typeId !== Type.Null && d.nullCount > 0 && !d.getValid(i)) return null;
  switch (d.typeId) {
    case Type.Null:
      return null;
    case Type.Bool:
      return ((((d.values as Uint8Array)[at >> 3]! >> (at & 7)) & 1) === 1);
    case Type.Int:
    case Type.Float:
      return (d.values as ArrayLike<number | bigint>)[at];
    case Type.Timestamp: {
      const unit = (type as unknown as { unit: number }).unit;
      const v = (d.values as BigInt64Array)[at]!;
      return Number(unit === 1 ? v : unit === 2 ? v / 1000n : v / 1_000_000n);
    }
    case Type.Utf8:
    case Type.Binary: {
      const o = d.valueOffsets as Int32Array;
      const bytes = Buffer.from((d.values as Uint8Array).subarray(o[at]!, o[at + 1]!));
      return d.typeId === Type.Utf8 ? bytes.toString('utf8') : bytes.toString('latin1');
    }
    case Type.Dictionary:
      return d.dictionary!.get((d.values as Int32Array)[at]!);
    case Type.Struct:
      return Object.fromEntries(type.children.map((f, k) => [f.name, plain(f.type, d.children[k]!, at)]));
    case Type.List: {
      const o = d.valueOffsets as Int32Array;
      const item = type.children[0]!.type;
      const out: unknown[] = [];
      for (let k = o[at]!; k < o[at + 1]!; k++) out.push(plain(item, d.children[0]!, k));
      return out;
    }
    default:
      throw new Error(`no plain form for ${String(type)}`);
  }
}

/** hyparquet's value in the same plain form. */
function plainParquet(v: unknown): unknown {
  if (v instanceof Date) return v.getTime();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  if (Array.isArray(v)) return v.map(plainParquet);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainParquet(x)]));
  return v;
}

async function roundTrip(input: string): Promise<void> {
  const out = join(work, `${input.replace(/[^a-z0-9]+/gi, '_')}.parquet`);
  const r = heaplake('convert-file', input, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const { batches, schema } = await readAvroBatches([readFileSync(input)]);
  const ours: unknown[] = [];
  for (const b of batches) for (let i = 0; i < b.numRows; i++) ours.push(Object.fromEntries(schema.fields.map((f, k) => [f.name, plain(f.type, b.data.children[k]!, i)])));
  const file = await asyncBufferFromFile(out);
  const theirs = (await parquetReadObjects({ file, compressors })).map(plainParquet);
  assert.equal(theirs.length, ours.length, `${input}: row count`);
  for (let i = 0; i < ours.length; i++) assert.deepStrictEqual(theirs[i], ours[i], `${input} row ${i}`);
  const metadata = await parquetMetadataAsync(file);
  assert.equal(Number(metadata.num_rows), ours.length);
  const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
  assert.deepStrictEqual([...codecs], ['ZSTD'], 'zstd by default');
}

test('P7: convert-file round trip: hyparquet reads back exactly the rows we decoded', async () => {
  for (const input of [
    join(FIXTURES, 'avro/pageviews.snappy.avro'),
    join(FIXTURES, 'avro/users.deflate.avro'),
    join(CONFORMANCE, 'duckdb-avro/userdata1.avro'),
    join(CONFORMANCE, 'arrow-testing/alltypes_plain.avro'),
    join(CONFORMANCE, 'arrow-testing/nested_records.avro'),
    join(CONFORMANCE, 'arrow-testing/simple_enum.avro'),
    join(CONFORMANCE, 'arrow-testing/list_columns.avro'),
    join(CONFORMANCE, 'duckdb-avro/all_nullable_list.avro'),
  ]) {
    await roundTrip(input);
  }
});

test('convert-file joins several files with one schema, with the chosen codec', async () => {
  const input = join(FIXTURES, 'avro/pageviews.snappy.avro');
  const out = join(work, 'twice.parquet');
  const r = heaplake('convert-file', input, input, '--out', out, '--compression', 'snappy');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4000 rows from 2 file\(s\)/);
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(out));
  assert.equal(Number(metadata.num_rows), 4000);
  assert.equal(metadata.row_groups[0]!.columns[0]!.meta_data?.codec, 'SNAPPY');
});

test('convert-file on bad input: exit 3, the file and offset named, no output left behind', async () => {
  const dir = mkdtempSync(join(work, 'bad-'));
  const truncated = join(dir, 'truncated.avro');
  writeFileSync(truncated, readFileSync(join(FIXTURES, 'avro/pageviews.snappy.avro')).subarray(0, 200_000));
  const out = join(dir, 'out.parquet');
  const r = heaplake('convert-file', join(FIXTURES, 'avro/users.deflate.avro'), '--out', out);
  assert.equal(r.status, 0, r.stderr);
  // a good first file, then a truncated one: the output must not be replaced or half-written
  const r2 = heaplake('convert-file', truncated, '--out', join(dir, 'new.parquet'));
  assert.equal(r2.status, 3, r2.stderr);
  assert.match(r2.stderr, /AVRO_TRUNCATED/);
  assert.ok(r2.stderr.includes(truncated), r2.stderr);
  assert.match(r2.stderr, /offset \d+/);
  assert.ok(!existsSync(join(dir, 'new.parquet')));
  const good = join(FIXTURES, 'avro/pageviews.snappy.avro');
  const r3 = heaplake('convert-file', good, truncated, '--out', join(dir, 'mixed.parquet'));
  assert.equal(r3.status, 3);
  assert.ok(!existsSync(join(dir, 'mixed.parquet')));
  // a schema that differs between inputs
  const r4 = heaplake('convert-file', good, join(FIXTURES, 'avro/users.deflate.avro'), '--out', join(dir, 'two-schemas.parquet'));
  assert.equal(r4.status, 3);
  assert.match(r4.stderr, /AVRO_SCHEMA/);
  assert.deepStrictEqual(readdirSync(dir).sort(), ['out.parquet', 'truncated.avro'], 'no temporary or partial files');
});

test('inspect and cat describe a file exactly', () => {
  const file = join(FIXTURES, 'avro/pageviews.snappy.avro');
  const r = heaplake('inspect', file, '--json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(report['codec'], 'snappy');
  assert.equal(report['rows'], 2000);
  assert.ok((report['blocks'] as number) > 1);
  assert.deepStrictEqual(report['metadataKeys'], ['avro.schema', 'avro.codec']);
  const text = heaplake('inspect', file);
  assert.match(text.stdout, /rows:\s+2000/);
  const cat = heaplake('cat', file, '--limit', '3');
  assert.equal(cat.status, 0, cat.stderr);
  const lines = cat.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  // 64-bit ids are printed exactly: the digits survive a lossless parse
  const id = /"event_id":(\d+)/.exec(lines[0]!)?.[1];
  assert.ok(id && BigInt(id) > 2n ** 53n, `event_id ${id}`);
});

test('usage errors exit 2; a missing file exits 3 with its path', () => {
  assert.equal(heaplake('convert-file', 'x.avro').status, 2);
  assert.equal(heaplake('no-such-command').status, 2);
  const missing = heaplake('inspect', join(work, 'missing.avro'));
  assert.equal(missing.status, 3);
  assert.ok(missing.stderr.includes('missing.avro'));
});

test('the built executable runs (npm ci builds dist/ through the prepare script)', () => {
  const bin = join(ROOT, 'dist/cli/bin.js');
  assert.ok(existsSync(bin), 'dist/cli/bin.js exists: run npm install (or npm run build)');
  const r = spawnSync(process.execPath, [bin, 'inspect', join(FIXTURES, 'avro/weather.xz.avro'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).rows, 5);
});
