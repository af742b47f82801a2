/**
 * A short, fixed-seed mutation fuzz of the reader (the long run is `npm run fuzz`), plus a
 * replay of every input a long run ever caught (fixtures/fuzz-regressions/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusFiles, fuzz, fuzzOne } from '../scripts/fuzz-harness.js';
import { prng } from '../scripts/heap-like.js';
import { CONFORMANCE, FIXTURES } from './helpers/paths.js';

test('P5: mutated corpus files give only typed errors, quickly (fixed seed, ~15 s budget)', async () => {
  const files = corpusFiles([CONFORMANCE, join(FIXTURES, 'avro')]);
  assert.ok(files.length > 40, `${files.length} seed files`);
  const { cases, failures } = await fuzz(files, 1127, { deadline: performance.now() + 15_000, maxCases: 3000, maxSeconds: 2 });
  assert.ok(cases >= 300, `only ${cases} cases ran`);
  assert.deepStrictEqual(
    failures.map((f) => `${f.source}: ${String(f.error)}`),
    [],
  );
});

test('fuzz regressions replay without a crash', async () => {
  const dir = join(FIXTURES, 'fuzz-regressions');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.avro')) : [];
  for (const f of files) {
    const failure = await fuzzOne(readFileSync(join(dir, f)), f, prng(1), 5);
    assert.equal(failure, undefined, `${f}: ${String(failure?.error)}`);
  }
});

test('P5: hostile inputs under a 64 MiB heap: typed errors, each within two seconds', async () => {
  const { spawnSync } = await import('node:child_process');
  const { ROOT } = await import('./helpers/paths.js');
  const r = spawnSync(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', join(ROOT, 'test/helpers/hostile-run.ts')], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.equal(lines.length, 6, r.stdout);
  for (const [name, outcome, seconds] of lines) {
    assert.match(outcome!, /^(AVRO_LIMIT|AVRO_TRUNCATED|AVRO_SCHEMA|AVRO_BLOCK_OVERRUN)$/, `${name}: ${outcome}`);
    assert.ok(Number(seconds) < 2, `${name} took ${seconds} s`);
  }
});

test('a mutated fixture export: only typed errors, and nothing committed when the run fails', async () => {
  const { cpSync, mkdtempSync, readdirSync, statSync, writeFileSync, existsSync: exists } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { convert } = await import('../src/convert.js');
  const { HeaplakeError } = await import('../src/errors.js');
  const { mutate } = await import('../scripts/fuzz-harness.js');
  const source = join(FIXTURES, 'heap-export');
  const files: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p, `${rel}${n}/`);
      else if (/\.(avro|json)$/.test(n)) files.push(`${rel}${n}`);
    }
  };
  walk(source, '');
  const rand = prng(2026);
  let failures = 0;
  for (let c = 0; c < 24; c++) {
    const dir = mkdtempSync(join(tmpdir(), 'heaplake-fuzz-export-'));
    cpSync(source, dir, { recursive: true });
    const victim = files[Math.floor(rand() * files.length)]!;
    writeFileSync(join(dir, victim), mutate(readFileSync(join(dir, victim)), rand));
    const lake = mkdtempSync(join(tmpdir(), 'heaplake-fuzz-lake-'));
    try {
      await convert({ source: dir, target: lake });
    } catch (err) {
      failures++;
      assert.ok(err instanceof HeaplakeError, `${victim}: ${String(err)}`);
      assert.ok(!exists(join(lake, '_heaplake', 'state.json')), `${victim}: a failed run committed`);
    }
  }
  assert.ok(failures > 0, 'some mutations must be caught');
});
