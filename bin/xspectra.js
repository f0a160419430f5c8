#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    process.stderr.write(`xspectra: ${err?.message ?? err}\n`);
    process.exit(1);
  },
);
