/**
 * The plan file of the plan / run-task / commit protocol: a run as plain JSON that people can
 * read and schedulers can split. It is a pure function of the manifests, the options and the
 * lake's committed state (no clock, no randomness), so planning twice gives the same file.
 *
 *   { "format": "heaplake-plan", "version": 1, "id": "…", "source": "s3://…", "target": "s3://…",
 *     "base": { "runId": …, "committedAt": … },  the lake state the plan was made against
 *     "options": { … },                           what every task and the commit need
 *     "tasks": [ { "index": 0, "id": "pageviews", "table": "pageviews", "tag": "1f2e3d4c", … } ] }
 *
 * `tasks.length` is the number of indices a scheduler runs. The `id` is a digest of the rest:
 * the staging area and the receipts of the run live under it. Each task's `tag` is a digest of
 * that task's inputs and output options, and part of every file name the task writes: two
 * different tasks never write one path, a repeated task writes the same bytes to the same one.
 */
import { createHash } from 'node:crypto';
import { HeaplakeError } from '../errors.js';
import type { ParquetCompression } from '../defaults.js';
import { PARQUET_COMPRESSIONS } from '../defaults.js';
import type { PlannedDump, RunPlan, TablePlan } from '../manifest/plan.js';
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
  /** Stable and readable: the table name. */
  readonly id: string;
  readonly table: string;
  /** 8 hex digits: a digest of the task's inputs and output options (in its file names). */
  readonly tag: string;
  readonly inputFiles: number;
  readonly inputBytes: number;
  readonly mode: 'replace' | 'merge';
  readonly key: string | null;
  readonly partitioned: boolean;
  readonly lastDumpId: string;
  readonly previousDumpId: string | null;
  readonly dumps: readonly DumpJson[];
  readonly superseded: readonly DumpJson[];
}

export interface PlanFile {
  readonly format: 'heaplake-plan';
  readonly version: 1;
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
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const dumpJson = (d: PlannedDump): DumpJson => ({
  dumpId: String(d.dumpId),
  incremental: d.incremental,
  columns: d.columns ? [...d.columns] : null,
  files: d.files.map((f) => (f.etag ? { key: f.key, size: f.size, etag: f.etag } : { key: f.key, size: f.size })),
});

export function makePlanFile(run: RunPlan, state: LakeState, where: { source: string; target: string; s3?: PlanS3 }, options: PlanOptions): PlanFile {
  const tasks = run.tables.map((t, index): PlanTask => {
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
    const lake = previous ? { lastDumpId: previous.lastDumpId, files: previous.files.map((f) => f.path), columns: previous.columns } : null;
    const tag = sha256(JSON.stringify({ body, lake, options: { ...options, resolveIdentities: undefined } })).slice(0, 8);
    const files = t.dumps.flatMap((d) => d.files);
    return {
      index,
      id: t.table,
      tag,
      inputFiles: files.length,
      inputBytes: files.reduce((n, f) => n + f.size, 0),
      ...body,
    };
  });
  const withoutId = {
    format: 'heaplake-plan' as const,
    version: 1 as const,
    source: where.source,
    target: where.target,
    s3: where.s3 ?? {},
    base: { runId: state.runId, committedAt: state.committedAt },
    options,
    dumps: run.dumps.map((d) => ({ key: d.key, dumpId: String(d.dumpId), propertyDefinitions: d.propertyDefinitions ?? null })),
    skipped: run.skipped.map((s) => ({ table: s.table, reason: s.reason })),
    ignoredKeys: [...run.ignoredKeys],
    warnings: [...run.warnings],
    tasks,
  };
  const { format, version, ...rest } = withoutId;
  return { format, version, id: planId(withoutId), ...rest };
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
  if (p === null || typeof p !== 'object' || p.format !== 'heaplake-plan' || p.version !== 1) return fail('not a heaplake plan (format "heaplake-plan", version 1)');
  if (typeof p.id !== 'string' || typeof p.source !== 'string' || typeof p.target !== 'string' || !Array.isArray(p.tasks) || typeof p.options !== 'object') {
    return fail('a plan needs id, source, target, options and tasks');
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
