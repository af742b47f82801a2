/**
 * A split table's receipts made into one table result for the commit: the reduce tasks' files
 * (one bucket each) together, the counts of its map and reduce tasks summed, warnings worded
 * once from the sums. Whole-table tasks' results pass through as they are.
 */
import type { LakeState } from '../commit/state.js';
import { countWarnings, type TableStats, type TaskResult } from '../table-task.js';
import type { PlanFile } from './plan-file.js';
import type { Receipt } from './run-task.js';

export function combineReceipts(plan: PlanFile, receipts: readonly Receipt[], state: LakeState): TaskResult[] {
  const results: TaskResult[] = [];
  const split = new Map<string, Receipt[]>();
  for (const r of [...receipts].sort((a, b) => a.index - b.index)) {
    const task = plan.tasks[r.index]!;
    if (task.kind === 'table') results.push(r.result!);
    else {
      let list = split.get(task.table);
      if (!list) {
        split.set(task.table, (list = []));
        results.push({ table: task.table } as TaskResult); // its place in the order, filled in below
      }
      list.push(r);
    }
  }
  return results.map((r) => (split.has(r.table) ? combineTable(r.table, split.get(r.table)!, state) : r));
}

function combineTable(table: string, receipts: readonly Receipt[], state: LakeState): TaskResult {
  const parts = receipts.flatMap((r) => (r.result ? [r.result] : []));
  const stats = [...receipts.map((r) => r.map?.stats ?? r.result!.stats)].reduce(addStats);
  const first = parts[0]!;
  stats.mode = first.stats.mode;
  stats.dumps = first.stats.dumps;
  stats.warnings = [...new Set(stats.warnings), ...countWarnings(stats, first.state.key ?? undefined)];
  const files = parts.flatMap((p) => p.state.files).sort((a, b) => (a.path < b.path ? -1 : 1));
  // every file of the table the lake held that this run does not keep is obsolete (a full
  // resync into another number of buckets leaves files no single bucket owns)
  const live = new Set(files.map((f) => f.path));
  const obsolete = new Set(parts.flatMap((p) => p.obsolete));
  for (const f of state.tables[table]?.files ?? []) if (!live.has(f.path)) obsolete.add(f.path);
  stats.filesRemoved = obsolete.size;
  return {
    table,
    state: { ...first.state, files },
    staged: parts.flatMap((p) => p.staged),
    obsolete: [...obsolete],
    stats,
  };
}

function addStats(a: TableStats, b: TableStats): TableStats {
  return {
    ...a,
    files: a.files + b.files,
    bytesIn: a.bytesIn + b.bytesIn,
    rowsIn: a.rowsIn + b.rowsIn,
    duplicates: a.duplicates + b.duplicates,
    nullKeys: a.nullKeys + b.nullKeys,
    filtered: a.filtered + b.filtered,
    rowsOut: a.rowsOut + b.rowsOut,
    filesWritten: a.filesWritten + b.filesWritten,
    filesRemoved: a.filesRemoved + b.filesRemoved,
    bytesOut: a.bytesOut + b.bytesOut,
    seconds: a.seconds + b.seconds,
    unparsedTimes: a.unparsedTimes + b.unparsedTimes,
    unparsedExamples: [...a.unparsedExamples, ...b.unparsedExamples].slice(0, 5),
    inexactDoubles: a.inexactDoubles + b.inexactDoubles,
    warnings: [...a.warnings, ...b.warnings],
  };
}
