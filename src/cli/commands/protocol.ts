/** `heaplake run-task` and `heaplake commit`: the cluster side of the plan / run-task / commit protocol. */
import { readPlan } from '../../protocol/plan-io.js';
import { runTask, taskAt } from '../../protocol/run-task.js';
import { commitPlan } from '../../protocol/commit-plan.js';
import { resolveSource, resolveTarget } from '../../convert.js';
import type { LockOptions } from '../../commit/lock.js';
import { formatBytes } from '../progress.js';
import { UsageError } from '../../errors.js';
import { batchJobs, kubernetesManifests } from '../../protocol/recipes.js';

interface ProtocolArgs {
  plan: string;
  /** S3 settings from the command line; they add to (and win over) the plan's. */
  s3: Record<string, string> | undefined;
  quiet: boolean;
}

export async function runTaskCommand(args: ProtocolArgs & { index: number | string | undefined; stage?: number }): Promise<void> {
  const plan = await readPlan(args.plan, args.s3);
  const task = taskAt(plan, args.index, args.stage);
  const s3 = { ...plan.s3, ...args.s3 };
  const say = (line: string) => void (args.quiet || process.stderr.write(line + '\n'));
  say(`task ${task.index} of ${plan.tasks.length} (${task.id}, stage ${task.stage}, plan ${plan.id}): ${task.kind === 'reduce' ? `bucket ${task.bucket} of ${task.buckets}` : `${task.inputFiles} file(s), ${formatBytes(task.inputBytes)}`}`);
  const receipt = await runTask(plan, task, {
    source: resolveSource(plan.source, s3),
    target: resolveTarget(plan.target, s3),
    onProgress: (p) => say(`  ${p.file}: ${p.rows.toLocaleString('en-US')} rows`),
  });
  if (receipt.map) {
    const m = receipt.map;
    say(`task ${task.id} done: ${m.stats.rowsIn.toLocaleString('en-US')} rows in, ${m.spills.length} spill file(s) for ${task.buckets} bucket(s)`);
  } else {
    const s = receipt.result!.stats;
    say(`task ${task.id} done: ${task.kind === 'table' ? `${s.rowsIn.toLocaleString('en-US')} rows in, ` : ''}${s.rowsOut.toLocaleString('en-US')} rows out, ${receipt.result!.staged.length} file(s) staged`);
  }
}

export async function commitCommand(args: ProtocolArgs & { lock?: LockOptions }): Promise<void> {
  const plan = await readPlan(args.plan, args.s3);
  const s3 = { ...plan.s3, ...args.s3 };
  const outcome = await commitPlan(plan, resolveTarget(plan.target, s3), {
    ...(args.lock ? { lock: args.lock } : {}),
    onLog: (line) => void (args.quiet || process.stderr.write(line + '\n')),
  });
  if (args.quiet) return;
  const rows = outcome.results.reduce((n, r) => n + r.stats.rowsOut, 0);
  const files = outcome.results.reduce((n, r) => n + r.staged.length, 0);
  process.stdout.write(
    outcome.results.length === 0
      ? `plan ${plan.id} had nothing to do: ${plan.target} is unchanged\n`
      : `committed plan ${plan.id} to ${plan.target}: ${outcome.results.length} table(s), ${files} file(s), ${rows.toLocaleString('en-US')} rows\n`,
  );
}

export async function recipeCommand(args: {
  scheduler: 'kubernetes' | 'aws-batch';
  plan: string;
  image: string;
  s3: Record<string, string> | undefined;
  parallelism?: number | undefined;
  memory?: number | undefined;
  namespace?: string | undefined;
  'service-account'?: string | undefined;
  secret?: string | undefined;
  'job-queue'?: string | undefined;
  'job-role-arn'?: string | undefined;
}): Promise<void> {
  const plan = await readPlan(args.plan, args.s3);
  if (plan.tasks.length === 0) throw new UsageError('USAGE', `plan ${plan.id} has no tasks: nothing to schedule (the lake is up to date)`);
  // the S3 settings given here are passed on to every command of the recipe
  const extraArgs = Object.entries(args.s3 ?? {}).flatMap(([k, v]) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v]);
  const common = {
    planUri: args.plan,
    image: args.image,
    ...(extraArgs.length > 0 ? { extraArgs } : {}),
    ...(args.parallelism === undefined ? {} : { parallelism: args.parallelism }),
    ...(args.memory === undefined ? {} : { memoryMiB: args.memory }),
  };
  if (args.scheduler === 'kubernetes') {
    process.stdout.write(
      kubernetesManifests(plan, {
        ...common,
        ...(args.namespace ? { namespace: args.namespace } : {}),
        ...(args['service-account'] ? { serviceAccount: args['service-account'] } : {}),
        ...(args.secret ? { secret: args.secret } : {}),
      }),
    );
    return;
  }
  if (!args['job-queue']) throw new UsageError('USAGE', 'aws-batch needs --job-queue');
  process.stdout.write(JSON.stringify(batchJobs(plan, { ...common, jobQueue: args['job-queue'], ...(args['job-role-arn'] ? { jobRoleArn: args['job-role-arn'] } : {}) }), null, 2) + '\n');
}
