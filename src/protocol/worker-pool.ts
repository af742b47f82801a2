/**
 * Runs a plan's tasks in worker processes on this machine (`convert --workers N`: N - 1 of them
 * beside the main process, which takes tasks too): the same
 * tasks, receipts and commit as on a cluster, with the cores of one machine. Each worker takes
 * the next task index as it finishes one; results come back in task order whatever the timing,
 * so the lake is the same with any number of workers. The first failure stops the others.
 * The processes serve every stage of a run (see startWorkerPool).
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
 * Node flags of a worker process: V8's young generation kept to 4 MiB a half (the default
 * lets it grow to 16). In a reduce task at 10M rows many objects outlive a scavenge, the young
 * generation grows to its largest and stays committed, little of it used (V8's heap 56 MiB
 * committed, 23 used, at the peak). Two processes, 10M-row bench export, sum of their RSS:
 * 485/485 MiB with the flag against 524/533 without (scratch A/B, two runs each; the whole
 * change against the build before it: bench/results/memory-2026-12-08.md);
 * one process pinned to one CPU, two runs each: 118.5/123.5 s against 118.6/117.1 s.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * A worker's environment: ours, with glibc's malloc tuned (unless GLIBC_TUNABLES is already
 * set; other C libraries and platforms ignore the variable). The main process is not restarted
 * for it: a library's host chooses its own environment (README, "Library" → "Memory").
 * - `hugetlb=1`, transparent huge pages: tasks allocate hundreds of MiB of fresh memory, and on
 *   the VMs measured each first touch of a 4 KiB page is a fault that two processes do not
 *   take in parallel: the 1M-row benchmark with 2 workers took 19–22 s as is and 14.6–15.8 s
 *   with it (a whole-table conversion's faults in one process: 277k against 80k).
 * - `mmap_threshold=131072`, fixed: by default glibc raises the threshold to the size of each
 *   mapped block freed (up to 32 MiB), after which the column buffers a task frees stay in its
 *   heap, fragmented. 10M rows, two processes: 503/517 MiB against 533/536 (scratch A/B).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=131072' };
}

export interface RunHooks {
  /** A task finished (wherever it ran). */
  readonly onDone?: (index: number) => void;
  /**
   * Makes this process one of the `workers`: it runs tasks through `inline` while `workers - 1`
   * worker processes run the others. On a failure elsewhere its task in flight is waited for
   * before the run fails, so nothing is still writing when the caller cleans up.
   */
  readonly inline?: (index: number) => Promise<Receipt>;
}

/** Worker processes that live for a whole run: every stage's tasks go to the same processes. */
export interface WorkerPool {
  /**
   * Runs the tasks at `indices` (one stage of the plan) in at most `workers` processes, starting
   * the ones still missing; their receipts come back in that order. A failure stops the pool.
   */
  run(plan: PlanFile, indices: readonly number[], workers: number, settings: WorkerSettings, hooks?: RunHooks): Promise<Receipt[]>;
  /** Stops every worker (idempotent; the run calls it in `finally`). */
  close(): void;
  /** Processes started so far. */
  readonly started: number;
}

/**
 * A pool of worker processes, started lazily by `run`. They are kept from stage to stage
 * because a process's start is not cheap next to a task: loading the modules took ~0.6 s, and
 * its first task ran at half the speed of the next ones (cold JIT, fresh memory); with a pool
 * per stage, the 1M-row benchmark's reduce stage paid both again.
 */
export function startWorkerPool(onProgress?: (p: { table: string; file: string; rows: number; bytes: number }) => void): WorkerPool {
  let children: ChildProcess[] = [];
  let started = 0;
  // the stage being run: where a worker's messages go, and how its end is judged
  let stage: { onMessage(child: ChildProcess, m: FromWorker): void; onExit(why: string): void } | undefined;
  let closed = false;

  const spawn = (): ChildProcess => {
    const child = fork(WORKER, [], { execArgv: [...WORKER_NODE_FLAGS, ...(WORKER.endsWith('.ts') ? ['--import', 'tsx'] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: workerEnv(process.env) });
    child.on('message', (m: FromWorker) => {
      if (m.type === 'progress') onProgress?.(m);
      else stage?.onMessage(child, m);
    });
    child.on('exit', (code, signal) => {
      children = children.filter((c) => c !== child); // an idle worker that dies is replaced
      if (!closed) stage?.onExit(signal ?? `exit code ${code}`);
    });
    child.on('error', (err) => stage?.onExit(err.message)); // e.g. a message to a worker that just died
    children.push(child);
    started++;
    return child;
  };

  const close = () => {
    closed = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  };

  return {
    get started() {
      return started;
    },
    close,
    async run(plan, indices, workers, settings, { onDone, inline } = {}) {
      if (closed) throw new Error('the worker pool is closed');
      if (indices.length === 0) return [];
      const receipts = new Map<number, Receipt>();
      let next = 0;
      let inlineDone: Promise<void> | undefined;
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
          const finished = (index: number, receipt: Receipt) => {
            receipts.set(index, receipt);
            onDone?.(index);
            if (++done === indices.length) resolve();
          };
          stage = {
            onMessage(child, m) {
              if (m.type === 'done') {
                finished(m.index, m.receipt);
                give(child);
              } else if (m.type === 'failed') {
                const e = m.error;
                const err = e.code ? new HeaplakeError(e.code, e.detail, e.context ?? {}) : new Error(e.detail);
                if (e.stack) err.stack = e.stack;
                fail(err);
              }
            },
            onExit: (why) => fail(new Error(`a worker process ended (${why}) before the tasks were done`)),
          };
          const count = Math.max(1, Math.min(workers, indices.length));
          const processes = inline ? count - 1 : count;
          while (children.length < processes) spawn();
          for (const child of children.slice(0, processes)) give(child);
          if (inline) {
            inlineDone = (async () => {
              while (!failed && next < indices.length) {
                const index = indices[next++]!;
                try {
                  const receipt = await inline(index);
                  if (!failed) finished(index, receipt);
                } catch (err) {
                  fail(err instanceof Error ? err : new Error(String(err)));
                }
              }
            })();
          }
        });
      } catch (err) {
        close(); // the other workers' tasks are abandoned with the run
        await inlineDone; // never rejects: its failures went to fail()
        throw err;
      } finally {
        stage = undefined;
      }
      return indices.map((i) => receipts.get(i)!);
    },
  };
}
