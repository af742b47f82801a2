/**
 * Values inside blocks and writer schemas: the catalogue's A18–A27 (shared/docs/reliability.md),
 * type mapping details, and batch bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'apache-arrow';
import { readAvroBatches, type ByteChunks } from '../src/columnar/read-avro.js';
import { rowsAsJson } from '../src/columnar/json-rows.js';
import { parseSchema } from '../src/avro/schema.js';
import { AvroSchemaError, HeaplakeError } from '../src/errors.js';
import { concat, container, long, str } from './helpers/container.js';

async function rows(chunks: ByteChunks, options: Parameters<typeof readAvroBatches>[1] = {}): Promise<string[]> {
  const { batches } = await readAvroBatches(chunks, options);
  return batches.flatMap((b) => [...rowsAsJson(b)]);
}

async function failure(chunks: ByteChunks): Promise<HeaplakeError> {
  try {
    await rows(chunks);
  } catch (err) {
    assert.ok(err instanceof HeaplakeError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

const record = (fields: unknown[]) => ({ type: 'record', name: 'R', fields });

test('A18: invalid UTF-8 is an error naming the field and the record', async () => {
  const schema = record([
    { name: 'id', type: 'long' },
    { name: 'name', type: ['null', 'string'] },
  ]);
  for (const bad of [Uint8Array.of(0xff), Uint8Array.of(0xc0, 0xaf), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0x61, 0xe2, 0x82)]) {
    const good = concat(long(1), long(1), str('ok'));
    const wrong = concat(long(2), long(1), str(bad));
    const err = await failure([container({ schema, blocks: [{ count: 2, data: concat(good, wrong) }] })]);
    assert.equal(err.code, 'AVRO_INVALID_UTF8');
    assert.equal(err.context.field, 'name');
    assert.equal(err.context.record, 1);
    assert.equal(err.context.block, 0);
  }
  // a multi-byte character split across two values is caught too (each value alone is invalid)
  const split = concat(long(1), long(1), str(Uint8Array.of(0xe2, 0x82)), long(2), long(1), str(Uint8Array.of(0xac)));
  assert.equal((await failure([container({ schema, blocks: [{ count: 2, data: split }] })])).code, 'AVRO_INVALID_UTF8');
  // bytes are not text: any bytes are fine there
  assert.equal((await rows([container({ schema: '"bytes"', blocks: [{ count: 1, data: str(Uint8Array.of(0xff)) }] })])).length, 1);
});

test('A19/A20: union, enum and length values out of range', async () => {
  const union = await failure([container({ schema: record([{ name: 'u', type: ['null', 'int'] }]), blocks: [{ count: 1, data: long(2) }] })]);
  assert.equal(union.code, 'AVRO_BAD_VALUE');
  assert.equal(union.context.field, 'u');
  assert.match(union.message, /union index 2/);
  const negative = await failure([container({ schema: record([{ name: 'u', type: ['null', 'int', 'string'] }]), blocks: [{ count: 1, data: long(-1) }] })]);
  assert.match(negative.message, /union index -1/);
  const en = await failure([container({ schema: record([{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }]), blocks: [{ count: 1, data: long(2) }] })]);
  assert.match(en.message, /enum index 2/);
  const len = await failure([container({ schema: '"string"', blocks: [{ count: 1, data: long(-3) }] })]);
  assert.equal(len.code, 'AVRO_BAD_VALUE');
  const fixed = await failure([container({ schema: { type: 'fixed', name: 'F', size: 8 }, blocks: [{ count: 1, data: Uint8Array.of(1, 2, 3) }] })]);
  assert.equal(fixed.code, 'AVRO_BLOCK_OVERRUN');
});

test('A21: collections with negative block counts are read; huge counts are refused first', async () => {
  const schema = record([{ name: 'xs', type: { type: 'array', items: 'int' } }]);
  const items = concat(long(1), long(2), long(3));
  const negative = concat(long(-3), long(items.length), items, long(0));
  assert.deepStrictEqual(await rows([container({ schema, blocks: [{ count: 1, data: negative }] })]), ['{"xs":[1,2,3]}']);
  const huge = await failure([container({ schema, blocks: [{ count: 1, data: concat(long(2n ** 40n), long(0)) }] })]);
  assert.equal(huge.code, 'AVRO_LIMIT');
  const lying = await failure([container({ schema, blocks: [{ count: 1, data: concat(long(1000), long(1), long(0)) }] })]);
  assert.equal(lying.code, 'AVRO_BLOCK_OVERRUN');
  // zero-byte items: bounded by the item limit, not by the bytes
  const nulls = record([{ name: 'ns', type: { type: 'array', items: 'null' } }]);
  assert.deepStrictEqual(await rows([container({ schema: nulls, blocks: [{ count: 1, data: concat(long(3), long(0)) }] })]), ['{"ns":[null,null,null]}']);
  const tooMany = await failure([container({ schema: nulls, blocks: [{ count: 1, data: concat(long(2n ** 30n), long(0)) }] })]);
  assert.equal(tooMany.code, 'AVRO_LIMIT');
});

test('A22/A23: malformed varints and booleans', async () => {
  const eleven = new Uint8Array(11).fill(0xff);
  assert.equal((await failure([container({ schema: '"long"', blocks: [{ count: 1, data: eleven }] })])).code, 'AVRO_BAD_VALUE');
  assert.equal((await failure([container({ schema: '"int"', blocks: [{ count: 1, data: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f) }] })])).code, 'AVRO_BAD_VALUE');
  const bool = await failure([container({ schema: '"boolean"', blocks: [{ count: 1, data: Uint8Array.of(2) }] })]);
  assert.match(bool.message, /boolean byte is 2/);
});

test('64-bit extremes stay exact', async () => {
  const values = [0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 1234567890123456789n];
  const out = await rows([container({ schema: '"long"', blocks: [{ count: values.length, data: concat(...values.map(long)) }] })]);
  assert.deepStrictEqual(out, values.map((v) => `{"value":${v}}`));
});

test('A24/A25/A26: invalid schemas are errors naming the place; unknown logical types fall back', async () => {
  const bad: unknown[] = [
    '{"type": "record", "fields": [',
    { type: 'decimal' },
    { type: 'record', name: 'R', fields: [{ name: 'a', type: 'Nope' }] },
    { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }, { name: 'a', type: 'int' }] },
    { type: 'record', name: 'R', fields: [{ name: 'a', type: [{ type: 'array', items: 'int' }, { type: 'array', items: 'long' }] }] },
    { type: 'record', name: 'R', fields: [{ name: 'a', type: ['null', ['int']] }] },
    { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int', default: 'x' }] },
    { type: 'record', name: '1abc', fields: [] },
    { type: 'enum', name: 'E', symbols: ['A', 'A'] },
    { type: 'fixed', name: 'F', size: -1 },
  ];
  for (const schema of bad) {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    assert.throws(() => parseSchema(text), (e: unknown) => e instanceof AvroSchemaError && e.code === 'AVRO_SCHEMA', text);
    const err = await failure([container({ schema: text })]);
    assert.equal(err.code, 'AVRO_SCHEMA', text);
  }
  const deep = '{"type":"array","items":'.repeat(10_000) + '"int"' + '}'.repeat(10_000);
  assert.throws(() => parseSchema(deep), /nesting deeper than/);
  assert.equal((await failure([container({ schema: deep })])).code, 'AVRO_SCHEMA');
  const fallback = parseSchema({ type: 'bytes', logicalType: 'big-decimal' });
  assert.equal(fallback.kind, 'bytes');
  const { schema } = await readAvroBatches([container({ schema: { type: 'string', logicalType: 'no-such-type' } })]);
  assert.equal(schema.fields[0]!.type.typeId, Type.Utf8);
  assert.equal(schema.fields[0]!.metadata.get('avro.logicalType'), 'no-such-type');
});

test('A27: out-of-range logical values keep their physical value', async () => {
  const timeMillis = await rows([container({ schema: { type: 'int', logicalType: 'time-millis' }, blocks: [{ count: 1, data: long(86_400_000) }] })]);
  assert.deepStrictEqual(timeMillis, ['{"value":86400000}']);
  const year1 = -62135596800000n; // 0001-01-01T00:00:00Z in ms
  const ts = await rows([container({ schema: { type: 'long', logicalType: 'local-timestamp-millis' }, blocks: [{ count: 1, data: long(year1) }] })]);
  assert.deepStrictEqual(ts, ['{"value":"0001-01-01T00:00:00.000"}']);
  // precision above 76 digits: the bytes are kept, with a note
  const { schema } = await readAvroBatches([container({ schema: { type: 'bytes', logicalType: 'decimal', precision: 80, scale: 2 } })]);
  assert.equal(schema.fields[0]!.type.typeId, Type.Binary);
  assert.ok(schema.fields[0]!.metadata.get('avro.decimal'));
});

test('type mapping of logical types', async () => {
  const schema = record([
    { name: 'd', type: { type: 'int', logicalType: 'date' } },
    { name: 'tm', type: { type: 'int', logicalType: 'time-millis' } },
    { name: 'tu', type: { type: 'long', logicalType: 'time-micros' } },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'lts', type: { type: 'long', logicalType: 'local-timestamp-nanos' } },
    { name: 'dec', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'dec256', type: { type: 'fixed', name: 'D', size: 32, logicalType: 'decimal', precision: 60, scale: 0 } },
    { name: 'uuid', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'dur', type: { type: 'fixed', name: 'Dur', size: 12, logicalType: 'duration' } },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['X', 'Y'] } },
    { name: 'm', type: { type: 'map', values: 'long' } },
  ]);
  const { schema: arrow } = await readAvroBatches([container({ schema })]);
  assert.deepStrictEqual(
    arrow.fields.map((f) => String(f.type)),
    [
      'Date32<DAY>',
      'Time32<MILLISECOND>',
      'Time64<MICROSECOND>',
      'Timestamp<MICROSECOND, UTC>',
      'Timestamp<NANOSECOND>',
      'Decimal[10e+2]',
      'Decimal[60e0]',
      'Utf8',
      'FixedSizeBinary[12]',
      'Dictionary<Int32, Utf8>',
      'Map<{key:Utf8, value:Int64}>',
    ],
  );
  const dec = concat(long(2), Uint8Array.of(0xff, 0x38)); // -200 → -2.00
  const row = concat(long(19000), long(1), long(2), long(3), long(4), dec, new Uint8Array(32).fill(0xff), str('u'), new Uint8Array(12), long(1), long(1), str('k'), long(-5), long(0));
  const out = await rows([container({ schema, blocks: [{ count: 1, data: row }] })]);
  const parsed = JSON.parse(out[0]!);
  assert.equal(parsed.d, '2022-01-08');
  assert.equal(parsed.ts, '1970-01-01T00:00:00.000003Z');
  assert.equal(parsed.dec, '-2.00');
  assert.equal(parsed.dec256, '-1');
  assert.equal(parsed.e, 'Y');
  assert.deepStrictEqual(parsed.m, { k: -5 });
});

test('batches are bounded by rows and by bytes, and may span blocks', async () => {
  const block = (n: number, from: number) => ({ count: n, data: concat(...Array.from({ length: n }, (_, i) => str(`value-${from + i}`))) });
  const file = container({ schema: '"string"', blocks: [block(10, 0), block(25, 10), block(5, 35)] });
  const byRows = await readAvroBatches([file], { batch: { maxRows: 8 } });
  assert.deepStrictEqual(byRows.batches.map((b) => b.numRows), [8, 8, 8, 8, 8]);
  const byBytes = await readAvroBatches([file], { batch: { maxBytes: 50 } });
  assert.ok(byBytes.batches.length >= 4, `${byBytes.batches.length} batches`);
  assert.equal(byBytes.batches.reduce((s, b) => s + b.numRows, 0), 40);
  const all = byBytes.batches.flatMap((b) => [...rowsAsJson(b)]);
  assert.deepStrictEqual(all, Array.from({ length: 40 }, (_, i) => `{"value":"value-${i}"}`));
});
