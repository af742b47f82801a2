/**
 * One task of a plan: run the table task into the plan's staging area, then write its receipt
 * (`_heaplake/staging/<plan>/receipts/<task>.json`: the files with their bytes, rows and
 * SHA-256, and the table's state as the commit will record it). The receipt is written last,
 * so its presence means the task is complete. Outputs have deterministic names and bytes: a
 * task retried, or run twice at once, writes the same objects — at-least-once is harmless.
 */
import { HeaplakeError } from '../errors.js';
import type { BatchBounds, ReadLimits } from '../defaults.js';
import type { Source } from '../source/source.js';
import type { Target } from '../sink/target.js';
import { readState, type LakeState } from '../commit/state.js';
import { runTableTask, type TaskResult } from '../table-task.js';
import { receiptPath, stagingOf, tablePlanOf, type PlanFile, type PlanTask } from './plan-file.js';

export interface Receipt {
  readonly format: 'heaplake-receipt';
  readonly version: 1;
  readonly plan: string;
  readonly task: string;
  readonly index: number;
  readonly result: TaskResult;
}

export interface RunTaskOptions {
  readonly source: Source;
  readonly target: Target;
  /** The lake state, when the caller has read it already (else it is read and checked here). */
  readonly state?: LakeState;
  readonly limits?: Partial<ReadLimits>;
  readonly batch?: Partial<BatchBounds>;
  readonly parallelDecompression?: boolean;
  readonly onProgress?: (p: { table: string; file: string; rows: number; bytes: number }) => void;
}

/** The task at `index` (a number, or the text of an environment variable). */
export function taskAt(plan: PlanFile, index: number | string | undefined): PlanTask {
  const n = typeof index === 'string' ? Number(index) : index;
  if (n === undefined || !Number.isInteger(n) || n < 0 || n >= plan.tasks.length) {
    throw new HeaplakeError('PLAN', `task index ${JSON.stringify(index)} is not one of the plan's ${plan.tasks.length} task(s) (0 to ${plan.tasks.length - 1})`, {});
  }
  return plan.tasks[n]!;
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
  const result = await runTableTask(tablePlanOf(task), {
    source: options.source,
    target: options.target,
    state,
    runId: plan.id,
    fileTag: task.tag,
    startMicros: plan.options.startMicros ?? undefined,
    strict: plan.options.strict,
    compression: plan.options.compression,
    maxRowsPerFile: plan.options.maxRowsPerFile,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    ...(options.parallelDecompression === undefined ? {} : { parallelDecompression: options.parallelDecompression }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const receipt: Receipt = { format: 'heaplake-receipt', version: 1, plan: plan.id, task: task.id, index: task.index, result };
  await options.target.writeAtomic(receiptPath(plan, task), new TextEncoder().encode(JSON.stringify(receipt, null, 2) + '\n'));
  return receipt;
}

/** The receipts of every task; a missing or foreign one is an error listing the task ids. */
export async function readReceipts(plan: PlanFile, target: Target): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  const missing: string[] = [];
  for (const task of plan.tasks) {
    const text = await target.readText(receiptPath(plan, task));
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
      `${missing.length} of the plan's ${plan.tasks.length} task(s) have no receipt in ${stagingOf(plan)}/receipts (not run, still running, or failed): ${list}; nothing was committed`,
      {},
    );
  }
  return receipts;
}
