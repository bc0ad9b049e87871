#!/usr/bin/env node
// docker-verify: launcher for the built CLI (run `npm run build` first).
import { dockerVerifyMain } from '../dist/legacy.js';

// Exit once stdout and stderr are flushed, so idle keep-alive sockets or agents never hold the process.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

dockerVerifyMain(process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`docker-verify: error: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(3);
});
