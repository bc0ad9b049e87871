#!/usr/bin/env node
// dsv-copy: launcher for the built app (run `npm run build` first).
import { copyMain } from '../bundle/copy.js';

const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

copyMain(process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`dsv-copy: error: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(3);
});
