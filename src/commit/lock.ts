/**
 * A lock object for stores without compare-and-swap writes: `_heaplake/lock` names the run
 * committing and when its claim expires. Taking it: a live lock of another run is refused;
 * otherwise write ours, wait for the store to settle, read it back — if another run's claim
 * replaced ours, we lost. Best effort (two writers can still interleave on a store with no
 * conditional writes at all), but it turns the common race — two scheduled runs overlapping —
 * into a clean refusal. Stores with conditional PUTs never need it.
 */
import { randomUUID } from 'node:crypto';
import { HeaplakeError } from '../errors.js';
import type { Target } from '../sink/target.js';
import { STATE_DIR } from '../manifest/tables.js';

export const LOCK_PATH = `${STATE_DIR}/lock`;

interface LockBody {
  runId: string;
  expiresAt: string;
  /** This claim's own id: two commits of the same plan (same runId) racing tell theirs apart. */
  claim?: string;
}

export interface LockOptions {
  /** How long a claim lasts (a crashed run's lock expires after this). Default 15 minutes. */
  ttlMs?: number;
  /** How long to wait before reading the claim back. Default 300 ms. */
  settleMs?: number;
  /**
   * Take the lock even if another run's claim is live: for a lock left by a run that was
   * killed while committing, when you know no other run is going (`--break-lock`).
   */
  breakLock?: boolean;
}

async function readLock(target: Target): Promise<LockBody | undefined> {
  const text = await target.readText(LOCK_PATH);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LockBody;
  } catch {
    return undefined; // unreadable: treat as absent (it will be overwritten)
  }
}

function held(target: Target, other: LockBody): HeaplakeError {
  return new HeaplakeError(
    'CONCURRENT_COMMIT',
    `run ${other.runId} holds the commit lock of ${target.description} until ${other.expiresAt}; nothing of this run was published: run it again later ` +
      `(or, if that run was killed while committing and no other run is going, with --break-lock)`,
    { file: LOCK_PATH },
  );
}

/** Takes the lock for `runId`, runs `fn`, releases the lock. */
export async function withLock<T>(target: Target, runId: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const now = Date.now();
  const current = await readLock(target);
  if (current && current.runId !== runId && Date.parse(current.expiresAt) > now && !options.breakLock) throw held(target, current);
  const mine: LockBody = { runId, expiresAt: new Date(now + (options.ttlMs ?? 15 * 60_000)).toISOString(), claim: randomUUID() };
  await target.writeAtomic(LOCK_PATH, new TextEncoder().encode(JSON.stringify(mine) + '\n'));
  await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 300));
  // the claim, not the run: two commits of one plan started together both wrote the lock, and
  // only the one whose claim stayed goes on
  const after = await readLock(target);
  if (after?.claim !== mine.claim) throw held(target, after ?? mine);
  try {
    return await fn();
  } finally {
    if ((await readLock(target))?.claim === mine.claim) await target.remove(LOCK_PATH).catch(() => undefined);
  }
}
