/**
 * Writes fixtures/heap-export/: a small, deterministic Heap Connect S3 export (manifests +
 * snappy Avro written by avsc) that exercises what real exports do:
 *
 * - four dumps with gaps in their ids (852, 860, 1200, 1008461850), listed as sync_852 … so
 *   a string sort would put them in the wrong order;
 * - ids above 2^53; duplicate event_ids within a file, across files of a dump and across dumps;
 * - `pageviews`: a column added in 860 (`plan_tier`, int), retyped in 1200 (long), a column
 *   dropped in 1200 (`utm_term`), a full resync (incremental: false) in 1200;
 * - `checkout_complete`: an event table first seen in 860 (no full dump), a null event_id,
 *   `cart_value` long in 860 and double later, an unparseable `time`;
 * - `users`: updated in later dumps (new property `plan`), two rows for one user in one dump;
 * - `user_migrations` in 852 and 1200 (the second replaces the first, dropping a mapping);
 * - `sessions` in every dump but one; `_event_metadata` in 852;
 * - `time` strings in several formats; a data folder without a manifest (must be ignored).
 *
 * Run: npm run fixtures:export
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAvro } from './avsc-writer.js';
import { writeDump as writeExportDump, type ExportTable } from './export-writer.js';
import { pad, prng } from './heap-like.js';

const root = join(import.meta.dirname, '..', 'fixtures', 'heap-export');
const rand = prng(852);
const int = (n: number) => Math.floor(rand() * n);
const bigId = (): bigint => (1n << 53n) + (BigInt(int(2 ** 31)) << 21n) + BigInt(int(2 ** 21));
const nullable = (type: unknown) => ({ type: ['null', type], default: null });

const USERS = Array.from({ length: 40 }, () => bigId());
const TIME_FORMATS = [
  (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`,
  (d: Date) => d.toISOString().slice(0, 19),
  (d: Date) => `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}.${pad(d.getUTCMilliseconds(), 3)}456`,
];
const time = (day: number) => TIME_FORMATS[int(TIME_FORMATS.length)]!(new Date(Date.UTC(2026, 4, day) + int(86_400_000)));

const PAGES = ['/', '/pricing', '/docs', '/blog/über', '/checkout', '/東京'];
function pageviewSchema(version: 1 | 2 | 3) {
  return {
    type: 'record',
    name: 'pageviews',
    fields: [
      { name: 'event_id', type: 'long' },
      { name: 'user_id', type: 'long' },
      { name: 'session_id', type: 'long' },
      { name: 'time', type: 'string' },
      { name: 'path', ...nullable('string') },
      { name: 'country', ...nullable('string') },
      ...(version < 3 ? [{ name: 'utm_term', ...nullable('string') }] : []),
      ...(version === 2 ? [{ name: 'plan_tier', ...nullable('int') }] : []),
      ...(version === 3 ? [{ name: 'plan_tier', ...nullable('long') }] : []),
    ],
  };
}
function pageview(version: 1 | 2 | 3, day: number, eventId = bigId()) {
  return {
    event_id: eventId,
    user_id: USERS[int(USERS.length)]!,
    session_id: bigId(),
    time: time(day),
    path: rand() < 0.1 ? null : PAGES[int(PAGES.length)]!,
    country: rand() < 0.3 ? null : ['Germany', 'Japan', 'Brazil'][int(3)]!,
    ...(version < 3 ? { utm_term: rand() < 0.5 ? null : 'spring sale' } : {}),
    ...(version === 2 ? { plan_tier: rand() < 0.5 ? null : int(4) } : {}),
    ...(version === 3 ? { plan_tier: rand() < 0.5 ? null : BigInt(int(4)) } : {}),
  };
}

const SESSIONS = { type: 'record', name: 'sessions', fields: pageviewSchema(1).fields.filter((f) => f.name !== 'utm_term') };
const session = (day: number) => {
  const { utm_term: _drop, ...rest } = pageview(1, day);
  void _drop;
  return rest;
};

function checkoutSchema(cartValue: 'long' | 'double') {
  return {
    type: 'record',
    name: 'checkout_complete',
    fields: [
      { name: 'event_id', ...nullable('long') },
      { name: 'user_id', type: 'long' },
      { name: 'session_id', type: 'long' },
      { name: 'time', type: 'string' },
      { name: 'cart_value', ...nullable(cartValue) },
      { name: 'sku', ...nullable('string') },
    ],
  };
}
const checkout = (day: number, cart: 'long' | 'double', eventId: bigint | null = bigId()) => ({
  event_id: eventId,
  user_id: USERS[int(USERS.length)]!,
  session_id: bigId(),
  time: time(day),
  cart_value: cart === 'long' ? BigInt(int(500)) : int(50000) / 100,
  sku: rand() < 0.2 ? null : `SKU-${int(1000)}`,
});

function usersSchema(withPlan: boolean) {
  return {
    type: 'record',
    name: 'users',
    fields: [
      { name: 'user_id', type: 'long' },
      { name: 'identity', ...nullable('string') },
      { name: 'handle', ...nullable('string') },
      { name: 'email', ...nullable('string') },
      { name: 'joindate', ...nullable('long') },
      { name: 'last_modified', ...nullable('long') },
      ...(withPlan ? [{ name: 'plan', ...nullable('string') }] : []),
    ],
  };
}
const MICROS_2025 = BigInt(Date.UTC(2025, 0, 1)) * 1000n;
const user = (id: bigint, i: number, modifiedDays: number, plan?: string | null) => ({
  user_id: id,
  identity: i % 3 === 0 ? `user${i}@example.com` : null,
  handle: i % 3 === 0 ? `user${i}` : null,
  email: i % 3 === 0 ? `user${i}@example.com` : null,
  joindate: i === 7 ? -86_400_000_000n : MICROS_2025 + BigInt(i) * 3_600_000_000n, // one before 1970
  last_modified: MICROS_2025 + BigInt(modifiedDays) * 86_400_000_000n + BigInt(i),
  ...(plan === undefined ? {} : { plan }),
});

const MIGRATIONS = { type: 'record', name: 'user_migrations', fields: [{ name: 'from_user_id', type: 'long' }, { name: 'to_user_id', type: 'long' }, { name: 'time', ...nullable('string') }] };
const EVENT_METADATA = { type: 'record', name: '_event_metadata', fields: [{ name: 'event_name', type: 'string' }, { name: 'event_table_name', type: 'string' }] };

async function writeDump(id: string, tables: ExportTable[]): Promise<void> {
  await writeExportDump(root, { id, tables, extra: { heaplake_fixture_note: 'unknown keys like this one are ignored' } });
}

rmSync(root, { recursive: true, force: true });

// dump 852: the first delivery
const pv852a = Array.from({ length: 120 }, () => pageview(1, 1));
const pv852b = Array.from({ length: 80 }, () => pageview(1, 2));
pv852a.push({ ...pv852a[3]!, path: '/duplicate-in-file' }); // same event twice in one file
pv852b.push({ ...pv852a[5]!, path: '/duplicate-across-files' }); // and across the dump's files
const users852 = USERS.slice(0, 30).map((id, i) => user(id, i, 1));
await writeDump('852', [
  { name: 'pageviews', incremental: true, files: [{ schema: pageviewSchema(1), rows: pv852a }, { schema: pageviewSchema(1), rows: pv852b }] },
  { name: 'sessions', incremental: true, files: [{ schema: SESSIONS, rows: Array.from({ length: 40 }, () => session(1)) }] },
  { name: 'users', incremental: true, files: [{ schema: usersSchema(false), rows: users852 }] },
  {
    name: 'user_migrations',
    incremental: false,
    files: [{ schema: MIGRATIONS, rows: [0, 1, 2, 3].map((i) => ({ from_user_id: USERS[i]!, to_user_id: USERS[i + 20]!, time: time(1) })) }],
  },
  { name: '_event_metadata', incremental: true, files: [{ schema: EVENT_METADATA, rows: [{ event_name: 'Checkout - Complete', event_table_name: 'checkout_complete' }] }] },
]);

// dump 860: a new column, a late event table, user updates, re-delivered events
const pv860 = Array.from({ length: 60 }, () => pageview(2, 3));
pv860.push({ ...pageview(2, 3, pv852a[10]!.event_id), path: '/redelivered-in-860' });
const checkout860 = Array.from({ length: 25 }, () => checkout(3, 'long'));
checkout860.push(checkout(3, 'long', null)); // a null key is kept, not de-duplicated
await writeDump('860', [
  { name: 'pageviews', incremental: true, files: [{ schema: pageviewSchema(2), rows: pv860 }] },
  { name: 'checkout_complete', incremental: true, files: [{ schema: checkoutSchema('long'), rows: checkout860 }] },
  { name: 'users', incremental: true, files: [{ schema: usersSchema(true), rows: USERS.slice(25, 40).map((id, i) => user(id, 25 + i, 5, ['free', 'pro', null][i % 3]!)) }] },
  { name: 'sessions', incremental: true, files: [{ schema: SESSIONS, rows: Array.from({ length: 20 }, () => session(3)) }] },
]);

// dump 1200: pageviews fully resynced (drops utm_term, widens plan_tier), migrations replaced
const pv1200 = Array.from({ length: 150 }, () => pageview(3, 4));
pv1200.push({ ...pageview(3, 4, pv860[0]!.event_id), path: '/resynced' });
const checkout1200 = Array.from({ length: 10 }, () => checkout(4, 'double'));
checkout1200.push({ ...checkout(4, 'double', checkout860[2]!.event_id), sku: 'SKU-UPDATED' });
checkout1200.push({ ...checkout(4, 'double'), time: 'not a time' });
await writeDump('1200', [
  { name: 'pageviews', incremental: false, files: [{ schema: pageviewSchema(3), rows: pv1200 }] },
  { name: 'checkout_complete', incremental: true, files: [{ schema: checkoutSchema('double'), rows: checkout1200 }] },
  {
    name: 'user_migrations',
    incremental: true, // Heap: always a full sync, whatever the flag says
    files: [{ schema: MIGRATIONS, rows: [0, 1, 2, 10, 11].map((i) => ({ from_user_id: USERS[i]!, to_user_id: USERS[i + 20]!, time: time(4) })) }],
  },
]);

// dump 1008461850: a big id; more events, users with two rows in one dump, an empty file list
const pvLast = Array.from({ length: 50 }, () => pageview(3, 5));
pvLast.push({ ...pageview(3, 5, pv1200[1]!.event_id), path: '/updated-after-resync' });
const twice = USERS[2]!;
await writeDump('1008461850', [
  { name: 'pageviews', incremental: true, files: [{ schema: pageviewSchema(3), rows: pvLast }] },
  { name: 'checkout_complete', incremental: true, files: [{ schema: checkoutSchema('double'), rows: [...Array.from({ length: 8 }, () => checkout(5, 'double')), { ...checkout(5, 'double', checkout1200[0]!.event_id), sku: 'SKU-LAST' }] }] },
  {
    name: 'users',
    incremental: true,
    files: [
      { schema: usersSchema(true), rows: [user(twice, 2, 9, 'enterprise'), user(USERS[3]!, 3, 9, 'pro')] },
      // an older last_modified later in the dump: the earlier row wins for this user
      { schema: usersSchema(true), rows: [user(twice, 2, 8, 'free')] },
    ],
  },
  { name: 'sessions', incremental: true, files: [] },
]);

// a sync folder whose manifest never arrived: must be ignored
mkdirSync(join(root, 'sync_1008461999', 'pageviews'), { recursive: true });
writeFileSync(join(root, 'sync_1008461999', 'pageviews', 'part-00000-incomplete.avro'), await writeAvro(pageviewSchema(3), [pageview(3, 6)], { codec: 'snappy' }));
writeFileSync(join(root, 'manifests', 'README.txt'), 'not a manifest: ignored\n');
console.log(`wrote ${root}`);
