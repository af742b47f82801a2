#!/usr/bin/env node
// The `heaplake` executable: everything else lives in main.ts so tests can call it in-process.
import { hideBin } from 'yargs/helpers';
import { EXIT, main } from './main.js';

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`heaplake: internal error: ${String(err)}\n`);
    process.exitCode = EXIT.internal;
  },
);
