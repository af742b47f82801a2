/** `heaplake convert` and `heaplake plan` as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from './helpers/paths.js';

const EXPORT = join(FIXTURES, 'heap-export');
const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), ...args], { encoding: 'utf8', cwd: ROOT });

test('P12: convert prints a per-table summary, writes the report, and re-runs as a no-op', () => {
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

test('P2: verify finds every listed file with its recorded size and rows; a truncated or missing file is named, exit 4', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-cli-verify-'));
  const lake = join(dir, 'lake');
  assert.equal(run('convert', '--source', EXPORT, '--target', lake, '--quiet').status, 0);
  const ok = run('verify', '--target', lake, '--deep', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  const state = JSON.parse(readFileSync(join(lake, '_heaplake/state.json'), 'utf8'));
  const listed = Object.values(state.tables as Record<string, { files: { path: string; rows: number }[] }>).flatMap((t) => t.files);
  assert.equal(report.files, listed.length);
  assert.equal(report.rows, listed.reduce((n, f) => n + f.rows, 0));
  assert.deepStrictEqual(report.problems, []);
  // an orphan (a file no state lists) is reported, not a problem: readers never see it
  const first = listed[0]!.path;
  const orphanPath = first.replace(/part-(\d+)-[0-9a-f]{8}-/, 'part-$1-99999999-');
  assert.notEqual(orphanPath, first);
  cpSync(join(lake, first), join(lake, orphanPath));
  const orphan = JSON.parse(run('verify', '--target', lake, '--json').stdout);
  assert.equal(orphan.unlisted.length, 1);
  // a truncated file and a missing one: both named
  const bytes = readFileSync(join(lake, first));
  writeFileSync(join(lake, first), bytes.subarray(0, bytes.length - 10));
  rmSync(join(lake, listed[1]!.path));
  const bad = run('verify', '--target', lake);
  assert.equal(bad.status, 4, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /error \[STATE\]: 2 file\(s\) .* differ from the committed state/);
  assert.ok(bad.stderr.includes(`${first}: ${bytes.length - 10} bytes, the state records ${bytes.length}`), bad.stderr);
  assert.ok(bad.stderr.includes(`${listed[1]!.path}: missing`), bad.stderr);
  // same size, other bytes: only a deep verification can tell
  const third = join(lake, listed[2]!.path);
  const changed = readFileSync(third);
  changed[changed.length >> 1]! ^= 0x55;
  writeFileSync(third, changed);
  assert.doesNotMatch(run('verify', '--target', lake).stderr, new RegExp(listed[2]!.path));
  assert.match(run('verify', '--target', lake, '--deep').stderr, new RegExp(`${listed[2]!.path}: its SHA-256 differs`));
});

test('P12: a failed run leaves a report saying what failed and where, and that nothing was committed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-cli-failed-'));
  const broken = join(dir, 'export');
  cpSync(EXPORT, broken, { recursive: true });
  writeFileSync(join(broken, 'manifests', 'sync_860.json'), '{"dump_id": 860');
  const r = run('convert', '--source', broken, '--target', join(dir, 'lake'), '--report', join(dir, 'run.json'));
  assert.equal(r.status, 3);
  const report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  assert.equal(report.committed, false);
  assert.equal(report.error.code, 'MANIFEST');
  assert.equal(report.error.context.file, 'manifests/sync_860.json');
  assert.equal(report.source, broken);
});
