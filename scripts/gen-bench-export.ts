/**
 * A Heap-like export for `npm run bench`: `pageviews` (35 columns: ids above 2^53, `time` as a
 * string, mostly nullable strings; ~1 % of rows repeat an event_id) and `users`, in two dumps
 * (the second re-sends some pageviews and updates some users), in one codec. Deterministic,
 * written file by file (memory stays small at 10M rows), cached: a folder with a finished
 * `bench-meta.json` is not written again.
 *
 *   tsx scripts/gen-bench-export.ts --rows 1000000 --codec snappy [--out bench/data/export-1000000-snappy]
 *
 * bench-meta.json records the rows per table and dump and the distinct keys per table: what a
 * de-duplicating converter must end with.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PAGEVIEWS_SCHEMA, USERS_SCHEMA, pageviews, prng, users } from './heap-like.js';
import { writeAvro } from './avsc-writer.js';
import { FIXTURE_BUCKET } from './export-writer.js';

const ROWS_PER_FILE = 250_000;

export interface BenchMeta {
  rows: number;
  codec: string;
  files: number;
  bytes: number;
  tables: Record<string, { rowsIn: number; distinctKeys: number }>;
}

export function benchExportDir(root: string, rows: number, codec: string): string {
  return join(root, 'bench', 'data', `export-${rows}-${codec}`);
}

/** Writes the export unless it is already there; returns its metadata. */
export async function ensureBenchExport(dir: string, rows: number, codec: string, log: (line: string) => void = () => undefined): Promise<BenchMeta> {
  const metaPath = join(dir, 'bench-meta.json');
  if (existsSync(metaPath)) return JSON.parse(readFileSync(metaPath, 'utf8')) as BenchMeta;
  rmSync(dir, { recursive: true, force: true });
  const started = Date.now();
  let files = 0;
  let bytes = 0;
  const manifests = new Map<string, { name: string; columns: string[]; files: string[]; incremental: boolean }[]>();
  const write = async (dump: string, table: string, schema: { fields: { name: string }[] }, records: Iterable<unknown>, part: number) => {
    const key = `sync_${dump}/${table}/part-${String(part).padStart(5, '0')}-bench-${dump}-c000.avro`;
    const buf = await writeAvro(schema, records, { codec, blockSize: 256 * 1024, syncMarker: Buffer.from(`bench-${dump}`.padEnd(16, '-').slice(0, 16)) });
    mkdirSync(join(dir, `sync_${dump}`, table), { recursive: true });
    writeFileSync(join(dir, key), buf);
    files++;
    bytes += buf.length;
    const list = manifests.get(dump) ?? [];
    let entry = list.find((t) => t.name === table);
    if (!entry) list.push((entry = { name: table, columns: schema.fields.map((f) => f.name), files: [], incremental: true }));
    entry.files.push(`s3://${FIXTURE_BUCKET}/${key}`);
    manifests.set(dump, list);
  };

  // dump 1001: every pageview (1 % repeat a recent event_id) and every user
  const seen = new Set<bigint>();
  const resend: bigint[] = [];
  const pick = prng(rows);
  let pv1 = 0;
  for (let part = 0; pv1 < rows; part++) {
    const n = Math.min(ROWS_PER_FILE, rows - pv1);
    const batch: Record<string, unknown>[] = [];
    for (const r of pageviews(n, 1000 + part, { duplicateEvery: 100, startMs: Date.UTC(2026, 4, 1) + part * 3_600_000 })) {
      seen.add(r['event_id'] as bigint);
      if (pick() < 0.001 && resend.length < 100_000) resend.push(r['event_id'] as bigint);
      batch.push(r);
    }
    await write('1001', 'pageviews', PAGEVIEWS_SCHEMA, batch, part);
    pv1 += n;
    log(`  pageviews ${pv1.toLocaleString('en-US')}/${rows.toLocaleString('en-US')} rows (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const userRows = Math.max(1, Math.floor(rows / 20));
  const userIds: bigint[] = [];
  for (let part = 0, done = 0; done < userRows; part++) {
    const n = Math.min(ROWS_PER_FILE, userRows - done);
    const batch = [...users(n, 5000 + part)];
    for (const u of batch) userIds.push(u['user_id'] as bigint);
    await write('1001', 'users', USERS_SCHEMA, batch, part);
    done += n;
  }
  // dump 1002: 2 % more pageviews, a tenth of them re-sent from dump 1001; 1 % of users updated
  const more = Math.max(1, Math.floor(rows / 50));
  const batch2: Record<string, unknown>[] = [];
  let i = 0;
  for (const r of pageviews(more, 9999, { startMs: Date.UTC(2026, 4, 20) })) {
    if (i++ % 10 === 0 && resend.length > 0) r['event_id'] = resend[i % resend.length];
    seen.add(r['event_id'] as bigint);
    batch2.push(r);
  }
  await write('1002', 'pageviews', PAGEVIEWS_SCHEMA, batch2, 0);
  const updated = [...users(Math.max(1, Math.floor(userRows / 100)), 7777)].map((u, k) => ({ ...u, user_id: userIds[(k * 97) % userIds.length] }));
  await write('1002', 'users', USERS_SCHEMA, updated, 0);

  mkdirSync(join(dir, 'manifests'), { recursive: true });
  for (const [dump, tables] of manifests) {
    const text = JSON.stringify({ dump_id: 0, tables }, null, 2).replace('"dump_id": 0', `"dump_id": ${dump}`);
    writeFileSync(join(dir, 'manifests', `sync_${dump}.json`), text + '\n');
  }
  const meta: BenchMeta = {
    rows,
    codec,
    files,
    bytes,
    tables: {
      pageviews: { rowsIn: pv1 + more, distinctKeys: seen.size },
      users: { rowsIn: userRows + updated.length, distinctKeys: new Set(userIds).size },
    },
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, codec: { type: 'string', default: 'snappy' }, out: { type: 'string' } } });
  const rows = Number(values.rows);
  const out = values.out ?? benchExportDir(process.cwd(), rows, values.codec!);
  const meta = await ensureBenchExport(out, rows, values.codec!, (l) => console.log(l));
  console.log(`${out}: ${meta.files} files, ${(meta.bytes / 1e6).toFixed(1)} MB`, meta.tables);
}
