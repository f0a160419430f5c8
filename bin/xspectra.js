#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// main's code wins when non-zero; otherwise a command's own process.exitCode (e.g. merge's 3
// for conflicts) must survive: process.exit(0) would override it
main(process.argv).then(
  (code) => process.exit(code || Number(process.exitCode ?? 0)),
  (err) => {
    process.stderr.write(`xspectra: ${err?.message ?? err}\n`);
    process.exit(1);
  },
);
