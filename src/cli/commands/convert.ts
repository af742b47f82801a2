/** `heaplake convert` and `heaplake plan`: the whole export → the lake. */
import { writeFile } from 'node:fs/promises';
import { convert, planFile, type ConvertOptions, type RunReport } from '../../convert.js';
import { encodePlan } from '../../protocol/plan-file.js';
import { writePlan } from '../../protocol/plan-io.js';
import { formatBytes, progress } from '../progress.js';
import { HeaplakeError } from '../../errors.js';

export interface ConvertCommandOptions extends Omit<ConvertOptions, 'onProgress' | 'onLog' | 'onTaskDone'> {
  report?: string;
  quiet: boolean;
}

export async function convertCommand(options: ConvertCommandOptions): Promise<void> {
  const p = progress(options.quiet);
  let rows = 0;
  const startedAt = new Date().toISOString();
  const report = await convert({
    ...options,
    onLog: (line) => p.log(line),
    onProgress: (e) => {
      rows += e.rows;
      const pct = e.bytesTotal > 0 ? Math.floor((100 * e.bytesDone) / e.bytesTotal) : 100;
      p.update(`${pct}% [${e.filesDone}/${e.filesTotal} files, ${rows.toLocaleString('en-US')} rows, ${formatBytes(e.bytesDone)}/${formatBytes(e.bytesTotal)}] ${e.table}: ${e.file}`);
    },
    // split tables: stage 2 (one task per key bucket) reads no files; its tasks are its progress
    onTaskDone: (t) => {
      if (t.stage === 2) p.update(`stage 2: ${t.done}/${t.total} bucket tasks written (${t.task})`);
    },
  }).catch(async (err: unknown) => {
    p.done();
    // a failed run leaves a record too: what failed, where, and that nothing was committed
    if (options.report) await writeFile(options.report, JSON.stringify(failureRecord(options, startedAt, err), null, 2) + '\n');
    throw err;
  });
  p.done();
  if (options.report) await writeFile(options.report, JSON.stringify(report, null, 2) + '\n');
  if (!options.quiet) process.stdout.write(summary(report) + '\n');
}

export async function planCommand(options: Omit<ConvertOptions, 'dryRun'> & { json: boolean; out?: string }): Promise<void> {
  const plan = await planFile(options);
  if (options.out) await writePlan(options.out, plan, options.s3);
  if (options.json) {
    process.stdout.write(encodePlan(plan));
    return;
  }
  const lines = [`plan ${plan.id}`, `source: ${plan.source}`, `target: ${plan.target}`, `dumps: ${plan.dumps.map((d) => d.dumpId).join(', ') || 'none'}`];
  if (plan.tasks.length === 0) lines.push('nothing to do: every table is up to date');
  for (const t of plan.tasks) {
    const from = t.previousDumpId === null ? 'new table' : `after dump ${t.previousDumpId}`;
    const dumps = t.dumps.map((d) => d.dumpId).join(', ');
    if (t.kind === 'table') lines.push(`  task ${t.index} ${t.table}: ${t.mode} (${from}) with dump(s) ${dumps}: ${t.inputFiles} file(s), ${formatBytes(t.inputBytes)}`);
    else if (t.kind === 'map') lines.push(`  task ${t.index} ${t.id} (stage 1): dump(s) ${dumps}: ${t.inputFiles} file(s), ${formatBytes(t.inputBytes)} into ${t.buckets} key buckets`);
    else lines.push(`  task ${t.index} ${t.id} (stage 2): ${t.mode} (${from}), bucket ${t.bucket} of ${t.buckets}`);
  }
  for (const s of plan.skipped) lines.push(`  ${s.table}: ${s.reason}`);
  if (plan.ignoredKeys.length > 0) lines.push(`ignored under manifests/: ${plan.ignoredKeys.join(', ')}`);
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  if (options.out && plan.stages.length > 1) {
    const [one, two] = plan.stages;
    lines.push(
      `wrote ${options.out}: run stage 1's ${one!.length} task(s) with "heaplake run-task --plan ${options.out} --stage 1 --index I", then stage 2's ${two!.length} with "--stage 2 --index I", then "heaplake commit --plan ${options.out}"`,
    );
  } else if (options.out) lines.push(`wrote ${options.out}: run its ${plan.tasks.length} task(s) with "heaplake run-task --plan ${options.out} --index I", then "heaplake commit --plan ${options.out}"`);
  process.stdout.write(lines.join('\n') + '\n');
}

function failureRecord(options: ConvertCommandOptions, startedAt: string, err: unknown) {
  const where = (x: unknown) => (typeof x === 'string' ? x : (x as { description?: string }).description);
  return {
    source: where(options.source),
    target: where(options.target),
    startedAt,
    committed: false,
    error:
      err instanceof HeaplakeError
        ? { code: err.code, message: err.message, context: err.context }
        : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) },
  };
}

function summary(r: RunReport): string {
  const lines: string[] = [];
  if (r.dryRun) {
    lines.push(`dry run: nothing written. Would convert:`);
    for (const t of r.planned) lines.push(`  ${t.table}: ${t.mode} with dump(s) ${t.dumps.join(', ')} (${t.files} file(s), ${formatBytes(t.bytes)}${t.buckets > 1 ? `, split into ${t.buckets} key buckets` : ''})`);
    return lines.join('\n');
  }
  if (r.tables.length === 0) return `nothing to do: the lake at ${r.target} is up to date with ${r.source}`;
  const head = ['table', 'mode', 'dumps', 'files', 'rows in', 'dups dropped', 'filtered', 'rows out', 'bytes out', 'seconds'];
  const rows = r.tables.map((t) => [
    t.table,
    t.mode,
    String(t.dumps.length),
    String(t.files),
    String(t.rowsIn),
    String(t.duplicates),
    String(t.filtered),
    String(t.rowsOut),
    formatBytes(t.bytesOut),
    t.seconds.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(`converted ${r.source} → ${r.target} (run ${r.runId}, ${r.seconds.toFixed(2)} s)`, '', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt));
  const warnings = r.tables.flatMap((t) => t.warnings.map((w) => `  ${t.table}: ${w}`));
  if (warnings.length > 0) lines.push('', 'warnings:', ...warnings);
  if (r.skipped.length > 0) lines.push('', 'not converted:', ...r.skipped.map((s) => `  ${s.table}: ${s.reason}`));
  return lines.join('\n');
}
