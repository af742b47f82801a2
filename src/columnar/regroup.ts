/**
 * A reduce task's new rows regrouped by output partition: for each group (a day, or the whole
 * table), one set of columns holding exactly its rows, in the order given, in the lake's
 * types. The Parquet files are then written from contiguous rows, as slices, instead of being
 * gathered row by row from the sources.
 *
 * Why: the rows of one day lie scattered through every source batch (Heap's files are not in
 * time order, and a spill holds a bucket's rows of every day), so gathering a day's file
 * meant runs of 1.5 rows on average in a 1M-row conversion, and gather's per-run JavaScript
 * (~120 ns a string value) was the largest item of the one-core profile (3.0 of 13 s, node
 * --cpu-prof, 2026-12-05). The scatter kernel (scatter.ts), which the map tasks already use to
 * shuffle rows into buckets, moves them in C instead; columns it cannot copy (a type to
 * convert, a column some batches lack) are gathered as before, a group at a time.
 */
import type { Data } from 'apache-arrow';
import type { TypeSpec } from '../schema/merge.js';
import { gatherColumn, type GatherStats, type RowRefs } from './gather.js';
import { isCurrent, placeRows, scatterColumn, scatterSupports, type BucketRows, type PlacedRows } from './scatter.js';

/** Where each group's rows come from, for regrouping column after column. */
export interface RegroupPlan {
  readonly groups: readonly RowRefs[];
  readonly rows: readonly BucketRows[];
  /** Placed in the kernel's memory once for every column (again if another placement came between). */
  placed?: PlacedRows;
}

/**
 * The plan for `groups` of rows of `sourceCount` source batches. A group's rows come batch
 * after batch (refs.batch non-decreasing), the order the kernel copies in: a task's rows are
 * listed batch by batch, and dedupe and the start date keep that order. Anything else is a
 * bug in the caller, not in the input, and is refused.
 */
export function planRegroup(sourceCount: number, groups: readonly RowRefs[]): RegroupPlan {
  const rows = bucketRows(sourceCount, groups);
  if (!rows) throw new Error('regroup: a group\'s rows go back to an earlier source batch (they must come batch after batch)');
  return { groups, rows };
}

/** One column of every group (in the lake's type `spec`), from that column of every source batch. */
export function regroupColumn(plan: RegroupPlan, spec: TypeSpec, sources: readonly (Data | undefined)[], stats: GatherStats): Data[] {
  const { groups } = plan;
  if (!scatterSupports(spec, sources)) return groups.map((refs) => gatherColumn(spec, sources, refs, stats));
  if (!plan.placed || !isCurrent(plan.placed)) plan.placed = placeRows(plan.rows, groups.length);
  const out = scatterColumn(spec, sources as Data[], plan.placed);
  // the kernel leaves a group without rows out: gather makes it an empty column
  return groups.map((refs, k) => out[k] ?? gatherColumn(spec, sources, refs, stats));
}

/** Each source batch's rows grouped by group (the kernel's input), or undefined when a group's rows go back to an earlier batch. */
function bucketRows(sourceCount: number, groups: readonly RowRefs[]): BucketRows[] | undefined {
  const G = groups.length;
  // counts[b * (G + 1) + k + 1]: rows of batch b in group k, turned into starts below
  const counts = new Int32Array(sourceCount * (G + 1));
  for (let k = 0; k < G; k++) {
    const { batch, length } = groups[k]!;
    for (let i = 0; i < length; i++) {
      const b = batch[i]!;
      if (i > 0 && b < batch[i - 1]!) return undefined;
      counts[b * (G + 1) + k + 1]!++;
    }
  }
  const result: BucketRows[] = [];
  for (let b = 0; b < sourceCount; b++) {
    const start = counts.subarray(b * (G + 1), (b + 1) * (G + 1));
    for (let k = 0; k < G; k++) start[k + 1]! += start[k]!;
    result.push({ order: new Int32Array(start[G]!), start });
  }
  const filled = new Int32Array(sourceCount);
  for (let k = 0; k < G; k++) {
    const { batch, row, length } = groups[k]!;
    for (let i = 0; i < length; i++) {
      const b = batch[i]!;
      // groups are filled in order, so batch b's next free place is always its cursor
      result[b]!.order[filled[b]!++] = row[i]!;
    }
  }
  return result;
}
