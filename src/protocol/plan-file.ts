/**
 * The plan file of the plan / run-task / commit protocol: a run as plain JSON that people can
 * read and schedulers can split. It is a pure function of the manifests, the options and the
 * lake's committed state (no clock, no randomness), so planning twice gives the same file.
 *
 *   { "format": "heaplake-plan", "version": 2, "id": "…", "source": "s3://…", "target": "s3://…",
 *     "base": { "runId": …, "committedAt": … },  the lake state the plan was made against
 *     "options": { … },                           what every task and the commit need
 *     "tasks": [ { "index": 0, "id": "pageviews", "table": "pageviews", "tag": "1f2e3d4c", … } ] }
 *
 * `tasks.length` is the number of indices a scheduler runs. A table whose input is more than
 * `maxTaskBytes` is split into key buckets and runs in two stages: map tasks (stage 1) read
 * groups of its files and spill each row to its key's bucket, then one reduce task per bucket
 * (stage 2) de-duplicates and writes that bucket. `stages` lists the task indices of each
 * stage: a scheduler runs a stage's tasks in any order, and stage 2 only after all of stage 1.
 * Smaller tables are one task each, in stage 1. The `id` is a digest of the rest:
 * the staging area and the receipts of the run live under it. Each task's `tag` is a digest of
 * that task's inputs and output options, and part of every file name the task writes: two
 * different tasks never write one path, a repeated task writes the same bytes to the same one.
 */
import { createHash } from 'node:crypto';
import { HeaplakeError } from '../errors.js';
import type { ParquetCompression } from '../defaults.js';
import { PARQUET_COMPRESSIONS } from '../defaults.js';
import type { PlannedDump, PlannedFile, RunPlan, TablePlan } from '../manifest/plan.js';
import { bucketCount } from '../shuffle/bucket.js';
import type { LakeState } from '../commit/state.js';
import { STAGING_DIR } from '../manifest/tables.js';

/** What every task and the commit of a plan need to agree on (besides the tables' plans). */
export interface PlanOptions {
  readonly compression: ParquetCompression;
  readonly strict: boolean;
  readonly maxRowsPerFile: number;
  /** Start date as epoch microseconds, or null. */
  readonly startMicros: number | null;
  readonly resolveIdentities: boolean;
  /** Most Avro input bytes per task (a bigger table is split into map and reduce tasks). */
  readonly maxTaskBytes: number;
}

/** S3 settings the workers need to reach the source and target (never credentials). */
export interface PlanS3 {
  readonly region?: string;
  readonly endpoint?: string;
  readonly roleArn?: string;
  readonly externalId?: string;
}

interface DumpJson {
  readonly dumpId: string;
  readonly incremental: boolean;
  readonly columns: readonly string[] | null;
  readonly files: readonly { key: string; size: number; etag?: string }[];
}

export interface PlanTask {
  readonly index: number;
  /** Stable and readable: the table name (`<table>~map-<n>`, `<table>~bucket-<k>` for a split table). */
  readonly id: string;
  /**
   * table: a whole table, Avro to Parquet; map: a group of a split table's files to bucket
   * spills; reduce: one bucket of a split table, spills to Parquet.
   */
  readonly kind: 'table' | 'map' | 'reduce';
  /** 1 or 2: a stage's tasks start once every task of the stage before is done. */
  readonly stage: 1 | 2;
  readonly table: string;
  /** Key buckets of the table (1: not split). */
  readonly buckets: number;
  /**
   * reduce: the bucket it writes, and the index range [from, to) of its table's map tasks
   * (whose spills it reads): a range, so the plan grows with the tasks, not their product.
   */
  readonly bucket?: number;
  readonly maps?: { readonly from: number; readonly to: number };
  /** 8 hex digits: a digest of the task's inputs and output options (in its file names). */
  readonly tag: string;
  readonly inputFiles: number;
  readonly inputBytes: number;
  readonly mode: 'replace' | 'merge';
  readonly key: string | null;
  readonly partitioned: boolean;
  readonly lastDumpId: string;
  readonly previousDumpId: string | null;
  /** The dumps applied (a map task: only its files; a reduce task: none, the maps have them). */
  readonly dumps: readonly DumpJson[];
  readonly superseded: readonly DumpJson[];
}

export interface PlanFile {
  readonly format: 'heaplake-plan';
  readonly version: 2;
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly s3: PlanS3;
  readonly base: { readonly runId: string | null; readonly committedAt: string | null };
  readonly options: PlanOptions;
  readonly dumps: readonly { key: string; dumpId: string; propertyDefinitions: string | null }[];
  readonly skipped: readonly { table: string; reason: string }[];
  readonly ignoredKeys: readonly string[];
  readonly warnings: readonly string[];
  readonly tasks: readonly PlanTask[];
  /** The task indices of each stage, in order. */
  readonly stages: readonly (readonly number[])[];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const dumpJson = (d: PlannedDump): DumpJson => ({
  dumpId: String(d.dumpId),
  incremental: d.incremental,
  columns: d.columns ? [...d.columns] : null,
  files: d.files.map((f) => (f.etag ? { key: f.key, size: f.size, etag: f.etag } : { key: f.key, size: f.size })),
});

export function makePlanFile(run: RunPlan, state: LakeState, where: { source: string; target: string; s3?: PlanS3 }, options: PlanOptions): PlanFile {
  const tasks: PlanTask[] = [];
  const warnings = [...run.warnings];
  const digest = (value: unknown) => sha256(JSON.stringify({ value, options: { ...options, resolveIdentities: undefined } })).slice(0, 8);
  for (const t of run.tables) {
    const body = {
      table: t.table,
      mode: t.mode,
      key: t.key ?? null,
      partitioned: t.partitioned,
      lastDumpId: String(t.lastDumpId),
      previousDumpId: t.previousDumpId === undefined ? null : String(t.previousDumpId),
      dumps: t.dumps.map(dumpJson),
      superseded: t.superseded.map(dumpJson),
    };
    // the table as the lake holds it now is an input too (a merge rewrites its files)
    const previous = state.tables[t.table];
    const lake = previous ? { lastDumpId: previous.lastDumpId, files: previous.files.map((f) => f.path), columns: previous.columns, buckets: previous.buckets ?? 1 } : null;
    const files = t.dumps.flatMap((d) => d.files);
    const inputBytes = files.reduce((n, f) => n + f.size, 0);
    // an incremental run keeps the table's buckets (its files are split by them); a new or
    // replaced table gets as many as its input needs
    const buckets = previous && t.mode === 'merge' ? (previous.buckets ?? 1) : bucketCount(inputBytes, options.maxTaskBytes);
    if (buckets < bucketCount(inputBytes, options.maxTaskBytes)) {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
      warnings.push(
        `${t.table}: ${mb(inputBytes)} of new input merges into a table of ${buckets} key bucket(s), about ${mb(inputBytes / buckets)} per task, above the task size of ${mb(options.maxTaskBytes)}: a table keeps its buckets until a full resync (or a conversion into a new lake)`,
      );
    }
    if (buckets === 1) {
      tasks.push({ index: tasks.length, id: t.table, kind: 'table', stage: 1, tag: digest({ body, lake }), inputFiles: files.length, inputBytes, buckets, ...body });
      continue;
    }
    const maps = { from: tasks.length, to: tasks.length };
    for (const group of fileGroups(t, options.maxTaskBytes)) {
      const mapBody = { ...body, dumps: group.dumps.map(dumpJson), superseded: group.superseded.map(dumpJson) };
      const groupFiles = group.dumps.flatMap((d) => d.files);
      tasks.push({
        index: tasks.length,
        id: `${t.table}~map-${maps.to++ - maps.from}`,
        kind: 'map',
        stage: 1,
        tag: digest({ map: mapBody, buckets }),
        inputFiles: groupFiles.length,
        inputBytes: groupFiles.reduce((n, f) => n + f.size, 0),
        buckets,
        ...mapBody,
      });
    }
    const tableTag = digest({ body, lake, buckets });
    for (let k = 0; k < buckets; k++) {
      const reduceBody = { ...body, dumps: body.dumps.map((d) => ({ ...d, files: [] })), superseded: [] };
      tasks.push({ index: tasks.length, id: `${t.table}~bucket-${k}`, kind: 'reduce', stage: 2, tag: digest({ tableTag, bucket: k }), inputFiles: 0, inputBytes: 0, buckets, bucket: k, maps, ...reduceBody });
    }
  }
  const stages = [tasks.filter((t) => t.stage === 1).map((t) => t.index), tasks.filter((t) => t.stage === 2).map((t) => t.index)].filter((s) => s.length > 0);
  const withoutId = {
    format: 'heaplake-plan' as const,
    version: 2 as const,
    source: where.source,
    target: where.target,
    s3: where.s3 ?? {},
    base: { runId: state.runId, committedAt: state.committedAt },
    options,
    dumps: run.dumps.map((d) => ({ key: d.key, dumpId: String(d.dumpId), propertyDefinitions: d.propertyDefinitions ?? null })),
    skipped: run.skipped.map((s) => ({ table: s.table, reason: s.reason })),
    ignoredKeys: [...run.ignoredKeys],
    warnings,
    tasks,
    stages,
  };
  const { format, version, ...rest } = withoutId;
  return { format, version, id: planId(withoutId), ...rest };
}

/**
 * A split table's files in groups of at most `maxBytes` (a bigger file is a group of its own),
 * in precedence order: the superseded dumps' files (headers only: they weigh nothing) go with
 * the first group.
 */
function fileGroups(t: TablePlan, maxBytes: number): { dumps: PlannedDump[]; superseded: PlannedDump[] }[] {
  const groups: { dumps: PlannedDump[]; superseded: PlannedDump[]; bytes: number }[] = [{ dumps: [], superseded: [...t.superseded], bytes: 0 }];
  for (const dump of t.dumps) {
    for (const f of dump.files) {
      let group = groups[groups.length - 1]!;
      if (group.bytes > 0 && group.bytes + f.size > maxBytes) groups.push((group = { dumps: [], superseded: [], bytes: 0 }));
      let last = group.dumps[group.dumps.length - 1];
      if (last?.dumpId !== dump.dumpId) group.dumps.push((last = { ...dump, files: [] }));
      (last.files as PlannedFile[]).push(f);
      group.bytes += f.size;
    }
  }
  return groups;
}

function planId(plan: Omit<PlanFile, 'id'>): string {
  return `plan-${sha256(JSON.stringify(plan)).slice(0, 20)}`;
}

export function encodePlan(plan: PlanFile): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** Parses and checks a plan file; `where` names it in errors. */
export function parsePlan(text: string, where: string): PlanFile {
  const fail = (message: string): never => {
    throw new HeaplakeError('PLAN', `${where}: ${message}`, { file: where });
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON: ${(err as Error).message}`);
  }
  const p = json as Partial<PlanFile>;
  if (p === null || typeof p !== 'object' || p.format !== 'heaplake-plan' || p.version !== 2) {
    return fail(p?.format === 'heaplake-plan' ? `a plan of version ${JSON.stringify(p.version)}, made by another heaplake: this one reads version 2 (make the plan again)` : 'not a heaplake plan (format "heaplake-plan", version 2)');
  }
  if (typeof p.id !== 'string' || typeof p.source !== 'string' || typeof p.target !== 'string' || !Array.isArray(p.tasks) || !Array.isArray(p.stages) || typeof p.options !== 'object') {
    return fail('a plan needs id, source, target, options, tasks and stages');
  }
  const { id, ...rest } = p as PlanFile;
  if (planId(rest) !== id) fail(`its content does not match its id ${id}: the file was changed after planning`);
  if (!PARQUET_COMPRESSIONS.includes(p.options!.compression)) fail(`unknown compression ${JSON.stringify(p.options!.compression)}`);
  p.tasks!.forEach((t, i) => {
    if (t.index !== i) fail(`tasks[${i}] has index ${t.index}`);
  });
  return p as PlanFile;
}

/** A task as the table task runs it. */
export function tablePlanOf(task: PlanTask): TablePlan {
  const dump = (d: DumpJson): PlannedDump => ({ dumpId: BigInt(d.dumpId), incremental: d.incremental, columns: d.columns ?? undefined, files: d.files });
  return {
    table: task.table,
    key: task.key ?? undefined,
    partitioned: task.partitioned,
    mode: task.mode,
    dumps: task.dumps.map(dump),
    superseded: task.superseded.map(dump),
    lastDumpId: BigInt(task.lastDumpId),
    previousDumpId: task.previousDumpId === null ? undefined : BigInt(task.previousDumpId),
  };
}

/** Where the run of a plan stages its files and receipts. */
export const stagingOf = (plan: { id: string }) => `${STAGING_DIR}/${plan.id}`;
export const receiptPath = (plan: { id: string }, task: PlanTask) => `${stagingOf(plan)}/receipts/${task.id}.json`;
