/**
 * `npm run bench:memory`: where one process's memory goes, per export size. Runs
 * bench/memory-probe.mjs (one in-process `convert()` over a built package, RSS and ArrayBuffers
 * sampled every 50 ms, no decompression thread as the suite's `heaplake-1core`, split into the reading phase (map tasks) and the writing phase (reduce
 * tasks)) in a fresh process per run, sizes alternating so machine drift hits all of them.
 *
 *   npm run bench:memory -- --sizes 1000000,10000000 --runs 3
 *   npm run bench:memory -- --sizes 1000000 --runs 3 --dist dist,/path/to/old/dist   # A/B of two builds
 *
 * With `--workers` above 1 the process tree is sampled too (bench/proc-tree.ts): the sums of
 * its processes' RSS and PSS, as the suite's `heaplake` contender measures it:
 *
 *   npm run bench:memory -- --sizes 1000000,10000000 --runs 2 --workers 2
 *
 * No timed assertion: figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchExportDir, ensureBenchExport } from '../scripts/gen-bench-export.js';
import { runSampled } from './proc-tree.js';

const ROOT = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    codec: { type: 'string', default: 'snappy' },
    runs: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    dist: { type: 'string', default: 'dist' },
    out: { type: 'string' },
  },
});
const sizes = args.sizes!.split(',').map(Number);
const runs = Number(args.runs);
const dists = args.dist!.split(',').map((d) => resolve(ROOT, d));

interface Probe {
  seconds: number;
  userSeconds: number;
  systemSeconds: number;
  maxRssMiB: number;
  peak: { rssMiB: number; arrayBuffersMiB: number; atSeconds: number; phase: string };
  reading: { rssMiB: number; arrayBuffersMiB: number };
  writing: { rssMiB: number; arrayBuffersMiB: number };
  rowsOut: number;
}

if (dists.includes(resolve(ROOT, 'dist'))) {
  const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
}
for (const rows of sizes) await ensureBenchExport(benchExportDir(ROOT, rows, args.codec!), rows, args.codec!, (line) => console.error(line));

const results: { dist: string; rows: number; run: number; probe: Probe; tree: { rssMiB: number; pssMiB: number; processes: number } }[] = [];
for (let run = 1; run <= runs; run++) {
  for (const rows of sizes) {
    for (const dist of run % 2 ? dists : [...dists].reverse()) {
      const lake = join(tmpdir(), `heaplake-memory-${process.pid}`);
      const r = await runSampled([process.execPath, join(import.meta.dirname, 'memory-probe.mjs'), dist, benchExportDir(ROOT, rows, args.codec!), lake, args.workers!]);
      if (r.code !== 0) throw new Error(`probe failed (${dist}, ${rows} rows): ${r.stderr}`);
      const probe = JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
      const tree = { rssMiB: r.tree.rss / 2 ** 20, pssMiB: r.tree.pss / 2 ** 20, processes: r.tree.processes };
      results.push({ dist, rows, run, probe, tree });
      console.error(`${rows} rows, run ${run}/${runs}, ${relative(ROOT, dist)}: ${probe.seconds.toFixed(2)} s, ${probe.maxRssMiB.toFixed(0)} MiB (peak in ${probe.peak.phase}); tree of ${tree.processes}: RSS ${tree.rssMiB.toFixed(0)}, PSS ${tree.pssMiB.toFixed(0)} MiB`);
    }
  }
}

const f = (n: number) => n.toFixed(0);
const lines = [
  `# bench:memory, ${new Date().toISOString().slice(0, 10)}: workers = ${args.workers}, ${args.codec}`,
  '',
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}. Per run: wall and CPU seconds, the process's maximum RSS (getrusage), and the`,
  'largest sampled RSS / ArrayBuffers (MiB) while input files are read (map tasks) and after (reduce tasks, writing), and the',
  "largest sums over the process tree (worker processes included) of RSS and of PSS (shared pages split among the processes).",
  '',
  '| build | rows | run | wall s | user s | sys s | max RSS | reading RSS / AB | writing RSS / AB | peak in | tree RSS | tree PSS |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map(({ dist, rows, run, probe: p, tree }) =>
    `| ${relative(ROOT, dist) || '.'} | ${rows} | ${run} | ${p.seconds.toFixed(2)} | ${p.userSeconds.toFixed(2)} | ${p.systemSeconds.toFixed(2)} | ${f(p.maxRssMiB)} | ${f(p.reading.rssMiB)} / ${f(p.reading.arrayBuffersMiB)} | ${f(p.writing.rssMiB)} / ${f(p.writing.arrayBuffersMiB)} | ${p.peak.phase} | ${f(tree.rssMiB)} | ${f(tree.pssMiB)} |`,
  ),
];
console.log(lines.join('\n'));
if (args.out) {
  mkdirSync(join(args.out, '..'), { recursive: true });
  writeFileSync(`${args.out}.json`, JSON.stringify({ node: process.version, cpus: cpus().length, date: new Date().toISOString(), args, results }, null, 2));
  writeFileSync(`${args.out}.md`, lines.join('\n') + '\n');
}
