/**
 * The main job: a Heap export → a partitioned Parquet lake. The run is plan → independent
 * table tasks → one commit (the tasks run one after another here; the plan and the task
 * results are plain data, so another runner can spread them out).
 *
 *   const report = await convert({ source: 'export/', target: 'lake/' });
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_PARQUET_COMPRESSION, type BatchBounds, type ParquetCompression, type ReadLimits } from './defaults.js';
import type { Source } from './source/source.js';
import { localSource } from './source/local-source.js';
import { s3Source, type S3SourceOptions } from './source/s3-source.js';
import { s3Target, type S3TargetOptions } from './sink/s3-target.js';
import type { Target } from './sink/target.js';
import { localTarget } from './sink/local-target.js';
import { planRun, type PlanOptions, type RunPlan } from './manifest/plan.js';
import { STAGING_DIR, STATE_PATH, readState, readStateVersioned, type LakeState } from './commit/state.js';
import { deriveIdentityTables, needsIdentity } from './identity/derive.js';
import type { IdentityReport } from './identity/resolve.js';
import { commitRun, removeOrphans } from './commit/commit.js';
import { withLock, type LockOptions } from './commit/lock.js';
import { runTableTask, type TableStats, type TaskResult } from './table-task.js';

export interface ConvertOptions extends PlanOptions {
  /** A folder with the export's layout, or a Source. */
  source: string | Source;
  /** The lake folder, or a Target. */
  target: string | Target;
  compression?: ParquetCompression;
  /** Unparseable `time` values stop the run instead of becoming null. */
  strict?: boolean;
  /** Plan only: read manifests and check files, write nothing. */
  dryRun?: boolean;
  limits?: Partial<ReadLimits>;
  batch?: Partial<BatchBounds>;
  /** Decompress Avro blocks on a second thread (default: when the machine has more than one core). */
  parallelDecompression?: boolean;
  /** Most rows per Parquet file (default 1,000,000). */
  maxRowsPerFile?: number;
  /** Progress: a file was read. */
  onProgress?: (p: { table: string; file: string; rows: number; bytes: number; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }) => void;
  /** Lines worth telling a person (skipped tables, cleanup). */
  onLog?: (line: string) => void;
  /** For s3:// sources and targets: region, endpoint, profile, role to assume for the source. */
  s3?: S3SourceOptions & S3TargetOptions;
  /** Also write the derived identity tables `user_identity` and `users_resolved`. */
  resolveIdentities?: boolean;
  /** The commit lock used on stores without conditional writes (and local folders). */
  lock?: LockOptions;
  /** Test hook: called after each task, before the commit (throw to simulate a crash). */
  afterTask?: (table: string) => void | Promise<void>;
}

export interface RunReport {
  readonly runId: string;
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  readonly committed: boolean;
  readonly startedAt: string;
  readonly seconds: number;
  readonly dumps: readonly string[];
  /** Each dump's `property_definitions` pointer, as the manifest gives it (recorded, not read). */
  readonly propertyDefinitions: Readonly<Record<string, string>>;
  readonly tables: readonly TableStats[];
  readonly planned: readonly { table: string; mode: string; dumps: string[]; files: number; bytes: number }[];
  readonly skipped: readonly { table: string; reason: string }[];
  readonly ignoredKeys: readonly string[];
  readonly orphansRemoved: readonly string[];
  /** Unfinished multipart uploads of earlier failed runs that this run aborted (S3 targets). */
  readonly uploadsAborted: readonly string[];
  readonly warnings: readonly string[];
  /** With `resolveIdentities`, when the identity tables were (re)built. */
  readonly identity?: IdentityReport;
}

/** A folder path or an `s3://bucket[/prefix]` URI (read with `s3`: region, endpoint, role…). */
export function resolveSource(source: string | Source, s3?: S3SourceOptions): Source {
  if (typeof source !== 'string') return source;
  return source.startsWith('s3://') ? s3Source(source, s3) : localSource(source);
}

export function resolveTarget(target: string | Target, s3?: S3TargetOptions): Target {
  if (typeof target !== 'string') return target;
  return target.startsWith('s3://') ? s3Target(target, s3) : localTarget(target);
}

/** What a run would do, without writing anything. */
export async function plan(options: Omit<ConvertOptions, 'dryRun'>): Promise<{ plan: RunPlan; state: LakeState }> {
  const source = resolveSource(options.source, s3With(options));
  const target = resolveTarget(options.target, options.s3);
  const state = await readState(target);
  return { plan: await planRun(source, state, options), state };
}

export async function convert(options: ConvertOptions): Promise<RunReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const source = resolveSource(options.source, s3With(options));
  const target = resolveTarget(options.target, options.s3);
  const runId = `${startedAt.replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`;
  const { state, version } = await readStateVersioned(target);
  let orphansRemoved: string[] = [];
  let uploadsAborted: string[] = [];
  if (!options.dryRun) {
    // a commit that died while deleting what it superseded: finish the job
    for (const path of state.obsolete ?? []) await target.remove(path);
  }
  let finalState = state;
  let finalVersion = version;
  let identity: IdentityReport | undefined;
  const runPlan = await planRun(source, state, options);
  for (const w of runPlan.warnings) options.onLog?.(`warning: ${w}`);
  for (const s of runPlan.skipped) options.onLog?.(`${s.table}: ${s.reason}`);

  const filesTotal = runPlan.tables.reduce((n, t) => n + t.dumps.reduce((m, d) => m + d.files.length, 0), 0);
  const bytesTotal = runPlan.tables.reduce((n, t) => n + t.dumps.reduce((m, d) => m + d.files.reduce((k, f) => k + f.size, 0), 0), 0);
  const results: TaskResult[] = [];
  let filesDone = 0;
  let bytesDone = 0;
  if (!options.dryRun) {
    try {
      await runTasks();
    } catch (err) {
      // nothing of this run is visible: drop what it staged (a crash leaves it to the next run)
      await target.removeTree(`${STAGING_DIR}/${runId}`).catch(() => undefined);
      throw err;
    }
    const provisional = withResults(state, results);
    if (options.resolveIdentities && needsIdentity(provisional, results.map((r) => r.table))) {
      // the derived tables are computed from the tables as this run leaves them (new files still
      // in staging) and published in the same commit: readers never see them out of step
      const derived = await deriveIdentityTables(target, provisional, runId, options.compression ?? DEFAULT_PARQUET_COMPRESSION, stagedPaths(results));
      results.push(...derived.results);
      identity = derived.report;
    }
    if (results.length > 0) {
      await publish(results);
      orphansRemoved = await removeOrphans(target, finalState, results.map((r) => r.table));
      if (orphansRemoved.length > 0) options.onLog?.(`removed ${orphansRemoved.length} file(s) left by earlier failed runs`);
      const aborted = (await target.abortStaleUploads?.(new Date(startedAt))) ?? [];
      if (aborted.length > 0) options.onLog?.(`aborted ${aborted.length} unfinished upload(s) left by earlier failed runs`);
      uploadsAborted = aborted;
    }
  }
  /** One commit of task results over the state this run last saw (a lock object guards stores without compare-and-swap). */
  async function publish(taskResults: TaskResult[]): Promise<void> {
    const commit = () => commitRun(target, finalState, finalVersion, runId, taskResults, runPlan.dumps.map((d) => String(d.dumpId)));
    try {
      finalState = (await target.hasCompareAndSwap()) ? await commit() : await withLock(target, runId, commit, options.lock);
    } catch (err) {
      await target.removeTree(`${STAGING_DIR}/${runId}`).catch(() => undefined);
      throw err;
    }
    finalVersion = (await target.readVersioned(STATE_PATH))?.version;
  }
  async function runTasks(): Promise<void> {
    for (const tablePlan of runPlan.tables) {
      results.push(
        await runTableTask(tablePlan, {
          source,
          target,
          state,
          runId,
          startMicros: runPlan.startMicros,
          strict: options.strict ?? false,
          compression: options.compression ?? DEFAULT_PARQUET_COMPRESSION,
          maxRowsPerFile: options.maxRowsPerFile ?? 1_000_000,
          ...(options.limits ? { limits: options.limits } : {}),
          ...(options.batch ? { batch: options.batch } : {}),
          ...(options.parallelDecompression === undefined ? {} : { parallelDecompression: options.parallelDecompression }),
          onProgress: (p) => {
            filesDone++;
            bytesDone += p.bytes;
            options.onProgress?.({ ...p, filesDone, filesTotal, bytesDone, bytesTotal });
          },
        }),
      );
      await options.afterTask?.(tablePlan.table);
    }
  }
  return {
    runId,
    source: source.description,
    target: target.description,
    dryRun: options.dryRun ?? false,
    committed: !options.dryRun && results.length > 0,
    startedAt,
    seconds: (performance.now() - started) / 1000,
    dumps: runPlan.dumps.map((d) => String(d.dumpId)),
    propertyDefinitions: Object.fromEntries(runPlan.dumps.flatMap((d) => (d.propertyDefinitions ? [[String(d.dumpId), d.propertyDefinitions]] : []))),
    tables: results.map((r) => r.stats),
    planned: runPlan.tables.map((t) => ({
      table: t.table,
      mode: t.mode,
      dumps: t.dumps.map((d) => String(d.dumpId)),
      files: t.dumps.reduce((n, d) => n + d.files.length, 0),
      bytes: t.dumps.reduce((n, d) => n + d.files.reduce((m, f) => m + f.size, 0), 0),
    })),
    skipped: runPlan.skipped,
    ignoredKeys: runPlan.ignoredKeys,
    orphansRemoved,
    uploadsAborted,
    warnings: runPlan.warnings,
    ...(identity ? { identity } : {}),
  };
}

function s3With(options: ConvertOptions | Omit<ConvertOptions, 'dryRun'>): S3SourceOptions | undefined {
  if (!options.s3) return undefined;
  const onLog = options.onLog;
  return onLog ? { ...options.s3, onWarning: (m) => onLog(`warning: ${m}`) } : options.s3;
}

/** The state as it will be once `results` are committed. */
function withResults(state: LakeState, results: readonly TaskResult[]): LakeState {
  const tables = { ...state.tables };
  for (const r of results) tables[r.table] = r.state;
  return { ...state, tables };
}

/** Where each file a task wrote sits until the commit moves it. */
function stagedPaths(results: readonly TaskResult[]): Map<string, string> {
  return new Map(results.flatMap((r) => r.staged.map((s) => [s.to, s.from] as const)));
}
