/**
 * A reduce task's spills read a column at a time (stores with `openRead`: a local folder).
 *
 * Why: read whole, a bucket's spills were held until its rows had been regrouped by partition,
 * so the reduce held its rows twice, as spills and regrouped; at 10M rows that was ~93 MB of
 * each, and the run's peak. Read by column, the task holds the columns it needs for every row
 * (the key, `time`, `last_modified`), the regrouped rows, and one column of the spills at a
 * time. Each spill's header says where each segment's columns lie (spill.ts).
 */
import type { Data, RecordBatch } from 'apache-arrow';
import type { RandomRead, Target } from '../sink/target.js';
import { segmentBatch, spillColumn, spillColumnBytes, spillHeaderLength, spillLayout, type SpillSegmentLayout } from './spill.js';

export interface SpillSegmentRef extends SpillSegmentLayout {
  /** The spill it is in. */
  readonly path: string;
}

export interface SpillColumns {
  /** Every spill's segments, in the spills' order: one source batch each. */
  readonly segments: readonly SpillSegmentRef[];
  /** The Arrow bytes of every column of every segment, once read. */
  readonly bytes: number;
  /** The columns `names` of every segment (undefined where a segment lacks one), by name. */
  load(names: readonly string[]): Promise<Map<string, (Data | undefined)[]>>;
  /** Every segment's batch with only the columns `names` it has, in its own column order. */
  batches(names: readonly string[]): Promise<RecordBatch[]>;
  close(): Promise<void>;
}

type Openable = Target & { openRead: NonNullable<Target['openRead']> };

export const readsByColumn = (store: Target): store is Openable => typeof store.openRead === 'function';

/** Spills a task keeps open between its reads (beyond, each read of a column opens its spill again). */
const MAX_OPEN = 256;

/** Reads the spills' headers only. Close it when the task ends, whether it succeeds or not. */
export async function openSpillColumns(store: Openable, paths: readonly string[]): Promise<SpillColumns> {
  const open = new Map<string, RandomRead>();
  const withFile = async <T>(path: string, fn: (file: RandomRead) => Promise<T>): Promise<T> => {
    const kept = open.get(path);
    if (kept) return fn(kept);
    const file = await store.openRead(path);
    if (open.size < MAX_OPEN) {
      open.set(path, file);
      return fn(file);
    }
    try {
      return await fn(file);
    } finally {
      await file.close();
    }
  };
  const close = async () => {
    const files = [...open.values()];
    open.clear();
    await Promise.all(files.map((f) => f.close()));
  };
  // one spill after another: the reads are short, and the local store's are synchronous
  const layouts: SpillSegmentLayout[][] = [];
  try {
    for (const path of paths) {
      layouts.push(
        await withFile(path, async (file) => {
          const jsonLength = spillHeaderLength(await file.read(0, Math.min(4, file.size)), file.size, path);
          return spillLayout(await file.read(4, jsonLength), file.size, path);
        }),
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  const segments = layouts.flatMap((segments, i) => segments.map((s) => ({ ...s, path: paths[i]! })));
  const bytes = segments.reduce((n, s) => n + s.columns.reduce((m, c) => m + spillColumnBytes(c), 0), 0);

  const load = async (names: readonly string[]) => {
    const wanted = new Set(names);
    const result = new Map<string, (Data | undefined)[]>(names.map((n) => [n, []]));
    for (const [i, path] of paths.entries()) {
      await withFile(path, async (file) => {
        for (const s of layouts[i]!) {
          const got = new Map<string, Data>();
          for (const c of s.columns) if (wanted.has(c.name)) got.set(c.name, spillColumn(await file.read(c.at, c.end - c.at), c, s.rows, path));
          for (const n of names) result.get(n)!.push(got.get(n));
        }
      });
    }
    return result;
  };

  return {
    segments,
    bytes,
    load,
    async batches(names) {
      const loaded = await load(names);
      return segments.map((s, k) => {
        const kept = s.columns.filter((c) => loaded.has(c.name));
        return segmentBatch({ ...s, columns: kept }, kept.map((c) => loaded.get(c.name)![k]!), s.path);
      });
    },
    close,
  };
}
