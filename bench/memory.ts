/**
 * `npm run bench:memory`: where one process's memory goes, per export size. Runs
 * bench/memory-probe.mjs (one in-process `convert()` over a built package, RSS and ArrayBuffers
 * sampled every 50 ms, no decompression thread as the suite's `heaplake-1core`, split into the reading phase (map tasks) and the writing phase (reduce
 * tasks)) in a fresh process per run, sizes alternating so machine drift hits all of them.
 *
 *   npm run bench:memory -- --sizes 1000000,10000000 --runs 3
 *   npm run bench:memory -- --sizes 1000000 --runs 3 --dist dist,/path/to/old/dist   # A/B of two builds
 *
 * Only the process itself is measured: with `--workers` above 1 the worker processes are not
 * (the suite's `heaplake` contender measures the process tree). No timed assertion: figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchExportDir, ensureBenchExport } from '../scripts/gen-bench-export.js';

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

const results: { dist: string; rows: number; run: number; probe: Probe }[] = [];
for (let run = 1; run <= runs; run++) {
  for (const rows of sizes) {
    for (const dist of run % 2 ? dists : [...dists].reverse()) {
      const lake = join(tmpdir(), `heaplake-memory-${process.pid}`);
      const r = spawnSync(process.execPath, [join(import.meta.dirname, 'memory-probe.mjs'), dist, benchExportDir(ROOT, rows, args.codec!), lake, args.workers!], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      if (r.status !== 0) throw new Error(`probe failed (${dist}, ${rows} rows): ${r.stderr}`);
      const probe = JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
      results.push({ dist, rows, run, probe });
      console.error(`${rows} rows, run ${run}/${runs}, ${relative(ROOT, dist)}: ${probe.seconds.toFixed(2)} s, ${probe.maxRssMiB.toFixed(0)} MiB (peak in ${probe.peak.phase})`);
    }
  }
}

const f = (n: number) => n.toFixed(0);
const lines = [
  `# bench:memory, ${new Date().toISOString().slice(0, 10)}: one process, ${args.workers} worker(s), ${args.codec}`,
  '',
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}. Per run: wall and CPU seconds, the process's maximum RSS (getrusage), and the`,
  'largest sampled RSS / ArrayBuffers (MiB) while input files are read (map tasks) and after (reduce tasks, writing).',
  '',
  '| build | rows | run | wall s | user s | sys s | max RSS | reading RSS / AB | writing RSS / AB | peak in |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...results.map(({ dist, rows, run, probe: p }) =>
    `| ${relative(ROOT, dist) || '.'} | ${rows} | ${run} | ${p.seconds.toFixed(2)} | ${p.userSeconds.toFixed(2)} | ${p.systemSeconds.toFixed(2)} | ${f(p.maxRssMiB)} | ${f(p.reading.rssMiB)} / ${f(p.reading.arrayBuffersMiB)} | ${f(p.writing.rssMiB)} / ${f(p.writing.arrayBuffersMiB)} | ${p.peak.phase} |`,
  ),
];
console.log(lines.join('\n'));
if (args.out) {
  mkdirSync(join(args.out, '..'), { recursive: true });
  writeFileSync(`${args.out}.json`, JSON.stringify({ node: process.version, cpus: cpus().length, date: new Date().toISOString(), args, results }, null, 2));
  writeFileSync(`${args.out}.md`, lines.join('\n') + '\n');
}
