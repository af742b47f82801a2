/**
 * The benchmark suite: heaplake against the other ways of turning a Heap export into Parquet,
 * on the same generated exports, in the same run, alternating contenders so machine drift hits
 * all alike.
 *
 *   npm run bench:install          # the peers (nodejs-polars, @dsnp/parquetjs) into bench/peers/
 *   npm run bench [-- --sizes 100000,1000000,10000000 --codecs snappy,deflate --runs 3
 *                     --contenders heaplake,polars --budget 900]
 *
 * Each contender runs in a fresh process; its peak memory is the larger of the process's own
 * peak RSS and the sampled RSS of its whole process tree (worker processes included; for a
 * contender that starts its work in a process of its own, the CLI, that process's tree without
 * the harness waiting for it), with the tree's PSS beside it (bench/proc-tree.ts). Every
 * Parquet file a contender writes is read back (hyparquet's footer reader) and its rows counted;
 * a run whose rows differ from what the export holds is void. A contender whose previous size
 * predicts more than --budget seconds per run is skipped at the next size, and says so.
 * Results: bench/results/suite-<date>.{json,md,svg}, with the Node version, CPUs and date.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { CONTENDERS, type Contender } from './contenders.js';
import { benchExportDir, ensureBenchExport, type BenchMeta } from '../scripts/gen-bench-export.js';
import { svgChart } from './chart.js';
import { runSampled } from './proc-tree.js';

const ROOT = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000,10000000' },
    codecs: { type: 'string', default: 'snappy,deflate' },
    runs: { type: 'string', default: '3' },
    contenders: { type: 'string' },
    budget: { type: 'string', default: '900' },
    out: { type: 'string' },
  },
});
const sizes = args.sizes!.split(',').map(Number);
const codecs = args.codecs!.split(',');
const runs = Number(args.runs);
const budget = Number(args.budget);
const wanted = args.contenders ? CONTENDERS.filter((c) => args.contenders!.split(',').includes(c.name)) : CONTENDERS;
// pinned contenders need taskset (util-linux) and a CPU 0; without it they are left out, said so
const canPin = !wanted.some((c) => c.cpus) || (process.platform === 'linux' && !spawnSync('taskset', ['-c', '0', 'true']).error);
const chosen = canPin ? wanted : wanted.filter((c) => !c.cpus);
if (!canPin) console.error(`taskset is not available: left out ${wanted.filter((c) => c.cpus).map((c) => c.name).join(', ')}`);
if (!existsSync(join(ROOT, 'bench/peers/node_modules/nodejs-polars')) && chosen.some((c) => c.name.startsWith('polars') || c.name.includes('parquetjs'))) {
  throw new Error('the peers are not installed: npm run bench:install');
}

interface Run {
  seconds: number;
  wallSeconds: number;
  peakRssBytes: number;
  /** The process tree's largest sampled PSS (shared pages split among the processes: bench/proc-tree.ts). */
  peakPssBytes: number;
  outputBytes: number;
  rows: number;
  error?: string;
}

interface Figure {
  contender: string;
  size: number;
  codec: string;
  runs: Run[];
  skipped?: string;
  medianSeconds?: number;
  rowsPerSecond?: number;
  inputMBps?: number;
  peakRssMiB?: number;
  peakPssMiB?: number;
  outputBytes?: number;
  /** rows/s over heaplake's rows/s in the same size and codec. */
  ratioToHeaplake?: number;
}

function parquetFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.parquet') && !p.startsWith('_heaplake'))
    .map((p) => join(dir, p));
}

async function runOnce(c: Contender, input: string, expected: number): Promise<Run> {
  const scratch = mkdtempSync(join(tmpdir(), 'heaplake-bench-'));
  const output = join(scratch, 'out');
  const started = performance.now();
  const command = [process.execPath, join(ROOT, 'bench/.build/bench/run-contender.js'), c.name, input, output];
  // taskset execs the command in its own process: the pid, and so the sampled tree, is the same
  const pinned = c.cpus ? ['taskset', '-c', c.cpus, ...command] : command;
  const { code, stdout, stderr, tree } = await runSampled(pinned, { cwd: ROOT, env: { ...process.env, ...c.env }, descendantsOnly: c.spawnsWork });
  const wallSeconds = (performance.now() - started) / 1000;
  const fail = (error: string): Run => ({ seconds: NaN, wallSeconds, peakRssBytes: tree.rss, peakPssBytes: tree.pss, outputBytes: 0, rows: 0, error });
  try {
    if (code !== 0) return fail(`exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { rows: number; rowsRead: number; seconds: number; maxRssBytes: number };
    let rows = 0;
    let outputBytes = 0;
    // only each file's footer is read back: the row count, not 900 MB of data at 10M rows
    for (const f of parquetFiles(output)) {
      const file = await asyncBufferFromFile(f);
      outputBytes += file.byteLength;
      rows += Number((await parquetMetadataAsync(file)).num_rows);
    }
    const run: Run = { seconds: r.seconds, wallSeconds, peakRssBytes: c.spawnsWork ? tree.rss : Math.max(tree.rss, r.maxRssBytes), peakPssBytes: tree.pss, outputBytes, rows };
    if (c.writes && (rows !== expected || r.rows !== expected)) return { ...run, error: `read back ${rows} rows (the contender says ${r.rows}); the export holds ${expected}: void` };
    return run;
  } catch (e) {
    return fail(`reading the output back failed: ${(e as Error).message}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// the heaplake contenders run the built package: build it from the current source first; and
// every contender runs from JavaScript compiled for the run (bench/.build, git-ignored), not
// through tsx: its loader thread added ~30 MiB and ~0.7 s of compilation to each process
const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
rmSync(join(ROOT, 'bench/.build'), { recursive: true, force: true });
const benchBuild = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.bench.json')], { cwd: ROOT, encoding: 'utf8' });
if (benchBuild.status !== 0) throw new Error(`compiling the contenders failed: ${benchBuild.stdout}${benchBuild.stderr}`);

const figures: Figure[] = [];
const log = (line: string) => process.stderr.write(line + '\n');
const lastRate = new Map<string, number>(); // contender → rows/s at the last size
for (const size of sizes) {
  for (const codec of codecs) {
    const dir = benchExportDir(ROOT, size, codec);
    if (!existsSync(join(dir, 'bench-meta.json'))) log(`generating ${dir} (cached for later runs)…`);
    const meta: BenchMeta = await ensureBenchExport(dir, size, codec, log);
    const rowsIn = Object.values(meta.tables).reduce((n, t) => n + t.rowsIn, 0);
    const distinct = Object.values(meta.tables).reduce((n, t) => n + t.distinctKeys, 0);
    const row = chosen.map((c): Figure => {
      const rate = lastRate.get(c.name);
      const estimate = rate ? rowsIn / rate : 0;
      return estimate > budget ? { contender: c.name, size, codec, runs: [], skipped: `estimated ${estimate.toFixed(0)} s per run from the previous size (budget ${budget} s)` } : { contender: c.name, size, codec, runs: [] };
    });
    for (let r = 0; r < runs; r++) {
      // rotate the order each round, so no contender always runs first (or last)
      for (let k = 0; k < chosen.length; k++) {
        const i = (k + r) % chosen.length;
        const c = chosen[i]!;
        if (row[i]!.skipped) continue;
        const run = await runOnce(c, dir, c.dedupes ? distinct : rowsIn);
        row[i]!.runs.push(run);
        log(`${size} ${codec} run ${r + 1}/${runs} ${c.name}: ${run.error ?? `${run.seconds.toFixed(2)} s, ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB peak`}`);
      }
    }
    for (const f of row) {
      const ok = f.runs.filter((x) => !x.error);
      if (ok.length === 0) continue;
      f.medianSeconds = median(ok.map((x) => x.seconds));
      f.rowsPerSecond = rowsIn / f.medianSeconds;
      f.inputMBps = meta.bytes / 1e6 / f.medianSeconds;
      f.peakRssMiB = Math.max(...ok.map((x) => x.peakRssBytes)) / 2 ** 20;
      f.peakPssMiB = Math.max(...ok.map((x) => x.peakPssBytes)) / 2 ** 20;
      f.outputBytes = ok[0]!.outputBytes;
      lastRate.set(f.contender, f.rowsPerSecond);
    }
    const base = row.find((f) => f.contender === 'heaplake')?.rowsPerSecond;
    for (const f of row) if (base && f.rowsPerSecond) f.ratioToHeaplake = f.rowsPerSecond / base;
    figures.push(...row);
  }
}

const date = new Date().toISOString().slice(0, 10);
const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', date, platform: `${process.platform} ${process.arch}` };
const resultsDir = join(ROOT, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const base = args.out ?? join(resultsDir, `suite-${date}`);
writeFileSync(`${base}.json`, JSON.stringify({ machine, args, contenders: chosen.map((c) => ({ name: c.name, description: c.description })), figures }, null, 2) + '\n');
writeFileSync(`${base}.md`, markdown());
writeFileSync(`${base}.svg`, svgChart(figures, machine));
log(`wrote ${base}.{json,md,svg}`);
process.stdout.write(markdown());

function markdown(): string {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
  const lines = [
    `# heaplake benchmark suite, ${date}`,
    '',
    `Node ${machine.node}, ${machine.cpus} CPU(s) (${machine.cpu}), ${machine.platform}. Median of ${runs} run(s) per contender, alternating; rows/s count every input row (both tables). Peak RSS includes worker processes (the sum of their RSS); PSS is the same tree's sum with shared pages split among its processes (bench/proc-tree.ts).`,
    '',
    '| size | codec | contender | seconds | runs (s) | rows/s | input MB/s | peak RSS MiB | peak PSS MiB | output MB | × heaplake |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const f of figures) {
    const errors = f.runs.filter((r) => r.error).map((r) => r.error);
    const note = f.skipped ? `skipped: ${f.skipped}` : errors.length ? `${errors.length} void run(s): ${errors[0]}` : '';
    // the spread of the valid runs: on shared VMs a median hides how far runs moved
    const valid = f.runs.filter((r) => !r.error).map((r) => r.seconds);
    const spread = valid.length > 1 ? `${fmt(Math.min(...valid), 2)}–${fmt(Math.max(...valid), 2)}` : '–';
    lines.push(
      `| ${f.size.toLocaleString('en-US')} | ${f.codec} | ${f.contender} | ${fmt(f.medianSeconds, 2)} | ${spread} | ${fmt(f.rowsPerSecond)} | ${fmt(f.inputMBps, 1)} | ${fmt(f.peakRssMiB)} | ${fmt(f.peakPssMiB)} | ${f.outputBytes ? fmt(f.outputBytes / 1e6, 1) : '–'} | ${fmt(f.ratioToHeaplake, 2)}${note ? ` ${note}` : ''} |`,
    );
  }
  lines.push('', '## Targets (issue 5)', '');
  const get = (name: string, size: number, codec: string) => figures.find((f) => f.contender === name && f.size === size && f.codec === codec);
  for (const size of sizes) {
    for (const codec of codecs) {
      const h = get('heaplake', size, codec);
      const h1 = get('heaplake-1core', size, codec);
      const p1 = get('polars-1core', size, codec);
      const hc = get('heaplake-1cpu', size, codec);
      const pc = get('polars-1cpu', size, codec);
      const pj = get('avsc-parquetjs', size, codec);
      const fl = get('floor-decompress', size, codec);
      const r = (a?: Figure, b?: Figure) => (a?.rowsPerSecond && b?.rowsPerSecond ? a.rowsPerSecond / b.rowsPerSecond : undefined);
      const parts = [
        `one process vs polars-1core ${fmt(r(h1, p1), 2)}× (≥ 1.0)`,
        `pinned to one CPU vs polars-1cpu ${fmt(r(hc, pc), 2)}× (≥ 1.0)`,
        `vs avsc-parquetjs ${fmt(r(h1, pj), 1)}× in one process, ${fmt(r(h, pj), 1)}× on all cores (≥ 10)`,
        `decompress floor is ${fmt(r(fl, h1), 2)}× heaplake-1core (≤ 3)`,
        `2 cores over one process ${fmt(r(h, h1), 2)}×, over one pinned CPU ${fmt(r(h, hc), 2)}× (≥ 1.7)`,
        `peak RSS ${fmt(h1?.peakRssMiB)} MiB in one process, ${fmt(h?.peakRssMiB)} MiB with workers (all processes; ≤ 512; PSS ${fmt(h?.peakPssMiB)})`,
      ];
      lines.push(`- ${size.toLocaleString('en-US')} ${codec}: ${parts.join('; ')}`);
    }
  }
  return lines.join('\n') + '\n';
}


