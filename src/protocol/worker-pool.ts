/**
 * Runs a plan's tasks in N worker processes on this machine (`convert --workers N`): the same
 * tasks, receipts and commit as on a cluster, with the cores of one machine. Each worker takes
 * the next task index as it finishes one; results come back in task order whatever the timing,
 * so the lake is the same with any number of workers. The first failure stops the others.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HeaplakeError, type ErrorCode, type ErrorContext } from '../errors.js';
import type { BatchBounds, ReadLimits } from '../defaults.js';
import type { S3TargetOptions } from '../sink/s3-target.js';
import type { PlanFile } from './plan-file.js';
import type { Receipt } from './run-task.js';

/** What a worker needs besides the plan (plain data: it crosses a process boundary). */
export interface WorkerSettings {
  readonly s3?: Omit<S3TargetOptions, 'credentials'>;
  readonly limits?: Partial<ReadLimits>;
  readonly batch?: Partial<BatchBounds>;
  readonly spillBytes?: number;
  /** A local folder for spills (all workers are on this machine). */
  readonly spillDir?: string;
}

export type ToWorker = { type: 'task'; plan: PlanFile; index: number; settings: WorkerSettings };
export type FromWorker =
  | { type: 'progress'; index: number; table: string; file: string; rows: number; bytes: number }
  | { type: 'done'; index: number; receipt: Receipt }
  | { type: 'failed'; index: number; error: { code?: ErrorCode; detail: string; context?: ErrorContext; stack?: string } };

// the worker module sits beside this one: .ts when run from source (through tsx), .js when built
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url));

/**
 * A worker's environment: ours, with glibc's malloc asked for transparent huge pages (unless
 * GLIBC_TUNABLES is already set). Tasks allocate hundreds of MiB of fresh memory, and on the
 * VMs measured each first touch of a 4 KiB page is a fault that two processes do not take in
 * parallel: the 1M-row benchmark with 2 workers took 19–22 s as is and 14.6–15.8 s with the
 * tunable (which cut a whole-table conversion's faults in one process from 277k to 80k).
 * Other C libraries and platforms ignore the variable. The main process is not restarted for
 * it: a library's host chooses its own environment.
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? 'glibc.malloc.hugetlb=1' };
}

/** Runs the tasks at `indices` (one stage of the plan); their receipts come back in that order. */
export async function runTasksInWorkers(
  plan: PlanFile,
  indices: readonly number[],
  workers: number,
  settings: WorkerSettings,
  onProgress?: (p: { table: string; file: string; rows: number; bytes: number }) => void,
  onDone?: (index: number) => void,
): Promise<Receipt[]> {
  const receipts = new Map<number, Receipt>();
  if (indices.length === 0) return [];
  const children: ChildProcess[] = [];
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      const give = (child: ChildProcess) => {
        if (failed || next >= indices.length) return;
        const message: ToWorker = { type: 'task', plan, index: indices[next++]!, settings };
        child.send(message);
      };
      const count = Math.max(1, Math.min(workers, indices.length));
      for (let w = 0; w < count; w++) {
        const child = fork(WORKER, [], { execArgv: WORKER.endsWith('.ts') ? ['--import', 'tsx'] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: workerEnv(process.env) });
        children.push(child);
        child.on('message', (m: FromWorker) => {
          if (m.type === 'progress') onProgress?.(m);
          else if (m.type === 'done') {
            receipts.set(m.index, m.receipt);
            onDone?.(m.index);
            if (++done === indices.length) resolve();
            else give(child);
          } else {
            const e = m.error;
            const err = e.code ? new HeaplakeError(e.code, e.detail, e.context ?? {}) : new Error(e.detail);
            if (e.stack) err.stack = e.stack;
            fail(err);
          }
        });
        child.on('exit', (code, signal) => {
          if (done < indices.length) fail(new Error(`a worker process ended (${signal ?? `exit code ${code}`}) before the tasks were done`));
        });
        give(child);
      }
    });
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
  return indices.map((i) => receipts.get(i)!);
}
