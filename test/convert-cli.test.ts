/** `heaplake convert` and `heaplake plan` as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from './helpers/paths.js';

const EXPORT = join(FIXTURES, 'heap-export');
const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), ...args], { encoding: 'utf8', cwd: ROOT });

test('convert prints a per-table summary, writes the report, and re-runs as a no-op', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-cli-convert-'));
  const lake = join(dir, 'lake');
  const plan = run('plan', '--source', EXPORT, '--target', lake);
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /pageviews: replace \(new table\) with dump\(s\) 1200, 1008461850/);
  const r = run('convert', '--source', EXPORT, '--target', lake, '--report', join(dir, 'run.json'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /table\s+mode\s+dumps\s+files\s+rows in\s+dups dropped\s+filtered\s+rows out\s+bytes out\s+seconds/);
  assert.match(r.stdout, /pageviews\s+replace\s+2\s+2\s+202\s+1\s+0\s+201/);
  assert.match(r.stdout, /"time" value\(s\) are not timestamps/);
  // plain log lines when stderr is not a terminal
  assert.match(r.stderr, /\[\d+\/12 files/);
  const report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  assert.equal(report.tables.length, 5);
  assert.equal(report.committed, true);
  const again = run('convert', '--source', EXPORT, '--target', lake, '--quiet');
  assert.equal(again.status, 0);
  assert.equal(again.stdout, '');
  const noop = run('convert', '--source', EXPORT, '--target', lake);
  assert.match(noop.stdout, /nothing to do/);
});

test('convert exit codes: usage 2, bad input 3, with messages that name the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-cli-convert-'));
  assert.equal(run('convert', '--source', EXPORT).status, 2);
  assert.equal(run('convert', '--source', EXPORT, '--target', join(dir, 'l'), '--start-date', '2026-13-01').status, 2);
  const broken = join(dir, 'export');
  cpSync(EXPORT, broken, { recursive: true });
  writeFileSync(join(broken, 'manifests', 'sync_860.json'), '{"dump_id": 860');
  const r = run('convert', '--source', broken, '--target', join(dir, 'lake'));
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /error \[MANIFEST\]: manifest manifests\/sync_860.json: not valid JSON/);
});
