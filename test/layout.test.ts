/**
 * The architecture rules that keep `ls src` readable (shared/docs/design-anchors.md §3a):
 * avro/ knows nothing of Arrow, Parquet, S3 or the CLI; parquet-wasm is imported only by
 * the Parquet sink; yargs only by the CLI; library code never prints or exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
