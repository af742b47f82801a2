/**
 * One task of a plan: run the table task (or a split table's map or reduce task) into the
 * plan's staging area, then write its receipt
 * (`_heaplake/staging/<plan>/receipts/<task>.json`: the files with their bytes, rows and
 * SHA-256, and the table's state as the commit will record it). The receipt is written last,
 * so its presence means the task is complete. Outputs have deterministic names and bytes: a
 * task retried, or run twice at once, writes the same objects — at-least-once is harmless.
 */
import { HeaplakeError } from '../errors.js';
import type { Source } from '../source/source.js';
import type { Target } from '../sink/target.js';
import { readState, type LakeState } from '../commit/state.js';
import { runTableTask, type ReadSettings, type TaskResult } from '../table-task.js';
import { runMapTask, type MapResult } from '../shuffle/map-task.js';
import { dropSpillArena } from '../shuffle/spill-arena.js';
import { receiptPath, stagingOf, tablePlanOf, type PlanFile, type PlanTask } from './plan-file.js';

export interface Receipt {
  readonly format: 'heaplake-receipt';
  readonly version: 1;
  readonly plan: string;
  readonly task: string;
  readonly index: number;
  /** A table or reduce task's result (a reduce task's is one bucket of its table). */
  readonly result?: TaskResult;
  /** A map task's spills and what it read. */
  readonly map?: MapResult;
}

export interface RunTaskOptions extends ReadSettings {
  readonly source: Source;
  readonly target: Target;
  /** The lake state, when the caller has read it already (else it is read and checked here). */
  readonly state?: LakeState;
  /** Map tasks: decoded bytes held before they are spilled. */
  readonly spillBytes?: number;
  /**
   * Where map tasks write spills and reduce tasks read them (default: the target's staging
   * area, which every machine of a cluster reaches). A local folder serves when all tasks run
   * on one machine: an S3 lake is then spared the spills' round trip.
   */
  readonly spill?: Target;
  /** Receipts the caller holds already (by task index): a reduce task reads its map tasks' from here first. */
  readonly receipts?: ReadonlyMap<number, Receipt>;
}

/**
 * The task at `index` (a number, or the text of an environment variable): an index into the
 * plan's tasks, or with `stage` into that stage's tasks (one scheduler job per stage).
 */
export function taskAt(plan: PlanFile, index: number | string | undefined, stage?: number): PlanTask {
  const n = typeof index === 'string' && index.trim() !== '' ? Number(index) : index;
  if (stage !== undefined && (!Number.isInteger(stage) || stage < 1 || stage > plan.stages.length)) {
    throw new HeaplakeError('PLAN', `stage ${stage} is not one of the plan's ${plan.stages.length} stage(s)`, {});
  }
  const indices = stage === undefined ? plan.tasks.map((t) => t.index) : plan.stages[stage - 1]!;
  const what = stage === undefined ? "the plan's" : `stage ${stage}'s`;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= indices.length) {
    throw new HeaplakeError('PLAN', `task index ${JSON.stringify(index)} is not one of ${what} ${indices.length} task(s) (0 to ${indices.length - 1})`, {});
  }
  return plan.tasks[indices[n]!]!;
}

/** Refuses to work for a plan made against another state of the lake. */
export function checkBase(plan: PlanFile, state: LakeState): void {
  if (state.runId === plan.id) {
    throw new HeaplakeError('CONCURRENT_COMMIT', `plan ${plan.id} is already committed to ${plan.target}: nothing to do`, {});
  }
  if (state.runId !== plan.base.runId || state.committedAt !== plan.base.committedAt) {
    throw new HeaplakeError(
      'CONCURRENT_COMMIT',
      `the lake ${plan.target} changed since plan ${plan.id} was made (now at run ${state.runId} of ${state.committedAt}, the plan expects ${plan.base.runId} of ${plan.base.committedAt}): make a new plan`,
      {},
    );
  }
}

export async function runTask(plan: PlanFile, task: PlanTask, options: RunTaskOptions): Promise<Receipt> {
  const state = options.state ?? (await readState(options.target));
  if (!options.state) checkBase(plan, state);
  const read: ReadSettings = {
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    ...(options.parallelDecompression === undefined ? {} : { parallelDecompression: options.parallelDecompression }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  let outcome: Pick<Receipt, 'result' | 'map'>;
  if (task.kind === 'map') {
    const map = await runMapTask(tablePlanOf(task), {
      source: options.source,
      spill: options.spill ?? options.target,
      runId: plan.id,
      fileTag: task.tag,
      buckets: task.buckets,
      ...(options.spillBytes ? { spillBytes: options.spillBytes } : {}),
      ...read,
    });
    outcome = { map };
  } else {
    dropSpillArena(); // a task that does not spill: the last map task's spare arena is let go
    outcome = { result: await tableTask(plan, task, state, options, read) };
  }
  const receipt: Receipt = { format: 'heaplake-receipt', version: 1, plan: plan.id, task: task.id, index: task.index, ...outcome };
  await options.target.writeAtomic(receiptPath(plan, task), new TextEncoder().encode(JSON.stringify(receipt, null, 2) + '\n'));
  return receipt;
}

/** A whole table, or one bucket of a split table from its map tasks' spills. */
async function tableTask(plan: PlanFile, task: PlanTask, state: LakeState, options: RunTaskOptions, read: ReadSettings): Promise<TaskResult> {
  let bucket;
  if (task.kind === 'reduce') {
    const mapTasks = plan.tasks.slice(task.maps!.from, task.maps!.to);
    const held = mapTasks.map((t) => options.receipts?.get(t.index));
    const maps = held.every((r) => r !== undefined) ? held : await readReceipts(plan, options.target, mapTasks, 'stage 1 of this table is not finished');
    const k = task.bucket!;
    bucket = {
      index: k,
      count: task.buckets,
      store: options.spill ?? options.target,
      spills: maps.flatMap((r) => r.map!.spills.filter((s) => s.bucket === k).map((s) => s.path)),
      files: maps.flatMap((r) => r.map!.files),
    };
  }
  return runTableTask(tablePlanOf(task), {
    source: options.source,
    target: options.target,
    state,
    runId: plan.id,
    fileTag: task.tag,
    startMicros: plan.options.startMicros ?? undefined,
    strict: plan.options.strict,
    compression: plan.options.compression,
    maxRowsPerFile: plan.options.maxRowsPerFile,
    ...read,
    ...(bucket ? { bucket } : {}),
  });
}

/** `fn` over `items`, at most `limit` at once; results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The receipts of every task; a missing or foreign one is an error listing the task ids. */
export async function readReceipts(plan: PlanFile, target: Target, tasks: readonly PlanTask[] = plan.tasks, why = 'nothing was committed'): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  const missing: string[] = [];
  // a reduce task reads every map receipt of its table: several at once (small objects)
  const texts = await mapLimit(tasks, 16, (task) => target.readText(receiptPath(plan, task)));
  for (const [i, task] of tasks.entries()) {
    const text = texts[i];
    if (text === undefined) {
      missing.push(task.id);
      continue;
    }
    let receipt: Receipt;
    try {
      receipt = JSON.parse(text) as Receipt;
    } catch (err) {
      throw new HeaplakeError('PLAN', `the receipt of task ${task.id} is not valid JSON: ${(err as Error).message}`, { file: receiptPath(plan, task) });
    }
    if (receipt.format !== 'heaplake-receipt' || receipt.plan !== plan.id || receipt.task !== task.id) {
      throw new HeaplakeError('PLAN', `${receiptPath(plan, task)} is not a receipt of task ${task.id} of plan ${plan.id}`, { file: receiptPath(plan, task) });
    }
    receipts.push(receipt);
  }
  if (missing.length > 0) {
    const list = missing.slice(0, 50).join(', ') + (missing.length > 50 ? `, and ${missing.length - 50} more` : '');
    throw new HeaplakeError(
      'PLAN',
      `${missing.length} of ${tasks === plan.tasks ? "the plan's" : 'the'} ${tasks.length} task(s) have no receipt in ${stagingOf(plan)}/receipts (not run, still running, or failed): ${list}; ${why}`,
      {},
    );
  }
  return receipts;
}
