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
  // tables in plan order (a Map keeps the order of first insertion)
  const byTable = new Map<string, Receipt[]>();
  for (const r of [...receipts].sort((a, b) => a.index - b.index)) {
    const table = plan.tasks[r.index]!.table;
    const list = byTable.get(table);
    if (list) list.push(r);
    else byTable.set(table, [r]);
  }
  return [...byTable].map(([table, list]) => (plan.tasks[list[0]!.index]!.kind === 'table' ? list[0]!.result! : combineTable(table, list, state)));
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

/** Two tasks' counts of one table added up (texts: the first's; lists: joined). */
function addStats(a: TableStats, b: TableStats): TableStats {
  const sum: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number') sum[k] = (a[k as keyof TableStats] as number) + v;
  return { ...(sum as unknown as TableStats), unparsedExamples: [...a.unparsedExamples, ...b.unparsedExamples].slice(0, 5), warnings: [...a.warnings, ...b.warnings] };
}
