/**
 * The derived identity tables: read `users` and `user_migrations` as the run leaves them (files
 * it wrote are still in staging), resolve, and stage both tables as Parquet; they are committed
 * together with the raw tables, so readers never see them out of step. They are recomputed
 * whenever either input changed in the run, or when they are missing, so an incremental run
 * and a one-shot run give the same derived tables.
 */
import { createHash } from 'node:crypto';
import { RecordBatch } from 'apache-arrow';
import { readParquetBytes } from '../sink/parquet.js';
import type { Target } from '../sink/target.js';
import type { ParquetCompression } from '../defaults.js';
import { STAGING_DIR, type LakeState } from '../commit/state.js';
import { emptyStats, type TableStats, type TaskResult } from '../table-task.js';
import { lakeSchema } from '../schema/merge.js';
import { resolveIdentities, type IdentityReport } from './resolve.js';
import { DERIVED_TABLES as IDENTITY_TABLES } from '../manifest/tables.js';


export function needsIdentity(state: LakeState, changedTables: readonly string[]): boolean {
  if (!state.tables['users'] && !state.tables['user_migrations']) return false;
  return changedTables.some((t) => t === 'users' || t === 'user_migrations') || IDENTITY_TABLES.some((t) => !state.tables[t]);
}

async function readTable(target: Target, state: LakeState, table: string, staged: ReadonlyMap<string, string>) {
  const t = state.tables[table];
  if (!t) return { batches: [] as RecordBatch[], columns: [] };
  const batches: RecordBatch[] = [];
  for (const f of t.files) {
    // staged by this run, unless an earlier commit of the same plan already moved it
    const from = staged.get(f.path);
    const path = from !== undefined && (await target.size(from)) !== undefined ? from : f.path;
    batches.push(...readParquetBytes(await target.readBytes(path)).batches);
  }
  return { batches, columns: [...t.columns] };
}

export async function deriveIdentityTables(
  target: Target,
  state: LakeState,
  runId: string,
  compression: ParquetCompression,
  /** Final path → staging path of files written by this run and not yet committed. */
  staged: ReadonlyMap<string, string> = new Map(),
): Promise<{ results: TaskResult[]; report: IdentityReport }> {
  const started = performance.now();
  const users = await readTable(target, state, 'users', staged);
  const migrations = await readTable(target, state, 'user_migrations', staged);
  const tables = resolveIdentities(users, migrations);
  const lastDump = [state.tables['users']?.lastDumpId, state.tables['user_migrations']?.lastDumpId]
    .filter((d): d is string => d !== undefined)
    .reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));
  // the file names carry a digest of the inputs, like every task's (see protocol/plan-file.ts)
  const inputs = ['users', 'user_migrations'].map((t) => state.tables[t]?.files.map((f) => [f.path, f.sha256 ?? f.bytes]) ?? null);
  const tag = createHash('sha256').update(JSON.stringify({ inputs, compression })).digest('hex').slice(0, 8);
  const results: TaskResult[] = [];
  for (const [name, derived, key] of [
    ['user_identity', tables.identity, 'user_id'],
    ['users_resolved', tables.resolved, 'resolved_user_id'],
  ] as const) {
    const to = `${name}/part-${lastDump}-${tag}-0.parquet`;
    const from = `${STAGING_DIR}/${runId}/${to}`;
    const schema = lakeSchema(derived.columns, new Map([['heaplake.table', name]]));
    const batch = new RecordBatch(schema, derived.batch.data);
    const { bytes, sha256 } = await target.writeParquet(from, schema, (async function* () {
      yield batch;
    })(), { compression, metadata: new Map([['heaplake.table', name], ['heaplake.derived_from', 'users,user_migrations']]) });
    const stats: TableStats = {
      ...emptyStats(name, 'replace', [lastDump]),
      rowsOut: batch.numRows,
      filesWritten: 1,
      filesRemoved: state.tables[name]?.files.length ?? 0,
      bytesOut: bytes,
      seconds: (performance.now() - started) / 1000,
      warnings: name === 'user_identity' && tables.report.cycles.length > 0 ? [`${tables.report.cycles.length} migration cycle(s), resolved to their smallest id: ${tables.report.cycles.map((c) => c.join(' → ')).join('; ')}`] : [],
    };
    results.push({
      table: name,
      state: { lastDumpId: lastDump, key, partitioned: false, columns: derived.columns, files: [{ path: to, partition: null, rows: batch.numRows, bytes, sha256 }] },
      staged: [{ from, to }],
      obsolete: (state.tables[name]?.files ?? []).map((f) => f.path).filter((p) => p !== to),
      stats,
    });
  }
  return { results, report: tables.report };
}
