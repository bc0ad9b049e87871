#!/usr/bin/env node
// dsv: launcher for the built CLI (run `npm run build` first).
import { dsvMain } from '../dist/dsv.js';

// Exit once stdout and stderr are flushed, so idle keep-alive sockets or agents never hold the process.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

dsvMain(process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`dsv: error: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(3);
});
