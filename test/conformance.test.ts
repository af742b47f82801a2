/**
 * Every file of the external conformance corpus (shared/testdata/avro-conformance, written
 * by other projects, expected rows decoded by fastavro) decodes to exactly its expected
 * rows; every file marked ERROR in its README fails with our error code, naming the file
 * and the byte offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openAvroFile, readAvroBatches } from '../src/columnar/read-avro.js';
import { HeaplakeError } from '../src/errors.js';
import { CONFORMANCE } from './helpers/paths.js';
import { actualValue, expectedValue, parseJsonLossless } from './helpers/avro-json.js';

const files = readdirSync(CONFORMANCE)
  .filter((d) => !d.includes('.'))
  .flatMap((d) => readdirSync(join(CONFORMANCE, d)).map((f) => join(d, f)))
  .filter((f) => f.endsWith('.avro') || f.endsWith('.avro12'))
  .sort();

/** The README's ERROR files: our code, and the offset the error must name. */
const ERRORS: Record<string, { code: string; offset?: number | null }> = {
  'apache-avro/test.avro12': { code: 'AVRO_LEGACY_CONTAINER', offset: 0 },
  'apache-avro/avro-1238-truncated.avro': { code: 'AVRO_TRUNCATED' },
  'avsc/person-10.no-codec.avro': { code: 'AVRO_TRAILING_DATA', offset: 494 },
  'goavro/bad-header.avro': { code: 'AVRO_BAD_MAGIC', offset: 0 },
  'goavro/firstBlockCountNotGreaterThanZero.avro': { code: 'AVRO_TRAILING_DATA', offset: 50 },
  'goavro/blockCountExceedsMaxBlockCount.avro': { code: 'AVRO_LIMIT', offset: 50 },
  'goavro/cannotReadBlockSize.avro': { code: 'AVRO_TRAILING_DATA', offset: 50 },
  'goavro/blockSizeNotGreaterThanZero.avro': { code: 'AVRO_TRUNCATED', offset: 50 },
  'goavro/blockSizeExceedsMaxBlockSize.avro': { code: 'AVRO_LIMIT', offset: 50 },
  'goavro/cannotReadSyncMarker.avro': { code: 'AVRO_TRUNCATED', offset: 50 },
  'goavro/syncMarkerMismatch.avro': { code: 'AVRO_SYNC_MISMATCH', offset: 54 },
  'duckdb-avro/recursive.avro': { code: 'UNSUPPORTED', offset: null }, // a schema matter: no byte offset
};

test('the corpus is where the README says and holds both kinds of file', () => {
  assert.ok(files.length >= 60, `found only ${files.length} files under ${CONFORMANCE}`);
  assert.ok(Object.keys(ERRORS).every((f) => files.includes(f)), 'every ERROR file exists');
});

for (const file of files) {
  const path = join(CONFORMANCE, file);
  const expectedError = ERRORS[file];
  if (expectedError) {
    test(`P4: ${file} fails with ${expectedError.code}`, async () => {
      await assert.rejects(
        async () => {
          const reader = await openAvroFile(path);
          for await (const batch of reader.batches()) void batch;
        },
        (err: unknown) => {
          assert.ok(err instanceof HeaplakeError, `a typed error, got ${String(err)}`);
          assert.equal(err.code, expectedError.code, err.message);
          assert.equal(err.context.file, path);
          assert.ok(err.message.includes(path), 'the message names the file');
          if (expectedError.offset === null) assert.ok(err.context.field, 'a schema error names the field');
          else if (expectedError.offset !== undefined) assert.equal(err.context.offset, expectedError.offset, err.message);
          else assert.equal(typeof err.context.offset, 'number', `an offset: ${err.message}`);
          return true;
        },
      );
    });
    continue;
  }
  const expectedPath = path.replace(/\.avro$/, '.expected.jsonl');
  if (!existsSync(expectedPath)) continue;
  test(`P7: ${file} decodes to its expected rows`, async () => {
    const expected = readFileSync(expectedPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(parseJsonLossless);
    // small batches, so rows cross batch boundaries too
    const { batches, reader } = await readAvroBatches(readFileSync(path).length > 0 ? [readFileSync(path)] : [], { file: file, batch: { maxRows: 7 } });
    const schema = reader.avroSchema;
    const actual: unknown[] = [];
    for (const batch of batches) {
      for (let i = 0; i < batch.numRows; i++) {
        if (schema.kind === 'record') {
          const row: Record<string, unknown> = {};
          schema.fields.forEach((f, k) => (row[f.name] = actualValue(f.type, batch.data.children[k]!, i)));
          actual.push(row);
        } else {
          actual.push(actualValue(schema, batch.data.children[0]!, i));
        }
      }
    }
    const canonicalExpected =
      schema.kind === 'record' && !file.includes('no-fields')
        ? expected.map((row) => expectedValue(schema, row, 0 as never))
        : expected.map((v) => (schema.kind === 'record' ? v : expectedValue(schema, v, 0 as never)));
    assert.equal(actual.length, expected.length, 'row count');
    assert.equal(reader.stats.records, expected.length, 'stats count every row');
    for (let i = 0; i < actual.length; i++) assert.deepStrictEqual(actual[i], canonicalExpected[i], `row ${i}`);
  });
}
