// Runs `convert` and kills its own process with SIGKILL at the n-th side-effecting step
// (kill-point tests): node --import tsx test/helpers/kill-run.ts <source> <target> <n>
import { convert } from '../../src/convert.js';
import { localTarget } from '../../src/sink/local-target.js';
import { faultyTarget } from './faulty-target.js';

const [source, target, n] = process.argv.slice(2);
let seen = 0;
await convert({
  source: source!,
  target: faultyTarget(localTarget(target!), () => {
    if (seen++ === Number(n)) process.kill(process.pid, 'SIGKILL');
  }),
  resolveIdentities: true,
});
