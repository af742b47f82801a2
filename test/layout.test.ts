/**
 * The architecture rules that keep `ls src` readable (shared/docs/design-anchors.md §3a):
 * avro/ knows nothing of Arrow, Parquet, S3 or the CLI; parquet-wasm is imported only by
 * the Parquet sink; yargs only by the CLI; library code never prints or exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(join(ROOT, 'src')).map((path) => ({ path: relative(join(ROOT, 'src'), path), text: readFileSync(path, 'utf8') }));
const imports = (text: string) => [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

test('module boundaries hold', () => {
  assert.ok(files.length > 10);
  for (const f of files) {
    const deps = imports(f.text);
    if (f.path.startsWith('avro/')) {
      assert.deepStrictEqual(deps.filter((d) => d === 'apache-arrow' || d === 'parquet-wasm' || d.startsWith('@aws-sdk') || d.includes('/columnar/')), [], f.path);
    }
    if (deps.includes('parquet-wasm')) assert.equal(f.path, 'sink/parquet.ts');
    if (deps.some((d) => d.startsWith('yargs'))) assert.ok(f.path.startsWith('cli/'), f.path);
    if (!f.path.startsWith('cli/')) {
      assert.doesNotMatch(f.text, /process\.exit|console\.log|process\.std(out|err)\.write/, `${f.path} prints or exits`);
    }
  }
});

test('package.json: ESM, a heaplake bin, runtime dependencies pinned exactly', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.bin.heaplake, 'dist/cli/bin.js');
  for (const [name, version] of Object.entries(pkg.dependencies as Record<string, string>)) assert.match(version, /^\d+\.\d+\.\d+$/, name);
});

test('the README lists every error code with the exit code the CLI gives it', async () => {
  const { exitCodeFor } = await import('../src/cli/main.js');
  const { HeaplakeError } = await import('../src/errors.js');
  const errors = readFileSync(join(ROOT, 'src/errors.ts'), 'utf8');
  const union = errors.slice(errors.indexOf('export type ErrorCode'), errors.indexOf('export interface ErrorContext'));
  const codes = [...union.matchAll(/\| '([A-Z0-9_]+)'/g)].map((m) => m[1]!);
  assert.ok(codes.length >= 20, `${codes.length} codes`);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const code of codes) {
    const row = readme.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${code}\``));
    assert.ok(row, `${code} is documented`);
    const exit = Number(row.trim().split('|').filter(Boolean).at(-1)!.trim());
    assert.equal(exitCodeFor(new HeaplakeError(code as never, 'x')), exit, `${code}: README says exit ${exit}`);
  }
});

/** Ids such as A7, M1, S11, P4 named at the start of test titles ("A2/A13: …", "P11/S1/S2: …"). */
function catalogueIds(): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  for (const name of readdirSync(join(ROOT, 'test')).filter((n) => n.endsWith('.test.ts'))) {
    const text = readFileSync(join(ROOT, 'test', name), 'utf8');
    for (const m of text.matchAll(/\btest\(\s*['`]((?:[AMSP]\d+[/ ]?)+)[^'`]*['`]/g)) {
      for (const id of m[1]!.match(/[AMSP]\d+/g) ?? []) ids.set(id, [...(ids.get(id) ?? []), name]);
    }
  }
  return ids;
}

test('every case of the bad-input catalogue and every promise of ../shared/docs/reliability.md names a test', () => {
  const ids = catalogueIds();
  const expected = [
    ...Array.from({ length: 28 }, (_, i) => `A${i + 1}`),
    ...Array.from({ length: 11 }, (_, i) => `M${i + 1}`),
    ...Array.from({ length: 11 }, (_, i) => `S${i + 1}`),
    ...Array.from({ length: 12 }, (_, i) => `P${i + 1}`),
  ];
  assert.deepStrictEqual(expected.filter((id) => !ids.has(id)), [], 'ids without a test');
  // the README's promises point at the same ids, and each one exists
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## What heaplake promises'), readme.indexOf('\n## ', readme.indexOf('## What heaplake promises') + 5));
  for (let p = 1; p <= 12; p++) assert.match(section, new RegExp(`\\| P${p} \\|`), `README promise P${p}`);
  for (const id of section.match(/\b[AMSP]\d+\b/g) ?? []) assert.ok(ids.has(id), `the README names ${id}, which no test carries`);
});

test('the committed WebAssembly kernels were built from the committed C sources (scripts/build-kernel.mjs)', async () => {
  for (const [dir, name, exports] of [
    ['columnar', 'flat-decoder', ['decode']],
    ['columnar', 'scatter', ['scatter']],
    ['sink', 'page-encoder', ['copy_bits', 'add_u32', 'page_end', 'dict_build', 'dict_page', 'data_page', 'chunk_stats']],
  ] as const) {
    const { KERNEL_SOURCE_SHA256, KERNEL_WASM_BASE64 } = (await import(`../src/${dir}/kernel/${name}.wasm.js`)) as { KERNEL_SOURCE_SHA256: string; KERNEL_WASM_BASE64: string };
    const source = readFileSync(join(ROOT, `src/${dir}/kernel/${name}.c`));
    assert.equal(createHash('sha256').update(source).digest('hex'), KERNEL_SOURCE_SHA256, `${name}.c changed: run node scripts/build-kernel.mjs`);
    const bytes = Buffer.from(KERNEL_WASM_BASE64, 'base64');
    assert.deepStrictEqual(WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name), exports);
  }
});
