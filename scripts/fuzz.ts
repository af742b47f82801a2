/**
 * Long fuzzing run: `npm run fuzz -- --seconds 600 [--seed N]`. Every input that crashes (an
 * error that is not a HeaplakeError) or hangs is saved under fixtures/fuzz-regressions/,
 * where test/fuzz.test.ts replays it on every `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { corpusFiles, fuzz } from './fuzz-harness.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' } } });
const seconds = Number(values.seconds);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const root = join(import.meta.dirname, '..');
const files = corpusFiles([join(root, '..', 'shared', 'testdata', 'avro-conformance'), join(root, 'fixtures', 'avro')], 512 * 1024);
console.log(`fuzzing ${files.length} seed files for ${seconds} s, seed ${seed}`);
const { cases, failures } = await fuzz(files, seed, { deadline: performance.now() + seconds * 1000 });
const out = join(root, 'fixtures', 'fuzz-regressions');
for (const f of failures) {
  mkdirSync(out, { recursive: true });
  const name = createHash('sha256').update(f.input).digest('hex').slice(0, 16) + '.avro';
  writeFileSync(join(out, name), f.input);
  console.log(`FAIL ${name} (from ${f.source}): ${String(f.error)}`);
}
console.log(`${cases} cases, ${failures.length} failures`);
process.exitCode = failures.length > 0 ? 1 : 0;
