/**
 * Tables split into key buckets (a table with more input than `maxTaskBytes`): map tasks spill
 * rows by a hash of the key, one reduce task per bucket writes it. Whatever the split, the
 * lake must hold exactly what the reference model says, dump by dump as in one run, in worker
 * processes as in one, and through the CLI's two stages as through `convert`.
 */
import { test } from 'node:test';
import { prng } from '../scripts/heap-like.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects, asyncBufferFromFile } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { makeData, Int64, Int32, Utf8, type Data } from 'apache-arrow';
import { convert, planFile } from '../src/convert.js';
import { HeaplakeError } from '../src/errors.js';
import { startWorkerPool } from '../src/protocol/worker-pool.js';
import { commitPlan } from '../src/protocol/commit-plan.js';
import { runTask, type Receipt } from '../src/protocol/run-task.js';
import { localSource } from '../src/source/local-source.js';
import { localTarget } from '../src/sink/local-target.js';
import { bucketOfHalves, bucketsOfRows } from '../src/shuffle/bucket.js';
import { decodeSpill } from '../src/shuffle/spill.js';
import { FIXTURES, ROOT } from './helpers/paths.js';
import { canonicalRows, exportWith, fileHashes, publishedFiles, readLake, assertLakeMatchesReference } from './helpers/lake.js';

const EXPORT = join(FIXTURES, 'heap-export');
const BIN = join(ROOT, 'dist/cli/bin.js');
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `heaplake-split-${what}-`));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
/** Small enough that the fixture's bigger tables split into several buckets and map tasks. */
const SPLIT = { maxTaskBytes: 3000, spillBytes: 20_000 };
const MAX_TASK_MB = String(3000 / (1024 * 1024));

type StateJson = { tables: Record<string, { buckets?: number; key: string | null; files: { path: string; bucket?: number; rows: number }[] }> };
const stateOf = (lake: string) => JSON.parse(readFileSync(join(lake, '_heaplake/state.json'), 'utf8')) as StateJson;

test('split: a table over maxTaskBytes runs as map and reduce tasks, each bounded, and the lake is exactly the reference', async () => {
  const plan = await planFile({ source: EXPORT, target: tmp('empty'), ...SPLIT });
  assert.equal(plan.stages.length, 2);
  const pageviews = plan.tasks.filter((t) => t.table === 'pageviews');
  const maps = pageviews.filter((t) => t.kind === 'map');
  const reduces = pageviews.filter((t) => t.kind === 'reduce');
  const bytes = maps.reduce((n, t) => n + t.inputBytes, 0);
  assert.ok(maps.length >= 2, `${maps.length} map tasks`);
  assert.equal(reduces.length, Math.ceil(bytes / SPLIT.maxTaskBytes), 'one reduce task per bucket');
  assert.deepStrictEqual(reduces.map((t) => t.bucket), reduces.map((_, k) => k));
  // bounded input: a map task holds at most maxTaskBytes, unless it is a single bigger file
  for (const t of maps) assert.ok(t.inputBytes <= SPLIT.maxTaskBytes || t.inputFiles === 1, `${t.id}: ${t.inputBytes} bytes in ${t.inputFiles} files`);
  // every file of the table is read by exactly one map task
  const mapped = maps.flatMap((t) => t.dumps.flatMap((d) => d.files.map((f) => f.key))).sort();
  const all = plan.tasks.filter((t) => t.kind === 'table' || t.kind === 'map').filter((t) => t.table === 'pageviews').flatMap((t) => t.dumps.flatMap((d) => d.files.map((f) => f.key)));
  assert.deepStrictEqual(mapped, [...new Set(all)].sort());
  for (const t of reduces) assert.deepStrictEqual(plan.tasks.slice(t.maps!.from, t.maps!.to), maps);
  assert.deepStrictEqual(plan.stages[1], reduces.map((t) => t.index).concat(plan.tasks.filter((t) => t.kind === 'reduce' && t.table !== 'pageviews').map((t) => t.index)).sort((a, b) => a - b));

  const lake = tmp('lake');
  const report = await convert({ source: EXPORT, target: lake, ...SPLIT });
  await assertLakeMatchesReference(lake, EXPORT);
  // the report still accounts for every row: in = out + duplicates (+ filtered)
  for (const t of report.tables) assert.equal(t.rowsIn, t.rowsOut + t.duplicates + t.filtered, t.table);
  const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
  assert.equal(byTable['checkout_complete']!.nullKeys, 1);
  assert.equal(byTable['checkout_complete']!.unparsedTimes, 1);
  assert.equal(byTable['checkout_complete']!.warnings.filter((w) => w.includes('not timestamps')).length, 1, 'counted once, over all buckets');
  const split = report.planned.find((p) => p.table === 'pageviews')!;
  assert.equal(split.buckets, reduces.length);
  // each file holds the rows of one bucket: their keys hash to it
  const state = stateOf(lake);
  assert.equal(state.tables['pageviews']!.buckets, reduces.length);
  for (const t of Object.values(state.tables)) {
    for (const f of t.files) assert.ok(t.buckets ? f.bucket !== undefined && f.bucket < t.buckets : f.bucket === undefined, f.path);
  }
  for (const f of state.tables['pageviews']!.files) {
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(join(lake, f.path)), compressors, columns: ['event_id'] });
    assert.ok(rows.length > 0, f.path);
    for (const r of rows) {
      const u = BigInt.asUintN(64, BigInt(r['event_id'] as bigint));
      assert.equal(bucketOfHalves(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, state.tables['pageviews']!.buckets!), f.bucket, `${f.path}: key ${r['event_id']}`);
    }
  }
});

test('split: dump by dump (incremental merges keep the buckets) gives the lake one run gives', async () => {
  const oneShot = tmp('one-shot');
  await convert({ source: EXPORT, target: oneShot, ...SPLIT });
  const stepwise = tmp('stepwise');
  const manifests = readdirSync(join(EXPORT, 'manifests')).filter((f) => f.startsWith('sync_')).sort((a, b) => (BigInt(/\d+/.exec(a)![0]) < BigInt(/\d+/.exec(b)![0]) ? -1 : 1));
  const merged = new Set<string>();
  for (let i = 1; i <= manifests.length; i++) {
    const report = await convert({ source: exportWith(EXPORT, manifests.slice(0, i)), target: stepwise, ...SPLIT });
    for (const t of report.planned) if (t.mode === 'merge' && t.buckets > 1) merged.add(t.table);
  }
  assert.ok(merged.size > 0, 'some run merged into a split table');
  await assertLakeMatchesReference(stepwise, EXPORT);
  const a = await readLake(oneShot);
  const b = await readLake(stepwise);
  for (const table of Object.keys(a)) assert.deepStrictEqual(canonicalRows(b[table]!.rows), canonicalRows(a[table]!.rows), table);
});

test('split: two worker processes give the same lake as one process, byte for byte', async () => {
  const one = tmp('w1');
  const two = tmp('w2');
  await convert({ source: EXPORT, target: one, ...SPLIT, workers: 1 });
  const report = await convert({ source: EXPORT, target: two, ...SPLIT, workers: 2, workerMinBytes: 0 });
  assert.equal(report.workers, 2);
  assert.deepStrictEqual(publishedFiles(two), publishedFiles(one));
});

test('split: one pool of worker processes serves both stages (no process is started twice), and its receipts commit to the same lake', async () => {
  const reference = tmp('pool-ref');
  const lake = tmp('pool');
  await convert({ source: EXPORT, target: reference, ...SPLIT });
  const plan = await planFile({ source: EXPORT, target: lake, ...SPLIT });
  assert.equal(plan.stages.length, 2);
  assert.ok(plan.stages.every((s) => s.length >= 2), 'each stage has work for two workers');
  const pool = startWorkerPool();
  const receipts = [];
  try {
    for (const stage of plan.stages) receipts.push(...(await pool.run(plan, stage, 2, { spillBytes: SPLIT.spillBytes })));
  } finally {
    pool.close();
  }
  assert.equal(pool.started, 2);
  await commitPlan(plan, localTarget(lake), { receipts });
  assert.deepStrictEqual(publishedFiles(lake), publishedFiles(reference));
});

test('split: this process as one of the pool\'s workers (convert\'s way): tasks shared with the worker process, receipts in task order, the same lake', async () => {
  const reference = tmp('inline-ref');
  const lake = tmp('inline');
  await convert({ source: EXPORT, target: reference, ...SPLIT });
  const plan = await planFile({ source: EXPORT, target: lake, ...SPLIT });
  assert.ok(plan.stages.every((s) => s.length >= 2), 'each stage has work for both');
  const target = localTarget(lake);
  const here: number[] = [];
  const receipts: Receipt[] = [];
  const pool = startWorkerPool();
  try {
    for (const stage of plan.stages) {
      const earlier = new Map(receipts.map((r) => [r.index, r]));
      const inline = (i: number) => {
        here.push(i);
        return runTask(plan, plan.tasks[i]!, { source: localSource(EXPORT), target, spillBytes: SPLIT.spillBytes, receipts: earlier });
      };
      const got = await pool.run(plan, stage, 2, { spillBytes: SPLIT.spillBytes }, { inline });
      assert.deepStrictEqual(got.map((r) => r.index), stage, 'receipts in the stage\'s order');
      receipts.push(...got);
    }
  } finally {
    pool.close();
  }
  assert.equal(pool.started, 1, 'workers - 1 processes');
  // the worker process is given the first task of each stage, this process the second
  assert.ok(here.length >= plan.stages.length && here.length < plan.tasks.length, `this process ran ${here.length} of ${plan.tasks.length} tasks`);
  await commitPlan(plan, target, { receipts });
  assert.deepStrictEqual(publishedFiles(lake), publishedFiles(reference));
});

test('split: when a worker process fails, the task this process is running is waited for before the run fails', async () => {
  const source = exportWith(EXPORT, readdirSync(join(EXPORT, 'manifests')));
  const lake = tmp('inline-fail');
  const plan = await planFile({ source, target: lake, ...SPLIT });
  for (const d of readdirSync(source)) if (d.startsWith('sync_')) rmSync(join(source, d), { recursive: true }); // every task that reads fails
  let settled = false;
  const inline = async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    settled = true;
    return {} as Receipt; // not used: the run has failed by then
  };
  const pool = startWorkerPool();
  try {
    await assert.rejects(pool.run(plan, plan.stages[0]!, 2, {}, { inline }), (e: unknown) => {
      assert.ok(e instanceof HeaplakeError, String(e));
      assert.ok(settled, 'the failure came before this process\'s task had ended');
      return true;
    });
  } finally {
    pool.close();
  }
});

test('split: a task failing in a worker process fails the run with its typed error (file named), and nothing is committed', async () => {
  const broken = exportWith(EXPORT, readdirSync(join(EXPORT, 'manifests')));
  const file = join(broken, 'sync_1200/pageviews/part-00000-a1b2c3d4-0000-4000-8000-000000001200-c000.avro');
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 10)); // the last block cut short
  const lake = tmp('broken');
  await assert.rejects(convert({ source: broken, target: lake, ...SPLIT, workers: 2, workerMinBytes: 0 }), (e: unknown) => {
    assert.ok(e instanceof HeaplakeError, String(e));
    assert.match(String(e.context.file), /sync_1200\/pageviews\/part-00000-a1b2c3d4-0000-4000-8000-000000001200-c000\.avro$/);
    return true;
  });
  assert.deepStrictEqual(readdirSync(lake).filter((f) => f !== '_heaplake'), []);
  assert.ok(!readdirSync(join(lake, '_heaplake')).includes('state.json'), 'no state committed');
});

test('split: through the CLI, stage 1 then stage 2 (indices per stage) then commit gives convert\'s lake; stage 2 before stage 1 is refused', async () => {
  const lake = tmp('cli');
  const reference = tmp('cli-ref');
  await convert({ source: EXPORT, target: reference, maxTaskBytes: 3000 });
  const planPath = join(tmp('plan'), 'plan.json');
  const p = cli(['plan', '--source', EXPORT, '--target', lake, '--max-task-mb', MAX_TASK_MB, '--out', planPath]);
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /--stage 1 --index I/);
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as { stages: number[][]; tasks: { id: string; kind: string }[] };
  assert.equal(plan.stages.length, 2);
  const early = cli(['run-task', '--plan', planPath, '--stage', '2', '--index', '0']);
  assert.equal(early.status, 3, early.stderr);
  assert.match(early.stderr, /~map-0.*stage 1 of this table is not finished/);
  for (const [s, stage] of plan.stages.entries()) {
    for (let i = 0; i < stage.length; i++) {
      const r = cli(['run-task', '--plan', planPath, '--stage', String(s + 1), '--index', String(i)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`\\(${plan.tasks[stage[i]!]!.id.replace(/[~-]/g, '.')}, stage ${s + 1},`));
    }
  }
  assert.equal(cli(['run-task', '--plan', planPath, '--stage', '2', '--index', String(plan.stages[1]!.length)]).status, 3);
  const c = cli(['commit', '--plan', planPath]);
  assert.equal(c.status, 0, c.stderr);
  assert.deepStrictEqual(publishedFiles(lake), publishedFiles(reference));
});

test('split: a map task run twice writes the same spill bytes (at-least-once is harmless)', async () => {
  const { runTask } = await import('../src/protocol/run-task.js');
  const { localSource } = await import('../src/source/local-source.js');
  const { localTarget } = await import('../src/sink/local-target.js');
  const lake = tmp('retry');
  const plan = await planFile({ source: EXPORT, target: lake, ...SPLIT });
  const map = plan.tasks.find((t) => t.kind === 'map')!;
  const options = { source: localSource(EXPORT), target: localTarget(lake), spillBytes: SPLIT.spillBytes };
  const spills = () => Object.fromEntries(Object.entries(fileHashes(lake)).filter(([k]) => k.endsWith('.arrows')));
  const first = await runTask(plan, map, options);
  const before = spills();
  const second = await runTask(plan, map, options);
  assert.deepStrictEqual(spills(), before);
  assert.deepStrictEqual(second.map, { ...first.map!, stats: { ...first.map!.stats, seconds: second.map!.stats.seconds } });
  assert.ok(first.map!.spills.length > 1, 'several spills');
  // and a damaged spill is a clear error naming it
  const spill = join(lake, first.map!.spills[0]!.path);
  const bytes = readFileSync(spill);
  writeFileSync(spill, bytes.subarray(0, bytes.length - 9));
  assert.throws(() => decodeSpill(readFileSync(spill), first.map!.spills[0]!.path), (e: Error & { code?: string }) => e.code === 'PLAN' && e.message.includes(first.map!.spills[0]!.path));
});

test('split: a key lands in the same bucket as int64, int32 and canonical decimal text; keyless rows spread', () => {
  const B = 7;
  const ids = [0n, 1n, -1n, 123456789n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n];
  const int64 = makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids) });
  const text = Buffer.from(ids.map(String).join(''));
  const offsets = Int32Array.from([0, ...ids.map(String).map((_, i, a) => a.slice(0, i + 1).join("").length)]);
  const utf8 = makeData({ type: new Utf8(), length: ids.length, data: text, valueOffsets: offsets });
  assert.deepStrictEqual([...bucketsOfRows(utf8, ids.length, B, 0)], [...bucketsOfRows(int64, ids.length, B, 0)]);
  const small = [0, 1, -1, 123456789, -2147483648];
  const int32 = makeData({ type: new Int32(), length: small.length, data: Int32Array.from(small) });
  const asInt64 = makeData({ type: new Int64(), length: small.length, data: BigInt64Array.from(small.map(BigInt)) });
  assert.deepStrictEqual([...bucketsOfRows(int32, small.length, B, 0)], [...bucketsOfRows(asInt64, small.length, B, 0)]);
  // spread: 10k sequential ids fill every bucket within a few percent of even
  const many = BigInt64Array.from({ length: 10_000 }, (_, i) => 4_000_000_000_000_000n + BigInt(i));
  const counts = new Array(B).fill(0);
  for (const b of bucketsOfRows(makeData({ type: new Int64(), length: many.length, data: many }), many.length, B, 0)) counts[b]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000 / B) < 10_000 / B / 10, counts.join());
  const keyless = bucketsOfRows(undefined, 3 * 4096 * B, B, 0);
  assert.equal(new Set(keyless).size, B);
});

test('split: decimal text keys hash exactly as the int64 they spell, across the whole range (BigInt as the oracle)', () => {
  // with a million buckets a wrong conversion almost surely lands elsewhere
  const B = 1_000_003;
  const rand = prng(11);
  const ids: bigint[] = [0n, 1n, -1n, 999_999_999n, 1_000_000_000n, -1_000_000_000n, 2n ** 32n, -(2n ** 32n), 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n];
  for (let i = 0; i < 4000; i++) {
    const digits = 1 + Math.floor(rand() * 19);
    let v = BigInt(1 + Math.floor(rand() * 9));
    for (let d = 1; d < digits; d++) v = v * 10n + BigInt(Math.floor(rand() * 10));
    v = BigInt.asIntN(64, v);
    ids.push(rand() < 0.5 ? v : BigInt.asIntN(64, -v));
  }
  const strings = ids.map(String);
  const text = Buffer.from(strings.join(''));
  const offsets = Int32Array.from([0, ...strings.map((_, i) => strings.slice(0, i + 1).join('').length)]);
  const utf8 = makeData({ type: new Utf8(), length: ids.length, data: text, valueOffsets: offsets });
  const int64 = makeData({ type: new Int64(), length: ids.length, data: BigInt64Array.from(ids) });
  assert.deepStrictEqual([...bucketsOfRows(utf8, ids.length, B, 0)], [...bucketsOfRows(int64, ids.length, B, 0)]);
  // not canonical, or out of range: hashed as text, so not the bucket of the number they resemble
  const odd = ['012', '-0', '+1', '9223372036854775808', '-9223372036854775809', '12345678901234567890', '1a'];
  const near = [12n, 0n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 0n, 1n];
  const oddText = Buffer.from(odd.join(''));
  const oddOffsets = Int32Array.from([0, ...odd.map((_, i) => odd.slice(0, i + 1).join('').length)]);
  const asText = bucketsOfRows(makeData({ type: new Utf8(), length: odd.length, data: oddText, valueOffsets: oddOffsets }), odd.length, B, 0);
  const asNumber = bucketsOfRows(makeData({ type: new Int64(), length: near.length, data: BigInt64Array.from(near) }), near.length, B, 0);
  for (let i = 0; i < odd.length; i++) assert.notEqual(asText[i], asNumber[i], odd[i]);
});

test('split: an incremental run keeps the table\'s bucket count, and says so when its tasks come out bigger than asked', async () => {
  const lake = tmp('keep');
  const manifests = ['sync_852.json', 'sync_860.json'];
  await convert({ source: exportWith(EXPORT, manifests.slice(0, 1)), target: lake });
  const before = Object.keys(stateOf(lake).tables);
  const report = await convert({ source: exportWith(EXPORT, manifests), target: lake, maxTaskBytes: 100 });
  // tables the lake already holds keep one bucket; a table new in this dump gets what it needs
  const merged = report.planned.filter((t) => t.mode === 'merge' && before.includes(t.table));
  assert.ok(report.planned.some((t) => !before.includes(t.table) && t.buckets > 1), 'a new table is split');
  assert.ok(merged.length > 0);
  for (const t of merged) {
    assert.equal(t.buckets, 1, `${t.table} keeps its one bucket`);
    assert.ok(report.warnings.some((w) => w.startsWith(`${t.table}: `) && w.includes('keeps its buckets until a full resync')), `${t.table}: ${report.warnings.join(' | ')}`);
  }
  const full = await convert({ source: EXPORT, target: tmp('full'), maxTaskBytes: 100 });
  assert.ok(!full.warnings.some((w) => w.includes('keeps its buckets')), 'a new lake gets the buckets it needs');
});

test('split: --start-date, identity tables and a crash between tasks behave as without the split', async () => {
  // the start date is applied by the reduce tasks, and its counts summed over the buckets
  const dated = tmp('dated');
  const report = await convert({ source: EXPORT, target: dated, ...SPLIT, startDate: '2026-05-04' });
  await assertLakeMatchesReference(dated, EXPORT, { startDate: '2026-05-04' });
  const whole = await convert({ source: EXPORT, target: tmp('dated-whole'), startDate: '2026-05-04' });
  const filtered = (r: typeof report) => Object.fromEntries(r.tables.map((t) => [t.table, t.filtered]));
  assert.deepStrictEqual(filtered(report), filtered(whole));
  assert.ok(Object.values(filtered(report)).some((n) => n > 0));

  // the identity tables read a split users table's bucket files
  const a = tmp('identity-split');
  const b = tmp('identity-whole');
  await convert({ source: EXPORT, target: a, ...SPLIT, resolveIdentities: true });
  await convert({ source: EXPORT, target: b, resolveIdentities: true });
  assert.ok((stateOf(a).tables['users']!.buckets ?? 1) > 1, 'users is split');
  const [la, lb] = [await readLake(a), await readLake(b)];
  for (const t of ['user_identity', 'users_resolved']) assert.deepStrictEqual(canonicalRows(la[t]!.rows), canonicalRows(lb[t]!.rows), t);

  // a crash after some map tasks: nothing committed; the next run makes the whole lake
  const crashed = tmp('crashed');
  let tasks = 0;
  await assert.rejects(
    convert({
      source: EXPORT,
      target: crashed,
      ...SPLIT,
      afterTask: () => {
        if (++tasks === 3) throw new Error('simulated crash');
      },
    }),
    /simulated crash/,
  );
  assert.ok(!readdirSync(crashed).includes('pageviews'), 'nothing published');
  await convert({ source: EXPORT, target: crashed, ...SPLIT });
  await assertLakeMatchesReference(crashed, EXPORT);
});

/** A batch of every flat lake type (nulls, bits, offsets, fixed widths), and its columns. */
async function allTypesBatch() {
  const { RecordBatch, Schema, Field, Struct, Bool, Float32, Float64, Binary, FixedSizeBinary, Null, DateDay } = await import('apache-arrow');
  const n = 11;
  const valid = Uint8Array.from([0b10110111, 0b101]); // rows 3 and 6, 8 and 10 null
  const nulls = 4;
  const cols: [string, Data][] = [
    ['b', makeData({ type: new Bool(), length: n, nullCount: nulls, nullBitmap: valid, data: Uint8Array.from([0b01010101, 0b110]) })],
    ['i', makeData({ type: new Int32(), length: n, nullCount: nulls, nullBitmap: valid, data: Int32Array.from({ length: n }, (_, i) => i * -7) })],
    ['l', makeData({ type: new Int64(), length: n, nullCount: 0, data: BigInt64Array.from({ length: n }, (_, i) => 2n ** 62n + BigInt(i)) })],
    ['f', makeData({ type: new Float32(), length: n, nullCount: 0, data: Float32Array.from({ length: n }, (_, i) => i / 4) })],
    ['d', makeData({ type: new Float64(), length: n, nullCount: nulls, nullBitmap: valid, data: Float64Array.from({ length: n }, (_, i) => Math.PI * i) })],
    ['day', makeData({ type: new DateDay(), length: n, nullCount: 0, data: Int32Array.from({ length: n }, (_, i) => 20000 + i) })],
    ['s', makeData({ type: new Utf8(), length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i * 3), data: Buffer.from('aé'.repeat(n)) })],
    ['bin', makeData({ type: new Binary(), length: n, nullCount: 0, valueOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i), data: Uint8Array.from({ length: n }, (_, i) => 250 + (i % 6)) })],
    ['fx', makeData({ type: new FixedSizeBinary(3), length: n, nullCount: 0, data: Uint8Array.from({ length: n * 3 }, (_, i) => i) })],
    ['z', makeData({ type: new Null(), length: n })],
  ];
  const schema = new Schema(cols.map(([name, d]) => new Field(name, d.type, true)));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: cols.map(([, d]) => d) }));
  return { batch, cols, n };
}

test('split: a spill holds every flat lake type exactly (nulls, bits, offsets, fixed widths), and a truncated one is refused', async () => {
  const { encodeSpill } = await import('../src/shuffle/spill.js');
  const { batch, cols, n } = await allTypesBatch();
  const bytes = Buffer.concat(encodeSpill([{ dumpId: '9007199254740993', file: 'sync_1/t/a.avro', batches: [batch, batch.slice(0, n)] }]));
  const back = decodeSpill(bytes, 'x.spill');
  assert.equal(back.length, 2);
  for (const s of back) {
    assert.equal(s.dumpId, '9007199254740993');
    const got = s.batches[0]!;
    assert.equal(got.numRows, n);
    for (const [c, [name]] of cols.entries()) {
      const want = Array.from({ length: n }, (_, r) => batch.getChildAt(c)!.get(r));
      assert.deepStrictEqual(Array.from({ length: n }, (_, r) => got.getChildAt(c)!.get(r)), want, name);
    }
  }
  for (const cut of [1, 9, 100, bytes.length - 1]) assert.throws(() => decodeSpill(bytes.subarray(0, bytes.length - cut), 'x.spill'), /spill file x\.spill is damaged/);
});

test('split: spills read a column at a time (a local store) give decodeSpill\'s columns and byte count, and damage is refused naming the spill', async () => {
  const { encodeSpill } = await import('../src/shuffle/spill.js');
  const { openSpillColumns, readsByColumn } = await import('../src/shuffle/spill-columns.js');
  const { makeVector } = await import('apache-arrow');
  const { dataBytes } = await import('../src/columnar/gather.js');
  const { batch, cols, n } = await allTypesBatch();
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-spillcols-'));
  try {
    const store = localTarget(dir);
    assert.ok(readsByColumn(store), 'a local store reads by column');
    // two spills: one of two segments (the second without column "s", as a file lacking a property), one of one
    const { RecordBatch, Schema, Field, Struct } = await import('apache-arrow');
    const kept = cols.filter(([name]) => name !== 's');
    const keptSchema = new Schema(kept.map(([name, d]) => new Field(name, d.type, true)));
    const without = new RecordBatch(keptSchema, makeData({ type: new Struct(keptSchema.fields), length: n, nullCount: 0, children: kept.map(([, d]) => d) }));
    const spills = {
      'a.spill': Buffer.concat(encodeSpill([{ dumpId: '1', file: 'f1', batches: [batch] }, { dumpId: '2', file: 'f2', batches: [without] }])),
      'b.spill': Buffer.concat(encodeSpill([{ dumpId: '3', file: 'f3', batches: [batch.slice(0, n)] }])),
    };
    for (const [path, bytes] of Object.entries(spills)) writeFileSync(join(dir, path), bytes);
    const whole = Object.entries(spills).flatMap(([path, bytes]) => decodeSpill(bytes, path).map((s) => s.batches[0]!));
    const byColumn = await openSpillColumns(store, Object.keys(spills));
    try {
      assert.deepStrictEqual(byColumn.segments.map((s) => [s.path, s.dumpId, s.file, s.rows]), [['a.spill', '1', 'f1', n], ['a.spill', '2', 'f2', n], ['b.spill', '3', 'f3', n]]);
      // the same bytes per row as the whole batches (row groups and files are sized from it)
      assert.equal(byColumn.bytes, whole.reduce((sum, b) => sum + dataBytes(b.data), 0));
      const names = cols.map(([name]) => name);
      const loaded = await byColumn.load(['s', 'l', 'absent']);
      assert.deepStrictEqual(loaded.get('absent'), [undefined, undefined, undefined]);
      assert.equal(loaded.get('s')![1], undefined, 'the segment without "s"');
      const batches = await byColumn.batches(names);
      for (const [k, b] of batches.entries()) {
        assert.deepStrictEqual(b.schema.fields.map((f) => f.name), whole[k]!.schema.fields.map((f) => f.name));
        for (const name of b.schema.fields.map((f) => f.name)) {
          const want = Array.from({ length: n }, (_, r) => whole[k]!.getChild(name)!.get(r));
          assert.deepStrictEqual(Array.from({ length: n }, (_, r) => b.getChild(name)!.get(r)), want, `segment ${k}, ${name}`);
          if (name === 's' || name === 'l') assert.deepStrictEqual(Array.from({ length: n }, (_, r) => {
            const d = loaded.get(name)![k];
            return d ? makeVector(d).get(r) : null;
          }), k === 1 && name === 's' ? Array(n).fill(null) : want);
        }
      }
    } finally {
      await byColumn.close();
    }
    // a cut spill is refused when it is opened (its header's ranges pass its end), naming it
    const a = spills['a.spill'];
    writeFileSync(join(dir, 'cut.spill'), a.subarray(0, a.length - 8));
    await assert.rejects(openSpillColumns(store, ['b.spill', 'cut.spill']), (e: HeaplakeError) => e.code === 'PLAN' && e.message.includes('cut.spill') && e.message.includes('damaged'));
    // a header of the right format whose segment or column entries are not what the encoder writes
    for (const segments of [[{ dumpId: '1', file: 'f', rows: 1, columns: [null] }], [{ dumpId: '1', file: 'f', rows: -1, columns: [] }], [null]]) {
      const json = Buffer.from(JSON.stringify({ format: 'heaplake-spill-2', segments }));
      const head = Buffer.alloc(4 + json.length + ((8 - ((4 + json.length) % 8)) % 8), 0x20);
      head.writeUInt32LE(json.length, 0);
      json.copy(head, 4);
      assert.throws(() => decodeSpill(head, 'h.spill'), (e: HeaplakeError) => e.code === 'PLAN' && e.message.includes('h.spill is damaged'), JSON.stringify(segments));
    }
    // damaged offsets are refused when the column is read: the last offset of column "s" made huge
    const { spillHeaderLength, spillLayout } = await import('../src/shuffle/spill.js');
    const layout = spillLayout(a.subarray(4, 4 + spillHeaderLength(a, a.length, 'x')), a.length, 'x');
    const s = layout[0]!.columns.find((c) => c.name === 's')!;
    const bad = Buffer.from(a);
    bad.writeInt32LE(1 << 30, s.at + s.validity + (s.validity % 8 ? 8 - (s.validity % 8) : 0) + n * 4);
    writeFileSync(join(dir, 'bad.spill'), bad);
    const opened = await openSpillColumns(store, ['bad.spill']);
    try {
      await opened.load(['l']); // other columns read as they are
      await assert.rejects(opened.load(['s']), (e: HeaplakeError) => e.code === 'PLAN' && e.message.includes('bad.spill') && e.message.includes('column s') && e.context.offset === s.at);
    } finally {
      await opened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
