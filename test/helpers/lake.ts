/**
 * Test helpers for the lake: read it the way a query engine would (glob every Parquet file
 * under a table's folder, read it with hyparquet — an independent reader — union columns by
 * name), and a reference model of Heap's semantics built on avsc (an independent decoder)
 * with plain objects and Maps, to compare against.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parquetReadObjects, asyncBufferFromFile } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import assert from 'node:assert/strict';
import { avscDecodeFile } from '../../scripts/avsc-writer.js';

export type Row = Record<string, unknown>;

/** A comparable value: bigint → number when safe, Date → ms, Uint8Array → latin1. */
export function norm(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString();
  if (v instanceof Date) return v.getTime();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  return v;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.parquet') ? [path] : [];
  });
}

export interface LakeTable {
  columns: string[];
  rows: Row[];
  files: string[];
}

/** Every table of a lake folder, read through its Parquet files. */
export async function readLake(root: string): Promise<Record<string, LakeTable>> {
  const state = JSON.parse(readFileSync(join(root, '_heaplake', 'state.json'), 'utf8')) as { tables: Record<string, { columns: { name: string }[] }> };
  const out: Record<string, LakeTable> = {};
  for (const [table, t] of Object.entries(state.tables)) {
    const columns = t.columns.map((c) => c.name);
    const paths = files(join(root, table)).sort();
    const rows: Row[] = [];
    for (const path of paths) {
      for (const r of await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors })) {
        rows.push(Object.fromEntries(columns.map((c) => [c, norm((r as Row)[c])])));
      }
    }
    out[table] = { columns, rows, files: paths.map((p) => p.slice(root.length + 1)) };
  }
  return out;
}

/** Rows as a sorted list of JSON texts: a multiset to compare. */
export function canonicalRows(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1))))).sort();
}

// ---------------------------------------------------------------------------------------------
// The reference model

const decodeAvro = (bytes: Buffer): Promise<Row[]> => avscDecodeFile(bytes);

/** Heap `time` text → ms, with the platform's Date parser (independent of heaplake's). */
function timeMs(text: string): number | null {
  const iso = text.trim().replace(' ', 'T');
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z';
  const ms = Date.parse(withZone.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? null : ms;
}

export interface ReferenceOptions {
  startDate?: string;
  includeEventMetadata?: boolean;
}

/**
 * What the lake must hold, per table, computed from the export with avsc and the rules of
 * ../shared/docs/heap-connect-s3.md §4 written as plainly as possible.
 */
export async function referenceLake(exportDir: string, options: ReferenceOptions = {}): Promise<Record<string, Row[]>> {
  const manifests = readdirSync(join(exportDir, 'manifests'))
    .filter((k) => /^sync_\d+\.json$/.test(k))
    .map((k) => ({ id: BigInt(/\d+/.exec(k)![0]), json: JSON.parse(readFileSync(join(exportDir, 'manifests', k), 'utf8')) as { tables: { name: string; incremental: boolean; files: string[] }[] } }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const names = [...new Set(manifests.flatMap((m) => m.json.tables.map((t) => t.name)))];
  const startMs = options.startDate ? Date.parse(options.startDate + 'T00:00:00Z') : undefined;
  const out: Record<string, Row[]> = {};
  for (const name of names) {
    if (name === '_event_metadata' && !options.includeEventMetadata) continue;
    const entries = manifests.flatMap((m, dumpIndex) => m.json.tables.filter((t) => t.name === name).map((t) => ({ dumpIndex, t })));
    let from = 0;
    entries.forEach((e, i) => {
      if (!e.t.incremental || name === 'user_migrations') from = i;
    });
    const key = name === 'users' ? 'user_id' : name === 'user_migrations' ? 'from_user_id' : name === '_event_metadata' ? undefined : 'event_id';
    const kept = new Map<string, { row: Row; dump: number; lm: bigint | null }>();
    const noKey: Row[] = [];
    for (const { dumpIndex, t } of entries.slice(from)) {
      for (const uri of t.files) {
        const rows = await decodeAvro(readFileSync(join(exportDir, uri.replace(/^s3:\/\/[^/]+\//, ''))));
        for (const raw of rows) {
          const row: Row = {};
          for (const [k, v] of Object.entries(raw)) {
            if (k === 'time' && name !== 'users' && name !== 'user_migrations' && name !== '_event_metadata' && typeof v === 'string') row[k] = timeMs(v);
            else if (name === 'users' && (k === 'joindate' || k === 'last_modified') && v !== null) row[k] = Number(BigInt(v as bigint) / 1000n) - (BigInt(v as bigint) % 1000n < 0n ? 1 : 0);
            else row[k] = norm(v);
          }
          if (startMs !== undefined && key === 'event_id' && typeof row['time'] === 'number' && (row['time'] as number) < startMs) continue;
          const k = key ? raw[key] : null;
          if (k === null || k === undefined) {
            noKey.push(row);
            continue;
          }
          const id = String(k);
          const prev = kept.get(id);
          const lm = raw['last_modified'] === null || raw['last_modified'] === undefined ? null : BigInt(raw['last_modified'] as bigint);
          // within one dump, users keep the highest last_modified (compared in µs, as delivered)
          if (prev && name === 'users' && prev.dump === dumpIndex && (lm ?? -(2n ** 64n)) < (prev.lm ?? -(2n ** 64n))) continue;
          kept.set(id, { row, dump: dumpIndex, lm });
        }
      }
    }
    out[name] = [...[...kept.values()].map((v) => v.row), ...noKey];
  }
  return out;
}

/** Rows with every column of `columns` (absent ones null). */
export function withColumns(rows: Row[], columns: string[]): Row[] {
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
}

/**
 * Every file below `root` by relative path: its sha256, except the lake state, given as its
 * JSON without the run's id and time (what a clean run must reproduce byte for byte).
 */
export function fileHashes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(p).isDirectory()) walk(p, r);
      else if (r === '_heaplake/state.json') out[r] = JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), committedAt: null, runId: null });
      else out[r] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root, '');
  return out;
}

/** fileHashes without the staging area: what a commit published (staging is scratch space). */
export function publishedFiles(root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(fileHashes(root)).filter(([k]) => !k.startsWith('_heaplake/staging/')));
}

/** A copy of the export `dir` that holds only the given manifests (the dumps "so far"). */
export function exportWith(dir: string, manifests: readonly string[]): string {
  const partial = mkdtempSync(join(tmpdir(), 'heaplake-export-'));
  cpSync(dir, partial, { recursive: true });
  rmSync(join(partial, 'manifests'), { recursive: true });
  mkdirSync(join(partial, 'manifests'));
  for (const m of manifests) cpSync(join(dir, 'manifests', m), join(partial, 'manifests', m));
  return partial;
}

/** The lake folder holds exactly the reference model's rows of the export, table by table. */
export async function assertLakeMatchesReference(lakeDir: string, exportDir: string, options: ReferenceOptions = {}): Promise<void> {
  const lake = await readLake(lakeDir);
  const reference = await referenceLake(exportDir, options);
  assert.deepStrictEqual(Object.keys(lake).sort(), Object.keys(reference).sort(), 'tables');
  for (const [table, expected] of Object.entries(reference)) {
    const got = lake[table]!;
    assert.deepStrictEqual(canonicalRows(got.rows), canonicalRows(withColumns(expected, got.columns)), `table ${table}`);
  }
}
