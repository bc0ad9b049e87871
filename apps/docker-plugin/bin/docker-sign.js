#!/usr/bin/env node
// docker-sign: the `docker sign` Docker CLI plugin (run `npm run build` first; install with `dsv docker-plugin install`).
import { main } from '../bundle/main.js';

// Exit once stdout and stderr are flushed, so idle keep-alive sockets or agents never hold the process.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

main('sign', process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`docker sign: error: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(3);
});
