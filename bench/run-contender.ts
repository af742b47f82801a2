// One contender in a fresh process (so each starts cold and its memory is its own):
//   node bench/.build/bench/run-contender.js <name> <export dir> <output dir>   (compiled by the suite)
// Prints one JSON line: rows written and read, seconds (inside the process), peak RSS.
import { CONTENDERS } from './contenders.js';

const [name, input, output] = process.argv.slice(2);
const contender = CONTENDERS.find((c) => c.name === name);
if (!contender) throw new Error(`no contender ${name}`);
const started = performance.now();
const result = await contender.run(input!, output!);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ ...result, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
