/**
 * S3 end to end against a real S3-compatible server on 127.0.0.1 (s3rver, started here), with
 * a fault-injecting proxy in front of it for throttling, broken and short bodies, and failed
 * uploads. Never a mocked SDK client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { RecordBatch, makeData, Struct, Schema, Field, Binary } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { convert } from '../src/convert.js';
import { s3Source } from '../src/source/s3-source.js';
import { s3Target } from '../src/sink/s3-target.js';
import { HeaplakeError } from '../src/errors.js';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { FIXTURES, ROOT } from './helpers/paths.js';
import { canonicalRows, readLake } from './helpers/lake.js';
import { downloadPrefix, startFaultProxy, startS3, uploadDir, type S3Server } from './helpers/s3.js';

const EXPORT = join(FIXTURES, 'heap-export');
let s3: S3Server;
let localLake: Awaited<ReturnType<typeof readLake>>;

before(async () => {
  s3 = await startS3(['heap-rs3-acme', 'lake', 'many', 'copied-export']);
  await uploadDir(s3.client(), EXPORT, 'heap-rs3-acme');
  await uploadDir(s3.client(), EXPORT, 'copied-export', 'heap/');
  const dir = mkdtempSync(join(tmpdir(), 'heaplake-s3-local-'));
  await convert({ source: EXPORT, target: dir });
  localLake = await readLake(dir);
});

after(async () => {
  await s3?.stop();
});

async function assertSameAsLocal(bucket: string, prefix: string): Promise<void> {
  const dir = await downloadPrefix(s3.client(), bucket, prefix);
  const lake = await readLake(dir);
  assert.deepStrictEqual(Object.keys(lake).sort(), Object.keys(localLake).sort());
  for (const t of Object.keys(localLake)) {
    assert.deepStrictEqual(lake[t]!.columns, localLake[t]!.columns, `${t} columns`);
    assert.deepStrictEqual(canonicalRows(lake[t]!.rows), canonicalRows(localLake[t]!.rows), `${t} rows`);
  }
}

test('convert s3:// → s3:// gives the same tables as the local run; a re-run changes nothing', async () => {
  const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/run1', s3: { endpoint: s3.endpoint } });
  assert.ok(report.committed);
  await assertSameAsLocal('lake', 'run1/');
  const again = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/run1', s3: { endpoint: s3.endpoint } });
  assert.equal(again.committed, false);
  // nothing but live files and the state: no staging left behind
  const dir = await downloadPrefix(s3.client(), 'lake', 'run1/');
  const state = JSON.parse(readFileSync(join(dir, '_heaplake/state.json'), 'utf8'));
  const live = Object.values(state.tables as Record<string, { files: { path: string }[] }>).flatMap((t) => t.files.map((f) => f.path));
  const lake = await readLake(dir);
  assert.deepStrictEqual(Object.values(lake).flatMap((t) => t.files).sort(), live.sort());
});

test('convert s3:// → s3:// in two worker processes: the same lake', async () => {
  const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/workers', s3: { endpoint: s3.endpoint }, workers: 2, workerMinBytes: 0 });
  assert.equal(report.workers, 2);
  await assertSameAsLocal('lake', 'workers/');
});

test('split tables on S3, in two worker processes: the same lake, and the spills stay on this machine (no request names one)', async () => {
  const requests: string[] = [];
  const proxy = await startFaultProxy(s3.port, (req) => {
    requests.push(`${req.method} ${req.url}`);
    return undefined;
  });
  try {
    const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/split', s3: { endpoint: proxy.endpoint }, workers: 2, workerMinBytes: 0, maxTaskBytes: 3000 });
    assert.ok(report.planned.some((t) => t.buckets > 1), 'some table is split');
    assert.equal(report.workers, 2);
  } finally {
    await proxy.close();
  }
  assert.ok(requests.some((r) => r.includes('/receipts/') && r.includes('~map-')), 'map receipts go to the lake');
  assert.deepStrictEqual(requests.filter((r) => r.includes('/spill/')), []);
  await assertSameAsLocal('lake', 'split/');
});

test('split tables through plan / run-task per stage / commit on S3: spills in the lake\'s staging area, then the same lake, staging cleaned', async () => {
  const { planFile } = await import('../src/convert.js');
  const { runTask } = await import('../src/protocol/run-task.js');
  const { commitPlan } = await import('../src/protocol/commit-plan.js');
  const opts = { endpoint: s3.endpoint };
  const plan = await planFile({ source: 's3://heap-rs3-acme', target: 's3://lake/split-protocol', s3: opts, maxTaskBytes: 3000 });
  assert.equal(plan.stages.length, 2);
  const source = s3Source('s3://heap-rs3-acme', opts);
  const target = s3Target('s3://lake/split-protocol', opts);
  for (const stage of plan.stages) for (const i of stage) await runTask(plan, plan.tasks[i]!, { source, target });
  const staged = await downloadPrefix(s3.client(), 'lake', 'split-protocol/');
  assert.ok(readdirSync(join(staged, '_heaplake/staging', plan.id, 'spill')).length > 0, 'spills staged in the bucket');
  await commitPlan(plan, target);
  await assertSameAsLocal('lake', 'split-protocol/');
  const after = await downloadPrefix(s3.client(), 'lake', 'split-protocol/');
  assert.ok(!existsSync(join(after, '_heaplake/staging')) || readdirSync(join(after, '_heaplake/staging')).length === 0, 'staging cleaned');
});

test('an export copied to another bucket and prefix: warnings, not errors, and the same lake', async () => {
  const logs: string[] = [];
  const report = await convert({ source: 's3://copied-export/heap', target: 's3://lake/copied', s3: { endpoint: s3.endpoint }, onLog: (l) => logs.push(l) });
  assert.ok(report.committed);
  assert.ok(logs.some((l) => /does not follow Heap's heap-rs3-\/csq-rs3- naming/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /the manifests name bucket "heap-rs3-acme", the source is "copied-export"/.test(l)), logs.join('\n'));
  await assertSameAsLocal('lake', 'copied/');
});

test('S7: listing follows continuation tokens past 2,500 keys', async () => {
  const client = s3.client();
  const keys = Array.from({ length: 2600 }, (_, i) => `sync_1/t/part-${String(i).padStart(5, '0')}.avro`);
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((Key) => client.send(new PutObjectCommand({ Bucket: 'many', Key, Body: 'x' }))));
  }
  const source = s3Source('s3://many', { endpoint: s3.endpoint });
  const seen: string[] = [];
  for await (const o of source.list('sync_1/')) seen.push(o.key);
  assert.deepStrictEqual(seen.sort(), keys);
});

function bigBatch(mib: number): { schema: Schema; batch: RecordBatch } {
  // incompressible bytes, so the Parquet file really is larger than one part
  const rows = mib * 16;
  const data = new Uint8Array(rows * 65536);
  let x = 1;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const offsets = Int32Array.from({ length: rows + 1 }, (_, i) => i * 65536);
  const field = new Field('blob', new Binary(), false);
  const schema = new Schema([field]);
  const child = makeData({ type: new Binary(), length: rows, nullCount: 0, valueOffsets: offsets, data });
  return { schema, batch: new RecordBatch(schema, makeData({ type: new Struct([field]), length: rows, nullCount: 0, children: [child] })) };
}

async function* once(batch: RecordBatch) {
  yield batch;
}

test('a Parquet file larger than a part goes up as a multipart upload, byte-exact', async () => {
  const target = s3Target('s3://lake/multipart', { endpoint: s3.endpoint, partSize: 5 * 1024 * 1024 });
  const { schema, batch } = bigBatch(12);
  const { bytes: size, sha256 } = await target.writeParquet('big.parquet', schema, once(batch), { compression: 'none' });
  assert.ok(size > 10 * 1024 * 1024, `${size} bytes`);
  const bytes = await target.readBytes('big.parquet');
  assert.equal(bytes.length, size);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256);
  const md = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  assert.equal(Number(md.num_rows), batch.numRows);
  // a file encoded beforehand (writeEncoded), in pieces of odd sizes: the same bytes
  const pieces = [bytes.subarray(0, 7), bytes.subarray(7, 6_000_001), bytes.subarray(6_000_001)];
  const encoded = await target.writeEncoded!('encoded.parquet', pieces);
  assert.deepEqual(encoded, { bytes: size, sha256 });
  assert.ok(Buffer.from(await target.readBytes('encoded.parquet')).equals(Buffer.from(bytes)));
});

test('S6: a multipart upload that fails midway is aborted: no object, no upload left', async () => {
  let parts = 0;
  const requests: string[] = [];
  const proxy = await startFaultProxy(s3.port, (req) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url?.includes('partNumber=')) {
      parts++;
      if (parts >= 2) return { kind: 'status', status: 500 };
    }
    return undefined;
  });
  try {
    const target = s3Target('s3://lake/aborted', { endpoint: proxy.endpoint, partSize: 5 * 1024 * 1024, maxAttempts: 2 });
    const { schema, batch } = bigBatch(12);
    const encoded = [new Uint8Array(12 * 1024 * 1024).fill(7)];
    for (const [name, write] of [
      ['big.parquet', () => target.writeParquet('big.parquet', schema, once(batch), { compression: 'none' })],
      ['encoded.parquet', () => target.writeEncoded!('encoded.parquet', encoded)],
    ] as const) {
      parts = 0;
      requests.length = 0;
      await assert.rejects(write(), (e: unknown) => e instanceof HeaplakeError && (e.context as { file?: string }).file?.endsWith(name) === true, name);
      await assert.rejects(s3.client().send(new GetObjectCommand({ Bucket: 'lake', Key: `aborted/${name}` })), /does not exist|NoSuchKey/);
      // s3rver does not implement ListMultipartUploads: check that the upload was started, then aborted
      assert.ok(requests.some((r) => r.startsWith('POST') && r.includes('uploads')), requests.join('\n'));
      assert.ok(requests.some((r) => r.startsWith('DELETE') && r.includes('uploadId=')), `${name}: an AbortMultipartUpload: ${requests.join('\n')}`);
    }
  } finally {
    await proxy.close();
  }
});

test('P11/S1/S2/S3/S4: throttling, server errors, timeouts, broken and short bodies are retried and resumed: same lake', async () => {
  const seen = new Map<string, number>();
  const proxy = await startFaultProxy(s3.port, (req) => {
    const key = `${req.method} ${req.url?.split('?')[0]}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (req.method !== 'GET' || n > 2) return undefined;
    if (req.url?.includes('/manifests/')) return n === 1 ? { kind: 'status', status: 503 } : { kind: 'stall', ms: 1500 }; // SlowDown, then a stalled socket
    if (req.url?.includes('list-type=2')) return n === 1 ? { kind: 'status', status: 500 } : { kind: 'status', status: 400, code: 'RequestTimeout' };
    if (n > 1) return undefined;
    if (req.url?.includes('/pageviews/') && !req.headers.range) return { kind: 'reset', afterBytes: 700 };
    if (req.url?.includes('/users/') && !req.headers.range) return { kind: 'short', afterBytes: 300 };
    return undefined;
  });
  try {
    const warnings: string[] = [];
    const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/faults', s3: { endpoint: proxy.endpoint, requestTimeoutMs: 600 }, onLog: (l) => warnings.push(l) });
    assert.ok(report.committed);
    // each manifest: refused (503), stalled until the client gave up, then read
    const manifests = [...seen.entries()].filter(([k]) => k.startsWith('GET') && k.includes('/manifests/sync_'));
    assert.ok(manifests.length > 0 && manifests.every(([, n]) => n >= 3), JSON.stringify(manifests));
    assert.ok(proxy.count >= 10, `${proxy.count} faults injected`);
    assert.ok(warnings.some((w) => /broke off|ended after/.test(w)), warnings.join('\n'));
    await assertSameAsLocal('lake', 'faults/');
  } finally {
    await proxy.close();
  }
});

test('an upload that keeps failing stops the run cleanly: the previous lake stays as it was', async () => {
  await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/intact', tables: ['users'], s3: { endpoint: s3.endpoint } });
  const before = await downloadPrefix(s3.client(), 'lake', 'intact/');
  const stateBefore = readFileSync(join(before, '_heaplake/state.json'), 'utf8');
  const proxy = await startFaultProxy(s3.port, (req) => (req.method === 'PUT' && req.url?.includes('.parquet') ? { kind: 'status', status: 500 } : undefined));
  try {
    await assert.rejects(
      convert({ source: 's3://heap-rs3-acme', target: 's3://lake/intact', s3: { endpoint: proxy.endpoint, maxAttempts: 2 } }),
      (e: unknown) => e instanceof HeaplakeError && e.code === 'IO' || (e instanceof HeaplakeError && e.code === 'PARQUET'),
    );
  } finally {
    await proxy.close();
  }
  const after = await downloadPrefix(s3.client(), 'lake', 'intact/');
  assert.equal(readFileSync(join(after, '_heaplake/state.json'), 'utf8'), stateBefore);
  const lake = await readLake(after);
  assert.deepStrictEqual(Object.keys(lake), ['users']);
  assert.deepStrictEqual(canonicalRows(lake['users']!.rows), canonicalRows(localLake['users']!.rows));
  // and the next run, with the store healthy again, completes the work
  await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/intact', s3: { endpoint: s3.endpoint } });
  await assertSameAsLocal('lake', 'intact/');
});

test('S9: two runs racing to commit: the second gets a precondition failure and publishes nothing', async () => {
  // s3rver ignores conditional PUTs; the proxy answers them as S3 does
  const proxy = await startFaultProxy(s3.port, () => undefined, { enforceConditions: true });
  try {
    const options = { source: 's3://heap-rs3-acme', target: 's3://lake/race', s3: { endpoint: proxy.endpoint } };
    await convert({ ...options, tables: ['users'] });
    let winner: Awaited<ReturnType<typeof convert>> | undefined;
    const loser = convert({
      ...options,
      // while this run works, another run commits to the same lake
      afterTask: async () => {
        winner ??= await convert(options);
      },
    });
    await assert.rejects(loser, (e: unknown) => e instanceof HeaplakeError && e.code === 'CONCURRENT_COMMIT');
    assert.ok(winner?.committed);
    // the lake is exactly the winner's: the loser's files were withdrawn
    await assertSameAsLocal('lake', 'race/');
    const dir = await downloadPrefix(s3.client(), 'lake', 'race/');
    const state = JSON.parse(readFileSync(join(dir, '_heaplake/state.json'), 'utf8'));
    assert.equal(state.runId, winner!.runId);
    const live = Object.values(state.tables as Record<string, { files: { path: string }[] }>).flatMap((t) => t.files.map((f) => f.path));
    assert.deepStrictEqual(Object.values(await readLake(dir)).flatMap((t) => t.files).sort(), live.sort());
  } finally {
    await proxy.close();
  }
});

test('S9: on a store that ignores conditional writes, a lock object guards the commit', async () => {
  // s3rver itself (no proxy) accepts conditional PUTs unconditionally: heaplake notices
  const target = s3Target('s3://lake/locked', { endpoint: s3.endpoint });
  assert.equal(await target.hasCompareAndSwap(), false);
  const options = { source: 's3://heap-rs3-acme', target: 's3://lake/locked', tables: ['users'], s3: { endpoint: s3.endpoint }, lock: { settleMs: 50 } };
  // a live lock of another run: refused, nothing published
  const lock = JSON.stringify({ runId: 'other-run', expiresAt: new Date(Date.now() + 60_000).toISOString() });
  await s3.client().send(new PutObjectCommand({ Bucket: 'lake', Key: 'locked/_heaplake/lock', Body: lock }));
  await assert.rejects(convert(options), (e: unknown) => e instanceof HeaplakeError && e.code === 'CONCURRENT_COMMIT' && /other-run holds the commit lock/.test(e.message));
  assert.equal(await target.readText('_heaplake/state.json'), undefined);
  // nothing published: what the run staged stays under _heaplake/ until the next commit removes it
  assert.deepStrictEqual((await target.list('')).filter((p) => p.endsWith('.parquet') && !p.startsWith('_heaplake/')), []);
  // an expired lock (a crashed run) is taken over; the lock is released after the commit
  const stale = JSON.stringify({ runId: 'crashed-run', expiresAt: new Date(Date.now() - 1000).toISOString() });
  await s3.client().send(new PutObjectCommand({ Bucket: 'lake', Key: 'locked/_heaplake/lock', Body: stale }));
  const report = await convert(options);
  assert.ok(report.committed);
  assert.equal(await target.readText('_heaplake/lock'), undefined);
});

test('S9: on a store that ignores conditional writes, two commits of one plan started together: one publishes, the other is refused by the lock', async () => {
  const { planFile } = await import('../src/convert.js');
  const { runTask } = await import('../src/protocol/run-task.js');
  const { commitPlan } = await import('../src/protocol/commit-plan.js');
  const opts = { endpoint: s3.endpoint };
  const target = s3Target('s3://lake/locked-race', opts);
  assert.equal(await target.hasCompareAndSwap(), false);
  const plan = await planFile({ source: 's3://heap-rs3-acme', target: 's3://lake/locked-race', s3: opts });
  const source = s3Source('s3://heap-rs3-acme', opts);
  for (const stage of plan.stages) for (const i of stage) await runTask(plan, plan.tasks[i]!, { source, target });
  // both write the lock object before either reads it back: the claim that stayed wins
  const outcomes = await Promise.allSettled([0, 1].map(() => commitPlan(plan, target, { lock: { settleMs: 200 } })));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'committed')).join('; '));
  const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  assert.ok(refused.reason instanceof HeaplakeError && refused.reason.code === 'CONCURRENT_COMMIT' && /holds the commit lock/.test(refused.reason.message), String(refused.reason));
  await assertSameAsLocal('lake', 'locked-race/');
});

test('P1/P3: kill points on S3: a crash (exception, and SIGKILL at some) at every side-effecting step leaves the old or the new lake; the re-run completes it', async () => {
  const { faultyTarget } = await import('./helpers/faulty-target.js');
  const { readParquetBytes } = await import('../src/sink/parquet.js');
  const { rowsAsJson } = await import('../src/columnar/json-rows.js');
  const s3opts = { endpoint: s3.endpoint };
  // a reader of the state: the rows of the files it lists
  const view = async (prefix: string): Promise<string> => {
    const t = s3Target(`s3://lake/${prefix}`, s3opts);
    const text = await t.readText('_heaplake/state.json');
    if (!text) return '{}';
    const state = JSON.parse(text) as { tables: Record<string, { files: { path: string }[] }> };
    const out: Record<string, string[]> = {};
    for (const [name, table] of Object.entries(state.tables)) {
      out[name] = [];
      for (const f of table.files) for (const b of readParquetBytes(await t.readBytes(f.path)).batches) out[name]!.push(...rowsAsJson(b));
      out[name]!.sort();
    }
    return JSON.stringify(out);
  };
  const base = { source: 's3://heap-rs3-acme', s3: s3opts };
  await convert({ ...base, target: 's3://lake/kp-before', tables: ['users', 'sessions'] });
  const before = await view('kp-before');
  const points: string[] = [];
  await convert({ ...base, target: faultyTarget(s3Target('s3://lake/kp-count', s3opts), (p) => void points.push(`${p.op} ${p.path}`)), tables: ['users', 'sessions'] });
  await convert({ ...base, target: 's3://lake/kp-after' });
  const after = await view('kp-after');
  // count the points of the second run (over a copy of "before")
  const second: string[] = [];
  await convert({ ...base, target: faultyTarget(s3Target('s3://lake/kp-count', s3opts), (p) => void second.push(`${p.op} ${p.path}`)) });
  assert.ok(second.length >= 10, `${second.length} points`);
  for (let k = 0; k < second.length; k += 3) {
    const prefix = `kp-${k}`;
    await convert({ ...base, target: `s3://lake/${prefix}`, tables: ['users', 'sessions'] });
    assert.equal(await view(prefix), before);
    let seen = 0;
    await convert({
      ...base,
      target: faultyTarget(s3Target(`s3://lake/${prefix}`, s3opts), () => {
        if (seen++ === k) throw new Error(`crash at ${k}`);
      }),
    }).catch(() => undefined);
    const v = await view(prefix);
    assert.ok(v === before || v === after, `point ${k} (${second[k]}): a mixed lake`);
    await convert({ ...base, target: `s3://lake/${prefix}` });
    assert.equal(await view(prefix), after, `point ${k} (${second[k]}): the re-run differs`);
  }
  // and a real SIGKILL of a converting process at a few of them: the first write, a file written
  // a column at a time (reduce tasks write their files so), a move, the commit point
  const picks = [0, second.findIndex((p) => p.startsWith('writeEncoded')), second.findIndex((p) => p.startsWith('move')), second.findIndex((p) => p.startsWith('writeIfUnchanged'))];
  assert.ok(!picks.includes(-1), `every kind of point occurs: ${picks}`);
  for (const k of new Set(picks)) {
    const prefix = `kp-kill-${k}`;
    await convert({ ...base, target: `s3://lake/${prefix}`, tables: ['users', 'sessions'] });
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/kill-run.ts'), base.source, `s3://lake/${prefix}`, String(k), s3.endpoint], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.signal, 'SIGKILL', `point ${k}: killed (${r.stderr})`);
    const v = await view(prefix);
    assert.ok(v === before || v === after, `SIGKILL at ${k} (${second[k]}): a mixed lake`);
    // s3rver ignores conditional writes, so the commit ran under the lock object: a run killed
    // while committing leaves it held until it expires; the next run says so, --break-lock takes it
    const held = await convert({ ...base, target: `s3://lake/${prefix}` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const inCommit = /^(move|writeIfUnchanged)/.test(second[k]!);
    assert.equal(held !== undefined, inCommit, `a lock is left exactly when the kill came inside the commit (${second[k]}): ${String(held)}`);
    if (held !== undefined) {
      assert.ok(held instanceof HeaplakeError && held.code === 'CONCURRENT_COMMIT' && /--break-lock/.test(held.message), String(held));
      await convert({ ...base, target: `s3://lake/${prefix}`, lock: { breakLock: true } });
    }
    assert.equal(await view(prefix), after, `SIGKILL at ${k} (${second[k]}): the re-run differs`);
  }
});

test('credentials never appear in errors, logs or the run report', async () => {
  const secret = 'heaplake-test-secret-DO-NOT-PRINT';
  const saved = { id: process.env['AWS_ACCESS_KEY_ID'], key: process.env['AWS_SECRET_ACCESS_KEY'] };
  process.env['AWS_ACCESS_KEY_ID'] = 'AKIAHEAPLAKETEST';
  process.env['AWS_SECRET_ACCESS_KEY'] = secret;
  try {
    const logs: string[] = [];
    // wrong credentials: s3rver refuses the signature, the run fails
    const err = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/secrets', s3: { endpoint: s3.endpoint, maxAttempts: 1 }, onLog: (l) => logs.push(l) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof HeaplakeError, String(err));
    const text = [err.message, String(err.stack), JSON.stringify(err.context), ...logs].join('\n');
    assert.ok(!text.includes(secret), 'the secret key leaked');
  } finally {
    process.env['AWS_ACCESS_KEY_ID'] = saved.id;
    process.env['AWS_SECRET_ACCESS_KEY'] = saved.key;
  }
  // and a successful run's report
  const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/secrets2', tables: ['users'], s3: { endpoint: s3.endpoint } });
  assert.ok(!JSON.stringify(report).includes('S3RVER'), 'the access key id is not in the report');
});

test('S5: an object that changes between planning and reading fails the run, nothing committed', async () => {
  await uploadDir(s3.client(), EXPORT, 'copied-export', 's5/');
  const key = 's5/sync_852/users/part-00000-a1b2c3d4-0000-4000-8000-000000000852-c000.avro';
  // s3rver ignores If-Match: the proxy answers it as S3 does
  const proxy = await startFaultProxy(s3.port, () => undefined, { enforceConditions: true });
  const err = await convert({
    source: 's3://copied-export/s5',
    target: 's3://lake/s5',
    s3: { endpoint: proxy.endpoint },
    // after the first table's task, someone rewrites a users file the plan already saw
    afterTask: async (table) => {
      if (table === 'checkout_complete') await s3.client().send(new PutObjectCommand({ Bucket: 'copied-export', Key: key, Body: readFileSync(join(EXPORT, key.slice(3))).subarray(0, 100) }));
    },
  })
    .then(
      () => undefined,
      (e: unknown) => e,
    )
    .finally(() => proxy.close());
  assert.ok(err instanceof HeaplakeError && err.code === 'SOURCE_IO', String(err));
  assert.match(err.message, /changed after the run planned it/);
  assert.equal(await s3Target('s3://lake/s5', { endpoint: s3.endpoint }).readText('_heaplake/state.json'), undefined);
});

test('S10: the target refusing the commit (403 on the state): the run fails, the old lake stays in force', async () => {
  await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s10', tables: ['users'], s3: { endpoint: s3.endpoint } });
  const target = s3Target('s3://lake/s10', { endpoint: s3.endpoint });
  const before = await target.readText('_heaplake/state.json');
  const proxy = await startFaultProxy(s3.port, (req) => (req.method === 'PUT' && req.url?.includes('state.json') ? { kind: 'status', status: 403 } : undefined));
  try {
    await assert.rejects(convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s10', s3: { endpoint: proxy.endpoint, maxAttempts: 2 } }), (e: unknown) => e instanceof HeaplakeError && e.code === 'IO');
  } finally {
    await proxy.close();
  }
  assert.equal(await target.readText('_heaplake/state.json'), before);
  await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s10', s3: { endpoint: s3.endpoint } });
  await assertSameAsLocal('lake', 's10/');
});

test('S6: CompleteMultipartUpload answering 200 with an error body fails the upload; the next run aborts uploads dead runs left', async () => {
  const requests: string[] = [];
  const proxy = await startFaultProxy(s3.port, (req) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url?.includes('uploadId=')) {
      return { kind: 'respond', status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>' };
    }
    return undefined;
  });
  try {
    const target = s3Target('s3://lake/complete200', { endpoint: proxy.endpoint, partSize: 5 * 1024 * 1024, maxAttempts: 2 });
    const { schema, batch } = bigBatch(12);
    await assert.rejects(target.writeParquet('big.parquet', schema, once(batch), { compression: 'none' }), (e: unknown) => e instanceof HeaplakeError);
    await assert.rejects(s3.client().send(new GetObjectCommand({ Bucket: 'lake', Key: 'complete200/big.parquet' })), /does not exist|NoSuchKey/);
  } finally {
    await proxy.close();
  }
  // s3rver cannot list uploads: the proxy answers ListMultipartUploads with two unfinished
  // uploads under the lake, one begun long before the run (a dead run's) and one just now
  const listing = (now: Date) =>
    '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>lake</Bucket><IsTruncated>false</IsTruncated>' +
    '<Upload><Key>stale/_heaplake/staging/old-run/users/part-1-0.parquet</Key><UploadId>dead-run-upload</UploadId><Initiated>2026-01-01T00:00:00.000Z</Initiated></Upload>' +
    `<Upload><Key>stale/_heaplake/staging/new-run/users/part-1-0.parquet</Key><UploadId>live-run-upload</UploadId><Initiated>${new Date(now.getTime() + 60_000).toISOString()}</Initiated></Upload>` +
    '</ListMultipartUploadsResult>';
  const seen: string[] = [];
  const lister = await startFaultProxy(s3.port, (req) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'GET' && /[?&]uploads(=|&|$)/.test(req.url ?? '')) return { kind: 'respond', status: 200, body: listing(new Date()) };
    if (req.method === 'DELETE' && req.url?.includes('uploadId=')) return { kind: 'respond', status: 204, body: '' };
    return undefined;
  });
  try {
    const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/stale', tables: ['users'], s3: { endpoint: lister.endpoint } });
    assert.deepStrictEqual(report.uploadsAborted, ['_heaplake/staging/old-run/users/part-1-0.parquet']);
    assert.ok(seen.some((r) => r.startsWith('DELETE') && r.includes('uploadId=dead-run-upload')), seen.join('\n'));
    assert.ok(!seen.some((r) => r.includes('uploadId=live-run-upload')), 'an upload begun after the run started is left alone');
  } finally {
    await lister.close();
  }
});

test('S8: a listing that misses a file (an old-S3-style eventual listing) does not hide it: each listed file is asked for', async () => {
  const heads: string[] = [];
  const proxy = await startFaultProxy(s3.port, (req) => {
    if (req.method === 'HEAD') heads.push(req.url ?? '');
    // every listing of a dump folder leaves out its users files
    if (req.method === 'GET' && req.url?.includes('list-type=2') && req.url.includes('prefix=sync_')) {
      return { kind: 'rewrite', transform: (xml) => xml.replace(/<Contents>(?:(?!<\/Contents>).)*?\/users\/(?:(?!<\/Contents>).)*<\/Contents>/gs, '') };
    }
    return undefined;
  });
  try {
    const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s8', s3: { endpoint: proxy.endpoint } });
    assert.ok(report.committed);
    assert.ok(heads.some((h) => h.includes('/users/')), `users files were asked for one by one: ${heads.join(', ')}`);
    await assertSameAsLocal('lake', 's8/');
  } finally {
    await proxy.close();
  }
});

test('S11: credentials that expire during a run are refreshed; a store that rejects them mid-run leaves the lake as it was', async () => {
  let calls = 0;
  // credentials valid for one more second: the SDK asks for new ones as the run goes on
  const credentials = async () => {
    calls++;
    return { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', expiration: new Date(Date.now() + 1000) };
  };
  const report = await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s11', s3: { endpoint: s3.endpoint, credentials } });
  assert.ok(report.committed);
  assert.ok(calls > 1, `the provider was called ${calls} time(s)`);
  await assertSameAsLocal('lake', 's11/');

  await convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s11b', tables: ['users'], s3: { endpoint: s3.endpoint } });
  const target = s3Target('s3://lake/s11b', { endpoint: s3.endpoint });
  const before = await target.readText('_heaplake/state.json');
  let requests = 0;
  const proxy = await startFaultProxy(s3.port, () => (++requests > 12 ? { kind: 'status', status: 400, code: 'ExpiredToken' } : undefined));
  try {
    await assert.rejects(convert({ source: 's3://heap-rs3-acme', target: 's3://lake/s11b', s3: { endpoint: proxy.endpoint } }), (e: unknown) => e instanceof HeaplakeError && /ExpiredToken|expired|injected/i.test(e.message));
  } finally {
    await proxy.close();
  }
  assert.equal(await target.readText('_heaplake/state.json'), before);
});

test('the plan / run-task / commit protocol on S3: plan in the bucket, every task, commits racing; the same lake as a local run', async () => {
  const bin = join(ROOT, 'dist/cli/bin.js');
  // s3rver ignores conditional writes: the proxy answers them as S3 does, so commits race as on S3
  const proxy = await startFaultProxy(s3.port, () => undefined, { enforceConditions: true });
  // children run asynchronously: the proxy lives in this process's event loop
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, ...args, '--endpoint', proxy.endpoint], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (status) => resolve({ status, stderr }));
    });
  try {
    const plan = 's3://lake/plans/protocol.json';
    const p = await cli(['plan', '--source', 's3://heap-rs3-acme', '--target', 's3://lake/protocol', '--out', plan]);
    assert.equal(p.status, 0, p.stderr);
    const text = await s3Target('s3://lake/plans', { endpoint: s3.endpoint }).readText('protocol.json');
    const tasks = JSON.parse(text!).tasks as unknown[];
    assert.ok(tasks.length >= 4);
    for (let i = 0; i < tasks.length; i++) {
      const r = await cli(['run-task', '--plan', plan, '--quiet'], { JOB_COMPLETION_INDEX: String(i) });
      assert.equal(r.status, 0, r.stderr);
    }
    const commits = await Promise.all([0, 1].map(() => cli(['commit', '--plan', plan, '--quiet'])));
    assert.deepStrictEqual(commits.map((c) => c.status).sort(), [0, 4], commits.map((c) => c.stderr).join('\n'));
    await assertSameAsLocal('lake', 'protocol/');
    const again = await cli(['commit', '--plan', plan]);
    assert.equal(again.status, 4);
    assert.match(again.stderr, /already committed/);
  } finally {
    await proxy.close();
  }
});
