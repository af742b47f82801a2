// Runs `convert` and kills its own process with SIGKILL at the n-th side-effecting step
// (kill-point tests): node --import tsx test/helpers/kill-run.ts <source> <target> <n> [endpoint]
// With an s3:// target (and source), `endpoint` is the S3 server to use.
import { convert } from '../../src/convert.js';
import { localTarget } from '../../src/sink/local-target.js';
import { s3Target } from '../../src/sink/s3-target.js';
import { faultyTarget } from './faulty-target.js';

const [source, target, n, endpoint] = process.argv.slice(2);
const s3 = endpoint ? { endpoint } : undefined;
let seen = 0;
await convert({
  source: source!,
  target: faultyTarget(target!.startsWith('s3://') ? s3Target(target!, s3) : localTarget(target!), () => {
    if (seen++ === Number(n)) process.kill(process.pid, 'SIGKILL');
  }),
  ...(s3 ? { s3 } : {}),
  resolveIdentities: !target!.startsWith('s3://'),
});
