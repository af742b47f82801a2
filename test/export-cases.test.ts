/**
 * The edge cases of ../shared/docs/heap-connect-s3.md §7.2, each on a small export built for
 * the test, checked against the reference model (test/helpers/lake.ts) or an explicit
 * expectation; plus a property test: any sequence of dumps converted one run at a time gives
 * the same lake as one run over all of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../src/convert.js';
import { HeaplakeError } from '../src/errors.js';
import { localSource } from '../src/source/local-source.js';
import type { Source } from '../src/source/source.js';
import { writeDump, type ExportDump, type ExportTable } from '../scripts/export-writer.js';
import { prng } from '../scripts/heap-like.js';
import { canonicalRows, readLake, referenceLake, withColumns, type Row } from './helpers/lake.js';

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `heaplake-${what}-`));

async function makeExport(dumps: ExportDump[]): Promise<string> {
  const dir = tmp('export');
  for (const d of dumps) await writeDump(dir, d);
  return dir;
}

const nullable = (type: unknown) => ({ type: ['null', type], default: null });
const eventSchema = (name: string, extra: { name: string; type: unknown }[] = []) => ({
  type: 'record',
  name,
  fields: [{ name: 'event_id', type: 'long' }, { name: 'user_id', type: 'long' }, { name: 'time', type: 'string' }, { name: 'v', ...nullable('string') }, ...extra],
});
const ev = (id: number | bigint, v: string | null, time = '2026-05-01 10:00:00', extra: Row = {}) => ({ event_id: BigInt(id), user_id: 1n, time, v, ...extra });
const table = (name: string, incremental: boolean, ...files: { schema: unknown; rows: unknown[] }[]): ExportTable => ({ name, incremental, files });

async function expectReference(exportDir: string, lakeDir = tmp('lake')): Promise<Record<string, Row[]>> {
  await convert({ source: exportDir, target: lakeDir });
  const lake = await readLake(lakeDir);
  const reference = await referenceLake(exportDir);
  for (const [name, rows] of Object.entries(reference)) {
    assert.ok(lake[name], `table ${name} in the lake`);
    assert.deepStrictEqual(canonicalRows(lake[name]!.rows), canonicalRows(withColumns(rows, lake[name]!.columns)), name);
  }
  return Object.fromEntries(Object.entries(lake).map(([k, v]) => [k, v.rows]));
}

async function errorOf(p: Promise<unknown>): Promise<HeaplakeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HeaplakeError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

test('M8: dump order is numeric (sync_9 before sync_10), ids reach 10^9 and beyond, gaps are fine', async () => {
  const dir = await makeExport([
    { id: '9', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'from 9')] })] },
    { id: '10', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'from 10')] })] },
    { id: '1008461850', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(2, 'big id')] })] },
  ]);
  const lake = await expectReference(dir);
  assert.deepStrictEqual(lake['pageviews']!.map((r) => r['v']).sort(), ['big id', 'from 10']);
});

test('a sync folder without a manifest, and keys under manifests/ that are not manifests, are ignored', async () => {
  const dir = await makeExport([{ id: '5', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'a')] })] }]);
  await writeDump(tmp('other'), { id: '6', tables: [] });
  mkdirSync(join(dir, 'sync_7', 'pageviews'), { recursive: true });
  writeFileSync(join(dir, 'sync_7', 'pageviews', 'part-0.avro'), 'garbage');
  writeFileSync(join(dir, 'manifests', 'readme.txt'), 'x');
  writeFileSync(join(dir, 'manifests', 'sync_12.json.tmp'), 'x');
  const report = await convert({ source: dir, target: tmp('lake') });
  assert.deepStrictEqual(report.dumps, ['5']);
  assert.deepStrictEqual([...report.ignoredKeys].sort(), ['manifests/readme.txt', 'manifests/sync_12.json.tmp']);
});

test('P10/M1/M2/M3/M4/M10: manifest errors stop the run before any output, naming the manifest and field', async () => {
  const good = { id: '5', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'a')] })] };
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['not JSON', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": ['), /not valid JSON/],
    ['no dump_id', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"tables": []}'), /dump_id/],
    ['dump_id as text', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": "5", "tables": []}'), /dump_id/],
    ['dump_id differs from the key', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 6, "tables": []}'), /differs/],
    ['no tables', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5}'), /tables/],
    ['files not an array', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": "x", "incremental": true}]}'), /files/],
    ['no incremental', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": []}]}'), /incremental/],
    ['another bucket', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": ["s3://a/x.avro", "s3://b/y.avro"], "incremental": true}]}'), /outside the export's bucket/],
    ['a .. path', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": ["s3://a/../../etc/passwd"], "incremental": true}]}'), /leaves the export root/],
    ['not s3://', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": ["/etc/passwd"], "incremental": true}]}'), /not an s3/],
    ['a table name that is a path', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "../x", "files": [], "incremental": true}]}'), /cannot be a folder/],
    ['a table named like our state folder', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "_heaplake", "files": [], "incremental": true}]}'), /cannot be a folder/],
    ['a byte-order mark', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '\uFEFF' + readFileSync(join(d, 'manifests', 'sync_5.json'), 'utf8')), /byte-order mark/],
    ['an empty object', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{}'), /dump_id/],
    ['a file that is not .avro', (d) => writeFileSync(join(d, 'manifests', 'sync_5.json'), '{"dump_id": 5, "tables": [{"name": "t", "files": ["s3://a/sync_5/t/part-0.json"], "incremental": true}]}'), /not an \.avro file/],
    ['two manifests with one dump_id and different contents', (d) => writeFileSync(join(d, 'manifests', 'sync_05.json'), '{"dump_id": 5, "tables": []}'), /both have dump_id 5, with different contents/],
    ['a listed file that is missing', (d) => rmSync(join(d, 'sync_5'), { recursive: true }), /missing/],
    ['a listed file that is empty', (d) => writeFileSync(join(d, 'sync_5', 'pageviews', readdirSync(join(d, 'sync_5', 'pageviews'))[0]!), ''), /empty \(0 bytes\)/],
  ];
  for (const [what, damage, message] of cases) {
    const dir = await makeExport([good]);
    damage(dir);
    const lakeDir = tmp('lake');
    const err = await errorOf(convert({ source: dir, target: lakeDir }).then(() => assert.fail(`${what}: no error`)));
    assert.equal(err.code, 'MANIFEST', `${what}: ${err.message}`);
    assert.match(err.message, message, what);
    assert.ok(err.message.includes(/^a listed file/.test(what) ? 'sync_5/pageviews/part-' : 'manifests/sync_'), `${what} names the manifest or file: ${err.message}`);
    assert.deepStrictEqual(readdirSync(lakeDir).filter((n) => n !== '_heaplake'), [], `${what}: no output`);
    assert.ok(!existsSync(join(lakeDir, '_heaplake', 'state.json')), what);
  }
});

test('M1/M4: a manifest caught mid-write is read once more; identical manifests for one dump count as one', async () => {
  const dir = await makeExport([{ id: '5', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'a')] })] }]);
  cpSync(join(dir, 'manifests', 'sync_5.json'), join(dir, 'manifests', 'sync_05.json'));
  const local = localSource(dir);
  const reads = new Map<string, number>();
  // the first read of sync_5.json sees half the file, as if the producer were still writing it
  const source: Source = {
    ...local,
    readAll: async (key) => {
      const n = (reads.get(key) ?? 0) + 1;
      reads.set(key, n);
      const bytes = await local.readAll(key);
      return key === 'manifests/sync_5.json' && n === 1 ? bytes.subarray(0, bytes.length >> 1) : bytes;
    },
  };
  const lakeDir = tmp('lake');
  const report = await convert({ source, target: lakeDir });
  assert.deepStrictEqual(report.dumps, ['5']);
  assert.equal(reads.get('manifests/sync_5.json'), 2);
  assert.ok(report.warnings.some((w) => /sync_5\.json did not parse on the first read/.test(w)), report.warnings.join('\n'));
  assert.ok(report.warnings.some((w) => /are identical: applied once/.test(w)), report.warnings.join('\n'));
  assert.deepStrictEqual((await readLake(lakeDir))['pageviews']!.rows.map((r) => r['v']), ['a']);
});

test('M5/M6: a re-delivered dump is a no-op; a dump that appears after a later one was applied stops the run', async () => {
  const s = eventSchema('p');
  const dir = await makeExport([
    { id: '7', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'seven')] })] },
    { id: '9', tables: [table('pageviews', true, { schema: s, rows: [ev(2, 'nine')] })] },
  ]);
  const lakeDir = tmp('lake');
  await convert({ source: dir, target: lakeDir });
  const before = readFileSync(join(lakeDir, '_heaplake', 'state.json'), 'utf8');
  // M5: dump 9 delivered again (its manifest rewritten with the same content)
  cpSync(join(dir, 'manifests', 'sync_9.json'), join(dir, 'manifests', 'sync_9.json.copy'));
  rmSync(join(dir, 'manifests', 'sync_9.json'));
  cpSync(join(dir, 'manifests', 'sync_9.json.copy'), join(dir, 'manifests', 'sync_9.json'));
  rmSync(join(dir, 'manifests', 'sync_9.json.copy'));
  const logs: string[] = [];
  const again = await convert({ source: dir, target: lakeDir, onLog: (l) => logs.push(l) });
  assert.equal(again.committed, false);
  assert.ok(logs.some((l) => /pageviews: up to date \(dump 9\)/.test(l)), logs.join('\n'));
  assert.equal(readFileSync(join(lakeDir, '_heaplake', 'state.json'), 'utf8'), before);
  // M6: dump 8 turns up after 9 was applied; gaps alone (7, 9) are fine, Heap's ids are not contiguous
  await writeDump(dir, { id: '8', tables: [table('pageviews', true, { schema: s, rows: [ev(3, 'eight')] })] });
  const err = await errorOf(convert({ source: dir, target: lakeDir }));
  assert.equal(err.code, 'MANIFEST');
  assert.match(err.message, /dump 8 \(manifests\/sync_8\.json\) appeared after dump 9 was applied/);
  assert.equal(readFileSync(join(lakeDir, '_heaplake', 'state.json'), 'utf8'), before);
  // the explicit override leaves it out, and says so
  await writeDump(dir, { id: '10', tables: [table('pageviews', true, { schema: s, rows: [ev(4, 'ten')] })] });
  const skipped = await convert({ source: dir, target: lakeDir, skipLateDumps: true });
  assert.ok(skipped.warnings.some((w) => /dump 8 .* left out/.test(w)), skipped.warnings.join('\n'));
  assert.deepStrictEqual((await readLake(lakeDir))['pageviews']!.rows.map((r) => r['v']).sort(), ['nine', 'seven', 'ten']);
});

test('M11: a manifest visible before all its files: nothing changes; the run after the files arrive applies the dump', async () => {
  const s = eventSchema('p');
  const dir = await makeExport([
    { id: '1', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'one')] })] },
    { id: '2', tables: [table('pageviews', true, { schema: s, rows: [ev(2, 'two')] }, { schema: s, rows: [ev(3, 'three')] })] },
  ]);
  const folder = join(dir, 'sync_2', 'pageviews');
  const late = readdirSync(folder).sort()[1]!;
  const held = readFileSync(join(folder, late));
  rmSync(join(folder, late));
  const lakeDir = tmp('lake');
  const err = await errorOf(convert({ source: dir, target: lakeDir }));
  assert.match(err.message, /missing .*sync_2\/pageviews\/.*run again once it is complete/);
  assert.ok(!existsSync(join(lakeDir, '_heaplake', 'state.json')), 'dump 1 is not applied alone either: the run stops as a whole');
  writeFileSync(join(folder, late), held);
  await expectReference(dir, lakeDir);
});

test('M7: full resyncs: rows before the latest one disappear; an empty full resync empties the table', async () => {
  const s = eventSchema('p');
  const dir = await makeExport([
    { id: '1', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'a'), ev(2, 'b')] })] },
    { id: '2', tables: [table('pageviews', false, { schema: s, rows: [ev(3, 'c')] })] },
    { id: '3', tables: [table('pageviews', true, { schema: s, rows: [ev(4, 'd')] })] },
    { id: '4', tables: [table('pageviews', false, { schema: s, rows: [ev(5, 'e'), ev(6, 'f')] })] },
    { id: '5', tables: [table('pageviews', true, { schema: s, rows: [ev(7, 'g')] }), table('sessions', false)] },
  ]);
  const lake = await expectReference(dir);
  assert.deepStrictEqual(lake['pageviews']!.map((r) => r['v']).sort(), ['e', 'f', 'g']);
  // sessions: first seen as an empty full resync → an empty table with no files
  assert.deepStrictEqual(lake['sessions'] ?? [], []);
  // incrementally: the emptying full resync also removes what was there
  const later = await makeExport([
    { id: '1', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'a')] })] },
    { id: '2', tables: [table('pageviews', false)] },
  ]);
  const lakeDir = tmp('lake');
  const partial = tmp('partial');
  cpSync(later, partial, { recursive: true });
  rmSync(join(partial, 'manifests', 'sync_2.json'));
  await convert({ source: partial, target: lakeDir });
  assert.equal((await readLake(lakeDir))['pageviews']!.rows.length, 1);
  cpSync(join(later, 'manifests', 'sync_2.json'), join(partial, 'manifests', 'sync_2.json'));
  await convert({ source: partial, target: lakeDir });
  const emptied = await readLake(lakeDir);
  assert.equal(emptied['pageviews']!.rows.length, 0);
  assert.deepStrictEqual(emptied['pageviews']!.files, []);
});

test('an incremental entry with no files changes nothing; an absent table stays as it was', async () => {
  const s = eventSchema('p');
  const dir = await makeExport([
    { id: '1', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'a')] }), table('click', true, { schema: eventSchema('c'), rows: [ev(1, 'same id, other table')] })] },
    { id: '2', tables: [table('pageviews', true)] },
    { id: '3', tables: [table('click', true, { schema: eventSchema('c'), rows: [ev(2, 'x')] })] },
  ]);
  const lake = await expectReference(dir);
  assert.deepStrictEqual(lake['pageviews']!.map((r) => r['v']), ['a']);
  // the same event_id in two tables is legitimate: both kept
  assert.ok(lake['click']!.some((r) => r['event_id'] === 1));
});

test('duplicates within a file, across files and across dumps: the latest wins', async () => {
  const s = eventSchema('p');
  const dir = await makeExport([
    { id: '1', tables: [table('pageviews', true, { schema: s, rows: [ev(1, 'a'), ev(1, 'a2')] }, { schema: s, rows: [ev(1, 'a3'), ev(2, 'b')] })] },
    { id: '2', tables: [table('pageviews', true, { schema: s, rows: [ev(2, 'b2', '2026-05-09 00:00:00')] })] },
  ]);
  const lake = await expectReference(dir);
  assert.deepStrictEqual(lake['pageviews']!.map((r) => r['v']).sort(), ['a3', 'b2']);
});

test('users: a later dump wins; within a dump the higher last_modified wins', async () => {
  const schema = { type: 'record', name: 'users', fields: [{ name: 'user_id', type: 'long' }, { name: 'last_modified', ...nullable('long') }, { name: 'joindate', ...nullable('long') }, { name: 'plan', ...nullable('string') }] };
  const u = (id: number, lm: number | null, plan: string, joindate: bigint | null = -5_000_000n) => ({ user_id: BigInt(id), last_modified: lm === null ? null : BigInt(lm), joindate, plan });
  const dir = await makeExport([
    { id: '1', tables: [table('users', true, { schema, rows: [u(1, 100, 'old'), u(2, 500, 'keep')] })] },
    { id: '2', tables: [table('users', true, { schema, rows: [u(1, 300, 'newest'), u(1, 200, 'older but later'), u(3, null, 'no lm', null)] }, { schema, rows: [u(2, 50, 'lower lm, later dump')] })] },
  ]);
  const lake = await expectReference(dir);
  const plans = Object.fromEntries(lake['users']!.map((r) => [r['user_id'], r['plan']]));
  assert.deepStrictEqual(plans, { 1: 'newest', 2: 'lower lm, later dump', 3: 'no lm' });
  // joindate before 1970 and null survive as timestamps
  assert.ok(lake['users']!.some((r) => r['joindate'] === -5000));
  assert.ok(lake['users']!.some((r) => r['joindate'] === null));
});

test('user_migrations: every delivery replaces the table, including dropped mappings', async () => {
  const schema = { type: 'record', name: 'user_migrations', fields: [{ name: 'from_user_id', type: 'long' }, { name: 'to_user_id', type: 'long' }] };
  const m = (a: number, b: number) => ({ from_user_id: BigInt(a), to_user_id: BigInt(b) });
  const dir = await makeExport([
    { id: '1', tables: [table('user_migrations', false, { schema, rows: [m(1, 2), m(3, 4)] })] },
    { id: '2', tables: [table('user_migrations', true, { schema, rows: [m(1, 5)] })] },
  ]);
  const lake = await expectReference(dir);
  assert.deepStrictEqual(lake['user_migrations'], [{ from_user_id: 1, to_user_id: 5 }]);
});

test('P8: columns added, dropped and retyped merge the same way whatever the file order', async () => {
  const base = eventSchema('p');
  const withInt = eventSchema('p', [{ name: 'n', ...nullable('int') }]);
  const withLong = eventSchema('p', [{ name: 'n', ...nullable('long') }]);
  const withDouble = eventSchema('p', [{ name: 'n', ...nullable('double') }, { name: 'added', ...nullable('string') }]);
  const withString = eventSchema('p', [{ name: 'n', ...nullable('string') }]);
  const files = [
    { schema: withInt, rows: [ev(1, 'i', undefined, { n: 7 })] },
    { schema: withLong, rows: [ev(2, 'l', undefined, { n: 2n ** 40n })] },
    { schema: withDouble, rows: [ev(3, 'd', undefined, { n: 1.5, added: 'x' })] },
    { schema: base, rows: [ev(4, 'dropped')] },
  ];
  const typesOf = async (order: number[], extra?: { schema: unknown; rows: unknown[] }) => {
    const dir = await makeExport([{ id: '1', tables: [table('pageviews', true, ...order.map((i) => files[i]!), ...(extra ? [extra] : []))] }]);
    const lakeDir = tmp('lake');
    const report = await convert({ source: dir, target: lakeDir });
    const state = JSON.parse(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'));
    return { types: Object.fromEntries(state.tables.pageviews.columns.map((c: { name: string; type: string }) => [c.name, c.type])), report, lake: await readLake(lakeDir) };
  };
  const a = await typesOf([0, 1, 2, 3]);
  const b = await typesOf([3, 2, 1, 0]);
  assert.equal(a.types['n'], 'float64');
  assert.deepStrictEqual(Object.entries(a.types).sort(), Object.entries(b.types).sort());
  const ns = Object.fromEntries(a.lake['pageviews']!.rows.map((r) => [r['v'], r['n']]));
  assert.deepStrictEqual(ns, { i: 7, l: 2 ** 40, d: 1.5, dropped: null });
  // int + long only: long
  assert.equal((await typesOf([0, 1])).types['n'], 'int64');
  // a real conflict: string, with a warning in the report
  const conflict = await typesOf([0], { schema: withString, rows: [ev(9, 's', undefined, { n: 'seven' })] });
  assert.equal(conflict.types['n'], 'utf8');
  assert.ok(conflict.report.tables[0]!.warnings.some((w) => /conflicting types/.test(w)));
  assert.deepStrictEqual(Object.fromEntries(conflict.lake['pageviews']!.rows.map((r) => [r['v'], r['n']])), { i: '7', s: 'seven' });
});

test('unions written [T, "null"], non-union fields, and time strings in every supported form', async () => {
  const schema = {
    type: 'record',
    name: 'p',
    fields: [{ name: 'event_id', type: ['long', 'null'] }, { name: 'time', type: 'string' }, { name: 'v', type: ['string', 'null'] }],
  };
  const times = ['2026-05-01 10:00:00', '2026-05-01T10:00:00.5', '2026-05-01 10:00:00.123456', '2026-05-01T10:00:00Z', '2026-05-01 12:00:00+02:00', '2026-05-01', 'yesterday'];
  const dir = await makeExport([{ id: '1', tables: [table('pageviews', true, { schema, rows: times.map((t, i) => ({ event_id: BigInt(i), time: t, v: t })) })] }]);
  const lakeDir = tmp('lake');
  const report = await convert({ source: dir, target: lakeDir });
  const rows = Object.fromEntries((await readLake(lakeDir))['pageviews']!.rows.map((r) => [r['v'], r['time']]));
  const ten = Date.UTC(2026, 4, 1, 10);
  assert.deepStrictEqual(rows, {
    '2026-05-01 10:00:00': ten,
    '2026-05-01T10:00:00.5': ten + 500,
    '2026-05-01 10:00:00.123456': ten + 123,
    '2026-05-01T10:00:00Z': ten,
    '2026-05-01 12:00:00+02:00': ten,
    '2026-05-01': Date.UTC(2026, 4, 1),
    yesterday: null,
  });
  assert.equal(report.tables[0]!.unparsedTimes, 1);
  await assert.rejects(convert({ source: dir, target: tmp('lake'), strict: true }), (e: unknown) => e instanceof HeaplakeError && e.code === 'TIME_PARSE');
});

test('odd but legal table names are kept as Heap gives them', async () => {
  const names = ['_key_events_pm__order_confirmation_page', 'native_mobile_2_0__checkout_complete', 'ends_with_', '2fa_enabled'];
  const dir = await makeExport([{ id: '1', tables: names.map((n) => table(n, true, { schema: eventSchema('e'), rows: [ev(1, n)] })) }]);
  const lakeDir = tmp('lake');
  await convert({ source: dir, target: lakeDir });
  assert.deepStrictEqual(readdirSync(lakeDir).filter((n) => n !== '_heaplake').sort(), [...names].sort());
});

test('P4: bad Avro in a dump: a clear error naming the file, nothing committed', async () => {
  const dir = await makeExport([{ id: '1', tables: [table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'a'), ev(2, 'b')] })] }]);
  const file = join(dir, 'sync_1', 'pageviews', readdirSync(join(dir, 'sync_1', 'pageviews'))[0]!);
  const bytes = readFileSync(file);
  bytes[bytes.length - 20]! ^= 0xff; // inside the last block's data or CRC
  writeFileSync(file, bytes);
  const lakeDir = tmp('lake');
  const err = await errorOf(convert({ source: dir, target: lakeDir }));
  assert.match(err.code, /^AVRO_/);
  assert.ok(err.message.includes('sync_1/pageviews/'), err.message);
  assert.ok(!existsSync(join(lakeDir, '_heaplake', 'state.json')));
  assert.deepStrictEqual(readdirSync(lakeDir).filter((n) => n !== '_heaplake'), []);
});

test('a record or array field in a Heap table is a clear error', async () => {
  const schema = eventSchema('p', [{ name: 'tags', type: { type: 'array', items: 'string' } }]);
  const dir = await makeExport([{ id: '1', tables: [table('pageviews', true, { schema, rows: [ev(1, 'a', undefined, { tags: ['x'] })] })] }]);
  const err = await errorOf(convert({ source: dir, target: tmp('lake') }));
  assert.equal(err.code, 'UNSUPPORTED');
  assert.match(err.message, /tags/);
});

test('M9: manifest columns that disagree with the Avro fields are reported', async () => {
  const dir = await makeExport([{ id: '1', tables: [{ ...table('pageviews', true, { schema: eventSchema('p'), rows: [ev(1, 'a')] }), columns: ['event_id', 'user_id', 'time', 'ghost'] }] }]);
  const report = await convert({ source: dir, target: tmp('lake') });
  assert.ok(report.tables[0]!.warnings.some((w) => /only in the file: v; only in the manifest: ghost/.test(w)), report.tables[0]!.warnings.join('\n'));
});

test('property: any sequence of dumps, converted one run at a time, equals one run over all of them', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rand = prng(seed * 7919);
    const int = (n: number) => Math.floor(rand() * n);
    const variants: { schema: unknown; n?: 'int' | 'long'; w?: boolean }[] = [
      { schema: eventSchema('p') },
      { schema: eventSchema('p', [{ name: 'n', ...nullable('int') }]), n: 'int' },
      { schema: eventSchema('p', [{ name: 'n', ...nullable('long') }]), n: 'long' },
      { schema: eventSchema('p', [{ name: 'w', ...nullable('string') }]), w: true },
    ];
    const dumps: ExportDump[] = [];
    let id = 100;
    for (let d = 0; d < 2 + int(4); d++) {
      id += 1 + int(50);
      const tables: ExportTable[] = [];
      for (const name of ['pageviews', 'click']) {
        if (rand() < 0.25) continue;
        const files = Array.from({ length: int(3) }, () => {
          const v = variants[int(variants.length)]!;
          const rows = Array.from({ length: int(6) }, () =>
            ev(int(12), `s${seed}d${d}r${int(1000)}`, `2026-05-0${1 + int(3)} 0${int(9)}:00:00`, {
              ...(v.n ? { n: v.n === 'long' ? BigInt(int(99)) : int(99) } : {}),
              ...(v.w ? { w: rand() < 0.5 ? null : 'w' } : {}),
            }),
          );
          return { schema: v.schema, rows };
        });
        tables.push({ name, incremental: rand() < 0.75, files });
      }
      dumps.push({ id: String(id), tables });
    }
    const dir = await makeExport(dumps);
    const oneShot = tmp('one');
    await convert({ source: dir, target: oneShot });
    const partial = tmp('partial');
    mkdirSync(join(partial, 'manifests'), { recursive: true });
    for (const entry of readdirSync(dir)) if (entry !== 'manifests') cpSync(join(dir, entry), join(partial, entry), { recursive: true });
    const stepwise = tmp('step');
    for (const d of dumps) {
      cpSync(join(dir, 'manifests', `sync_${d.id}.json`), join(partial, 'manifests', `sync_${d.id}.json`));
      await convert({ source: partial, target: stepwise });
    }
    if (!existsSync(join(oneShot, '_heaplake', 'state.json'))) {
      assert.ok(!existsSync(join(stepwise, '_heaplake', 'state.json')), `seed ${seed}`);
      continue;
    }
    const a = await readLake(oneShot);
    const b = await readLake(stepwise);
    assert.deepStrictEqual(Object.keys(b).sort(), Object.keys(a).sort(), `seed ${seed}`);
    for (const t of Object.keys(a)) {
      assert.deepStrictEqual(b[t]!.columns, a[t]!.columns, `seed ${seed} ${t} columns`);
      assert.deepStrictEqual(canonicalRows(b[t]!.rows), canonicalRows(a[t]!.rows), `seed ${seed} ${t} rows`);
    }
    // and both equal the reference model
    const reference = await referenceLake(dir);
    for (const [t, rows] of Object.entries(reference)) assert.deepStrictEqual(canonicalRows(a[t]?.rows ?? []), canonicalRows(withColumns(rows, a[t]?.columns ?? [])), `seed ${seed} ${t} reference`);
  }
});
