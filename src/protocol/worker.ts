/**
 * A worker process of `convert --workers N` (see worker-pool.ts): runs the tasks it is given,
 * one at a time, and reports progress, receipts and failures to its parent.
 */
import { HeaplakeError } from '../errors.js';
import { resolveSource, resolveTarget } from '../convert.js';
import { runTask } from './run-task.js';
import { localTarget } from '../sink/local-target.js';
import type { FromWorker, ToWorker } from './worker-pool.js';

const send = (m: FromWorker) => process.send!(m);

process.on('message', async (m: ToWorker) => {
  const task = m.plan.tasks[m.index]!;
  try {
    const s3 = { ...m.plan.s3, ...m.settings.s3 };
    const receipt = await runTask(m.plan, task, {
      source: resolveSource(m.plan.source, s3),
      target: resolveTarget(m.plan.target, s3),
      ...(m.settings.limits ? { limits: m.settings.limits } : {}),
      ...(m.settings.batch ? { batch: m.settings.batch } : {}),
      ...(m.settings.spillBytes ? { spillBytes: m.settings.spillBytes } : {}),
      ...(m.settings.spillDir ? { spill: localTarget(m.settings.spillDir) } : {}),
      onProgress: (p) => send({ type: 'progress', index: m.index, ...p }),
    });
    send({ type: 'done', index: m.index, receipt });
  } catch (err) {
    const error =
      err instanceof HeaplakeError
        ? { code: err.code, detail: err.detail, context: err.context, ...(err.stack ? { stack: err.stack } : {}) }
        : { detail: err instanceof Error ? err.message : String(err), ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) };
    send({ type: 'failed', index: m.index, error });
  }
});
