// One in-process convert() of a bench export, for `npm run bench:memory` (bench/memory.ts).
// Plain JavaScript over a built package (no tsx: its loader adds ~30 MiB and compilation), so
// the figures are the library's own. Prints one JSON line.
//
// argv: <dist dir> <export dir> <lake dir> <workers>
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [dist, source, target, workers] = process.argv.slice(2);
const { convert } = await import(pathToFileURL(`${dist}/index.js`).href);
rmSync(target, { recursive: true, force: true });

const MiB = 1048576;
let reading = true; // until every input file has been read: map tasks (and whole-table reads)
const peak = { rss: 0, at: 0, phase: '', arrayBuffers: 0 };
const phases = { reading: { rss: 0, arrayBuffers: 0 }, writing: { rss: 0, arrayBuffers: 0 } };
const t0 = performance.now();
const sample = () => {
  const m = process.memoryUsage();
  const phase = reading ? 'reading' : 'writing';
  const p = phases[phase];
  p.rss = Math.max(p.rss, m.rss);
  p.arrayBuffers = Math.max(p.arrayBuffers, m.arrayBuffers);
  if (m.rss > peak.rss) Object.assign(peak, { rss: m.rss, at: (performance.now() - t0) / 1000, phase, arrayBuffers: m.arrayBuffers });
};
const timer = setInterval(sample, 50);
const report = await convert({
  source,
  target,
  workers: Number(workers),
  parallelDecompression: false, // as the suite's heaplake-1core
  onProgress: (p) => {
    reading = p.filesDone < p.filesTotal;
  },
});
clearInterval(timer);
sample();
const seconds = (performance.now() - t0) / 1000;
const usage = process.resourceUsage();
rmSync(target, { recursive: true, force: true });
console.log(
  JSON.stringify({
    seconds,
    userSeconds: usage.userCPUTime / 1e6,
    systemSeconds: usage.systemCPUTime / 1e6,
    // this process only: worker processes (workers > 1) are not counted
    maxRssMiB: usage.maxRSS / 1024,
    peak: { rssMiB: peak.rss / MiB, arrayBuffersMiB: peak.arrayBuffers / MiB, atSeconds: peak.at, phase: peak.phase },
    reading: { rssMiB: phases.reading.rss / MiB, arrayBuffersMiB: phases.reading.arrayBuffers / MiB },
    writing: { rssMiB: phases.writing.rss / MiB, arrayBuffersMiB: phases.writing.arrayBuffers / MiB },
    rowsOut: report.tables.reduce((n, t) => n + t.rowsOut, 0),
  }),
);
