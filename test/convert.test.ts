/**
 * heaplake convert end to end: the fixture export against a reference model (avsc + plain
 * rules), read back through hyparquet; incremental runs equal one-shot runs; re-runs change
 * nothing; a failure between tasks leaves the old lake readable and the next run completes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../src/convert.js';
import { FIXTURES } from './helpers/paths.js';
import { canonicalRows, fileHashes, readLake, assertLakeMatchesReference } from './helpers/lake.js';

const EXPORT = join(FIXTURES, 'heap-export');
const tmp = () => mkdtempSync(join(tmpdir(), 'heaplake-convert-'));

test('P12: the fixture export converts to exactly what the reference model says, read back with hyparquet', async () => {
  const lakeDir = tmp();
  const report = await convert({ source: EXPORT, target: lakeDir });
  assert.ok(report.committed);
  assert.deepStrictEqual(report.dumps, ['852', '860', '1200', '1008461850'], 'numeric dump order');
  assert.equal(report.propertyDefinitions['852'], 's3://heap-rs3-acme/sync_852/property_definitions.json');
  await assertLakeMatchesReference(lakeDir, EXPORT);
  const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
  // the report counts every row: in = out + duplicates (+ filtered)
  for (const t of report.tables) assert.equal(t.rowsIn, t.rowsOut + t.duplicates + t.filtered, t.table);
  assert.equal(byTable['pageviews']!.mode, 'replace');
  assert.equal(byTable['checkout_complete']!.nullKeys, 1);
  assert.equal(byTable['checkout_complete']!.unparsedTimes, 1);
  assert.deepStrictEqual(byTable['checkout_complete']!.unparsedExamples, ['not a time']);
  assert.ok(report.skipped.some((s) => s.table === '_event_metadata'));
  // layout: event tables by day, users and user_migrations unpartitioned, nothing else
  const lake = await readLake(lakeDir);
  assert.ok(lake['pageviews']!.files.every((f) => /^pageviews\/dt=\d{4}-\d{2}-\d{2}\/part-\d+-[0-9a-f]{8}-\d+\.parquet$/.test(f)), lake['pageviews']!.files.join());
  assert.ok(lake['checkout_complete']!.files.some((f) => f.includes('dt=__HIVE_DEFAULT_PARTITION__')), 'the unparseable time lands in the null partition');
  assert.ok(lake['users']!.files.length === 1 && /^users\/part-1008461850-[0-9a-f]{8}-0\.parquet$/.test(lake['users']!.files[0]!), lake['users']!.files.join());
  // schema evolution: utm_term (dropped in 1200) kept; plan_tier int → long; cart_value long → double
  const state = JSON.parse(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'));
  const types = (t: string) => Object.fromEntries(state.tables[t].columns.map((c: { name: string; type: string }) => [c.name, c.type]));
  assert.equal(types('pageviews')['utm_term'], 'utf8');
  assert.equal(types('pageviews')['plan_tier'], 'int64');
  assert.equal(types('pageviews')['time'], 'timestamp[us,UTC]');
  assert.equal(types('checkout_complete')['cart_value'], 'float64');
  assert.equal(types('users')['joindate'], 'timestamp[us,UTC]');
  assert.equal(state.tables['pageviews'].lastDumpId, '1008461850');
  assert.equal(state.tables['user_migrations'].lastDumpId, '1200');
  // 64-bit ids above 2^53 survive exactly (the reference compares them as text)
  assert.ok(lake['pageviews']!.rows.some((r) => typeof r['event_id'] === 'string' && BigInt(r['event_id'] as string) > 2n ** 53n));
});

test('P3: re-running with nothing new changes nothing, byte for byte', async () => {
  const lakeDir = tmp();
  await convert({ source: EXPORT, target: lakeDir });
  const before = fileHashes(lakeDir);
  const report = await convert({ source: EXPORT, target: lakeDir });
  assert.equal(report.committed, false);
  assert.equal(report.tables.length, 0);
  assert.deepStrictEqual(fileHashes(lakeDir), before);
});

test('P3: converting dump by dump gives the same lake as one run', async () => {
  const oneShot = tmp();
  await convert({ source: EXPORT, target: oneShot });
  const partial = tmp();
  const stepwise = tmp();
  cpSync(EXPORT, partial, { recursive: true });
  const manifests = readdirSync(join(EXPORT, 'manifests')).filter((f) => f.startsWith('sync_'));
  rmSync(join(partial, 'manifests'), { recursive: true });
  mkdirSync(join(partial, 'manifests'));
  for (const m of manifests.sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))) {
    cpSync(join(EXPORT, 'manifests', m), join(partial, 'manifests', m));
    await convert({ source: partial, target: stepwise });
  }
  const a = await readLake(oneShot);
  const b = await readLake(stepwise);
  assert.deepStrictEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const table of Object.keys(a)) {
    assert.deepStrictEqual(b[table]!.columns, a[table]!.columns, `${table} columns`);
    assert.deepStrictEqual(canonicalRows(b[table]!.rows), canonicalRows(a[table]!.rows), `${table} rows`);
  }
  const stateA = JSON.parse(readFileSync(join(oneShot, '_heaplake/state.json'), 'utf8'));
  const stateB = JSON.parse(readFileSync(join(stepwise, '_heaplake/state.json'), 'utf8'));
  for (const table of Object.keys(a)) assert.deepStrictEqual(stateB.tables[table].columns, stateA.tables[table].columns, `${table} schema`);
});

test('a failure between tasks leaves the previous lake readable, and the next run completes it', async () => {
  const lakeDir = tmp();
  const clean = tmp();
  await convert({ source: EXPORT, target: clean });
  await assert.rejects(
    convert({
      source: EXPORT,
      target: lakeDir,
      afterTask: (table) => {
        if (table === 'pageviews') throw new Error('injected crash after the pageviews task');
      },
    }),
    /injected crash/,
  );
  // nothing was committed: no state, no table files, no staging left
  assert.deepStrictEqual(readdirSync(lakeDir), readdirSync(lakeDir).filter((n) => n === '_heaplake'));
  assert.deepStrictEqual(readdirSync(join(lakeDir, '_heaplake')).filter((n) => n !== 'staging'), []);
  const report = await convert({ source: EXPORT, target: lakeDir });
  assert.ok(report.committed);
  const a = await readLake(clean);
  const b = await readLake(lakeDir);
  for (const table of Object.keys(a)) assert.deepStrictEqual(canonicalRows(b[table]!.rows), canonicalRows(a[table]!.rows), table);
});

test('--start-date leaves out earlier event rows (and counts them), never users', async () => {
  const lakeDir = tmp();
  const report = await convert({ source: EXPORT, target: lakeDir, startDate: '2026-05-04' });
  await assertLakeMatchesReference(lakeDir, EXPORT, { startDate: '2026-05-04' });
  const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
  assert.ok(byTable['sessions']!.filtered > 0);
  assert.equal(byTable['users']!.filtered, 0);
  assert.equal(byTable['sessions']!.rowsOut, 0);
});

test('--tables / --exclude-tables / --dry-run / --include-event-metadata', async () => {
  const lakeDir = tmp();
  const dry = await convert({ source: EXPORT, target: lakeDir, dryRun: true });
  assert.equal(dry.committed, false);
  assert.ok(dry.planned.length >= 5);
  assert.deepStrictEqual(readdirSync(lakeDir), []);
  const some = await convert({ source: EXPORT, target: lakeDir, tables: ['page*', 'users'], excludeTables: ['users'] });
  assert.deepStrictEqual(some.tables.map((t) => t.table), ['pageviews']);
  const meta = await convert({ source: EXPORT, target: tmp(), includeEventMetadata: true });
  const t = meta.tables.find((x) => x.table === '_event_metadata');
  assert.ok(t && t.rowsOut === 1);
});

test('readExport yields, per table, the same rows convert writes', async () => {
  const { readExport } = await import('../src/read-export.js');
  const { rowsAsJson } = await import('../src/columnar/json-rows.js');
  const lakeDir = tmp();
  await convert({ source: EXPORT, target: lakeDir });
  const lake = await readLake(lakeDir);
  const seen: string[] = [];
  for await (const t of readExport({ source: EXPORT })) {
    seen.push(t.table);
    const rows = t.batches.flatMap((b) => [...rowsAsJson(b)]);
    assert.equal(rows.length, lake[t.table]!.rows.length, t.table);
    assert.deepStrictEqual(t.schema.fields.map((f) => f.name), lake[t.table]!.columns, t.table);
    // the 64-bit keys match exactly
    const key = t.table === 'users' ? 'user_id' : t.table === 'user_migrations' ? 'from_user_id' : 'event_id';
    const ours = rows.map((r) => /"(?:event_id|user_id|from_user_id)":(-?\d+|null)/.exec(r)![1]).sort();
    const theirs = lake[t.table]!.rows.map((r) => String(r[key])).sort();
    assert.deepStrictEqual(ours, theirs, t.table);
  }
  assert.deepStrictEqual(seen.sort(), Object.keys(lake).sort());
});

test('S9 (local folder): two runs racing on one lake folder: exactly one commits, the other publishes nothing', async () => {
  const lakeDir = tmp();
  await convert({ source: EXPORT, target: lakeDir, tables: ['users'] });
  let winner: Awaited<ReturnType<typeof convert>> | undefined;
  await assert.rejects(
    convert({ source: EXPORT, target: lakeDir, afterTask: async () => void (winner ??= await convert({ source: EXPORT, target: lakeDir })) }),
    (e: unknown) => (e as { code?: string }).code === 'CONCURRENT_COMMIT',
  );
  assert.ok(winner?.committed);
  const state = JSON.parse(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'));
  assert.equal(state.runId, winner!.runId);
  await assertLakeMatchesReference(lakeDir, EXPORT);
});

test('P1/P2: a crash at the commit point (files moved, state not written): readers of the state see the old lake; the next run cleans up', async () => {
  const { localTarget } = await import('../src/sink/local-target.js');
  const lakeDir = tmp();
  await convert({ source: EXPORT, target: lakeDir, tables: ['users'] });
  const stateBefore = readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8');
  const real = localTarget(lakeDir);
  const crashing = { ...real, writeIfUnchanged: () => Promise.reject(new Error('killed at the commit point')) };
  await assert.rejects(convert({ source: EXPORT, target: crashing }), /killed at the commit point/);
  assert.equal(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'), stateBefore, 'the state is the old one');
  const orphans = Object.keys(fileHashes(lakeDir)).filter((p) => p.startsWith('pageviews/'));
  assert.ok(orphans.length > 0, 'moved files were left behind by the crash');
  const report = await convert({ source: EXPORT, target: lakeDir });
  assert.ok(report.committed);
  await assertLakeMatchesReference(lakeDir, EXPORT);
  // only live files remain: every Parquet file is in the state
  const state = JSON.parse(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'));
  const live = new Set(Object.values(state.tables as Record<string, { files: { path: string }[] }>).flatMap((t) => t.files.map((f) => f.path)));
  assert.deepStrictEqual(Object.keys(fileHashes(lakeDir)).filter((p) => p.endsWith('.parquet') && !live.has(p)), []);
});
