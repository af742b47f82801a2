/**
 * Identity resolution: chains, cycles, migrations replaced across dumps, users without a row,
 * merged users; incremental == one shot; the printed views run in DuckDB over the fixture lake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { convert } from '../src/convert.js';
import { resolveIds } from '../src/identity/resolve.js';
import { identityViews } from '../src/identity/views.js';
import { writeDump, type ExportDump } from '../scripts/export-writer.js';
import { FIXTURES } from './helpers/paths.js';
import { canonicalRows, readLake } from './helpers/lake.js';

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `heaplake-identity-${what}-`));
const nullable = (type: unknown) => ({ type: ['null', type], default: null });

test('chains resolve to their end; cycles to their smallest id, never looping', () => {
  const m = new Map<bigint, bigint>([
    [1n, 2n],
    [2n, 3n],
    [10n, 11n],
    [11n, 10n],
    [12n, 10n],
    [20n, 20n],
  ]);
  const { resolved, chains, longest, cycles } = resolveIds(m);
  assert.equal(resolved.get(1n), 3n);
  assert.equal(resolved.get(2n), 3n);
  assert.equal(resolved.get(10n), 10n);
  assert.equal(resolved.get(11n), 10n);
  assert.equal(resolved.get(12n), 10n);
  assert.equal(resolved.get(20n), 20n);
  assert.equal(chains, 1);
  assert.equal(longest, 2);
  assert.deepStrictEqual(cycles.map((c) => c.map(String)).sort(), [['10', '11'], ['20']]);
});

const USERS = {
  type: 'record',
  name: 'users',
  fields: [
    { name: 'user_id', type: 'long' },
    { name: 'email', ...nullable('string') },
    { name: 'joindate', ...nullable('long') },
    { name: 'last_modified', ...nullable('long') },
    { name: 'plan', ...nullable('string') },
  ],
};
const MIGRATIONS = { type: 'record', name: 'user_migrations', fields: [{ name: 'from_user_id', type: 'long' }, { name: 'to_user_id', type: 'long' }] };
const u = (id: number, email: string | null, joindate: number, lm: number, plan: string | null) => ({ user_id: BigInt(id), email, joindate: BigInt(joindate), last_modified: BigInt(lm), plan });
const m = (a: number, b: number) => ({ from_user_id: BigInt(a), to_user_id: BigInt(b) });

const DUMPS: ExportDump[] = [
  {
    id: '1',
    tables: [
      { name: 'users', incremental: true, files: [{ schema: USERS, rows: [u(1, 'one@x', 100, 500, 'free'), u(2, null, 50, 600, null), u(3, 'three@x', 300, 400, 'pro'), u(4, 'four@x', 1, 1, null), u(5, null, 2, 2, 'b'), u(6, 'six@x', 6, 6, null)] }] },
      { name: 'user_migrations', incremental: false, files: [{ schema: MIGRATIONS, rows: [m(1, 2), m(2, 3), m(4, 5), m(5, 4), m(6, 7)] }] },
    ],
  },
  {
    id: '2',
    tables: [
      { name: 'users', incremental: true, files: [{ schema: USERS, rows: [u(8, 'eight@x', 8, 800, 'team')] }] },
      // a full replacement: 6 → 7 is dropped, 8 → 3 is new
      { name: 'user_migrations', incremental: false, files: [{ schema: MIGRATIONS, rows: [m(1, 2), m(2, 3), m(4, 5), m(5, 4), m(8, 3)] }] },
    ],
  },
  {
    id: '3',
    // user 1 migrated a second time, now to 9 (who has no row in users)
    // (and 1 → 7 first in the same file: an id mapping to two targets, the later mapping wins)
    tables: [{ name: 'user_migrations', incremental: true, files: [{ schema: MIGRATIONS, rows: [m(1, 7), m(1, 9), m(2, 3), m(4, 5), m(5, 4), m(8, 3)] }] }],
  },
];

const EXPECTED_IDENTITY = { 1: 9, 2: 3, 3: 3, 4: 4, 5: 4, 6: 6, 8: 3, 9: 9 };

async function exportDir(): Promise<string> {
  const dir = tmp('export');
  for (const d of DUMPS) await writeDump(dir, d);
  return dir;
}

async function identityOf(lakeDir: string) {
  const lake = await readLake(lakeDir);
  return {
    identity: Object.fromEntries(lake['user_identity']!.rows.map((r) => [r['user_id'], r['resolved_user_id']])),
    resolved: Object.fromEntries(lake['users_resolved']!.rows.map((r) => [r['resolved_user_id'], r])),
    lake,
  };
}

test('user_identity and users_resolved from users and the latest user_migrations', async () => {
  const dir = await exportDir();
  const lakeDir = tmp('lake');
  const report = await convert({ source: dir, target: lakeDir, resolveIdentities: true });
  assert.deepStrictEqual(report.identity?.cycles, [['4', '5']]);
  const migrations = report.tables.find((t) => t.table === 'user_migrations')!;
  assert.ok(migrations.warnings.some((w) => /appear more than once in one delivery: the last mapping in file order wins/.test(w)), migrations.warnings.join('\n'));
  assert.ok(report.tables.find((t) => t.table === 'user_identity')!.warnings.some((w) => /1 migration cycle/.test(w)));
  const { identity, resolved } = await identityOf(lakeDir);
  assert.deepStrictEqual(identity, EXPECTED_IDENTITY);
  // 3 absorbs 2 and 8 (1 moved on to 9): earliest joindate, latest last_modified, latest non-null values
  assert.deepStrictEqual(resolved[3], { resolved_user_id: 3, email: 'eight@x', joindate: 0, last_modified: 0, plan: 'team', merged_user_count: 3 });
  // 9 has no users row of its own: it takes user 1's
  assert.equal(resolved[9]!['email'], 'one@x');
  assert.equal(resolved[9]!['merged_user_count'], 1);
  assert.equal(resolved[4]!['merged_user_count'], 2);
  assert.deepStrictEqual(Object.keys(resolved).map(Number).sort((a, b) => a - b), [3, 4, 6, 9]);
  // raw tables keep their raw ids
  const lake = await readLake(lakeDir);
  assert.deepStrictEqual(lake['users']!.rows.map((r) => r['user_id']).sort(), [1, 2, 3, 4, 5, 6, 8]);
});

test('incremental runs give the same identity tables as one run; a rerun with nothing new changes nothing', async () => {
  const dir = await exportDir();
  const oneShot = tmp('one');
  await convert({ source: dir, target: oneShot, resolveIdentities: true });
  const partial = tmp('partial');
  for (const e of readdirSync(dir)) if (e !== 'manifests') cpSync(join(dir, e), join(partial, e), { recursive: true });
  mkdirSync(join(partial, 'manifests'));
  const stepwise = tmp('step');
  for (const d of DUMPS) {
    cpSync(join(dir, 'manifests', `sync_${d.id}.json`), join(partial, 'manifests', `sync_${d.id}.json`));
    await convert({ source: partial, target: stepwise, resolveIdentities: true });
  }
  const a = await identityOf(oneShot);
  const b = await identityOf(stepwise);
  assert.deepStrictEqual(b.identity, a.identity);
  for (const t of ['user_identity', 'users_resolved']) assert.deepStrictEqual(canonicalRows(b.lake[t]!.rows), canonicalRows(a.lake[t]!.rows), t);
  const again = await convert({ source: partial, target: stepwise, resolveIdentities: true });
  assert.equal(again.committed, false);
  assert.equal(again.identity, undefined);
});

test('the printed views run in DuckDB over the fixture lake and resolve every event', async () => {
  const lakeDir = tmp('fixture');
  await convert({ source: join(FIXTURES, 'heap-export'), target: lakeDir, resolveIdentities: true });
  const state = JSON.parse(readFileSync(join(lakeDir, '_heaplake/state.json'), 'utf8'));
  const sql = identityViews(state, 'duckdb', { location: lakeDir });
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const statements = sql.split(';').map((s) => s.replace(/^--.*$/gm, '').trim()).filter(Boolean);
  assert.equal(statements.length, 3, 'one view per event table: checkout_complete, pageviews, sessions');
  for (const statement of statements) await c.run(statement);
  // expected, from the lake read independently: resolve each pageview's user through user_identity
  const lake = await readLake(lakeDir);
  const identity = new Map(lake['user_identity']!.rows.map((r) => [String(r['user_id']), String(r['resolved_user_id'])]));
  const expected = new Set(lake['pageviews']!.rows.map((r) => identity.get(String(r['user_id'])) ?? String(r['user_id'])));
  const rows = (await c.runAndReadAll('SELECT count(*) AS n, count(DISTINCT resolved_user_id) AS users, count(*) FILTER (WHERE resolved_user_id <> user_id) AS moved FROM pageviews_resolved')).getRowObjects();
  assert.equal(Number(rows[0]!['n']), lake['pageviews']!.rows.length);
  assert.equal(Number(rows[0]!['users']), expected.size);
  assert.ok(Number(rows[0]!['moved']) > 0, 'some pageviews belong to migrated users');
  for (const view of ['checkout_complete_resolved', 'sessions_resolved']) {
    const r = (await c.runAndReadAll(`SELECT count(*) AS n FROM ${view} WHERE resolved_user_id IS NULL`)).getRowObjects();
    assert.equal(Number(r[0]!['n']), 0, view);
  }
  // athena / trino: the same views over catalog tables
  assert.match(identityViews(state, 'trino', { schema: 'hive.heap' }), /FROM "hive"\."heap"\."sessions" AS e/);
  const athena = identityViews(state, 'athena', { schema: 'heap' });
  assert.match(athena, /CREATE OR REPLACE VIEW "heap"\."pageviews_resolved" AS[\s\S]*FROM "heap"\."pageviews" AS e\nLEFT JOIN "heap"\."user_identity" AS i ON e\.user_id = i\.user_id;/);
});
