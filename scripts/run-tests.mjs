#!/usr/bin/env node
// Runs the whole suite with node's test runner (through tsx, for TypeScript).
// Node 20's `node --test` finds no .ts files by itself, so the files are listed here; and a
// run in which no test passed is a failure, never a silent green.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const only = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
};
walk('test');
const selected = only.length > 0 ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

// the CLI tests run the built package (dist/): build it from the current sources, never test a
// stale one (npm ci builds it too, through "prepare")
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('run-tests: build failed');
  process.exit(1);
}

// typecheck first: the suite runs TypeScript through tsx, which does not check types
if (only.length === 0) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('run-tests: typecheck failed');
    process.exit(1);
  }
}

const tap = join(tmpdir(), `heaplake-tap-${process.pid}.txt`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...selected],
  { stdio: 'inherit' },
);
let passed = 0;
let failed = 0;
try {
  const text = readFileSync(tap, 'utf8');
  passed = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0);
  failed = Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0);
  rmSync(tap, { force: true });
} catch {
  // no report: counted as nothing passed
}
console.log(`${passed} passed, ${failed} failed`);
if (result.status !== 0 || failed > 0) process.exit(result.status || 1);
if (passed === 0) {
  console.error('run-tests: no test passed: refusing to report success');
  process.exit(1);
}
