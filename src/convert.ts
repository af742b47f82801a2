/**
 * The main job: a Heap export → a partitioned Parquet lake. The run is plan → independent
 * table tasks → one commit (the tasks run one after another here; the plan and the task
 * results are plain data, so another runner can spread them out).
 *
 *   const report = await convert({ source: 'export/', target: 'lake/' });
 */
import { join, resolve as resolvePath } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { HeaplakeError } from './errors.js';
import { DEFAULT_MAX_TASK_BYTES, DEFAULT_PARQUET_COMPRESSION, SPILL_BYTES, type BatchBounds, type ParquetCompression, type ReadLimits } from './defaults.js';
import type { Source } from './source/source.js';
import { localSource } from './source/local-source.js';
import type { S3SourceOptions } from './source/s3-source.js';
import { roleArnOf } from './source/s3-uri.js';
import { lazyS3Source } from './source/lazy-s3.js';
import type { S3TargetOptions } from './sink/s3-target.js';
import { lazyS3Target } from './sink/lazy-s3.js';
import type { Target } from './sink/target.js';
import { localTarget } from './sink/local-target.js';
import { planRun, type PlanOptions, type RunPlan } from './manifest/plan.js';
import { readState } from './commit/state.js';
import type { IdentityReport } from './identity/resolve.js';
import type { LockOptions } from './commit/lock.js';
import type { TableStats } from './table-task.js';
import { makePlanFile, stagingOf, type PlanFile, type PlanTask, type PlanOptions as ProtocolOptions, type PlanS3 } from './protocol/plan-file.js';
import { runTask, type Receipt } from './protocol/run-task.js';
import { commitPlan, type CommitOutcome } from './protocol/commit-plan.js';
import { startWorkerPool, type WorkerPool } from './protocol/worker-pool.js';

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
  /** Decompress Avro blocks on a second thread (default false; see AvroReadOptions.parallelDecompression). */
  parallelDecompression?: boolean;
  /** Most rows per Parquet file (default 1,000,000). */
  maxRowsPerFile?: number;
  /**
   * Most Avro input bytes per task (default 32 MiB): a table with more is split by key into
   * buckets, read by map tasks and written by one reduce task per bucket, so memory stays
   * bounded whatever the table's size. Each bucket is a file of its own in every partition.
   */
  maxTaskBytes?: number;
  /** Map tasks: decoded bytes held before they are spilled, per process (default 64 MiB divided among the worker processes: 32 MiB each with 2). */
  spillBytes?: number;
  /**
   * A local folder for the spills of split tables (default: the lake's own staging area for a
   * folder lake; a fresh folder under the system's temporary directory for an s3:// lake, so
   * spills do not travel to S3 and back). Removed when the run ends.
   */
  spillDir?: string;
  /** Progress: a file was read. */
  onProgress?: (p: { table: string; file: string; rows: number; bytes: number; filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }) => void;
  /** Progress: a task finished (stage 2 reads no input files, so this is its only progress). */
  onTaskDone?: (p: { task: string; table: string; stage: number; done: number; total: number }) => void;
  /** Lines worth telling a person (skipped tables, cleanup). */
  onLog?: (line: string) => void;
  /** For s3:// sources and targets: region, endpoint, profile, role to assume for the source. */
  s3?: S3SourceOptions & S3TargetOptions;
  /** Also write the derived identity tables `user_identity` and `users_resolved`. */
  resolveIdentities?: boolean;
  /** The commit lock used on stores without conditional writes (and local folders). */
  lock?: LockOptions;
  /**
   * Processes running tasks at once, at most: this one and `workers - 1` worker processes (the
   * library's default is 1: tasks run in this process alone; the CLI's is the number of cores).
   * Only tasks of 16 MiB of input or more count: with fewer than two such tasks, all run in this
   * process. Needs folder or s3:// source and target.
   */
  workers?: number;
  /** Tasks with less input than this (default 16 MiB) do not count towards starting workers. */
  workerMinBytes?: number;
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
  /** Per table: what the run applies, and the key buckets it is split into (1: one task). */
  readonly planned: readonly { table: string; mode: string; dumps: string[]; files: number; bytes: number; buckets: number }[];
  readonly skipped: readonly { table: string; reason: string }[];
  readonly ignoredKeys: readonly string[];
  readonly orphansRemoved: readonly string[];
  /** Processes the tasks ran in at once, this one included (0: this process alone). */
  readonly workers: number;
  /** Unfinished multipart uploads of earlier failed runs that this run aborted (S3 targets). */
  readonly uploadsAborted: readonly string[];
  readonly warnings: readonly string[];
  /** With `resolveIdentities`, when the identity tables were (re)built. */
  readonly identity?: IdentityReport;
}

/** A folder path or an `s3://bucket[/prefix]` URI (read with `s3`: region, endpoint, role…). */
export function resolveSource(source: string | Source, s3?: S3SourceOptions): Source {
  if (typeof source !== 'string') return source;
  return source.startsWith('s3://') ? lazyS3Source(source, s3) : localSource(source);
}

export function resolveTarget(target: string | Target, s3?: S3TargetOptions): Target {
  if (typeof target !== 'string') return target;
  return target.startsWith('s3://') ? lazyS3Target(target, s3) : localTarget(target);
}

export async function convert(options: ConvertOptions): Promise<RunReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const source = resolveSource(options.source, s3With(options));
  const target = resolveTarget(options.target, options.s3);
  const state = await readState(target);
  const runPlan = await planRun(source, state, options);
  const plan = makePlanFile(runPlan, state, placeOf(options, source, target), planOptionsOf(options, runPlan));
  for (const w of plan.warnings) options.onLog?.(`warning: ${w}`);
  for (const s of runPlan.skipped) options.onLog?.(`${s.table}: ${s.reason}`);

  const filesTotal = plan.tasks.reduce((n, t) => n + t.inputFiles, 0);
  const bytesTotal = plan.tasks.reduce((n, t) => n + t.inputBytes, 0);
  let filesDone = 0;
  let bytesDone = 0;
  const onProgress = (p: { table: string; file: string; rows: number; bytes: number }) => {
    filesDone++;
    bytesDone += p.bytes;
    options.onProgress?.({ table: p.table, file: p.file, rows: p.rows, bytes: p.bytes, filesDone, filesTotal, bytesDone, bytesTotal });
  };
  let outcome: CommitOutcome | undefined;
  let workersUsed = 0;
  const split = plan.tasks.some((t) => t.kind === 'map');
  const spillDir = !split ? undefined : (options.spillDir ?? (typeof options.target === 'string' && options.target.startsWith('s3://') ? await mkdtemp(join(tmpdir(), 'heaplake-spill-')) : undefined));
  const spill = spillDir ? localTarget(spillDir) : undefined;
  if (!options.dryRun) {
    let receipts: Receipt[];
    try {
      receipts = await runTasks();
    } catch (err) {
      // nothing of this run is visible: drop what it staged (a crash leaves it to the next run)
      await target.removeTree(stagingOf(plan)).catch(() => undefined);
      throw err;
    } finally {
      if (spill) await spill.removeTree(stagingOf(plan)).catch(() => undefined);
      if (spillDir && !options.spillDir) await rm(spillDir, { recursive: true, force: true }).catch(() => undefined);
    }
    try {
      outcome = await commitPlan(plan, target, { receipts, startedAt: new Date(startedAt), ...(options.lock ? { lock: options.lock } : {}), ...(options.onLog ? { onLog: options.onLog } : {}) });
    } catch (err) {
      // a commit that lost to another one leaves staging alone (the winner may be the same plan,
      // moving these very files); the next commit removes what is left
      if (!(err instanceof HeaplakeError && err.code === 'CONCURRENT_COMMIT')) await target.removeTree(stagingOf(plan)).catch(() => undefined);
      throw err;
    }
  }

  /** The tasks, stage by stage, in this process or in worker processes (the same receipts either way). */
  async function runTasks(): Promise<Receipt[]> {
    // stage 2 in this process takes stage 1's receipts from here, not read back once per bucket
    const done = new Map<number, Receipt>();
    let pool: WorkerPool | undefined;
    try {
      for (const stage of plan.stages) {
        for (const r of await runStage(stage.map((i) => plan.tasks[i]!), done, () => (pool ??= startWorkerPool(onProgress)))) done.set(r.index, r);
      }
    } finally {
      pool?.close();
    }
    return [...done.values()].sort((a, b) => a.index - b.index);
  }

  async function runStage(tasks: readonly PlanTask[], earlier: ReadonlyMap<number, Receipt>, pool: () => WorkerPool): Promise<Receipt[]> {
    let done = 0;
    const taskDone = (task: PlanTask) => options.onTaskDone?.({ task: task.id, table: task.table, stage: task.stage, done: ++done, total: tasks.length });
    // a worker process costs a start-up and its own memory: worth it only for tasks big enough
    // to overlap (bench suite, 100k rows: 5.3 s in two workers, 3.8 s in one process)
    const sizable = tasks.filter((t) => taskWeight(plan, t) >= (options.workerMinBytes ?? 16 * 1024 * 1024)).length;
    const workers = Math.min(options.workers ?? 1, sizable);
    const forkable = typeof options.source === 'string' && typeof options.target === 'string' && !options.s3?.credentials && !options.afterTask;
    // the machine's spill budget is shared by its processes, so two peak about as one does
    const split = workers > 1 && forkable ? Math.floor(SPILL_BYTES / workers) : undefined;
    const spillBytes = options.spillBytes ?? split;
    const here = (task: PlanTask) =>
      runTask(plan, task, {
        source,
        target,
        state,
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.batch ? { batch: options.batch } : {}),
        ...(options.parallelDecompression === undefined ? {} : { parallelDecompression: options.parallelDecompression }),
        ...(spillBytes ? { spillBytes } : {}),
        ...(spill ? { spill } : {}),
        receipts: earlier,
        onProgress,
      });
    if (workers > 1 && forkable) {
      const { credentials: _, ...s3 } = options.s3 ?? {};
      workersUsed = Math.max(workersUsed, Math.min(workers, tasks.length));
      const settings = {
        s3,
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.batch ? { batch: options.batch } : {}),
        ...(spillBytes ? { spillBytes } : {}),
        ...(spillDir ? { spillDir } : {}),
      };
      // this process takes tasks too, beside workers - 1 worker processes: it would otherwise
      // sit idle (~110 MiB at 1M rows), and each worker process pays its own start-up (~0.5 s to
      // load the modules) and compiles its own code (a 1M-row run in one process: ~1.4 s)
      return pool().run(plan, tasks.map((t) => t.index), workers, settings, { onDone: (i) => taskDone(plan.tasks[i]!), inline: (i) => here(plan.tasks[i]!) });
    }
    const receipts: Receipt[] = [];
    for (const task of tasks) {
      receipts.push(await here(task));
      taskDone(task);
      await options.afterTask?.(task.table);
    }
    return receipts;
  }
  const results = outcome?.results ?? [];
  return {
    runId: plan.id,
    source: source.description,
    target: target.description,
    dryRun: options.dryRun ?? false,
    committed: results.length > 0,
    startedAt,
    seconds: (performance.now() - started) / 1000,
    dumps: plan.dumps.map((d) => d.dumpId),
    propertyDefinitions: Object.fromEntries(plan.dumps.flatMap((d) => (d.propertyDefinitions ? [[d.dumpId, d.propertyDefinitions]] : []))),
    tables: results.map((r) => r.stats),
    planned: plannedTables(plan),
    skipped: runPlan.skipped,
    ignoredKeys: runPlan.ignoredKeys,
    orphansRemoved: outcome?.orphansRemoved ?? [],
    workers: workersUsed,
    uploadsAborted: outcome?.uploadsAborted ?? [],
    warnings: plan.warnings,
    ...(outcome?.identity ? { identity: outcome.identity } : {}),
  };
}

/** A task's share of the work: its input, or for a reduce task its bucket's share of the table's. */
function taskWeight(plan: PlanFile, task: PlanTask): number {
  if (task.kind !== 'reduce') return task.inputBytes;
  return plan.tasks.slice(task.maps!.from, task.maps!.to).reduce((n, t) => n + t.inputBytes, 0) / task.buckets;
}

/** What the plan applies per table (a split table's map tasks summed). */
function plannedTables(plan: PlanFile): RunReport['planned'] {
  const tables = new Map<string, { table: string; mode: string; dumps: string[]; files: number; bytes: number; buckets: number }>();
  for (const t of plan.tasks) {
    let p = tables.get(t.table);
    if (!p) tables.set(t.table, (p = { table: t.table, mode: t.mode, dumps: [], files: 0, bytes: 0, buckets: t.buckets }));
    // a reduce task lists every dump of its table (without files), a map task its own
    for (const d of t.dumps) if (!p.dumps.includes(d.dumpId)) p.dumps.push(d.dumpId);
    p.files += t.inputFiles;
    p.bytes += t.inputBytes;
  }
  for (const p of tables.values()) p.dumps.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return [...tables.values()];
}

/** Where the plan says the run reads and writes (a folder as an absolute path). */
function placeOf(options: Pick<ConvertOptions, 'source' | 'target' | 's3'>, source: Source, target: Target): { source: string; target: string; s3: PlanS3 } {
  const where = (given: string | Source | Target, described: string) => (typeof given !== 'string' ? described : given.startsWith('s3://') ? given : resolvePath(given));
  const s3: Record<string, string> = {};
  if (options.s3?.region) s3['region'] = options.s3.region;
  if (options.s3?.endpoint) s3['endpoint'] = options.s3.endpoint;
  const roleArn = options.s3 ? roleArnOf(options.s3) : undefined;
  if (roleArn) s3['roleArn'] = roleArn;
  if (options.s3?.externalId) s3['externalId'] = options.s3.externalId;
  return { source: where(options.source, source.description), target: where(options.target, target.description), s3 };
}

function planOptionsOf(options: ConvertOptions, runPlan: RunPlan): ProtocolOptions {
  return {
    compression: options.compression ?? DEFAULT_PARQUET_COMPRESSION,
    strict: options.strict ?? false,
    maxRowsPerFile: options.maxRowsPerFile ?? 1_000_000,
    startMicros: runPlan.startMicros ?? null,
    resolveIdentities: options.resolveIdentities ?? false,
    maxTaskBytes: options.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES,
  };
}

/** The plan file of a run, as `heaplake plan --out` writes it (nothing is written to the lake). */
export async function planFile(options: Omit<ConvertOptions, 'dryRun'>): Promise<PlanFile> {
  const source = resolveSource(options.source, s3With(options));
  const target = resolveTarget(options.target, options.s3);
  const state = await readState(target);
  const runPlan = await planRun(source, state, options);
  return makePlanFile(runPlan, state, placeOf(options, source, target), planOptionsOf(options, runPlan));
}

function s3With(options: ConvertOptions | Omit<ConvertOptions, 'dryRun'>): S3SourceOptions | undefined {
  if (!options.s3) return undefined;
  const onLog = options.onLog;
  return onLog ? { ...options.s3, onWarning: (m) => onLog(`warning: ${m}`) } : options.s3;
}
