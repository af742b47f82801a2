/**
 * Crash safety: a run is crashed at every side-effecting step (each Parquet write, move,
 * state write, deletion) — by an exception, and at a few steps by a real SIGKILL of a child
 * process. After each crash a reader that goes through the state sees either the lake before
 * the run or the lake after it, never a mix; the next run then gives exactly the lake of a
 * clean run (the same files, byte for byte).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../src/convert.js';
import { localTarget } from '../src/sink/local-target.js';
import { readParquetBytes } from '../src/sink/parquet.js';
import { rowsAsJson } from '../src/columnar/json-rows.js';
import { FIXTURES, ROOT } from './helpers/paths.js';
import { faultyTarget, type KillPoint } from './helpers/faulty-target.js';
import { exportWith, fileHashes } from './helpers/lake.js';

const EXPORT = join(FIXTURES, 'heap-export');
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `heaplake-kill-${what}-`));

/** What a reader of the state sees: per table, the sorted rows of the files the state lists. */
function readerView(lake: string): string {
  let state: { tables: Record<string, { files: { path: string }[] }> };
  try {
    state = JSON.parse(readFileSync(join(lake, '_heaplake/state.json'), 'utf8'));
  } catch {
    return '{}';
  }
  const view: Record<string, string[]> = {};
  for (const [table, t] of Object.entries(state.tables)) {
    view[table] = t.files.flatMap((f) => readParquetBytes(readFileSync(join(lake, f.path))).batches.flatMap((b) => [...rowsAsJson(b)])).sort();
  }
  return JSON.stringify(view);
}

const lakeFiles = fileHashes;

async function setup() {
  // the lake before: dumps up to 860; the run under test applies 1200 and 1008461850
  const partial = exportWith(EXPORT, ['sync_852.json', 'sync_860.json']);
  const before = tmp('before');
  await convert({ source: partial, target: before, resolveIdentities: true });
  const after = tmp('after');
  cpSync(before, after, { recursive: true });
  const points: KillPoint[] = [];
  await convert({ source: EXPORT, target: faultyTarget(localTarget(after), (p) => void points.push(p)), resolveIdentities: true });
  return { before, after, points, beforeView: readerView(before), afterView: readerView(after), afterFiles: lakeFiles(after) };
}

test('P1/P3: a crash (exception) at every side-effecting step: old or new lake, never a mix; the re-run equals a clean run', async () => {
  const s = await setup();
  assert.ok(s.points.length >= 15, `${s.points.length} kill points`);
  assert.notEqual(s.beforeView, s.afterView);
  const kinds = new Set(s.points.map((p) => p.op));
  for (const op of ['writeEncoded', 'writeParquet', 'writeParquet:end', 'move', 'writeIfUnchanged', 'remove', 'removeTree']) assert.ok(kinds.has(op), `a ${op} point`);
  for (let k = 0; k < s.points.length; k++) {
    const lake = tmp(`k${k}`);
    cpSync(s.before, lake, { recursive: true });
    let seen = 0;
    const crash = faultyTarget(localTarget(lake), () => {
      if (seen++ === k) throw new Error(`crash at ${k}`);
    });
    const outcome = await convert({ source: EXPORT, target: crash, resolveIdentities: true }).then(
      () => 'completed',
      (e: Error) => e.message,
    );
    const view = readerView(lake);
    assert.ok(view === s.beforeView || view === s.afterView, `point ${k} (${s.points[k]!.op} ${s.points[k]!.path}): a mixed lake after "${outcome}"`);
    await convert({ source: EXPORT, target: lake, resolveIdentities: true });
    assert.deepStrictEqual(lakeFiles(lake), s.afterFiles, `point ${k} (${s.points[k]!.op} ${s.points[k]!.path}): the re-run differs from a clean run`);
  }
});

test('P1/P3: SIGKILL of the converting process at several steps: the same guarantees', async () => {
  const s = await setup();
  const picks = [0, s.points.findIndex((p) => p.op === 'writeParquet:end'), Math.floor(s.points.length / 3), Math.floor(s.points.length / 2), s.points.findIndex((p) => p.op === 'writeIfUnchanged'), s.points.length - 1];
  for (const k of new Set(picks)) {
    const lake = tmp(`sigkill${k}`);
    cpSync(s.before, lake, { recursive: true });
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/kill-run.ts'), EXPORT, lake, String(k)], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.signal, 'SIGKILL', `point ${k}: killed (${r.stderr})`);
    const view = readerView(lake);
    assert.ok(view === s.beforeView || view === readerView(s.after) || view === s.afterView, `point ${k}: a mixed lake`);
    await convert({ source: EXPORT, target: lake, resolveIdentities: true });
    assert.deepStrictEqual(lakeFiles(lake), s.afterFiles, `point ${k}: the re-run differs from a clean run`);
  }
});

test('P9: the lake does not depend on processing order, batch sizes or the decompression thread', async () => {
  const reference = tmp('reference');
  await convert({ source: EXPORT, target: reference });
  const expected = lakeFiles(reference);
  const tables = Object.keys(JSON.parse(readFileSync(join(reference, '_heaplake/state.json'), 'utf8')).tables as object);
  for (let seed = 1; seed <= 4; seed++) {
    // one table per run, in a shuffled order, with other batch sizes and threading
    let x = seed * 7919;
    const order = [...tables].sort(() => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) & 1 ? 1 : -1));
    const lake = tmp(`order${seed}`);
    for (const table of order) {
      await convert({ source: EXPORT, target: lake, tables: [table], parallelDecompression: seed % 2 === 0, batch: { maxRows: 1 + seed * 37 } });
    }
    const got = lakeFiles(lake);
    // the state's table entries are equal; the files, byte for byte
    const state = (files: Record<string, string>) => JSON.parse(files['_heaplake/state.json']!).tables;
    assert.deepStrictEqual(state(got), state(expected), `seed ${seed} (${order.join(', ')}): state`);
    for (const f of Object.keys(expected).filter((p) => p.endsWith('.parquet'))) assert.equal(got[f], expected[f], `seed ${seed}: ${f}`);
  }
});
