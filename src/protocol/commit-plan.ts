/**
 * The commit of a plan: every task's receipt must be there (a missing one is an error listing
 * the task ids) and every file it names must be staged (or already in place, when an earlier
 * commit of this plan died midway); the derived identity tables are built from the staged
 * tables when asked for; then the run is published exactly once — by a compare-and-swap of
 * the state, or under the lock object on stores without one. A second commit of the same plan
 * is refused, also when two race. Staging is cleaned afterwards, and unfinished uploads that
 * dead runs left are aborted.
 */
import { HeaplakeError } from '../errors.js';
import type { Target } from '../sink/target.js';
import { STATE_PATH, readStateVersioned, type LakeState } from '../commit/state.js';
import { commitRun, finishLastCommit, removeOrphans } from '../commit/commit.js';
import { withLock, type LockOptions } from '../commit/lock.js';
import { deriveIdentityTables, needsIdentity } from '../identity/derive.js';
import type { IdentityReport } from '../identity/resolve.js';
import type { TaskResult } from '../table-task.js';
import { checkBase, readReceipts, type Receipt } from './run-task.js';
import type { PlanFile } from './plan-file.js';
import { combineReceipts } from './combine.js';

export interface CommitOptions {
  readonly lock?: LockOptions;
  /** When the run began: uploads begun before it are stale (default: now). */
  readonly startedAt?: Date;
  /** The receipts, when the caller holds them (else they are read from the target). */
  readonly receipts?: readonly Receipt[];
  readonly onLog?: (line: string) => void;
}

export interface CommitOutcome {
  readonly state: LakeState;
  /** The tasks' results, and the derived tables' when they were rebuilt. */
  readonly results: readonly TaskResult[];
  readonly identity?: IdentityReport;
  readonly orphansRemoved: readonly string[];
  readonly uploadsAborted: readonly string[];
}

export async function commitPlan(plan: PlanFile, target: Target, options: CommitOptions = {}): Promise<CommitOutcome> {
  const { state, version } = await readStateVersioned(target);
  await finishLastCommit(target, state);
  checkBase(plan, state);
  let results: TaskResult[];
  let identity: IdentityReport | undefined;
  try {
    ({ results, identity } = await prepare(plan, target, state, options.receipts));
  } catch (err) {
    // another commit of this plan may have finished meanwhile (and cleaned staging up)
    const now = await readStateVersioned(target).catch(() => undefined);
    if (now?.state.runId === plan.id) checkBase(plan, now.state);
    throw err;
  }
  if (results.length === 0) return { state, results, orphansRemoved: [], uploadsAborted: [] };
  const commit = () => commitRun(target, state, version, plan.id, results, plan.dumps.map((d) => d.dumpId), options.onLog);
  // a commit that fails (the store refusing the state, say) leaves staging as it is: the
  // commit can be retried without running the tasks again
  const next = (await target.hasCompareAndSwap()) ? await commit() : await withLock(target, plan.id, commit, options.lock);
  // committed: failures from here on are warnings (the next commit cleans up again)
  let orphansRemoved: string[] = [];
  let uploadsAborted: string[] = [];
  try {
    orphansRemoved = await removeOrphans(target, next, results.map((r) => r.table));
    if (orphansRemoved.length > 0) options.onLog?.(`removed ${orphansRemoved.length} file(s) left by earlier failed runs`);
    uploadsAborted = (await target.abortStaleUploads?.(options.startedAt ?? new Date())) ?? [];
    if (uploadsAborted.length > 0) options.onLog?.(`aborted ${uploadsAborted.length} unfinished upload(s) left by earlier failed runs`);
  } catch (err) {
    options.onLog?.(`warning: committed, but removing what earlier runs left stopped (${(err as Error).message}); the next commit tries again`);
  }
  return { state: next, results, ...(identity ? { identity } : {}), orphansRemoved, uploadsAborted };
}

/** The results to publish: the receipts' (every staged file checked) and the derived tables'. */
async function prepare(plan: PlanFile, target: Target, state: LakeState, given: readonly Receipt[] | undefined): Promise<{ results: TaskResult[]; identity?: IdentityReport }> {
  // receipts handed over by the process that just ran the tasks need no second look; receipts
  // read back (tasks run elsewhere, perhaps long ago) are checked against the staged files
  const receipts = given ?? (await readReceipts(plan, target));
  const results = combineReceipts(plan, receipts, state);
  if (!given) await checkStaged(target, results);

  let identity: IdentityReport | undefined;
  const provisional = withResults(state, results);
  if (plan.options.resolveIdentities && needsIdentity(provisional, results.map((r) => r.table))) {
    // the derived tables are computed from the tables as this run leaves them (new files still
    // in staging) and published in the same commit: readers never see them out of step
    const derived = await deriveIdentityTables(target, provisional, plan.id, plan.options.compression, stagedPaths(results));
    results.push(...derived.results);
    identity = derived.report;
  }
  return identity ? { results, identity } : { results };
}

/** Every file of every receipt is staged with its recorded size, or already at its final path. */
async function checkStaged(target: Target, results: readonly TaskResult[]): Promise<void> {
  const problems: string[] = [];
  for (const r of results) {
    const bytesOf = new Map(r.state.files.map((f) => [f.path, f.bytes]));
    for (const s of r.staged) {
      const expected = bytesOf.get(s.to);
      const staged = await target.size(s.from);
      if (staged === expected) continue;
      if (staged === undefined && (await target.size(s.to)) === expected) continue;
      problems.push(`${s.from} (${staged === undefined ? 'missing' : `${staged} bytes, the receipt says ${expected}`})`);
    }
  }
  if (problems.length > 0) {
    throw new HeaplakeError('PLAN', `${problems.length} staged file(s) do not match their receipts: ${problems.slice(0, 20).join(', ')}; nothing was committed: run those tasks again`, { file: STATE_PATH });
  }
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
