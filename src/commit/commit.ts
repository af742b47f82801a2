/**
 * Publishing a run: every task's files are staged under `_heaplake/staging/<run>/`; the commit
 * checks that nobody committed since the run began, moves the files to their final paths (new,
 * unique names: nothing live is overwritten), then writes the new state atomically and only if
 * it is still the version the run read — the commit point — then deletes the files it made
 * obsolete (staging and what failed runs left behind go with removeOrphans, right after). A crash before the state write leaves the old
 * state in force (the moved files are orphans the next commit removes); a crash after it
 * leaves only obsolete files, removed the same way. Readers that go through the state never
 * see a mix. Cleanup happens only after a commit, never at the start of a run, so a run
 * cannot delete the files of another run still in progress on the same lake.
 */
import { HeaplakeError } from '../errors.js';
import type { Target } from '../sink/target.js';
import type { TaskResult } from '../table-task.js';
import { STAGING_DIR } from '../manifest/tables.js';
import { STATE_PATH, encodeState, readState, readStateVersioned, type LakeState } from './state.js';

export async function commitRun(
  target: Target,
  previous: LakeState,
  version: string | undefined,
  runId: string,
  results: readonly TaskResult[],
  seenDumps: readonly string[],
  onLog?: (line: string) => void,
): Promise<LakeState> {
  // someone committed since this run read the state: give up before touching anything visible
  // (staging stays: if the winner is another commit of this very run, it may still be using it)
  if ((await target.readVersioned(STATE_PATH))?.version !== version) {
    const winner = await readState(target).catch(() => undefined);
    throw winner?.runId === runId ? sameRun(target, runId) : concurrent(target);
  }
  const moved: string[] = [];
  for (const r of results) {
    const bytesOf = new Map(r.state.files.map((f) => [f.path, f.bytes]));
    for (const s of r.staged) {
      try {
        await target.move(s.from, s.to);
      } catch (err) {
        // an earlier commit of the same plan that died midway may have moved it already
        if (!((await target.size(s.from)) === undefined && (await target.size(s.to)) === bytesOf.get(s.to))) throw err;
      }
      moved.push(s.to);
    }
  }
  const tables = { ...previous.tables };
  for (const r of results) tables[r.table] = r.state;
  const sorted = Object.fromEntries(Object.entries(tables).sort(([a], [b]) => (a < b ? -1 : 1)));
  const obsolete = results.flatMap((r) => r.obsolete).sort();
  const dumps = [...new Set([...(previous.dumps ?? []), ...seenDumps])].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  const next: LakeState = {
    format: 'heaplake-lake',
    version: 1,
    committedAt: new Date().toISOString(),
    runId,
    tables: sorted,
    dumps,
    ...(obsolete.length > 0 ? { obsolete } : {}),
  };
  // the commit point: only if nobody committed since this run read the state
  if (!(await target.writeIfUnchanged(STATE_PATH, encodeState(next), version))) {
    // withdraw what this commit moved, except what the winning state lists: a racing commit of
    // the same plan moved the same files (file names are unique per task, so nothing else can).
    // Without the winning state (unreadable, or not found: which a store that just refused
    // the write for a newer one should never say) nothing is withdrawn: a file it lists must
    // never go, and an orphan left here is removed by the next commit (removeOrphans)
    const winner = await readStateVersioned(target).then(
      (read) => (read.version === undefined ? undefined : read.state),
      () => undefined,
    );
    if (winner) {
      const live = new Set(Object.values(winner.tables).flatMap((t) => t.files.map((f) => f.path)));
      for (const path of moved) if (!live.has(path)) await target.remove(path).catch(() => undefined);
    }
    if (winner?.runId === runId) throw sameRun(target, runId);
    await target.removeTree(`${STAGING_DIR}/${runId}`).catch(() => undefined);
    throw concurrent(target);
  }
  // committed: what follows is cleanup, which the next run finishes should it fail here
  try {
    for (const r of results) for (const path of r.obsolete) await target.remove(path);
  } catch (err) {
    onLog?.(`warning: committed, but the cleanup stopped (${(err as Error).message}); the next run finishes it`);
  }
  return next;
}

function sameRun(target: Target, runId: string): HeaplakeError {
  return new HeaplakeError('CONCURRENT_COMMIT', `${runId} is already committed to ${target.description} (by another commit of the same plan); this one changed nothing`, { file: STATE_PATH });
}

function concurrent(target: Target): HeaplakeError {
  return new HeaplakeError('CONCURRENT_COMMIT', `another run committed to ${target.description} while this one was running; nothing of this run was published: run it again`, { file: STATE_PATH });
}

/**
 * Finishes the cleanup of the last commit, should it have died after its commit point: the
 * files it made obsolete, and its staging area (receipts).
 */
export async function finishLastCommit(target: Target, state: LakeState): Promise<void> {
  for (const path of state.obsolete ?? []) await target.remove(path);
  if (state.runId !== null) await target.removeTree(`${STAGING_DIR}/${state.runId}`);
}

/**
 * Removes what failed runs left behind: staging folders, and Parquet files in the folders of
 * `tables` that the committed state does not list. Only those folders are listed (a lake can
 * hold millions of files); orphans of other tables go when a commit next touches them.
 * Returns the removed paths.
 */
export async function removeOrphans(target: Target, state: LakeState, tables: readonly string[]): Promise<string[]> {
  const live = new Set(Object.values(state.tables).flatMap((t) => t.files.map((f) => f.path)));
  const removed: string[] = [];
  for (const path of await target.list(STAGING_DIR)) removed.push(path);
  await target.removeTree(STAGING_DIR);
  for (const table of tables) {
    for (const path of await target.list(table)) {
      // only files heaplake names: <table>/[dt=…/]part-<dump>-<tag>-<n>.parquet
      if (/(^|\/)part-\d+-[0-9a-f]{8}-\d+\.parquet$/.test(path) && !live.has(path)) {
        await target.remove(path);
        removed.push(path);
      }
    }
  }
  return removed;
}
